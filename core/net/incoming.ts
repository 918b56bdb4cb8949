/**
 * What a server hands each new connection to: the transport and who is on
 * the other end, from any listener (TCP, TLS, unix socket, WebSocket); and
 * the interface every listener offers the server.
 *
 * @module
 */

import type { Transport } from "../wire/transport.ts";
import type { PeerCertificate } from "./tls.ts";

/** A connection a server accepted (over TLS: after its handshake), ready to be served. */
export interface Incoming {
  /** The connection. */
  transport: Transport;
  /** Who connected, for logs: `tcp 127.0.0.1:51234`, `tls …`, `ws …`, or a unix socket. */
  peer: string;
  /** The client's IP address (TCP, TLS, WebSocket), or null (a unix socket, or unknown). */
  remoteHost: string | null;
  /** The client's verified TLS certificate, or null when it presented none. */
  certificate: PeerCertificate | null;
}

/**
 * Where connections come from: one interface over `Deno.listen` (TCP and
 * unix sockets), `TlsListener` and `WebSocketListener`. `accept` resolves
 * with null once closed; `close` is idempotent and stops accepting;
 * `finish`, where there is one, releases the rest once the server's
 * connections have all ended.
 */
export interface Acceptor {
  /** The address listened on. */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /** Resolves once listening; rejects if the address cannot be bound. */
  readonly ready: Promise<void>;
  /** The next connection; null once closed. */
  accept(): Promise<Incoming | null>;
  /** Stops accepting. Idempotent. */
  close(): void;
  /** Releases what is left (an HTTP server), after every connection has ended. */
  finish?(): Promise<void>;
}

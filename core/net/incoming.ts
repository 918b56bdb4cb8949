/**
 * What a server hands each new connection to: the transport and who is on
 * the other end, from any listener (TCP, TLS, unix socket).
 *
 * @module
 */

import type { Transport } from "../wire/transport.ts";
import type { PeerCertificate } from "./tls.ts";

/** A connection a server accepted (over TLS: after its handshake), ready to be served. */
export interface Incoming {
  /** The connection. */
  transport: Transport;
  /** Who connected, for logs: `tcp 127.0.0.1:51234`, `tls …`, or a unix socket. */
  peer: string;
  /** The client's IP address (TCP and TLS), or null (a unix socket). */
  remoteHost: string | null;
  /** The client's verified TLS certificate, or null when it presented none. */
  certificate: PeerCertificate | null;
}

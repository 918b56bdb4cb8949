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

/**
 * Connections an event-driven listener (TLS, WebSocket) has opened, waiting
 * for `accept`. Contract: `close` is idempotent; it closes what is queued
 * and ends a waiting `accept` with null, and what is admitted after it is
 * closed at once.
 */
export class IncomingQueue {
  readonly #queue: Incoming[] = [];
  #waiting: ((incoming: Incoming | null) => void) | null = null;
  #closed = false;

  /** Whether it was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Hands `incoming` to the waiting `accept`, or queues it (closes it once closed). */
  admit(incoming: Incoming): void {
    if (this.#closed) return incoming.transport.close();
    if (this.#waiting) {
      this.#waiting(incoming);
      this.#waiting = null;
    } else {
      this.#queue.push(incoming);
    }
  }

  /** The next connection; null once closed. */
  accept(): Promise<Incoming | null> {
    const next = this.#queue.shift();
    if (next) return Promise.resolve(next);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting = resolve);
  }

  /** Takes no more: closes what is queued and ends a waiting `accept`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const incoming of this.#queue.splice(0)) incoming.transport.close();
    this.#waiting?.(null);
    this.#waiting = null;
  }
}

/**
 * The public face of a connection: its options, its statistics and the
 * `Connection` interface that `connect*` and `serve` hand out.
 *
 * @module
 */

import type { Policy } from "./policy.ts";
import type { ServiceLike } from "./service.ts";
import type { BeforeClose } from "./before_close.ts";
import type { CallOptions } from "./engine.ts";
import type { Logger } from "../log.ts";
import type { Limits, ResolvedLimits } from "../wire/limits.ts";

/** Milliseconds before an outgoing request fails with `TimeoutError`, unless set. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Milliseconds to wait for the peer's handshake (and a TLS handshake or authenticator), unless set. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * What a connection needs of the root object it offers the peer: its
 * lifetime hooks. `Service` is the class that provides it.
 */
export interface RootObject {
  /** Called once the connection is up, before any request of the peer is served. */
  onConnect(conn: Connection): void | Promise<void>;
  /** Called once the connection has closed; must not use the connection. */
  onDisconnect(conn: Connection): void | Promise<void>;
}

/** Options every connection takes; `connect*` and `serve` accept them. */
export interface ConnectionOptions extends Policy, Limits {
  /**
   * The service this end offers the peer: a class (an instance per
   * connection), a shared instance, a factory or a plain object (see
   * `ServiceLike`).
   *
   * @default {VoidService}
   */
  service?: ServiceLike;
  /**
   * Milliseconds before an outgoing request fails with `TimeoutError` (0 = never).
   *
   * @default {30_000}
   */
  timeout?: number;
  /**
   * Items a `for await` over a remote iterable may prefetch: the remote
   * iterator runs at most this many items ahead of the loop (its side effects
   * too), and they arrive in batches. An iteration starts 256 items ahead (or
   * this, if smaller) and quadruples that, up to this, each time the loop has
   * caught up and waits for items; a loop that works on each item keeps the
   * producer 256 ahead. 1 is lock-step: one round trip per item, each
   * produced when asked for. From 1 to 65 536; `iterate(remote, { window })`
   * sets it for one iteration. A synchronous connection's `for…of` fetches
   * batches of up to this many items too (see README "Synchronous mode").
   * @default {16_384}
   */
  iterationWindow?: number;
  /**
   * Chunks a `ReadableStream` or `WritableStream` handed over (either way)
   * may have in flight: a readable's owner is read at most this many chunks
   * ahead of the reader, a writable's writer waits while this many writes
   * are unacknowledged. From 1 to 65 536.
   * @default {64}
   */
  streamWindow?: number;
  /**
   * Compression of large message bodies (4 KiB or more, when that saves at
   * least a tenth; attachments never), agreed in the handshake: `true` asks
   * for it, with the best algorithm both ends have (`"zstd"`, else
   * `"deflate"`); a name insists on that algorithm and refuses a peer without
   * it; `false` refuses it both ways. Unset, this end accepts compression and
   * uses it when the peer asks for it, so that one end turning it on is
   * enough: leave it off on loopback, unix sockets, pipes and workers, where
   * it only costs time, and turn it on for slow links. The synchronous mode
   * never compresses. A compressed message's full size counts against the
   * receiver's `maxMessageSize` and inbound budget.
   * @default {undefined}
   */
  compression?: boolean | string;
  /**
   * Milliseconds to wait for the peer's handshake.
   *
   * @default {10_000}
   */
  handshakeTimeout?: number;
  /** Refuse a peer whose service has neither this name nor this alias (case-insensitive). */
  expectService?: string;
  /**
   * Where log lines go.
   *
   * @default {defaultLogger} (warnings and errors on stderr)
   */
  logger?: Logger;
  /**
   * A shared secret to present before the protocol starts, for a server that
   * uses `tokenAuthenticator` (connecting side only).
   *
   * @default {undefined} (none)
   */
  token?: string;
  /**
   * Called when this end closes the connection (`close()`, `await using`, its
   * server closing), with the peer's root, before anything is torn down: the
   * connection still works, so it may make last calls (RPyC's
   * `before_closed`). Closing waits for it, at most `timeout` ms, logs what
   * it throws and goes on. It is not called when the peer closed the
   * connection or the transport failed: there is no one to talk to. A
   * synchronous connection's hook must not return a promise (nothing could
   * wait for it). It must not wait for `close()` itself.
   *
   * @default {undefined} (no hook)
   */
  beforeClose?: BeforeClose;
  /**
   * Whether errors this end sends carry their stack (RPyC's
   * `include_local_traceback`). Set it to `false` on a service that faces
   * peers who should not learn its file paths and lines: errors then carry
   * their class, name, message, cause, `errors` and own properties, and an
   * empty stack (so does every error nested in them).
   *
   * @default {true}
   */
  includeLocalStack?: boolean;
  /** The protocol version to announce; only tests of version checks change it. */
  protocolVersion?: number;
}

/** Counters and table sizes of one connection, from {@linkcode Connection.stats}. */
export interface ConnectionStats {
  /** Objects this end exports to the peer (the root included). */
  exports: number;
  /** Netrefs this end holds to the peer's objects. */
  imports: number;
  /** Requests sent and not yet answered. */
  pendingRequests: number;
  /** Requests from the peer being served. */
  servingRequests: number;
  /** Answers kept for the peer's pipelined calls. */
  answers: number;
  /** Frames written. */
  framesSent: number;
  /** Frames read. */
  framesReceived: number;
  /** Bytes written, frame headers included. */
  bytesSent: number;
  /** Bytes read, frame headers included. */
  bytesReceived: number;
  /** Bytes queued for the peer and not yet written. */
  bufferedOutbound: number;
  /** Bytes held for messages partly received or being decoded. */
  bufferedInbound: number;
}

/**
 * One rdc connection, as its users see it. Made by `connect`, `connectUnix`,
 * `connectStream` and `serve`.
 *
 * Contract: `close()` is idempotent and never throws. After close, every
 * pending call has rejected with `ConnectionClosedError`, the
 * service's `onDisconnect` has run once, and both reference tables are empty.
 */
export interface Connection extends AsyncDisposable {
  /**
   * The peer's root object (its service), as a netref. Typed `any` so that any
   * member may be reached; annotate it as `Remote<MyService>` for checking.
   */
  // deno-lint-ignore no-explicit-any
  readonly root: any;
  /** The name of the peer's service, from its handshake. */
  readonly peerService: string;
  /** Every name the peer's service answers to. */
  readonly peerAliases: readonly string[];
  /**
   * On a server: what its authenticator returned about the client, or the
   * client's verified TLS certificate (`PeerCertificate`), or null when
   * nothing was checked. On a client: null.
   */
  readonly credentials: unknown;
  /** The service instance serving this connection (a `Service`; for a plain object, its view). */
  readonly service: RootObject;
  /** What the transport is connected to (`tcp 127.0.0.1:18812`). */
  readonly description: string;
  /** Whether the connection has closed. */
  readonly closed: boolean;
  /** Resolves once the connection has closed and cleaned up. Never rejects. */
  readonly finished: Promise<void>;
  /** Why the connection closed, once it has. */
  readonly closeReason: Error | null;
  /**
   * Calls `listener` once with the reason when the connection closes (at once
   * if it already has). Dispose the result to stop listening.
   */
  onClose(listener: (reason: Error) => void): Disposable;
  /** Sends a ping and resolves with the round-trip time in milliseconds. */
  ping(options?: CallOptions): Promise<number>;
  /** Table sizes and counters. */
  stats(): ConnectionStats;
  /** The limits this end enforces on what the peer sends, defaults filled in. */
  readonly limits: Readonly<ResolvedLimits>;
  /**
   * Closes the connection, telling the peer why (`reason`, default
   * "connection closed by this end"); resolves once cleaned up. Runs the
   * `beforeClose` hook first, if there is one. Idempotent.
   */
  close(reason?: string): Promise<void>;
}

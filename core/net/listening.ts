/**
 * What every server kind shares: a listener on TCP, TLS, a unix socket or
 * WebSocket (an HTTP server), an accept loop, and one orderly shutdown.
 *
 * @module
 */

import { withContext } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Acceptor, Incoming } from "./incoming.ts";
import { TlsListener, type TlsServerOptions } from "./tls.ts";
import { transportFromConn } from "./adapters.ts";
import { WebSocketListener, type WebSocketListenOptions } from "./websocket.ts";

/** Where a server listens, and what stops it. */
export interface ListenOptions {
  /** Address to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** TCP port; 0 picks a free one (see `server.addr`). Required unless `path` is given. */
  port?: number;
  /** Listen on a unix socket at this path instead of TCP. */
  path?: string;
  /**
   * Serve TLS (on TCP): the server's certificate, and optionally the CAs of
   * client certificates. With `ws`: WebSocket over TLS (wss), where client
   * certificates cannot be asked for (`ca` is refused).
   */
  tls?: TlsServerOptions;
  /**
   * Serve over WebSocket instead of raw TCP: an HTTP server on the port
   * whose WebSocket upgrades at `ws.path` are the connections (what
   * `connectWebSocket` and browsers open). Same admission, authenticator,
   * budgets and timeouts as TCP. Not with `path` (a unix socket).
   */
  ws?: WebSocketListenOptions;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
}

/**
 * A listener and its shutdown.
 *
 * Contract: `close()` is idempotent and never throws. It stops accepting,
 * runs `stop` once (which ends what the server runs for its clients), waits
 * for every handler to return, shuts a WebSocket listener's HTTP server
 * down, removes a unix socket's file, then resolves `finished`.
 */
export class Listening {
  /** `tcp 127.0.0.1:18812`, `tls 127.0.0.1:18821`, `ws 127.0.0.1:8000/rdc` or `unix /path`, for logs. */
  readonly description: string;
  readonly #acceptor: Acceptor;
  readonly #options: ListenOptions;
  readonly #stop: () => void | Promise<void>;
  readonly #handlers = new Set<Promise<void>>();
  readonly #finished = Promise.withResolvers<void>();
  readonly #onAbort = () => void this.close();
  readonly #stopping = new AbortController();
  #closing = false;

  /**
   * Listens where `options` say; TLS handshake failures go to `logger`.
   *
   * @param what the caller's name, for the error when neither port nor path is given.
   * @throws {TypeError} without a port or a path, with TLS or `ws` on a unix socket,
   *   or with client certificates over WebSocket; the runtime's error when listening fails.
   */
  constructor(
    options: ListenOptions,
    what: string,
    logger: Logger,
    handshakeTimeout: number,
    stop: () => void | Promise<void>,
  ) {
    this.#options = options;
    this.#stop = stop;
    if (options.path !== undefined) {
      if (options.tls) throw new TypeError(`${what}: TLS needs TCP, not a unix socket`);
      if (options.ws) throw new TypeError(`${what}: ws needs TCP, not a unix socket`);
      const path = options.path;
      this.#acceptor = denoAcceptor(
        naming(`unix ${path}`, () => Deno.listen({ transport: "unix", path })),
      );
      this.description = `unix ${path}`;
    } else {
      const port = options.port;
      if (port === undefined) throw new TypeError(`${what} needs a port (0 picks one) or a path`);
      const hostname = options.hostname ?? "127.0.0.1";
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      if (options.ws) {
        const listener = WebSocketListener.listen(hostname, port, options.ws, options.tls, logger);
        this.#acceptor = listener;
        this.description = listener.description;
      } else if (options.tls) {
        const tls = options.tls;
        const refused = (peer: string, reason: string) =>
          logger("warn", `tls ${host}: TLS handshake with ${peer} failed: ${reason}`);
        const listener = TlsListener.listen(hostname, port, tls, handshakeTimeout, refused);
        this.#acceptor = listener;
        this.description = `tls ${host}:${listener.addr.port}`;
      } else {
        this.#acceptor = denoAcceptor(
          naming(`tcp ${host}:${port}`, () => Deno.listen({ hostname, port })),
        );
        this.description = `tcp ${host}:${(this.#acceptor.addr as Deno.NetAddr).port}`;
      }
    }
    // A TLS server that fails to bind closes itself (its `ready` says why).
    this.#acceptor.ready.catch(() => void this.close());
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (options.signal?.aborted) void this.close();
  }

  /** The address listened on (`port` filled in when 0 was asked for). */
  get addr(): Deno.NetAddr | Deno.UnixAddr {
    return this.#acceptor.addr;
  }

  /** Resolves once listening; rejects, naming the address, if it cannot listen. */
  get ready(): Promise<void> {
    return this.#acceptor.ready;
  }

  /** Whether `close()` has begun. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Aborts once `close()` begins: what waits on a client's behalf should stop then. */
  get stopping(): AbortSignal {
    return this.#stopping.signal;
  }

  /** Resolves once the server has closed and every handler has returned. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Accepts connections and runs `handle` for each until closed; with
   * `oneShot`, stops listening after the first and closes once it is handled.
   * `handle` must not throw.
   */
  accept(handle: (incoming: Incoming) => Promise<void>, logger: Logger, oneShot = false): void {
    const run = (incoming: Incoming) => {
      const handling = handle(incoming);
      this.#handlers.add(handling);
      handling.finally(() => this.#handlers.delete(handling));
      return handling;
    };
    (async () => {
      let pause = 0;
      while (!this.#closing) {
        let incoming: Incoming | null;
        try {
          incoming = await this.#acceptor.accept();
        } catch (error) {
          if (this.#closing) return;
          // Out of file descriptors, say: log, wait a little longer each time, go on.
          pause = Math.min(Math.max(2 * pause, 10), 1_000);
          logger("error", `${this.description}: accept failed (retrying): ${error}`);
          await new Promise((resolve) => setTimeout(resolve, pause));
          continue;
        }
        if (incoming === null) return;
        pause = 0;
        if (oneShot) {
          // One client, then no more: stop listening before serving it.
          this.#acceptor.close();
          await run(incoming);
          await this.close();
          return;
        }
        run(incoming);
      }
    })();
  }

  /** Closes the server; see the class contract. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#stopping.abort(new Error("the server is closing"));
      this.#shutdown();
    }
    return this.#finished.promise;
  }

  async #shutdown(): Promise<void> {
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#acceptor.close();
    try {
      await this.#stop();
    } finally {
      await Promise.allSettled(this.#handlers);
      await this.#acceptor.finish?.().catch(() => {});
      if (this.#options.path !== undefined) await Deno.remove(this.#options.path).catch(() => {});
      this.#finished.resolve();
    }
  }
}

/** An acceptor over a `Deno.Listener` (TCP or unix socket). */
function denoAcceptor(listener: Deno.Listener): Acceptor {
  let closed = false;
  return {
    addr: listener.addr as Deno.NetAddr | Deno.UnixAddr,
    ready: Promise.resolve(),
    async accept() {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) return null;
        throw error;
      }
      const remote = conn.remoteAddr as Deno.NetAddr;
      const peer = remote.hostname
        ? `tcp ${
          remote.hostname.includes(":") ? `[${remote.hostname}]` : remote.hostname
        }:${remote.port}`
        : `unix ${(listener.addr as Deno.UnixAddr).path}`;
      return {
        transport: transportFromConn(conn, peer),
        peer,
        remoteHost: remote.hostname ?? null,
        certificate: null,
      };
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** Runs `listen`, rethrowing a failure with `address` in its message. */
function naming(address: string, listen: () => Deno.Listener): Deno.Listener {
  try {
    return listen();
  } catch (error) {
    throw withContext(error, `cannot listen on ${address}`);
  }
}

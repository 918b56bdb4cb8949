/**
 * What every server kind shares: a listener on TCP or a unix socket, an
 * accept loop, and one orderly shutdown.
 *
 * @module
 */

import { withContext } from "./errors.ts";
import type { Logger } from "./options.ts";

/** Where a server listens, and what stops it. */
export interface ListenOptions {
  /** Address to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** TCP port; 0 picks a free one (see `server.addr`). Required unless `path` is given. */
  port?: number;
  /** Listen on a unix socket at this path instead of TCP. */
  path?: string;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
}

/**
 * A listener and its shutdown.
 *
 * Contract: `close()` is idempotent and never throws. It stops accepting,
 * runs `stop` once (which ends what the server runs for its clients), waits
 * for every handler to return, removes a unix socket's file, then resolves
 * `finished`.
 */
export class Listening {
  /** The listener; `addr` has the port filled in when 0 was asked for. */
  readonly listener: Deno.Listener;
  /** `tcp 127.0.0.1:18812` or `unix /path`, for logs. */
  readonly description: string;
  readonly #options: ListenOptions;
  readonly #stop: () => void | Promise<void>;
  readonly #handlers = new Set<Promise<void>>();
  readonly #finished = Promise.withResolvers<void>();
  readonly #onAbort = () => void this.close();
  #closing = false;

  /**
   * Listens where `options` say.
   *
   * @param what the caller's name, for the error when neither port nor path is given.
   * @throws {TypeError} without a port or a path; the runtime's error when listening fails.
   */
  constructor(options: ListenOptions, what: string, stop: () => void | Promise<void>) {
    this.#options = options;
    this.#stop = stop;
    if (options.path !== undefined) {
      const path = options.path;
      this.listener = naming(path, () => Deno.listen({ transport: "unix", path }));
      this.description = `unix ${path}`;
    } else {
      const port = options.port;
      if (port === undefined) throw new TypeError(`${what} needs a port (0 picks one) or a path`);
      const hostname = options.hostname ?? "127.0.0.1";
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      this.listener = naming(`${host}:${port}`, () => Deno.listen({ hostname, port }));
      this.description = `tcp ${host}:${(this.listener.addr as Deno.NetAddr).port}`;
    }
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (options.signal?.aborted) void this.close();
  }

  /** Whether `close()` has begun. */
  get closing(): boolean {
    return this.#closing;
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
  accept(handle: (conn: Deno.Conn) => Promise<void>, logger: Logger, oneShot = false): void {
    const run = (conn: Deno.Conn) => {
      const handling = handle(conn);
      this.#handlers.add(handling);
      handling.finally(() => this.#handlers.delete(handling));
      return handling;
    };
    (async () => {
      try {
        if (oneShot) {
          // One client, then no more: stop listening before serving it.
          const conn = await this.listener.accept();
          this.listener.close();
          await run(conn);
          await this.close();
          return;
        }
        let pause = 0;
        while (!this.#closing) {
          let conn: Deno.Conn;
          try {
            conn = await this.listener.accept();
          } catch (error) {
            if (this.#closing || error instanceof Deno.errors.BadResource) return;
            // Out of file descriptors, say: log, wait a little longer each time, go on.
            pause = Math.min(Math.max(2 * pause, 10), 1_000);
            logger("error", `${this.description}: accept failed (retrying): ${error}`);
            await new Promise((resolve) => setTimeout(resolve, pause));
            continue;
          }
          pause = 0;
          run(conn);
        }
      } catch (error) {
        if (!this.#closing) logger("error", `${this.description}: accept failed: ${error}`);
      }
    })();
  }

  /** Closes the server; see the class contract. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#shutdown();
    }
    return this.#finished.promise;
  }

  async #shutdown(): Promise<void> {
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.listener.close();
    } catch {
      // Already closed (one-shot servers close their listener early).
    }
    try {
      await this.#stop();
    } finally {
      await Promise.allSettled(this.#handlers);
      if (this.#options.path !== undefined) await Deno.remove(this.#options.path).catch(() => {});
      this.#finished.resolve();
    }
  }
}

/** Runs `listen`, rethrowing a failure with `address` in its message. */
function naming(address: string, listen: () => Deno.Listener): Deno.Listener {
  try {
    return listen();
  } catch (error) {
    throw withContext(error, `cannot listen on ${address}`);
  }
}

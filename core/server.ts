/**
 * Servers: accept connections and give each its service.
 *
 * @module
 */

import { startConnection } from "./connect.ts";
import { type Connection, type ConnectionOptions, defaultLogger } from "./options.ts";
import type { Service } from "./service.ts";
import { type Transport, transportFromConn } from "./transport.ts";

/** Options of {@linkcode serve}: where to listen, plus every connection option. */
export interface ServeOptions extends Omit<ConnectionOptions, "service"> {
  /** Address to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** TCP port; 0 picks a free one (see `server.addr`). Required unless `path` is given. */
  port?: number;
  /** Listen on a unix socket at this path instead of TCP. */
  path?: string;
  /** Serve one client, then close (RPyC's `OneShotServer`). Default false. */
  oneShot?: boolean;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
}

/**
 * A running server. `close()` stops listening, closes every connection (each
 * runs its service's `onDisconnect`) and resolves when all is done;
 * `finished` resolves at the same point, whatever closed it.
 */
export interface Server extends AsyncDisposable {
  /** The address it listens on (`port` filled in when 0 was asked for). */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /** Connections currently open. */
  readonly connections: ReadonlySet<Connection>;
  /** Resolves once the server has closed and every connection with it. */
  readonly finished: Promise<void>;
  /** Closes the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `service` — a class (an instance per connection) or a shared
 * instance — on TCP or a unix socket.
 *
 * @example
 * ```ts
 * import { serve, Service } from "@rdc/rdc";
 * class EchoService extends Service {
 *   exposed_echo(text: string): string { return text; }
 * }
 * await using server = serve(EchoService, { port: 0 });
 * console.log("listening on", server.addr);
 * ```
 */
export function serve(service: Service | (new () => Service), options: ServeOptions): Server {
  const logger = options.logger ?? defaultLogger;
  let listener: Deno.Listener;
  let description: string;
  if (options.path !== undefined) {
    listener = Deno.listen({ transport: "unix", path: options.path });
    description = `unix ${options.path}`;
  } else {
    if (options.port === undefined) {
      throw new TypeError("serve needs a port (0 picks one) or a path");
    }
    const hostname = options.hostname ?? "127.0.0.1";
    listener = Deno.listen({ hostname, port: options.port });
    description = `tcp ${hostname}:${(listener.addr as Deno.NetAddr).port}`;
  }
  const connections = new Set<Connection>();
  const handshaking = new Set<Transport>();
  const handshakes = new Set<Promise<unknown>>();
  const finished = Promise.withResolvers<void>();
  let closing = false;

  const close = async (): Promise<void> => {
    if (!closing) {
      closing = true;
      options.signal?.removeEventListener("abort", onAbort);
      try {
        listener.close();
      } catch {
        // Already closed (one-shot servers close their listener early).
      }
      // Connections still in their handshake (or onConnect) are cut off too.
      for (const transport of handshaking) transport.close();
      await Promise.all([...connections].map((c) => c.close()));
      await Promise.allSettled(handshakes);
      if (options.path !== undefined) {
        try {
          Deno.removeSync(options.path);
        } catch {
          // Gone already.
        }
      }
      finished.resolve();
    }
    return finished.promise;
  };
  const onAbort = () => void close();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) void close();

  const accept = async (conn: Deno.Conn) => {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer = remote.hostname ? `tcp ${remote.hostname}:${remote.port}` : description;
    const transport = transportFromConn(conn, peer);
    handshaking.add(transport);
    try {
      const connection = await startConnection(transport, { ...options, service });
      handshaking.delete(transport);
      if (closing) return void connection.close();
      connections.add(connection);
      await connection.finished;
      connections.delete(connection);
    } catch (error) {
      if (closing) return;
      logger("warn", `${description}: connection from ${peer} failed: ${(error as Error).message}`);
    } finally {
      handshaking.delete(transport);
    }
  };

  (async () => {
    try {
      if (options.oneShot) {
        // One client, then no more: stop listening before serving it.
        const conn = await listener.accept();
        listener.close();
        const handling = accept(conn);
        handshakes.add(handling);
        await handling;
        await close();
        return;
      }
      for await (const conn of listener) {
        const handling = accept(conn);
        handshakes.add(handling);
        handling.finally(() => handshakes.delete(handling));
      }
    } catch (error) {
      if (!closing) logger("error", `${description}: accept failed: ${error}`);
    }
  })();

  return {
    addr: listener.addr as Deno.NetAddr | Deno.UnixAddr,
    connections,
    finished: finished.promise,
    close,
    [Symbol.asyncDispose]: close,
  };
}

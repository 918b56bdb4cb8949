/**
 * Servers: accept connections and give each its service.
 *
 * @module
 */

import { startConnection } from "./connect.ts";
import { type Connection, type ConnectionOptions, defaultLogger } from "./options.ts";
import { Listening, type ListenOptions } from "./listening.ts";
import type { Service } from "./service.ts";
import { type Transport, transportFromConn } from "./transport.ts";

/** Options of {@linkcode serve}: where to listen, plus every connection option. */
export interface ServeOptions extends Omit<ConnectionOptions, "service">, ListenOptions {
  /** Serve one client, then close (RPyC's `OneShotServer`). Default false. */
  oneShot?: boolean;
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
  const connections = new Set<Connection>();
  const handshaking = new Set<Transport>();
  const listening = new Listening(options, "serve", async () => {
    // Connections still in their handshake (or onConnect) are cut off too.
    for (const transport of handshaking) transport.close();
    await Promise.all([...connections].map((c) => c.close()));
  });
  const description = listening.description;

  listening.accept(
    async (conn) => {
      const remote = conn.remoteAddr as Deno.NetAddr;
      const peer = remote.hostname ? `tcp ${remote.hostname}:${remote.port}` : description;
      const transport = transportFromConn(conn, peer);
      handshaking.add(transport);
      try {
        const connection = await startConnection(transport, { ...options, service });
        handshaking.delete(transport);
        if (listening.closing) return void connection.close();
        connections.add(connection);
        await connection.finished;
        connections.delete(connection);
      } catch (error) {
        if (listening.closing) return;
        logger(
          "warn",
          `${description}: connection from ${peer} failed: ${(error as Error).message}`,
        );
      } finally {
        handshaking.delete(transport);
      }
    },
    logger,
    options.oneShot,
  );

  const close = () => listening.close();
  return {
    addr: listening.listener.addr as Deno.NetAddr | Deno.UnixAddr,
    connections,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

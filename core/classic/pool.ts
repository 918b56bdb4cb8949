/**
 * Classic mode served by a pool of worker processes (`rdc classic -m pool`).
 *
 * @module
 */

import { DEFAULT_PORT, DEFAULT_TLS_PORT, defaultServerCommand } from "./connect.ts";
import { type PoolServeOptions, type PoolServer, servePool as servePoolOf } from "../net/pool.ts";

/**
 * Serves classic mode with `workers` worker processes (default: one per
 * core): connections are spread over them, those of one worker share its
 * globals (each keeps its own namespace, as in `serve`), and a CPU-bound
 * call stalls only its own worker's clients. Workers run this Deno with this
 * process's permissions (as `defaultServerCommand`). Client certificates
 * are checked here, but the workers' services see no credentials. Default
 * port 18812 (18821 with TLS), default address loopback.
 *
 * @example
 * ```ts
 * import { classic } from "@rdc/rdc";
 * await using server = classic.servePool({ port: 0, workers: 2 });
 * await server.ready;
 * ```
 */
export function servePool(options: PoolServeOptions = {}): PoolServer {
  // The stdio server's Deno and permission flags, with the pool worker's entry point.
  const command = [
    ...defaultServerCommand().slice(0, -1),
    new URL("./pool_main.ts", import.meta.url).href,
  ];
  return servePoolOf(command, {
    ...options,
    port: options.path === undefined
      ? options.port ?? (options.tls ? DEFAULT_TLS_PORT : DEFAULT_PORT)
      : undefined,
  });
}

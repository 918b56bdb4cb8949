/**
 * The deployed server's main loop, run on the remote host inside the bundle
 * (`deno run bundle.mjs SOCKET`): serves the module's service on the unix
 * socket SOCKET (in the 0700 cache directory), prints `RDC1 READY SOCKET`,
 * and exits as soon as stdin ends — that is, when the SSH channel that
 * started it is gone, whether the launcher closed it or died. The bootstrap
 * script that started it removes the socket afterwards.
 *
 * @module
 */

import type { ConnectionOptions } from "../core/session/connection.ts";
import { serve } from "../core/net/server.ts";
import type { Service } from "../core/session/service.ts";
import { MARKER, READY } from "./remote_protocol.ts";

/**
 * What a module deployed with `DeployOptions.service` exports: the service
 * as its default export (a class, instantiated per connection, or a shared
 * instance), and optionally the connection options the server applies to
 * every connection (policy switches, limits, timeouts).
 */
export interface DeployableModule {
  /** The service. */
  default: Service | (new () => Service);
  /** Options for every connection the deployed server accepts. Default: none. */
  serveOptions?: Omit<ConnectionOptions, "service">;
}

/** Serves `module` as described above; never returns. */
export async function serveDeployed(module: DeployableModule): Promise<never> {
  const path = Deno.args[0];
  if (path === undefined || module.default === undefined) {
    console.error("rdc: the deployed module has no default export (a Service), or no socket path");
    Deno.exit(2);
  }
  serve(module.default, { ...module.serveOptions, path });
  await Deno.stdout.write(new TextEncoder().encode(`${MARKER} ${READY} ${path}\n`));
  // Nothing arrives on stdin: its end is the SSH channel's.
  for await (const _ of Deno.stdin.readable);
  Deno.exit(0);
}

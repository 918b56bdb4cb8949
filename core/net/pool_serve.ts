/**
 * `serve(service, { pool })` in the primary process: the program re-runs
 * itself as each worker, as Node's `cluster` and Python's multiprocessing
 * (spawn) do, so the service class, its module's globals and its imports are
 * the program's own.
 *
 * @module
 */

import { dirname } from "node:path";
import { type PoolServeOptions, type PoolServer, startPool } from "./pool.ts";
import { permissionFlags } from "./permission_flags.ts";
import { runtimeFlags } from "./runtime_flags.ts";
import { POOL_READY_LINE, POOL_WORKER_VARIABLE } from "./pool_member.ts";
import type { WorkerLaunch } from "./pool_worker.ts";
import type { ServerRegistration } from "./server_registration.ts";

/** The file name Deno gives a program that is no file (`deno eval`, the REPL, stdin). */
const NO_FILE = /\/\$deno\$[a-z]+\.[cm]?[jt]sx?$/;

/**
 * Starts the workers of `serve(service, { pool })` and relays connections
 * to them; `registration` starts once they all listen and stops as the pool
 * closes.
 *
 * @throws {TypeError} when the program is no module file that a worker could run.
 */
export function servePooled(
  options: PoolServeOptions,
  registration: ServerRegistration,
): PoolServer {
  const main = Deno.mainModule;
  if (!main.startsWith("file:") || NO_FILE.test(main)) {
    throw new TypeError(
      `serve: pool mode re-runs the program's main module in each worker, so the program must ` +
        `be a module file; ${main} is not one (deno eval, the REPL and stdin cannot be)`,
    );
  }
  const pool = startPool(workerLaunch(main), options, "serve", () => registration.stop());
  registration.start(pool.ready, () => (pool.addr as Deno.NetAddr).port);
  return pool;
}

/**
 * How to start worker `slot` serving on `path`: this Deno running `main`
 * with this process's arguments and permissions (never more, but for
 * reading {@linkcode POOL_WORKER_VARIABLE}, and reading and writing the
 * sockets' directory when this process may), marked by that variable; and
 * with this process's runtime flags when they can be known.
 */
function workerLaunch(main: string): (path: string, slot: number) => WorkerLaunch {
  return (path, slot) => {
    const directory = dirname(path);
    const flags = permissionFlags({ read: [directory], write: [directory] });
    if (flags.includes("--allow-all")) flags.push(...runtimeFlags());
    else if (!flags.includes("--allow-env")) flags.push(`--allow-env=${POOL_WORKER_VARIABLE}`);
    return {
      command: [Deno.execPath(), "run", ...flags, "--no-prompt", "--quiet", main, ...Deno.args],
      // What it writes is logged, not shown on a terminal.
      env: { [POOL_WORKER_VARIABLE]: `${slot}:${path}`, NO_COLOR: "1" },
      readyLine: POOL_READY_LINE,
    };
  };
}

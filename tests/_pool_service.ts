/**
 * A program that serves its own service with `serve(PoolFixtureService,
 * { pool: 2, port: 0 })`, for tests/serve_pool_test.ts. The primary prints
 * `port N` once every worker listens, and closes the pool on SIGTERM. With
 * the argument `fail-in-workers`, each worker throws before it serves.
 */

import { isPoolWorker, serve, Service } from "../mod.ts";

if (isPoolWorker() && Deno.args.includes("fail-in-workers")) {
  throw new Error("this worker fails on purpose");
}

/** Calls counted by this process: the clients of one worker share it. */
let calls = 0;

class PoolFixtureService extends Service {
  exposed_pid(): number {
    return Deno.pid;
  }

  exposed_count(): number {
    return ++calls;
  }

  /** Whether this process holds permission `name` (without asking). */
  exposed_permission(name: "read" | "write" | "net" | "env" | "run" | "sys" | "ffi"): string {
    return Deno.permissions.querySync({ name }).state;
  }

  /** Whether V8 was started with `--expose-gc`. */
  exposed_hasGc(): boolean {
    return "gc" in globalThis;
  }

  exposed_read(path: string): string {
    return Deno.readTextFileSync(path);
  }

  /**
   * Writes `started`, then spins, CPU-bound, until `released` exists (then
   * returns "released") or `ms` have passed ("gave up").
   */
  exposed_spin(started: string, released: string, ms: number): string {
    Deno.writeTextFileSync(started, "");
    const end = Date.now() + ms;
    while (Date.now() < end) {
      try {
        Deno.statSync(released);
        return "released";
      } catch {
        // Not yet.
      }
    }
    return "gave up";
  }
}

const server = serve(PoolFixtureService, { pool: 2, port: 0 });
if (!isPoolWorker()) {
  Deno.addSignalListener("SIGTERM", () => void server.close());
  try {
    await server.ready;
    console.log(`port ${(server.addr as Deno.NetAddr).port}`);
  } catch (error) {
    console.log(`not ready: ${(error as Error).message}`);
  }
  await server.finished;
  console.log("closed");
}

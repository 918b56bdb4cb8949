/**
 * The worker's side of a pool: how a process knows it is one, which socket
 * it serves on, and how it tells the pool it listens and learns that the
 * pool is gone.
 *
 * @module
 */

/** The environment variable that makes a process pool worker `slot`, serving on `path`: `slot:path`. */
export const POOL_WORKER_VARIABLE = "RDC_POOL_WORKER";
/** The line a pool worker prints on stdout once it listens. */
export const POOL_READY_LINE = "rdc-pool-ready";

/** Which worker of a pool this process is, and where it serves. */
export interface PoolSeat {
  /** Its place in the pool, 0 to `pool - 1`; a replacement takes the place of the worker it replaces. */
  readonly slot: number;
  /** The unix socket it serves on. */
  readonly path: string;
}

/** Read once: the program's own subprocesses must not take themselves for workers. */
let seat: PoolSeat | null | undefined;

/**
 * This process's seat in a pool, or null when it is not a pool worker.
 * Asks no permission: without one to read the variable, this is no worker.
 *
 * @throws {TypeError} when the variable is set but malformed.
 */
export function poolSeat(): PoolSeat | null {
  if (seat !== undefined) return seat;
  const query = { name: "env", variable: POOL_WORKER_VARIABLE } as const;
  const value = Deno.permissions.querySync(query).state === "granted"
    ? Deno.env.get(POOL_WORKER_VARIABLE)
    : undefined;
  if (value === undefined) return seat = null;
  const match = /^(\d+):(.+)$/s.exec(value);
  if (!match) {
    throw new TypeError(`${POOL_WORKER_VARIABLE} must be "slot:socket path", not ${value}`);
  }
  Deno.env.delete(POOL_WORKER_VARIABLE);
  return seat = { slot: Number(match[1]), path: match[2]! };
}

/**
 * Whether this process is a worker of a pool server: the program re-run by
 * `serve(service, { pool })`, whose `serve` call serves the pool's
 * connections instead of listening. Use it to skip, in workers, what only
 * the primary should do (print the port, write a pid file, …).
 *
 * @throws {TypeError} when `RDC_POOL_WORKER` is set but malformed.
 * @example
 * ```ts
 * import { isPoolWorker } from "@rdc/rdc";
 * if (!isPoolWorker()) console.log("starting the pool");
 * ```
 */
export function isPoolWorker(): boolean {
  return poolSeat() !== null;
}

/** What a pool worker needs of the server it runs. */
export interface PoolMemberServer {
  readonly ready: Promise<void>;
  readonly finished: Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `server` as a pool worker: prints {@linkcode POOL_READY_LINE} once it
 * listens (or exits with status 1, naming why, if it cannot), closes it when
 * stdin ends (the pool's process is gone) or on SIGTERM, and exits once it
 * has closed, whatever the program still runs (timers, servers).
 */
export function attendPool(server: PoolMemberServer): void {
  server.ready.then(() => {
    Deno.stdout.writeSync(new TextEncoder().encode(`${POOL_READY_LINE}\n`));
  }, (error) => {
    console.error(`rdc pool worker: ${(error as Error).message}`);
    Deno.exit(1);
  });
  const stop = () => void server.close();
  Deno.addSignalListener("SIGTERM", stop);
  void (async () => {
    for await (const _ of Deno.stdin.readable) {
      // Nothing is sent here: the end of the stream is the message.
    }
    stop();
  })();
  // After a turn, so that code awaiting `finished` runs first.
  void server.finished.then(() => setTimeout(() => Deno.exit(0), 0));
}

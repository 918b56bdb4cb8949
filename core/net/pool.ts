/**
 * A server that spreads its connections over a fixed pool of worker
 * processes: each worker serves many connections concurrently and shares
 * its globals between them, and a CPU-bound call stalls only the
 * connections of its own worker. Between the forking (`serveIsolated`) and
 * the threaded (`serve`) extremes, as a pre-forked server with a process per
 * core is.
 *
 * @module
 */

import type { Authenticator } from "./auth.ts";
import { Listening, type ListenOptions } from "./listening.ts";
import { Admission, checkMaxConnections } from "./admission.ts";
import { transportFromConn } from "./adapters.ts";
import { defaultLogger, type Logger } from "../log.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from "../session/connection.ts";
import { DEFAULT_SERVER_LIMITS } from "../wire/limits.ts";
import { exitStatusText, stopChild } from "./stdio.ts";
import { letIn } from "./isolated.ts";
import type { Transport } from "../wire/transport.ts";
import { PoolWorker, type WorkerLaunch } from "./pool_worker.ts";

/** How long workers get to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3_000;

/** Options of {@linkcode servePool}: how many workers, where to listen, whom to let in. */
export interface PoolServeOptions extends ListenOptions {
  /**
   * How many worker processes serve the connections.
   * @default {navigator.hardwareConcurrency}
   */
  workers?: number;
  /** Where log lines go. Default: warnings and errors on stderr. */
  logger?: Logger;
  /** Checks each connection before it is handed to a worker (see `ServeOptions`). */
  authenticator?: Authenticator;
  /**
   * Milliseconds a TLS handshake or the authenticator may take.
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Connections served at once, over all workers; a client beyond it is
   * refused before it reaches one, with a CLOSE naming the reason.
   * @default {1024}
   */
  maxConnections?: number;
  /**
   * Log each connection as it starts (naming its worker) and ends, at level info.
   * @default {false}
   */
  logConnections?: boolean;
}

/** A running pool server; `close()` stops it and ends every worker. */
export interface PoolServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /** Resolves once it listens and every worker is ready; rejects if one cannot start. */
  readonly ready: Promise<void>;
  /** The workers' process ids, in pool order (a worker that died is replaced). */
  readonly workers: readonly number[];
  /** Resolves once the server and all its workers have ended. */
  readonly finished: Promise<void>;
  /** Stops listening, ends the workers (SIGTERM, then SIGKILL) and waits for them. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves connections with a pool of worker processes, each started from
 * `command` with one more argument: the path of a unix socket on which it
 * must serve rdc to many connections at once, printing a line on stdout once
 * it listens, and exiting when its stdin ends or on SIGTERM
 * (`classic.servePool` gives the classic one; `serve(service, { pool })`
 * pools a service of your own). Each connection is
 * authenticated here, then relayed to the worker serving the fewest
 * connections (the first such after the last one chosen); a worker's
 * clients share its globals. A worker that dies takes its connections with
 * it and is replaced; one that ends before it listens closes the pool
 * (`ready` rejects, with what it wrote). Each line a worker writes on stderr, and on stdout
 * after its first, is logged at level info, naming it. The workers' sockets
 * live in a temporary directory, removed on close.
 *
 * @throws {TypeError} for an empty command.
 * @throws {RangeError} for a bad `workers` or `maxConnections`.
 * @throws {Deno.errors.PermissionDenied} without write permission for the temporary directory.
 */
export function servePool(command: readonly string[], options: PoolServeOptions): PoolServer {
  if (command.length === 0) throw new TypeError("servePool needs a command to run");
  return startPool((path) => ({ command: [...command, path] }), options, "servePool");
}

/**
 * Starts a pool server whose workers are started as `launch` says, each
 * serving on the unix socket `path` in its place `slot` of the pool; `onStop` runs as it begins to close.
 * See {@linkcode servePool}.
 *
 * @param what the caller's name, for errors.
 */
export function startPool(
  launch: (path: string, slot: number) => WorkerLaunch,
  options: PoolServeOptions,
  what: string,
  onStop?: () => Promise<void>,
): PoolServer {
  const size = options.workers ?? navigator.hardwareConcurrency;
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(
      `${what}: the number of workers must be a positive whole number, not ${size}`,
    );
  }
  const logger = options.logger ?? defaultLogger;
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxConnections = checkMaxConnections(
    options.maxConnections ?? DEFAULT_SERVER_LIMITS.maxConnections,
    what,
  );
  const socketDir = Deno.makeTempDirSync({ prefix: "rdc-pool-" });
  let closing = false;
  const pool: PoolWorker[] = [];
  let last = -1;
  let started = 0;

  const start = (slot: number): PoolWorker => {
    // A fresh path each time: a worker that died may have left its socket file behind.
    let pid = 0;
    const log = (line: string) => logger("info", `worker ${pid}: ${line}`);
    const path = `${socketDir}/worker-${started++}.sock`;
    const worker = new PoolWorker(launch(path, slot), path, log);
    pool[slot] = worker;
    pid = worker.child.pid;
    worker.child.status.then((status) => {
      if (closing) return;
      Deno.remove(worker.path).catch(() => {});
      if (!worker.listening) {
        // Another would most likely fail the same way: the pool gives up (see `ready`).
        worker.ready.catch((error) => logger("error", `${what}: ${error.message}`));
        void listening.close();
        return;
      }
      logger("warn", `worker ${pid} ${exitStatusText(status)}; starting another`);
      start(slot);
    });
    return worker;
  };

  /** The worker with the fewest connections, the first such after the last one chosen. */
  const choose = (): PoolWorker => {
    let best = -1;
    for (let step = 1; step <= pool.length; step++) {
      const slot = (last + step) % pool.length;
      if (best < 0 || pool[slot]!.connections < pool[best]!.connections) best = slot;
    }
    last = best;
    return pool[best]!;
  };

  const stop = async () => {
    closing = true;
    for (const worker of pool) stopChild(worker.child, 0, KILL_GRACE_MS);
    await Promise.all([...pool.map((worker) => worker.child.status), onStop?.()]);
    await Deno.remove(socketDir, { recursive: true }).catch(() => {});
  };
  const listening = listen(options, what, logger, handshakeTimeout, stop, socketDir);
  // Started once listening is set up, so that bad listening options leave no worker behind.
  for (let slot = 0; slot < size; slot++) start(slot);
  const admission = new Admission(maxConnections, listening.description, logger);
  const ready = Promise.all([listening.ready, ...pool.map((worker) => worker.ready)])
    .then(() => {});
  ready.catch(() => {}); // Reported to whoever awaits `ready`.

  listening.accept(async (incoming) => {
    using slot = await admission.admit(incoming);
    if (!slot) return;
    const { transport: client, peer } = incoming;
    if (!await letIn(incoming, options.authenticator, handshakeTimeout, listening, logger)) return;
    const worker = choose();
    let upstream: Transport;
    try {
      await worker.ready;
      const conn = await Deno.connect({ transport: "unix", path: worker.path });
      upstream = transportFromConn(conn, `unix ${worker.path}`);
    } catch (error) {
      client.close();
      if (!listening.closing) {
        logger(
          "error",
          `cannot hand ${peer} to worker ${worker.child.pid}: ${(error as Error).message}`,
        );
      }
      return;
    }
    worker.connections++;
    if (options.logConnections) {
      logger("info", `connection from ${peer}: served by worker ${worker.child.pid}`);
    }
    // Either direction ending ends the other.
    await Promise.race([pump(client, upstream), pump(upstream, client)]);
    client.close();
    upstream.close();
    worker.connections--;
    if (options.logConnections) logger("info", `connection from ${peer} ended`);
  }, logger);

  const close = () => listening.close();
  return {
    addr: listening.addr,
    ready,
    get workers() {
      return pool.map((worker) => worker.child.pid);
    },
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A {@linkcode Listening}; if it cannot be, the workers' `socketDir` is removed. */
function listen(
  options: ListenOptions,
  what: string,
  logger: Logger,
  handshakeTimeout: number,
  stop: () => Promise<void>,
  socketDir: string,
): Listening {
  try {
    return new Listening(options, what, logger, handshakeTimeout, stop);
  } catch (error) {
    Deno.removeSync(socketDir);
    throw error;
  }
}

/** Copies `from` into `to` until `from` ends or either fails. */
async function pump(from: Transport, to: Transport): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
      await to.write(buffer.slice(0, n));
    }
  } catch {
    // Either end went away: the caller closes both.
  }
}

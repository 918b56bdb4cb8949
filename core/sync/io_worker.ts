/**
 * The main thread's side of the I/O worker: one `node:worker_threads`
 * Worker per process, started on first use, that owns the sockets of every
 * synchronous connection (see `worker_main.ts`). It is unreferenced: an
 * idle synchronous connection does not keep the process alive, so a
 * program that forgets `close()` still exits.
 *
 * @module
 */

import process from "node:process";
import type { Worker } from "node:worker_threads";
import { ConnectionClosedError } from "../errors.ts";
import { waitAsync } from "../wire/pipe.ts";
import { Control, CONTROL_WORDS, HEARTBEAT_TIMEOUT_MS, type OpenRequest } from "./control.ts";
import { WORKER_SOURCE } from "./worker_source.ts";

/** A connection's main-thread end, as the worker's side sees it. */
export interface WorkerLink {
  /** Handles what has arrived for it; returns whether anything had. Never throws. */
  poll(): boolean;
  /** The worker is gone: end the connection with `reason`. Never throws. */
  lost(reason: Error): void;
}

/**
 * The process's I/O worker, as the main thread uses it.
 *
 * Contract: main thread only. `poll` hands every link what arrived for it,
 * which runs user code (callbacks) and may re-enter any method here. Once
 * the worker has failed, every link is told (`lost`) and `check` throws.
 */
export class IoWorker {
  static #instance: IoWorker | null = null;

  /**
   * The worker, started now if it is not running.
   *
   * @throws {Error} where `SharedArrayBuffer` or a blocking `Atomics.wait` is
   *   not available, saying so.
   */
  static get(): IoWorker {
    if (IoWorker.#instance) return IoWorker.#instance;
    checkPlatform();
    return IoWorker.#instance = new IoWorker();
  }

  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #links = new Set<WorkerLink>();
  /** Asynchronous calls in flight on synchronous connections: while any, the process stays. */
  #holds = 0;
  #idleWait = false;
  #failure: Error | null = null;
  #lastBeat = -1;
  #lastBeatAt = 0;

  readonly #heartbeatTimeout: number;

  /**
   * Starts a worker running `source`. Use {@linkcode IoWorker.get}; tests
   * start their own, with a worker program that misbehaves.
   */
  constructor(source: string = WORKER_SOURCE, heartbeatTimeout: number = HEARTBEAT_TIMEOUT_MS) {
    this.#heartbeatTimeout = heartbeatTimeout;
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    this.#control = new Int32Array(control);
    const url = "data:text/javascript;charset=utf-8," + encodeURIComponent(source);
    this.#worker = new (workerThreads().Worker)(new URL(url), { workerData: { control } });
    this.#worker.unref();
    this.#worker.on("error", (error) => this.#fail(`failed: ${error}`));
    this.#worker.on("exit", (code) => this.#fail(`exited (code ${code})`));
  }

  /** Asks the worker to open a connection, whose records `link` will read. */
  open(request: OpenRequest, link: WorkerLink): void {
    this.check();
    this.#links.add(link);
    this.#worker.postMessage(request);
    this.#armIdleWait();
  }

  /** Stops polling `link` (its connection closed). */
  detach(link: WorkerLink): void {
    this.#links.delete(link);
  }

  /** Polls every link once; returns whether any had something. */
  pollAll(): boolean {
    let any = false;
    for (const link of this.#links) any = link.poll() || any;
    return any;
  }

  /** The doorbell's count, to wait on with {@linkcode IoWorker.waitForBell}. */
  get doorbell(): number {
    return Atomics.load(this.#control, Control.Doorbell);
  }

  /** Blocks until the doorbell moves past `seen` or `ms` pass. */
  waitForBell(seen: number, ms: number): void {
    Atomics.wait(this.#control, Control.Doorbell, seen, ms);
  }

  /** Starts watching the heartbeat afresh: a blocking wait begins. */
  startWatch(): void {
    this.#lastBeat = Atomics.load(this.#control, Control.Heartbeat);
    this.#lastBeatAt = performance.now();
  }

  /**
   * Throws when the worker has failed or its heartbeat stood still too long
   * (during a blocking wait begun with {@linkcode IoWorker.startWatch}).
   *
   * @throws {ConnectionClosedError} naming what happened to the worker.
   */
  check(): void {
    if (this.#failure) throw this.#failure;
    if (Atomics.load(this.#control, Control.Dead) !== 0) this.#fail("failed (see its error above)");
    else if (this.#lastBeatAt > 0) {
      const beat = Atomics.load(this.#control, Control.Heartbeat);
      const now = performance.now();
      if (beat !== this.#lastBeat) {
        this.#lastBeat = beat;
        this.#lastBeatAt = now;
      } else if (now - this.#lastBeatAt > this.#heartbeatTimeout) {
        this.#fail(`stopped responding (no heartbeat for ${this.#heartbeatTimeout} ms)`);
      }
    }
    if (this.#failure) throw this.#failure;
  }

  /** Keeps the process alive until the matching {@linkcode IoWorker.letGo} (an async call runs). */
  hold(): void {
    if (this.#holds++ === 0) this.#worker.ref();
  }

  /** Ends a {@linkcode IoWorker.hold}. */
  letGo(): void {
    if (--this.#holds === 0) this.#worker.unref();
  }

  /**
   * While the thread is idle, messages (callbacks, answers to `conn.async`
   * calls) are handled from the event loop, as soon as the doorbell rings.
   * The wait does not keep the process alive.
   */
  #armIdleWait(): void {
    if (this.#idleWait || this.#links.size === 0 || this.#failure) return;
    this.#idleWait = true;
    waitAsync(this.#control, Control.Doorbell, this.doorbell).then(() => {
      this.#idleWait = false;
      this.pollAll();
      this.#armIdleWait();
    });
  }

  #fail(what: string): void {
    if (this.#failure) return;
    this.#failure = new ConnectionClosedError(`the synchronous mode's I/O worker ${what}`);
    if (IoWorker.#instance === this) IoWorker.#instance = null; // The next connection starts anew.
    for (const link of this.#links) link.lost(this.#failure);
    this.#links.clear();
    this.#worker.terminate();
  }
}

/**
 * `node:worker_threads`, loaded on first use rather than with the package:
 * loading it costs start-up time and changes every `MessagePort` of the
 * process (Deno's Node layer patches them), which programs that never
 * open a synchronous connection should not pay for.
 */
function workerThreads(): typeof import("node:worker_threads") {
  const node = process as unknown as { getBuiltinModule(id: string): unknown };
  return node.getBuiltinModule("node:worker_threads") as typeof import("node:worker_threads");
}

/**
 * Fails clearly where the synchronous mode cannot work.
 *
 * @throws {Error} when `SharedArrayBuffer` is missing or `Atomics.wait` may
 *   not block this thread (a browser's main thread).
 */
function checkPlatform(): void {
  if (typeof SharedArrayBuffer !== "function") {
    throw new Error(
      "the synchronous mode needs SharedArrayBuffer, which this runtime does not offer " +
        "(was it started with --v8-flags=--enable-sharedarraybuffer-per-context?); " +
        "use the async mode (connect) instead",
    );
  }
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch (error) {
    throw new Error(
      `the synchronous mode needs Atomics.wait, which may not block this thread (${error}); ` +
        "use the async mode (connect) instead",
    );
  }
}

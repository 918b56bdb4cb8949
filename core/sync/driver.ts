/**
 * The synchronous driver: how the main thread waits for an answer without
 * returning to its event loop. It blocks in `Atomics.wait` on the I/O
 * worker's doorbell and, whenever it rings, hands every synchronous
 * connection what arrived — replies, and the peer's requests (callbacks),
 * which run right here, on the waiting call's stack, as in RPyC's
 * `sync_request`. A callback may itself make synchronous calls: the waits
 * nest.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import type { SessionDriver } from "../session/session.ts";
import type { IoWorker } from "./io_worker.ts";

/** The longest single `Atomics.wait`: the heartbeat and the deadline are looked at this often. */
const SLICE_MS = 50;

let depth = 0;

/**
 * The driver every synchronous session shares: the thread is blocked while
 * any wait runs.
 */
export const syncDriver: SessionDriver = {
  get blocked(): boolean {
    return depth > 0;
  },
};

/**
 * Blocks, serving every synchronous connection, until `done()` is true.
 * Returns false when `timeout` ms (0: none) passed first.
 *
 * @throws {ConnectionClosedError} when the I/O worker fails meanwhile.
 */
export function waitUntil(worker: IoWorker, done: () => boolean, timeout: number): boolean {
  const deadline = timeout > 0 ? performance.now() + timeout : Infinity;
  depth++;
  worker.startWatch();
  try {
    while (true) {
      // Read before polling: a ring after the poll then ends the wait at once.
      const seen = worker.doorbell;
      if (worker.pollAll()) {
        if (done()) return true;
        continue;
      }
      if (done()) return true;
      worker.check();
      const left = deadline - performance.now();
      if (left <= 0) return false;
      worker.waitForBell(seen, Math.min(SLICE_MS, left));
    }
  } finally {
    depth--;
  }
}

/** The error of a synchronous call that waited `ms` for its answer. */
export function syncTimeout(what: string, ms: number): TimeoutError {
  return new TimeoutError(`${what} timed out after ${ms} ms`);
}

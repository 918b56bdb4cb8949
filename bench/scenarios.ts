/**
 * The measured operations and the loops that time them.
 *
 * A timed batch runs one operation sequentially (each awaited before the next)
 * for at least `minMs` and reports microseconds per operation; a synchronous
 * batch does the same with an operation that blocks instead (the synchronous
 * mode's calls), in chunks of the same size. `wire` counts
 * what one operation puts on the wire, from `conn.stats()` deltas.
 *
 * @module
 */

import type { Connection } from "../mod.ts";
import { median } from "./stats.ts";

/** One operation, awaited to completion. */
export type Operation = () => Promise<unknown>;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Runs `op` back to back for at least `minMs`; microseconds per operation. */
export async function timeBatch(op: Operation, minMs: number, chunk = 50): Promise<number> {
  gc();
  let count = 0;
  const start = performance.now();
  let now = start;
  do {
    for (let i = 0; i < chunk; i++) await op();
    count += chunk;
    now = performance.now();
  } while (now - start < minMs);
  return ((now - start) * 1000) / count;
}

/** One operation that blocks until it completes (a synchronous netref's call). */
export type SyncOperation = () => unknown;

/**
 * {@linkcode timeBatch} for an operation that blocks: runs `op` back to back
 * for at least `minMs`, in the same chunks; microseconds per operation. The
 * thread never returns to its event loop while the batch runs.
 */
export function timeSyncBatch(op: SyncOperation, minMs: number, chunk = 50): number {
  gc();
  let count = 0;
  const start = performance.now();
  let now = start;
  do {
    for (let i = 0; i < chunk; i++) op();
    count += chunk;
    now = performance.now();
  } while (now - start < minMs);
  return ((now - start) * 1000) / count;
}

/**
 * What one operation costs on the wire (frame headers included): the median
 * over a run of per-operation deltas, so that occasional housekeeping
 * (batched releases) does not count, plus the means, which include it.
 */
export interface Wire {
  /** Frames written per operation. */
  framesOut: number;
  /** Frames read per operation. */
  framesIn: number;
  /** Bytes written per operation. */
  bytesOut: number;
  /** Bytes read per operation. */
  bytesIn: number;
  /** Mean bytes written per operation, housekeeping included. */
  meanBytesOut: number;
  /** Mean bytes read per operation, housekeeping included. */
  meanBytesIn: number;
}

/** Runs `op` `n` times sequentially, reading `conn.stats()` around each. */
export async function wire(conn: Connection, op: Operation, n = 200): Promise<Wire> {
  const deltas: number[][] = [[], [], [], []];
  const first = conn.stats();
  let before = first;
  for (let i = 0; i < n; i++) {
    await op();
    const after = conn.stats();
    deltas[0].push(after.framesSent - before.framesSent);
    deltas[1].push(after.framesReceived - before.framesReceived);
    deltas[2].push(after.bytesSent - before.bytesSent);
    deltas[3].push(after.bytesReceived - before.bytesReceived);
    before = after;
  }
  return {
    framesOut: median(deltas[0]),
    framesIn: median(deltas[1]),
    bytesOut: median(deltas[2]),
    bytesIn: median(deltas[3]),
    meanBytesOut: (before.bytesSent - first.bytesSent) / n,
    meanBytesIn: (before.bytesReceived - first.bytesReceived) / n,
  };
}

/**
 * Microseconds per `consume` of a fresh stream of `chunks` chunks of 1 KiB,
 * over `count` of them; `consume` resolves with the chunk count it read.
 */
export function timeStreams(
  consume: (stream: ReadableStream<Uint8Array>) => Promise<number>,
  chunks: number,
  count: number,
): Promise<number> {
  return timeBatch(
    async () => {
      const stream = ReadableStream.from(
        Array.from({ length: chunks }, (_, i) => new Uint8Array(1024).fill(i)),
      );
      const read = await consume(stream);
      if (read !== chunks) throw new Error(`stream: ${read} chunks read, not ${chunks}`);
    },
    0,
    count,
  );
}

/** Microseconds per `fetch` of `n` items (an array, checked for its length), over `count`. */
export function timeItems(
  fetch: () => Promise<unknown[]>,
  n: number,
  count: number,
): Promise<number> {
  return timeBatch(
    async () => {
      const got = await fetch();
      if (got.length !== n) throw new Error(`${got.length} items, not ${n}`);
    },
    0,
    count,
  );
}

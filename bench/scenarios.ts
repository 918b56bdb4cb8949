/**
 * The measured operations and the loops that time them.
 *
 * A timed batch runs one operation sequentially (each awaited before the next)
 * for at least `minMs` and reports microseconds per operation. A burst starts
 * many calls at once and reports calls per second. `wire` counts what one
 * operation puts on the wire, from `conn.stats()` deltas.
 *
 * @module
 */

import type { Connection } from "../mod.ts";
import { median } from "./stats.ts";

/** One operation, awaited to completion. */
export type Operation = () => Promise<unknown>;

/** The rdc operations, by scenario id, with the value each must produce. */
export function rdcOperations(conn: Connection): Record<string, [Operation, unknown]> {
  const root = conn.root;
  const times10 = (x: number) => x * 10;
  return {
    call: [() => root.add(1, 2), 3],
    chain: [() => root.a.b.c(1), 2],
    pipelined: [() => root.inc(root.inc(root.inc(1))), 4],
    callback: [() => root.callback(times10), 10],
  };
}

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

/** Starts `n` calls of `add` at once and awaits them all; calls per second. */
export async function burst(conn: Connection, n: number): Promise<number> {
  gc();
  const root = conn.root;
  const calls = new Array<Promise<number>>(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) calls[i] = root.add(i, 1);
  const results = await Promise.all(calls);
  const elapsed = performance.now() - start;
  if (results[n - 1] !== n) throw new Error(`burst: wrong result ${results[n - 1]}`);
  return (n * 1000) / elapsed;
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

/** Runs each operation once and throws if any gives the wrong value. */
export async function verify(operations: Record<string, [Operation, unknown]>): Promise<void> {
  for (const [name, [op, expected]] of Object.entries(operations)) {
    const got = await op();
    if (got !== expected) throw new Error(`${name}: expected ${expected}, got ${got}`);
  }
}

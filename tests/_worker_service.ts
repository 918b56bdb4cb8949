/**
 * A module worker for tests/message_transports_test.ts: serves
 * {@linkcode WorkerService} to the thread that started it, with
 * `serveParent`. Some members end the worker on purpose, each its own way.
 *
 * @module
 */

import { serveParent, Service } from "../mod.ts";

/** What the worker offers its parent. */
export class WorkerService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }

  /** Whether this runs in a worker (not in the parent's thread). */
  exposed_inWorker(): boolean {
    return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function";
  }

  /** Calls the parent's `f` on each item, one after another. */
  async exposed_map(
    items: number[],
    f: (n: number) => number | Promise<number>,
  ): Promise<number[]> {
    const out: number[] = [];
    for (const item of items) out.push(await f(item));
    return out;
  }

  /** The sum of the bytes (a large array arrives as an attachment). */
  exposed_sum(bytes: Uint8Array): number {
    let sum = 0;
    for (const byte of bytes) sum += byte;
    return sum;
  }

  /** Never answers. */
  exposed_hang(): Promise<never> {
    return new Promise(() => {});
  }

  /** Never answers; an uncaught error ends the worker meanwhile. */
  exposed_crashSoon(): Promise<never> {
    setTimeout(() => {
      throw new Error("crashed on purpose");
    }, 20);
    return new Promise(() => {});
  }

  /** Never answers; an unhandled rejection ends the worker meanwhile. */
  exposed_rejectSoon(): Promise<never> {
    setTimeout(() => void Promise.reject(new Error("rejected on purpose")), 20);
    return new Promise(() => {});
  }

  /** Never answers; the worker closes itself meanwhile. */
  exposed_closeSoon(): Promise<never> {
    setTimeout(() => close(), 20);
    return new Promise(() => {});
  }
}

await serveParent(WorkerService, { logger: () => {} });

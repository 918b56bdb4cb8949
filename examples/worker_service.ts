/**
 * The worker half of examples/worker.ts: a module started with
 * `new Worker(url, { type: "module" })` that serves {@linkcode PrimeService}
 * to the thread that started it. Import it only as a type elsewhere
 * (`import type`): run as a plain module, `serveParent` refuses to start.
 *
 * @module
 */

import { serveParent, Service } from "../mod.ts";

/** CPU-heavy work, done in the worker while the main thread goes on. */
export class PrimeService extends Service {
  /** How many primes are below `limit` (a sieve); `progress` hears of each tenth done. */
  async exposed_countPrimes(
    limit: number,
    progress?: (percent: number) => unknown,
  ): Promise<number> {
    const composite = new Uint8Array(limit);
    const tenth = Math.ceil(limit / 10);
    let count = 0;
    for (let n = 2; n < limit; n++) {
      if (!composite[n]) {
        count++;
        for (let m = n * n; m < limit; m += n) composite[m] = 1;
      }
      if (progress && n % tenth === 0) await progress((n / tenth) * 10); // a call to the parent
    }
    return count;
  }

  /** The SHA-256 of `bytes`, in hex: a large array arrives transferred, not copied. */
  async exposed_sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }
}

await serveParent(PrimeService);

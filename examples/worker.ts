/**
 * Worker offload, Comlink-style: the service in examples/worker_service.ts
 * runs in a module Worker, and this thread calls it as if it were local
 * (`connectWorker` here, `serveParent` there). Messages travel whole through
 * the worker's `postMessage`, large byte arrays transferred, and callbacks
 * work both ways, as over TCP.
 *
 * ```sh
 * deno run --allow-read examples/worker.ts
 * ```
 *
 * @module
 */

import { connectWorker, type Remote } from "../mod.ts";
import type { PrimeService } from "./worker_service.ts";

const worker = new Worker(new URL("./worker_service.ts", import.meta.url), { type: "module" });
await using conn = await connectWorker(worker); // the worker is terminated when conn closes
const primes = conn.root as Remote<PrimeService>;

// The sieve runs in the worker; this thread stays free (its timer keeps ticking).
let ticks = 0;
const timer = setInterval(() => ticks++, 1);
const count = await primes.countPrimes(20_000_000, (percent) => console.log(`worker: ${percent}%`));
clearInterval(timer);
console.log(`primes below 20 000 000: ${count}`);
console.log(`the main thread stayed responsive: ${ticks > 0}`);

const data = new Uint8Array(64 * 1024 * 1024).fill(7);
console.log(`sha-256 of 64 MiB of 7s: ${await primes.sha256(data)}`);
console.log(`the array is still ours: ${data.length === 64 * 1024 * 1024}`);

/**
 * The run: {@linkcode runFuzz} serves the fuzz service on a free loopback
 * port, keeps one honest client connected throughout, and sends each
 * mutation on a raw TCP connection of its own, a small pool of them at once,
 * in batches with the checks after each; at the end, memory and unhandled
 * rejections.
 *
 * @module
 */

import { attachmentBuffers } from "../../core/wire/buffer_pool.ts";
import { honestCheck, leakCheck, pollution, quietChecks } from "./checks.ts";
import { captureCorpus, type Corpus } from "./corpus.ts";
import { DEFAULT_BOUNDS, exchange, type ExchangeBounds, type Outcome } from "./exchange.ts";
import { describeError } from "./failure.ts";
import { MiB } from "./limits.ts";
import { countingLogger } from "./log.ts";
import { makeMutation, type Mutation } from "./mutation.ts";
import { emptyOutcomes, type FuzzReport, mib, tally } from "./report.ts";
import { Target } from "./target.ts";

/** What {@linkcode runFuzz} does. */
export interface FuzzOptions {
  /** The seed every mutation derives from. */
  seed: number;
  /** How many mutations. */
  mutations: number;
  /** The first mutation's index (to resume or replay a range). Default 0. */
  first?: number;
  /** Run exactly these mutation indices instead of a range. */
  only?: number[];
  /** Raw connections at once. Default 8. */
  concurrency?: number;
  /** Honest checks, leak and budget checks every this many mutations. Default 250. */
  checkEvery?: number;
  /** Bounds of each exchange. */
  bounds?: Partial<ExchangeBounds>;
  /**
   * Most the memory the process holds after a garbage collection (JS heap and
   * ArrayBuffers, less the send buffers the pool keeps idle, which it bounds
   * itself) may grow over the run, in bytes: a leak. Default 64 MiB.
   */
  memoryBound?: number;
  /**
   * Most the resident size may grow at its peak, in bytes: a backstop against
   * what the budgets do not see. Default 1 GiB. (Its growth after the run is
   * reported, never asserted: the allocator keeps freed pages, more of them
   * on a machine with more cores.)
   */
  peakBound?: number;
  /** Milliseconds the server may take to drop raw connections once their peers left. Default 5 000. */
  leakGraceMs?: number;
  /**
   * After a batch that broke a promise, replace the server and the honest
   * client and go on (the long run does, to find more than one bug); by
   * default the run stops there.
   */
  keepGoing?: boolean;
  /** Called with each mutation and its outcome (for tracing). */
  onOutcome?: (mutation: Mutation, outcome: Outcome) => void;
  /** Called after each batch, with the report so far (for progress lines). */
  onProgress?: (report: FuzzReport) => void;
  /** A corpus captured earlier (it is captured otherwise). */
  corpus?: Corpus;
}

/**
 * Runs the fuzzer: a server, an honest client, and `mutations` raw
 * connections, `concurrency` at a time, in batches of `checkEvery` with the
 * checks after each. Returns the report; `failures` lists every broken
 * promise (the run stops at the first batch that has one, unless
 * `keepGoing`).
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed >>> 0;
  const checkEvery = options.checkEvery ?? 250;
  const memoryBound = options.memoryBound ?? 64 * MiB;
  const peakBound = options.peakBound ?? 1024 * MiB;
  const indices = options.only ??
    Array.from({ length: options.mutations }, (_, i) => (options.first ?? 0) + i);

  const unhandled: string[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(`unhandled rejection: ${describeError(event.reason)}`);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    unhandled.push(`uncaught error: ${describeError(event.error)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  const watch = watchProcess();

  const corpus = options.corpus ?? await captureCorpus();
  const log = countingLogger();
  const report: FuzzReport = {
    seed,
    mutations: 0,
    outcomes: emptyOutcomes(),
    reasons: new Map(),
    byMutator: new Map(),
    honestChecks: 0,
    leakChecks: 0,
    rssBefore: 0,
    rssAfter: 0,
    heap: [0, 0],
    buffers: [0, 0],
    pooled: [0, 0],
    rssPeak: 0,
    elapsedMs: 0,
    worstStallMs: 0,
    corpus: corpus.fingerprint,
    corpusFrames: corpus.frames,
    unhandled,
    serverLog: log.counts,
    failures: [],
    restarts: 0,
    hangs: 0,
    lateHangs: 0,
  };
  const fail = (what: string, batch: [number, number] | null) =>
    report.failures.push({ what, batch });

  let target = await Target.start(log);
  const tallyHangs = () => {
    report.hangs += target.probe.hangs;
    report.lateHangs += target.probe.lateHangs;
  };
  try {
    for (const problem of await quietChecks(target, 0)) fail(problem, null);
    report.honestChecks++;
    const before = await settledMemory();
    report.rssBefore = before.rss;
    report.heap[0] = before.heapUsed;
    report.pooled[0] = attachmentBuffers.idleBytes;
    report.buffers[0] = before.external - report.pooled[0];
    report.rssPeak = report.rssBefore;
    const started = performance.now();
    for (let b = 0; b < indices.length; b += checkEvery) {
      const batch = indices.slice(b, b + checkEvery);
      const range: [number, number] = [batch[0], batch[batch.length - 1]];
      const seenUnhandled = unhandled.length;
      const problems = await runBatch(target, batch, corpus, seed, report, options);
      if (unhandled.length > seenUnhandled) problems.push(unhandled[seenUnhandled]);
      for (const problem of problems) {
        fail(`${problem} (after mutations #${range[0]}…#${range[1]})`, range);
      }
      report.rssPeak = Math.max(report.rssPeak, watch.peakRss);
      report.elapsedMs = performance.now() - started;
      report.worstStallMs = watch.worstStall;
      options.onProgress?.(report);
      if (problems.length === 0) continue;
      if (!options.keepGoing) break;
      // A fresh server: what broke this one must not count against the batches after it.
      tallyHangs();
      const stuck = await target.stop();
      if (stuck) fail(stuck, range);
      target = await Target.start(log);
      report.restarts++;
    }
    report.elapsedMs = performance.now() - started;
    const after = await settledMemory();
    report.rssAfter = after.rss;
    report.heap[1] = after.heapUsed;
    report.pooled[1] = attachmentBuffers.idleBytes;
    report.buffers[1] = after.external - report.pooled[1];
    const held = (report.heap[1] + report.buffers[1]) - (report.heap[0] + report.buffers[0]);
    if (held > memoryBound) {
      fail(
        `the JS heap and ArrayBuffers grew by ${mib(held)} after a garbage collection ` +
          `(bound ${mib(memoryBound)})`,
        null,
      );
    }
    report.rssPeak = Math.max(report.rssPeak, watch.peakRss);
    if (report.rssPeak - report.rssBefore > peakBound) {
      fail(
        `resident memory grew by ${mib(report.rssPeak - report.rssBefore)} at its peak ` +
          `(bound ${mib(peakBound)})`,
        null,
      );
    }
  } finally {
    tallyHangs();
    report.worstStallMs = watch.worstStall;
    watch.stop();
    const stuck = await target.stop();
    if (stuck) fail(stuck, null);
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
  return report;
}

/**
 * One batch: its mutations on raw connections, `concurrency` at a time, with
 * a round of honest checks under fire; then, once every raw peer has gone,
 * the leak and budget checks. Returns the broken promises.
 */
async function runBatch(
  target: Target,
  batch: readonly number[],
  corpus: Corpus,
  seed: number,
  report: FuzzReport,
  options: FuzzOptions,
): Promise<string[]> {
  const problems: string[] = [];
  const bounds = { ...DEFAULT_BOUNDS, ...options.bounds };
  const byPort = new Map<number, Mutation>();
  const honest = honestCheck(target.client, report.honestChecks).then(
    () => report.honestChecks++,
    (error) => problems.push(describeError(error)),
  );
  const attack = runPool(batch, options.concurrency ?? 8, async (index) => {
    const mutation = makeMutation(corpus, seed, index);
    const outcome = await exchange(target.port, mutation, bounds);
    tally(report, mutation, outcome);
    byPort.set(outcome.port, mutation);
    options.onOutcome?.(mutation, outcome);
    if (outcome.kind === "silent") {
      problems.push(`the server never greeted mutation #${index} (${mutation.steps.join("; ")})`);
    }
  }).catch((error) => problems.push(describeError(error)));
  await Promise.all([honest, attack]);
  const leak = await leakCheck(target, options.leakGraceMs ?? 5_000, byPort);
  if (leak) problems.push(leak);
  else {
    const budgets = await quietChecks(target, null);
    if (budgets.length === 0) report.leakChecks++;
    problems.push(...budgets);
  }
  if (target.closed) problems.push("the server closed during the run");
  const polluted = pollution();
  if (polluted) problems.push(polluted);
  return problems;
}

/** Runs `work` on every item, at most `limit` at once; rejects with the first failure. */
async function runPool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (next < items.length && failure === null) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw failure;
}

/**
 * The process's memory once garbage is gone: V8 frees the memory of dead
 * ArrayBuffers in the background after a collection, so this collects again
 * a moment later until what they hold stops falling (a few rounds at most).
 */
async function settledMemory(): Promise<Deno.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  let usage = Deno.memoryUsage();
  for (let round = 0; round < 5; round++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = Deno.memoryUsage();
    const settled = usage.external - next.external < MiB;
    usage = next;
    if (settled && round > 0) break;
  }
  return usage;
}

/**
 * Watches the process every 10 ms: the worst delay of the timer (an event-loop
 * stall), in milliseconds, and the most resident memory seen, in bytes.
 */
function watchProcess(): { readonly worstStall: number; readonly peakRss: number; stop(): void } {
  let worstStall = 0;
  let peakRss = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstStall = Math.max(worstStall, now - last - 10);
    last = now;
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }, 10);
  return {
    get worstStall() {
      return worstStall;
    },
    get peakRss() {
      return peakRss;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * `deno task fuzz`: the long run of the wire fuzzer (tests/fuzz/). It
 * serves the fuzz service on loopback, keeps an honest client connected, and
 * sends mutated traffic on raw TCP connections, a few at a time, printing
 * progress at every check and a summary at the end. It exits with status 1
 * when the server broke a promise (a crash, a wrong answer to the honest
 * client, a connection left open, memory past the bound, an unhandled
 * rejection).
 *
 * Options:
 *
 * - `--mutations N` (default 100 000), `--seed S` (default 1), `--first I`
 *   (the first mutation's index, default 0): which mutations. Mutation `I` of
 *   seed `S` is the same bytes on every machine, whatever ran before it.
 * - `--only I,J,…`: run just these mutations (to replay a failure).
 * - `--concurrency C` (default 8): raw connections at once.
 * - `--stop`: stop at the first batch that broke a promise. By default the
 *   run replaces the server and goes on, to find more than one bug.
 * - `--check-every K` (default 1 000): honest-client and leak checks.
 * - `--idle-ms MS` (default 200): how long a raw peer waits for more once
 *   the server has gone quiet.
 * - `--memory-mib M` (default 64): the most the JS heap and ArrayBuffers
 *   may grow over the run, measured after a garbage collection.
 * - `--peak-mib M` (default 1024): the most resident memory may grow at its
 *   peak.
 * - `--show`: print each mutation's steps and bytes instead of running it
 *   (with `--only`).
 * - `--trace`: print every mutation's steps and outcome as it runs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  captureCorpus,
  formatReport,
  frameBytes,
  hex,
  makeMutation,
  mib,
  runFuzz,
} from "../tests/fuzz/mod.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    mutations: { type: "string", default: "100000" },
    seed: { type: "string", default: "1" },
    first: { type: "string", default: "0" },
    only: { type: "string" },
    concurrency: { type: "string", default: "8" },
    "check-every": { type: "string", default: "1000" },
    "idle-ms": { type: "string", default: "200" },
    "memory-mib": { type: "string", default: "64" },
    "peak-mib": { type: "string", default: "1024" },
    show: { type: "boolean", default: false },
    stop: { type: "boolean", default: false },
    trace: { type: "boolean", default: false },
  },
});

/** A whole number from the command line, or exit saying which flag was wrong. */
function wholeNumber(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a whole number, not ${text}`);
    Deno.exit(2);
  }
  return value;
}

const seed = wholeNumber("seed", flags.seed);
const only = flags.only?.split(",").map((index) => wholeNumber("only", index.trim()));

const corpus = await captureCorpus();

if (flags.show) {
  // Print what the mutations send, without a server: for reading a failure's recipe.
  for (const index of only ?? [wholeNumber("first", flags.first)]) {
    const mutation = makeMutation(corpus, seed, index);
    console.log(`#${index} on ${mutation.scenario}: ${mutation.steps.join("; ")}`);
    console.log(`  hello   ${hex(frameBytes(mutation.hello))}`);
    mutation.frames.forEach(({ frame, after }, i) => {
      const bytes = hex(frameBytes([frame]));
      const shown = bytes.length > 240
        ? `${bytes.slice(0, 240)}… (${bytes.length / 2} bytes)`
        : bytes;
      console.log(`  ${String(i).padStart(3)} after ${after}: ${shown}`);
    });
  }
  Deno.exit(0);
}

const total = only?.length ?? wholeNumber("mutations", flags.mutations);
console.log(
  `fuzzing with seed ${seed}: ${total} mutations, ${flags.concurrency} at a time, ` +
    `corpus ${corpus.fingerprint} (${corpus.scenarios.length} scenarios, ${corpus.frames} frames)`,
);
const report = await runFuzz({
  seed,
  mutations: total,
  first: wholeNumber("first", flags.first),
  only,
  concurrency: wholeNumber("concurrency", flags.concurrency),
  checkEvery: wholeNumber("check-every", flags["check-every"]),
  bounds: { idleMs: wholeNumber("idle-ms", flags["idle-ms"]) },
  memoryBound: wholeNumber("memory-mib", flags["memory-mib"]) * 1024 * 1024,
  peakBound: wholeNumber("peak-mib", flags["peak-mib"]) * 1024 * 1024,
  corpus,
  keepGoing: !flags.stop,
  onOutcome: flags.trace
    ? (mutation, outcome) =>
      console.log(
        `#${mutation.index} ${mutation.scenario}: ${mutation.steps.join("; ")} → ${outcome.kind}` +
          (outcome.reason ? ` (${outcome.reason.slice(0, 120)})` : ""),
      )
    : undefined,
  onProgress: (so) => {
    const rate = Math.round(so.mutations / (so.elapsedMs / 1000 || 1));
    const kinds = Object.entries(so.outcomes).map(([kind, count]) => `${kind} ${count}`).join(", ");
    console.log(
      `[${so.mutations}/${total}] ${rate}/s | ${kinds} | rss ${mib(Deno.memoryUsage().rss)} | ` +
        `honest ${so.honestChecks} | broken ${so.failures.length} | ` +
        `stall ${so.worstStallMs.toFixed(0)} ms`,
    );
  },
});
console.log("\n" + formatReport(report));
Deno.exit(report.failures.length === 0 ? 0 : 1);

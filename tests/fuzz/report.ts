/**
 * What a run found: the {@linkcode FuzzReport} it fills as it goes, and
 * {@linkcode formatReport}, the summary bench/fuzz.ts prints and a failing
 * test shows.
 *
 * @module
 */

import type { Outcome, OutcomeKind } from "./exchange.ts";
import { MiB } from "./limits.ts";
import { normalizeReason } from "./log.ts";
import type { Mutation } from "./mutation.ts";

/** A broken promise, and the batch of mutations after which it showed. */
export interface Failure {
  /** What was wrong. */
  what: string;
  /** The first and last mutation index of the batch; null when it showed at the end. */
  batch: [number, number] | null;
}

/** What a run found. */
export interface FuzzReport {
  /** The seed. */
  seed: number;
  /** Mutations run. */
  mutations: number;
  /** Outcomes by kind. */
  outcomes: Record<OutcomeKind, number>;
  /** CLOSE reasons, normalised, with counts. */
  reasons: Map<string, number>;
  /** By mutator: its outcomes. */
  byMutator: Map<string, Record<OutcomeKind, number>>;
  /** Honest-client rounds that passed. */
  honestChecks: number;
  /** Rounds of leak and budget checks that passed. */
  leakChecks: number;
  /** Resident memory before the first mutation and after the last, after a GC, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /**
   * The JS heap and the memory of ArrayBuffers (less the send buffers the
   * pool keeps idle, `pooled`), before and after, in bytes: what tells a leak
   * (they grow) from memory the allocator keeps (only the resident size grows).
   */
  heap: [number, number];
  buffers: [number, number];
  pooled: [number, number];
  /** The most resident memory seen, sampled every 10 ms. */
  rssPeak: number;
  /** Wall time of the mutations, in milliseconds. */
  elapsedMs: number;
  /** The worst event-loop stall seen, in milliseconds (a sign of unbounded work; never asserted). */
  worstStallMs: number;
  /** The corpus fingerprint (equal fingerprints, equal mutations). */
  corpus: string;
  /** Frames in the corpus. */
  corpusFrames: number;
  /** Unhandled rejections and uncaught errors seen. */
  unhandled: string[];
  /** What the servers logged, normalised, with counts. */
  serverLog: Map<string, number>;
  /** Broken promises, in the order they showed: empty when the run passed. */
  failures: Failure[];
  /** Servers replaced after a failure (with `keepGoing`). */
  restarts: number;
  /** Calls of `hang` the servers started. */
  hangs: number;
  /** Of those, calls that started after their connection had closed. */
  lateHangs: number;
}

/** The outcome kinds, in the order a report lists them. */
const OUTCOME_KINDS: OutcomeKind[] = ["closed", "answered", "eof", "reset", "timeout", "silent"];

/** Every outcome kind, counted zero times. */
export function emptyOutcomes(): Record<OutcomeKind, number> {
  return { closed: 0, answered: 0, eof: 0, reset: 0, timeout: 0, silent: 0 };
}

/** Adds one outcome to the report. */
export function tally(report: FuzzReport, mutation: Mutation, outcome: Outcome): void {
  report.mutations++;
  report.outcomes[outcome.kind]++;
  if (outcome.reason !== null) {
    const key = normalizeReason(outcome.reason);
    report.reasons.set(key, (report.reasons.get(key) ?? 0) + 1);
  }
  for (const name of new Set(mutation.mutators)) {
    let counts = report.byMutator.get(name);
    if (!counts) report.byMutator.set(name, counts = emptyOutcomes());
    counts[outcome.kind]++;
  }
}

/** Bytes in MiB, for people. */
export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** A report as lines of text: the summary bench/fuzz.ts prints and a failing test shows. */
export function formatReport(report: FuzzReport, top = 25): string {
  const perSecond = Math.round(report.mutations / (report.elapsedMs / 1000 || 1));
  const lines = [
    `seed ${report.seed}, corpus ${report.corpus} (${report.corpusFrames} frames)`,
    `mutations ${report.mutations} in ${(report.elapsedMs / 1000).toFixed(1)} s (${perSecond}/s)`,
    `outcomes: ${OUTCOME_KINDS.map((k) => `${k} ${report.outcomes[k]}`).join(", ")}`,
    `honest-client rounds passed: ${report.honestChecks}; leak and budget checks passed: ` +
    `${report.leakChecks}; servers replaced after a failure: ${report.restarts}`,
    `hang calls: ${report.hangs} (${report.lateHangs} started after their connection closed)`,
    `resident memory: ${mib(report.rssBefore)} before, ${mib(report.rssAfter)} after, ` +
    `${mib(report.rssPeak)} at most; JS heap ${mib(report.heap[0])} → ${mib(report.heap[1])}, ` +
    `ArrayBuffers ${mib(report.buffers[0])} → ${mib(report.buffers[1])} and idle send buffers ` +
    `${mib(report.pooled[0])} → ${mib(report.pooled[1])}`,
    `worst event-loop stall: ${report.worstStallMs.toFixed(0)} ms`,
    `distinct close reasons: ${report.reasons.size}`,
  ];
  const sorted = [...report.reasons].sort((a, b) => b[1] - a[1]);
  for (const [reason, count] of sorted.slice(0, top)) {
    lines.push(`  ${String(count).padStart(7)}  ${reason}`);
  }
  if (sorted.length > top) lines.push(`  … and ${sorted.length - top} more`);
  lines.push(`by mutator (${OUTCOME_KINDS.join("/")}):`);
  for (const [name, counts] of [...report.byMutator].sort((a, b) => a[0].localeCompare(b[0]))) {
    const columns = OUTCOME_KINDS.map((k) => String(counts[k]).padStart(6)).join(" ");
    lines.push(`  ${name.padEnd(20)} ${columns}`);
  }
  const notable = [...report.serverLog]
    .filter(([line]) => !/^warn: (closing |.* is not an rdc peer|.* version mismatch)/.test(line))
    .sort((a, b) => b[1] - a[1]);
  if (notable.length > 0) {
    lines.push("server log lines other than protocol closes and refused handshakes:");
    for (const [line, count] of notable.slice(0, top)) {
      lines.push(`  ${String(count).padStart(7)}  ${line}`);
    }
  }
  lines.push(...failureLines(report));
  return lines.join("\n");
}

/** The failures, alike ones counted once, and how to replay the first. */
function failureLines(report: FuzzReport): string[] {
  if (report.failures.length === 0) return ["no promise broken"];
  const kinds = new Map<string, { first: Failure; count: number }>();
  for (const failure of report.failures) {
    const key = normalizeReason(failure.what.replace(/ \(after mutations.*$/, "")).slice(0, 80);
    const seen = kinds.get(key);
    if (seen) seen.count++;
    else kinds.set(key, { first: failure, count: 1 });
  }
  const lines = [`BROKEN PROMISES: ${report.failures.length} (${kinds.size} kinds)`];
  for (const { first, count } of kinds.values()) {
    lines.push(`  ${count}× ${first.what}`);
    if (first.batch) {
      const [from, to] = first.batch;
      lines.push(
        `     isolate it: deno task fuzz --seed ${report.seed} --first ${from} ` +
          `--mutations ${to - from + 1} --concurrency 1 --check-every 1 --stop`,
      );
    }
  }
  return lines;
}

/**
 * The bench's output: the machine description, the results table on stdout
 * and the same figures as JSON.
 *
 * @module
 */

import { round, type Spread } from "./stats.ts";

/** Where the figures were taken. */
export interface Machine {
  /** CPU model, from /proc/cpuinfo. */
  cpu: string;
  /** Logical processors. */
  cores: number;
  /** Deno, V8 and TypeScript versions. */
  deno: string;
  v8: string;
  /** Target triple. */
  target: string;
  /** 1-minute load average at the start (shared machines: a high one means noisy figures). */
  loadAverage: number;
  /** When the run started (ISO 8601). */
  date: string;
}

/** Describes this machine. */
export function machine(): Machine {
  let cpu = "unknown";
  let cores = navigator.hardwareConcurrency;
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu;
    cores = info.match(/^processor\s*:/gm)?.length ?? cores;
  } catch {
    // Not Linux: keep the defaults.
  }
  return {
    cpu,
    cores,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    target: Deno.build.target,
    loadAverage: Deno.loadavg()[0],
    date: new Date().toISOString(),
  };
}

/** One line of the table. */
export interface Row {
  /** Short id (`call`, `chain`, …). */
  id: string;
  /** What is measured. */
  scenario: string;
  /** Unit of `rdc` and `baseline` (`µs/op` or `calls/s`). */
  unit: string;
  /** The rdc figure over the rounds. */
  rdc: Spread;
  /** What the ratio is taken against. */
  baselineName: string;
  /** The baseline figure over the rounds. */
  baseline: Spread;
  /** rdc / baseline, taken round by round. */
  ratio: Spread;
  /** The goal for the median ratio. */
  target: { op: "<=" | ">="; value: number };
  /** Whether the median ratio meets the target. */
  met: boolean;
  /** Frames out/in per operation, when known. */
  frames?: string;
}

/** Renders the rows as an aligned text table. */
export function table(rows: Row[]): string {
  const header = ["scenario", "rdc", "baseline", "ratio [min-max]", "target", "met?", "frames"];
  const lines = rows.map((r) => [
    r.scenario,
    `${fmt(r.rdc.median)} ${r.unit}`,
    `${r.baselineName} ${fmt(r.baseline.median)}`,
    `${fmt(r.ratio.median)} [${fmt(r.ratio.min)}-${fmt(r.ratio.max)}]`,
    `${r.target.op === "<=" ? "≤" : "≥"} ${r.target.value}`,
    r.met ? "yes" : "NO",
    r.frames ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [render(header), render(widths.map((w) => "-".repeat(w))), ...lines.map(render)].join(
    "\n",
  );
}

/** The machine as one line. */
export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, Deno ${m.deno} (V8 ${m.v8}), ${m.target}, ` +
    `load ${m.loadAverage.toFixed(2)}, ${m.date}`;
}

function fmt(value: number): string {
  const r = round(value, 3);
  return Math.abs(r) >= 1000 ? Math.round(r).toString() : r.toString();
}

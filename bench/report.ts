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

/** One scenario's figures: per subject (a peer or "raw"), the spread over rounds. */
export interface Measured {
  /** What is measured. */
  title: string;
  /** The scenario's id, shared by the rows of a scenario that gives several figures. */
  scenario?: string;
  /** The unit of every figure. */
  unit: string;
  /** By subject name. */
  figures: Record<string, Spread>;
  /** Subjects whose measure threw, with when and what (the table says "failed"). */
  failed?: Record<string, string>;
  /** Subjects left out on purpose, with why (the table says "n/a"). */
  skipped?: Record<string, string>;
}

/** A goal: a per-round ratio (or an absolute figure) against a target. */
export interface Check {
  /** What the ratio is. */
  what: string;
  /** Its spread over rounds; undefined when a side was not measured. */
  ratio: Spread | undefined;
  /** How the median must compare with `target`; "info" has no target. */
  op: "<=" | ">=" | "info";
  /** The goal. */
  target?: number;
  /** Why there is no figure: a side's measure failed (the check is then not met). */
  failed?: string;
}

/** A scenario run once (churn, soak). */
export interface Single {
  /** The peer. */
  peer: string;
  /** What ran. */
  scenario: string;
  /** Its figures, as text. */
  figures: string;
  /** Whether it met rdc's goal; undefined for peers (no goal). */
  met: boolean | undefined;
}

/** The scenarios table, then the checks table. */
export function renderChecks(measured: Measured[], checks: Check[]): string {
  const subjects = [...new Set(measured.flatMap((m) => Object.keys(m.figures)))];
  const first = aligned(
    ["scenario", "unit", ...subjects],
    measured.map((m) => [
      m.title,
      m.unit,
      ...subjects.map((s) =>
        m.figures[s] ? fmt(m.figures[s].median) : m.failed?.[s] ? "failed" : "n/a"
      ),
    ]),
  );
  const second = aligned(
    ["check", "median [min-max]", "target", "met?"],
    checks.map((c) => [
      c.what,
      c.ratio
        ? `${fmt(c.ratio.median)} [${fmt(c.ratio.min)}-${fmt(c.ratio.max)}]`
        : c.failed
        ? "failed"
        : "n/a",
      c.op === "info" ? "" : `${c.op === "<=" ? "≤" : "≥"} ${c.target}`,
      c.op === "info" || !(c.ratio || c.failed) ? "" : met(c) ? "yes" : "NO",
    ]),
  );
  return `${first}\n\n${second}`;
}

/** Whether a check's median meets its target (false without figures or target). */
export function met(check: Check): boolean {
  if (!check.ratio || check.op === "info" || check.target === undefined) return false;
  return check.op === "<="
    ? check.ratio.median <= check.target
    : check.ratio.median >= check.target;
}

/**
 * Why cells say "failed", or "n/a" for a stated reason: one line per subject
 * and scenario; empty when there is nothing to say.
 */
export function renderNotes(measured: Measured[]): string {
  const lines: string[] = [];
  const said = new Set<string>();
  for (const m of measured) {
    const reasons = [
      ...Object.entries(m.failed ?? {}).map(([subject, why]) => [subject, `failed in ${why}`]),
      ...Object.entries(m.skipped ?? {}),
    ];
    for (const [subject, why] of reasons) {
      // The rows of one scenario share their reasons: each is said once, on the first row.
      const key = `${m.scenario ?? m.title}/${subject}`;
      if (said.has(key)) continue;
      said.add(key);
      lines.push(`- ${subject}, ${m.title}: ${why}`);
    }
  }
  return lines.join("\n");
}

/** The once-only scenarios as a table. */
export function renderSingles(singles: Single[]): string {
  return aligned(
    ["peer", "scenario", "figures", "met?"],
    singles.map((
      s,
    ) => [s.peer, s.scenario, s.figures, s.met === undefined ? "" : s.met ? "yes" : "NO"]),
  );
}

function aligned(header: string[], lines: string[][]): string {
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

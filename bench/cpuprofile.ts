/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): the functions
 * with the most self time, merged by name and location.
 *
 * ```sh
 * deno run --allow-read bench/cpuprofile.ts FILE.cpuprofile [--top 15] [--busy]
 * ```
 *
 * `--busy` leaves out `(idle)` and computes percentages of the busy time only.
 *
 * @module
 */

import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's self time. */
export interface Entry {
  /** `name  file:line`. */
  name: string;
  /** Self time in milliseconds. */
  selfMs: number;
  /** Share of the total, in percent. */
  percent: number;
}

/** Self time by function, largest first. Each sample is charged the time until the next. */
export function selfTimes(profile: Profile, busyOnly = false): Entry[] {
  const names = new Map<number, string>();
  for (const node of profile.nodes) names.set(node.id, label(node));
  const totals = new Map<string, number>();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const micros = timeDeltas[i + 1] ?? 0;
    const name = names.get(samples[i]) ?? "?";
    totals.set(name, (totals.get(name) ?? 0) + micros);
  }
  if (busyOnly) totals.delete("(idle)");
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  return [...totals.entries()]
    .map(([name, micros]) => ({ name, selfMs: micros / 1000, percent: (100 * micros) / all }))
    .sort((a, b) => b.selfMs - a.selfMs);
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || "(anonymous)";
  if (!url) return name;
  const file = url.replace(/^file:\/\/.*?\/(core|bench|tests)\//, "$1/")
    .replace(/^.*\/node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?/, "npm:")
    .replace(/^.*\/registry\.npmjs\.org\//, "npm:");
  return `${name}  ${file}:${lineNumber + 1}`;
}

if (import.meta.main) {
  const { values: flags, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { top: { type: "string", default: "15" }, busy: { type: "boolean", default: false } },
  });
  for (const file of positionals) {
    const profile = JSON.parse(await Deno.readTextFile(file)) as Profile;
    const entries = selfTimes(profile, flags.busy);
    const total = entries.reduce((a, e) => a + e.selfMs, 0);
    console.log(`${file}: ${total.toFixed(0)} ms${flags.busy ? " busy" : ""}`);
    for (const e of entries.slice(0, Number(flags.top))) {
      console.log(
        `${e.selfMs.toFixed(1).padStart(9)} ms ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`,
      );
    }
  }
}

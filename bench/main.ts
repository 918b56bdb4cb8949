/**
 * `deno task bench`: rdc's speed, each figure a ratio to a baseline measured
 * in the same run (our machines are shared and noisy; no absolute time is
 * ever judged).
 *
 * A server process (`server.ts`) offers an rdc service and a raw TCP
 * ping-pong on loopback; this process is the client. After a warm-up, each
 * round times every scenario right beside its baseline, the order of each
 * pair alternating between rounds (AB, then BA) so drift cancels; a ratio is
 * taken per pair and the median over rounds reported, with the extremes.
 *
 * Scenarios and their baselines:
 * - call: `await root.add(1, 2)` vs a raw ping-pong moving the same bytes each
 *   way (measured from `conn.stats()`); target ≤ 2.0.
 * - chain: `await root.a.b.c(1)` (one round trip) vs call; target ≤ 1.25.
 * - pipelined: `await root.inc(root.inc(root.inc(1)))` vs call; target ≤ 2.0
 *   (three unpipelined calls would be about 3).
 * - callback: the server calls a client function, vs call; target ≤ 2.5 (two
 *   round trips by nature).
 * - throughput: 10 000 concurrent `add` calls, calls/s vs raw round trips/s;
 *   target ≥ 1.0 (concurrency must beat one-at-a-time round trips).
 *
 * Options: `--rounds N` (default 21), `--batch-ms MS` per timed batch (default
 * 60), `--burst N` (default 10000), `--quick` (5 rounds of 30 ms), `--out
 * FILE` (default bench/results.json). Prints the table; writes the JSON.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect } from "../mod.ts";
import { startServer } from "./child.ts";
import { RawClient } from "./raw.ts";
import { machine, machineLine, type Row, table } from "./report.ts";
import { burst, rdcOperations, timeBatch, verify, type Wire, wire } from "./scenarios.ts";
import { ratios, round, spread } from "./stats.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "21" },
    "batch-ms": { type: "string", default: "60" },
    burst: { type: "string", default: "10000" },
    quick: { type: "boolean", default: false },
    out: { type: "string", default: new URL("./results.json", import.meta.url).pathname },
  },
});
const rounds = flags.quick ? 5 : Number(flags.rounds);
const batchMs = flags.quick ? 30 : Number(flags["batch-ms"]);
const burstSize = Number(flags.burst);

const started = performance.now();
const host = machine();
console.log(`rdc bench — ${machineLine(host)}`);

await using server = await startServer();
await using conn = await connect("127.0.0.1", server.rdcPort);
const operations = rdcOperations(conn);
await verify(operations);

// Warm-up: let both processes' JITs settle before anything is counted.
for (const [op] of Object.values(operations)) await timeBatch(op, Math.max(batchMs, 200));
await burst(conn, burstSize);

// What each operation puts on the wire; the raw ping-pong copies the call's sizes.
const wires: Record<string, Wire> = {};
for (const [id, [op]] of Object.entries(operations)) wires[id] = await wire(conn, op);
const call = wires.call;
const raw = await RawClient.open(
  server.rawPort,
  Math.round(call.bytesOut),
  Math.round(call.bytesIn),
);
await timeBatch(() => raw.roundTrip(), batchMs);

const measure: Record<string, () => Promise<number>> = {
  raw: () => timeBatch(() => raw.roundTrip(), batchMs),
  throughput: () => burst(conn, burstSize),
};
for (const [id, [op]] of Object.entries(operations)) measure[id] = () => timeBatch(op, batchMs);

/** One table row: `subject` measured right beside `base` in every round. */
interface Comparison {
  id: string;
  scenario: string;
  subject: string;
  base: string;
  baselineName: string;
  target: Row["target"];
  unit: string;
  /** Turns a base figure into the unit of the subject (µs per round trip into round trips/s). */
  convert?: (value: number) => number;
}
const comparisons: Comparison[] = [
  {
    id: "call",
    scenario: "call: root.add(1, 2)",
    subject: "call",
    base: "raw",
    baselineName: "raw ping-pong µs",
    target: { op: "<=", value: 2.0 },
    unit: "µs",
  },
  {
    id: "chain",
    scenario: "chain: root.a.b.c(1)",
    subject: "chain",
    base: "call",
    baselineName: "call µs",
    target: { op: "<=", value: 1.25 },
    unit: "µs",
  },
  {
    id: "pipelined",
    scenario: "pipelined: inc(inc(inc(1)))",
    subject: "pipelined",
    base: "call",
    baselineName: "call µs",
    target: { op: "<=", value: 2.0 },
    unit: "µs",
  },
  {
    id: "callback",
    scenario: "callback: server calls client",
    subject: "callback",
    base: "call",
    baselineName: "call µs",
    target: { op: "<=", value: 2.5 },
    unit: "µs",
  },
  {
    id: "throughput",
    scenario: `throughput: ${burstSize} concurrent add`,
    subject: "throughput",
    base: "raw",
    baselineName: "raw ping-pong/s",
    target: { op: ">=", value: 1.0 },
    unit: "calls/s",
    convert: (us) => 1e6 / us,
  },
];

// Each round measures every pair side by side, in alternating order (AB, then
// BA next round; the list of pairs reversed too), so drift cancels in the ratios.
const samples = comparisons.map(() => ({ subject: [] as number[], base: [] as number[] }));
for (let r = 0; r < rounds; r++) {
  const forward = r % 2 === 0;
  const indices = comparisons.map((_, i) => i);
  for (const i of forward ? indices : indices.reverse()) {
    const c = comparisons[i];
    let subject: number, base: number;
    if (forward) {
      subject = await measure[c.subject]();
      base = await measure[c.base]();
    } else {
      base = await measure[c.base]();
      subject = await measure[c.subject]();
    }
    samples[i].subject.push(subject);
    samples[i].base.push(c.convert ? c.convert(base) : base);
  }
}

const rows: Row[] = comparisons.map((c, i) => {
  const { subject, base } = samples[i];
  const ratio = spread(ratios(subject, base));
  const met = c.target.op === "<="
    ? ratio.median <= c.target.value
    : ratio.median >= c.target.value;
  return {
    id: c.id,
    scenario: c.scenario,
    unit: c.unit,
    rdc: spread(subject),
    baselineName: c.baselineName,
    baseline: spread(base),
    ratio,
    target: c.target,
    met,
    frames: c.id in wires ? `${wires[c.id].framesOut}/${wires[c.id].framesIn}` : undefined,
  };
});

const clientStats = conn.stats();
const serverStats = await conn.root.stats();
raw.close();
const seconds = (performance.now() - started) / 1000;

console.log(
  `${rounds} rounds, ${batchMs} ms batches, each pair measured side by side; medians over rounds.`,
);
console.log(
  `rdc call on the wire: ${call.bytesOut} B out / ${call.bytesIn} B in per call ` +
    `(the raw ping-pong moves the same).`,
);
console.log();
console.log(table(rows));
console.log();
console.log(
  `tables after the run: client exports ${clientStats.exports} imports ${clientStats.imports} ` +
    `answers ${clientStats.answers}; server exports ${serverStats.exports} ` +
    `imports ${serverStats.imports} answers ${serverStats.answers}`,
);
console.log(`${seconds.toFixed(1)} s; JSON in ${flags.out}`);

const json = {
  machine: host,
  settings: { rounds, batchMs, burst: burstSize },
  wire: wires,
  results: rows.map((r) => ({
    ...r,
    rdc: roundSpread(r.rdc),
    baseline: roundSpread(r.baseline),
    ratio: roundSpread(r.ratio),
  })),
  rounds: Object.fromEntries(comparisons.map((c, i) => [c.id, {
    rdc: samples[i].subject.map((x) => round(x)),
    baseline: samples[i].base.map((x) => round(x)),
  }])),
  tablesAfterRun: { client: clientStats, server: serverStats },
  seconds: round(seconds),
};
await Deno.writeTextFile(flags.out, JSON.stringify(json, null, 2) + "\n");

function roundSpread(s: { median: number; min: number; max: number }) {
  return { median: round(s.median), min: round(s.min), max: round(s.max) };
}

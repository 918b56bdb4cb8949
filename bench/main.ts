/**
 * `deno task bench`: rdc side by side with the physical limit (raw Deno TCP),
 * Python RPyC 5.3 and Cap'n Web, every figure judged as a ratio to a baseline
 * measured in the same run (our machines are shared and noisy; absolute times
 * alone mean little).
 *
 * Each peer (see `peer.ts`) runs its server in its own process on loopback.
 * After a warm-up, every round measures each scenario for every subject, the
 * order of the subjects alternating between rounds so drift cancels; ratios
 * are taken round by round and their median reported with the extremes.
 * Churn and soak run once, after the rounds.
 *
 * Scenarios: 1 call `add(1, 2)`; 2 chain `modules["node:path"].posix.join`;
 * 3 callback (the server calls a client function); 4 throughput (10 000
 * calls in flight); 5 bulk echo of 1 MiB and 16 MiB; 6 three dependent calls
 * over a link adding 5 ms each way; 7 churn of 100 000 remote objects; 8 soak
 * of 1 000 000 calls; 9 connect plus first call.
 *
 * Python RPyC needs Debian's `python3-rpyc` (`apt-get install python3-rpyc`);
 * without it that column says so and stays empty. Cap'n Web comes from npm.
 *
 * Options: `--rounds N` (default 11), `--batch-ms MS` (default 60), `--quick`
 * (3 rounds, smaller churn and soak), `--smoke` (one tiny round: checks that
 * every scenario runs, as the test suite does; its figures mean nothing), `--peers rpyc,capnweb` (default both),
 * `--out FILE` (default bench/results.json).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startDelayProxy } from "./delay_proxy.ts";
import type { Peer } from "./peer.ts";
import { startCapnwebPeer } from "./peers/capnweb.ts";
import { RdcPeer } from "./peers/rdc.ts";
import { startRpycPeer } from "./peers/rpyc.ts";
import { RawClient, rawConnect } from "./raw.ts";
import { type Check, type Measured, renderChecks, renderSingles, type Single } from "./report.ts";
import { machine, machineLine } from "./report.ts";
import { timeBatch, wire } from "./scenarios.ts";
import { ratios, round, spread } from "./stats.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "11" },
    "batch-ms": { type: "string", default: "60" },
    quick: { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    peers: { type: "string", default: "rpyc,capnweb" },
    out: { type: "string", default: new URL("./results.json", import.meta.url).pathname },
  },
});
const rounds = flags.smoke ? 1 : flags.quick ? 3 : Number(flags.rounds);
const batchMs = flags.smoke ? 1 : flags.quick ? 30 : Number(flags["batch-ms"]);
const CALLBACKS = flags.smoke ? 5 : 200;
const BURST = flags.smoke ? 100 : 10_000;
const MiB = 1024 * 1024;
const DELAY_MS = 5;
const CHURN = flags.smoke ? 1_000 : flags.quick ? 10_000 : 100_000;
const SOAK = flags.smoke ? 10_000 : flags.quick ? 100_000 : 1_000_000;

const started = performance.now();
const host = machine();
console.log(`rdc bench — ${machineLine(host)}`);

await using rdc = await RdcPeer.start();
const peers: Peer[] = [rdc];
const wanted = flags.peers.split(",").filter(Boolean);
const starters: Record<string, () => Promise<Peer | null>> = {
  rpyc: startRpycPeer,
  capnweb: startCapnwebPeer,
};
for (const name of wanted) {
  const start = starters[name];
  if (!start) throw new Error(`unknown peer '${name}' (known: ${Object.keys(starters)})`);
  const peer = await start();
  if (peer) peers.push(peer);
}
await using _stopPeers = {
  [Symbol.asyncDispose]: async () => {
    for (const peer of peers.slice(1)) await peer.close();
  },
};
const proxies = new Map(peers.map((p) => [p.name, startDelayProxy(p.port, DELAY_MS)]));
await using _stopProxies = {
  [Symbol.asyncDispose]: async () => {
    for (const proxy of proxies.values()) await proxy.close();
  },
};

// The raw ping-pong moves exactly the bytes an rdc call moves.
const callWire = await wire(rdc.conn, () => rdc.conn.root.add(1, 2));
const ping = await RawClient.open(
  rdc.server.rawPort,
  Math.round(callWire.bytesOut),
  Math.round(callWire.bytesIn),
);
const bulk = new Map<number, RawClient>();
for (const size of [MiB, 16 * MiB]) {
  bulk.set(size, await RawClient.open(rdc.server.rawPort, size, size));
}

/** A subject measured in a scenario: a peer, or the raw baseline. */
type Measure = () => Promise<number>;
interface Scenario {
  id: string;
  title: string;
  unit: string;
  subjects: Map<string, Measure>;
}

const echoCount = (size: number) => (flags.smoke ? 1 : size > MiB ? 3 : 10);
/** An echo's throughput: bytes through the connection (out and back) per second, in MiB. */
const mibPerSecond = (size: number) => (us: number) => (2 * size) / MiB / (us / 1e6);
const scenarios: Scenario[] = [];
const add = (id: string, title: string, unit: string, entries: [string, Measure | undefined][]) =>
  scenarios.push({
    id,
    title,
    unit,
    subjects: new Map(entries.filter((e): e is [string, Measure] => e[1] !== undefined)),
  });
const each = (make: (p: Peer) => Measure | undefined): [string, Measure | undefined][] =>
  peers.map((p) => [p.name, make(p)]);

add("call", "1 call add(1, 2)", "µs", [
  ["raw", () => timeBatch(() => ping.roundTrip(), batchMs)],
  ...each((p) => () => p.call(batchMs)),
]);
add(
  "written",
  "1 call written root.add(1, 2)",
  "µs",
  each((p) => p.callAsWritten ? () => p.callAsWritten!(batchMs) : () => p.call(batchMs)),
);
add(
  "chain",
  '2 chain modules["node:path"].posix.join',
  "µs",
  each((p) => p.chain && (() => p.chain!(batchMs))),
);
add(
  "callback",
  "3 callback: server calls client",
  "µs",
  each((p) => p.callback && (() => p.callback!(CALLBACKS))),
);
add("throughput", `4 throughput: ${BURST} calls in flight`, "calls/s", [
  ["raw", async () => 1e6 / await timeBatch(() => ping.roundTrip(), batchMs)],
  ...each((p) => p.throughput && (() => p.throughput!(BURST))),
]);
for (const size of [MiB, 16 * MiB]) {
  const toRate = mibPerSecond(size);
  add(`echo${size / MiB}`, `5 bulk echo ${size / MiB} MiB (out + back)`, "MiB/s", [
    [
      "raw",
      async () => toRate(await timeBatch(() => bulk.get(size)!.roundTrip(), 0, echoCount(size))),
    ],
    ...each((p) => p.echo && (async () => toRate(await p.echo!(size, echoCount(size))))),
  ]);
}
for (const kind of ["call", "pipelined"] as const) {
  add(
    `delayed-${kind}`,
    `6 ${kind === "call" ? "one call" : "inc(inc(inc(1)))"}, +${DELAY_MS} ms each way`,
    "µs",
    each((p) =>
      p.delayed &&
      (async () => (await p.delayed!(proxies.get(p.name)!.port, 5))[kind])
    ),
  );
}
add("connect", "9 connect + first call", "µs", [
  ["raw", () => rawConnect(rdc.server.rawPort, ping.requestSize, ping.replySize, 10)],
  ...each((p) => p.connect && (() => p.connect!(10))),
]);

// Warm-up: every measure once, so JITs and caches settle before anything counts.
for (const scenario of scenarios) for (const measure of scenario.subjects.values()) await measure();

const samples = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const scenario of r % 2 === 0 ? scenarios : [...scenarios].reverse()) {
    const subjects = [...scenario.subjects];
    for (const [name, measure] of r % 2 === 0 ? subjects : subjects.reverse()) {
      const key = `${scenario.id}/${name}`;
      samples.set(key, [...samples.get(key) ?? [], await measure()]);
    }
  }
  console.log(`round ${r + 1}/${rounds} done`);
}

const measured: Measured[] = scenarios.map((s) => ({
  title: s.title,
  unit: s.unit,
  figures: Object.fromEntries([...s.subjects.keys()].map((name) => [
    name,
    spread(samples.get(`${s.id}/${name}`)!),
  ])),
}));

/** A per-round ratio of two series; undefined when either is missing. */
const ratio = (a: string, b: string) => {
  const x = samples.get(a), y = samples.get(b);
  return x && y ? spread(ratios(x, y)) : undefined;
};
const checks: Check[] = [
  { what: "1 rdc call ÷ raw ping-pong", ratio: ratio("call/rdc", "call/raw"), op: "<=", target: 2 },
  {
    what: "1 RPyC call time ÷ rdc call time",
    ratio: ratio("call/rpyc", "call/rdc"),
    op: ">=",
    target: 8,
  },
  {
    what: "1 Cap'n Web call time ÷ rdc call time",
    ratio: ratio("call/capnweb", "call/rdc"),
    op: ">=",
    target: 1,
  },
  {
    what: "1 RPyC root.add(1, 2) as written ÷ rdc",
    ratio: ratio("written/rpyc", "written/rdc"),
    op: "info",
  },
  { what: "2 rdc chain ÷ rdc call", ratio: ratio("chain/rdc", "call/rdc"), op: "<=", target: 1.2 },
  {
    what: "3 rdc callback ÷ rdc call",
    ratio: ratio("callback/rdc", "call/rdc"),
    op: "<=",
    target: 1.5,
  },
  {
    what: "4 rdc calls/s (absolute)",
    ratio: absolute("throughput/rdc"),
    op: ">=",
    target: 100_000,
  },
  {
    what: "4 rdc calls/s ÷ RPyC calls/s",
    ratio: ratio("throughput/rdc", "throughput/rpyc"),
    op: ">=",
    target: 8,
  },
  { what: "5 rdc 1 MiB echo ÷ raw", ratio: ratio("echo1/rdc", "echo1/raw"), op: "info" },
  { what: "5 rdc 16 MiB echo ÷ raw", ratio: ratio("echo16/rdc", "echo16/raw"), op: "info" },
  {
    what: "5 rdc 16 MiB echo, MiB/s out + back (absolute)",
    ratio: absolute("echo16/rdc"),
    op: ">=",
    target: 1024,
  },
  {
    what: "6 rdc pipelined ÷ one call, 5 ms link",
    ratio: ratio("delayed-pipelined/rdc", "delayed-call/rdc"),
    op: "<=",
    target: 1.3,
  },
  {
    what: "6 RPyC pipelined ÷ one call, 5 ms link",
    ratio: ratio("delayed-pipelined/rpyc", "delayed-call/rpyc"),
    op: "info",
  },
  {
    what: "6 Cap'n Web pipelined ÷ one call, 5 ms link",
    ratio: ratio("delayed-pipelined/capnweb", "delayed-call/capnweb"),
    op: "info",
  },
  { what: "9 rdc connect + call ÷ raw", ratio: ratio("connect/rdc", "connect/raw"), op: "info" },
  { what: "9 RPyC connect + call ÷ rdc", ratio: ratio("connect/rpyc", "connect/rdc"), op: "info" },
];

/** The spread of a series itself, for absolute targets. */
function absolute(key: string) {
  const x = samples.get(key);
  return x ? spread(x) : undefined;
}

// Churn and soak: once each, after the rounds.
const singles: Single[] = [];
for (const peer of peers) {
  // The peers are much slower per object and per call: a tenth of the work keeps the run short.
  const share = peer.name === "rdc" ? 1 : 10;
  if (peer.churn) {
    const c = await peer.churn(CHURN / share);
    singles.push({
      peer: peer.name,
      scenario: `7 churn ${CHURN / share} objects`,
      figures: `exports ${c.exportsBefore} → ${c.exportsAfter}; server RSS ${mb(c.rssBefore)} → ${
        mb(c.rssAfter)
      } MB`,
      met: peer.name === "rdc" ? c.exportsAfter <= c.exportsBefore : undefined,
    });
  }
  if (peer.soak) {
    const calls = SOAK / share;
    const s = await peer.soak(calls, calls / 10);
    const growth = (s.rssEnd - s.rssWarm) / s.rssWarm;
    singles.push({
      peer: peer.name,
      scenario: `8 soak ${calls} calls`,
      figures:
        `server RSS ${mb(s.rssWarm)} → ${mb(s.rssEnd)} MB (${(growth * 100).toFixed(1)} %), ` +
        `${Math.round(s.callsPerSecond)} calls/s`,
      met: peer.name === "rdc" ? growth < 0.1 : undefined,
    });
  }
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

ping.close();
for (const client of bulk.values()) client.close();
const seconds = (performance.now() - started) / 1000;
console.log();
console.log(
  `${rounds} rounds, subjects side by side in alternating order; medians over rounds ` +
    `[min-max]. Peers: ${peers.map((p) => p.name).join(", ")}` +
    (wanted.length + 1 > peers.length
      ? ` (missing: ${wanted.filter((w) => !peers.some((p) => p.name === w)).join(", ")})`
      : ""),
);
console.log(
  `rdc call on the wire: ${callWire.bytesOut} B out / ${callWire.bytesIn} B in ` +
    `(the raw ping-pong moves the same).`,
);
console.log();
console.log(renderChecks(measured, checks));
console.log();
console.log(renderSingles(singles));
console.log(`\n${seconds.toFixed(1)} s; JSON in ${flags.out}`);

await Deno.writeTextFile(
  flags.out,
  JSON.stringify(
    {
      machine: host,
      settings: {
        rounds,
        batchMs,
        callbacks: CALLBACKS,
        burst: BURST,
        delayMs: DELAY_MS,
        churn: CHURN,
        soak: SOAK,
      },
      peers: peers.map((p) => p.name),
      wire: callWire,
      measured,
      checks,
      singles,
      rounds: Object.fromEntries([...samples].map(([k, v]) => [k, v.map((x) => round(x))])),
      seconds: round(seconds),
    },
    null,
    2,
  ) + "\n",
);

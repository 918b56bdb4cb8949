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
 * Churn and soak run once, after the rounds. A measure that throws is shown
 * as "failed" with its error under the table, and the rest of the bench runs
 * on (`rounds.ts`).
 *
 * Scenarios: 1 call `add(1, 2)`, and the same call in rdc's synchronous mode
 * (`connectSync`: the method fetched once, each call blocking); 2 chain
 * `modules["node:path"].posix.join`; 3 callback (the server calls a client
 * function); 4 throughput (10 000 calls in flight); 5 bulk echo of 1 MiB,
 * 16 MiB and 100 MB; 6 three dependent calls over a link adding 5 ms each
 * way; 7 churn of 100 000 remote objects; 8 soak of 1 000 000 calls;
 * 9 connect plus first call; 10 pings on a second connection while the first
 * pulls a table of plain rows that is about 45 MB in rdc's encoding (the
 * worst ping, the median ping and the pull's own time); its raw figure pings
 * the raw ping-pong while the bench process builds the same rows in rdc's
 * decoding slices; 11 the call over a Worker, over a MessagePort (in this
 * process) and over a loopback WebSocket, each beside the bare carrier's
 * ping-pong (`transports.ts`); 12 another client's ping during a CPU-bound
 * call on a concurrent server and on a pool of two workers (`busy.ts`);
 * 13 iterating 10 000 remote items (rdc's batched `for await`, RPyC's
 * `buffiter`) beside copying them by value; 14 a 20-chunk `ReadableStream`
 * passed to a remote reader over a link adding 25 ms each way; the 16 MiB
 * echo handed over with `transfer()` (scenario 5), beside the raw echo
 * measured again; 15 the bytes on the wire for an echo of a 1 MB repetitive
 * string, rdc with `compression: true` (zstd) and with deflate, RPyC with its
 * default zlib, and the time of that echo over loopback with each of rdc's
 * algorithms and without; 16 rdc's Python interop: `py.modules.os.getpid()`
 * from Deno beside Python's own client on the same RPyC server, and the round
 * trips of a classic connect to Python (`python_interop.ts`).
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
import type { Peer, PullResult } from "./peer.ts";
import { startCapnwebPeer } from "./peers/capnweb.ts";
import { RdcPeer } from "./peers/rdc.ts";
import { RpycPeer, startRpycPeer } from "./peers/rpyc.ts";
import { PythonInterop } from "./python_interop.ts";
import { RawClient, rawConnect, rawPull } from "./raw.ts";
import { Transports } from "./transports.ts";
import { goals } from "./goals.ts";
import { type Measured, renderChecks, renderSingles, type Single } from "./report.ts";
import { machine, machineLine, renderNotes } from "./report.ts";
import { type Measure, runRounds, type Scenario } from "./rounds.ts";
import { timeBatch, wire } from "./scenarios.ts";
import { busyPings } from "./busy.ts";
import { median, round, spread } from "./stats.ts";

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
/** The issue's big value, over today's 64 MiB frame limit; small in smoke mode. */
const BIG_ECHO = flags.smoke ? 1e6 : 100e6;
const ECHOES = [MiB, 16 * MiB, BIG_ECHO];
/** Rows whose table is about 45 MB in rdc's encoding (the bench prints the bytes it measured). */
const PULL_ROWS = flags.smoke ? 1_000 : 528_000;
const PULL = flags.smoke ? "tiny" : "45 MB";

/** Scenario 12: items iterated remotely, and how many iterations a round times. */
const ITEMS = flags.smoke ? 100 : 10_000;
const ITERATIONS = flags.smoke ? 1 : 5;
/** Scenario 13: a stream of 1 KiB chunks over a link that adds this much each way. */
const STREAM_CHUNKS = 20;
const STREAM_DELAY_MS = 25;
const STREAM_COUNT = flags.smoke ? 1 : 3;
/** Scenario 14: a string of about 1 MB that compresses well. */
/** Echoes of the repetitive string a compression timing takes. */
const TEXT_ECHOES = flags.smoke ? 1 : 5;
const REPETITIVE = "All work and no play makes Jack a dull boy. ".repeat(
  flags.smoke ? 100 : 22_728,
);

const started = performance.now();
const host = machine();
console.log(`rdc bench — ${machineLine(host)}`);

await using rdc = await RdcPeer.start();
// The big values (the 100 MB echo, raw and rdc, and the table pull) go to a
// server process of their own: the memory they leave behind, which V8 gives
// back late, would otherwise weigh on the main server's churn and soak figures.
await using rdcBig = await RdcPeer.start();
/** The peer a big-value scenario measures in place of `p`. */
const big = (p: Peer): Peer => p === rdc ? rdcBig : p;
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
const streamProxies = new Map(
  peers.map((p) => [p.name, startDelayProxy(p.port, STREAM_DELAY_MS)]),
);
await using _stopProxies = {
  [Symbol.asyncDispose]: async () => {
    for (const proxy of [...proxies.values(), ...streamProxies.values()]) await proxy.close();
  },
};

// The raw ping-pong moves exactly the bytes an rdc call moves.
const callWire = await wire(rdc.conn, () => rdc.conn.root.add(1, 2));
const ping = await RawClient.open(
  rdc.server.rawPort,
  Math.round(callWire.bytesOut),
  Math.round(callWire.bytesIn),
);
await using transports = await Transports.open(rdc.server.wsPort, rdc.server.rawWsPort);
const bulk = new Map<number, RawClient>();
for (const size of ECHOES) {
  const server = size === BIG_ECHO ? rdcBig.server : rdc.server;
  bulk.set(size, await RawClient.open(server.rawPort, size, size));
}
const freshEcho = await RawClient.open(rdcBig.server.rawPort, BIG_ECHO, BIG_ECHO, true);

const echoCount = (size: number) => (flags.smoke ? 1 : size > 16 * MiB ? 2 : size > MiB ? 3 : 10);
/** An echo's throughput: bytes through the connection (out and back) per second, in MiB. */
const mibPerSecond = (size: number) => (us: number) => (2 * size) / MiB / (us / 1e6);
/** "16 MiB", "100 MB": binary sizes by their MiB, the issue's decimal ones by their MB. */
const sizeLabel = (size: number) => size % MiB === 0 ? `${size / MiB} MiB` : `${size / 1e6} MB`;
const echoId = (size: number) => `echo${sizeLabel(size).replace(" MiB", "").replace(" ", "")}`;
const scenarios: Scenario[] = [];
const add = (
  id: string,
  title: string,
  unit: string,
  entries: [string, Measure | undefined][],
  skipped = new Map<string, string>(),
) =>
  scenarios.push({
    rows: [{ id, title, unit }],
    subjects: new Map(entries.filter((e): e is [string, Measure] => e[1] !== undefined)),
    skipped,
  });
const each = (make: (p: Peer) => Measure | undefined): [string, Measure | undefined][] =>
  peers.map((p) => [p.name, make(p)]);
/** A pull's figures as samples; the pings' count and the table's bytes go to the JSON only. */
const pullSamples = (r: PullResult): Record<string, number> => ({
  "pull-worst": r.worstPingMs,
  "pull-median": r.medianPingMs,
  "pull": r.pullMs,
  "pull-pings": r.pings,
  ...(r.bytes === undefined ? {} : { "pull-bytes": r.bytes }),
});

add("call", "1 call add(1, 2)", "µs", [
  ["raw", () => timeBatch(() => ping.roundTrip(), batchMs)],
  ...each((p) => () => p.call(batchMs)),
]);
// Measured right beside the async call, in the same rounds: the goal is their ratio.
add("call-sync", "1 sync call add(1, 2), method fetched once", "µs", [
  ["rdc", () => rdc.syncCall(batchMs)],
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
/** The raw echo of `size` bytes, measured: MiB/s out and back. */
const rawEcho = (size: number) => async () =>
  mibPerSecond(size)(await timeBatch(() => bulk.get(size)!.roundTrip(), 0, echoCount(size)));
for (const size of ECHOES) {
  const toRate = mibPerSecond(size);
  const skipped = new Map(
    peers.flatMap((p) => p.echo && p.echoSkip?.(size) ? [[p.name, p.echoSkip(size)!]] : []),
  );
  add(echoId(size), `5 bulk echo ${sizeLabel(size)} (out + back)`, "MiB/s", [
    ["raw", rawEcho(size)],
    ...each((p) =>
      p.echo && !skipped.has(p.name)
        ? (async () => toRate(await (size === BIG_ECHO ? big(p) : p).echo!(size, echoCount(size))))
        : undefined
    ),
  ], skipped);
}
// The floor of a value echo: the raw echo, but with the memory every value send and receive needs.
add(
  `${echoId(BIG_ECHO)}-fresh`,
  `5 bulk echo ${sizeLabel(BIG_ECHO)}, raw with fresh buffers each way`,
  "MiB/s",
  [[
    "raw",
    async () =>
      mibPerSecond(BIG_ECHO)(await timeBatch(() => freshEcho.roundTrip(), 0, echoCount(BIG_ECHO))),
  ]],
);
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
// Bulk data (issue 14): batched iteration, streams over a slow link, transfer, compression.
add("iterate", `13 iterate ${ITEMS} remote items`, "µs", [
  ...each((p) => p.iterate && (() => p.iterate!(ITEMS, ITERATIONS))),
]);
add("iterate-copy", `13 the same ${ITEMS} items copied by value`, "µs", [
  ["rdc", () => rdc.copyItems(ITEMS, ITERATIONS)],
]);
add(
  "stream",
  `14 ${STREAM_CHUNKS}-chunk stream to a remote reader, +${STREAM_DELAY_MS} ms each way`,
  "µs",
  each((p) =>
    p.streamDelayed &&
    (() => p.streamDelayed!(streamProxies.get(p.name)!.port, STREAM_CHUNKS, STREAM_COUNT))
  ),
);
// Its raw echo is measured again beside it: the echo before it, several scenarios earlier, saw
// other peers' servers (their garbage, their 16 MiB echoes) busy on the same two cores.
add(`${echoId(16 * MiB)}-transfer`, "5 bulk echo 16 MiB, handed over with transfer()", "MiB/s", [
  ["raw", rawEcho(16 * MiB)],
  [
    "rdc",
    async () => mibPerSecond(16 * MiB)(await rdc.echoTransfer(16 * MiB, echoCount(16 * MiB))),
  ],
]);
add(
  "wire-text",
  `15 bytes on the wire: echo of a ${sizeLabel(REPETITIVE.length)} repetitive string`,
  "B",
  [
    ...each((p) => p.wireBytes && (() => p.wireBytes!(REPETITIVE))),
  ],
);
// Both algorithms rdc compresses with, on the same text: the bytes each saves, the time each costs.
add("wire-text-deflate", "15 bytes on the wire, the same echo with deflate", "B", [
  ["rdc", () => rdc.wireBytes(REPETITIVE, "deflate")],
]);
for (const compression of [false, "deflate", "zstd"] as const) {
  add(
    `text-echo-${compression || "off"}`,
    `15 echo of the same string over loopback, compression ${compression || "off"}`,
    "µs",
    [["rdc", () => rdc.textEcho(REPETITIVE, compression, TEXT_ECHOES)]],
  );
}
// 16: rdc's Python interop on the RPyC peer's own classic server, beside Python's client.
const rpycPeer = peers.find((p): p is RpycPeer => p instanceof RpycPeer);
await using interop = rpycPeer
  ? await PythonInterop.open(rpycPeer.port, rpycPeer.version)
  : undefined;
if (rpycPeer && interop) {
  add("py-getpid", "16 os.getpid() on a Python classic server", "µs", [
    ["deno", () => interop.getpid(batchMs)],
    ["rpyc", () => rpycPeer.getpid(batchMs)],
  ]);
  add("py-connect", "16 classic connect to Python, round trips", "requests", [
    ["deno", () => interop.connectRoundTrips()],
  ]);
}
add("connect", "9 connect + first call", "µs", [
  ["raw", () => rawConnect(rdc.server.rawPort, ping.requestSize, ping.replySize, 10)],
  ...each((p) => p.connect && (() => p.connect!(10))),
]);

add(
  "pull-worst",
  `10 worst ping on a 2nd connection during a ${PULL} pull`,
  "ms",
  [
    ["raw", async () => pullSamples(await rawPull(ping, PULL_ROWS))],
    ...each((p) => p.pull && (async () => pullSamples(await big(p).pull!(PULL_ROWS)))),
  ],
);
scenarios.at(-1)!.rows.push(
  { id: "pull-median", title: "10 median ping during the pull", unit: "ms" },
  { id: "pull", title: `10 the ${PULL} pull itself (${PULL_ROWS} rows)`, unit: "ms" },
);
for (
  const [id, title, pair] of [
    ["worker", "11 call over a Worker", transports.worker],
    ["port", "11 call over a MessagePort, in this process", transports.port],
    ["websocket", "11 call over a loopback WebSocket", transports.webSocket],
  ] as const
) {
  add(id, title, "µs", [["raw", () => pair.raw(batchMs)], ["rdc", () => pair.rdc(batchMs)]]);
}

const { samples, failures } = await runRounds(
  scenarios,
  rounds,
  (done) => console.log(`round ${done}/${rounds} done`),
);

const measured: Measured[] = scenarios.flatMap((s) =>
  s.rows.map((row) => {
    const names = [...s.subjects.keys()].filter((name) => samples.has(`${row.id}/${name}`));
    const failed = Object.fromEntries(
      peers.map((p) => p.name).concat("raw").flatMap((name) => {
        const why = failures.get(`${row.id}/${name}`);
        return why ? [[name, why]] : [];
      }),
    );
    return {
      title: row.title,
      scenario: s.rows[0].id,
      unit: row.unit,
      figures: Object.fromEntries(names.map((n) => [n, spread(samples.get(`${row.id}/${n}`)!)])),
      ...(Object.keys(failed).length ? { failed } : {}),
      ...(s.skipped.size ? { skipped: Object.fromEntries(s.skipped) } : {}),
    };
  })
);

const checks = goals({ samples, failures }, {
  bigEcho: { id: echoId(BIG_ECHO), label: sizeLabel(BIG_ECHO) },
  pull: PULL,
});

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

// A busy call on a concurrent server and on a pool: once, after the rounds (it costs seconds).
singles.push(await busyPings(flags.smoke ? 100 : 1_000, flags.smoke ? 1 : 5));

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

ping.close();
for (const client of bulk.values()) client.close();
freshEcho.close();
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
console.log(
  `rdc call request bytes: Worker ${transports.requestBytes.worker}, MessagePort ` +
    `${transports.requestBytes.port}, WebSocket ${transports.requestBytes.webSocket} ` +
    `(each bare ping-pong echoes a byte array of that size).`,
);
const pullBytes = samples.get("pull-bytes/rdc");
if (pullBytes) {
  console.log(
    `the pulled table: ${PULL_ROWS} rows, ${(median(pullBytes) / 1e6).toFixed(1)} MB on rdc's ` +
      `wire; pings per pull (median): ` +
      peers.filter((p) => samples.has(`pull-pings/${p.name}`))
        .map((p) => `${p.name} ${median(samples.get(`pull-pings/${p.name}`)!)}`).join(", "),
  );
}
console.log();
console.log(renderChecks(measured, checks));
const notes = renderNotes(measured);
if (notes) console.log(`\n${notes}`);
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
        echoes: ECHOES,
        pullRows: PULL_ROWS,
      },
      peers: peers.map((p) => p.name),
      wire: callWire,
      transportRequestBytes: transports.requestBytes,
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

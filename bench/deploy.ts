/**
 * `deno task bench:deploy`: zero-deploy start-up, rdc against RPyC, to the
 * same throw-away OpenSSH sshd on loopback in the same run.
 *
 * Each round times what a user waits for: from `SshMachine.connect` to the
 * first classic call answered (the remote pid), then closes everything.
 * - rdc warm: the host's cache already holds the bundle (nothing uploaded);
 * - rdc cold: the host's cache was emptied first (the bundle is uploaded);
 *   the local bundle cache stays warm, as it is after a first deployment of
 *   this version of the code;
 * - RPyC: Debian's python3-rpyc `DeployedServer` over python3-plumbum's
 *   `SshMachine` (OpenSSH's client), driven by /usr/bin/python3
 *   (`deploy_rpyc.py`); it copies its package every time, so it has no
 *   warm case. Skipped, with a message, without plumbum or rpyc.
 *
 * - rdc fleet: `MultiServerDeployment` to 20 warm hosts (20 sshd on
 *   loopback, default concurrency), to the first classic call on each,
 *   against one warm host; rounds interleaved, the median of per-round ratios.
 *
 * Where the time goes: the warm rounds' phases (SSH connect and
 * authentication; the bootstrap, from the exec to the server's READY; the
 * tunnel, rdc handshake and first call), and the fleet rounds' CPU per host,
 * this process's against the "remote" side's (the sessions' sshd, shell and
 * Deno server, which here share this machine's cores: on a real fleet each
 * host pays its own).
 *
 * Targets (issue 5): warm ≤ 250 ms and ≥ 5× faster than RPyC; cold ≤ 2× warm.
 * Issue 17: 20 warm hosts ≤ 3× one warm host on this 2-core machine.
 *
 * @module
 */

import { DeployedServer, MultiServerDeployment, SshMachine } from "../deploy/mod.ts";
import { Sshd } from "../tests/_sshd.ts";
import process from "node:process";
import { poll } from "../tests/_cli.ts";
import { median, ratios, round, spread } from "./stats.ts";

const WARM_ROUNDS = 10;
const COLD_ROUNDS = 5;
const RPYC_ROUNDS = 5;
const FLEET_SIZE = 20;
const FLEET_ROUNDS = 5;
const PYTHON = "/usr/bin/python3";
const RPYC_DRIVER = new URL("./deploy_rpyc.py", import.meta.url).pathname;

/** One rdc round's milliseconds: in all, and per phase. */
interface Phases {
  total: number;
  /** `SshMachine.connect`: TCP, key exchange, host key check, authentication. */
  connect: number;
  /** `DeployedServer.start`: the exec, the cache check, the server's start-up to READY. */
  start: number;
  /** The stream-local channel, the rdc handshake and the first classic call. */
  firstCall: number;
}

/** One rdc round: connect, deploy, first classic call. */
async function rdcRound(sshd: Sshd): Promise<Phases> {
  const start = performance.now();
  await using machine = await SshMachine.connect(sshd.machineOptions());
  const connected = performance.now();
  await using server = await DeployedServer.start(machine, { progress: false });
  const started = performance.now();
  const conn = await server.classicConnect();
  const pid = await conn.globals.Deno.pid;
  const end = performance.now();
  if (typeof pid !== "number") throw new Error(`unexpected remote pid ${pid}`);
  return {
    total: end - start,
    connect: connected - start,
    start: started - connected,
    firstCall: end - started,
  };
}

/** One fleet round: deploy to every host, first classic call on each; milliseconds. */
async function fleetRound(fleet: readonly Sshd[]): Promise<number> {
  const start = performance.now();
  await using deployment = await MultiServerDeployment.start(
    fleet.map((sshd) => sshd.machineOptions()),
    { progress: false },
  );
  const failure = deployment.failures[0];
  if (failure) throw new Error(`${failure.host}: ${failure.error.message}`);
  const conns = await deployment.classicConnectAll();
  await Promise.all(conns.map((conn) => conn.globals.Deno.pid));
  return performance.now() - start;
}

/** What a round of `fleet` cost in CPU, per host: this process's and the sessions'. */
async function cpuPerHost(
  fleet: readonly Sshd[],
  round: () => Promise<void>,
): Promise<{ local: number; remote: number }> {
  // A session's CPU is counted once sshd has reaped it: wait for every session to end.
  const sessionsCpu = async () => {
    await poll(
      async () => (await Promise.all(fleet.map((sshd) => sshd.sessionPids()))).flat().length === 0,
      10_000,
      () => "the sessions did not end",
    );
    return (await Promise.all(fleet.map((sshd) => sshd.sessionsCpuMs()))).reduce((a, b) => a + b);
  };
  const remoteBefore = await sessionsCpu();
  const localBefore = process.cpuUsage();
  await round();
  const local = process.cpuUsage(localBefore);
  return {
    local: (local.user + local.system) / 1000 / fleet.length,
    remote: (await sessionsCpu() - remoteBefore) / fleet.length,
  };
}

/** The fleet rounds' figures: wall time, and CPU per host of the fleet rounds. */
interface FleetFigures {
  one: number[];
  fleet: number[];
  localCpu: number[];
  remoteCpu: number[];
}

/** Warm one host against `FLEET_SIZE` hosts, interleaved; each round's figures. */
async function fleetRounds(): Promise<FleetFigures> {
  const fleet = await Promise.all(Array.from({ length: FLEET_SIZE }, () => Sshd.start()));
  try {
    await fleetRound(fleet); // fills every host's cache, untimed
    const figures: FleetFigures = { one: [], fleet: [], localCpu: [], remoteCpu: [] };
    for (let round = 0; round < FLEET_ROUNDS; round++) {
      figures.one.push((await rdcRound(fleet[0]!)).total);
      const cpu = await cpuPerHost(fleet, async () => {
        figures.fleet.push(await fleetRound(fleet));
      });
      figures.localCpu.push(cpu.local);
      figures.remoteCpu.push(cpu.remote);
    }
    return figures;
  } finally {
    await Promise.all(fleet.map((sshd) => sshd[Symbol.asyncDispose]()));
  }
}

/** RPyC's rounds, or null (with a message) when /usr/bin/python3 lacks plumbum or rpyc. */
async function rpycRounds(sshd: Sshd): Promise<number[] | null> {
  const probe = await new Deno.Command(PYTHON, {
    args: ["-c", "import plumbum, rpyc"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (!probe?.success) {
    console.log(
      `rpyc: skipped, ${PYTHON} cannot import plumbum and rpyc ` +
        "(apt-get install python3-plumbum python3-rpyc)",
    );
    return null;
  }
  const { success, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: [
      RPYC_DRIVER,
      "127.0.0.1",
      String(sshd.port),
      sshd.user,
      sshd.identity,
      sshd.knownHosts,
      String(RPYC_ROUNDS),
    ],
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  if (!success) throw new Error(`RPyC's DeployedServer failed: ${text.decode(stderr)}`);
  return text.decode(stdout).trim().split("\n").map((line) => JSON.parse(line).ms as number);
}

function ms(values: readonly number[]): string {
  const { median, min, max } = spread(values);
  return `${round(median)} ms (${round(min)}–${round(max)})`;
}

if (import.meta.main) {
  await using sshd = await Sshd.start();
  console.log(
    `zero-deploy start-up to a loopback sshd (${Deno.build.target}, Deno ${Deno.version.deno})`,
  );
  await rdcRound(sshd); // builds the local bundle once, untimed
  const warmPhases: Phases[] = [];
  const cold: number[] = [];
  for (let round = 0; round < Math.max(WARM_ROUNDS, COLD_ROUNDS); round++) {
    if (round < COLD_ROUNDS) {
      await Deno.remove(sshd.remoteCache, { recursive: true });
      cold.push((await rdcRound(sshd)).total);
    }
    warmPhases.push(await rdcRound(sshd));
  }
  const warm = warmPhases.map((phases) => phases.total);
  const phase = (name: keyof Phases) => round(median(warmPhases.map((phases) => phases[name])));
  const rpyc = await rpycRounds(sshd);
  const fleet = await fleetRounds();
  const fleetRatio = median(ratios(fleet.fleet, fleet.one));

  const warmMs = median(warm);
  const rows = [
    ["SshMachine.connect → first classic call", "median (min–max)", "ratio"],
    ["rdc, warm (bundle cached on the host)", ms(warm), "1"],
    [
      "rdc, cold (bundle uploaded)",
      ms(cold),
      `cold/warm ${round(median(cold) / warmMs)}× (target ≤ 2×)`,
    ],
    ...(rpyc
      ? [[
        "RPyC DeployedServer (copies every time)",
        ms(rpyc),
        `RPyC/rdc warm ${round(median(rpyc) / warmMs)}× (target ≥ 5×)`,
      ]]
      : []),
    [
      `rdc fleet, ${FLEET_SIZE} warm hosts (one round: all of them)`,
      ms(fleet.fleet),
      `fleet/one warm host ${round(fleetRatio)}× (target ≤ 3×; one: ${ms(fleet.one)})`,
    ],
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  console.log("");
  console.log(line(rows[0]!));
  console.log(line(widths.map((width) => "-".repeat(width))));
  for (const row of rows.slice(1)) console.log(line(row));
  console.log("");
  console.log(`warm target ≤ 250 ms: ${warmMs <= 250 ? "met" : "missed"} (${round(warmMs)} ms)`);
  console.log(
    `fleet target ≤ 3× one host: ${fleetRatio <= 3 ? "met" : "missed"} (${round(fleetRatio)}×)`,
  );
  console.log(
    `one warm host, medians: SSH connect ${phase("connect")} ms, start to READY ` +
      `${phase("start")} ms, tunnel + handshake + first call ${phase("firstCall")} ms`,
  );
  console.log(
    `fleet CPU per host, medians: this process ${round(median(fleet.localCpu))} ms, ` +
      `the host's sessions (sshd, shell, Deno server) ${round(median(fleet.remoteCpu))} ms ` +
      `(load average ${Deno.loadavg().map((load) => round(load, 2)).join(" ")})`,
  );
}

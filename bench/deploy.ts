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
 * Targets (issue 5): warm ≤ 250 ms and ≥ 5× faster than RPyC; cold ≤ 2× warm.
 * Issue 17: 20 warm hosts ≤ 3× one warm host on this 2-core machine.
 *
 * @module
 */

import { DeployedServer, MultiServerDeployment, SshMachine } from "../deploy/mod.ts";
import { Sshd } from "../tests/_sshd.ts";
import { median, ratios, round, spread } from "./stats.ts";

const WARM_ROUNDS = 10;
const COLD_ROUNDS = 5;
const RPYC_ROUNDS = 5;
const FLEET_SIZE = 20;
const FLEET_ROUNDS = 5;
const PYTHON = "/usr/bin/python3";
const RPYC_DRIVER = new URL("./deploy_rpyc.py", import.meta.url).pathname;

/** One rdc round: connect, deploy, first classic call; milliseconds. */
async function rdcRound(sshd: Sshd): Promise<number> {
  const start = performance.now();
  await using machine = await SshMachine.connect(sshd.machineOptions());
  await using server = await DeployedServer.start(machine, { progress: false });
  const conn = await server.classicConnect();
  const pid = await conn.globals.Deno.pid;
  const elapsed = performance.now() - start;
  if (typeof pid !== "number") throw new Error(`unexpected remote pid ${pid}`);
  return elapsed;
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

/** Warm one host against `FLEET_SIZE` hosts, interleaved; each round's figures. */
async function fleetRounds(): Promise<{ one: number[]; fleet: number[] }> {
  const fleet = await Promise.all(Array.from({ length: FLEET_SIZE }, () => Sshd.start()));
  try {
    await fleetRound(fleet); // fills every host's cache, untimed
    const one: number[] = [];
    const many: number[] = [];
    for (let round = 0; round < FLEET_ROUNDS; round++) {
      one.push(await rdcRound(fleet[0]!));
      many.push(await fleetRound(fleet));
    }
    return { one, fleet: many };
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
  const warm: number[] = [];
  const cold: number[] = [];
  for (let round = 0; round < Math.max(WARM_ROUNDS, COLD_ROUNDS); round++) {
    if (round < COLD_ROUNDS) {
      await Deno.remove(sshd.remoteCache, { recursive: true });
      cold.push(await rdcRound(sshd));
    }
    warm.push(await rdcRound(sshd));
  }
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
}

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
 * Targets (issue 5): warm ≤ 250 ms and ≥ 5× faster than RPyC; cold ≤ 2× warm.
 *
 * @module
 */

import { DeployedServer, SshMachine } from "../deploy/mod.ts";
import { Sshd } from "../tests/_sshd.ts";
import { median, round, spread } from "./stats.ts";

const WARM_ROUNDS = 10;
const COLD_ROUNDS = 5;
const RPYC_ROUNDS = 5;
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
}

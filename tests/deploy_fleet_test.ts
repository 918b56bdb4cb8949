/**
 * Fleet-scale deployment: `MultiServerDeployment.start(hosts, {concurrency})`
 * against 20 throw-away sshd instances on loopback (plus a host that refuses
 * connections and one whose key is unknown), per-host results with typed
 * errors, nothing left on any host after `close()`, and `rdc deploy` with
 * several hosts. The parts that need no sshd: bounded concurrency, and the
 * per-host progress lines.
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { HostKeyError, MultiServerDeployment, SshConnectError } from "../deploy/mod.ts";
import { FleetBoard } from "../deploy/fleet_board.ts";
import { settleBounded } from "../deploy/settle_bounded.ts";
import { RDC, RdcProcess } from "./_cli.ts";
import { HAVE_TMUX, Terminal } from "./_terminal.ts";
import { Sshd, sshdTest } from "./_sshd.ts";

const FLEET_SIZE = 20;
const CONCURRENCY = 6;

Deno.test("settleBounded: never more than `concurrency` at once, each outcome in order", async () => {
  let running = 0;
  let most = 0;
  const results = await settleBounded([...Array(12).keys()], 3, async (n) => {
    most = Math.max(most, ++running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running--;
    if (n % 5 === 0) throw new Error(`task ${n} failed`);
    return n * 2;
  });
  assert.equal(most, 3);
  assert.deepEqual(
    results.map((r) => r.status === "fulfilled" ? r.value : (r.reason as Error).message),
    ["task 0 failed", 2, 4, 6, 8, "task 5 failed", 12, 14, 16, 18, "task 10 failed", 22],
  );
  await assert.rejects(settleBounded([1], 0, async () => {}), /whole number from 1 up, not 0/);
});

Deno.test("FleetBoard: one line per host, redrawn in place on a terminal; silent elsewhere", () => {
  const written: string[] = [];
  const board = new FleetBoard(["a@h1", "me@host-2"], (text) => written.push(text), true, 40);
  board.set(1, "deploying");
  board.set(0, "failed", "connection refused");
  board.set(0, "failed", "connection refused by the host"); // cut to the width: no wrap
  board.done();
  assert.deepEqual(written, [
    "\r\x1b[2Ka@h1       waiting\n\r\x1b[2Kme@host-2  waiting\n",
    "\x1b[2A\r\x1b[2Ka@h1       waiting\n\r\x1b[2Kme@host-2  deploying\n",
    "\x1b[2A\r\x1b[2Ka@h1       failed connection refused\n\r\x1b[2Kme@host-2  deploying\n",
    "\x1b[2A\r\x1b[2Ka@h1       failed connection refused b…\n\r\x1b[2Kme@host-2  deploying\n",
  ]);
  const silent: string[] = [];
  new FleetBoard(["a@h1"], (text) => silent.push(text), false).set(0, "ready");
  assert.deepEqual(silent, []);
});

/** A loopback port nothing listens on (a host that refuses connections). */
function closedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

sshdTest(`MultiServerDeployment: ${FLEET_SIZE} hosts, ${CONCURRENCY} at a time`, async (t) => {
  const started = await Promise.allSettled(
    Array.from({ length: FLEET_SIZE }, () => Sshd.start()),
  );
  const fleet = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  try {
    assert.equal(fleet.length, FLEET_SIZE, String(started.find((r) => r.status === "rejected")));
    const refused = `${fleet[0]!.user}@127.0.0.1:${closedPort()}`;

    await t.step("per-host results; a refusing host and an unknown key fail alone", async () => {
      const targets = [
        ...fleet.map((sshd) => sshd.machineOptions()),
        { ...fleet[0]!.machineOptions(), host: refused },
        fleet[1]!.machineOptions({ knownHostsFiles: [] }),
      ];
      await using deployment = await MultiServerDeployment.start(targets, {
        concurrency: CONCURRENCY,
        progress: false,
      });
      const statuses = deployment.results.map((r) => r.status);
      assert.deepEqual(statuses, [...Array(FLEET_SIZE).fill("fulfilled"), "rejected", "rejected"]);
      const [unreachable, unknownKey] = deployment.failures;
      assert.equal(unreachable!.host, refused);
      assert.ok(unreachable!.error instanceof SshConnectError, String(unreachable!.error));
      assert.equal(unreachable!.error.reason, "refused");
      assert.ok(unknownKey!.error instanceof HostKeyError, String(unknownKey!.error));
      assert.equal(unknownKey!.error.problem, "unknown");

      const conns = await deployment.classicConnectAll();
      const homes = await Promise.all(conns.map((conn) => conn.eval("Deno.env.get('HOME')")));
      assert.deepEqual(homes, fleet.map((sshd) => sshd.home));
      const sessions = deployment.servers.map((server) => basename(server.socketPath, ".sock"));
      await deployment.close();
      const leftovers = await Promise.all(fleet.map((sshd, i) => sshd.leftovers(sessions[i]!)));
      assert.deepEqual(leftovers.flat(), [], "close() leaves no process or file on any host");
    });

    await t.step(
      "rdc deploy HOST... -e CODE: one line per host, exit 1 if one failed",
      async () => {
        const [a, b] = fleet;
        // A local HOME whose one key logs in to both hosts, which it knows.
        const home = join(a!.dir, "fleet_home");
        await Deno.mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
        await Deno.copyFile(a!.identity, join(home, ".ssh", "id_ed25519"));
        await Deno.copyFile(join(a!.dir, "authorized_keys"), join(b!.dir, "authorized_keys"));
        await Deno.writeTextFile(
          join(home, ".ssh", "known_hosts"),
          `${await a!.knownHostsLine()}\n${await b!.knownHostsLine()}\n`,
        );
        const realHome = Deno.env.get("HOME")!;
        const env = [
          "env",
          `HOME=${home}`,
          "SSH_AUTH_SOCK=",
          `DENO_DIR=${Deno.env.get("DENO_DIR") ?? join(realHome, ".cache", "deno")}`,
          `XDG_CACHE_HOME=${Deno.env.get("XDG_CACHE_HOME") ?? join(realHome, ".cache")}`,
        ];
        const args = [
          "deploy",
          a!.target,
          refused,
          b!.target,
          "-c",
          "2",
          "-e",
          "Deno.env.get('HOME')",
        ];
        await using rdc = new RdcProcess([...RDC, ...args], { command: env });
        assert.equal((await rdc.wait()).code, 1, rdc.output());
        assert.equal(rdc.stdout, `${a!.target}: ${a!.home}\n${b!.target}: ${b!.home}\n`);
        assert.match(
          rdc.stderr,
          new RegExp(`^${refused.replaceAll(".", "\\.")}: error: cannot connect to .*refused`, "m"),
        );
        assert.doesNotMatch(rdc.stderr, /waiting|deploying/, "no progress lines off a terminal");

        // On a terminal: one progress line per host, then the results.
        assert.ok(HAVE_TMUX || Deno.env.get("CI") !== "true", "tmux is required (CI=true)");
        if (!HAVE_TMUX) return console.warn("tmux is not installed: no terminal check");
        await using terminal = new Terminal();
        await terminal.start([...env, ...RDC, ...args]);
        const line = (host: string, state: string) =>
          new RegExp(`^${host.replaceAll(".", "\\.")} +${state}`, "m");
        // The results come last (the exit status was checked above: tmux may mark the pane dead
        // before it reaps the process, and then never shows a status).
        for (const target of [a!.target, refused, b!.target]) {
          await terminal.expect(new RegExp(`^${target.replaceAll(".", "\\.")}: `, "m"));
        }
        const shown = await terminal.history();
        assert.match(shown, line(a!.target, "ready \\(\\d+ ms\\)"));
        assert.match(shown, line(refused, "failed cannot connect"));
        assert.match(shown, line(b!.target, "ready \\(\\d+ ms\\)"));
        const states = shown.match(/^\S+ +(waiting|connecting|deploying|ready|failed)\b/gm);
        assert.equal(states?.length, 3, `one line per host, redrawn in place:\n${shown}`);
        assert.match(shown, new RegExp(`^${a!.target.replaceAll(".", "\\.")}: ${a!.home}$`, "m"));
      },
    );
  } finally {
    await Promise.all(fleet.map((sshd) => sshd[Symbol.asyncDispose]()));
  }
});

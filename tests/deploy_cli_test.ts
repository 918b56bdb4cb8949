/**
 * `rdc deploy` as users run it, against a real sshd on loopback, with a
 * HOME of the test's own: ~/.ssh/config (an alias), the default identity
 * ~/.ssh/id_ed25519 and ~/.ssh/known_hosts. --eval, the REPL (its stdin
 * piped), host key and authentication failures, usage mistakes, and a
 * client killed with SIGKILL leaving nothing behind on the host.
 */

import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { basename, join } from "node:path";
import { isAlive, poll, RDC, RdcProcess, runRdc, WAIT_MS } from "./_cli.ts";
import { keygen, Sshd, sshdTest } from "./_sshd.ts";

/** A local HOME whose ~/.ssh reaches `sshd` as the alias `box`. */
async function localHome(sshd: Sshd): Promise<string> {
  const home = join(sshd.dir, "local_home");
  await Deno.mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  await Deno.copyFile(sshd.identity, join(home, ".ssh", "id_ed25519"));
  await Deno.writeTextFile(
    join(home, ".ssh", "config"),
    `Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${sshd.user}\n`,
  );
  return home;
}

/**
 * `command` (default: `rdc`) with HOME=`home`, no agent, and this machine's
 * Deno and rdc caches (a fresh HOME would otherwise mean fresh caches).
 */
function atHome(
  home: string,
  args: string[],
  stdin: "null" | "piped" = "null",
  command: string[] = RDC,
): RdcProcess {
  const realHome = Deno.env.get("HOME") ?? userInfo().homedir;
  const env = [
    `HOME=${home}`,
    "SSH_AUTH_SOCK=",
    `DENO_DIR=${Deno.env.get("DENO_DIR") ?? join(realHome, ".cache", "deno")}`,
    `XDG_CACHE_HOME=${Deno.env.get("XDG_CACHE_HOME") ?? join(realHome, ".cache")}`,
  ];
  return new RdcProcess([...command, ...args], { command: ["env", ...env], stdin });
}

/** Runs `examples/<file> ...args` with HOME=`home`. */
function exampleAt(home: string, file: string, args: string[]): RdcProcess {
  return atHome(home, args, "null", [Deno.execPath(), "run", "--allow-all", `examples/${file}`]);
}

Deno.test("rdc deploy --help and usage mistakes (exit 2, one line)", async () => {
  const help = await runRdc("deploy", "--help");
  assert.equal(help.code, 0, help.stderr);
  const flags = [
    "USER@HOST[:PORT]...",
    "-i, --identity",
    "--known-hosts",
    "-e, --eval",
    "-c, --concurrency",
  ];
  for (const text of flags) {
    assert.ok(help.stdout.includes(text), `deploy --help lacks ${text}`);
  }
  assert.match((await runRdc("--help")).stdout, /\n {2}deploy {4}/);
  for (
    const [args, reason] of [
      [[], /missing USER@HOST\[:PORT\]/],
      [["me@"], /invalid SSH destination 'me@'/],
      [["box", "--known-hosts", "sometimes"], /invalid --known-hosts 'sometimes'/],
      [["box", "--bogus"], /unknown option '--bogus'/],
      [["a", "b"], /several hosts need --eval CODE/],
      [["a", "b", "-e", "1", "-c", "0"], /--concurrency/],
    ] as const
  ) {
    const { code, stderr } = await runRdc("deploy", ...args);
    assert.equal(code, 2, stderr);
    assert.match(stderr, reason);
    assert.match(stderr, /^rdc deploy: .*\(see 'rdc deploy --help'\)\n$/);
  }
});

sshdTest("rdc deploy against a real sshd", async (t) => {
  await using sshd = await Sshd.start();
  const home = await localHome(sshd);
  const knownHosts = join(home, ".ssh", "known_hosts");

  await t.step("an unknown host key: exit 1, one line with its fingerprint", async () => {
    await using rdc = atHome(home, ["deploy", "box", "--eval", "1"]);
    const status = await rdc.wait();
    assert.equal(status.code, 1, rdc.output());
    assert.match(
      rdc.stderr,
      /^rdc deploy: the host key of \[127\.0\.0\.1\]:\d+ is not known \(ssh-ed25519 key SHA256:/,
    );
    assert.equal(rdc.stderr.trim().split("\n").length, 1, rdc.output());
    // The hint names the CLI's flag, not the API's option; the REPL's too.
    assert.match(rdc.stderr, /connect once with --known-hosts accept-new\n$/);
    assert.ok(!rdc.stderr.includes("knownHosts"), rdc.output());
    await using repl = atHome(home, ["deploy", "box"], "piped");
    await repl.child.stdin.close();
    assert.equal((await repl.wait()).code, 1, repl.output());
    assert.match(repl.stderr, /^rdc deploy: the host key of .* is not known \(/);
    assert.match(repl.stderr, /connect once with --known-hosts accept-new\n$/);
  });

  await t.step("--known-hosts accept-new records the key in ~/.ssh/known_hosts", async () => {
    await using rdc = atHome(home, ["deploy", "box", "--known-hosts", "accept-new", "-e", "6 * 7"]);
    assert.equal((await rdc.wait()).code, 0, rdc.output());
    assert.equal(rdc.stdout, "42\n");
    assert.equal(await Deno.readTextFile(knownHosts), `${await sshd.knownHostsLine()}\n`);
  });

  await t.step(
    "--eval: ~/.ssh/config alias, default identity; CODE runs on HOST, its value printed",
    async () => {
      await using rdc = atHome(home, ["deploy", "box", "--eval", "Deno.pid"]);
      assert.equal((await rdc.wait()).code, 0, rdc.output());
      const pid = Number(rdc.stdout.trim());
      assert.ok(pid > 0 && pid !== rdc.child.pid, rdc.output());
      for (
        const [code, printed] of [
          ["const x = 6; x * 7", "42\n"],
          ['Deno.env.get("HOME")', `${sshd.home}\n`],
          ["await Promise.resolve([1, 'two'])", `[ 1, "two" ]\n`],
          ["undefined", ""],
        ]
      ) {
        await using run = atHome(home, ["deploy", "box", "-e", code]);
        assert.equal((await run.wait()).code, 0, run.output());
        assert.equal(run.stdout, printed, run.output());
      }
    },
  );

  await t.step("--eval: a remote error prints its message, exit 1", async () => {
    for (
      const [code, message] of [
        ["throw new RangeError('out of ' + Deno.env.get('HOME'))", `out of ${sshd.home}`],
        ["1+", "Unexpected end of input"],
      ]
    ) {
      await using rdc = atHome(home, ["deploy", "box", "-e", code]);
      assert.equal((await rdc.wait()).code, 1, rdc.output());
      assert.equal(rdc.stdout, "", rdc.output());
      assert.ok(rdc.stderr.includes(`rdc deploy: ${message}`), rdc.output());
    }
  });

  await t.step("a wrong identity (-i): exit 1, the authentication error", async () => {
    const wrong = join(sshd.dir, "wrong_key");
    await keygen(wrong);
    await using rdc = atHome(home, ["deploy", "box", "-i", wrong, "-e", "1"]);
    assert.equal((await rdc.wait()).code, 1, rdc.output());
    assert.match(
      rdc.stderr,
      /^rdc deploy: authentication to .* refused the identity file .*wrong_key/,
    );
  });

  await t.step("without --eval: the REPL of rdc shell, on the remote host", async () => {
    await using rdc = atHome(home, ["deploy", "box"], "piped");
    const writer = rdc.child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode("await conn.eval('Deno.env.get(\"HOME\")')\nclose()\n"),
    );
    await writer.close();
    assert.equal((await rdc.wait()).code, 0, rdc.output());
    assert.match(rdc.stdout, /^rdc deploy: conn is a classic connection to ssh .* unix .*\.sock\n/);
    assert.ok(rdc.stdout.includes(sshd.home), rdc.output());
  });

  await t.step("examples/deploy_single.ts and deploy_many.ts run against it", async () => {
    await using single = exampleAt(home, "deploy_single.ts", ["box"]);
    assert.equal((await single.wait()).code, 0, single.output());
    assert.match(
      single.stdout,
      /^connected to .*\ndeployed .*\nremote pid \d+ on .*, local pid \d+\n/,
    );
    assert.match(single.stdout, /restricted: \/etc has \d+ entries\n/);
    assert.match(single.stdout, /restricted: reading \/tmp fails: NotCapable\n/);
    await using many = exampleAt(home, "deploy_many.ts", ["box", sshd.target]);
    assert.equal((await many.wait()).code, 0, many.output());
    assert.match(many.stdout, /^deployed to 2 of 2 hosts in \d+ ms\n/);
    assert.match(many.stdout, new RegExp(`\\n${sshd.target.replaceAll(".", "\\.")}: .*, pid \\d+`));
    assert.match(many.stdout, /uptimes \(s\): [\d.]+, [\d.]+\n/);
  });

  await t.step("SIGKILL of the client leaves no remote process and no file", async () => {
    // On HOST: its console's output passes through to local stderr.
    const code = "console.log('pid', Deno.pid, Deno.args.join(' ')), " +
      "await new Promise((resolve) => setTimeout(resolve, 600_000))";
    await using rdc = atHome(home, ["deploy", "box", "--eval", code]);
    const [, pid, socket] = await rdc.waitStderr(/pid (\d+) .*?(\S+\.sock)/);
    const session = basename(socket!, ".sock");
    assert.ok(isAlive(Number(pid)));
    assert.notDeepEqual(await sshd.leftovers(session), []);
    await rdc.stop("SIGKILL");
    await poll(
      async () => !isAlive(Number(pid)) && (await sshd.leftovers(session)).length === 0,
      WAIT_MS,
      () => `left behind: remote pid ${pid} alive: ${isAlive(Number(pid))}`,
    );
  });
});

sshdTest("rdc deploy ships the runtime to a host without deno, with a progress bar", async () => {
  await using sshd = await Sshd.start({ pathWithoutDeno: true });
  const home = await localHome(sshd);
  await Deno.copyFile(sshd.knownHosts, join(home, ".ssh", "known_hosts"));
  await using rdc = atHome(home, ["deploy", "box", "-e", "Deno.execPath()"]);
  assert.equal((await rdc.wait()).code, 0, rdc.output());
  const runtime = `deno-${Deno.version.deno}-${Deno.build.target}`;
  assert.equal(rdc.stdout, `${join(sshd.remoteCache, runtime)}\n`);
  const bar = new RegExp(
    `^rdc: shipping deno ${
      Deno.version.deno.replaceAll(".", "\\.")
    } \\(${Deno.build.target}\\) to ${sshd.user}@127\\.0\\.0\\.1:` +
      `${sshd.port} \\[#{30}\\] 100% ([\\d.]+)/\\1 MB$`,
    "m",
  );
  assert.match(rdc.stderr, bar);
  assert.match(rdc.stderr, /\[-{30}\] {3}0% 0\.0\//);
});

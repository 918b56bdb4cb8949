/**
 * `SshMachine` against a real OpenSSH sshd on loopback: exec, host key
 * checking (enforce, accept-new, ignore; hashed entries, `[host]:port`,
 * changed and revoked keys, OpenSSH fingerprints), every way to
 * authenticate (identity files with and without passphrases, ssh-agent,
 * password) and to fail, ~/.ssh/config, ProxyJump through a second sshd,
 * and the connection errors (refused port, a silent host, not SSH).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  HostKeyError,
  SshAuthenticationError,
  SshConnectError,
  SshMachine,
} from "../deploy/mod.ts";
import { freePort, poll, within } from "./_cli.ts";
import { rejection } from "./_helpers.ts";
import { canSetPassword, keygen, Sshd, sshdTest } from "./_sshd.ts";

const WAIT_MS = 20_000;

/** Runs `program args` and returns its stdout; fails on a non-zero status. */
async function run(program: string, args: string[], env?: Record<string, string>) {
  const { success, stdout, stderr } = await new Deno.Command(program, { args, env, stdin: "null" })
    .output();
  const text = new TextDecoder();
  assert.ok(success, `${program} ${args.join(" ")}: ${text.decode(stderr)}`);
  return text.decode(stdout);
}

/** The fingerprint `ssh-keygen -l` prints for a public key file. */
async function openSshFingerprint(file: string): Promise<string> {
  return (await run("ssh-keygen", ["-l", "-f", file])).split(" ")[1]!;
}

sshdTest("SshMachine against a real sshd", async (t) => {
  await using sshd = await Sshd.start();

  await t.step("connects with user@host:port, exec returns code, stdout and stderr", async () => {
    await using machine = await SshMachine.connect(sshd.machineOptions());
    assert.equal(machine.destination, sshd.target);
    const result = await machine.exec("echo out; echo err >&2; exit 3");
    assert.deepEqual(result, { code: 3, signal: null, stdout: "out\n", stderr: "err\n" });
    const echoed = await machine.exec("cat; printf '|%s' \"$HOME\"", { stdin: "from stdin" });
    assert.equal(echoed.stdout, `from stdin|${sshd.home}`);
    assert.equal(machine.closed, false);
    await machine.close();
    assert.equal(machine.closed, true);
    await machine.close(); // idempotent
    await assert.rejects(machine.exec("true"), SshConnectError);
  });

  await t.step("keepalive: a host that stops answering is noticed", async () => {
    const machine = await SshMachine.connect(sshd.machineOptions({
      keepaliveInterval: 100,
      keepaliveCountMax: 2,
    }));
    const sessions = await sshd.sessionPids();
    assert.ok(sessions.length > 0);
    for (const pid of sessions) Deno.kill(pid, "SIGSTOP");
    try {
      await poll(() => machine.closed, WAIT_MS, () => "the silent connection was not noticed");
      const error = await rejection(machine.exec("true"));
      assert.ok(error instanceof SshConnectError, String(error));
      assert.match(error.message, /Keepalive timeout/);
    } finally {
      for (const pid of sessions) Deno.kill(pid, "SIGCONT");
      await machine.close();
    }
  });

  await t.step(
    "enforce: an unknown host is refused with its OpenSSH SHA256 fingerprint",
    async () => {
      const empty = join(sshd.dir, "empty_known_hosts");
      const error = await rejection(SshMachine.connect(sshd.machineOptions({
        knownHostsFiles: [empty],
      })));
      assert.ok(error instanceof HostKeyError, String(error));
      assert.equal(error.problem, "unknown");
      assert.equal(error.host, `[127.0.0.1]:${sshd.port}`);
      assert.equal(error.fingerprint, await openSshFingerprint(sshd.hostPublicKey));
      assert.match(error.message, /is not known \(ssh-ed25519 key SHA256:/);
      assert.ok(error.message.includes(empty), error.message);
      // The API's option, not the CLI's flag.
      assert.ok(
        error.message.endsWith(`connect once with knownHosts: "accept-new"`),
        error.message,
      );
    },
  );

  await t.step("[host]:port: an entry for port 22 does not vouch for another port", async () => {
    const file = join(sshd.dir, "port22_known_hosts");
    const [, type, key] = (await sshd.knownHostsLine()).split(" ");
    await Deno.writeTextFile(file, `127.0.0.1 ${type} ${key}\n`);
    const error = await rejection(SshMachine.connect(sshd.machineOptions({
      knownHostsFiles: [file],
    })));
    assert.ok(error instanceof HostKeyError && error.problem === "unknown", String(error));
  });

  await t.step("accept-new: records an unknown host's key, then enforce accepts it", async () => {
    const file = join(sshd.dir, "new", "known_hosts");
    const options = sshd.machineOptions({ knownHostsFiles: [file], knownHosts: "accept-new" });
    await (await SshMachine.connect(options)).close();
    assert.equal(await Deno.readTextFile(file), `${await sshd.knownHostsLine()}\n`);
    assert.equal((await Deno.stat(join(sshd.dir, "new"))).mode! & 0o777, 0o700);
    await (await SshMachine.connect({ ...options, knownHosts: "enforce" })).close();
  });

  await t.step("hashed known_hosts entries (ssh-keygen -H) are matched", async () => {
    const file = join(sshd.dir, "hashed_known_hosts");
    await Deno.copyFile(sshd.knownHosts, file);
    await run("ssh-keygen", ["-H", "-f", file]);
    await Deno.remove(`${file}.old`);
    assert.match(await Deno.readTextFile(file), /^\|1\|/);
    await (await SshMachine.connect(sshd.machineOptions({ knownHostsFiles: [file] }))).close();
  });

  await t.step(
    "a changed host key is refused, naming the entry; ignore lets it through",
    async () => {
      const otherKey = join(sshd.dir, "other_host_key");
      await keygen(otherKey);
      const [, type, key] = (await Deno.readTextFile(`${otherKey}.pub`)).split(" ");
      const file = join(sshd.dir, "changed_known_hosts");
      await Deno.writeTextFile(file, `# old\n[127.0.0.1]:${sshd.port} ${type} ${key}\n`);
      for (const mode of ["enforce", "accept-new"] as const) {
        const error = await rejection(SshMachine.connect(sshd.machineOptions({
          knownHostsFiles: [file],
          knownHosts: mode,
        })));
        assert.ok(error instanceof HostKeyError, String(error));
        assert.equal(error.problem, "changed");
        assert.equal(error.entry, `${file}:2`);
        assert.match(error.message, /has changed/);
        assert.ok(error.message.includes(await openSshFingerprint(sshd.hostPublicKey)));
      }
      await (await SshMachine.connect(sshd.machineOptions({
        knownHostsFiles: [file],
        knownHosts: "ignore",
      }))).close();
    },
  );

  await t.step("a @revoked key is refused", async () => {
    const file = join(sshd.dir, "revoked_known_hosts");
    const [, type, key] = (await sshd.knownHostsLine()).split(" ");
    await Deno.writeTextFile(file, `${await sshd.knownHostsLine()}\n@revoked * ${type} ${key}\n`);
    const error = await rejection(SshMachine.connect(sshd.machineOptions({
      knownHostsFiles: [file],
    })));
    assert.ok(error instanceof HostKeyError && error.problem === "revoked", String(error));
  });

  await t.step("a wrong identity is an authentication error naming the key", async () => {
    const wrong = join(sshd.dir, "wrong_key");
    await keygen(wrong);
    const error = await rejection(SshMachine.connect(sshd.machineOptions({ identity: wrong })));
    assert.ok(error instanceof SshAuthenticationError, String(error));
    assert.match(error.message, /the server refused the identity file .*wrong_key \(ssh-ed25519/);
    assert.match(error.message, /it accepts: publickey$/);
    const missing = await rejection(SshMachine.connect(sshd.machineOptions({
      identity: join(sshd.dir, "nope"),
    })));
    assert.ok(missing instanceof SshAuthenticationError);
    assert.match(missing.message, /cannot read identity file .*nope/);
    const nothing = await rejection(SshMachine.connect(sshd.machineOptions({ identity: [] })));
    assert.match(String(nothing), /nothing to authenticate with/);
  });

  await t.step(
    "passphrase-protected keys: refused without it, wrong one named, right one works",
    async () => {
      const locked = join(sshd.dir, "locked_key");
      await keygen(locked, "open sesame");
      await Deno.writeTextFile(
        join(sshd.dir, "authorized_keys"),
        await Deno.readTextFile(`${locked}.pub`),
        { append: true },
      );
      const without = await rejection(
        SshMachine.connect(sshd.machineOptions({ identity: locked })),
      );
      assert.match(String(without), /locked_key is encrypted and no passphrase was given/);
      const wrong = await rejection(SshMachine.connect(sshd.machineOptions({
        identity: locked,
        passphrase: "open barley",
      })));
      assert.match(String(wrong), /locked_key does not open with the given passphrase/);
      await using machine = await SshMachine.connect(sshd.machineOptions({
        identity: locked,
        passphrase: "open sesame",
      }));
      assert.equal((await machine.exec("echo ok")).stdout, "ok\n");
    },
  );

  await t.step("ssh-agent: the keys an agent holds (SSH_AUTH_SOCK)", async () => {
    const socket = join(sshd.dir, "agent.sock");
    const agent = new Deno.Command("ssh-agent", {
      args: ["-D", "-a", socket],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await poll(
        async () => await Deno.stat(socket).then(() => true, () => false),
        WAIT_MS,
        () => "ssh-agent did not create its socket",
      );
      await run("ssh-add", ["-q", sshd.identity], { SSH_AUTH_SOCK: socket });
      const previous = Deno.env.get("SSH_AUTH_SOCK");
      Deno.env.set("SSH_AUTH_SOCK", socket);
      try {
        await using machine = await SshMachine.connect(sshd.machineOptions({
          identity: [],
          agent: undefined, // the default: $SSH_AUTH_SOCK
        }));
        assert.equal((await machine.exec("echo agent")).stdout, "agent\n");
      } finally {
        if (previous === undefined) Deno.env.delete("SSH_AUTH_SOCK");
        else Deno.env.set("SSH_AUTH_SOCK", previous);
      }
      const empty = join(sshd.dir, "empty_agent_refused");
      await run("ssh-add", ["-q", "-D"], { SSH_AUTH_SOCK: socket });
      const error = await rejection(SshMachine.connect(sshd.machineOptions({
        identity: [],
        agent: socket,
      })));
      assert.match(String(error), /refused the keys of ssh-agent/, empty);
    } finally {
      agent.kill("SIGTERM");
      await agent.status;
    }
  });

  await t.step("~/.ssh/config: HostName, User, Port and IdentityFile of an alias", async () => {
    const config = join(sshd.dir, "ssh_config");
    await Deno.writeTextFile(
      config,
      [
        "Host box",
        "  HostName 127.0.0.1",
        `  Port ${sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile ${join(sshd.dir, "%r_missing_key")}`,
        `  IdentityFile ${sshd.identity}`,
        "",
      ].join("\n"),
    );
    await using machine = await SshMachine.connect({
      host: "box",
      sshConfig: config,
      knownHostsFiles: [sshd.knownHosts],
      agent: false,
    });
    assert.equal(machine.destination, sshd.target);
    assert.equal((await machine.exec("echo configured")).stdout, "configured\n");
  });

  await t.step("ProxyJump: through a second sshd, which must allow the forward", async () => {
    await using jump = await Sshd.start({ config: [`PermitOpen 127.0.0.1:${sshd.port}`] });
    const knownHosts = join(sshd.dir, "both_known_hosts");
    await Deno.writeTextFile(
      knownHosts,
      `${await sshd.knownHostsLine()}\n${await jump.knownHostsLine()}\n`,
    );
    const config = join(sshd.dir, "jump_config");
    await Deno.writeTextFile(
      config,
      [
        "Host target",
        "  HostName 127.0.0.1",
        `  Port ${sshd.port}`,
        `  IdentityFile ${sshd.identity}`,
        "  ProxyJump jumphost",
        "Host forbidden",
        "  HostName 127.0.0.1",
        `  Port ${jump.port}`,
        `  IdentityFile ${jump.identity}`,
        "  ProxyJump jumphost",
        "Host jumphost",
        "  HostName 127.0.0.1",
        `  Port ${jump.port}`,
        `  IdentityFile ${jump.identity}`,
        "",
      ].join("\n"),
    );
    const options = { sshConfig: config, knownHostsFiles: [knownHosts], agent: false } as const;
    const accepted = () => jump.log.match(/Accepted publickey/g)?.length ?? 0;
    {
      await using machine = await SshMachine.connect({ host: "target", ...options });
      assert.equal((await machine.exec('printf %s "$HOME"')).stdout, sshd.home);
      assert.equal(accepted(), 1, `the jump host authenticated us once:\n${jump.log}`);
    }
    const error = await rejection(SshMachine.connect({ host: "forbidden", ...options }));
    assert.ok(error instanceof SshConnectError, String(error));
    assert.equal(error.reason, "jump");
    assert.match(error.message, /jump host could not open a way/);
  });

  await t.step("a refused port is its own error", async () => {
    const port = freePort();
    const error = await rejection(SshMachine.connect(sshd.machineOptions({
      host: `${sshd.user}@127.0.0.1:${port}`,
    })));
    assert.ok(error instanceof SshConnectError, String(error));
    assert.equal(error.reason, "refused");
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: connection refused`));
  });

  await t.step("a silent host times out; a host that does not speak SSH is named", async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const accepted: Deno.Conn[] = [];
    const serving = (async () => {
      for await (const conn of listener) {
        accepted.push(conn);
        // The second one answers with an SSH version nobody speaks any more.
        if (accepted.length === 2) await conn.write(new TextEncoder().encode("SSH-1.5-old\r\n"));
      }
    })().catch(() => {});
    const host = `${sshd.user}@127.0.0.1:${port}`;
    const silent = await rejection(SshMachine.connect(sshd.machineOptions({
      host,
      readyTimeout: 500,
    })));
    assert.ok(silent instanceof SshConnectError, String(silent));
    assert.equal(silent.reason, "timeout");
    const old = await rejection(SshMachine.connect(sshd.machineOptions({ host })));
    assert.ok(old instanceof SshConnectError, String(old));
    assert.equal(old.reason, "protocol");
    assert.match(old.message, /does not speak SSH as expected \(Invalid identification string\)/);
    for (const conn of accepted) conn.close();
    listener.close();
    await within(serving, WAIT_MS, "the listener to stop");
  });
});

sshdTest("password authentication against a real sshd", async (t) => {
  await t.step("a wrong password is refused, and says so", async () => {
    await using sshd = await Sshd.start({ config: ["PasswordAuthentication yes"] });
    const error = await rejection(SshMachine.connect(sshd.machineOptions({
      identity: [],
      password: "not the password",
    })));
    assert.ok(error instanceof SshAuthenticationError, String(error));
    assert.match(error.message, /the server refused the password; it accepts: publickey, password/);
  });

  await t.step({
    name: "the right password logs in (sshd sees a password only it knows)",
    ignore: !canSetPassword(),
    async fn() {
      await using sshd = await Sshd.start({ password: "correct horse" });
      await using machine = await SshMachine.connect(sshd.machineOptions({
        identity: [],
        password: "correct horse",
      }));
      assert.equal((await machine.exec("echo in")).stdout, "in\n");
      assert.match(sshd.log, /Accepted password for/);
    },
  });
  if (!canSetPassword()) {
    console.warn(
      "deploy_ssh_test: the right-password case needs root, unshare and openssl: skipped",
    );
  }
});

/**
 * `DeployedServer` and `MultiServerDeployment` against real sshd instances
 * on loopback: classic mode in another process, the remote cache (a second
 * deployment uploads nothing), cleanup after `close()` and when the SSH
 * connection goes, restricted permissions, service modules, two hosts in
 * parallel, and a host without deno (the runtime is shipped; another
 * platform is refused clearly). The SIGKILL case is in deploy_cli_test.ts.
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import {
  DeployedServer,
  DeployError,
  HostKeyError,
  MultiServerDeployment,
  SshMachine,
} from "../deploy/mod.ts";
import { ProtocolError, RemoteError } from "../mod.ts";
import { poll } from "./_cli.ts";
import { rejection } from "./_helpers.ts";
import { Sshd, sshdTest } from "./_sshd.ts";

const WAIT_MS = 20_000;
const SERVICE = new URL("./deploy_fixture_service.ts", import.meta.url);

/** The session id of a deployment: its socket's name. */
function session(server: DeployedServer): string {
  return basename(server.socketPath, ".sock");
}

/** The cached bundles in a remote cache, with their inode and mtime. */
async function cachedBundles(sshd: Sshd): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(sshd.remoteCache)) {
    if (!entry.name.endsWith(".mjs")) continue;
    const stat = await Deno.stat(join(sshd.remoteCache, entry.name));
    found.push(`${entry.name} ${stat.ino} ${stat.mtime?.getTime()}`);
  }
  return found;
}

sshdTest("DeployedServer against a real sshd", async (t) => {
  await using sshd = await Sshd.start();
  await using machine = await SshMachine.connect(sshd.machineOptions());

  await t.step("deploys classic mode: another process, any number of connections", async () => {
    await using server = await DeployedServer.start(machine, { progress: false });
    assert.deepEqual(server.uploaded, ["bundle"]);
    assert.equal(server.platform, "Linux x86_64".replace("x86_64", Deno.build.arch));
    assert.ok(server.socketPath.startsWith(`${sshd.remoteCache}/`), server.socketPath);
    assert.equal((await Deno.stat(sshd.remoteCache)).mode! & 0o777, 0o700);
    const conn = await server.classicConnect();
    const pid = await conn.globals.Deno.pid;
    assert.equal(typeof pid, "number");
    assert.notEqual(pid, Deno.pid);
    assert.equal(await conn.modules["node:path"].posix.join("a", "b"), "a/b");
    await conn.execute("globalThis.shared = 41");
    assert.equal(await conn.eval("Deno.env.get('HOME')"), sshd.home);
    const other = await server.classicConnect();
    assert.equal(await other.globals.Deno.pid, pid, "connections share the remote process");
    assert.equal(await other.eval("shared + 1"), 42);
    assert.match(conn.description, new RegExp(`^ssh ${sshd.target} unix `));
  });

  await t.step("a second deployment uploads nothing: the cached bundle is reused", async () => {
    const before = await cachedBundles(sshd);
    assert.equal(before.length, 1);
    await using server = await DeployedServer.start(machine, { progress: false });
    assert.deepEqual(server.uploaded, []);
    assert.deepEqual(await cachedBundles(sshd), before, "same file, same inode, same mtime");
    const conn = await server.classicConnect();
    assert.notEqual(await conn.globals.Deno.pid, Deno.pid);
  });

  await t.step("close() leaves no remote process and no file", async () => {
    const server = await DeployedServer.start(machine, { progress: false });
    const conn = await server.classicConnect();
    const pid = await conn.globals.Deno.pid;
    assert.notDeepEqual(await sshd.leftovers(session(server)), []);
    await server.close();
    assert.deepEqual(await sshd.leftovers(session(server)), []);
    assert.ok(!(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)));
    assert.equal((await server.finished).code, 0);
    await server.close(); // idempotent
    await assert.rejects(server.connect(), DeployError);
    assert.equal(machine.closed, false, "the machine stays the caller's");
  });

  await t.step("a restricted deployment cannot read outside what it was allowed", async () => {
    const allowed = join(sshd.dir, "data");
    await Deno.mkdir(allowed);
    await Deno.writeTextFile(join(allowed, "in.txt"), "inside");
    await Deno.writeTextFile(join(sshd.dir, "out.txt"), "outside");
    await using server = await DeployedServer.start(machine, {
      permissions: [`--allow-read=${allowed}`],
      progress: false,
    });
    const conn = await server.classicConnect();
    assert.equal(
      await conn.eval(`Deno.readTextFileSync(${JSON.stringify(`${allowed}/in.txt`)})`),
      "inside",
    );
    for (
      const code of [
        `Deno.readTextFileSync(${JSON.stringify(join(sshd.dir, "out.txt"))})`,
        `Deno.writeTextFileSync(${JSON.stringify(`${allowed}/new.txt`)}, "x")`,
        `Deno.env.get("HOME")`,
      ]
    ) {
      const error = await rejection(conn.eval(code));
      assert.ok(error instanceof RemoteError, String(error));
      assert.equal(error.name, "NotCapable", code);
    }
  });

  await t.step("a service module is deployed instead of classic mode", async () => {
    await using server = await DeployedServer.start(machine, {
      service: SERVICE,
      progress: false,
    });
    assert.deepEqual(server.uploaded, ["bundle"]); // another bundle
    const conn = await server.connect();
    assert.equal(conn.peerService, "Where");
    const where = await conn.root.where();
    assert.notEqual(where.pid, Deno.pid);
    assert.equal(where.home, sshd.home);
    const classic = await rejection(server.classicConnect());
    assert.ok(classic instanceof ProtocolError, String(classic));
    const relative = await DeployedServer.start(machine, {
      service: "./tests/deploy_fixture_service.ts",
      progress: false,
    });
    assert.deepEqual(relative.uploaded, [], "a path names the same module");
    await relative.close();
  });

  await t.step("a module without a default export fails with what the remote said", async () => {
    const error = await rejection(DeployedServer.start(machine, {
      service: new URL("../deploy/remote_protocol.ts", import.meta.url),
      progress: false,
    }));
    assert.ok(error instanceof DeployError, String(error));
    assert.match(
      error.message,
      /exited with status 2 before the server was ready: .*default export/,
    );
  });

  await t.step(
    "no deno and no shipping, or a denoPath that is not there: clear errors",
    async () => {
      const missing = await rejection(DeployedServer.start(machine, {
        denoPath: join(sshd.dir, "no-deno"),
        progress: false,
      }));
      assert.ok(missing instanceof DeployError, String(missing));
      assert.match(missing.message, /no-deno is not an executable deno/);
    },
  );

  await t.step("the server exits when its SSH connection goes away", async () => {
    const own = await SshMachine.connect(sshd.machineOptions());
    const server = await DeployedServer.start(own, { progress: false });
    const conn = await server.classicConnect();
    const pid = await conn.globals.Deno.pid;
    await own.close(); // no server.close(): the channel just goes
    await server.finished;
    await poll(
      async () => (await sshd.leftovers(session(server))).length === 0,
      WAIT_MS,
      () => `remote leftovers after the connection went (pid ${pid})`,
    );
    await server.close();
  });
});

sshdTest("MultiServerDeployment: two sshd instances in parallel", async () => {
  await using first = await Sshd.start();
  await using second = await Sshd.start();
  await using own = await SshMachine.connect(first.machineOptions());
  await using deployment = await MultiServerDeployment.start(
    [own, second.machineOptions()],
    { progress: false },
  );
  assert.equal(deployment.servers.length, 2);
  const conns = await deployment.classicConnectAll();
  const homes = await Promise.all(conns.map((conn) => conn.eval("Deno.env.get('HOME')")));
  assert.deepEqual(homes, [first.home, second.home]);
  const pids = await Promise.all(conns.map((conn) => conn.globals.Deno.pid));
  assert.equal(new Set([...pids, Deno.pid]).size, 3);
  const plain = await deployment.connectAll();
  assert.deepEqual(plain.map((conn) => conn.peerService), ["Classic", "Classic"]);
  const sessions = deployment.servers.map(session);
  await deployment.close();
  assert.deepEqual(await first.leftovers(sessions[0]!), []);
  assert.deepEqual(await second.leftovers(sessions[1]!), []);
  assert.equal(own.closed, false, "a machine given connected stays the caller's");

  // One refusing host fails alone, with its own typed error; the other deploys.
  await using partial = await MultiServerDeployment.start(
    [first.machineOptions(), second.machineOptions({ knownHostsFiles: [] })],
    { progress: false },
  );
  assert.deepEqual(partial.results.map((r) => r.status), ["fulfilled", "rejected"]);
  const [failure] = partial.failures;
  assert.ok(failure?.error instanceof HostKeyError, String(failure?.error));
  assert.equal(failure.host, second.target);
  assert.match(failure.error.message, /^the host key of/);
  assert.equal(partial.servers.length, 1);
});

sshdTest("a host without deno gets the local runtime shipped", async (t) => {
  await using sshd = await Sshd.start({ pathWithoutDeno: true });
  await using machine = await SshMachine.connect(sshd.machineOptions());
  assert.notEqual((await machine.exec("command -v deno")).code, 0, "no deno on the remote PATH");

  await t.step("without shipping, the error says what is missing", async () => {
    const error = await rejection(DeployedServer.start(machine, { shipRuntime: false }));
    assert.ok(error instanceof DeployError, String(error));
    assert.match(error.message, /no deno on the remote host \(Linux/);
  });

  await t.step("shipped, checked, cached by version, then reused", async () => {
    const runtime = `deno-${Deno.version.deno}-${Deno.build.target}`;
    {
      await using server = await DeployedServer.start(machine, { progress: false });
      assert.deepEqual(server.uploaded, ["bundle", "runtime"]);
      const conn = await server.classicConnect();
      assert.equal(await conn.globals.Deno.execPath(), join(sshd.remoteCache, runtime));
      assert.equal(await conn.globals.Deno.version.deno, Deno.version.deno);
    }
    const stat = await Deno.stat(join(sshd.remoteCache, runtime));
    assert.equal(stat.mode! & 0o777, 0o700);
    const again = await DeployedServer.start(machine, { progress: false });
    assert.deepEqual(again.uploaded, []);
    await again.close();
    assert.deepEqual(await sshd.leftovers(session(again)), [], "no partial upload left");
  });
});

sshdTest("a platform Deno has no build for gets a clear error", async () => {
  const uname = await Deno.makeTempFile({ prefix: "rdc_fake_uname_" });
  try {
    await Deno.writeTextFile(uname, "#!/bin/sh\necho FreeBSD amd64\n");
    await Deno.chmod(uname, 0o755);
    await using sshd = await Sshd.start({ pathWithoutDeno: true, extraTools: { uname } });
    await using machine = await SshMachine.connect(sshd.machineOptions());
    const error = await rejection(DeployedServer.start(machine));
    assert.ok(error instanceof DeployError, String(error));
    assert.match(error.message, /the remote host runs FreeBSD amd64 and has no deno/);
    assert.match(error.message, /ships Deno to glibc Linux and macOS on x86_64 and arm64 only/);
    assert.deepEqual(await sshd.leftovers("no session"), []);
  } finally {
    await Deno.remove(uname);
  }
});

/**
 * Classic mode moving things between processes (RPyC's test_remoting and
 * test_refcount, and `redirected_stdio`): upload and download of files and
 * trees (binary content, chunking, permission bits, `filter`, missing
 * sources), `obtain`, console redirection, and the release of remote objects
 * exactly when the last local proxy is gone.
 *
 * Run with `--v8-flags=--expose-gc` (the test task does) so `gc()` exists.
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { classic, isRemote } from "../mod.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import {
  classicChildWithStderr,
  MOD_URL,
  randomBytes,
  runToEnd,
  scriptCommand,
  SERVER_MAIN_PATH,
  sha256,
  snapshotTree,
  tempDir,
  writeFile,
} from "./_classic.ts";

type Conn = classic.ClassicConnection;

/** A remote temporary directory (made by the server), removed remotely on dispose. */
async function remoteTempDir(conn: Conn): Promise<{ path: string } & AsyncDisposable> {
  const path: string = await conn.eval("Deno.makeTempDir({ prefix: 'rdc-classic-remote-' })");
  return {
    path,
    [Symbol.asyncDispose]: () => conn.globals.Deno.remove(path, { recursive: true }),
  };
}

/** A tree like RPyC's test: ten files and a subdirectory, plus what trips up copies. */
async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(join(root, "sub", "deeper"), { recursive: true });
  await Deno.mkdir(join(root, "empty"));
  const sizes = [0, 1, 100, 4095, 4096, 4097, 100 * 1024 + 7, 3000, 65536, 12345];
  const modes = [0o644, 0o755, 0o600, 0o640, 0o700, 0o444, 0o664, 0o750, 0o604, 0o711];
  for (let i = 0; i < 10; i++) {
    await writeFile(join(root, `file${i}.bin`), randomBytes(sizes[i]!), modes[i]);
  }
  await writeFile(join(root, "sub", "text.txt"), new TextEncoder().encode("héllo\r\n\0end"));
  await writeFile(join(root, "sub", "deeper", "run.sh"), randomBytes(999), 0o755);
  await Deno.chmod(join(root, "sub"), 0o750);
  await Deno.chmod(join(root, "empty"), 0o700);
  await Deno.chmod(root, 0o755);
}

Deno.test("classic remoting: upload and download a directory tree", async () => {
  await using local = await tempDir();
  await using conn = await classic.connectSubprocess();
  await using remote = await remoteTempDir(conn);
  const source = join(local.path, "tree");
  await makeTree(source);
  const expected = await snapshotTree(source);
  assert.equal(Object.keys(expected).length, 15, "10 files, 3 directories, 2 nested files");

  await conn.upload(source, join(remote.path, "tree"), { chunkSize: 4096 });
  assert.deepEqual(await snapshotTree(join(remote.path, "tree")), expected);
  const listing = await conn.eval(
    `Array.from(Deno.readDirSync(${JSON.stringify(join(remote.path, "tree"))}), (e) => e.name)`,
  );
  assert.deepEqual(listing.sort(), Object.keys(expected).filter((p) => !p.includes("/")).sort());

  const back = join(local.path, "back");
  await conn.download(join(remote.path, "tree"), back, { chunkSize: 4096 });
  assert.deepEqual(await snapshotTree(back), expected);
  assert.equal((await Deno.stat(join(back, "file2.bin"))).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(join(back, "sub", "deeper", "run.sh"))).mode! & 0o777, 0o755);

  // Copying again over an existing copy replaces the contents (a writable file: tests may
  // run as root, where read-only files are writable anyway).
  await writeFile(join(source, "file1.bin"), new TextEncoder().encode("changed"), 0o755);
  await conn.upload(join(source, "file1.bin"), join(remote.path, "tree", "file1.bin"));
  assert.equal(await Deno.readTextFile(join(remote.path, "tree", "file1.bin")), "changed");
});

Deno.test("classic remoting: a single multi-MiB file with the default chunk size", async () => {
  await using local = await tempDir();
  await using conn = await classic.connectSubprocess();
  await using remote = await remoteTempDir(conn);
  const big = randomBytes(3 * 1024 * 1024 + 123);
  const source = join(local.path, "big.bin");
  await writeFile(source, big, 0o600);
  const target = join(remote.path, "copy.bin");

  await conn.upload(source, target);
  const remoteInfo = await conn.globals.Deno.stat(target);
  assert.equal(remoteInfo.size, big.length);
  assert.equal(remoteInfo.mode & 0o777, 0o600);
  assert.equal(await sha256(await Deno.readFile(target)), await sha256(big));

  const back = join(local.path, "back.bin");
  await conn.download(target, back);
  assert.equal(await sha256(await Deno.readFile(back)), await sha256(big));
  assert.equal((await Deno.stat(back)).mode! & 0o777, 0o600);

  // An empty file and an odd chunk size.
  await writeFile(join(local.path, "empty"), new Uint8Array(0));
  await conn.upload(join(local.path, "empty"), join(remote.path, "empty"), { chunkSize: 7 });
  assert.equal((await Deno.stat(join(remote.path, "empty"))).size, 0);
  const bad = await rejection(conn.upload(source, target, { chunkSize: 0 }));
  assert.ok(bad instanceof RangeError, `got ${bad}`);
});

Deno.test("classic remoting: filter skips paths, and missing sources are named", async () => {
  await using local = await tempDir();
  await using conn = await classic.connectSubprocess();
  await using remote = await remoteTempDir(conn);
  const source = join(local.path, "tree");
  await makeTree(source);
  await writeFile(join(source, "notes.skip"), new TextEncoder().encode("skip me"));

  const seen: string[] = [];
  await conn.upload(source, join(remote.path, "tree"), {
    filter: (path) => {
      seen.push(path);
      return !path.endsWith(".skip") && basename(path) !== "sub";
    },
  });
  const copied = await snapshotTree(join(remote.path, "tree"));
  assert.deepEqual(
    Object.keys(copied).sort(),
    ["empty", ...Array.from({ length: 10 }, (_, i) => `file${i}.bin`)].sort(),
  );
  assert.ok(seen.every((path) => path.startsWith(`${source}/`)), "paths under the source");
  assert.ok(seen.includes(join(source, "notes.skip")));
  assert.ok(!seen.some((path) => path.includes(`${source}/sub/`)), "a skipped dir is not entered");

  const downloaded = join(local.path, "down");
  await conn.download(join(remote.path, "tree"), downloaded, {
    filter: (path) => !path.endsWith("file0.bin"),
  });
  assert.equal(Object.keys(await snapshotTree(downloaded)).length, 10);

  const missingLocal = join(local.path, "does-not-exist");
  const upError = await rejection(conn.upload(missingLocal, join(remote.path, "x")));
  assert.ok(upError instanceof Deno.errors.NotFound, `got ${upError}`);
  assert.ok((upError as Error).message.includes(missingLocal), (upError as Error).message);

  const missingRemote = join(remote.path, "not-there");
  const downError = await rejection(conn.download(missingRemote, join(local.path, "y")));
  assert.ok(downError instanceof Deno.errors.NotFound, `got ${downError}`);
  assert.ok((downError as Error).message.includes(missingRemote), (downError as Error).message);
  assert.match((downError as Error).message, /remote/);
  await assert.rejects(Deno.stat(join(local.path, "y")), Deno.errors.NotFound);
});

Deno.test("classic remoting: obtain gives a local plain copy of a remote value", async () => {
  await using conn = await classic.connectSubprocess();
  await conn.execute("config = { name: 'x', list: [1, 2, { deep: true }], when: new Date(0) }");
  const namespace = await conn.namespace;
  assert.ok(isRemote(namespace), "the namespace travels by reference");
  const copy = await conn.obtain<{ config: unknown }>(namespace);
  assert.ok(!isRemote(copy));
  assert.deepEqual(copy.config, { name: "x", list: [1, 2, { deep: true }], when: new Date(0) });

  const remoteArray = await conn.eval(
    `(await import(${JSON.stringify(MOD_URL)})).ref([1, [2, 3]])`,
  );
  assert.ok(isRemote(remoteArray), "ref() on the server sends the array by reference");
  const array = await conn.obtain<unknown[]>(remoteArray);
  assert.ok(Array.isArray(array) && !isRemote(array));
  assert.deepEqual(array, [1, [2, 3]]);

  const point = await conn.eval("new (class Point { x = 1; y = [2]; norm() { return 3; } })()");
  assert.ok(isRemote(point));
  const plain = await conn.obtain<{ x: number; y: number[] }>(point);
  assert.equal(Object.getPrototypeOf(plain), Object.prototype);
  assert.deepEqual(plain, { x: 1, y: [2] });
  plain.y.push(99);
  assert.deepEqual(await point.y, [2], "the copy is not shared");

  assert.deepEqual(await conn.obtain(conn.globals.Deno.build), await conn.globals.Deno.build);
  const local = { a: 1 };
  assert.equal(await conn.obtain(local), local, "a local value is returned as it is");
});

/** Merges neighbouring pieces of output on the same stream. */
function merged(pieces: [string, string][]): [string, string][] {
  const out: [string, string][] = [];
  for (const [stream, text] of pieces) {
    const last = out.at(-1);
    if (last?.[0] === stream) last[1] += text;
    else out.push([stream, text]);
  }
  return out;
}

Deno.test("classic remoting: redirectStdio delivers remote console output in order", async () => {
  await using dir = await tempDir();
  const stderrFile = join(dir.path, "child-stderr.txt");
  const conn = await classicChildWithStderr(stderrFile);
  const pieces: [string, string][] = [];
  try {
    await conn.execute("savedLog = console.log");
    const redirect = await conn.redirectStdio({
      write: (stream, text) => pieces.push([stream, text]),
    });
    await conn.execute(`
      console.log("one");
      console.error("two");
      console.table([{ a: 1 }]);
      console.log("three");
      for (let i = 0; i < 100; i++) console.log("line " + i);
      console.warn("warned");
      console.info("informed", { n: 1 });
    `);
    await redirect.stop();
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join("");
    const [[, first], [, second], [, third], [, fourth], [, fifth]] = merged(pieces);
    assert.deepEqual(merged(pieces).map(([stream]) => stream), [
      "stdout",
      "stderr",
      "stdout",
      "stderr",
      "stdout",
    ]);
    assert.equal(first, "one\n");
    assert.equal(second, "two\n");
    assert.match(third!, /^┌.*\n│ \(index\) │ a │\n.*\n│ 0\s+│ 1 │\n└.*\nthree\n/s);
    assert.ok(third!.endsWith(`three\n${lines}`), "the 100 lines arrived in order");
    assert.equal(fourth, "warned\n");
    assert.equal(fifth, "informed { n: 1 }\n");

    // After stop: nothing more arrives, and the remote console is its own again.
    const count = pieces.length;
    await redirect.stop(); // idempotent
    await conn.execute("console.log('after-stop')");
    assert.equal(await conn.eval("console.log === savedLog"), true, "the console was restored");
    assert.equal(pieces.length, count);

    // `await using` ends it too.
    {
      await using _again = await conn.redirectStdio({ write: (s, t) => pieces.push([s, t]) });
      await conn.execute("console.log('inside-block')");
    }
    await conn.execute("console.log('after-block')");
    await conn.ping();
    assert.deepEqual(pieces.slice(count), [["stdout", "inside-block\n"]]);
  } finally {
    await conn.close();
  }
  const printed = await Deno.readTextFile(stderrFile);
  assert.match(printed, /after-stop\n/, "the server printed it itself (on its stderr)");
  assert.match(printed, /after-block\n/);
  assert.doesNotMatch(printed, /three|inside-block/, "redirected output was not printed there");
});

Deno.test("classic remoting: the default redirect writes to this process's stdout and stderr", async () => {
  await using dir = await tempDir();
  const cmd = await scriptCommand(
    dir.path,
    "redirect.ts",
    `import { classic } from ${JSON.stringify(MOD_URL)};
await using conn = await classic.connectSubprocess();
{
  await using _redirect = await conn.redirectStdio();
  await conn.execute("console.log('remote-out', Deno.pid); console.error('remote-err')");
}
console.log("local-pid", Deno.pid);
`,
  );
  const { code, stdout, stderr } = await runToEnd(cmd);
  assert.equal(code, 0, stderr);
  const remotePid = Number(stdout.match(/^remote-out (\d+)$/m)?.[1]);
  const localPid = Number(stdout.match(/^local-pid (\d+)$/m)?.[1]);
  assert.ok(remotePid > 0 && localPid > 0, `stdout: ${stdout}`);
  assert.notEqual(remotePid, localPid, "the text came from the child");
  assert.ok(stdout.indexOf("remote-out") < stdout.indexOf("local-pid"), "delivered before stop");
  assert.match(stderr, /^remote-err$/m);
  assert.doesNotMatch(stdout, /remote-err/);
});

Deno.test("classic remoting: a client that leaves without stopping its redirect restores the console", async () => {
  const original = globalThis.console;
  await using server = classic.serve({ port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const one = await classic.connect("127.0.0.1", port);
  await using two = await classic.connect("127.0.0.1", port);
  try {
    const heardByOne: string[] = [];
    const heardByTwo: string[] = [];
    await one.redirectStdio({ write: (_, text) => heardByOne.push(text) });
    const second = await two.redirectStdio({ write: (_, text) => heardByTwo.push(text) });
    assert.notEqual(globalThis.console, original, "this process is the server: captured");
    await one.execute("console.log('for-both')");
    await second.stop();
    assert.deepEqual(heardByTwo, ["for-both\n"], "overlapping redirects each get everything");
    assert.notEqual(globalThis.console, original, "one capture is still active");
    await waitFor(() => heardByOne.join("").includes("for-both"), 5000, "output for one");

    await one.close(); // without stopping
    await waitFor(() => globalThis.console === original, 5000, "the console to be restored");
    assert.equal(await two.eval("console === globalThis.console"), true);
    assert.deepEqual(heardByTwo, ["for-both\n"]);
  } finally {
    await one.close();
    globalThis.console = original;
  }
});

/** The export count of the server's own connection (RPyC's getconn). */
async function serverExports(conn: Conn): Promise<number> {
  return (await conn.root.connection.stats()).exports;
}

Deno.test("classic refcount: disposing a netref releases the remote object", async () => {
  await using conn = await classic.connectSubprocess();
  await conn.execute(`
    class Thing { constructor(n) { this.n = n; } describe() { return "thing " + this.n; } }
    shared = new Thing(0);
  `);
  const base = await serverExports(conn);
  {
    using thing = await conn.eval("new Thing(1)");
    assert.equal(await thing.describe(), "thing 1");
    assert.equal(await serverExports(conn), base + 1);
    using fn = await conn.eval("() => 42");
    assert.equal(await fn(), 42);
    assert.equal(await serverExports(conn), base + 2);
  }
  await waitFor(async () => await serverExports(conn) === base, 5000, "release after `using`");

  // The same remote object twice is one netref and one export.
  const a = await conn.namespace.shared;
  const b = await conn.namespace.shared;
  assert.equal(a, b);
  assert.equal(await serverExports(conn), base + 1);
  a[Symbol.dispose]();
  await waitFor(async () => await serverExports(conn) === base, 5000, "release of the alias");
  assert.equal(await conn.eval("shared.describe()"), "thing 0", "the object itself lives on");
});

Deno.test("classic refcount: a remote object lives exactly as long as its last local proxy", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run with --v8-flags=--expose-gc");
  // The child runs with gc() too, to see the remote object itself go.
  const cmd = [Deno.execPath(), "run", "--allow-all", "--quiet", "--v8-flags=--expose-gc"];
  await using conn = await classic.connectSubprocess([...cmd, SERVER_MAIN_PATH]);
  const base = await serverExports(conn);
  const holder: { first?: { describe(): Promise<string> }; alias?: unknown } = {};
  // Filled in another function so no temporary of this one keeps the netref.
  await (async () => {
    holder.first = await conn.eval(
      "weak = new WeakRef(new (class Thing { describe() { return 'alive'; } })()); weak.deref()",
    );
    holder.alias = holder.first;
  })();
  assert.equal(await serverExports(conn), base + 1);
  const remoteAlive = () => conn.eval("gc(), weak.deref() !== undefined");

  delete holder.first;
  for (let i = 0; i < 10; i++) {
    gc();
    await conn.ping();
  }
  assert.equal(await serverExports(conn), base + 1, "the alias keeps the remote object");
  assert.equal(await remoteAlive(), true);
  assert.equal(await (holder.alias as { describe(): Promise<string> }).describe(), "alive");

  delete holder.alias;
  for (let i = 0; i < 200 && await serverExports(conn) > base; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(await serverExports(conn), base, "released once the last proxy was collected");
  assert.equal(conn.stats().imports, 1, "only the root is left imported");
  await waitFor(async () => !(await remoteAlive()), 5000, "the remote object to be collected");
});

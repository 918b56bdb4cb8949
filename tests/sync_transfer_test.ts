/**
 * `uploadSync` and `downloadSync` over a synchronous connection to a classic
 * server in another process (an in-process server could never answer a
 * blocked main thread): single binary files in several chunks, trees with
 * nested directories, permission bits, `filter`, missing sources, bad chunk
 * sizes, and a crafted listing; plus `FileAccessSync` against `FileAccess`.
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { PERMISSIVE } from "../mod.ts";
import { connectSync } from "../core/sync/connect.ts";
import type { SyncConnection } from "../core/sync/connection.ts";
import {
  FileAccess,
  FileAccessSync,
  FileChannelSync,
  type SyncFiles,
} from "../core/classic/files.ts";
import { downloadSync, uploadSync } from "../core/classic/transfer.ts";
import {
  randomBytes,
  scriptCommand,
  sha256,
  snapshotTree,
  tempDir,
  writeFile,
} from "./_classic.ts";
import { RdcProcess } from "./_cli.ts";

const CLASSIC = { ...PERMISSIVE, expectService: "Classic" };

/** A classic server process (`rdc classic`, or `command`) and a synchronous connection to it. */
async function syncServer(
  command?: string[],
): Promise<{ conn: SyncConnection; proc: RdcProcess } & AsyncDisposable> {
  const proc = command ? new RdcProcess([], { command }) : new RdcProcess(["classic", "-p", "0"]);
  let conn: SyncConnection;
  try {
    const port = command
      ? Number((await proc.waitStdout(/^port (\d+)\n/))[1])
      : Number((await proc.waitStderr(/serving concurrent on 127\.0\.0\.1:(\d+)/))[1]);
    conn = connectSync("127.0.0.1", port, CLASSIC);
  } catch (error) {
    await proc[Symbol.asyncDispose]();
    throw error;
  }
  return {
    conn,
    proc,
    async [Symbol.asyncDispose]() {
      conn.close();
      await proc[Symbol.asyncDispose]();
    },
  };
}

/** A small tree: files of several sizes and modes, a nested directory, an empty one. */
async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(join(root, "sub", "deeper"), { recursive: true });
  await Deno.mkdir(join(root, "empty"));
  await writeFile(join(root, "a.bin"), randomBytes(10_000), 0o751);
  await writeFile(join(root, "b.bin"), randomBytes(0), 0o600);
  await writeFile(join(root, "sub", "c.txt"), new TextEncoder().encode("héllo\r\n\0end"));
  await writeFile(join(root, "sub", "deeper", "d.bin"), randomBytes(4097), 0o700);
  await Deno.chmod(join(root, "sub"), 0o750);
  await Deno.chmod(join(root, "empty"), 0o711);
  await Deno.chmod(root, 0o755);
}

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o7777;
}

function thrown(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  assert.fail("expected a throw");
}

Deno.test("sync transfer: a binary file in several chunks, both ways, mode 0o751 kept", async () => {
  await using dir = await tempDir();
  await using server = await syncServer();
  const files = server.conn.root.files;
  const bytes = randomBytes(300_000 + 17);
  const source = join(dir.path, "source.bin");
  await writeFile(source, bytes, 0o751);

  const remote = join(dir.path, "remote.bin");
  uploadSync(files, source, remote, { chunkSize: 64 * 1024 });
  assert.equal(await sha256(await Deno.readFile(remote)), await sha256(bytes));
  assert.equal(modeOf(remote), 0o751);

  const back = join(dir.path, "back.bin");
  downloadSync(files, remote, back, { chunkSize: 50_000 });
  assert.equal(await sha256(await Deno.readFile(back)), await sha256(bytes));
  assert.equal(modeOf(back), 0o751);

  // The default chunk size, and a copy over an existing file replacing its contents.
  await writeFile(source, new TextEncoder().encode("shorter"), 0o640);
  uploadSync(files, source, remote);
  assert.equal(await Deno.readTextFile(remote), "shorter");
  assert.equal(modeOf(remote), 0o640);
  assert.equal(server.conn.closed, false);
});

Deno.test("sync transfer: a directory tree with nested directories, both ways", async () => {
  await using dir = await tempDir();
  await using server = await syncServer();
  const files = server.conn.root.files;
  const source = join(dir.path, "tree");
  await makeTree(source);
  const expected = await snapshotTree(source);
  assert.equal(Object.keys(expected).length, 7, "4 files, 3 directories below the root");

  const remote = join(dir.path, "remote");
  uploadSync(files, source, remote, { chunkSize: 1000 });
  assert.deepEqual(await snapshotTree(remote), expected);
  assert.equal(modeOf(remote), 0o755);

  const back = join(dir.path, "back");
  downloadSync(files, remote, back, { chunkSize: 1000 });
  assert.deepEqual(await snapshotTree(back), expected);
  assert.equal(modeOf(join(back, "a.bin")), 0o751);
  assert.equal(modeOf(join(back, "sub")), 0o750);
});

Deno.test("sync transfer: filter skips paths (and a skipped directory's contents)", async () => {
  await using dir = await tempDir();
  await using server = await syncServer();
  const files = server.conn.root.files;
  const source = join(dir.path, "tree");
  await makeTree(source);

  const seen: string[] = [];
  const remote = join(dir.path, "remote");
  uploadSync(files, source, remote, {
    filter: (path) => {
      seen.push(path);
      return basename(path) !== "sub";
    },
  });
  assert.deepEqual(Object.keys(await snapshotTree(remote)).sort(), ["a.bin", "b.bin", "empty"]);
  assert.ok(seen.every((path) => path.startsWith(`${source}/`)), "paths under the source");
  assert.ok(!seen.some((path) => path.startsWith(`${source}/sub/`)), "sub was entered");

  const back = join(dir.path, "back");
  downloadSync(files, source, back, { filter: (path) => !path.endsWith(".txt") });
  assert.deepEqual(
    Object.keys(await snapshotTree(back)).sort(),
    ["a.bin", "b.bin", "empty", "sub", "sub/deeper", "sub/deeper/d.bin"],
  );
});

Deno.test("sync transfer: a missing source is NotFound naming it, and nothing is made", async () => {
  await using dir = await tempDir();
  await using server = await syncServer();
  const files = server.conn.root.files;

  const missingLocal = join(dir.path, "no-such-local");
  const up = thrown(() => uploadSync(files, missingLocal, join(dir.path, "x")));
  assert.ok(up instanceof Deno.errors.NotFound, `got ${up}`);
  assert.ok((up as Error).message.includes(missingLocal), (up as Error).message);

  const missingRemote = join(dir.path, "no-such-remote");
  const down = thrown(() => downloadSync(files, missingRemote, join(dir.path, "y")));
  assert.ok(down instanceof Deno.errors.NotFound, `got ${down}`);
  assert.ok((down as Error).message.includes(missingRemote), (down as Error).message);
  assert.match((down as Error).message, /remote/);

  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  assert.equal(server.conn.closed, false);
});

Deno.test("sync transfer: a chunkSize that is not a whole number from 1 to 16 MiB is a RangeError", async () => {
  await using dir = await tempDir();
  await using server = await syncServer();
  const files = server.conn.root.files;
  const source = join(dir.path, "f.bin");
  await writeFile(source, randomBytes(100));
  for (const chunkSize of [0, -1, 1.5, 16 * 1024 * 1024 + 1, NaN]) {
    const up = thrown(() => uploadSync(files, source, join(dir.path, "up"), { chunkSize }));
    assert.ok(up instanceof RangeError, `upload with ${chunkSize}: got ${up}`);
    const down = thrown(() => downloadSync(files, source, join(dir.path, "down"), { chunkSize }));
    assert.ok(down instanceof RangeError, `download with ${chunkSize}: got ${down}`);
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), ["f.bin"]);
  assert.equal(server.conn.closed, false);
});

Deno.test("sync transfer: a server listing '../x' and the like is refused, nothing lands outside", async () => {
  await using dir = await tempDir();
  const payload = join(dir.path, "payload.txt");
  await Deno.writeTextFile(payload, "pwned");
  // A server whose files list crafted names, as a hostile or broken one could.
  const command = await scriptCommand(
    dir.path,
    "crafted_server.ts",
    `
import { classic, PERMISSIVE, serve } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
class CraftedFiles extends classic.FileAccess {
  stat(path) {
    return Promise.resolve(
      path === "/crafted"
        ? { kind: "directory", mode: 0o755, size: 0, identity: null }
        : { kind: "file", mode: 0o644, size: 5, identity: null },
    );
  }
  list() {
    const names = ["../escaped.txt", "sub/../../escaped2.txt", "..", "."];
    return Promise.resolve(names.map((name) => ({ name, kind: "file" })));
  }
  async openRead() {
    return new classic.FileChannel(await Deno.open(${JSON.stringify(payload)}));
  }
}
class CraftedService extends classic.ClassicService {
  exposed_files = new CraftedFiles();
}
const server = serve(CraftedService, { ...PERMISSIVE, port: 0, logger: () => {} });
console.log("port " + server.addr.port);
`,
  );
  await using server = await syncServer(command);
  const inbox = join(dir.path, "inbox");
  await Deno.mkdir(inbox);
  const error = thrown(() => downloadSync(server.conn.root.files, "/crafted", join(inbox, "t")));
  assert.ok(error instanceof TypeError, `got ${error}`);
  assert.match((error as Error).message, /refusing to copy "\.\.\/escaped\.txt"/);
  assert.deepEqual([...Deno.readDirSync(inbox)].map((entry) => entry.name), ["t"]);
  assert.deepEqual([...Deno.readDirSync(join(inbox, "t"))], []);
  assert.equal(server.conn.closed, false);
});

Deno.test("sync transfer: a side that returns promises is refused, not raced past", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "src"));
  const made: string[] = [];
  const promising = {
    makeDirectory: (path: string) => {
      made.push(path);
      return Promise.resolve();
    },
  } as unknown as SyncFiles;
  const error = thrown(() => uploadSync(promising, join(dir.path, "src"), "/elsewhere"));
  assert.ok(error instanceof TypeError, `got ${error}`);
  assert.match((error as Error).message, /synchronous netref/);
  assert.deepEqual(made, ["/elsewhere"]);
});

Deno.test("FileAccessSync answers as FileAccess does", async () => {
  await using dir = await tempDir();
  await makeTree(dir.path);
  await Deno.symlink("sub", join(dir.path, "link-to-dir"));
  await Deno.symlink("a.bin", join(dir.path, "link-to-file"));
  await Deno.symlink("nowhere", join(dir.path, "broken-link"));
  const sync = new FileAccessSync();
  const async = new FileAccess();

  assert.deepEqual(sync.list(dir.path), await async.list(dir.path));
  assert.deepEqual(
    sync.list(dir.path).map((entry) => `${entry.name}:${entry.kind}`),
    [
      "a.bin:file",
      "b.bin:file",
      "broken-link:other",
      "empty:directory",
      "link-to-dir:directory",
      "link-to-file:file",
      "sub:directory",
    ],
  );
  for (const name of ["a.bin", "sub", "link-to-dir"]) {
    assert.deepEqual(sync.stat(join(dir.path, name)), await async.stat(join(dir.path, name)));
  }
  assert.throws(() => sync.stat(join(dir.path, "broken-link")), Deno.errors.NotFound);

  sync.makeDirectory(join(dir.path, "made", "deep"));
  sync.makeDirectory(join(dir.path, "made", "deep")); // existing is fine
  const path = join(dir.path, "made", "deep", "f");
  using writer = sync.openWrite(path);
  assert.ok(writer instanceof FileChannelSync);
  writer.write(new TextEncoder().encode("hello, world"));
  writer.close();
  writer.close(); // idempotent
  sync.setMode(path, 0o4751); // set-uid is not copied
  assert.equal(modeOf(path), 0o751);

  using reader = sync.openRead(path);
  const asyncReader = await async.openRead(path);
  try {
    for (const max of [0, -1, 1.5, 64 * 1024 * 1024 + 1]) {
      assert.throws(() => reader.read(max), RangeError);
      await assert.rejects(asyncReader.read(max), RangeError);
    }
  } finally {
    await asyncReader.close();
  }
  assert.equal(new TextDecoder().decode(reader.read(5)!), "hello");
  assert.equal(new TextDecoder().decode(reader.read(100)!), ", world");
  assert.equal(reader.read(100), null);
});

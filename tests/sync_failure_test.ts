/**
 * The synchronous mode when things go wrong around it: the I/O worker hangs
 * or fails, permissions, a forgotten `close()`, a platform without
 * `SharedArrayBuffer`; and the bundled worker is what its sources make.
 */

import assert from "node:assert/strict";
import { ConnectionClosedError } from "../mod.ts";
import { openSync } from "../core/sync/connect.ts";
import { IoWorker } from "../core/sync/io_worker.ts";
import { WORKER_SOURCE } from "../core/sync/worker_source.ts";
import { workerSourceModule } from "../core/sync/build_worker_source.ts";
import { startSyncServer } from "./_sync.ts";
import { MOD_URL, runToEnd, scriptCommand, tempDir } from "./_classic.ts";

Deno.test("sync worker: the committed bundle is what worker_main.ts and its imports make", async () => {
  const fresh = await workerSourceModule();
  const committed = await Deno.readTextFile(
    new URL("../core/sync/worker_source.ts", import.meta.url),
  );
  assert.ok(
    fresh === committed,
    "core/sync/worker_source.ts is stale: run `deno task worker-source`",
  );
});

/** The real worker, made to misbehave once it has opened a connection. */
function misbehaving(what: string): string {
  return `${WORKER_SOURCE}
import { parentPort as port } from "node:worker_threads";
port.on("message", () => setTimeout(() => { ${what} }, 1000));
`;
}

Deno.test("sync worker: a worker that stops responding is detected by its heartbeat", async () => {
  await using server = await startSyncServer();
  // Blocked for good (a deadlock): no heartbeat, no I/O, and no CPU spent.
  const worker = new IoWorker(
    misbehaving("Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);"),
    1500,
  );
  const conn = openSync({ kind: "tcp", host: "127.0.0.1", port: server.port }, {}, worker);
  assert.equal(conn.root.add(1, 2), 3);
  assert.throws(
    () => conn.root.sleep(20_000),
    (e: Error) => e instanceof ConnectionClosedError && /stopped responding/.test(e.message),
  );
  assert.equal(conn.closed, true);
});

Deno.test("sync worker: an error inside the worker ends its connections at once", async () => {
  await using server = await startSyncServer();
  const worker = new IoWorker(misbehaving("throw new Error('a bug in the worker');"), 30_000);
  const conn = openSync({ kind: "tcp", host: "127.0.0.1", port: server.port }, {}, worker);
  assert.throws(
    () => conn.root.sleep(20_000),
    (e: Error) => e instanceof ConnectionClosedError && /I\/O worker failed/.test(e.message),
  );
});

/** Runs a child script that connects synchronously to `port`, with `flags`. */
async function child(source: string, port: number, flags: string[]) {
  await using dir = await tempDir("rdc-sync-child-");
  const [deno, , , ...rest] = await scriptCommand(dir.path, "child.ts", source);
  // scriptCommand gives `deno run --allow-all --quiet …`: swap in the flags under test.
  const cmd = [deno, "run", ...flags, ...rest.filter((arg) => arg !== "--allow-all"), String(port)];
  return await runToEnd(cmd);
}

Deno.test("sync worker: needs no --allow-read, and a forgotten close() does not keep the process", async () => {
  await using server = await startSyncServer();
  const { code, stdout, stderr } = await child(
    `import { connectSync } from ${JSON.stringify(MOD_URL)};
     const conn = connectSync("127.0.0.1", Number(Deno.args[0]));
     console.log(conn.root.add(2, 3));
     // no conn.close(): the process must still exit`,
    server.port,
    ["--allow-net=127.0.0.1", "--quiet"],
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), "5");
});

Deno.test("sync worker: without SharedArrayBuffer, connectSync says so", async () => {
  await using server = await startSyncServer();
  const { code, stdout, stderr } = await child(
    `import { connectSync } from ${JSON.stringify(MOD_URL)};
     try {
       connectSync("127.0.0.1", Number(Deno.args[0]));
     } catch (error) {
       console.log(error.message);
     }`,
    server.port,
    ["--allow-net=127.0.0.1", "--quiet", "--v8-flags=--enable-sharedarraybuffer-per-context"],
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /the synchronous mode needs SharedArrayBuffer/);
});

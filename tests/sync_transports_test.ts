/**
 * The synchronous mode over every carrier the async mode has: unix
 * sockets, TLS, token authentication, a child's stdio; and classic mode.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AuthenticationError,
  classic,
  connectSubprocessSync,
  connectSync,
  connectTlsSync,
  connectUnixSync,
  TimeoutError,
} from "../mod.ts";
import { certificates } from "./_certs.ts";
import { startSyncServer } from "./_sync.ts";
import { tempDir } from "./_classic.ts";

Deno.test("sync transports: a unix socket", async () => {
  await using dir = await tempDir("rdc-sync-unix-");
  const path = join(dir.path, "rdc.sock");
  await using _server = await startSyncServer({ unix: path });
  using conn = connectUnixSync(path);
  assert.equal(conn.root.add(20, 22), 42);
  assert.match(conn.description, /unix/);
});

Deno.test("sync transports: TLS, with the server's certificate checked", async () => {
  const c = await certificates();
  await using server = await startSyncServer({ tls: c.server });
  using conn = connectTlsSync("localhost", server.tlsPort!, { caCerts: [c.ca] });
  assert.equal(conn.root.add(1, 2), 3);
  assert.match(conn.description, /tls/);
  assert.throws(
    () => connectTlsSync("localhost", server.tlsPort!, { caCerts: [c.rogueCa] }),
    /TLS connection to localhost:\d+ failed/,
  );
});

Deno.test("sync transports: a token, right and wrong", async () => {
  await using server = await startSyncServer({ token: "s3cret" });
  using conn = connectSync("127.0.0.1", server.port, { token: "s3cret" });
  assert.equal(conn.root.add(2, 2), 4);
  assert.throws(
    () => connectSync("127.0.0.1", server.port, { token: "wrong" }),
    AuthenticationError,
  );
});

Deno.test("sync transports: a child's stdio (the default classic server)", () => {
  using conn = classic.connectSubprocessSync();
  assert.equal(conn.eval("1 + 1"), 2);
  assert.match(conn.description, new RegExp(`subprocess ${conn.eval("Deno.pid")} `));
  assert.equal(conn.peerService, "Classic");
  assert.throws(() => conn.timed(conn.root.eval, 100)("new Promise(() => {})"), TimeoutError);
});

Deno.test("sync transports: connectSubprocessSync refuses an empty command", () => {
  assert.throws(() => connectSubprocessSync([]), TypeError);
});

Deno.test("sync classic: modules, globals, eval, execute, namespace, teleport, obtain", async () => {
  await using server = await startSyncServer();
  using conn = classic.connectSync("127.0.0.1", server.classicPort);
  const hostname = conn.modules["node:os"].hostname();
  assert.equal(typeof hostname, "string");
  assert.equal(conn.modules["node:path"].posix.join("a", "b"), "a/b");
  assert.equal(conn.eval("1+1"), 2);
  conn.execute("const greeting = 'hi'; function twice(x) { return 2 * x }");
  assert.equal(conn.namespace.greeting, "hi");
  assert.equal(conn.namespace.twice(21), 42);
  conn.namespace.fromClient = 7;
  assert.equal(conn.eval("fromClient * 6"), 42);
  assert.equal(conn.globals.Math.max(1, 5, 3), 5);
  const square = conn.teleport((x: number) => x * x);
  assert.equal(square(9), 81);
  const pid = conn.eval("Deno.pid");
  assert.notEqual(pid, Deno.pid);
  const date = conn.eval("new Map([['a', 1]])");
  assert.deepEqual(conn.obtain(date), new Map([["a", 1]]));
  assert.throws(() => conn.eval("1+"), SyntaxError);
});

Deno.test("sync: one I/O worker serves every synchronous connection of the process", async () => {
  await using server = await startSyncServer();
  const { IoWorker } = await import("../core/sync/io_worker.ts");
  using a = connectSync("127.0.0.1", server.port);
  const worker = IoWorker.get();
  using b = connectSync("127.0.0.1", server.port);
  assert.equal(IoWorker.get(), worker);
  assert.equal(a.root.add(1, 1) + b.root.add(2, 2), 6);
});

Deno.test("sync: releases of disposed netrefs reach the server with the next request", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  const Point = root.Point;
  const before = root.exports();
  const points = [];
  for (let i = 0; i < 50; i++) points.push(new Point(i, i));
  assert.equal(root.exports(), before + 50);
  for (const point of points) point[Symbol.dispose]();
  // No turn of the event loop: the RELEASE goes before this request.
  assert.equal(root.exports(), before);
});

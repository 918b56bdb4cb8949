/**
 * Classic servers and transports (RPyC's test_threaded_server and the stdio
 * side of test_classic): `classic.serve` over TCP and unix sockets with many
 * concurrent clients, `connectSubprocess` with custom commands, a child's
 * exit or death as seen by pending calls, children that are not rdc servers,
 * stdout kept clean in a stdio server, `serveStdio` with a custom service,
 * and `serveIsolated` (a process per connection).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  classic,
  ConnectionClosedError,
  connectSubprocess,
  ProtocolError,
  serveIsolated,
} from "../mod.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import {
  classicChildWithStderr,
  MOD_URL,
  scriptCommand,
  SERVER_MAIN_PATH,
  tempDir,
  withStderrTo,
} from "./_classic.ts";

type Conn = classic.ClassicConnection;

/** The classic operations of RPyC's server tests, on any classic connection. */
async function classicOps(conn: Conn, serverPid: number): Promise<void> {
  assert.equal(conn.peerService, "Classic");
  assert.equal(await conn.globals.Deno.pid, serverPid);
  assert.equal(await conn.modules["node:path"].posix.join("x", "y"), "x/y");
  await conn.execute("let total = 0; function add(n) { total += n; return total; }");
  assert.equal(await conn.eval("add(2) + add(3)"), 7);
  assert.equal(await conn.namespace.total, 5);
  const square = await conn.teleport((n: number) => n * n);
  assert.equal(await square(12), 144);
  const remoteList = await conn.eval(
    "new (class L { *[Symbol.iterator]() { yield 1; yield 2; } })()",
  );
  let sum = 0;
  for await (const n of remoteList) sum += n;
  assert.equal(sum, 3);
  assert.ok(await conn.ping() >= 0);
}

Deno.test("classic server: classic operations over TCP and over a unix socket", async (t) => {
  await t.step("TCP", async () => {
    await using server = classic.serve({ port: 0, logger: quietLogger() });
    const { hostname, port } = server.addr as Deno.NetAddr;
    assert.equal(hostname, "127.0.0.1", "loopback by default");
    await using conn = await classic.connect("127.0.0.1", port);
    await classicOps(conn, Deno.pid);
    assert.match(conn.description, /tcp/);

    // The same server through connectStream over a socket we opened ourselves.
    const socket = await Deno.connect({ hostname: "127.0.0.1", port });
    await using streamed = await classic.connectStream(socket, { description: "my socket" });
    await classicOps(streamed, Deno.pid);
    assert.equal(streamed.description, "my socket");
  });

  await t.step("unix socket", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "classic.sock");
    await using server = classic.serve({ path, logger: quietLogger() });
    assert.equal((server.addr as Deno.UnixAddr).path, path);
    await using conn = await classic.connectUnix(path);
    await classicOps(conn, Deno.pid);
    await waitFor(() => server.connections.size === 1);
  });

  await t.step("a stdio child started with a custom command", async () => {
    const cmd = [Deno.execPath(), "run", "--allow-all", "--quiet", SERVER_MAIN_PATH];
    await using dir = await tempDir();
    const conn = await classic.connectSubprocess(cmd, { cwd: dir.path, env: { RDC_TEST: "v" } });
    try {
      await classicOps(conn, conn.process!.pid);
      assert.equal(await conn.eval("Deno.cwd()"), dir.path);
      assert.equal(await conn.globals.Deno.env.get("RDC_TEST"), "v");
    } finally {
      await conn.close();
    }
    assert.equal((await conn.process!.status).code, 0);
  });
});

Deno.test("classic server: 20 concurrent clients are served at the same time", async () => {
  const clients = 20;
  const global = globalThis as { rdcConcurrency?: { inFlight: number; max: number } };
  global.rdcConcurrency = { inFlight: 0, max: 0 };
  await using server = classic.serve({ port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const conns: Conn[] = [];
  try {
    for (let i = 0; i < clients; i++) conns.push(await classic.connect("127.0.0.1", port));
    await waitFor(() => server.connections.size === clients);
    // Each call waits (boundedly) until every client's call is in flight, then sleeps
    // 200 ms: a server that served one call at a time could never reach the barrier.
    const results = await Promise.all(conns.map((conn, i) =>
      conn.eval(`(async () => {
        const state = globalThis.rdcConcurrency;
        state.inFlight++;
        state.max = Math.max(state.max, state.inFlight);
        for (let i = 0; i < 1000 && state.max < ${clients}; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, 200));
        state.inFlight--;
        return ${i};
      })()`)
    ));
    assert.deepEqual(results, Array.from({ length: clients }, (_, i) => i));
    assert.equal(global.rdcConcurrency.max, clients, "all calls were in flight at once");
    assert.equal(global.rdcConcurrency.inFlight, 0);
  } finally {
    await Promise.all(conns.map((conn) => conn.close()));
    delete global.rdcConcurrency;
  }
  await waitFor(() => server.connections.size === 0, 5000, "the server to drop every client");
});

Deno.test("classic server: a child's exit rejects pending calls with its exit status", async (t) => {
  await t.step("Deno.exit(3)", async () => {
    const conn = await classic.connectSubprocess();
    const hanging = rejection(conn.eval("new Promise(() => {})"));
    const exiting = await rejection(conn.eval("Deno.exit(3)"));
    assert.ok(exiting instanceof ConnectionClosedError, `got ${exiting}`);
    assert.match((exiting as Error).message, /exited with status 3/);
    assert.match((exiting as Error).message, new RegExp(`subprocess ${conn.process!.pid}`));
    const other = await hanging;
    assert.ok(other instanceof ConnectionClosedError, `got ${other}`);
    assert.match((other as Error).message, /exited with status 3/);
    await conn.finished;
    assert.equal(conn.closed, true);
    assert.match(String(conn.closeReason), /exited with status 3/);
    const later = await rejection(conn.eval("1"));
    assert.ok(later instanceof ConnectionClosedError, `got ${later}`);
    await conn.close();
    assert.equal((await conn.process!.status).code, 3);
  });

  await t.step("SIGKILL", async () => {
    const conn = await classic.connectSubprocess();
    const hanging = rejection(conn.eval("new Promise(() => {})"));
    assert.equal(await conn.eval("1 + 1"), 2);
    conn.process!.kill("SIGKILL");
    const error = await hanging;
    assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
    assert.match((error as Error).message, /killed by SIGKILL/);
    await conn.close();
    assert.equal((await conn.process!.status).signal, "SIGKILL");
  });
});

Deno.test("classic server: a child that is not an rdc server fails clearly", async (t) => {
  await t.step("a command that does not exist", async () => {
    const program = "/nonexistent/rdc-no-such-server";
    const error = await rejection(classic.connectSubprocess([program, "--stdio"]));
    assert.ok(error instanceof Deno.errors.NotFound, `got ${error}`);
    assert.ok((error as Error).message.includes(program), (error as Error).message);
    const empty = await rejection(classic.connectSubprocess([]));
    assert.ok(empty instanceof TypeError, `got ${empty}`);
  });

  await t.step("a child that exits at once", async () => {
    const error = await rejection(classic.connectSubprocess(["true"]));
    assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
    assert.match((error as Error).message, /\(true\) exited with status 0/);
  });

  await t.step("a child that echoes our handshake (cat)", async () => {
    const error = await rejection(classic.connectSubprocess(["cat"]));
    assert.ok(error instanceof ProtocolError, `got ${error}`);
    assert.match((error as Error).message, /expected service 'Classic'/);
  });

  await t.step("a child that prints text instead of a handshake", async () => {
    const cmd = [Deno.execPath(), "eval", "console.log('usage: some-other-tool [options]')"];
    const error = await rejection(classic.connectSubprocess(cmd));
    assert.ok(error instanceof ProtocolError, `got ${error}`);
    assert.match((error as Error).message, /not an rdc peer/);
  });
});

/** Ways a stdio server's code may print; each must end up on stderr, never in the frames. */
const NOISE: Record<string, string> = {
  "console.log": "console.log('noise-log')",
  "console.info": "console.info('noise-info')",
  "console.debug": "console.debug('noise-debug')",
  "console.dirxml": "console.dirxml('noise-dirxml')",
  "console.group": "console.group('noise-group'); console.log('noise-grouped'); console.groupEnd()",
  "console.dir": "console.dir({ noise: 'noise-dir' })",
  "console.table": "console.table([{ noise: 'noise-table' }])",
  "console.count": "console.count('noise-count')",
  "console.time/timeEnd": "console.time('noise-time'); console.timeEnd('noise-time')",
  "console.timeLog": "console.time('noise-tl'); console.timeLog('noise-tl', 'x')",
  "Deno.stdout.write": "await Deno.stdout.write(new TextEncoder().encode('noise-write\\n'))",
  "Deno.stdout.writeSync": "Deno.stdout.writeSync(new TextEncoder().encode('noise-sync\\n'))",
  "node:process stdout": "(await import('node:process')).default.stdout.write('noise-node\\n')",
};

Deno.test("classic server: console output in a stdio server cannot corrupt the protocol", async () => {
  await using dir = await tempDir();
  const stderrFile = join(dir.path, "stderr.txt");
  // A fresh child per way of printing, so one that corrupts the stream does not hide the rest.
  const corrupted = (await Promise.all(
    Object.entries(NOISE).map(async ([what, code]) => {
      const conn = await classicChildWithStderr(stderrFile, { logger: quietLogger() });
      try {
        await conn.execute(code);
        for (let i = 0; i < 5; i++) assert.equal(await conn.eval(`${i} * 2`), i * 2);
        assert.equal((await conn.eval("'x'.repeat(70000)")).length, 70000);
        return [];
      } catch (error) {
        return [`${what}: ${(error as Error).message}`];
      } finally {
        await conn.close();
      }
    }),
  )).flat();
  assert.deepEqual(corrupted, [], "these wrote to the stdout that carries frames");
  const printed = await Deno.readTextFile(stderrFile);
  for (const text of ["noise-log", "noise-info", "noise-debug", "noise-group", "noise-write"]) {
    assert.ok(printed.includes(text), `'${text}' went to the child's stderr`);
  }
});

Deno.test("classic server: serveStdio with a custom service in a child script", async () => {
  await using dir = await tempDir();
  const stderrFile = join(dir.path, "stderr.txt");
  const script = await scriptCommand(
    dir.path,
    "greeter.ts",
    `import { serveStdio, Service } from ${JSON.stringify(MOD_URL)};
class GreeterService extends Service {
  exposed_greet(name: string): string {
    console.log("greeting", name); // must not reach stdout
    return "hello " + name + " from " + Deno.pid;
  }
  async exposed_twice(fn: (n: number) => Promise<number>, n: number): Promise<number> {
    return await fn(await fn(n));
  }
}
const conn = await serveStdio(GreeterService);
await conn.finished;
console.error("greeter-finished");
`,
  );
  const wrapped = withStderrTo(stderrFile, script);
  const conn = await connectSubprocess(wrapped.cmd, {
    ...wrapped.options,
    expectService: "Greeter",
  });
  try {
    assert.equal(conn.peerService, "Greeter");
    assert.equal(await conn.root.greet("rdc"), `hello rdc from ${conn.process.pid}`);
    assert.equal(await conn.root.twice((n: number) => n * 3, 2), 18, "callbacks into the parent");
  } finally {
    await conn.close();
  }
  assert.equal((await conn.process.status).code, 0);
  const printed = await Deno.readTextFile(stderrFile);
  assert.match(printed, /greeting rdc/);
  assert.match(printed, /greeter-finished/, "the child ended when we closed");

  const wrongService = await rejection(
    connectSubprocess(script, { expectService: "Classic", logger: quietLogger() }),
  );
  assert.ok(wrongService instanceof ProtocolError, `got ${wrongService}`);
  assert.match((wrongService as Error).message, /expected service 'Classic'.*'Greeter'/);
});

Deno.test("classic server: serveIsolated gives each connection its own process", async () => {
  await using server = serveIsolated(classic.defaultServerCommand(), {
    port: 0,
    logger: quietLogger(),
  });
  const port = (server.addr as Deno.NetAddr).port;
  await using one = await classic.connect("127.0.0.1", port);
  await using two = await classic.connect("127.0.0.1", port);
  const [pidOne, pidTwo] = [await one.globals.Deno.pid, await two.globals.Deno.pid];
  assert.notEqual(pidOne, pidTwo);
  assert.ok(pidOne !== Deno.pid && pidTwo !== Deno.pid);
  assert.equal(server.children.size, 2);

  await one.execute("globalThis.isolatedMarker = 1");
  assert.equal(
    await two.eval("typeof globalThis.isolatedMarker"),
    "undefined",
    "no shared globals",
  );

  const crash = await rejection(one.eval("Deno.exit(9)"));
  assert.ok(crash instanceof ConnectionClosedError, `got ${crash}`);
  assert.equal(await two.eval("40 + 2"), 42, "the other client is unaffected");
  await waitFor(() => server.children.size === 1, 5000, "the crashed child to be reaped");
});

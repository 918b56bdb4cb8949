/**
 * Pool mode (`classic.servePool`, `rdc classic -m pool`): connections spread
 * over worker processes, least loaded first; clients of one worker share its
 * globals; a CPU-bound call stalls only its own worker (shown by causality:
 * the busy call spins until a client of the other worker has been answered);
 * a worker that dies is replaced; closing ends every worker.
 */

import assert from "node:assert/strict";
import { classic, ConnectionClosedError } from "../mod.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import { exists, isAlive, poll, RdcProcess, WAIT_MS, within } from "./_cli.ts";

function connectTo(port: number) {
  return classic.connect("127.0.0.1", port, { logger: quietLogger() });
}

Deno.test("servePool: least-loaded workers, shared globals per worker, a busy worker stalls no other", async () => {
  await using server = classic.servePool({ port: 0, workers: 2, logger: quietLogger() });
  await server.ready;
  const { port } = server.addr as Deno.NetAddr;
  assert.equal(server.workers.length, 2);

  await using a = await connectTo(port);
  await using b = await connectTo(port);
  const [pidA, pidB] = await Promise.all([a.globals.Deno.pid, b.globals.Deno.pid]);
  assert.notEqual(pidA, pidB, "the second client went to the busy worker");
  assert.deepEqual([pidA, pidB].sort(), [...server.workers].sort());
  assert.ok(![pidA, pidB].includes(Deno.pid), "a client is served in the pool's own process");

  // A third client goes to the least loaded worker after the last one chosen: A's again,
  // and shares its globals (each connection keeps its own namespace).
  await a.execute("globalThis.shared = 'set by a'");
  await using c = await connectTo(port);
  assert.equal(await c.globals.Deno.pid, pidA);
  assert.equal(await c.eval("globalThis.shared"), "set by a");
  assert.equal(await b.eval("typeof globalThis.shared"), "undefined");

  // A spins, CPU-bound, until a marker file appears; B is answered meanwhile, then writes it.
  const dir = await Deno.makeTempDir({ prefix: "rdc-pool-test-" });
  try {
    const busy = a.eval(`(() => {
      Deno.writeTextFileSync(${JSON.stringify(`${dir}/started`)}, "");
      const end = Date.now() + ${WAIT_MS};
      while (Date.now() < end) {
        try { Deno.statSync(${JSON.stringify(`${dir}/released`)}); return "released"; } catch {}
      }
      return "gave up";
    })()`);
    await poll(async () => await exists(`${dir}/started`), WAIT_MS, () => "A never started");
    await b.ping();
    assert.equal(await b.eval("6 * 7"), 42);
    await b.execute(`Deno.writeTextFileSync(${JSON.stringify(`${dir}/released`)}, "")`);
    assert.equal(await busy, "released", "B was answered only after A's busy call ended");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("servePool: a worker that dies is replaced; close ends every worker", async () => {
  const logger = quietLogger();
  const server = classic.servePool({ port: 0, workers: 1, logger });
  await server.ready;
  const { port } = server.addr as Deno.NetAddr;
  const [first] = server.workers;
  const doomed = await connectTo(port);
  const crash = await rejection(doomed.eval("Deno.exit(3)"));
  assert.ok(crash instanceof ConnectionClosedError, String(crash));
  await waitFor(() => server.workers[0] !== first, WAIT_MS, "a new worker");
  assert.ok(logger.lines.some((line) => /^warn: worker \d+ exited with status 3/.test(line)));
  {
    await using conn = await connectTo(port);
    assert.equal(await conn.globals.Deno.pid, server.workers[0]);
    // What clients' code prints in a worker is logged, naming the worker.
    await conn.execute("console.log('hello from a worker')");
    const line = `info: worker ${server.workers[0]}: hello from a worker`;
    await waitFor(() => logger.lines.includes(line), WAIT_MS, line);
  }
  const workers = [...server.workers];
  await server.close();
  await within(server.finished, WAIT_MS, "the pool to finish");
  for (const pid of workers) assert.ok(!isAlive(pid), `worker ${pid} outlived the pool`);
  assert.throws(() => classic.servePool({ port: 0, workers: 0 }), RangeError);
});

Deno.test("rdc classic -m pool --workers 2: logs the worker of each connection; SIGTERM ends all", async () => {
  await using proc = new RdcProcess(["classic", "-m", "pool", "--workers", "2", "-p", "0"]);
  const port = Number((await proc.waitStderr(/serving pool on 127\.0\.0\.1:(\d+)/))[1]);
  const pids: number[] = [];
  for (let i = 0; i < 2; i++) {
    await using conn = await connectTo(port);
    pids.push(await conn.globals.Deno.pid);
    await proc.waitStderr(new RegExp(`connection from tcp [^ ]+: served by worker ${pids[i]}`));
  }
  assert.notEqual(pids[0], pids[1]);
  assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
  await poll(() => pids.every((pid) => !isAlive(pid)), WAIT_MS, () => "workers outlived rdc");
});

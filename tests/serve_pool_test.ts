/**
 * `serve(service, { pool })`: a program that serves its own service class
 * with a pool re-runs itself as each worker (tests/_pool_service.ts). Its
 * clients spread over the workers, share the globals of theirs, and a
 * CPU-bound call stalls no client of another worker (shown by causality: the
 * busy call spins until a client of the other worker has been answered).
 * Closing the pool ends every worker; workers get no permission the primary
 * lacks; a worker that fails before it serves closes the pool.
 */

import assert from "node:assert/strict";
import { connect, type Connection, serve, Service } from "../mod.ts";
import { quietLogger, rejection } from "./_helpers.ts";
import { exists, isAlive, poll, RdcProcess, WAIT_MS } from "./_cli.ts";

const FIXTURE = "tests/_pool_service.ts";

/** The fixture run with `flags`, and the port it prints. */
async function startFixture(
  flags: string[],
  options: { env?: Record<string, string>; args?: string[] } = {},
): Promise<{ proc: RdcProcess; port: number }> {
  const proc = new RdcProcess([...flags, FIXTURE, ...options.args ?? []], {
    command: [Deno.execPath(), "run"],
    env: options.env,
  });
  const port = Number((await proc.waitStdout(/^port (\d+)$/m))[1]);
  return { proc, port };
}

function connectTo(port: number): Promise<Connection> {
  return connect("127.0.0.1", port, { logger: quietLogger() });
}

Deno.test("serve({ pool: 2 }): a program's own service, spread over 2 workers that end with it", async () => {
  const { proc, port } = await startFixture(["--allow-all", "--v8-flags=--expose-gc"]);
  await using _proc = proc;
  await using a = await connectTo(port);
  await using b = await connectTo(port);
  const pidA: number = await a.root.pid();
  const pidB: number = await b.root.pid();
  assert.notEqual(pidA, pidB, "the second client went to the busy worker");
  assert.ok(![pidA, pidB].includes(proc.child.pid), "a client is served by the primary");
  assert.ok(await a.root.hasGc(), "the primary's V8 flags were not carried over");

  // A third client goes to A's worker (least loaded, after the last chosen) and shares its globals.
  await using c = await connectTo(port);
  assert.equal(await c.root.pid(), pidA);
  assert.equal(await a.root.count(), 1);
  assert.equal(await c.root.count(), 2);
  assert.equal(await b.root.count(), 1);

  // A spins, CPU-bound, until a marker file appears; B is answered meanwhile, then writes it.
  const dir = await Deno.makeTempDir({ prefix: "rdc-serve-pool-test-" });
  try {
    const [started, released] = [`${dir}/started`, `${dir}/released`];
    const busy = a.root.spin(started, released, WAIT_MS);
    await poll(() => exists(started), WAIT_MS, () => "A never started");
    assert.equal(await b.root.count(), 2);
    await Deno.writeTextFile(released, "");
    assert.equal(await busy, "released", "B was answered only after A's busy call ended");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
  assert.match(proc.stdout, /^closed$/m);
  await poll(() => !isAlive(pidA) && !isAlive(pidB), WAIT_MS, () => "workers outlived the pool");
});

Deno.test("serve({ pool }): workers get no permission the primary lacks", async () => {
  const home = await Deno.makeTempDir({ prefix: "rdc-serve-pool-home-" });
  const secret = await Deno.makeTempFile({ prefix: "rdc-serve-pool-secret-" });
  try {
    const primaries = [
      // Reading only its temporary directory (where the pool's sockets go) and Deno; net in full,
      // as Deno asks it for each (temporary) unix socket.
      [`--allow-read=${home},${Deno.execPath()}`, "--allow-write", "--allow-net", "--allow-run"],
      // Everything but reading the secret.
      ["--allow-all", `--deny-read=${secret}`],
    ];
    for (const flags of primaries) {
      const { proc, port } = await startFixture(flags, { env: { TMPDIR: home } });
      await using _proc = proc;
      await using conn = await connectTo(port);
      for (const name of ["write", "net", "run"]) {
        assert.equal(await conn.root.permission(name), "granted", `${flags}: ${name}`);
      }
      const lacking = flags[0] === "--allow-all" ? ["read"] : ["read", "env", "sys", "ffi"];
      for (const name of lacking) {
        assert.notEqual(await conn.root.permission(name), "granted", `${flags}: ${name}`);
      }
      const denied = await rejection(conn.root.read(secret));
      assert.match(String(denied), /NotCapable|PermissionDenied/, `${flags}: read the secret`);
      assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
    }
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(secret);
  }
});

Deno.test("serve({ pool }): a worker that fails before it serves closes the pool, naming why", async () => {
  await using proc = new RdcProcess(["--allow-all", FIXTURE, "fail-in-workers"], {
    command: [Deno.execPath(), "run"],
  });
  const [line] = await proc.waitStdout(/^not ready: .*$/m);
  assert.match(line, /worker \d+ exited with status 1 before it listened/);
  assert.match(proc.stdout, /this worker fails on purpose/);
  assert.equal((await proc.wait()).code, 0, proc.output());
  assert.match(proc.stdout, /^closed$/m);
});

Deno.test("serve({ pool }): refused for a program that is no module file, and with oneShot", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  await using proc = new RdcProcess([
    "eval",
    `import { serve, Service } from ${JSON.stringify(mod)};
     try { serve(class extends Service {}, { pool: 2, port: 0 }); }
     catch (error) { console.log(error.name + ": " + error.message); }`,
  ], { command: [Deno.execPath()] });
  assert.equal((await proc.wait()).code, 0, proc.output());
  assert.match(proc.stdout, /^TypeError: serve: pool mode re-runs the program's main module/m);
  assert.match(proc.stdout, /\$deno\$eval\.mts is not one/);
  assert.throws(
    () => serve(class extends Service {}, { pool: 2, port: 0, oneShot: true }),
    /a pool cannot be oneShot/,
  );
  assert.throws(() => serve(class extends Service {}, { pool: 0, port: 0 }), RangeError);
});

/**
 * Python RPyC clients (5.3 and 6.0.2) against Deno: a service served with
 * `python.serve` (`rpyc.connect`) and classic mode (`rpyc.classic.connect`).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { python, type PythonConnection } from "../core/python/mod.ts";
import { pythonTest, type RpycVersion, runPython } from "./_python.ts";
import { quietLogger } from "./_helpers.ts";
import { RdcProcess } from "./_cli.ts";

const CLIENT = fileURLToPath(new URL("./python/client.py", import.meta.url));

/** Runs tests/python/client.py in `mode` against `port`; its JSON output. */
function runClient(v: RpycVersion, mode: string, port: number): Promise<string> {
  const argv = JSON.stringify(["client.py", mode, String(port)]);
  return runPython(
    v,
    `import sys; sys.argv = ${argv}; exec(open(${JSON.stringify(CLIENT)}).read())`,
  );
}

class Counter {
  value = 0;
  incr(n = 1): number {
    return this.value += n;
  }
}

/** A resource Python uses with `with`: its disposer logs the exception the block raised. */
class Resource {
  constructor(readonly name: string, readonly log: [string, string | null][]) {}
  async [Symbol.asyncDispose](error?: unknown): Promise<void> {
    this.log.push([this.name, error === undefined ? null : await python.repr(error)]);
  }
}

class DemoService {
  #conn: PythonConnection | undefined;
  onConnect(conn: PythonConnection): void {
    this.#conn = conn;
  }
  exposed_add(a: number, b: number): number {
    return a + b;
  }
  exposed_echo(value: unknown): unknown {
    return value;
  }
  async exposed_slow_add(a: number, b: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return a + b;
  }
  exposed_counter = new Counter();
  exposed_get_list(): unknown {
    return python.ref([10, 20, 30]);
  }
  exposed_get_map(): Map<string, number> {
    return new Map([["a", 1], ["b", 2]]);
  }
  exposed_fail(kind: string): never {
    if (kind === "type") throw new TypeError("bad type from Deno");
    if (kind === "key") throw new python.PythonError("KeyError", ["missing"]);
    if (kind === "range") throw new RangeError("out of range");
    throw new Error("plain Error from Deno");
  }
  async exposed_call_me(fn: (x: number) => Promise<number>, x: number): Promise<number> {
    return await fn(x) + 400;
  }
  async exposed_bounce(fn: (n: number) => Promise<number>, n: number): Promise<number> {
    return n === 0 ? 0 : 1 + await fn(n - 1);
  }
  exposed_disposals: [string, string | null][] = [];
  exposed_resource(name: string): Resource {
    return new Resource(name, this.exposed_disposals);
  }
  exposed_exports(): number {
    return this.#conn!.stats().exports;
  }
  _secret = 1;
}

pythonTest("a Python client uses a Deno service", async (_t, v) => {
  await using server = python.serve(DemoService, {
    port: 0,
    allowPublicAttrs: true,
    logger: quietLogger(),
  });
  const port = (server.addr as Deno.NetAddr).port;
  const seen = JSON.parse(await runClient(v, "service", port));
  assert.equal(seen.add, 3);
  assert.equal(seen.big, String(2n ** 100n));
  // A Python float that is integral arrives as a JS number and goes back as an int.
  assert.equal(seen.echo, "(1, b'x', 's', None, (1, 2), frozenset({3}))");
  assert.equal(seen.slow_add, 3);
  assert.deepEqual(seen.counter, [6, "deno.Counter", "Counter { value: 6 }"]);
  assert.deepEqual(seen.list, [true, 3, 20, 30, true]);
  assert.deepEqual(seen.list_after, [10, 20, 30, 40]);
  assert.deepEqual(seen.map, [true, 1, 2, ["a", "b"], true, "default"]);
  assert.deepEqual(seen.map_missing, ["KeyError", "missing"]);
  assert.deepEqual(seen.failures, [
    ["TypeError", "bad type from Deno"],
    ["KeyError", "missing"],
    ["ValueError", "out of range"],
    ["deno.Error", "plain Error from Deno"],
  ]);
  assert.equal(seen.call_me, 440);
  assert.match(seen.secret, /cannot access '_secret'/);
  assert.deepEqual(seen.hasattr, [true, false]);
  assert.equal(seen.dir, true);
  assert.deepEqual(seen.eq, [true, true]);
  assert.equal(seen.chain, 10);
  assert.deepEqual(seen.frames, [3000, 3001, 64000, 64001, 1 << 20]);
  // `with` on a Deno object with a disposer: the disposer runs, with the block's exception.
  assert.equal(seen.with_inside, "quiet");
  assert.equal(seen.with_raised, "boom");
  // RPyC sends `__exit__`'s first argument only: the exception's class.
  assert.deepEqual(seen.disposals, [["quiet", null], ["loud", "<class 'ValueError'>"]]);
  // An object without a disposer is no context manager (Python's own words for it).
  assert.deepEqual(seen.with_plain, [
    "TypeError",
    "'deno.Counter' object does not support the context manager protocol",
  ]);
  assert.equal(seen.exit_plain, "'deno.Counter' object has no attribute '__exit__'");
  // The root, and the bound method `exports` while Python calls it: every other reference
  // Python held came back with its DELs.
  assert.equal(seen.exports, 2);
});

pythonTest("a Python client of a Deno service under the default policy", async (_t, v) => {
  await using server = python.serve(DemoService, { port: 0, logger: quietLogger() });
  const seen = JSON.parse(await runClient(v, "plain", (server.addr as Deno.NetAddr).port));
  assert.equal(seen.add, 3);
  assert.equal(seen.incr, "cannot access 'incr'");
  assert.equal(seen.list, 3);
  // Blocked names are an AttributeError for Python, not a broken connection.
  assert.deepEqual(seen.hasattr, [true, true, false, false, false]);
  assert.equal(seen.after, 4);
});

pythonTest("rpyc.classic.connect to Deno's classic root", async (_t, v) => {
  await using server = python.classic.serve({ port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const seen = JSON.parse(await runClient(v, "classic", port));
  assert.equal(seen.eval, String(2n ** 100n));
  assert.equal(seen.hits, 3);
  assert.equal(seen.hostname, Deno.hostname());
  assert.equal(seen.max, 9);
  assert.equal(seen.contains, true);
});

pythonTest("rdc classic --rpyc serves Python's rpyc.classic.connect", async (_t, v) => {
  await using proc = new RdcProcess(["classic", "--rpyc", "--port", "0"]);
  const match = await proc.waitStderr(/serving RPyC classic on 127\.0\.0\.1:(\d+)/);
  const out = await runPython(
    v,
    `import rpyc; k = rpyc.classic.connect("127.0.0.1", ${match[1]}); ` +
      `print(k.eval("6 * 7"), k.modules["node:path"].join("a", "b")); k.close()`,
  );
  assert.equal(out.trim(), "42 a/b");
  assert.equal((await proc.stop()).success, true, proc.output());
});

/**
 * Classic mode, the client's everyday API (RPyC's test_classic and
 * test_teleportation): a classic server child on stdio (`connectSubprocess()`),
 * remote state, remote iteration, `execute`/`eval` in the per-connection
 * namespace, `modules`, `globals`, `teleport`, and remote errors.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { classic, isRemote, RemoteError, setMember } from "../mod.ts";
import { quietLogger, rejection } from "./_helpers.ts";
import { tempDir } from "./_classic.ts";

Deno.test("classic: a stdio child keeps remote state and exits with code 0 on close", async () => {
  await using dir = await tempDir();
  const conn = await classic.connectSubprocess();
  try {
    assert.equal(conn.peerService, "Classic");
    assert.ok(conn.process, "connectSubprocess() keeps the child");
    const remotePid = await conn.globals.Deno.pid;
    assert.equal(remotePid, conn.process.pid, "the default child is Deno itself");
    assert.notEqual(remotePid, Deno.pid);

    // RPyC modifies the remote sys.path; here the remote working directory and a global.
    const before = await conn.eval("Deno.cwd()");
    assert.equal(before, Deno.cwd(), "the child starts in our working directory");
    await conn.globals.Deno.chdir(dir.path);
    assert.equal(await conn.eval("Deno.cwd()"), dir.path);
    assert.equal(Deno.cwd(), before, "ours did not move");
    await conn.execute("globalThis.rdcMarker = ['set', 'remotely']");
    assert.deepEqual(await conn.globals.rdcMarker, ["set", "remotely"]);
    assert.equal((globalThis as Record<string, unknown>).rdcMarker, undefined);
  } finally {
    await conn.close();
  }
  const status = await conn.process!.status;
  assert.equal(status.code, 0);
  assert.equal(status.success, true);
  assert.equal(conn.closed, true);
});

Deno.test("classic: for await over a remote iterable of 10 000 items (RPyC's buffiter)", async () => {
  await using conn = await classic.connectSubprocess();
  const numbers = await conn.eval("(function* () { for (let i = 0; i < 10000; i++) yield i; })()");
  assert.ok(isRemote(numbers), "a generator travels by reference");
  let sum = 0;
  let count = 0;
  for await (const n of numbers) {
    sum += n;
    count++;
  }
  assert.equal(count, 10_000);
  assert.equal(sum, 49_995_000);

  // An async generator, and a remote class instance that is iterable.
  const letters = await conn.eval("(async function* () { for (const c of 'abc') yield c; })()");
  const seen: string[] = [];
  for await (const c of letters) seen.push(c);
  assert.deepEqual(seen, ["a", "b", "c"]);
  const bag = await conn.eval(
    "new (class Bag { items = [3, 4]; *[Symbol.iterator]() { yield* this.items; } })()",
  );
  const items: number[] = [];
  for await (const item of bag) items.push(item);
  assert.deepEqual(items, [3, 4]);
});

Deno.test("classic: execute and eval share the connection's namespace", async (t) => {
  await using conn = await classic.connectSubprocess();

  await t.step("RPyC's execute('x = 5'), namespace['x'], eval('1+x')", async () => {
    await conn.execute("x = 5");
    assert.equal(await conn.namespace.x, 5);
    assert.equal(await conn.eval("1 + x"), 6);
    assert.equal(await conn.globals.x, undefined, "an undeclared name lands in the namespace");
  });

  await t.step("top-level declarations persist for eval and later execute", async () => {
    await conn.execute(`
      let counter = 1;
      const base = 10;
      var legacy = "var";
      class Point {
        constructor(x, y) { this.x = x; this.y = y; }
        norm1() { return Math.abs(this.x) + Math.abs(this.y); }
      }
      function bump(by) { counter += by; return counter; }
      const { first, rest: [second, ...others] } = { first: "a", rest: ["b", "c", "d"] };
      let [p, q = 20] = [1];
    `);
    assert.equal(await conn.eval("counter + base"), 11);
    assert.equal(await conn.eval("legacy"), "var");
    assert.equal(await conn.eval("new Point(-3, 4).norm1()"), 7);
    assert.equal(await conn.eval("bump(5)"), 6);
    assert.deepEqual(await conn.eval("[first, second, others, p, q]"), [
      "a",
      "b",
      ["c", "d"],
      1,
      20,
    ]);
    await conn.execute("counter *= base; const later = bump(1) + new Point(1, 1).norm1();");
    assert.equal(await conn.namespace.counter, 61);
    assert.equal(await conn.namespace.later, 63);
    assert.equal(typeof (await conn.namespace.Point), "function");
  });

  await t.step("top-level await in execute and in eval", async () => {
    await conn.execute(`
      const os = await import("node:os");
      const fromPromise = await Promise.resolve("awaited");
    `);
    assert.equal(await conn.eval("os.platform()"), process.platform, "the same machine");
    assert.equal(await conn.eval("fromPromise"), "awaited");
    assert.equal(await conn.eval("await Promise.resolve(41) + 1"), 42);
  });

  await t.step("eval of statements returns the last value", async () => {
    assert.equal(await conn.eval("let a = 2; a * 3"), 6);
    assert.equal(await conn.eval("if (x > 1) { 'big' } else { 'small' }"), "big");
    assert.equal(await conn.eval("x"), 5, "earlier names are still there");
  });

  await t.step("writes through conn.namespace are seen by eval", async () => {
    await setMember(conn.namespace, "fromClient", [1, 2, 3]);
    assert.equal(await conn.eval("fromClient.length"), 3);
  });

  await t.step("eval returns a function as a callable netref", async () => {
    const adder = await conn.eval("(a, b) => a + b + base");
    assert.ok(isRemote(adder));
    assert.equal(await adder(1, 2), 13);
  });
});

Deno.test("classic: typeof of a name defined nowhere is 'undefined', as in JavaScript", async () => {
  await using conn = await classic.connectSubprocess();
  // Idioms such as `typeof window === "undefined"` must not throw.
  assert.equal(await conn.eval("typeof neverDefinedAnywhere"), "undefined");
  await conn.execute("if (typeof counterNotYet === 'undefined') counterNotYet = 1");
  assert.equal(await conn.namespace.counterNotYet, 1);
  // A read of such a name still throws, and typeof of known names still works.
  assert.ok(await rejection(conn.eval("neverDefinedAnywhere")) instanceof ReferenceError);
  assert.equal(await conn.eval("typeof Deno + typeof counterNotYet"), "objectnumber");
});

Deno.test("classic: a syntax error in eval or execute is the code's own, not rdc's wrapper's", async () => {
  await using conn = await classic.connectSubprocess();
  for (const run of [conn.eval.bind(conn), conn.execute.bind(conn)]) {
    for (
      const [code, message] of [
        ["1+", "Unexpected end of input"],
        ["foo(", "Unexpected end of input"],
        ["await 1 +", "Unexpected end of input"],
        ["let x = ;", "Unexpected token ';'"],
        ["1 }", "Unexpected token '}'"],
      ]
    ) {
      const error = await rejection(run(code));
      assert.ok(error instanceof SyntaxError, `${code}: got ${error}`);
      assert.equal(error.message, message, code);
    }
  }
  // The connection and its namespace are fine afterwards.
  await conn.execute("const afterErrors = 6");
  assert.equal(await conn.eval("afterErrors * 7"), 42);
});

Deno.test("classic: each connection has its own namespace; globals are shared", async () => {
  await using server = classic.serve({ port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using one = await classic.connect("127.0.0.1", port);
  await using two = await classic.connect("127.0.0.1", port);
  const name = `rdcSharedGlobal${crypto.randomUUID().replaceAll("-", "")}`;
  const global = globalThis as Record<string, unknown>;
  try {
    await one.execute("let onlyInOne = 1; twiceDefined = 'one'");
    await two.execute("twiceDefined = 'two'");
    const unknown = await rejection(two.eval("onlyInOne"));
    assert.ok(unknown instanceof ReferenceError, `got ${unknown}`);
    assert.match((unknown as Error).message, /onlyInOne is not defined/);
    assert.equal(await one.eval("twiceDefined"), "one");
    assert.equal(await two.eval("twiceDefined"), "two");
    assert.equal(await two.namespace.onlyInOne, undefined);

    await setMember(one.globals, name, 7);
    assert.equal(await two.eval(name), 7, "the second client sees the first one's global");
    assert.equal(global[name], 7, "the in-process server's globalThis is ours");
    assert.equal(await one.globals.Deno.pid, Deno.pid);
  } finally {
    delete global[name];
  }
});

Deno.test("classic: modules imports builtins, npm packages, files and URLs remotely", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    join(dir.path, "relative.ts"),
    "export const where = 'relative';\nexport function twice(n: number): number { return n * 2; }\n",
  );
  const absolute = join(dir.path, "absolute.js");
  await Deno.writeTextFile(absolute, "export default { pid: Deno.pid };\nexport const n = 7;\n");
  await using conn = await classic.connectSubprocess(undefined, { cwd: dir.path });
  const remotePid = await conn.globals.Deno.pid;

  assert.equal(await conn.modules["node:path"].posix.join("a", "b"), "a/b");
  const pathModule = await conn.modules["node:path"];
  assert.equal(await conn.modules["node:path"], pathModule, "a module is looked up once");
  assert.equal(await conn.modules["node:os"].platform(), Deno.build.os);

  const msgpack = conn.modules["npm:@msgpack/msgpack@^3.1.3"];
  const value = { text: "hé", list: [1, 2.5, null], nested: { ok: true } };
  const encoded = await msgpack.encode(value);
  assert.ok(encoded instanceof Uint8Array, "the remote encoding arrives as bytes");
  assert.deepEqual(await msgpack.decode(encoded), value);

  assert.equal(await conn.modules["./relative.ts"].where, "relative");
  assert.equal(await conn.modules["./relative.ts"].twice(21), 42);
  assert.equal(await conn.modules[absolute].n, 7);
  assert.deepEqual(await conn.modules[absolute].default, { pid: remotePid });
  assert.equal(await conn.modules[pathToFileURL(absolute).href].n, 7);
  assert.equal(await conn.modules["data:text/javascript,export const answer = 42;"].answer, 42);

  for (const missing of ["./no-such-module.ts", join(dir.path, "absent.js"), "node:no-such"]) {
    const error = await rejection(conn.modules[missing]);
    assert.ok(error instanceof RemoteError, `${missing}: got ${error}`);
    const named = missing.replace(/^\.\//, "");
    assert.ok(
      (error as Error).message.includes(named),
      `the error names '${named}': ${(error as Error).message}`,
    );
  }
  assert.equal(await conn.eval("1 + 1"), 2, "the connection is still usable");
});

Deno.test("classic: globals is the remote globalThis", async () => {
  await using conn = await classic.connectSubprocess();
  const pid = await conn.globals.Deno.pid;
  assert.equal(typeof pid, "number");
  assert.notEqual(pid, Deno.pid);
  assert.equal(await conn.globals.Math.max(1, 9, 3), 9);

  // A plain write is sent at once and ordered before the next request.
  conn.globals.rdcPlainWrite = 1;
  assert.equal(await conn.eval("rdcPlainWrite"), 1);
  // setMember waits for the write.
  await setMember(conn.globals, "rdcAwaitedWrite", { deep: [1] });
  assert.deepEqual(await conn.eval("globalThis.rdcAwaitedWrite"), { deep: [1] });
  assert.equal(await conn.eval("typeof rdcAwaitedWrite.deep"), "object");
});

Deno.test("classic: teleport ships self-contained functions", async (t) => {
  await using conn = await classic.connectSubprocess();
  const remotePid = await conn.globals.Deno.pid;

  await t.step("a named function runs remotely and is defined by name", async () => {
    const whereAmI = await conn.teleport(function whereAmI(tag: string) {
      return { tag, pid: Deno.pid };
    });
    assert.ok(isRemote(whereAmI));
    assert.deepEqual(await whereAmI("x"), { tag: "x", pid: remotePid });
    assert.deepEqual(await conn.eval("whereAmI('y')"), { tag: "y", pid: remotePid });
    assert.equal(await conn.eval("typeof whereAmI"), "function");
  });

  await t.step("recursion, async functions, arrows and method shorthand", async () => {
    const fact = await conn.teleport(function fact(n: number): number {
      return n <= 1 ? 1 : n * fact(n - 1);
    });
    assert.equal(await fact(10), 3_628_800);
    const later = await conn.teleport(async function later(v: number) {
      await new Promise((r) => setTimeout(r, 1));
      return v + 1;
    });
    assert.equal(await later(1), 2);
    const add = await conn.teleport((a: number, b: number) => a + b);
    assert.equal(await add(2, 3), 5);
    const tools = {
      shout(text: string) {
        return `${text.toUpperCase()}!`;
      },
    };
    const shout = await conn.teleport(tools.shout);
    assert.equal(await shout("hi"), "HI!");
    assert.equal(await conn.eval("shout('remote')"), "REMOTE!");
  });

  await t.step("a function may use names execute defined earlier", async () => {
    await conn.execute("const factor = 10; function helper(n) { return n + 1; }");
    const scaled = await conn.teleport(function scaled(n: number) {
      // @ts-ignore: `factor` and `helper` live in the remote namespace
      return helper(n) * factor;
    });
    assert.equal(await scaled(2), 30);
  });

  await t.step(
    "a closure over a local variable fails when it runs, naming the variable",
    async () => {
      const secretLocal = 41;
      const leaky = await conn.teleport(function leaky() {
        return secretLocal + 1;
      });
      const error = await rejection(leaky());
      assert.ok(error instanceof ReferenceError, `got ${error}`);
      assert.match((error as Error).message, /cannot see the sender's local variables/);
      assert.match((error as Error).message, /^secretLocal is not defined/);
    },
  );

  await t.step("native and bound functions are refused", async () => {
    const native = await rejection(conn.teleport(Math.max));
    assert.ok(native instanceof TypeError, `got ${native}`);
    assert.match((native as Error).message, /max/);
    assert.match((native as Error).message, /native/);
    const bound = await rejection(conn.teleport(function boundOne() {}.bind(null)));
    assert.ok(bound instanceof TypeError, `got ${bound}`);
    assert.match((bound as Error).message, /bound/);
  });

  await t.step("a remote function (a netref) is refused, and the message says so", async () => {
    const remoteFn = await conn.eval("function alreadyThere() {}; alreadyThere");
    const error = await rejection(conn.teleport(remoteFn));
    assert.ok(error instanceof TypeError, `got ${error}`);
    assert.match((error as Error).message, /remote/i);
    assert.doesNotMatch((error as Error).message, /\.name\]/, "no netref inside the message");
  });
});

Deno.test("classic: remote errors arrive as RemoteError and the connection stays usable", async () => {
  await using conn = await classic.connectSubprocess();
  await conn.execute("function explode(what) { throw new RangeError('cannot ' + what); }");
  const thrown = await rejection(conn.eval("explode('divide')"));
  assert.ok(thrown instanceof RemoteError, `got ${thrown}`);
  assert.ok(thrown instanceof RangeError, "built-in classes keep instanceof");
  assert.equal((thrown as Error).name, "RangeError");
  assert.equal((thrown as Error).message, "cannot divide");
  assert.match((thrown as RemoteError).remoteStack, /explode/);
  assert.match((thrown as RemoteError).remoteStack, /cannot divide/);

  const syntax = await rejection(conn.execute("let = = 3"));
  assert.ok(syntax instanceof RemoteError, `got ${syntax}`);
  assert.ok(syntax instanceof SyntaxError);
  assert.equal((syntax as Error).name, "SyntaxError");

  const evalSyntax = await rejection(conn.eval("1 +"));
  assert.ok(evalSyntax instanceof SyntaxError, `got ${evalSyntax}`);

  const reference = await rejection(conn.eval("notDefinedAnywhere + 1"));
  assert.ok(reference instanceof ReferenceError, `got ${reference}`);
  assert.match((reference as Error).message, /notDefinedAnywhere/);

  const custom = await rejection(
    conn.execute(
      "class AppError extends Error { name = 'AppError'; code = 7 }; throw new AppError('bad')",
    ),
  );
  assert.ok(custom instanceof RemoteError);
  assert.equal((custom as Error).name, "AppError");
  assert.equal((custom as Error).message, "bad");
  assert.equal((custom as { code?: number }).code, 7, "own properties travel");

  assert.equal(await rejection(conn.eval("(() => { throw 'a string'; })()")), "a string");
  assert.equal(await conn.eval("2 ** 10"), 1024);
  assert.equal(conn.closed, false);
});

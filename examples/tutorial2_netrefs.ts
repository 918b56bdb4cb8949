/**
 * Tutorial 2, netrefs and exceptions (RPyC's tut2): what a remote object is
 * here, what is copied and what is shared, and what happens when the server
 * throws.
 *
 * It shows:
 * - netrefs: `Proxy` objects that forward what you do to the remote object;
 *   `isRemote`, `Deno.inspect` and `String` of a netref, `in` on its members,
 *   and that reading a property sends nothing until it is awaited;
 * - what travels by value (plain data: arrays, plain objects, `Map`…) and
 *   what stays remote (class instances, functions, modules), and how to work
 *   on a remote array or `Map` held in the namespace;
 * - remote class instances: calling methods, `new` on a remote class,
 *   `for await` over a remote iterable and a remote async generator;
 * - remote exceptions: `RemoteError`, `instanceof RangeError`, the remote
 *   stack (`remoteStack`) and the local one after it, an error class the
 *   client does not know;
 * - `timed`: a call that runs out of time rejects with `TimeoutError`, the
 *   server is told to give up, and the connection stays usable.
 *
 * Run it with a classic server started as a child process:
 *
 * ```sh
 * deno run --allow-all examples/tutorial2_netrefs.ts
 * ```
 *
 * Or against a classic server you started yourself:
 *
 * ```sh
 * deno task rdc classic                                                     # terminal 1
 * deno run --allow-all examples/tutorial2_netrefs.ts --connect 127.0.0.1:18812   # terminal 2
 * ```
 *
 * Each step checks its result and throws if something is off.
 *
 * @module
 */

import { type classic, hasMember, isRemote, RemoteError, timed, TimeoutError } from "../mod.ts";
import { check, openClassic, section, securityNote, show, tell } from "./tutorial1_classic.ts";

const USAGE =
  "usage: tutorial2_netrefs.ts                       start a classic server as a child\n" +
  "       tutorial2_netrefs.ts --connect host:port   use a running `deno task rdc classic`";

/** RPyC's "Netrefs": what kind of object is `conn.modules.sys`? */
async function netrefs(conn: classic.ClassicConnection): Promise<void> {
  section("Netrefs");
  // Reading properties builds a path and sends nothing; awaiting it sends one request.
  const framesBefore = conn.stats().framesSent;
  const pid = conn.globals.Deno.pid;
  show("conn.globals.Deno.pid", pid, "not awaited: a path, nothing sent yet");
  check(conn.stats().framesSent === framesBefore, "reading properties sends nothing");
  show("await conn.globals.Deno.pid", await pid);

  const os = await conn.modules["node:os"];
  show('const os = await conn.modules["node:os"]', os, "a netref to the module");
  show("isRemote(os)", isRemote(os));
  show("typeof os", typeof os, "a Proxy over a function, so calls and new work");
  show("String(os)", String(os));
  check(isRemote(os) && String(os).startsWith("[Remote "), "a module arrives as a netref");

  // A netref knows which members it may reach, as of when it arrived: `in` needs no round trip.
  show('"hostname" in os', "hostname" in os);
  show('"noSuchThing" in os', "noSuchThing" in os);
  show('await hasMember(os, "cpus")', await hasMember(os, "cpus"), "asks the server now");
  check("hostname" in os && !("noSuchThing" in os), "in on a netref");

  const resolve = await conn.modules["node:path"].resolve;
  show('const resolve = await conn.modules["node:path"].resolve', resolve);
  show('await resolve("/tmp", "x")', await resolve("/tmp", "x"));
  check(isRemote(resolve) && (await resolve("/tmp", "x")) === "/tmp/x", "a remote function");

  // RPyC's isinstance(conn.modules.sys.path, list) is True; a JavaScript Proxy cannot fake
  // Array.isArray or instanceof, so ask with isRemote, or ask the server.
  show("Array.isArray(os)", Array.isArray(os));
}

/** Plain data is copied; everything else stays on the server. */
async function copiedOrShared(conn: classic.ClassicConnection): Promise<void> {
  section("Copied or shared");
  const list = await conn.eval("[1, 2, 3]");
  show('await conn.eval("[1, 2, 3]")', list, "a local copy");
  show("isRemote(list)", isRemote(list));
  check(Array.isArray(list) && !isRemote(list), "arrays are copied");
  const map = await conn.eval('new Map([["apples", 3]])');
  show(`await conn.eval('new Map([["apples", 3]])')`, map, "Map and Set are copied too");
  check(map instanceof Map && map.get("apples") === 3, "maps are copied");

  // To work on the server's own array or Map, keep it there (in the namespace) and call
  // through the chain: each call runs on the server's object.
  await conn.execute('const items = ["a", "b"]; const stock = new Map([["apples", 3]]);');
  console.log(`  await conn.execute('const items = ["a", "b"]; const stock = new Map(…);')`);
  show('await conn.namespace.items.push("c")', await conn.namespace.items.push("c"));
  show("await conn.namespace.items.length", await conn.namespace.items.length);
  const copy: string[] = await conn.namespace.items;
  copy.push("only here");
  show("await conn.namespace.items", await conn.namespace.items, "a copy each time");
  check((await conn.namespace.items.length) === 3, "pushing on a copy changes only the copy");
  await conn.namespace.stock.set("pears", 5);
  show('await conn.namespace.stock.get("pears")', await conn.namespace.stock.get("pears"));
  show("await conn.namespace.stock.size", await conn.namespace.stock.size);
  check((await conn.namespace.stock.size) === 2, "the remote Map grew");

  // JSON, Math, Deno and module namespaces look like plain objects but are namespaces of
  // functions: they travel by reference.
  show("await conn.globals.JSON", await conn.globals.JSON, "a namespace object: by reference");
}

/** Class instances, their methods and iteration. */
async function remoteObjects(conn: classic.ClassicConnection): Promise<void> {
  section("Remote objects");
  await conn.execute(`
    class Stack {
      #items = [];
      push(...items) { this.#items.push(...items); return this.#items.length; }
      pop() { return this.#items.pop(); }
      get size() { return this.#items.length; }
      *[Symbol.iterator]() { for (let i = this.#items.length - 1; i >= 0; i--) yield this.#items[i]; }
    }
    async function* countdown(from) {
      for (let n = from; n > 0; n--) { await new Promise((r) => setTimeout(r, 5)); yield n; }
    }
  `);
  console.log("  await conn.execute(`class Stack { … } async function* countdown(from) { … }`)");

  // `new` on a remote class builds the object there (classic mode allows it).
  const stack = await new conn.namespace.Stack();
  show("const stack = await new conn.namespace.Stack()", stack);
  show("Deno.inspect(stack)", Deno.inspect(stack), "the class name and the export id");
  check(isRemote(stack) && String(stack).startsWith("[Remote Stack #"), "a remote Stack");
  show("await stack.push(1, 2, 3)", await stack.push(1, 2, 3));
  show("await stack.size", await stack.size, "a getter, read on the server");
  show("await stack.pop()", await stack.pop());

  const seen: number[] = [];
  for await (const item of stack) seen.push(item);
  show("for await (const item of stack)", seen, "one round trip per item");
  check(JSON.stringify(seen) === "[2,1]", "iterating a remote iterable");

  const counted: number[] = [];
  for await (const n of conn.namespace.countdown(3)) counted.push(n);
  show("for await (const n of conn.namespace.countdown(3))", counted, "a remote async generator");
  check(JSON.stringify(counted) === "[3,2,1]", "iterating a remote async generator");

  // Built-in classes too: a URL object of the server's.
  const url = await new conn.globals.URL("https://example.com:8080/search?q=rdc");
  show('const url = await new conn.globals.URL("https://example.com:8080/search?q=rdc")', url);
  const q: string = await url.searchParams.get("q");
  show('await url.searchParams.get("q")', q);
  check(q === "rdc", "a remote URL");
}

/** RPyC's "Exceptions": a remote throw arrives here, with both stacks. */
async function exceptions(conn: classic.ClassicConnection): Promise<void> {
  section("Exceptions");
  // RPyC's conn.modules.sys.path[300] raises IndexError; JavaScript's nearest is a RangeError.
  try {
    await new conn.globals.Array(-1);
    check(false, "new Array(-1) throws");
  } catch (error) {
    check(error instanceof RemoteError && error instanceof RangeError, "a remote RangeError");
    tell("new conn.globals.Array(-1)", `${error}`);
    tell(
      "  instanceof RangeError / RemoteError",
      `${error instanceof RangeError} / ${error instanceof RemoteError}`,
    );
  }

  try {
    await conn.globals.JSON.parse("{oops");
    check(false, "JSON.parse throws");
  } catch (error) {
    check(error instanceof RemoteError && error instanceof SyntaxError, "a remote SyntaxError");
    tell('conn.globals.JSON.parse("{oops")', `${error.name}: ${error.message}`);
    const where = error.remoteStack.split("\n").find((line) => line.includes("JSON.parse"));
    tell("  its remote stack has", `${where?.trim()}`);
    check(where !== undefined, "the remote stack shows JSON.parse");
  }

  // Both stacks, as RPyC prints "Remote traceback" and "Local exception": error.stack has the
  // remote frames, a <rdc: remote call> marker, then the frames that awaited the call.
  await conn.execute(`
    function withdraw(balance, amount) {
      if (amount > balance) throw new RangeError(\`cannot withdraw \${amount}: balance is \${balance}\`);
      return balance - amount;
    }
  `);
  try {
    await conn.namespace.withdraw(70, 1000);
    check(false, "withdraw throws");
  } catch (error) {
    check(error instanceof RangeError && error instanceof RemoteError, "a RangeError");
    tell("conn.namespace.withdraw(70, 1000)", `${error.name}: ${error.message}`);
    const lines = error.stack!.split("\n");
    const marker = lines.findIndex((line) => line.includes("<rdc: remote call>"));
    check(marker > 0, "the stack has the remote-call marker");
    console.log("  error.stack:");
    console.log(`    ${lines[0]}`);
    console.log(`    ${lines.find((line) => line.includes("withdraw ("))?.trim()}   (remote)`);
    console.log(`    ${lines[marker]!.trim()}`);
    console.log(`    ${lines[marker + 1]?.trim()}   (local)`);
    check(lines.slice(0, marker).some((line) => line.includes("withdraw")), "remote frame");
  }

  // An error class the client does not know keeps its name, message and own properties
  // (RPyC's import_custom_exceptions; here registerErrorClass(cls) on both ends for instanceof).
  await conn.execute(`
    class OutOfStock extends Error {
      constructor(item) { super("no " + item + " left"); this.name = "OutOfStock"; this.item = item; }
    }
    function take(item) { throw new OutOfStock(item); }
  `);
  try {
    await conn.namespace.take("apples");
    check(false, "take throws");
  } catch (error) {
    check(error instanceof RemoteError, "a RemoteError");
    const item = (error as RemoteError & { item: string }).item;
    tell('conn.namespace.take("apples")', `${error.name}: ${error.message} (item: ${item})`);
    check(error.name === "OutOfStock" && item === "apples", "name and properties kept");
  }
}

/** `timed` (RPyC's `rpyc.timed`): a call with its own timeout. */
async function timeouts(conn: classic.ClassicConnection): Promise<void> {
  section("timed: a call with its own timeout");
  // The server's code reads rdc.currentCall() to learn that the caller gave up: classic code
  // sees rdc's helpers as \`rdc\`.
  await conn.execute(`
    const { currentCall } = rdc;
    const abandoned = [];
    async function slowSquare(x, ms) {
      const { signal } = currentCall(); // before the first await
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          abandoned.push(x);
          reject(signal.reason);
        }, { once: true });
      });
      return x * x;
    }
  `);
  console.log("  await conn.execute(`async function slowSquare(x, ms) { … }`)");

  const started = performance.now();
  try {
    await timed(conn.namespace.slowSquare, 100)(7, 10_000);
    check(false, "the call times out");
  } catch (error) {
    const elapsed = Math.round(performance.now() - started);
    check(error instanceof TimeoutError, "a TimeoutError");
    check(elapsed < 5_000, "it gave up long before the server would have answered");
    tell("timed(conn.namespace.slowSquare, 100)(7, 10_000)", `${error.name} after ~100 ms`);
  }
  const abandoned: number[] = await conn.namespace.abandoned;
  show("await conn.namespace.abandoned", abandoned, "the server was told and stopped");
  check(abandoned.includes(7), "the server abandoned the call");

  const nine = await timed(conn.namespace.slowSquare, 5_000)(3, 10) as number;
  show("timed(conn.namespace.slowSquare, 5_000)(3, 10)", nine, "in time");
  check(nine === 9, "a call that finishes in time");

  const controller = new AbortController();
  const pending = timed(conn.namespace.slowSquare, { signal: controller.signal })(5, 10_000);
  setTimeout(() => controller.abort(), 20);
  try {
    await pending;
    check(false, "the call is aborted");
  } catch (error) {
    check(error instanceof Error && error.name === "AbortError", "an AbortError");
    tell("timed(slowSquare, { signal })(5, 10_000), then abort()", error.name);
  }
  const answer: number = await conn.eval("6 * 7");
  show('still usable: await conn.eval("6 * 7")', answer);
  check(answer === 42, "the connection stays usable");
  show("conn.stats().pendingRequests", conn.stats().pendingRequests);
}

async function main(): Promise<void> {
  console.log("tutorial 2: netrefs and exceptions");
  securityNote();
  await using conn = await openClassic(USAGE);
  await netrefs(conn);
  await copiedOrShared(conn);
  await remoteObjects(conn);
  await exceptions(conn);
  await timeouts(conn);
  console.log("\ntutorial 2 finished");
}

if (import.meta.main) await main();

/**
 * Tutorial 2 again, in the synchronous mode (RPyC's tut2, netrefs and
 * exceptions, as RPyC writes it: no `await`). Each use of a synchronous
 * netref blocks until the server answers, so plain code written for local
 * objects runs on remote ones unchanged.
 *
 * It shows what tutorial 2 shows (see examples/tutorial2_netrefs.ts), and
 * what the synchronous mode makes natural:
 * - netrefs: `isRemote`, `Deno.inspect`, `in`, reading a member sends a
 *   request at once and returns its value;
 * - what is copied (plain data) and what is shared (class instances,
 *   functions, modules, and what the server wraps with `rdc.ref`): a remote
 *   array with `Array.isArray`, `length`, indexing and spread;
 * - remote objects: `new` of a remote class, `instanceof` it, `for…of` over
 *   a remote iterable and a remote generator (`break` runs its `finally`),
 *   plain `if (settings.enabled)`, `Object.keys`, `JSON.stringify`,
 *   `String()`;
 * - remote exceptions, thrown at the call with their type: `RangeError`,
 *   `RemoteError`, both stacks, an error class the client does not know;
 * - `conn.connection.timed(fn, ms)`: a call that runs out of time throws
 *   `TimeoutError`, the server is told, the connection stays usable;
 * - callbacks the server calls while we wait (they return values), and
 *   `conn.async` for calls that overlap.
 *
 * Run it with a classic server started as a child process:
 *
 * ```sh
 * deno run --allow-all examples/tutorial2_sync.ts
 * ```
 *
 * Or against a classic server you started yourself:
 *
 * ```sh
 * deno task rdc classic                                                 # terminal 1
 * deno run --allow-all examples/tutorial2_sync.ts --connect 127.0.0.1:18812   # terminal 2
 * ```
 *
 * Each step checks its result and throws if something is off.
 *
 * @module
 */

import { type classic, isRemote, RemoteError, TimeoutError } from "../mod.ts";
import { check, section, securityNote, show, tell } from "./tutorial1_classic.ts";
import { openClassicSync } from "./tutorial1_sync.ts";

const USAGE = "usage: tutorial2_sync.ts                       start a classic server as a child\n" +
  "       tutorial2_sync.ts --connect host:port   use a running `deno task rdc classic`";

/** RPyC's "Netrefs": what kind of object is `conn.modules.sys`? */
function netrefs(conn: classic.SyncClassicConnection): void {
  section("Netrefs");
  // Each read is a request, sent at once; it returns the value (the async mode builds a path and
  // sends it when awaited).
  const framesBefore = conn.stats().framesSent;
  const pid = conn.globals.Deno.pid;
  show("conn.globals.Deno.pid", pid, "a number: read now");
  check(typeof pid === "number" && conn.stats().framesSent > framesBefore, "a read is sent now");

  const os = conn.modules["node:os"];
  show('const os = conn.modules["node:os"]', os, "a netref to the module");
  show("isRemote(os)", isRemote(os));
  check(isRemote(os) && Deno.inspect(os).startsWith("[Remote "), "a module arrives as a netref");

  // `in` asks the server (the async mode answers from the member list the netref arrived with).
  show('"hostname" in os', "hostname" in os);
  show('"noSuchThing" in os', "noSuchThing" in os);
  check("hostname" in os && !("noSuchThing" in os), "in on a netref");
  const host: string = os.hostname();
  show("os.hostname()", host, "a method call: the value");
  check(typeof host === "string" && host.length > 0, "a string");

  const resolve = conn.modules["node:path"].resolve;
  show('const resolve = conn.modules["node:path"].resolve', resolve);
  show('resolve("/tmp", "x")', resolve("/tmp", "x"));
  check(isRemote(resolve) && resolve("/tmp", "x") === "/tmp/x", "a remote function");
}

/** Plain data is copied; everything else stays on the server. */
function copiedOrShared(conn: classic.SyncClassicConnection): void {
  section("Copied or shared");
  const list = conn.eval("[1, 2, 3]");
  show('conn.eval("[1, 2, 3]")', list, "a local copy");
  show("isRemote(list)", isRemote(list));
  check(Array.isArray(list) && !isRemote(list), "arrays are copied");
  const map = conn.eval('new Map([["apples", 3]])');
  show(`conn.eval('new Map([["apples", 3]])')`, map, "Map and Set are copied too");
  check(map instanceof Map && map.get("apples") === 3, "maps are copied");

  // A read returns its value at once, so a read of plain data is already a copy: pushing on it
  // changes the copy only (the async mode would have sent the whole chain to the server).
  conn.execute('const items = ["a", "b"]; const stock = new Map([["apples", 3]]);');
  console.log(`  conn.execute('const items = ["a", "b"]; const stock = new Map(…);')`);
  const copy: string[] = conn.namespace.items;
  copy.push("only here");
  show("conn.namespace.items", conn.namespace.items, "a copy each time");
  check(conn.namespace.items.length === 2, "pushing on a copy changes only the copy");

  // To work on the server's own array or Map, have the server hand it over by reference.
  const items = conn.eval("rdc.ref(items)");
  show('const items = conn.eval("rdc.ref(items)")', items);
  show('items.push("c")', items.push("c"), "on the server's array");
  show("Array.isArray(items)", Array.isArray(items), "RPyC's isinstance(…, list)");
  show("[items.length, items[0], [...items]]", [items.length, items[0], [...items]]);
  check(Array.isArray(items) && items.length === 3 && items[2] === "c", "a remote array");
  check(conn.eval("items.length") === 3, "the server's array grew");
  const stock = conn.eval("rdc.ref(stock)");
  stock.set("pears", 5);
  show('stock.set("pears", 5); stock.get("pears")', stock.get("pears"));
  show("stock.size", stock.size);
  check(stock.size === 2 && conn.eval("stock.size") === 2, "the remote Map grew");

  // JSON, Math, Deno and module namespaces look like plain objects but are namespaces of
  // functions: they travel by reference.
  show("conn.globals.JSON", conn.globals.JSON, "a namespace object: by reference");
}

/** Class instances, their methods and iteration, with plain code. */
function remoteObjects(conn: classic.SyncClassicConnection): void {
  section("Remote objects");
  conn.execute(`
    class Stack {
      #items = [];
      push(...items) { this.#items.push(...items); return this.#items.length; }
      pop() { return this.#items.pop(); }
      get size() { return this.#items.length; }
      *[Symbol.iterator]() { for (let i = this.#items.length - 1; i >= 0; i--) yield this.#items[i]; }
    }
    const cleanups = [];
    function* countdown(from) {
      try { for (let n = from; n > 0; n--) yield n; } finally { cleanups.push(from); }
    }
    class Settings { enabled = false; retries = 0; name = "db"; }
    var settings = new Settings();
  `);
  console.log(
    "  conn.execute(`class Stack { … } function* countdown(from) { … } class Settings { … }`)",
  );

  // `new` on a remote class builds the object there (classic mode allows it); `instanceof` asks
  // the server.
  const Stack = conn.namespace.Stack;
  const stack = new Stack();
  show("const stack = new conn.namespace.Stack()", stack);
  show("stack instanceof conn.namespace.Stack", stack instanceof Stack);
  check(isRemote(stack) && stack instanceof Stack, "a remote Stack");
  show("stack.push(1, 2, 3)", stack.push(1, 2, 3));
  show("stack.size", stack.size, "a getter, read on the server");
  show("stack.pop()", stack.pop());

  const seen: number[] = [];
  for (const item of stack) seen.push(item);
  show("for (const item of stack)", seen, "one round trip per item");
  check(JSON.stringify(seen) === "[2,1]", "iterating a remote iterable");
  check(JSON.stringify([...stack]) === "[2,1]", "spreading a remote iterable");

  const counted: number[] = [];
  for (const n of conn.namespace.countdown(5)) {
    counted.push(n);
    if (n === 3) break; // the generator's finally runs on the server, now
  }
  show("for (const n of conn.namespace.countdown(5)) { …; if (n === 3) break; }", counted);
  show("conn.namespace.cleanups", conn.namespace.cleanups, "its finally ran");
  check(JSON.stringify(counted) === "[5,4,3]", "iterating a remote generator");
  check(conn.namespace.cleanups.includes(5), "break ran the remote finally");

  // Code written for a local settings object works on the remote one as it is.
  const settings = conn.namespace.settings;
  show('settings.enabled ? "on" : "off"', settings.enabled ? "on" : "off");
  show("settings.retries || 3", settings.retries || 3);
  show("Object.keys(settings)", Object.keys(settings));
  show("JSON.stringify(settings)", JSON.stringify(settings));
  check(!settings.enabled && (settings.retries || 3) === 3, "plain conditions");
  check(Object.keys(settings).join() === "enabled,retries,name", "Object.keys");
  check(JSON.stringify(settings) === '{"enabled":false,"retries":0,"name":"db"}', "JSON");
  settings.retries = 5; // written on the server, now
  show('settings.retries = 5; conn.eval("settings.retries")', conn.eval("settings.retries"));
  check(conn.eval("settings.retries") === 5, "an assignment reaches the server");

  // Built-in classes too: a URL object of the server's, and its remote toString.
  const url = new conn.globals.URL("https://example.com:8080/search?q=rdc");
  show('const url = new conn.globals.URL("https://example.com:8080/search?q=rdc")', url);
  show("String(url)", String(url), "the server's url.toString()");
  show('url.searchParams.get("q")', url.searchParams.get("q"));
  show("`port ${url.port}`", `port ${url.port}`);
  check(String(url) === "https://example.com:8080/search?q=rdc", "String of a remote URL");
  check(url.searchParams.get("q") === "rdc" && url.port === "8080", "a remote URL");
}

/** RPyC's "Exceptions": a remote throw arrives here, at the call, with both stacks. */
function exceptions(conn: classic.SyncClassicConnection): void {
  section("Exceptions");
  // RPyC's conn.modules.sys.path[300] raises IndexError; JavaScript's nearest is a RangeError.
  try {
    new conn.globals.Array(-1);
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
    conn.globals.JSON.parse("{oops");
    check(false, "JSON.parse throws");
  } catch (error) {
    check(error instanceof RemoteError && error instanceof SyntaxError, "a remote SyntaxError");
    tell('conn.globals.JSON.parse("{oops")', `${error.name}: ${error.message}`);
    // `parse` was read off the remote JSON first, so it runs bound to it: its frame says `parse`.
    const where = error.remoteStack.split("\n").find((line) => line.includes("at parse ("));
    tell("  its remote stack has", `${where?.trim()}`);
    check(where !== undefined, "the remote stack shows JSON.parse");
  }

  // Both stacks, as RPyC prints "Remote traceback" and "Local exception": error.stack has the
  // remote frames, a <rdc: remote call> marker, then the frames of the call, this function's
  // among them (synchronous frames: the call was made right here).
  conn.execute(`
    function withdraw(balance, amount) {
      if (amount > balance) throw new RangeError(\`cannot withdraw \${amount}: balance is \${balance}\`);
      return balance - amount;
    }
  `);
  try {
    conn.namespace.withdraw(70, 1000);
    check(false, "withdraw throws");
  } catch (error) {
    check(error instanceof RangeError && error instanceof RemoteError, "a RangeError");
    tell("conn.namespace.withdraw(70, 1000)", `${error.name}: ${error.message}`);
    const lines = error.stack!.split("\n");
    const marker = lines.findIndex((line) => line.includes("<rdc: remote call>"));
    check(marker > 0, "the stack has the remote-call marker");
    const local = lines.slice(marker).find((line) => line.includes("at exceptions ("));
    console.log("  error.stack:");
    console.log(`    ${lines[0]}`);
    console.log(`    ${lines.find((line) => line.includes("withdraw ("))?.trim()}   (remote)`);
    console.log(`    ${lines[marker]!.trim()}`);
    console.log(`    ${local?.trim()}   (local)`);
    check(lines.slice(0, marker).some((line) => line.includes("withdraw")), "remote frame");
    check(local !== undefined, "the local frame of the call");
  }

  // An error class the client does not know keeps its name, message and own properties
  // (RPyC's import_custom_exceptions; here registerErrorClass(cls) on both ends for instanceof).
  conn.execute(`
    class OutOfStock extends Error {
      constructor(item) { super("no " + item + " left"); this.name = "OutOfStock"; this.item = item; }
    }
    function take(item) { throw new OutOfStock(item); }
  `);
  try {
    conn.namespace.take("apples");
    check(false, "take throws");
  } catch (error) {
    check(error instanceof RemoteError, "a RemoteError");
    const item = (error as RemoteError & { item: string }).item;
    tell('conn.namespace.take("apples")', `${error.name}: ${error.message} (item: ${item})`);
    check(error.name === "OutOfStock" && item === "apples", "name and properties kept");
  }
}

/** `timed` (RPyC's `rpyc.timed`): a call with its own timeout. */
function timeouts(conn: classic.SyncClassicConnection): void {
  section("timed: a call with its own timeout");
  // The server's code reads rdc.currentCall() to learn that the caller gave up: classic code
  // sees rdc's helpers as \`rdc\`.
  conn.execute(`
    const { currentCall } = rdc;
    const abandoned = [];
    let running = 0, mostRunning = 0; // how many calls overlap on the server
    async function slowSquare(x, ms) {
      const { signal } = currentCall(); // before the first await
      mostRunning = Math.max(mostRunning, ++running);
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          abandoned.push(x);
          reject(signal.reason);
        }, { once: true });
      }).finally(() => running--);
      return x * x;
    }
  `);
  console.log("  conn.execute(`async function slowSquare(x, ms) { … }`)");

  // The synchronous connection's timed (the classic wrapper lends its connection's) takes
  // milliseconds only: no AbortSignal, since nothing on this thread runs while it is blocked.
  try {
    conn.connection.timed(conn.namespace.slowSquare, 100)(7, 10_000);
    check(false, "the call times out");
  } catch (error) {
    check(error instanceof TimeoutError, "a TimeoutError");
    tell(
      "conn.connection.timed(conn.namespace.slowSquare, 100)(7, 10_000)",
      `${error.name} after ~100 ms, thrown at the call`,
    );
  }
  const abandoned: number[] = conn.namespace.abandoned;
  show("conn.namespace.abandoned", abandoned, "the server was told and stopped");
  check(abandoned.includes(7), "the server abandoned the call");

  const nine: number = conn.connection.timed(conn.namespace.slowSquare, 5_000)(3, 10);
  show("conn.connection.timed(conn.namespace.slowSquare, 5_000)(3, 10)", nine, "in time");
  check(nine === 9, "a call that finishes in time");

  const answer: number = conn.eval("6 * 7");
  show('still usable: conn.eval("6 * 7")', answer);
  check(answer === 42, "the connection stays usable");
  show("conn.stats().pendingRequests", conn.stats().pendingRequests);
  check(conn.stats().pendingRequests === 0, "nothing left pending");
}

/** What the synchronous mode changes: callbacks served while we wait, and `conn.async`. */
async function callbacksAndOverlap(conn: classic.SyncClassicConnection): Promise<void> {
  section("Callbacks while we wait, and conn.async for overlap");
  // The server's code sees our functions as async netrefs: it awaits them.
  const sumOf = conn.teleport(async function sumOf(f: (i: number) => number, n: number) {
    let sum = 0;
    for (let i = 1; i <= n; i++) sum += await f(i);
    return sum;
  });
  const heard: number[] = [];
  const total: number = sumOf((i: number) => {
    heard.push(i); // runs here, inside the blocked call, on its stack
    return i * i;
  }, 3);
  show("sumOf((i) => i * i, 3)", total, `the server called us back with ${heard.join(", ")}`);
  check(total === 14 && heard.join() === "1,2,3", "callbacks served while the call waits");

  // While this thread waits, its event loop is frozen: a callback that returns a promise could
  // never be resolved, so it fails at once, saying why.
  try {
    sumOf(async (i: number) => await Promise.resolve(i * i), 2);
    check(false, "an async callback in a blocked call fails");
  } catch (error) {
    check(error instanceof TypeError, "a TypeError");
    tell(
      "sumOf(async (i) => await Promise.resolve(i * i), 2)",
      `${error.name}: ${error.message.split(",")[0]}`,
    );
  }

  // conn.async (RPyC's async_): a promise instead of a block, so calls overlap and async
  // callbacks are fine (the thread is free while it awaits).
  const slowSquare = conn.async(conn.namespace.slowSquare);
  conn.execute("mostRunning = 0");
  const squares = await Promise.all([2, 3, 4].map((x) => slowSquare(x, 400)));
  show("await Promise.all([2, 3, 4].map((x) => slowSquare(x, 400)))", squares, "overlapping");
  check(JSON.stringify(squares) === "[4,9,16]", "three answers");
  const overlapped: number = conn.eval("mostRunning");
  show('conn.eval("mostRunning")', overlapped, "calls the server ran at once");
  check(overlapped === 3, "the three calls ran at the same time");
  const tick = () => new Promise((resolve) => setTimeout(resolve, 1)); // needs the event loop
  const viaAsync = await conn.async(sumOf)(async (i: number) => (await tick(), i * 10), 3);
  show(
    "await conn.async(sumOf)(async (i) => (await tick(), i * 10), 3)",
    viaAsync,
    "async callback",
  );
  check(viaAsync === 60, "an async callback through conn.async");
}

async function main(): Promise<void> {
  console.log("tutorial 2, synchronously: netrefs and exceptions without await");
  securityNote();
  using conn = openClassicSync(USAGE).conn;
  netrefs(conn);
  copiedOrShared(conn);
  remoteObjects(conn);
  exceptions(conn);
  timeouts(conn);
  await callbacksAndOverlap(conn);
  console.log("\ntutorial 2 (synchronous) finished");
}

if (import.meta.main) await main();

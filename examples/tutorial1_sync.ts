/**
 * Tutorial 1 again, in the synchronous mode (RPyC's tut1, "Introduction to
 * Classic RPyC", as RPyC writes it: no `await`). A synchronous classic
 * connection blocks at each use until the server answers, so the code reads
 * like code on local objects: `conn.modules["node:os"].hostname()` is a
 * string, `conn.eval("1 + 1")` is 2.
 *
 * It shows what tutorial 1 shows (see examples/tutorial1_classic.ts), without
 * `await`:
 * - starting a classic server (a child process, or `deno task rdc classic`)
 *   and connecting to it synchronously (`classic.connectSubprocessSync`,
 *   `classic.connectSync`);
 * - `conn.modules`: the server's command line, working directory, a
 *   directory listing, `chdir`;
 * - `conn.globals`: `Deno.cwd()`, reading a file, the remote `JSON`;
 * - `conn.execute`, `conn.eval` and `conn.namespace`: a plain assignment to
 *   a remote name, `Object.keys` of the namespace;
 * - `conn.teleport`: ship a function's source and call it like a local one.
 *
 * Not here: `redirectStdio` (RPyC's `redirected_stdio`), which only the async
 * `ClassicConnection` has; the server's console stays its own (a child's is
 * our stderr).
 *
 * The one rule of the synchronous mode: while a call waits, this thread's
 * event loop is frozen, so the server must be another process (it is: a
 * child, or a server you started), never one in this process.
 *
 * Security: classic mode is remote code execution by design. Whoever connects
 * can do anything the server's user can, so serve it on loopback or to
 * trusted peers only (over TLS or SSH for another host).
 *
 * Run it with a classic server started as a child process:
 *
 * ```sh
 * deno run --allow-all examples/tutorial1_sync.ts
 * ```
 *
 * Or against a classic server you started yourself:
 *
 * ```sh
 * deno task rdc classic                                                 # terminal 1: 127.0.0.1:18812
 * deno run --allow-all examples/tutorial1_sync.ts --connect 127.0.0.1:18812   # terminal 2
 * ```
 *
 * Each step checks its result and throws if something is off.
 *
 * @module
 */

import { classic } from "../mod.ts";
import { parseCommandLine } from "./_cli.ts";
import { check, section, securityNote, show, tell } from "./tutorial1_classic.ts";

const USAGE = "usage: tutorial1_sync.ts                       start a classic server as a child\n" +
  "       tutorial1_sync.ts --connect host:port   use a running `deno task rdc classic`";

/** A synchronous classic connection, and whether its server is our child. */
export interface SyncTutorialConnection {
  /** The connection; close it with `using` or `conn.close()`. */
  conn: classic.SyncClassicConnection;
  /** Whether the server is a child of ours (same machine, same working directory). */
  local: boolean;
}

/**
 * Opens the tutorial's synchronous classic connection from the command line:
 * a child process by default, `--connect host:port` for a running server.
 */
export function openClassicSync(usage: string): SyncTutorialConnection {
  const command = parseCommandLine(usage);
  if (command.mode === "serve") {
    console.error(`${usage}\n(to serve classic mode, run: deno task rdc classic)`);
    Deno.exit(2);
  }
  if (command.mode === "connect") {
    const conn = classic.connectSync(command.host, command.port);
    console.log(
      `connected synchronously to the "${conn.connection.peerService}" service at ` +
        conn.description,
    );
    return { conn, local: false };
  }
  const conn = classic.connectSubprocessSync();
  // The child's pid, asked of the child itself: a number, no await.
  console.log(
    `started a classic server as child process ${conn.globals.Deno.pid} and connected ` +
      `synchronously to its "${conn.connection.peerService}" service`,
  );
  return { conn, local: true };
}

/** RPyC's "Running a Server" and "Running a Client": two processes. */
function processes(conn: classic.SyncClassicConnection): number {
  section("Two processes");
  const remotePid: number = conn.globals.Deno.pid;
  show("Deno.pid", Deno.pid, "this process");
  show("conn.globals.Deno.pid", remotePid, "the server");
  check(typeof remotePid === "number", "a number, not a promise");
  check(remotePid !== Deno.pid, "the server is another process");
  return remotePid;
}

/** RPyC's `conn.modules`: any module of the server, by specifier. */
function modules(conn: classic.SyncClassicConnection, local: boolean): void {
  section("The modules namespace (RPyC's conn.modules)");
  // `conn.modules[specifier]` is a remote dynamic import(), made once; `node:process` plays
  // RPyC's `sys` and `os`.
  const proc = conn.modules["node:process"];
  console.log('  const proc = conn.modules["node:process"]');
  const argv: string[] = proc.argv; // plain data: a local copy
  show("proc.argv", argv, "the server's command line");
  check(Array.isArray(argv) && argv.every((arg) => typeof arg === "string"), "argv is a list");

  const cwd: string = proc.cwd();
  show("proc.cwd()", cwd);
  if (local) {
    check(cwd === Deno.cwd(), "a child starts in our working directory");
    show("proc.ppid", proc.ppid, "its parent: this process");
    check(proc.ppid === Deno.pid, "the server is our child");
  }

  // Anything importable works. Each read and each call is a round trip of its own here (the
  // async mode sends a whole chain as one request): the price of plain code.
  const joined: string = conn.modules["node:path"].posix.join("a", "b", "c");
  show('conn.modules["node:path"].posix.join("a", "b", "c")', joined);
  check(joined === "a/b/c", "path.posix.join");

  const listing: string[] = conn.modules["node:fs"].readdirSync(cwd).sort();
  show('conn.modules["node:fs"].readdirSync(cwd).length', listing.length);
  if (local) {
    const here = Array.from(Deno.readDirSync(cwd), (entry) => entry.name).sort();
    check(JSON.stringify(listing) === JSON.stringify(here), "the server lists our directory");
    check(listing.includes("deno.json"), "the listing has deno.json");
    console.log("    (the same entries as our own listing: the child shares our directory)");
  }

  // Change the server's working directory (and put it back: other clients share the process).
  proc.chdir("..");
  try {
    const parent: string = proc.cwd();
    show('proc.chdir(".."); proc.cwd()', parent);
    check(parent === conn.modules["node:path"].dirname(cwd), "chdir moved up one level");
  } finally {
    proc.chdir(cwd);
  }

  // RPyC's print("Hello World!", file=conn.modules.sys.stdout): the server prints it.
  conn.globals.console.log("Hello World! (printed by the server, on its own console)");
  console.log('  conn.globals.console.log("Hello World! …") -> printed on the server\'s console');
  if (local) console.log("    (a child started by connectSubprocessSync shares our stderr)");
}

/** RPyC's `conn.builtins`: here, the server's `globalThis`. */
function globals(conn: classic.SyncClassicConnection): void {
  section("The globals namespace (RPyC's conn.builtins)");
  const Remote = conn.globals; // the server's globalThis: Deno, JSON, console, fetch, …
  show("conn.globals.Deno.cwd()", Remote.Deno.cwd());

  // RPyC's conn.builtins.open(path).read(). A remote function that returns a promise is
  // awaited on the server: the call returns its value.
  const file: string = Remote.Deno.makeTempFile({ prefix: "rdc-tutorial1-" });
  try {
    Remote.Deno.writeTextFile(file, "-----BEGIN NOT REALLY A KEY-----\n");
    const text: string = Remote.Deno.readTextFile(file);
    show("conn.globals.Deno.readTextFile(file)", text, "oops, a leaked key");
    check(text.startsWith("-----BEGIN"), "read the server's file");
  } finally {
    Remote.Deno.remove(file);
  }

  const json: string = Remote.JSON.stringify({ tools: ["rpyc", "rdc"] }, null, 0);
  show("conn.globals.JSON.stringify({ tools: [...] })", json);
  check(json === '{"tools":["rpyc","rdc"]}', "the server's JSON");
  const parsed = Remote.JSON.parse('{"answer": 42}');
  show(`conn.globals.JSON.parse('{"answer": 42}')`, parsed, "plain data comes back copied");
  check(parsed.answer === 42, "JSON.parse");
}

/** RPyC's `conn.eval`, `conn.execute` and `conn.namespace`. */
function evalAndExecute(conn: classic.SyncClassicConnection): void {
  section("eval, execute and the namespace");
  // RPyC: conn.execute("import math"); conn.eval("2*math.pi")
  conn.execute('const path = await import("node:path");');
  console.log(`  conn.execute('const path = await import("node:path");')`);
  const tau: number = conn.eval("2 * Math.PI");
  show('conn.eval("2 * Math.PI")', tau);
  check(tau === 2 * Math.PI, "2 * Math.PI");
  const base: string = conn.eval('path.basename("/etc/hosts")');
  show(`conn.eval('path.basename("/etc/hosts")')`, base, "path is in the namespace");
  check(base === "hosts", "the namespace keeps what execute declared");

  // eval takes statements too: the value is the last one's, and declarations persist.
  const answer: number = conn.eval("let x = 6; x * 7");
  show('conn.eval("let x = 6; x * 7")', answer);
  check(answer === 42, "eval of statements");

  // The namespace is shared by reference: read it, assign to it, list it, as a local object.
  show("conn.namespace.x", conn.namespace.x);
  conn.namespace.greeting = "hello"; // written on the server, now
  console.log('  conn.namespace.greeting = "hello"');
  const greeted: string = conn.eval('greeting + ", world"');
  show(`conn.eval('greeting + ", world"')`, greeted);
  check(greeted === "hello, world", "a name set from here");

  const names: string[] = Object.keys(conn.namespace);
  show("Object.keys(conn.namespace)", names, "the local Object.keys");
  check(["path", "x", "greeting"].every((name) => names.includes(name)), "namespace names");
}

// The teleported function below uses `os` from the server's namespace, not from here:
// this declaration only tells TypeScript about it.
declare const os: typeof import("node:os");

/** RPyC's `conn.teleport`. */
function teleport(conn: classic.SyncClassicConnection, remotePid: number): void {
  section("teleport: ship a function, run it on the server");
  const fn = conn.teleport(function square(x: number) {
    return x ** 2;
  });
  show("const fn = conn.teleport(function square(x) { … })", fn);
  const four: number = fn(2);
  show("fn(2)", four, "computed on the server");
  check(four === 4, "square(2)");

  // A named teleported function is also defined in the namespace.
  const nine: number = conn.eval("square(3)");
  show('conn.eval("square(3)")', nine);
  check(nine === 9, "square in the namespace");
  const same = conn.eval("square") === fn;
  show('conn.eval("square") === fn', same, "RPyC's conn.namespace['square'] is fn");
  check(same, "one object, one netref");

  // It may use globals and namespace names (here `os`, imported by execute).
  conn.execute('const os = await import("node:os");');
  const whereAmI = conn.teleport(function whereAmI() {
    return `pid ${Deno.pid} on ${os.platform()}`;
  });
  const where: string = whereAmI();
  show("whereAmI()", where);
  check(where.startsWith(`pid ${remotePid} on `), "the teleported function ran remotely");

  // Used as a local function would be: here by the local Array.prototype.map.
  const squares: number[] = [1, 2, 3].map((n) => fn(n));
  show("[1, 2, 3].map((n) => fn(n))", squares, "three calls, each blocking");
  check(JSON.stringify(squares) === "[1,4,9]", "a remote function in local code");

  // Names are looked up when the function runs, so functions may call each other
  // whatever the order they travel in (isEven is teleported before isOdd exists).
  const isEven = conn.teleport(function isEven(n: number): boolean {
    return n === 0 ? true : isOdd(n - 1);
  });
  const isOdd = conn.teleport(function isOdd(n: number): boolean {
    return n === 0 ? false : isEven(n - 1);
  });
  show("isEven(10)", isEven(10), "isEven calls isOdd, teleported after it");
  check(isOdd(3), "mutual recursion works");

  // A local variable of ours is not there: the source travels, not the closure.
  const secret = 42;
  const leaky = conn.teleport(() => secret + 1);
  try {
    leaky();
    check(false, "a closure's variables do not travel");
  } catch (error) {
    check(error instanceof ReferenceError, "a ReferenceError");
    tell("conn.teleport(() => secret + 1)()", `fails: ${error.message.split(":")[0]}`);
  }
}

function main(): void {
  console.log("tutorial 1, synchronously: classic rdc without await");
  securityNote();
  const opened = openClassicSync(USAGE);
  using conn = opened.conn;
  const local = opened.local;
  const remotePid = processes(conn);
  modules(conn, local);
  globals(conn);
  evalAndExecute(conn);
  teleport(conn, remotePid);
  console.log("\ntutorial 1 (synchronous) finished");
}

if (import.meta.main) main();

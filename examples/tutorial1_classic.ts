/**
 * Tutorial 1, classic rdc (RPyC's tut1, "Introduction to Classic RPyC"): a
 * classic server hands its whole process to the client, which drives it as
 * if it were local.
 *
 * It shows:
 * - starting a classic server (a child process, or `deno task rdc classic`)
 *   and connecting to it;
 * - `conn.modules`: the server's modules (RPyC's `conn.modules.sys`,
 *   `conn.modules.os`): its command line, working directory, a directory
 *   listing, `chdir`;
 * - `conn.globals`: the server's `globalThis` (RPyC's `conn.builtins`):
 *   `Deno.cwd()`, reading a file with `Deno.readTextFile`, the remote `JSON`;
 * - `conn.execute`, `conn.eval` and `conn.namespace`, the names they share;
 * - `conn.teleport`: ship a function's source and run it on the server;
 * - `conn.redirectStdio()`: the server's console output shows up here (RPyC's
 *   `redirected_stdio`).
 *
 * Security: classic mode is remote code execution by design. Whoever connects
 * can do anything the server's user can, so serve it on loopback or to
 * trusted peers only (over TLS or SSH for another host).
 *
 * Run it with a classic server started as a child process (RPyC's
 * `classic.connect_subproc`):
 *
 * ```sh
 * deno run --allow-all examples/tutorial1_classic.ts
 * ```
 *
 * Or against a classic server you started yourself (RPyC's `rpyc_classic`):
 *
 * ```sh
 * deno task rdc classic                                                    # terminal 1: 127.0.0.1:18812
 * deno run --allow-all examples/tutorial1_classic.ts --connect 127.0.0.1:18812   # terminal 2
 * ```
 *
 * Each step checks its result and throws if something is off.
 *
 * @module
 */

import { classic, setMember } from "../mod.ts";
import { parseCommandLine } from "./_cli.ts";

const USAGE =
  "usage: tutorial1_classic.ts                       start a classic server as a child\n" +
  "       tutorial1_classic.ts --connect host:port   use a running `deno task rdc classic`";

/** A section heading. */
export function section(title: string): void {
  console.log(`\n== ${title}`);
}

/** Prints `code -> value`, values the way the REPL shows them. */
export function show(code: string, value: unknown, note = ""): void {
  const text = Deno.inspect(value, { colors: false, compact: true, breakLength: Infinity });
  console.log(`  ${code} -> ${text}${note ? `   (${note})` : ""}`);
}

/** Prints `code -> text`, the text as it is (for messages rather than values). */
export function tell(code: string, text: string): void {
  console.log(`  ${code} -> ${text}`);
}

/** Throws when a step did not give what the tutorial says it gives. */
export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`tutorial check failed: ${what}`);
}

/** Prints the warning every classic server deserves. */
export function securityNote(): void {
  console.log(
    "security: a classic server hands its whole process to every client (modules, globals,\n" +
      "  eval, files): it is remote code execution by design. Serve it on loopback, or to\n" +
      "  trusted clients over TLS or SSH only; use services (tutorial 3) for anyone else.",
  );
}

/**
 * Opens the tutorial's classic connection from the command line: a child
 * process by default, `--connect host:port` for a running server.
 */
export async function openClassic(usage: string): Promise<classic.ClassicConnection> {
  const command = parseCommandLine(usage);
  if (command.mode === "serve") {
    console.error(`${usage}\n(to serve classic mode, run: deno task rdc classic)`);
    Deno.exit(2);
  }
  if (command.mode === "connect") {
    const conn = await classic.connect(command.host, command.port);
    console.log(`connected to the "${conn.peerService}" service at ${conn.description}`);
    return conn;
  }
  const conn = await classic.connectSubprocess();
  console.log(
    `started a classic server as child process ${conn.process!.pid} and connected to its ` +
      `"${conn.peerService}" service`,
  );
  return conn;
}

/** RPyC's "Running a Server" and "Running a Client": two processes. */
async function processes(conn: classic.ClassicConnection): Promise<number> {
  section("Two processes");
  const remotePid: number = await conn.globals.Deno.pid;
  show("Deno.pid", Deno.pid, "this process");
  show("await conn.globals.Deno.pid", remotePid, "the server");
  check(remotePid !== Deno.pid, "the server is another process");
  return remotePid;
}

/** RPyC's `conn.modules`: any module of the server, by specifier. */
async function modules(conn: classic.ClassicConnection, local: boolean): Promise<void> {
  section("The modules namespace (RPyC's conn.modules)");
  // `conn.modules[specifier]` is a remote dynamic import(); `node:process` plays `sys` and `os`.
  const proc = conn.modules["node:process"];
  console.log('  const proc = conn.modules["node:process"]');
  const argv: string[] = await proc.argv;
  show("await proc.argv", argv, "the server's command line");
  check(Array.isArray(argv) && argv.every((arg) => typeof arg === "string"), "argv is a list");

  const cwd: string = await proc.cwd();
  show("await proc.cwd()", cwd);
  if (local) check(cwd === Deno.cwd(), "a child starts in our working directory");

  // Anything importable works, and a chain of reads ending in a call is one round trip.
  const joined: string = await conn.modules["node:path"].posix.join("a", "b", "c");
  show('await conn.modules["node:path"].posix.join("a", "b", "c")', joined);
  check(joined === "a/b/c", "path.posix.join");

  const listing: string[] = (await conn.modules["node:fs"].readdirSync(cwd)).sort();
  show('(await conn.modules["node:fs"].readdirSync(cwd)).length', listing.length);
  if (local) {
    const here = Array.from(Deno.readDirSync(cwd), (entry) => entry.name).sort();
    check(JSON.stringify(listing) === JSON.stringify(here), "the server lists our directory");
    check(listing.includes("deno.json"), "the listing has deno.json");
    console.log("    (the same entries as our own listing: the child shares our directory)");
  }

  // Change the server's working directory (and put it back: other clients share the process).
  await proc.chdir("..");
  const parent: string = await proc.cwd();
  show('await proc.chdir(".."); await proc.cwd()', parent);
  check(parent === (await conn.modules["node:path"].dirname(cwd)), "chdir moved up one level");
  await proc.chdir(cwd);

  // RPyC's print("Hello World!", file=conn.modules.sys.stdout): the server prints it.
  await conn.globals.console.log("Hello World! (printed by the server, on its own console)");
  console.log(
    '  await conn.globals.console.log("Hello World! …") -> printed on the server\'s console',
  );
  if (local) console.log("    (a child started by connectSubprocess shares our stderr)");
}

/** RPyC's `conn.builtins`: here, the server's `globalThis`. */
async function globals(conn: classic.ClassicConnection): Promise<void> {
  section("The globals namespace (RPyC's conn.builtins)");
  const Remote = conn.globals; // the server's globalThis: Deno, JSON, console, fetch, …
  show("await conn.globals.Deno.cwd()", await Remote.Deno.cwd());

  // RPyC's conn.builtins.open(path).read(): the server's files are ours to read.
  const file: string = await Remote.Deno.makeTempFile({ prefix: "rdc-tutorial1-" });
  try {
    await Remote.Deno.writeTextFile(file, "-----BEGIN NOT REALLY A KEY-----\n");
    const text: string = await Remote.Deno.readTextFile(file);
    show("await conn.globals.Deno.readTextFile(file)", text, "oops, a leaked key");
    check(text.startsWith("-----BEGIN"), "read the server's file");
  } finally {
    await Remote.Deno.remove(file);
  }

  const json: string = await Remote.JSON.stringify({ tools: ["rpyc", "rdc"] }, null, 0);
  show("await conn.globals.JSON.stringify({ tools: [...] })", json);
  check(json === '{"tools":["rpyc","rdc"]}', "the server's JSON");
  const parsed = await Remote.JSON.parse('{"answer": 42}');
  show(`await conn.globals.JSON.parse('{"answer": 42}')`, parsed, "plain data comes back copied");
  check(parsed.answer === 42, "JSON.parse");
}

/** RPyC's `conn.eval`, `conn.execute` and `conn.namespace`. */
async function evalAndExecute(conn: classic.ClassicConnection): Promise<void> {
  section("eval, execute and the namespace");
  // RPyC: conn.execute("import math"); conn.eval("2*math.pi")
  await conn.execute('const path = await import("node:path");');
  console.log(`  await conn.execute('const path = await import("node:path");')`);
  const tau: number = await conn.eval("2 * Math.PI");
  show('await conn.eval("2 * Math.PI")', tau);
  check(tau === 2 * Math.PI, "2 * Math.PI");
  const base: string = await conn.eval('path.basename("/etc/hosts")');
  show(`await conn.eval('path.basename("/etc/hosts")')`, base, "path is in the namespace");
  check(base === "hosts", "the namespace keeps what execute declared");

  // eval takes statements too: the value is the last one's, and declarations persist.
  const answer: number = await conn.eval("let x = 6; x * 7");
  show('await conn.eval("let x = 6; x * 7")', answer);
  check(answer === 42, "eval of statements");

  // The namespace is shared by reference: read and write it from here.
  show("await conn.namespace.x", await conn.namespace.x);
  await setMember(conn.namespace, "greeting", "hello");
  console.log('  await setMember(conn.namespace, "greeting", "hello")');
  const greeted: string = await conn.eval('greeting + ", world"');
  show(`await conn.eval('greeting + ", world"')`, greeted);
  check(greeted === "hello, world", "a name set from here");

  // Passing the namespace netref back to the server gives it its own object.
  const names: string[] = await conn.globals.Object.keys(await conn.namespace);
  show("await conn.globals.Object.keys(await conn.namespace)", names);
  check(["path", "x", "greeting"].every((name) => names.includes(name)), "namespace names");
}

// The teleported function below uses `os` from the server's namespace, not from here:
// this declaration only tells TypeScript about it.
declare const os: typeof import("node:os");

/** RPyC's `conn.teleport`. */
async function teleport(conn: classic.ClassicConnection, remotePid: number): Promise<void> {
  section("teleport: ship a function, run it on the server");
  const fn = await conn.teleport(function square(x: number) {
    return x ** 2;
  });
  show("const fn = await conn.teleport(function square(x) { … })", fn);
  const four: number = await fn(2);
  show("await fn(2)", four, "computed on the server");
  check(four === 4, "square(2)");

  // A named teleported function is also defined in the namespace.
  const nine: number = await conn.eval("square(3)");
  show('await conn.eval("square(3)")', nine);
  check(nine === 9, "square in the namespace");
  const same = (await conn.eval("square")) === fn;
  show('(await conn.eval("square")) === fn', same, "RPyC's conn.namespace['square'] is fn");
  check(same, "one object, one netref");

  // It may use globals and namespace names (here `os`, imported by execute).
  await conn.execute('const os = await import("node:os");');
  const whereAmI = await conn.teleport(function whereAmI() {
    return `pid ${Deno.pid} on ${os.platform()}`;
  });
  const where: string = await whereAmI();
  show("await whereAmI()", where);
  check(where.startsWith(`pid ${remotePid} on `), "the teleported function ran remotely");

  // Names are looked up when the function runs, so functions may call each other
  // whatever the order they travel in (isEven is teleported before isOdd exists).
  const isEven = await conn.teleport(function isEven(n: number): boolean {
    return n === 0 ? true : isOdd(n - 1);
  });
  const isOdd = await conn.teleport(function isOdd(n: number): boolean {
    return n === 0 ? false : isEven(n - 1);
  });
  show("await isEven(10)", await isEven(10), "isEven calls isOdd, teleported after it");
  check(await isOdd(3), "mutual recursion works");

  // A local variable of ours is not there: the source travels, not the closure.
  const secret = 42;
  const leaky = await conn.teleport(() => secret + 1);
  try {
    await leaky();
    check(false, "a closure's variables do not travel");
  } catch (error) {
    check(error instanceof ReferenceError, "a ReferenceError");
    tell(
      "await (await conn.teleport(() => secret + 1))()",
      `fails: ${error.message.split(":")[0]}`,
    );
  }
}

/** RPyC's `redirected_stdio`: the server's console, shown here. */
async function redirectedConsole(conn: classic.ClassicConnection): Promise<void> {
  section("The server's console, redirected here (RPyC's redirected_stdio)");
  const heard: string[] = [];
  {
    await using _redirect = await conn.redirectStdio({
      write: (stream, text) => {
        for (const line of text.trimEnd().split("\n")) {
          heard.push(line);
          console.log(`  [server ${stream}] ${line}`);
        }
      },
    });
    // RPyC: conn.teleport(lambda: print(sys.version_info)) "prints on the remote terminal".
    const printVersion = await conn.teleport(() =>
      console.log("server runs deno", Deno.version.deno)
    );
    await printVersion();
    await conn.execute('console.error("a warning, on the server\'s stderr");');
  } // the redirection ends here, once all output printed before it has arrived
  check(heard.includes(`server runs deno ${Deno.version.deno}`), "stdout redirected");
  check(heard.includes("a warning, on the server's stderr"), "stderr redirected");
  console.log(`  ${heard.length} lines heard; from now on the server prints on its own console`);
}

async function main(): Promise<void> {
  console.log("tutorial 1: classic rdc");
  securityNote();
  await using conn = await openClassic(USAGE);
  const local = conn.process !== undefined; // our child: same machine, same working directory
  const remotePid = await processes(conn);
  await modules(conn, local);
  await globals(conn);
  await evalAndExecute(conn);
  await teleport(conn, remotePid);
  await redirectedConsole(conn);
  console.log("\ntutorial 1 finished");
}

if (import.meta.main) await main();

/**
 * The examples, run as real subprocesses the way a user runs them: each must
 * exit 0 and print its key lines. Echo is also run as two processes, a
 * server and a client; the classic tutorials also run against
 * `rdc classic --mode oneshot`; the demo runs as `deno task demo`.
 */

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();

/** What a finished run printed. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno ...args` in the repository's root to completion. */
async function runDeno(args: string[]): Promise<Output> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Runs `deno run --allow-all examples/<file> ...args` to completion. */
function runExample(file: string, ...args: string[]): Promise<Output> {
  return runDeno(["run", "--allow-all", `examples/${file}`, ...args]);
}

/** Checks a run exited 0 and printed every one of `lines` on stdout. */
function expectOutput(what: string, run: Output, lines: (string | RegExp)[]): void {
  const { code, stdout, stderr } = run;
  const output = `--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 0, `${what} exited ${code}\n${output}`);
  for (const line of lines) {
    const found = typeof line === "string" ? stdout.includes(line) : line.test(stdout);
    assert.ok(found, `${what} did not print ${line}\n${output}`);
  }
}

/** Runs an example and checks it exits 0 and prints every one of `lines`. */
async function expectRun(
  file: string,
  args: string[],
  lines: (string | RegExp)[],
): Promise<Output> {
  const run = await runExample(file, ...args);
  expectOutput(file, run, lines);
  return run;
}

/** The first capture of `pattern` in `text`, as a number; fails when it is missing. */
function numberIn(text: string, pattern: RegExp): number {
  const match = text.match(pattern);
  assert.ok(match, `no match for ${pattern} in:\n${text}`);
  return Number(match[1]);
}

/**
 * Starts `rdc classic --mode oneshot --port 0`, runs `client(port)` once it
 * listens, checks the server exits 0 after its one client, and returns what
 * the server printed on stdout after its two address lines.
 */
async function withOneShotClassicServer(client: (port: number) => Promise<void>): Promise<string> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "cli/main.ts",
      "classic",
      "--mode",
      "oneshot",
      "--port",
      "0",
      "--quiet",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // Read the server's stdout to its end: what clients make it print lands there too.
  const readAll = async (text: string): Promise<string> => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += value;
    }
  };
  let text = "";
  let rest: Promise<string> | undefined;
  try {
    // It prints "rdc-oneshot", then "HOST<TAB>PORT", once it listens.
    while (text.split("\n").length < 3) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the server ended before saying where it listens; it printed:\n${text}`);
      text += value;
    }
    const [banner, address, ...after] = text.split("\n");
    assert.equal(banner, "rdc-oneshot");
    rest = readAll(after.join("\n"));
    await client(Number(address!.split("\t")[1]));
    const status = await server.status;
    assert.equal(status.code, 0, "the one-shot server exits 0 after its client");
    return await rest;
  } catch (error) {
    try {
      server.kill("SIGTERM");
    } catch {
      // It has exited already.
    }
    await server.status;
    await (rest ?? reader.cancel());
    throw error;
  }
}

Deno.test("examples/echo.ts runs server and client in one process", async () => {
  await expectRun("echo.ts", [], [
    "server: a client connected",
    "client: connected to the Echo service",
    'client: echo("hello") -> "hello"',
    'client: echo("rdc") -> "rdc"',
    "client: a copy, not the same object: true",
    "server: the client went away",
    "done",
  ]);
});

Deno.test("examples/echo.ts runs as two processes: --serve 0 and --connect", async () => {
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "examples/echo.ts", "--serve", "0"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    // The server prints "echo server listening on 127.0.0.1:<port>" once it listens.
    let seen = "";
    let port = 0;
    while (!port) {
      const { value, done } = await lines.read();
      assert.ok(!done, `the server exited before listening; it printed:\n${seen}`);
      seen += value;
      port = Number(seen.match(/listening on 127\.0\.0\.1:(\d+)/)?.[1] ?? 0);
    }
    await expectRun("echo.ts", ["--connect", `127.0.0.1:${port}`, "one", "two"], [
      `client: connected to the Echo service (tcp 127.0.0.1:${port})`,
      'client: echo("one") -> "one"',
      'client: echo("two") -> "two"',
    ]);
  } finally {
    server.kill("SIGTERM");
    await lines.cancel();
    await server.status;
  }
});

Deno.test("examples/tutorial3_services.ts shows exposure, per-client state and a one-shot server", async () => {
  await expectRun("tutorial3_services.ts", [], [
    "server: client #1 connected",
    "server: client #2 connected",
    'client: connected to the "My" service',
    "client: getAnswer() = 42",
    "client: exposed_getAnswer() = 42",
    "client: theRealAnswerThough = 43",
    "client: getQuestion() refused: true (AccessError: cannot access 'getQuestion')",
    "client: alice.whoAmI() = client #1",
    "client: bob.whoAmI() = client #2",
    `client: alice's notes = ["buy milk","call mom","read rdc docs"]`,
    `client: bob's notes = ["water plants","feed cat"]`,
    /client: \[Remote Counter #\d+\] counts 16/,
    "server: client #1 disconnected, it left 3 notes",
    "server: client #2 disconnected, it left 2 notes",
    "client: one-shot server answers 42",
    "client: the one-shot server has closed",
    "client: a second client is refused",
    "done",
  ]);
});

Deno.test("examples/tutorial4_callbacks.ts calls the client back", async () => {
  await expectRun("tutorial4_callbacks.ts", [], [
    "client: map callback got 2",
    "client: map -> [1,4,9]",
    "client: startTimer returned; waiting for ticks",
    "client: tick 3 from the server",
    'server: tick 1 acknowledged with "ack 1"',
    "client: nested map -> [4,9,16]",
    "client: progress 100%",
    "client: processed 4 steps",
    "client: tryEach 1: failed, 1 is odd (remote: true)",
    "client: tryEach 2: ok, even",
    "client: map failed with RangeError: 3 is odd (RemoteError: true, RangeError: true)",
    "done",
  ]);
});

Deno.test("examples/worker.ts offloads work to a module worker and exits 0", async () => {
  await expectRun("worker.ts", [], [
    "worker: 10%",
    "worker: 90%",
    "primes below 20 000 000: 1270607",
    "the main thread stayed responsive: true",
    "sha-256 of 64 MiB of 7s: 08fc7f5f33ae0938ae102cce12411f3cb1771056331da72a62fddaeedfa633cb",
    "the array is still ours: true",
  ]);
});

Deno.test("examples/services_tour.ts walks through services and exits 0", async () => {
  await expectRun("services_tour.ts", [], [
    'services tour: connected to the "Bank" service',
    /await conn\.root\.add\(1, 2\)\s+3/,
    /open\(\)\.deposit\(\)\.withdraw\(\)\s+balance 70/,
    /requests sent\s+4, in one round trip/,
    'client callback got "withdraw"',
    /Deno\.inspect\(account\)\s+\[Remote Account #\d+\]/,
    /await obtain\(settings\)\s+\{ currency: "EUR"/,
    /error\s+RangeError: ada cannot withdraw 1000: balance is 70/,
    /instanceof RemoteError\s+true/,
    "at Account.exposed_withdraw",
    /timed\(sleep, 100\)\(5000\)\s+TimeoutError after \d+ ms/,
    /still usable: add\(2, 2\)\s+4/,
    /pendingRequests\s+0/,
    "tour finished",
  ]);
});

Deno.test("deno task demo tours a classic server in another process", async () => {
  const run = await runDeno(["task", "demo"]);
  expectOutput("deno task demo", run, [
    /started "rdc classic --mode oneshot", listening on 127\.0\.0\.1:\d+/,
    'connected to the "Classic" service',
    /conn\.modules\["node:path"\]\.posix\.join\("a", "b"\)\s+a\/b\n/,
    /await conn\.eval\("visits \* 10"\)\s+10\n/,
    /await conn\.namespace\.visits\s+1\n/,
    /await sumOfSquares\(1000\)\s+\{ sum: 333833500, pid: \d+ \}/,
    /await conn\.eval\("sumOfSquares\(3\)\.sum"\)\s+14\n/,
    /teleport\(\(\) => secret \+ 1\)\(\)\s+fails: secret is not defined\n/,
    /the client heard\s+3 \(from pid \d+\), 2 \(from pid \d+\), 1 \(from pid \d+\)/,
    /await countdown\(3, report\)\s+lift-off/,
    /server stdout says\s+hello from the server, pid \d+/,
    /server stderr says\s+and a warning on its stderr/,
    /remote listing\s+\[ "hello\.txt", "nested", "run\.sh" \]/,
    /downloaded 3 MiB blob is identical\s+true/,
    /run\.sh mode kept\s+755/,
    /error\s+RangeError: cannot divide by zero/,
    /instanceof RangeError \/ RemoteError\s+true \/ true/,
    /remote stack:\n\s+RangeError: cannot divide by zero\n\s+at \S*explode \(/,
    /ping \(ms\)\s+\d+\.\d\d/,
    /server exited with status\s+0/,
    "demo finished",
  ]);
  const { stdout } = run;
  const ours = numberIn(stdout, /our pid\s+(\d+)/);
  const remote = numberIn(stdout, /await conn\.globals\.Deno\.pid\s+(\d+)/);
  assert.notEqual(remote, ours, "the server is another process");
  assert.equal(numberIn(stdout, /hello rdc from pid (\d+)/), remote, "greet ran on the server");
  assert.equal(numberIn(stdout, /pid: (\d+) \}/), remote, "the teleported function ran there");
  assert.equal(numberIn(stdout, /\((?:from pid) (\d+)\)/), remote, "the callback came from there");
  assert.equal(numberIn(stdout, /hello from the server, pid (\d+)/), remote, "its console");
});

/** The key lines of tutorial 1, whichever way its server was started. */
const TUTORIAL1_LINES: (string | RegExp)[] = [
  "tutorial 1: classic rdc",
  "security: a classic server hands its whole process to every client",
  /await proc\.argv -> \[ "[^"]+", .*\] {3}\(the server's command line\)/,
  /await proc\.cwd\(\) -> "\/.*"/,
  'await conn.modules["node:path"].posix.join("a", "b", "c") -> "a/b/c"',
  /await proc\.chdir\(".."\); await proc\.cwd\(\) -> "\/.*"/,
  "printed on the server's console",
  /await conn\.globals\.Deno\.cwd\(\) -> "\/.*"/,
  'await conn.globals.Deno.readTextFile(file) -> "-----BEGIN NOT REALLY A KEY-----\\n"',
  `await conn.globals.JSON.stringify({ tools: [...] }) -> '{"tools":["rpyc","rdc"]}'`,
  `await conn.globals.JSON.parse('{"answer": 42}') -> { answer: 42 }`,
  'await conn.eval("2 * Math.PI") -> 6.283185307179586',
  `await conn.eval('path.basename("/etc/hosts")') -> "hosts"`,
  'await conn.eval("let x = 6; x * 7") -> 42',
  "await conn.namespace.x -> 6",
  `await conn.eval('greeting + ", world"') -> "hello, world"`,
  'await conn.globals.Object.keys(await conn.namespace) -> [ "path", "x", "greeting" ]',
  /const fn = await conn\.teleport\(function square\(x\) \{ … \}\) -> \[Remote function square #\d+\]/,
  "await fn(2) -> 4   (computed on the server)",
  'await conn.eval("square(3)") -> 9',
  '(await conn.eval("square")) === fn -> true',
  /await whereAmI\(\) -> "pid \d+ on \w+"/,
  "await isEven(10) -> true   (isEven calls isOdd, teleported after it)",
  "await (await conn.teleport(() => secret + 1))() -> fails: secret is not defined",
  `[server stdout] server runs deno ${Deno.version.deno}`,
  "[server stderr] a warning, on the server's stderr",
  "tutorial 1 finished",
];

/** The server's pid as tutorial 1 printed it, checked against ours. */
function tutorial1ServerPid(stdout: string): number {
  const ours = numberIn(stdout, /Deno\.pid -> (\d+) {3}\(this process\)/);
  const remote = numberIn(stdout, /await conn\.globals\.Deno\.pid -> (\d+) {3}\(the server\)/);
  assert.notEqual(remote, ours, "the server is another process");
  assert.equal(numberIn(stdout, /whereAmI\(\) -> "pid (\d+) on/), remote, "teleported there");
  return remote;
}

const HELLO = "Hello World! (printed by the server, on its own console)";

Deno.test("examples/tutorial1_classic.ts drives a classic server in a child process", async () => {
  const { stdout, stderr } = await expectRun("tutorial1_classic.ts", [], [
    ...TUTORIAL1_LINES,
    /started a classic server as child process \d+ and connected to its "Classic" service/,
    /await proc\.argv -> \[ "[^"]+", "[^"]*server_main\.ts" \]/,
    "(the same entries as our own listing: the child shares our directory)",
    "(a child started by connectSubprocess shares our stderr)",
  ]);
  const child = numberIn(stdout, /as child process (\d+)/);
  assert.equal(tutorial1ServerPid(stdout), child, "the server is the child");
  // Not redirected: the server printed it on its own console (the child's stderr is ours).
  assert.ok(stderr.includes(HELLO), `the child's console has the hello:\n${stderr}`);
  assert.ok(!stdout.includes(HELLO), "the hello is not on the client's stdout");
});

Deno.test("examples/tutorial1_classic.ts --connect uses a running rdc classic", async () => {
  let stdout = "";
  const serverOutput = await withOneShotClassicServer(async (port) => {
    ({ stdout } = await expectRun("tutorial1_classic.ts", ["--connect", `127.0.0.1:${port}`], [
      ...TUTORIAL1_LINES,
      `connected to the "Classic" service at tcp 127.0.0.1:${port}`,
      /await proc\.argv -> \[ "[^"]+", "[^"]*cli\/main\.ts", "classic", "--mode", "oneshot"/,
    ]));
  });
  tutorial1ServerPid(stdout);
  assert.ok(serverOutput.includes(HELLO), `the server printed the hello:\n${serverOutput}`);
  assert.ok(!stdout.includes(HELLO), "the hello is not on the client's stdout");
  assert.ok(!serverOutput.includes("server runs deno"), "redirected output stays off the server");
});

/** The key lines of tutorial 2, whichever way its server was started. */
const TUTORIAL2_LINES: (string | RegExp)[] = [
  "tutorial 2: netrefs and exceptions",
  "security: a classic server hands its whole process to every client",
  "conn.globals.Deno.pid -> [Remote Classic #0.globals.Deno.pid]   (not awaited: a path, nothing " +
  "sent yet)",
  /await conn\.globals\.Deno\.pid -> \d+/,
  /const os = await conn\.modules\["node:os"\] -> \[Remote \w+ #\d+\]/,
  "isRemote(os) -> true",
  'typeof os -> "function"',
  '"hostname" in os -> true',
  '"noSuchThing" in os -> false',
  'await hasMember(os, "cpus") -> true',
  /const resolve = await conn\.modules\["node:path"\]\.resolve -> \[Remote function resolve #\d+\]/,
  'await resolve("/tmp", "x") -> "/tmp/x"',
  "Array.isArray(os) -> false",
  'await conn.eval("[1, 2, 3]") -> [ 1, 2, 3 ]   (a local copy)',
  "isRemote(list) -> false",
  `await conn.eval('new Map([["apples", 3]])') -> Map(1) { "apples" => 3 }`,
  'await conn.namespace.items.push("c") -> 3',
  'await conn.namespace.items -> [ "a", "b", "c" ]   (a copy each time)',
  'await conn.namespace.stock.get("pears") -> 5',
  "await conn.namespace.stock.size -> 2",
  /await conn\.globals\.JSON -> \[Remote JSON #\d+\]/,
  /const stack = await new conn\.namespace\.Stack\(\) -> \[Remote Stack #\d+\]/,
  /Deno\.inspect\(stack\) -> "\[Remote Stack #\d+\]"/,
  "await stack.push(1, 2, 3) -> 3",
  "await stack.size -> 3",
  "await stack.pop() -> 3",
  "for await (const item of stack) -> [ 2, 1 ]",
  "for await (const n of conn.namespace.countdown(3)) -> [ 3, 2, 1 ]",
  /new conn\.globals\.URL\("https:\/\/example\.com:8080\/search\?q=rdc"\) -> \[Remote URL #\d+\]/,
  'await url.searchParams.get("q") -> "rdc"',
  "new conn.globals.Array(-1) -> RangeError: Invalid array length",
  "instanceof RangeError / RemoteError -> true / true",
  /conn\.globals\.JSON\.parse\("\{oops"\) -> SyntaxError: \S/,
  "its remote stack has -> at JSON.parse (<anonymous>)",
  "conn.namespace.withdraw(70, 1000) -> RangeError: cannot withdraw 1000: balance is 70",
  /\n\s+at \S*withdraw \(.*\) {3}\(remote\)\n\s+at <rdc: remote call>\n/,
  /at async exceptions \(.*tutorial2_netrefs\.ts:\d+:\d+\) {3}\(local\)/,
  'conn.namespace.take("apples") -> OutOfStock: no apples left (item: apples)',
  "timed(conn.namespace.slowSquare, 100)(7, 10_000) -> TimeoutError after ~100 ms",
  "await conn.namespace.abandoned -> [ 7 ]   (the server was told and stopped)",
  "timed(conn.namespace.slowSquare, 5_000)(3, 10) -> 9",
  "timed(slowSquare, { signal })(5, 10_000), then abort() -> AbortError",
  'still usable: await conn.eval("6 * 7") -> 42',
  "conn.stats().pendingRequests -> 0",
  "tutorial 2 finished",
];

Deno.test("examples/tutorial2_netrefs.ts shows netrefs and remote exceptions", async () => {
  await expectRun("tutorial2_netrefs.ts", [], [
    ...TUTORIAL2_LINES,
    /started a classic server as child process \d+ and connected to its "Classic" service/,
  ]);
});

Deno.test("examples/tutorial2_netrefs.ts --connect uses a running rdc classic", async () => {
  await withOneShotClassicServer(async (port) => {
    await expectRun("tutorial2_netrefs.ts", ["--connect", `127.0.0.1:${port}`], [
      ...TUTORIAL2_LINES,
      `connected to the "Classic" service at tcp 127.0.0.1:${port}`,
    ]);
  });
});

/** The key lines of the synchronous tutorial 1, whichever way its server was started. */
const TUTORIAL1_SYNC_LINES: (string | RegExp)[] = [
  "tutorial 1, synchronously: classic rdc without await",
  "security: a classic server hands its whole process to every client",
  /\n {2}proc\.argv -> \[ "[^"]+", .*\] {3}\(the server's command line\)/,
  /\n {2}proc\.cwd\(\) -> "\/.*"/,
  '\n  conn.modules["node:path"].posix.join("a", "b", "c") -> "a/b/c"',
  /\n {2}proc\.chdir\(".."\); proc\.cwd\(\) -> "\/.*"/,
  "printed on the server's console",
  /\n {2}conn\.globals\.Deno\.cwd\(\) -> "\/.*"/,
  '\n  conn.globals.Deno.readTextFile(file) -> "-----BEGIN NOT REALLY A KEY-----\\n"',
  `\n  conn.globals.JSON.stringify({ tools: [...] }) -> '{"tools":["rpyc","rdc"]}'`,
  `\n  conn.globals.JSON.parse('{"answer": 42}') -> { answer: 42 }`,
  '\n  conn.eval("2 * Math.PI") -> 6.283185307179586',
  `\n  conn.eval('path.basename("/etc/hosts")') -> "hosts"`,
  '\n  conn.eval("let x = 6; x * 7") -> 42',
  "\n  conn.namespace.x -> 6",
  `\n  conn.eval('greeting + ", world"') -> "hello, world"`,
  'Object.keys(conn.namespace) -> [ "path", "x", "greeting" ]   (the local Object.keys)',
  /const fn = conn\.teleport\(function square\(x\) \{ … \}\) -> \[Remote function square #\d+\]/,
  "\n  fn(2) -> 4   (computed on the server)",
  '\n  conn.eval("square(3)") -> 9',
  '\n  conn.eval("square") === fn -> true',
  /\n {2}whereAmI\(\) -> "pid \d+ on \w+"/,
  "[1, 2, 3].map((n) => fn(n)) -> [ 1, 4, 9 ]",
  "isEven(10) -> true   (isEven calls isOdd, teleported after it)",
  "conn.teleport(() => secret + 1)() -> fails: secret is not defined",
  "tutorial 1 (synchronous) finished",
];

/** The server's pid as the synchronous tutorial 1 printed it, checked against ours. */
function tutorial1SyncServerPid(stdout: string): number {
  const ours = numberIn(stdout, /Deno\.pid -> (\d+) {3}\(this process\)/);
  const remote = numberIn(stdout, /conn\.globals\.Deno\.pid -> (\d+) {3}\(the server\)/);
  assert.notEqual(remote, ours, "the server is another process");
  assert.equal(numberIn(stdout, /whereAmI\(\) -> "pid (\d+) on/), remote, "teleported there");
  return remote;
}

Deno.test("examples/tutorial1_sync.ts drives a classic server in a child process, without await", async () => {
  const { stdout, stderr } = await expectRun("tutorial1_sync.ts", [], [
    ...TUTORIAL1_SYNC_LINES,
    /started a classic server as child process \d+ and connected synchronously to its "Classic" service/,
    /proc\.argv -> \[ "[^"]+", "[^"]*server_main\.ts" \]/,
    "(the same entries as our own listing: the child shares our directory)",
    "(a child started by connectSubprocessSync shares our stderr)",
  ]);
  const child = numberIn(stdout, /as child process (\d+)/);
  assert.equal(tutorial1SyncServerPid(stdout), child, "the server is the child");
  assert.equal(
    numberIn(stdout, /proc\.ppid -> (\d+) {3}\(its parent: this process\)/),
    numberIn(
      stdout,
      /Deno\.pid -> (\d+) {3}\(this process\)/,
    ),
    "the child's parent is the tutorial",
  );
  assert.ok(stderr.includes(HELLO), `the child's console has the hello:\n${stderr}`);
  assert.ok(!stdout.includes(HELLO), "the hello is not on the client's stdout");
});

Deno.test("examples/tutorial1_sync.ts --connect uses a running rdc classic", async () => {
  let stdout = "";
  const serverOutput = await withOneShotClassicServer(async (port) => {
    ({ stdout } = await expectRun("tutorial1_sync.ts", ["--connect", `127.0.0.1:${port}`], [
      ...TUTORIAL1_SYNC_LINES,
      `connected synchronously to the "Classic" service at tcp 127.0.0.1:${port}`,
      /proc\.argv -> \[ "[^"]+", "[^"]*cli\/main\.ts", "classic", "--mode", "oneshot"/,
    ]));
  });
  tutorial1SyncServerPid(stdout);
  assert.ok(!stdout.includes("proc.ppid"), "a server we did not start is not our child");
  assert.ok(serverOutput.includes(HELLO), `the server printed the hello:\n${serverOutput}`);
  assert.ok(!stdout.includes(HELLO), "the hello is not on the client's stdout");
});

/** The key lines of the synchronous tutorial 2, whichever way its server was started. */
const TUTORIAL2_SYNC_LINES: (string | RegExp)[] = [
  "tutorial 2, synchronously: netrefs and exceptions without await",
  "security: a classic server hands its whole process to every client",
  /conn\.globals\.Deno\.pid -> \d+ {3}\(a number: read now\)/,
  /const os = conn\.modules\["node:os"\] -> \[Remote Module #\d+\]/,
  "isRemote(os) -> true",
  '"hostname" in os -> true',
  '"noSuchThing" in os -> false',
  /os\.hostname\(\) -> "[^"]+" {3}\(a method call: the value\)/,
  /const resolve = conn\.modules\["node:path"\]\.resolve -> \[Remote function resolve #\d+\]/,
  'resolve("/tmp", "x") -> "/tmp/x"',
  'conn.eval("[1, 2, 3]") -> [ 1, 2, 3 ]   (a local copy)',
  "isRemote(list) -> false",
  `conn.eval('new Map([["apples", 3]])') -> Map(1) { "apples" => 3 }`,
  'conn.namespace.items -> [ "a", "b" ]   (a copy each time)',
  /const items = conn\.eval\("rdc\.ref\(items\)"\) -> \[Remote Array #\d+\]/,
  'items.push("c") -> 3   (on the server\'s array)',
  "Array.isArray(items) -> true",
  '[items.length, items[0], [...items]] -> [ 3, "a", [ "a", "b", "c" ] ]',
  'stock.set("pears", 5); stock.get("pears") -> 5',
  "stock.size -> 2",
  /conn\.globals\.JSON -> \[Remote JSON #\d+\]/,
  /const stack = new conn\.namespace\.Stack\(\) -> \[Remote Stack #\d+\]/,
  "stack instanceof conn.namespace.Stack -> true",
  "stack.push(1, 2, 3) -> 3",
  "stack.size -> 3",
  "stack.pop() -> 3",
  "for (const item of stack) -> [ 2, 1 ]",
  "for (const n of conn.namespace.countdown(5)) { …; if (n === 3) break; } -> [ 5, 4, 3 ]",
  "conn.namespace.cleanups -> [ 5 ]   (its finally ran)",
  'settings.enabled ? "on" : "off" -> "off"',
  "settings.retries || 3 -> 3",
  'Object.keys(settings) -> [ "enabled", "retries", "name" ]',
  `JSON.stringify(settings) -> '{"enabled":false,"retries":0,"name":"db"}'`,
  'settings.retries = 5; conn.eval("settings.retries") -> 5',
  /new conn\.globals\.URL\("https:\/\/example\.com:8080\/search\?q=rdc"\) -> \[Remote URL #\d+\]/,
  'String(url) -> "https://example.com:8080/search?q=rdc"',
  'url.searchParams.get("q") -> "rdc"',
  '`port ${url.port}` -> "port 8080"',
  "new conn.globals.Array(-1) -> RangeError: Invalid array length",
  "instanceof RangeError / RemoteError -> true / true",
  /conn\.globals\.JSON\.parse\("\{oops"\) -> SyntaxError: \S/,
  "its remote stack has -> at parse (<anonymous>)",
  "conn.namespace.withdraw(70, 1000) -> RangeError: cannot withdraw 1000: balance is 70",
  /\n\s+at \S*withdraw \(.*\) {3}\(remote\)\n\s+at <rdc: remote call>\n/,
  /\n\s+at exceptions \(.*tutorial2_sync\.ts:\d+:\d+\) {3}\(local\)/,
  'conn.namespace.take("apples") -> OutOfStock: no apples left (item: apples)',
  "conn.connection.timed(conn.namespace.slowSquare, 100)(7, 10_000) -> TimeoutError after ~100 ms",
  "conn.namespace.abandoned -> [ 7 ]   (the server was told and stopped)",
  "conn.connection.timed(conn.namespace.slowSquare, 5_000)(3, 10) -> 9",
  'still usable: conn.eval("6 * 7") -> 42',
  "conn.stats().pendingRequests -> 0",
  "sumOf((i) => i * i, 3) -> 14   (the server called us back with 1, 2, 3)",
  "sumOf(async (i) => await Promise.resolve(i * i), 2) -> TypeError: the call of the target returned a promise while " +
  "this thread is blocked in a synchronous call",
  "await Promise.all([2, 3, 4].map((x) => slowSquare(x, 400))) -> [ 4, 9, 16 ]",
  "await conn.async(sumOf)(async (i) => (await tick(), i * 10), 3) -> 60",
  "tutorial 2 (synchronous) finished",
];

Deno.test("examples/tutorial2_sync.ts shows synchronous netrefs and remote exceptions", async () => {
  await expectRun("tutorial2_sync.ts", [], [
    ...TUTORIAL2_SYNC_LINES,
    /started a classic server as child process \d+ and connected synchronously to its "Classic" service/,
  ]);
});

Deno.test("examples/tutorial2_sync.ts --connect uses a running rdc classic", async () => {
  await withOneShotClassicServer(async (port) => {
    await expectRun("tutorial2_sync.ts", ["--connect", `127.0.0.1:${port}`], [
      ...TUTORIAL2_SYNC_LINES,
      `connected synchronously to the "Classic" service at tcp 127.0.0.1:${port}`,
    ]);
  });
});

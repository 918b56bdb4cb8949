/**
 * The `rdc` command as users run it: `deno run --allow-all cli/main.ts ...`
 * in a real subprocess. `rdc classic` in each mode (concurrent, oneshot,
 * stdio, isolated), on TCP and unix sockets, its logging flags and signals,
 * and every kind of usage mistake (exit status 2, one line on stderr).
 */

import assert from "node:assert/strict";
import { classic, ConnectionClosedError } from "../mod.ts";
import { quietLogger } from "./_helpers.ts";
import {
  canRun,
  exists,
  freePort,
  isAlive,
  oneshotAddress,
  poll,
  privateNetns,
  RDC,
  RdcProcess,
  ROOT,
  runRdc,
  WAIT_MS,
  within,
} from "./_cli.ts";

const ROOT_PATH = decodeURIComponent(ROOT.pathname);

/** Connects a classic client that keeps its log lines to itself. */
function connectTcp(host: string, port: number) {
  return classic.connect(host, port, { logger: quietLogger() });
}

/** Parses "HOST\tPORT" as a oneshot server prints it. */
function hostPort(line: string): [string, number] {
  const match = /^([^\t]+)\t(\d+)$/.exec(line);
  assert.ok(match, `expected HOST<TAB>PORT, got ${JSON.stringify(line)}`);
  return [match[1]!, Number(match[2])];
}

/** Whether a TCP connection to host:port is refused now. */
async function refused(hostname: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return true;
    throw error;
  }
}

/** Waits until a concurrent or isolated server logs where it serves; returns the port. */
async function loggedPort(proc: RdcProcess, mode: string): Promise<number> {
  const match = await proc.waitStderr(new RegExp(`serving ${mode} on 127\\.0\\.0\\.1:(\\d+)`));
  return Number(match[1]);
}

// --- help -----------------------------------------------------------------------------------

Deno.test("rdc classic --help: exit 0, lists every flag and mode", async () => {
  const { code, stdout, stderr } = await runRdc("classic", "--help");
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  for (
    const flag of [
      "--host",
      "-p, --port",
      "-m, --mode",
      "--unix",
      "--logfile",
      "-q, --quiet",
      "--insecure-remote",
      "--max-connections N",
      "--idle-timeout SECONDS",
      "-h, --help",
      "concurrent",
      "oneshot",
      "stdio",
      "isolated",
      "pool",
      "--workers N",
      "-6, --ipv6",
      "threaded",
      "forking",
      "18812",
    ]
  ) {
    assert.ok(stdout.includes(flag), `classic --help does not mention ${flag}:\n${stdout}`);
  }
  const short = await runRdc("classic", "-h");
  assert.equal(short.code, 0);
  assert.equal(short.stdout, stdout);
});

Deno.test("rdc --help lists the commands; rdc alone prints it and exits 2", async () => {
  const help = await runRdc("--help");
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /classic/);
  assert.match(help.stdout, /shell/);
  const bare = await runRdc();
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, help.stdout);
});

// --- oneshot, ports and hosts ----------------------------------------------------------------

Deno.test("rdc classic --mode oneshot --port 0: two lines, 127.0.0.1, one client only, exit 0", async () => {
  await using proc = new RdcProcess(["classic", "--mode", "oneshot", "--port", "0"]);
  const [host, port] = hostPort(await oneshotAddress(proc));
  assert.equal(host, "127.0.0.1");
  assert.ok(port > 0);
  {
    await using conn = await connectTcp(host, port);
    assert.equal(await conn.eval("6 * 7"), 42);
    assert.equal(await conn.globals.Deno.pid, proc.child.pid);
    // The listener closed once the one client arrived: a second one is refused.
    assert.ok(await refused(host, port), "a second client reached the oneshot server");
    assert.ok(!proc.exited, "the oneshot server exited while its client was connected");
  }
  const status = await proc.wait();
  assert.equal(status.code, 0, proc.output());
  assert.equal(proc.stdout, `rdc-oneshot\n${host}\t${port}\n`, "stdout has only the two lines");
  assert.ok(await refused(host, port), "the port still accepts after the server exited");
  assert.match(proc.stderr, /serving oneshot on 127\.0\.0\.1:\d+/);
});

Deno.test("rdc classic -p PORT and --port=PORT: the server listens on that port", async () => {
  const forms = [
    (port: number) => ["-m", "oneshot", "-p", `${port}`],
    (port: number) => ["-m", "oneshot", `--port=${port}`],
    (port: number) => ["--mode=oneshot", "--port", `${port}`],
  ];
  for (const form of forms) {
    const port = freePort();
    const args = form(port);
    await using proc = new RdcProcess(["classic", ...args]);
    assert.deepEqual(hostPort(await oneshotAddress(proc)), ["127.0.0.1", port], proc.output());
    {
      await using conn = await connectTcp("127.0.0.1", port);
      assert.equal(await conn.eval("1 + 1"), 2);
    }
    assert.equal((await proc.wait()).code, 0, proc.output());
  }
});

Deno.test("rdc classic --host: loopback names and addresses are accepted", async () => {
  for (
    const [given, expected] of [["localhost", /^(127\.0\.0\.1|::1)$/], [
      "127.0.0.2",
      /^127\.0\.0\.2$/,
    ]] as const
  ) {
    await using proc = new RdcProcess(["classic", "-m", "oneshot", "-p", "0", "--host", given]);
    const [host, port] = hostPort(await oneshotAddress(proc));
    assert.match(host, expected);
    {
      await using conn = await connectTcp(host, port);
      assert.equal(await conn.eval("'ok'"), "ok");
    }
    assert.equal((await proc.wait()).code, 0, proc.output());
  }
});

// --- unix sockets ------------------------------------------------------------------------------

Deno.test("rdc classic --unix PATH -m oneshot prints the path as the second line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc_cli_" });
  try {
    const path = `${dir}/classic.sock`;
    await using proc = new RdcProcess(["classic", "-m", "oneshot", "--unix", path]);
    assert.equal(await oneshotAddress(proc), path);
    {
      await using conn = await classic.connectUnix(path, { logger: quietLogger() });
      assert.equal(await conn.eval("6 * 7"), 42);
    }
    assert.equal((await proc.wait()).code, 0, proc.output());
    assert.ok(!(await exists(path)), "the oneshot server left its socket behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rdc classic --unix PATH: serves concurrently; SIGTERM exits 0 and removes the socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc_cli_" });
  try {
    const path = `${dir}/classic.sock`;
    await using proc = new RdcProcess(["classic", "--unix", path]);
    await proc.waitStderr(/serving concurrent on /);
    assert.ok(proc.stderr.includes(path), proc.output());
    await using one = await classic.connectUnix(path, { logger: quietLogger() });
    await using two = await classic.connectUnix(path, { logger: quietLogger() });
    await one.execute("globalThis.seen = 'one'");
    // Concurrent mode: one process, so both clients share globals.
    assert.equal(await two.eval("globalThis.seen"), "one");
    assert.equal(await two.globals.Deno.pid, proc.child.pid);
    const status = await proc.stop("SIGTERM");
    assert.equal(status.code, 0, proc.output());
    assert.equal(status.signal, null);
    assert.match(proc.stderr, /stopped/);
    assert.ok(!(await exists(path)), "the server left its socket behind");
    await within(one.finished, WAIT_MS, "the first client to see the server go");
    await within(two.finished, WAIT_MS, "the second client to see the server go");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- logging ---------------------------------------------------------------------------------

Deno.test("rdc classic --logfile FILE: log lines are appended to FILE, none on stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc_cli_" });
  try {
    const logfile = `${dir}/classic.log`;
    await Deno.writeTextFile(logfile, "an earlier line\n");
    await using proc = new RdcProcess([
      "classic",
      "-m",
      "oneshot",
      "-p",
      "0",
      "--logfile",
      logfile,
    ]);
    const [host, port] = hostPort(await oneshotAddress(proc));
    {
      await using conn = await connectTcp(host, port);
      assert.equal(await conn.eval("2 ** 10"), 1024);
    }
    assert.equal((await proc.wait()).code, 0, proc.output());
    assert.equal(proc.stderr, "", "log lines went to stderr as well");
    const log = await Deno.readTextFile(logfile);
    assert.ok(log.startsWith("an earlier line\n"), `the log file was not appended to:\n${log}`);
    assert.match(log, new RegExp(`rdc classic info: serving oneshot on 127\\.0\\.0\\.1:${port}\n`));
    assert.match(log, /rdc classic info: stopped\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rdc classic -q: no info lines on stderr", async () => {
  await using proc = new RdcProcess(["classic", "-m", "oneshot", "-p", "0", "-q"]);
  const [host, port] = hostPort(await oneshotAddress(proc));
  {
    await using conn = await connectTcp(host, port);
    assert.equal(await conn.eval("'quiet'"), "quiet");
  }
  assert.equal((await proc.wait()).code, 0, proc.output());
  assert.equal(proc.stderr, "");
});

// --- stdio ------------------------------------------------------------------------------------

Deno.test("rdc classic --mode stdio: classic.connectSubprocess speaks classic over its stdio", async () => {
  const cmd = [...RDC, "classic", "--mode", "stdio", "-q"];
  const conn = await classic.connectSubprocess(cmd, { cwd: ROOT_PATH, logger: quietLogger() });
  try {
    assert.equal(conn.peerService, "Classic");
    assert.equal(await conn.eval("6 * 7"), 42);
    assert.equal(await conn.globals.Deno.pid, conn.process!.pid);
    const os = await import("node:os");
    assert.equal(await conn.modules["node:os"].platform(), os.platform());
    await conn.execute("const half = 21");
    assert.equal(await conn.eval("half * 2"), 42);
    const remoteAdd = await conn.teleport((a: number, b: number) => a + b);
    assert.equal(await remoteAdd(2, 3), 5);
  } finally {
    await within(conn.close(), WAIT_MS, "the stdio server to exit");
  }
  const status = await conn.process!.status;
  assert.equal(status.code, 0);
});

Deno.test("rdc classic --mode stdio: SIGTERM ends it with exit 0", async () => {
  const cmd = [...RDC, "classic", "--mode", "stdio", "--quiet"];
  const conn = await classic.connectSubprocess(cmd, { cwd: ROOT_PATH, logger: quietLogger() });
  try {
    assert.equal(await conn.eval("'up'"), "up");
    conn.process!.kill("SIGTERM");
    const status = await within(conn.process!.status, WAIT_MS, "the stdio server to exit");
    assert.equal(status.code, 0);
    assert.equal(status.signal, null);
    await within(conn.finished, WAIT_MS, "the connection to close");
  } finally {
    await conn.close();
  }
});

// --- signals ---------------------------------------------------------------------------------

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`rdc classic (concurrent): ${signal} stops it cleanly with exit 0`, async () => {
    const port = freePort();
    await using proc = new RdcProcess(["classic", "-p", `${port}`]);
    assert.equal(await loggedPort(proc, "concurrent"), port);
    await using conn = await connectTcp("127.0.0.1", port);
    assert.equal(await conn.eval("40 + 2"), 42);
    const status = await proc.stop(signal);
    assert.equal(status.code, 0, proc.output());
    assert.equal(status.signal, null);
    assert.match(proc.stderr, /info: stopped/);
    await within(conn.finished, WAIT_MS, "the client to see the server go");
    assert.ok(await refused("127.0.0.1", port), "the port still accepts after the server exited");
  });
}

// --- isolated -------------------------------------------------------------------------------

Deno.test("rdc classic --mode isolated: a process per client, crashes contained, children gone after SIGTERM", async () => {
  await using proc = new RdcProcess(["classic", "--mode", "isolated", "--port", "0"]);
  const port = await loggedPort(proc, "isolated");
  await using a = await connectTcp("127.0.0.1", port);
  await using b = await connectTcp("127.0.0.1", port);
  const [pidA, pidB] = await Promise.all([a.globals.Deno.pid, b.globals.Deno.pid]);
  assert.notEqual(pidA, pidB, "two clients share a process");
  for (const pid of [pidA, pidB]) {
    assert.notEqual(pid, proc.child.pid, "a client is served in the server's own process");
    assert.notEqual(pid, Deno.pid);
  }

  // Nothing is shared between clients.
  await a.execute("globalThis.shared = 1");
  assert.equal(await a.eval("globalThis.shared"), 1);
  assert.equal(await b.eval("typeof globalThis.shared"), "undefined");

  // A client that kills its process hurts no one else.
  let crash: unknown;
  try {
    await b.eval("Deno.exit(1)");
  } catch (error) {
    crash = error;
  }
  assert.ok(crash instanceof ConnectionClosedError, `expected ConnectionClosedError: ${crash}`);
  await within(b.finished, WAIT_MS, "the crashed client's connection to close");
  await poll(() => !isAlive(pidB), WAIT_MS, () => `child ${pidB} still runs`);
  assert.equal(await a.eval("globalThis.shared + 1"), 2);
  await proc.waitStderr(new RegExp(`warn: child ${pidB} serving .* exited with status 1`));

  // New clients are still served, each in a new process.
  await using c = await connectTcp("127.0.0.1", port);
  const pidC = await c.globals.Deno.pid;
  assert.ok(![pidA, pidB, proc.child.pid].includes(pidC), `reused pid ${pidC}`);
  assert.equal(await c.eval("typeof globalThis.shared"), "undefined");
  assert.ok(isAlive(pidA) && isAlive(pidC));

  const status = await proc.stop("SIGTERM");
  assert.equal(status.code, 0, proc.output());
  assert.equal(status.signal, null);
  await poll(() => !isAlive(pidA) && !isAlive(pidC), WAIT_MS, () => "children outlived the server");
  await within(a.finished, WAIT_MS, "client a to see its child go");
  await within(c.finished, WAIT_MS, "client c to see its child go");
});

Deno.test("rdc classic --mode isolated --unix PATH: a child per client; SIGTERM removes the socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc_cli_" });
  try {
    const path = `${dir}/isolated.sock`;
    await using proc = new RdcProcess(["classic", "-m", "isolated", "--unix", path]);
    await proc.waitStderr(/serving isolated on /);
    await using one = await classic.connectUnix(path, { logger: quietLogger() });
    await using two = await classic.connectUnix(path, { logger: quietLogger() });
    const pids = await Promise.all([one.globals.Deno.pid, two.globals.Deno.pid]);
    assert.equal(
      new Set([...pids, proc.child.pid]).size,
      3,
      `pids ${pids}, server ${proc.child.pid}`,
    );
    assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
    assert.ok(!(await exists(path)), "the isolated server left its socket behind");
    await poll(() => !pids.some(isAlive), WAIT_MS, () => "children outlived the server");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rdc classic --mode isolated: a child ends when its client leaves, even with timers left", async () => {
  // RPyC's ForkingServer child calls os._exit(0) once its connection ends; a
  // child kept alive by a client's leftover timer is a process leaked per client.
  await using proc = new RdcProcess(["classic", "--mode", "isolated", "--port", "0"]);
  const port = await loggedPort(proc, "isolated");
  let pid: number;
  {
    await using conn = await connectTcp("127.0.0.1", port);
    pid = await conn.globals.Deno.pid;
    await conn.execute("setInterval(() => {}, 60_000)");
  }
  try {
    await poll(() => !isAlive(pid), 8_000, () => `child ${pid} outlived its client`);
  } finally {
    if (isAlive(pid)) Deno.kill(pid, "SIGKILL"); // it is ours: the server started it for us
  }
  assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
});

Deno.test("rdc classic --mode isolated: SIGTERM stops it even when a child ignores SIGTERM", async () => {
  await using proc = new RdcProcess(["classic", "--mode", "isolated", "--port", "0"]);
  const port = await loggedPort(proc, "isolated");
  await using conn = await connectTcp("127.0.0.1", port);
  const pid = await conn.globals.Deno.pid;
  await conn.execute('Deno.addSignalListener("SIGTERM", () => {})');
  const status = await proc.stop("SIGTERM", 10_000);
  assert.equal(status.code, 0, proc.output());
  await poll(() => !isAlive(pid), WAIT_MS, () => `child ${pid} outlived the server`);
  await within(conn.finished, WAIT_MS, "the client to see its child go");
});

Deno.test("rdc classic --mode isolated --logfile: a child's failure is logged to the file, not stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc_cli_" });
  try {
    const logfile = `${dir}/isolated.log`;
    await using proc = new RdcProcess([
      "classic",
      "-m",
      "isolated",
      "-p",
      "0",
      "--logfile",
      logfile,
    ]);
    let port = 0;
    await poll(
      async () => {
        const log = await Deno.readTextFile(logfile).catch(() => "");
        port = Number(log.match(/serving isolated on 127\.0\.0\.1:(\d+)/)?.[1] ?? 0);
        return port > 0 || proc.exited;
      },
      WAIT_MS,
      () => proc.output(),
    );
    // A peer that does not speak rdc: its child must fail quietly (in the log).
    const raw = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await raw.write(new Uint8Array([0, 0, 0, 5, 1, 2, 3, 4, 5]));
      const buffer = new Uint8Array(1024);
      while (await within(raw.read(buffer), WAIT_MS, "the server to drop the raw peer") !== null) {
        // Skip the child's handshake.
      }
    } finally {
      raw.close();
    }
    assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
    assert.equal(proc.stderr, "", "the isolated server printed on stderr despite --logfile");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rdc classic on a port in use: exit 1 and one line", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const { code, stdout, stderr } = await runRdc("classic", "-p", `${port}`);
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "");
  assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  assert.match(stderr, /in use/i);
});

// --- usage errors -----------------------------------------------------------------------------

/** Runs `rdc ...args` and checks: exit 2, nothing on stdout, one stderr line matching each pattern. */
async function expectUsageError(args: string[], ...patterns: RegExp[]): Promise<void> {
  const { code, stdout, stderr } = await runRdc(...args);
  const shown = `rdc ${args.join(" ")}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 2, `exit status ${code}, expected 2: ${shown}`);
  assert.equal(stdout, "", `printed on stdout: ${shown}`);
  assert.ok(stderr.endsWith("\n"), `stderr does not end with a newline: ${shown}`);
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected exactly one line on stderr: ${shown}`);
  for (const pattern of patterns) assert.match(lines[0]!, pattern, shown);
}

const USAGE_ERRORS: [string, string[], RegExp[]][] = [
  ["an unknown flag", ["classic", "--bogus"], [/'--bogus'/, /unknown option/i]],
  ["an unknown command", ["frobnicate"], [/'frobnicate'/, /unknown command/]],
  ["a port above 65535", ["classic", "-p", "70000"], [/'70000'/, /--port/]],
  ["a port that is not a number", ["classic", "-p", "abc"], [/'abc'/, /--port/]],
  ["a negative port as --port=-1", ["classic", "--port=-1"], [/'-1'/, /--port/]],
  ["a fractional port", ["classic", "--port", "80.5"], [/'80\.5'/, /--port/]],
  ["an unknown mode", ["classic", "-m", "spawning"], [/'spawning'/, /--mode/, /threaded/]],
  ["--unix with --port", ["classic", "--unix", "X", "--port", "1"], [/--unix/, /--port/]],
  ["--unix with --host", ["classic", "--unix", "X", "--host", "localhost"], [/--unix/, /--host/]],
  ["--mode stdio with --port", ["classic", "--mode", "stdio", "--port", "1"], [/stdio/, /--port/]],
  ["--mode stdio with --unix", ["classic", "-m", "stdio", "--unix", "X"], [/stdio/, /--unix/]],
  ["a positional argument", ["classic", "extra"], [/'extra'/, /unexpected argument/]],
  ["a flag missing its value", ["classic", "--port"], [/--port/, /missing/]],
  ["a flag missing its value (short)", ["classic", "-m"], [/--mode/, /missing/]],
  [
    "a wildcard bind without TLS",
    ["classic", "--host", "0.0.0.0"],
    [/0\.0\.0\.0/, /--insecure-remote/, /TLS/],
  ],
  [
    "a non-loopback bind without TLS (isolated)",
    ["classic", "-m", "isolated", "--host", "192.0.2.1", "-p", "0"],
    [/192\.0\.2\.1/, /--insecure-remote/],
  ],
  ["an IPv6 wildcard bind without TLS", ["classic", "--host", "::"], [/--insecure-remote/]],
  ["--max-connections 0", ["classic", "--max-connections", "0"], [/'0'/, /--max-connections/]],
  ["--max-connections abc", ["classic", "--max-connections", "abc"], [/'abc'/, /positive integer/]],
  ["--max-connections=-2", ["classic", "--max-connections=-2"], [/'-2'/, /--max-connections/]],
  ["--max-connections 1.5", ["classic", "--max-connections", "1.5"], [/'1\.5'/, /integer/]],
  [
    "--max-connections with --mode oneshot",
    ["classic", "-m", "oneshot", "--max-connections", "3"],
    [/--max-connections/, /oneshot/],
  ],
  [
    "--max-connections with --mode stdio",
    ["classic", "-m", "stdio", "--max-connections", "3"],
    [/--max-connections/, /stdio/],
  ],
  ["--idle-timeout=-1", ["classic", "--idle-timeout=-1"], [/'-1'/, /--idle-timeout/, /seconds/]],
  [
    "--idle-timeout -1 (a value that looks like a flag)",
    ["classic", "--idle-timeout", "-1"],
    [/'--idle-timeout' got '-1'/, /--idle-timeout=-1/],
  ],
  ["--idle-timeout soon", ["classic", "--idle-timeout", "soon"], [/'soon'/, /--idle-timeout/]],
  [
    "--idle-timeout with --mode isolated",
    ["classic", "-m", "isolated", "--idle-timeout", "5"],
    [/--idle-timeout/, /isolated/],
  ],
  [
    "--idle-timeout with --mode stdio",
    ["classic", "-m", "stdio", "--idle-timeout", "5"],
    [/--idle-timeout/, /stdio/],
  ],
  ["a registry --timeout of 0", ["registry", "--timeout", "0"], [/'0'/, /--timeout/, /positive/]],
  ["a shell target with a bad port", ["shell", "host:99999"], [/'99999'/, /port/]],
  ["a shell target and --unix", ["shell", "host:1", "--unix", "X"], [/--unix/]],
  ["two shell targets", ["shell", "a:1", "b:2"], [/'b:2'/, /unexpected argument/]],
  ["an unknown shell flag", ["shell", "--bogus"], [/'--bogus'/]],
];

Deno.test("rdc usage errors: exit 2 and one line on stderr naming the problem", async () => {
  // Run in parallel: each is a short-lived process.
  const failures = await Promise.allSettled(
    USAGE_ERRORS.map(async ([what, args, patterns]) => {
      try {
        await expectUsageError(args, ...patterns);
      } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}`);
      }
    }),
  );
  const messages = failures.flatMap((f) => f.status === "rejected" ? [f.reason.message] : []);
  assert.deepEqual(messages, []);
});

Deno.test("rdc usage errors: a negative port given as '-p -1' names the port value", async () => {
  // node:util parseArgs takes "-1" for a flag and calls '-p' "ambiguous"; the user
  // should learn that -1 is not a port, as with --port=-1.
  await expectUsageError(["classic", "-p", "-1"], /-p|--port/, /'-1'/);
});

// --- a wildcard bind with --insecure-remote, only in a private network namespace --------------

const NETNS = privateNetns();

Deno.test({
  name: "rdc classic --host 0.0.0.0 --insecure-remote: warns and serves (private netns only)",
  ignore: NETNS === undefined,
  async fn() {
    await using proc = new RdcProcess(
      ["classic", "--host", "0.0.0.0", "--insecure-remote", "-m", "oneshot", "-p", "0"],
      { command: [...NETNS!, ...RDC] },
    );
    const [host, port] = hostPort(await oneshotAddress(proc));
    assert.equal(host, "0.0.0.0");
    assert.ok(port > 0);
    await proc.waitStderr(/serving oneshot/);
    const warnings = proc.stderr.split("\n").filter((line) => /warn/.test(line));
    assert.equal(warnings.length, 1, proc.output());
    assert.match(warnings[0]!, /0\.0\.0\.0/);
    assert.match(warnings[0]!, /without TLS/);
    // It really is in another network namespace.
    const netns = (pid: number | "self") => Deno.readLinkSync(`/proc/${pid}/ns/net`);
    assert.notEqual(netns(proc.child.pid), netns("self"), "the wildcard server is on our network");
    if (Deno.uid() === 0 && canRun("nsenter", ["--version"])) {
      // A client inside that namespace: the oneshot server serves it, then exits by itself.
      const classicUrl = new URL("../core/classic/mod.ts", import.meta.url).href;
      const script = `const classic = await import(${JSON.stringify(classicUrl)});
        const conn = await classic.connect("127.0.0.1", ${port});
        console.log(await conn.eval("6 * 7"));
        await conn.close();`;
      await using client = new RdcProcess(["eval", script], {
        command: ["nsenter", `--net=/proc/${proc.child.pid}/ns/net`, "--", Deno.execPath()],
      });
      assert.equal((await client.wait()).code, 0, client.output());
      assert.equal(client.stdout, "42\n", client.output());
      assert.equal((await proc.wait()).code, 0, proc.output());
    } else {
      assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
    }
  },
});

if (NETNS === undefined) {
  console.warn(
    "cli_test: skipping the --insecure-remote wildcard bind: no private network namespace " +
      "(unshare --net failed); it is never tried on the real network",
  );
}

// --- RPyC's spellings ---------------------------------------------------------------------------

Deno.test("rdc classic -m threaded / -m forking: RPyC's names of concurrent and isolated", async () => {
  for (const [alias, mode] of [["threaded", "concurrent"], ["forking", "isolated"]] as const) {
    await using proc = new RdcProcess(["classic", "-m", alias, "-p", "0"]);
    const port = await loggedPort(proc, mode);
    await using a = await connectTcp("127.0.0.1", port);
    await using b = await connectTcp("127.0.0.1", port);
    const [pidA, pidB] = await Promise.all([a.globals.Deno.pid, b.globals.Deno.pid]);
    // concurrent: both in the server's process; isolated: each in a child of its own.
    assert.equal(pidA === pidB, mode === "concurrent", `${alias}: pids ${pidA}, ${pidB}`);
    assert.equal(pidA === proc.child.pid, mode === "concurrent");
  }
});

Deno.test("rdc classic (concurrent): logs each connection and its end, as isolated mode does", async () => {
  await using proc = new RdcProcess(["classic", "-p", "0"]);
  const port = await loggedPort(proc, "concurrent");
  const conn = await connectTcp("127.0.0.1", port);
  await conn.eval("1");
  const opened = await proc.waitStderr(/info: connection from (tcp 127\.0\.0\.1:\d+)\n/);
  await conn.close();
  await proc.waitStderr(new RegExp(`info: connection from ${opened[1]} ended`));
});

Deno.test("rdc classic -6 / --ipv6 and rdc registry --ipv6: bind ::1 by default", async () => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
  } catch {
    if (Deno.env.get("CI") === "true") throw new Error("this machine has no IPv6 loopback");
    console.warn("cli_test: no IPv6 loopback (::1) here: skipping the --ipv6 test");
    return;
  }
  for (const flag of ["-6", "--ipv6"]) {
    await using proc = new RdcProcess(["classic", flag, "-p", "0"]);
    const port = Number((await proc.waitStderr(/serving concurrent on \[::1\]:(\d+)/))[1]);
    await using conn = await connectTcp("::1", port);
    assert.equal(await conn.eval("6 * 7"), 42);
  }
  await using registry = new RdcProcess(["registry", "--ipv6", "-p", "0"]);
  await registry.waitStderr(/serving the UDP registry on \[::1\]:\d+/);
  const wrong = await runRdc("classic", "-6", "--host", "127.0.0.1");
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /--ipv6 .*IPv4 address '127\.0\.0\.1'/);
});

/**
 * The examples, run as real subprocesses the way a user runs them: each must
 * exit 0 and print its key lines. Echo is also run as two processes, a
 * server and a client.
 */

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();

/** Runs `deno run --allow-all examples/<file> ...args` to completion. */
async function runExample(
  file: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `examples/${file}`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Runs an example and checks it exits 0 and prints every one of `lines`. */
async function expectRun(
  file: string,
  args: string[],
  lines: (string | RegExp)[],
): Promise<string> {
  const { code, stdout, stderr } = await runExample(file, ...args);
  const output = `--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 0, `${file} exited ${code}\n${output}`);
  for (const line of lines) {
    const found = typeof line === "string" ? stdout.includes(line) : line.test(stdout);
    assert.ok(found, `${file} did not print ${line}\n${output}`);
  }
  return stdout;
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

/**
 * `rdc shell` as users run it: in a real terminal (a detached tmux session),
 * typing into Deno's REPL and reading the screen. Its usage errors need no
 * terminal.
 *
 * tmux is required: without it these tests fail under CI=true and are
 * skipped (with a warning) elsewhere.
 */

import assert from "node:assert/strict";
import { hostname, platform } from "node:os";
import { classic } from "../mod.ts";
import { quietLogger } from "./_helpers.ts";
import { freePort, oneshotAddress, poll, RDC, RdcProcess, runRdc, WAIT_MS } from "./_cli.ts";
import { Terminal, terminalTest } from "./_terminal.ts";

/** The line `rdc shell` prints once `conn` is ready. */
const READY = /rdc shell: conn is a classic connection to /;

terminalTest("rdc shell HOST:PORT: conn reaches a classic server; close() exits 0", async () => {
  await using server = classic.serve({ port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using terminal = new Terminal();
  await terminal.start([...RDC, "shell", `127.0.0.1:${port}`]);
  await terminal.expect(new RegExp(READY.source + `tcp 127\\.0\\.0\\.1:${port}`));
  await poll(() => server.connections.size === 1, WAIT_MS, () => "the shell never connected");

  await terminal.type('await conn.eval("6 * 7")');
  await terminal.expect(/^42\s*$/m);
  await terminal.type('await conn.modules["node:os"].platform()');
  await terminal.expect(new RegExp(`^"${platform()}"\\s*$`, "m"));
  // A remote error prints with its message and stack, as a local one does.
  await terminal.type('await conn.eval("null.x")');
  await terminal.expect(/^Uncaught TypeError: Cannot read properties of null \(reading 'x'\)$/m);

  await terminal.type("close()");
  assert.equal(await terminal.exitStatus(), 0);
  await poll(() => server.connections.size === 0, WAIT_MS, () => "the shell's connection stays");
});

terminalTest("rdc shell with no target: conn is a classic server in a subprocess", async () => {
  await using terminal = new Terminal();
  await terminal.start([...RDC, "shell"]);
  await terminal.expect(new RegExp(READY.source + "subprocess \\d+"));
  await terminal.type("(await conn.globals.Deno.pid) !== Deno.pid");
  await terminal.expect(/^true\s*$/m);
  await terminal.type("await conn.eval('1 + 1')");
  await terminal.expect(/^2\s*$/m);
  await terminal.type("close()");
  assert.equal(await terminal.exitStatus(), 0);
});

terminalTest("rdc shell --unix PATH: conn reaches a classic server on a unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc_shell_" });
  try {
    const path = `${dir}/classic.sock`;
    await using server = classic.serve({ path, logger: quietLogger() });
    await using terminal = new Terminal();
    await terminal.start([...RDC, "shell", "--unix", path]);
    await terminal.expect(READY);
    await terminal.type("await conn.eval('`via ${typeof Deno.pid}`')");
    await terminal.expect(/^"via number"\s*$/m);
    await terminal.type("close()");
    assert.equal(await terminal.exitStatus(), 0);
    await poll(() => server.connections.size === 0, WAIT_MS, () => "the shell's connection stays");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The line `rdc shell --sync` prints once `conn` is ready. */
const SYNC_READY = /rdc shell: conn is a synchronous classic connection to /;

/** `text` matched literally in a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

terminalTest(
  "rdc shell --sync HOST:PORT: values without await, remote errors with their message",
  async () => {
    // A real classic server child: while a synchronous call waits, the REPL's event loop is frozen.
    await using server = new RdcProcess(["classic", "--mode", "oneshot", "--port", "0", "--quiet"]);
    const [host, port] = (await oneshotAddress(server)).split("\t");
    await using terminal = new Terminal();
    await terminal.start([...RDC, "shell", "--sync", `${host}:${port}`]);
    await terminal.expect(new RegExp(SYNC_READY.source + `tcp 127\\.0\\.0\\.1:${port}`));

    await terminal.type('conn.eval("6 * 7")');
    await terminal.expect(/^42\s*$/m);
    await terminal.type('conn.modules["node:os"].hostname()');
    await terminal.expect(new RegExp(`^"${literal(hostname())}"\\s*$`, "m"));
    await terminal.type("conn.globals.Deno.pid === Deno.pid");
    await terminal.expect(/^false\s*$/m);
    await terminal.type(
      'conn.execute("class Settings { enabled = false; retries = 3 } var settings = new Settings()")',
    );
    await terminal.type("const settings = conn.namespace.settings; settings");
    await terminal.expect(/^\[Remote Settings #\d+\]\s*$/m);
    await terminal.type('(settings.enabled ? "on" : "off") + ", keys " + Object.keys(settings)');
    await terminal.expect(/^"off, keys enabled,retries"\s*$/m);
    await terminal.type("JSON.stringify(settings)");
    await terminal.expect(/^'\{"enabled":false,"retries":3\}'\s*$/m);

    await terminal.type('conn.globals.JSON.parse("{oops")');
    await terminal.expect(/^Uncaught SyntaxError: Expected property name .*position 1/m);
    await terminal.type('conn.eval("null.x")');
    await terminal.expect(/^Uncaught TypeError: Cannot read properties of null \(reading 'x'\)$/m);
    await terminal.type('conn.eval("settings.retries + 1")'); // still usable
    await terminal.expect(/^4\s*$/m);

    await terminal.type("close()");
    assert.equal(await terminal.exitStatus(), 0);
    assert.equal((await server.wait()).code, 0, "the one-shot server exits 0 after its client");
  },
);

terminalTest(
  "rdc shell --sync with no target: a server subprocess, callbacks, conn.async",
  async () => {
    await using terminal = new Terminal();
    await terminal.start([...RDC, "shell", "--sync"]);
    await terminal.expect(new RegExp(SYNC_READY.source + "subprocess "));
    await terminal.type("conn.globals.Deno.pid !== Deno.pid");
    await terminal.expect(/^true\s*$/m);
    // The server calls back while the call waits: the callback returns a value, the server awaits.
    await terminal.type("conn.teleport(async (f) => (await f(20)) + 1)((x) => x * 2)");
    await terminal.expect(/^41\s*$/m);
    await terminal.type("await conn.async(conn.globals.Math.max)(3, 17, 5)");
    await terminal.expect(/^17\s*$/m);
    // An error class we do not know keeps its name.
    await terminal.type(
      "conn.eval(\"throw new (class Oops extends Error { name = 'Oops' })('no')\")",
    );
    await terminal.expect(/^Uncaught Oops: no$/m);
    await terminal.type("close()");
    assert.equal(await terminal.exitStatus(), 0);
  },
);

Deno.test("rdc shell --help: exit 0, shows the target, --unix and --sync", async () => {
  const { code, stdout, stderr } = await runRdc("shell", "--help");
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  for (
    const text of ["Usage: rdc shell", "HOST[:PORT]", "--unix", "--sync", "-h, --help", "18812"]
  ) {
    assert.ok(stdout.includes(text), `shell --help does not mention ${text}:\n${stdout}`);
  }
});

Deno.test("rdc shell with a bad target: exit 2 and one line naming it", async () => {
  for (const target of ["host:99999", "host:abc", "a:b:c"]) {
    const { code, stdout, stderr } = await runRdc("shell", target);
    const shown = `rdc shell ${target}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
    assert.equal(code, 2, shown);
    assert.equal(stdout, "", shown);
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, shown);
    assert.ok(lines[0]!.includes(target.split(":").slice(1).join(":")), shown);
  }
});

Deno.test("rdc shell to a server that is not there: exit 1 and one line, no REPL", async () => {
  for (const flags of [[], ["--sync"]]) {
    const port = freePort(); // nothing listens there any more
    const { code, stdout, stderr } = await runRdc("shell", ...flags, `127.0.0.1:${port}`);
    const shown = `${flags.join(" ")}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
    assert.equal(code, 1, `a shell without a connection exited ${code}:\n${shown}`);
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `expected one line on stderr:\n${shown}`);
    assert.match(lines[0]!, /^rdc shell: /);
    assert.match(lines[0]!, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(lines[0]!, /refused|cannot connect/i);
  }
});

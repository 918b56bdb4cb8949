/**
 * `rdc registry` and `rdc classic --register` as users run them: real
 * subprocesses on loopback. A classic server registers with a registry in
 * each mode, is found and connected to by name, and is gone once it stops;
 * flag mistakes exit 2 with one line.
 */

import assert from "node:assert/strict";
import { classic, connectByService, DiscoveryError, type RegistryMode } from "../mod.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import { freePort, RdcProcess, runRdc } from "./_cli.ts";
import { registryClient } from "./registry_helpers.ts";

/** `rdc classic -p 0 --register` with `flags` (the registry's), as a running process. */
function registeringClassic(...flags: string[]): RdcProcess {
  return new RdcProcess(["classic", "-p", "0", "--register", ...flags]);
}

/** `registeringClassic` with the registry on 127.0.0.1:`port`, and `more` flags. */
function registeringClassicAt(port: string, ...more: string[]): RdcProcess {
  return registeringClassic("--registry-host", "127.0.0.1", "--registry-port", port, ...more);
}

/** Waits until a classic server logs where it serves; returns its port. */
async function classicPort(proc: RdcProcess, mode = "concurrent"): Promise<number> {
  return Number(
    (await proc.waitStderr(new RegExp(`serving ${mode} on 127\\.0\\.0\\.1:(\\d+)`)))[1],
  );
}

Deno.test("rdc registry --help: exit 0, every flag and default; rdc --help names it", async () => {
  const help = await runRdc("registry", "--help");
  assert.equal(help.code, 0, help.stderr);
  for (
    const text of [
      "-m, --mode",
      "UDP | TCP (default UDP)",
      "--host",
      "default 127.0.0.1",
      "0.0.0.0",
      "-p, --port",
      "18811",
      "-t, --timeout",
      "240",
      "-l, --listing",
      "--logfile",
      "-q, --quiet",
    ]
  ) {
    assert.ok(help.stdout.includes(text), `rdc registry --help lacks ${text}:\n${help.stdout}`);
  }
  const classicHelp = await runRdc("classic", "--help");
  for (const flag of ["--register", "--registry-type", "--registry-host", "--registry-port"]) {
    assert.ok(classicHelp.stdout.includes(flag), `rdc classic --help lacks ${flag}`);
  }
  assert.match((await runRdc("--help")).stdout, /^ {2}registry /m);
});

Deno.test("rdc registry and rdc classic --register (UDP): found by name, gone after SIGTERM", async () => {
  await using registry = new RdcProcess(["registry", "-p", "0", "--listing"]);
  const match = await registry.waitStderr(
    /serving the UDP registry on 127\.0\.0\.1:(\d+) \(pruning after 240 s, listing on\)/,
  );
  const client = registryClient("UDP", Number(match[1]));
  await using server = registeringClassicAt(match[1]!);
  const port = await classicPort(server);
  await waitFor(async () => (await client.discover("classic")).length > 0, 10_000, "registration");
  assert.deepEqual(await client.discover("CLASSIC"), [{ host: "127.0.0.1", port }]);
  assert.deepEqual(await client.list(), ["CLASSIC"]);
  {
    await using conn = await connectByService("classic", {
      registrar: client,
      logger: quietLogger(),
    });
    const remote = new classic.ClassicConnection(conn);
    assert.equal(await remote.eval("6 * 7"), 42);
  }
  assert.equal((await server.stop("SIGTERM")).code, 0, server.output());
  assert.deepEqual(await client.discover("classic"), [], "unregistered before exiting");
  await registry.waitStderr(/removed CLASSIC at 127\.0\.0\.1:\d+/);
  assert.equal((await registry.stop("SIGTERM")).code, 0, registry.output());
  assert.match(registry.stderr, /stopped\n$/);
});

Deno.test("rdc registry and rdc classic --register with default flags meet (ports aside)", async () => {
  await using registry = new RdcProcess(["registry", "-p", "0"]);
  const match = await registry.waitStderr(/serving the UDP registry on 127\.0\.0\.1:(\d+)/);
  // The registry says at run time whom it serves.
  await registry.waitStderr(/bound to loopback: .*--host 0\.0\.0\.0/);
  const client = registryClient("UDP", Number(match[1]));
  // No --registry-host: a server on loopback registers with the registry on loopback.
  await using server = registeringClassic("--registry-port", match[1]!);
  const port = await classicPort(server);
  await server.waitStderr(/registered Classic on port \d+ with udp 127\.0\.0\.1:\d+/);
  assert.deepEqual(await client.discover("classic"), [{ host: "127.0.0.1", port }]);
});

Deno.test("rdc classic --register, broadcasting to no registry: says so at run time, naming flags", async () => {
  // 255.255.255.255: the default of a server bound to a wildcard address.
  await using server = registeringClassic(
    "--registry-host",
    "255.255.255.255",
    "--registry-port",
    `${freePort()}`,
  );
  const line = await server.waitStderr(/info: cannot register Classic[^\n]*/);
  assert.match(line[0], /udp 255\.255\.255\.255:\d+/);
  assert.match(line[0], /rdc registry --host 0\.0\.0\.0/);
  assert.match(line[0], /--registry-host/);
});

Deno.test("rdc registry -m tcp -q and rdc classic -m isolated --register --registry-type tcp", async () => {
  const registryPort = freePort();
  await using registry = new RdcProcess(["registry", "-m", "tcp", "-p", `${registryPort}`, "-q"]);
  const client = registryClient("TCP", registryPort);
  await using server = new RdcProcess([
    "classic",
    "-m",
    "isolated",
    "-p",
    "0",
    "--register",
    "--registry-type",
    "tcp",
    "--registry-host",
    "127.0.0.1",
    "--registry-port",
    `${registryPort}`,
  ]);
  const port = await classicPort(server, "isolated");
  await waitFor(
    async () => {
      const servers = await client.discover("Classic").catch(() => []);
      return servers.length > 0;
    },
    10_000,
    "registration",
  );
  assert.deepEqual(await client.discover("Classic"), [{ host: "127.0.0.1", port }]);
  const refused = await rejection(client.list());
  assert.ok(refused instanceof DiscoveryError);
  assert.match(refused.message, /refused LIST: listing is not allowed/);
  assert.equal((await server.stop("SIGTERM")).code, 0, server.output());
  assert.deepEqual(await client.discover("Classic"), []);
  assert.equal((await registry.stop("SIGTERM")).code, 0, registry.output());
  assert.equal(registry.stderr, "", "-q logs errors only");
});

Deno.test("rdc registry on a port in use: exit 1, one line naming the address", async () => {
  for (const mode of ["UDP", "TCP"] satisfies RegistryMode[]) {
    await using taken = new RdcProcess(["registry", "-m", mode, "-p", "0"]);
    const port = (await taken.waitStderr(/ on 127\.0\.0\.1:(\d+)/))[1];
    const { code, stderr } = await runRdc("registry", "-m", mode, "-p", port!);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^rdc registry: cannot listen on ${mode.toLowerCase()} 127\\.0\\.0\\.1:${port}: .+\n$`,
      ),
    );
  }
});

const USAGE_ERRORS: [string[], RegExp][] = [
  [["registry", "-m", "sctp"], /invalid --mode 'sctp': expected UDP or TCP/],
  [["registry", "-t", "0"], /invalid --timeout '0'/],
  [["registry", "--timeout", "soon"], /invalid --timeout 'soon'/],
  [["registry", "-p", "70000"], /invalid --port '70000'/],
  [["registry", "-l", "true"], /unexpected argument 'true'/],
  [
    ["classic", "--register", "--registry-type", "TCP"],
    /--registry-type TCP needs --registry-host/,
  ],
  [["classic", "--register", "--registry-type", "ip"], /invalid --registry-type 'ip'/],
  [["classic", "--register", "--registry-port", "x"], /invalid --registry-port 'x'/],
  [["classic", "--registry-host", "127.0.0.1"], /--registry-host needs --register/],
  [["classic", "--register", "-m", "stdio"], /--register needs a TCP server/],
  [["classic", "--register", "--unix", "/tmp/x.sock"], /--register needs a TCP server/],
];

Deno.test("rdc registry and --register usage errors: exit 2, one line naming the problem", async () => {
  const runs = await Promise.all(USAGE_ERRORS.map(([args]) => runRdc(...args)));
  runs.forEach(({ code, stdout, stderr }, i) => {
    const [args, pattern] = USAGE_ERRORS[i]!;
    const shown = `rdc ${args.join(" ")}: exit ${code}\n${stdout}${stderr}`;
    assert.equal(code, 2, shown);
    assert.equal(stdout, "", shown);
    assert.match(stderr, new RegExp(`^rdc ${args[0]}: [^\n]*${pattern.source}[^\n]*\n$`), shown);
  });
});

Deno.test("rdc registry --secret-file: rdc classic --registry-secret-file registers, strangers cannot", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const secretFile = `${dir}/secret`;
    await Deno.writeTextFile(secretFile, "s3cret\n");
    await using registry = new RdcProcess(["registry", "-p", "0", "--secret-file", secretFile]);
    const match = await registry.waitStderr(
      /serving the UDP registry on 127\.0\.0\.1:(\d+) \(.*, signed registrations only\)/,
    );
    const client = registryClient("UDP", Number(match[1]));
    await using server = registeringClassicAt(match[1]!, "--registry-secret-file", secretFile);
    const port = await classicPort(server);
    await waitFor(
      async () => (await client.discover("classic")).length > 0,
      10_000,
      "registration",
    );
    assert.deepEqual(await client.discover("classic"), [{ host: "127.0.0.1", port }]);
    await assert.rejects(client.register(["classic"], 1), /signed registrations only/);
    assert.equal((await server.stop("SIGTERM")).code, 0, server.output());
    assert.deepEqual(await client.discover("classic"), [], "its signed UNREGISTER was accepted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

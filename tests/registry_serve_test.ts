/**
 * Servers and the registry: `serve(service, { registrar, autoRegister })`
 * registers every name on start, keeps its entry alive, retries while the
 * registry is down and unregisters on close; `discover` and
 * `connectByService` find it, skipping servers that are gone.
 */

import assert from "node:assert/strict";
import {
  connectByService,
  defaultRegistryHost,
  discover,
  DiscoveryError,
  type Registrar,
  type RegistryClient,
  serve,
  serveRegistry,
  Service,
} from "../mod.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import { freeRegistryPort, MODES, registryClient, startRegistry } from "./registry_helpers.ts";

class CalculatorService extends Service {
  static override aliases = ["Calculator", "Calc"];
  exposed_add(a: number, b: number): number {
    return a + b;
  }
}

class EchoService extends Service {
  exposed_echo(text: string): string {
    return text;
  }
}

/** The ports `name` is registered on. */
async function portsOf(client: RegistryClient, name: string): Promise<number[]> {
  return (await client.discover(name)).map((server) => server.port);
}

for (const mode of MODES) {
  Deno.test(`${mode}: serve registers every name on start and unregisters on close`, async () => {
    await using r = await startRegistry(mode);
    const logger = quietLogger();
    const server = serve(CalculatorService, { port: 0, registrar: r.client, logger });
    const { port } = server.addr as Deno.NetAddr;
    try {
      await waitFor(
        async () => (await portsOf(r.client, "calc")).length > 0,
        5_000,
        "registration",
      );
      assert.deepEqual(await r.client.discover("Calculator"), [{ host: "127.0.0.1", port }]);
      assert.deepEqual(await portsOf(r.client, "CALC"), [port]);
    } finally {
      await server.close();
    }
    // close() resolves once the registry acknowledged the withdrawal.
    assert.deepEqual(await r.client.discover("Calculator"), []);
    assert.deepEqual(await r.client.discover("Calc"), []);
    assert.ok(logger.lines.some((line) => line.startsWith("info: registered Calculator, Calc")));
    assert.ok(logger.lines.includes(`info: unregistered Calculator, Calc on port ${port}`));
  });

  Deno.test(`${mode}: a server keeps its entry alive past the pruning timeout`, async () => {
    await using r = await startRegistry(mode, { pruningTimeout: 300 });
    await using server = serve(EchoService, {
      port: 0,
      registrar: r.client,
      reregisterInterval: 50,
      logger: quietLogger(),
    });
    const { port } = server.addr as Deno.NetAddr;
    await waitFor(
      async () => (await portsOf(r.client, "Echo")).includes(port),
      5_000,
      "registration",
    );
    // A server registered once, by hand, is pruned meanwhile; the serving one stays.
    await r.client.register(["Echo"], 1);
    await waitFor(async () => !(await portsOf(r.client, "Echo")).includes(1), 5_000, "pruning");
    assert.deepEqual(await portsOf(r.client, "Echo"), [port]);
  });

  Deno.test(`${mode}: a server registers once the registry comes up`, async () => {
    const registryPort = await freeRegistryPort(mode);
    const logger = quietLogger();
    await using server = serve(EchoService, {
      port: 0,
      registrar: registryClient(mode, registryPort),
      reregisterInterval: 100,
      logger,
    });
    const { port } = server.addr as Deno.NetAddr;
    await waitFor(() => logger.lines.some((line) => line.startsWith("info: cannot register")));
    await using registry = await serveRegistry({ mode, port: registryPort, logger: quietLogger() });
    const client = registryClient(mode, registry.addr.port);
    await waitFor(
      async () => (await portsOf(client, "Echo")).includes(port),
      5_000,
      "registration",
    );
    // Quietly: the failed attempts were debug lines only.
    assert.deepEqual(logger.lines.filter((line) => /^(warn|error):/.test(line)), []);
  });
}

Deno.test("serve: autoRegister decides, and registering needs a port", async () => {
  const calls: string[] = [];
  const registrar: Registrar = {
    description: "a recording registrar",
    register(names, port) {
      calls.push(`register ${names.join(",")} ${port}`);
      return Promise.resolve();
    },
    unregister(port) {
      calls.push(`unregister ${port}`);
      return Promise.resolve();
    },
  };
  const logger = quietLogger();
  const off = serve(EchoService, { port: 0, registrar, autoRegister: false, logger });
  const on = serve(EchoService, { port: 0, registrar, logger });
  const onPort = (on.addr as Deno.NetAddr).port;
  await waitFor(() => calls.length > 0);
  await Promise.all([off.close(), on.close()]);
  assert.deepEqual(calls, [`register Echo ${onPort}`, `unregister ${onPort}`]);
  assert.throws(
    () => serve(EchoService, { path: "/tmp/never.sock", registrar, logger }),
    { name: "TypeError", message: /only a TCP server can register/ },
  );
});

Deno.test("connectByService: skips servers that are down or serve something else", async () => {
  await using r = await startRegistry("UDP");
  // Registered first (so tried first): a port nothing listens on, and another service's server.
  const dead = await freeRegistryPort("TCP");
  await r.client.register(["Echo"], dead);
  await using other = serve(CalculatorService, { port: 0, logger: quietLogger() });
  await r.client.register(["Echo"], (other.addr as Deno.NetAddr).port);
  const live = serve(EchoService, { port: 0, registrar: r.client, logger: quietLogger() });
  const livePort = (live.addr as Deno.NetAddr).port;
  try {
    await waitFor(async () => (await portsOf(r.client, "Echo")).includes(livePort));
    assert.equal((await discover("echo", { registrar: r.client })).length, 3);
    await using conn = await connectByService("echo", {
      registrar: r.client,
      logger: quietLogger(),
    });
    assert.equal(conn.peerService, "Echo");
    assert.equal(await conn.root.echo("hi"), "hi");
  } finally {
    await live.close();
  }

  const down = await rejection(
    connectByService("Echo", { registrar: r.client, logger: quietLogger() }),
  );
  assert.ok(down instanceof DiscoveryError, String(down));
  assert.match(
    down.message,
    /^all servers of 'Echo' are down: cannot connect to 127\.0\.0\.1:\d+: /,
  );
  assert.ok(down.cause instanceof AggregateError && down.cause.errors.length === 2);

  const unknown = await rejection(connectByService("Nobody", { registrar: r.client }));
  assert.ok(unknown instanceof DiscoveryError);
  assert.match(unknown.message, /^no server of 'Nobody' is registered at udp 127\.0\.0\.1:\d+$/);
  await assert.rejects(discover("Nobody", { registrar: r.client }), DiscoveryError);
});

Deno.test("server.registered resolves once the registry has the server; at once without one", async () => {
  await using r = await startRegistry("UDP");
  await using server = serve(EchoService, { port: 0, registrar: r.client, logger: quietLogger() });
  assert.ok(server.registered instanceof Promise, "server.registered is a promise");
  await server.registered;
  // No polling: once it resolves, the registry answers with the server.
  const { port } = server.addr as Deno.NetAddr;
  assert.deepEqual(await discover("echo", { registrar: r.client }), [{ host: "127.0.0.1", port }]);
  await using unregistered = serve(EchoService, { port: 0, logger: quietLogger() });
  await unregistered.registered;
});

Deno.test("server.registered rejects when the server closes before any registry answered", async () => {
  const logger = quietLogger();
  const registrar = registryClient("UDP", await freeRegistryPort("UDP"));
  const server = serve(EchoService, { port: 0, registrar, logger });
  await waitFor(() => logger.lines.some((line) => line.startsWith("info: cannot register")));
  await server.close();
  await assert.rejects(server.registered, /closed before it registered|stopped before/);
});

Deno.test("discover and connectByService with wait: find a server that registers later", async () => {
  await using r = await startRegistry("UDP");
  const found = discover("echo", { registrar: r.client, wait: 10_000 });
  const connected = connectByService("echo", {
    registrar: r.client,
    wait: 10_000,
    logger: quietLogger(),
  });
  // Both are asking before the server exists.
  assert.deepEqual(await r.client.discover("echo"), []);
  await using server = serve(EchoService, { port: 0, registrar: r.client, logger: quietLogger() });
  const { port } = server.addr as Deno.NetAddr;
  assert.deepEqual(await found, [{ host: "127.0.0.1", port }]);
  await using conn = await connected;
  assert.equal(await conn.root.echo("late"), "late");

  // Without a server, the wait ends in a DiscoveryError that says how long it waited;
  // an abort ends it sooner.
  const missing = await rejection(discover("Nobody", { registrar: r.client, wait: 300 }));
  assert.ok(missing instanceof DiscoveryError, String(missing));
  assert.match(missing.message, /^no server of 'Nobody' is registered at .* \(waited 300 ms\)$/);
  const controller = new AbortController();
  const aborted = discover("Nobody", {
    registrar: r.client,
    wait: 60_000,
    signal: controller.signal,
  });
  controller.abort(new Error("stop waiting"));
  await assert.rejects(aborted, /stop waiting/);
  await assert.rejects(discover("echo", { registrar: r.client, wait: -1 }), RangeError);
});

Deno.test("defaultRegistryHost: loopback servers register on loopback, others broadcast", () => {
  assert.equal(defaultRegistryHost(), "127.0.0.1");
  assert.equal(defaultRegistryHost("127.0.0.1"), "127.0.0.1");
  assert.equal(defaultRegistryHost("localhost"), "127.0.0.1");
  assert.equal(defaultRegistryHost("::1"), "::1");
  assert.equal(defaultRegistryHost("[::1]"), "::1");
  assert.equal(defaultRegistryHost("0.0.0.0"), undefined);
  assert.equal(defaultRegistryHost("192.168.1.5"), undefined);
});

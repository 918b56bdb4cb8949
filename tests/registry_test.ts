/**
 * The registry server and its client over real loopback sockets, in both
 * modes: RPyC's test_registry scenarios (two servers of a name, unregister,
 * listing, pruning), plus refusals, silence, hostile input and a flood.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { DiscoveryError, listServices, RegistryClient, serveRegistry } from "../mod.ts";
import { parseRequest } from "../core/registry/messages.ts";
import { closeQuietly, writeFrame } from "../core/registry/tcp_frames.ts";
import { transportFromConn } from "../core/net/adapters.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import { freeRegistryPort, MODES, registryClient, startRegistry } from "./registry_helpers.ts";

const LOCAL = "127.0.0.1";

/** Sorts names for order-free comparison. */
const sorted = (names: string[]) => [...names].sort();

for (const mode of MODES) {
  Deno.test(`${mode} registry: two servers of one name are both discovered, oldest first`, async () => {
    await using r = await startRegistry(mode);
    await r.client.register(["FOO"], 12345);
    await r.client.register(["foo", "Bar"], 45678);
    // Names are case-insensitive; the host is where the request came from.
    assert.deepEqual(await r.client.discover("Foo"), [
      { host: LOCAL, port: 12345 },
      { host: LOCAL, port: 45678 },
    ]);
    assert.deepEqual(await r.client.discover("BAR"), [{ host: LOCAL, port: 45678 }]);
    assert.deepEqual(await r.client.discover("nobody"), []);
    // Registering again refreshes: the least recently refreshed comes first.
    await r.client.register(["FOO"], 12345);
    assert.deepEqual((await r.client.discover("foo")).map((s) => s.port), [45678, 12345]);
    assert.ok(r.lines.includes("info: added FOO at 127.0.0.1:12345"), r.lines.join("\n"));
  });

  Deno.test(`${mode} registry: an unregistered server disappears from every name`, async () => {
    await using r = await startRegistry(mode);
    await r.client.register(["FOO"], 12345);
    await r.client.register(["FOO", "BAR"], 45678);
    await r.client.unregister(45678);
    assert.deepEqual(await r.client.discover("FOO"), [{ host: LOCAL, port: 12345 }]);
    assert.deepEqual(await r.client.discover("BAR"), []);
    await r.client.unregister(12345);
    assert.deepEqual(await r.client.discover("FOO"), []);
    // Unregistering what is not there is no error.
    await r.client.unregister(12345);
    assert.ok(r.lines.includes("info: removed BAR at 127.0.0.1:45678"), r.lines.join("\n"));
  });

  Deno.test(`${mode} registry: listing shows the live names when allowed`, async () => {
    await using r = await startRegistry(mode, { allowListing: true });
    assert.deepEqual(await r.client.list(), []);
    await r.client.register(["FOO"], 12345);
    assert.deepEqual(await r.client.list(), ["FOO"]);
    await r.client.register(["bar"], 45678);
    assert.deepEqual(sorted(await listServices({ registrar: r.client })), ["BAR", "FOO"]);
    await r.client.unregister(12345);
    assert.deepEqual(await r.client.list(), ["BAR"]);
  });

  Deno.test(`${mode} registry: listing is refused clearly when not allowed`, async () => {
    await using r = await startRegistry(mode);
    await r.client.register(["FOO"], 12345);
    for (const listing of [r.client.list(), listServices({ registrar: r.client })]) {
      const error = await rejection(listing);
      assert.ok(error instanceof DiscoveryError, String(error));
      assert.match(
        error.message,
        new RegExp(
          `^the registry at ${mode.toLowerCase()} 127\\.0\\.0\\.1:${r.port} refused LIST: ` +
            "listing is not allowed$",
        ),
      );
    }
    // The refusal did not disturb anything else.
    assert.equal((await r.client.discover("FOO")).length, 1);
  });

  Deno.test(`${mode} registry: a server that stopped registering is pruned`, async () => {
    await using r = await startRegistry(mode, { pruningTimeout: 200, allowListing: true });
    await r.client.register(["FOO"], 12345);
    assert.equal((await r.client.discover("FOO")).length, 1);
    await waitFor(async () => (await r.client.discover("FOO")).length === 0, 5_000, "pruning");
    assert.deepEqual(await r.client.list(), []);
    assert.ok(r.lines.includes("info: removed FOO at 127.0.0.1:12345"), r.lines.join("\n"));
  });

  Deno.test(`${mode} registry: a registry that is not there is a DiscoveryError naming it`, async () => {
    const port = await freeRegistryPort(mode);
    const error = await rejection(registryClient(mode, port).discover("FOO"));
    assert.ok(error instanceof DiscoveryError, String(error));
    const where = `${mode.toLowerCase()} 127\\.0\\.0\\.1:${port}`;
    assert.match(
      error.message,
      mode === "UDP"
        ? new RegExp(`^no registry answered at ${where} within 500 ms$`)
        : new RegExp(`^cannot reach the registry at ${where}: `),
    );
  });

  Deno.test(`${mode} registry: a port in use is an error naming the address`, async () => {
    await using r = await startRegistry(mode);
    const error = await rejection(serveRegistry({ mode, port: r.port, logger: quietLogger() }));
    assert.ok(error instanceof Error);
    assert.match(
      error.message,
      new RegExp(`^cannot listen on ${mode.toLowerCase()} 127\\.0\\.0\\.1:${r.port}: `),
    );
  });

  Deno.test(`${mode} registry: closes on its signal`, async () => {
    const controller = new AbortController();
    const registry = await serveRegistry({
      mode,
      port: 0,
      logger: quietLogger(),
      signal: controller.signal,
    });
    controller.abort();
    await registry.finished;
    await registry.close(); // idempotent
  });
}

Deno.test("UDP registry: malformed datagrams are ignored and logged; a flood does not stop it", async () => {
  await using r = await startRegistry("UDP");
  const garbage = [
    new Uint8Array([0xff, 0xfe, 0x00]),
    "not json",
    "[1, 2, 3]",
    JSON.stringify({ "rdc-registry": 2, id: 1, command: "QUERY", name: "FOO" }),
    JSON.stringify({ "rdc-registry": 1, id: -1, command: "QUERY", name: "FOO" }),
    JSON.stringify({ "rdc-registry": 1, id: 1, command: "SHUTDOWN" }),
    JSON.stringify({ "rdc-registry": 1, id: 1, command: "REGISTER", names: ["FOO"], port: 0 }),
    JSON.stringify({ "rdc-registry": 1, id: 1, command: "REGISTER", names: [], port: 1 }),
    JSON.stringify({ "rdc-registry": 1, id: 1, command: "QUERY", name: "x".repeat(256) }),
  ].map((g) => typeof g === "string" ? new TextEncoder().encode(g) : g);
  const socket = dgram.createSocket("udp4");
  const replies: Uint8Array[] = [];
  socket.on("message", (datagram: Uint8Array) => replies.push(datagram));
  try {
    await new Promise<void>((resolve) => socket.bind(0, LOCAL, resolve));
    for (let i = 0; i < 5_000; i++) {
      const datagram = i < garbage.length
        ? garbage[i]!
        : crypto.getRandomValues(new Uint8Array(64));
      await new Promise<void>((resolve) => socket.send(datagram, r.port, LOCAL, () => resolve()));
    }
    // Still answering, and right: the flood registered nothing.
    await r.client.register(["FOO"], 12345);
    assert.deepEqual(await r.client.discover("FOO"), [{ host: LOCAL, port: 12345 }]);
  } finally {
    await new Promise<void>((resolve) => socket.close(resolve));
  }
  assert.deepEqual(replies, [], "malformed requests get no reply");
  const warnings = r.lines.filter((line) => line.startsWith("warn: "));
  assert.match(
    warnings[0] ?? "",
    /^warn: ignored a request from 127\.0\.0\.1: not an rdc registry request/,
  );
  // Throttled: not a line per datagram.
  assert.ok(warnings.length < 50, `${warnings.length} warnings for one flood`);
});

Deno.test("TCP registry: broken, oversize and garbage requests are dropped; it keeps answering", async () => {
  await using r = await startRegistry("TCP");
  const send = async (bytes: Uint8Array, framed: boolean) => {
    const conn = await Deno.connect({ hostname: LOCAL, port: r.port });
    try {
      if (framed) await writeFrame(transportFromConn(conn, "test client"), bytes);
      else await conn.write(bytes);
      conn.closeWrite();
      // The registry closes without replying.
      assert.equal(await conn.read(new Uint8Array(16)), null);
    } finally {
      closeQuietly(conn);
    }
  };
  await send(new TextEncoder().encode("garbage"), true);
  await send(new Uint8Array([0xff, 0xff, 0xff, 0xff]), false); // announces 4 GiB
  await send(new Uint8Array([0, 0, 0, 10, 1, 2]), false); // ends inside the frame
  await Promise.all(
    Array.from({ length: 200 }, () => send(crypto.getRandomValues(new Uint8Array(32)), true)),
  );
  await r.client.register(["FOO"], 12345);
  assert.deepEqual(await r.client.discover("FOO"), [{ host: LOCAL, port: 12345 }]);
  const warnings = r.lines.filter((line) => line.startsWith("warn: "));
  assert.match(warnings[0] ?? "", /^warn: ignored a request from 127\.0\.0\.1: /);
  assert.ok(warnings.length < 50, `${warnings.length} warnings for one flood`);
});

Deno.test("TCP registry: closing it ends a connection that never sent its request", async () => {
  const r = await startRegistry("TCP");
  const conn = await Deno.connect({ hostname: LOCAL, port: r.port });
  try {
    await new Promise((resolve) => setTimeout(resolve, 50)); // time for the registry to accept it
    await r.registry.close(); // does not wait for the request
    const ended = await conn.read(new Uint8Array(16)).catch((error) => error);
    assert.ok(ended === null || ended instanceof Deno.errors.ConnectionReset, String(ended));
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("UDP client: replies that are not its request's are ignored", async () => {
  // A stand-in registry that answers with noise first, then another request's reply, then ours.
  const fake = dgram.createSocket("udp4");
  fake.on("message", (datagram: Uint8Array, sender: dgram.RemoteInfo) => {
    const { id } = parseRequest(datagram);
    const send = (reply: unknown) =>
      fake.send(new TextEncoder().encode(JSON.stringify(reply)), sender.port, sender.address);
    send("noise");
    send({ "rdc-registry": 1, id: (id + 1) % 2 ** 32, servers: [{ host: "x", port: 1 }] });
    send({ "rdc-registry": 1, id, servers: "not a list" });
    send({ "rdc-registry": 1, id, servers: [{ host: "10.0.0.7", port: 4242 }] });
  });
  try {
    await new Promise<void>((resolve) => fake.bind(0, LOCAL, resolve));
    const client = registryClient("UDP", fake.address().port);
    assert.deepEqual(await client.discover("FOO"), [{ host: "10.0.0.7", port: 4242 }]);
  } finally {
    await new Promise<void>((resolve) => fake.close(resolve));
  }
});

Deno.test("UDP client: a broadcast reaches a registry (on the loopback broadcast address)", async () => {
  // 127.255.255.255 is loopback's own broadcast address: the datagram never leaves this machine.
  await using registry = await serveRegistry({
    hostname: "127.255.255.255",
    port: 0,
    logger: quietLogger(),
  });
  const client = new RegistryClient({ host: "127.255.255.255", port: registry.addr.port });
  await client.register(["FOO"], 12345);
  assert.deepEqual(await client.discover("FOO"), [{ host: LOCAL, port: 12345 }]);
});

Deno.test("registry options are checked", async () => {
  assert.throws(() => new RegistryClient({ mode: "TCP" }), {
    name: "TypeError",
    message: "a TCP registry client needs the registry's host",
  });
  // deno-lint-ignore no-explicit-any
  assert.throws(() => new RegistryClient({ mode: "udp" as any }), /unknown registry mode 'udp'/);
  const client = new RegistryClient();
  assert.equal(client.description, "udp 255.255.255.255:18811");
  assert.equal(client.timeout, 2_000);
  await assert.rejects(serveRegistry({ pruningTimeout: 0 }), /pruning timeout must be positive/);
  // deno-lint-ignore no-explicit-any
  await assert.rejects(serveRegistry({ mode: "SCTP" as any }), /unknown registry mode 'SCTP'/);
});

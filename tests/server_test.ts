/**
 * Servers and services over real sockets: names and aliases, connect and
 * disconnect hooks, per-connection vs shared instances, one-shot servers,
 * abort signals, `await using`, unix sockets, in-memory streams, closing, and
 * connection failures.
 */

import assert from "node:assert/strict";
import {
  connect,
  type Connection,
  ConnectionClosedError,
  connectStream,
  connectUnix,
  currentCall,
  ProtocolError,
  serve,
  Service,
  type ServiceConnection,
} from "../mod.ts";
import { pair, quietLogger, rejection, waitFor } from "./_helpers.ts";

/** Hook calls seen by every service in a test, in order. */
type Events = string[];

function hookedService(events: Events) {
  return class HookedService extends Service {
    static instances = 0;
    readonly instance = ++HookedService.instances;
    hits = 0;
    override onConnect(conn: ServiceConnection): void {
      events.push(`connect ${this.instance} ${conn.peerService}`);
    }
    override onDisconnect(conn: ServiceConnection): void {
      events.push(`disconnect ${this.instance} ${conn.peerService}`);
    }
    exposed_hit(): number {
      return ++this.hits;
    }
    exposed_instance(): number {
      return this.instance;
    }
    exposed_wait(): Promise<never> {
      const { signal } = currentCall();
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
  };
}

class CalculatorService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }
}

class AliasedService extends Service {
  static override aliases = ["Maths", "calc", "calculator"];
  exposed_mul(a: number, b: number): number {
    return a * b;
  }
}

/**
 * Connecting to `port` fails with an error naming the address. (Right after a
 * listener closes, the OS may answer with a reset rather than a refusal, so the
 * error class is not checked here.)
 */
async function assertConnectFails(port: number): Promise<void> {
  const error = await rejection(connect("127.0.0.1", port, { logger: quietLogger() }));
  assert.ok(error instanceof Error, `got ${error}`);
  assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
}

/** A loopback port with nothing listening on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("server: service names and aliases", async (t) => {
  await t.step("the class name without `Service`", async () => {
    await using p = await pair(CalculatorService);
    assert.equal(p.client.peerService, "Calculator");
    assert.equal(p.serverConn().peerService, "Void", "the client's default VoidService");
    assert.equal(await p.client.root.add(1, 2), 3);
  });
  await t.step("static aliases: the first is the name", async () => {
    await using p = await pair(new AliasedService());
    assert.equal(p.client.peerService, "Maths");
    assert.deepEqual(p.client.peerAliases, ["Maths", "calc", "calculator"]);
    assert.equal(await p.client.root.mul(6, 7), 42);
  });
  await t.step("expectService accepts any alias, case-insensitively", async () => {
    await using server = serve(AliasedService, { port: 0, logger: quietLogger() });
    const port = (server.addr as Deno.NetAddr).port;
    const options = { logger: quietLogger() };
    const ok = await connect("127.0.0.1", port, { ...options, expectService: "CALCULATOR" });
    assert.equal(await ok.root.mul(2, 2), 4);
    await ok.close();
    const error = await rejection(
      connect("127.0.0.1", port, { ...options, expectService: "Echo" }),
    );
    assert.ok(error instanceof ProtocolError, `got ${error}`);
    assert.match((error as Error).message, /Echo/);
    assert.match((error as Error).message, /Maths/);
  });
  await t.step("the client's service name reaches the server", async () => {
    class ReporterService extends Service {}
    await using p = await pair(CalculatorService, {}, { service: ReporterService });
    assert.equal(p.serverConn().peerService, "Reporter");
  });
});

Deno.test("server: onConnect and onDisconnect, on either end's close", async (t) => {
  await t.step("the client closes", async () => {
    const events: Events = [];
    const Hooked = hookedService(events);
    await using server = serve(Hooked, { port: 0, logger: quietLogger() });
    const client = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port, {
      logger: quietLogger(),
    });
    await waitFor(() => events.length === 1);
    assert.deepEqual(events, ["connect 1 Void"]);
    assert.equal(await client.root.hit(), 1);
    await client.close();
    await waitFor(() => events.length === 2, 5000, "onDisconnect");
    assert.deepEqual(events, ["connect 1 Void", "disconnect 1 Void"]);
    await waitFor(() => server.connections.size === 0);
  });
  await t.step("the server closes: hooks on both ends", async () => {
    const events: Events = [];
    const clientEvents: Events = [];
    const Hooked = hookedService(events);
    const server = serve(Hooked, { port: 0, logger: quietLogger() });
    const client = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port, {
      logger: quietLogger(),
      service: hookedService(clientEvents),
    });
    await waitFor(() => server.connections.size === 1);
    const pending = rejection(client.root.wait());
    await waitFor(() => [...server.connections][0].stats().servingRequests === 1);
    await server.close();
    assert.deepEqual(events, ["connect 1 Hooked", "disconnect 1 Hooked"]);
    assert.equal(server.connections.size, 0);
    const error = await pending;
    assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
    await client.finished;
    assert.equal(client.closed, true);
    assert.deepEqual(clientEvents, ["connect 1 Hooked", "disconnect 1 Hooked"]);
    await client.close(); // idempotent
  });
  await t.step("an onConnect that throws refuses the connection", async () => {
    class RefusingService extends Service {
      override onConnect(): void {
        throw new Error("not today");
      }
    }
    await using server = serve(RefusingService, { port: 0, logger: quietLogger() });
    const port = (server.addr as Deno.NetAddr).port;
    const result = await connect("127.0.0.1", port, { logger: quietLogger() })
      .then(async (conn) => {
        // The handshake may finish before the refusal arrives; the connection then closes.
        await conn.finished;
        return conn.closeReason;
      }, (error) => error);
    assert.ok(result instanceof Error);
    assert.match(String(result), /not today|closed/);
    assert.equal(server.connections.size, 0);
  });
});

Deno.test("server: a class gives each connection its instance; an instance is shared", async (t) => {
  const connectBoth = async (server: ReturnType<typeof serve>) => {
    const port = (server.addr as Deno.NetAddr).port;
    return await Promise.all([
      connect("127.0.0.1", port, { logger: quietLogger() }),
      connect("127.0.0.1", port, { logger: quietLogger() }),
    ]);
  };
  await t.step("per-connection instances", async () => {
    const events: Events = [];
    await using server = serve(hookedService(events), { port: 0, logger: quietLogger() });
    const [a, b] = await connectBoth(server);
    try {
      assert.equal(await a.root.hit(), 1);
      assert.equal(await a.root.hit(), 2);
      assert.equal(await b.root.hit(), 1, "b has its own counter");
      assert.notEqual(await a.root.instance(), await b.root.instance());
    } finally {
      await a.close();
      await b.close();
    }
    await waitFor(() => events.length === 4);
    assert.deepEqual(events.filter((e) => e.startsWith("connect")).length, 2);
  });
  await t.step("a shared instance", async () => {
    const events: Events = [];
    const shared = new (hookedService(events))();
    await using server = serve(shared, { port: 0, logger: quietLogger() });
    const [a, b] = await connectBoth(server);
    try {
      assert.equal(await a.root.hit(), 1);
      assert.equal(await b.root.hit(), 2, "one counter for all");
      assert.equal(await a.root.instance(), await b.root.instance());
      assert.equal(shared.hits, 2);
    } finally {
      await a.close();
      await b.close();
    }
    await waitFor(() => events.length === 4);
    assert.deepEqual(events.sort(), [
      "connect 1 Void",
      "connect 1 Void",
      "disconnect 1 Void",
      "disconnect 1 Void",
    ]);
  });
});

Deno.test("server: oneShot closes after its first client disconnects", async () => {
  const events: Events = [];
  const server = serve(hookedService(events), { port: 0, oneShot: true, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const client = await connect("127.0.0.1", port, { logger: quietLogger() });
  assert.equal(await client.root.hit(), 1);
  let finished = false;
  server.finished.then(() => (finished = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(finished, false, "still serving its one client");
  assert.equal(await client.root.hit(), 2);
  await client.close();
  await server.finished;
  assert.equal(server.connections.size, 0);
  assert.deepEqual(events, ["connect 1 Void", "disconnect 1 Void"]);
  await assertConnectFails(port); // nobody listens any more
  await server.close(); // idempotent
});

Deno.test("server: aborting its signal closes the server and its connections", async () => {
  const events: Events = [];
  const controller = new AbortController();
  const server = serve(hookedService(events), {
    port: 0,
    signal: controller.signal,
    logger: quietLogger(),
  });
  const port = (server.addr as Deno.NetAddr).port;
  const client = await connect("127.0.0.1", port, { logger: quietLogger() });
  assert.equal(await client.root.hit(), 1);
  controller.abort();
  await server.finished;
  await client.finished;
  assert.equal(client.closed, true);
  assert.deepEqual(events, ["connect 1 Void", "disconnect 1 Void"]);
  await assertConnectFails(port);

  // A signal aborted before serve() starts a server that closes at once.
  const server2 = serve(CalculatorService, {
    port: 0,
    signal: AbortSignal.abort(),
    logger: quietLogger(),
  });
  await server2.finished;
});

Deno.test("server: await using closes server and connection at block end", async () => {
  const events: Events = [];
  let port = 0;
  let client: Connection | undefined;
  {
    await using server = serve(hookedService(events), { port: 0, logger: quietLogger() });
    port = (server.addr as Deno.NetAddr).port;
    await using conn = await connect("127.0.0.1", port, { logger: quietLogger() });
    client = conn;
    assert.equal(await conn.root.hit(), 1);
  }
  assert.equal(client.closed, true);
  assert.deepEqual(events, ["connect 1 Void", "disconnect 1 Void"]);
  await assertConnectFails(port);
});

Deno.test("server: unix socket via path and connectUnix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc-unix-" });
  try {
    const path = `${dir}/rdc.sock`;
    const events: Events = [];
    const server = serve(hookedService(events), { path, logger: quietLogger() });
    assert.equal((server.addr as Deno.UnixAddr).path, path);
    assert.ok((await Deno.lstat(path)).isSocket);
    const client = await connectUnix(path, { logger: quietLogger() });
    assert.equal(client.peerService, "Hooked");
    assert.equal(await client.root.hit(), 1);
    assert.equal(await client.root.hit(), 2);
    const other = await connectUnix(path, { logger: quietLogger() });
    assert.equal(await other.root.hit(), 1);
    await other.close();
    await client.close();
    await server.close();
    assert.deepEqual(
      events.filter((e) => e.startsWith("disconnect")).length,
      2,
    );
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "the socket file is removed");
    const error = await rejection(connectUnix(path, { logger: quietLogger() }));
    assert.ok(error instanceof Error);
    assert.ok((error as Error).message.includes(path), (error as Error).message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: connectStream over an in-memory pipe, both ends", async () => {
  const aToB = new TransformStream<Uint8Array, Uint8Array>();
  const bToA = new TransformStream<Uint8Array, Uint8Array>();
  const events: Events = [];
  class LeftService extends Service {
    exposed_whoami(): string {
      return "left";
    }
  }
  const [left, right] = await Promise.all([
    connectStream({ readable: bToA.readable, writable: aToB.writable }, {
      service: LeftService,
      logger: quietLogger(),
    }),
    connectStream({ readable: aToB.readable, writable: bToA.writable }, {
      service: hookedService(events),
      logger: quietLogger(),
      description: "in-memory pipe",
    }),
  ]);
  assert.equal(left.peerService, "Hooked");
  assert.equal(right.peerService, "Left");
  assert.equal(await left.root.hit(), 1);
  assert.equal(await right.root.whoami(), "left");
  // Callbacks across the pipe.
  assert.equal(await left.root.hit(), 2);
  await left.close();
  await right.finished;
  assert.equal(right.closed, true);
  assert.deepEqual(events, ["connect 1 Left", "disconnect 1 Left"]);
});

Deno.test("server: close() drops every connection and runs onDisconnect", async () => {
  const events: Events = [];
  const server = serve(hookedService(events), { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const clients = await Promise.all(
    [1, 2, 3].map(() => connect("127.0.0.1", port, { logger: quietLogger() })),
  );
  await waitFor(() => server.connections.size === 3);
  const pending = clients.map((c) => rejection(c.root.wait()));
  await waitFor(
    () => [...server.connections].every((c) => c.stats().servingRequests === 1),
    5000,
    "waits",
  );
  await server.close();
  assert.equal(server.connections.size, 0);
  assert.equal(events.filter((e) => e.startsWith("disconnect")).length, 3);
  for (const error of await Promise.all(pending)) {
    assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
  }
  for (const client of clients) {
    await client.finished;
    assert.equal(client.closed, true);
    assert.ok(await rejection(client.root.hit()) instanceof ConnectionClosedError);
  }
  await server.finished;
  await server.close(); // idempotent
});

Deno.test("server: close() aborts the signals of running calls, not of calls that replied", async () => {
  const signals = new Map<string, AbortSignal>();
  class Signals extends Service {
    exposed_quick(name: string): string {
      signals.set(name, currentCall().signal);
      return name;
    }
    exposed_wait(): Promise<never> {
      const { signal } = currentCall();
      signals.set("running", signal);
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
  }
  const server = serve(Signals, { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using client = await connect("127.0.0.1", port, { logger: quietLogger() });
  const running = rejection(client.root.wait());
  await waitFor(() => signals.has("running"));
  assert.equal(await client.root.quick("replied"), "replied");
  // Closed at once: the peer has not even sent FINISH for the replied call yet.
  await server.close();
  assert.ok((await running) instanceof ConnectionClosedError);
  assert.equal(signals.get("running")!.aborted, true);
  assert.ok(signals.get("running")!.reason instanceof ConnectionClosedError);
  assert.equal(signals.get("replied")!.aborted, false, "the replied call's signal");
});

Deno.test("server: connecting to a closed port names the address", async () => {
  const port = closedPort();
  const error = await rejection(connect("127.0.0.1", port, { logger: quietLogger() }));
  assert.ok(error instanceof Error, `got ${error}`);
  assert.ok(error instanceof Deno.errors.ConnectionRefused, `got ${error}`);
  assert.ok((error as Error).message.includes(`127.0.0.1:${port}`), (error as Error).message);
});

Deno.test("server: a second client is unaffected when the first disconnects", async () => {
  const events: Events = [];
  await using server = serve(hookedService(events), { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const first = await connect("127.0.0.1", port, { logger: quietLogger() });
  const second = await connect("127.0.0.1", port, { logger: quietLogger() });
  await waitFor(() => server.connections.size === 2);
  const pendingOnSecond = second.root.wait();
  await first.root.hit();
  await first.close();
  await waitFor(() => server.connections.size === 1, 5000, "the first to go");
  assert.equal(second.closed, false);
  assert.equal(await second.root.hit(), 1);
  assert.equal(await second.root.hit(), 2);
  assert.equal(second.stats().pendingRequests, 1, "the second's call is still pending");
  await second.close();
  assert.ok(await rejection(pendingOnSecond) instanceof ConnectionClosedError);
  await waitFor(() => events.length === 4);
});

/**
 * rdc over message carriers, without byte framing: in the same process
 * (`connectInProcess`), over a `MessageChannel` (`connectMessagePort`,
 * `serveMessagePort`) and with a real module Worker (`connectWorker`,
 * `serveParent` in tests/_worker_service.ts). Hostile messages, posted raw
 * on a port, close only their own connection.
 */

import assert from "node:assert/strict";
import {
  connectInProcess,
  type Connection,
  ConnectionClosedError,
  connectMessagePort,
  connectWorker,
  type MessagePortLike,
  ProtocolError,
  type Remote,
  RemoteError,
  serveMessagePort,
  serveParent,
  Service,
  type ServiceConnection,
} from "../mod.ts";
import { Budget } from "../core/wire/budget.ts";
import { PostMessageChannel } from "../core/wire/message_channel.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";
import { body, hello, MSG, OP, rawRequest, request, u32 } from "./_raw_peer.ts";
import type { WorkerService } from "./_worker_service.ts";

const MiB = 1024 * 1024;

/** What the client side offers: the server calls it back through `conn.root`. */
class ClientService extends Service {
  exposed_greeting(): string {
    return "hello from the client";
  }
}

/** An object handed out by reference. */
class Counter {
  count = 0;
  exposed_increment(by = 1): number {
    return this.count += by;
  }
}

class TestService extends Service {
  #conn: ServiceConnection | null = null;
  #counter = new Counter();

  override onConnect(conn: ServiceConnection): void {
    this.#conn = conn;
  }
  exposed_add(a: number, b: number): number {
    return a + b;
  }
  exposed_echo(value: unknown): unknown {
    return value;
  }
  /** Calls the client's function. */
  async exposed_apply(f: (n: number) => Promise<number>, n: number): Promise<number> {
    return await f(n);
  }
  /** A function of the server's, for the client to call. */
  exposed_multiplier(by: number): (n: number) => number {
    return (n: number) => n * by;
  }
  /** Reaches the client's own service. */
  async exposed_askClient(): Promise<string> {
    return await this.#conn!.root.greeting();
  }
  exposed_counter(): Counter {
    return this.#counter;
  }
  exposed_fail(): never {
    throw new TypeError("bad input");
  }
  exposed_hang(): Promise<never> {
    return new Promise(() => {});
  }
  exposed_sum(bytes: Uint8Array): number {
    let sum = 0;
    for (const byte of bytes) sum += byte;
    return sum;
  }
}

/**
 * A `MessagePort`-like endpoint over `port` that records the buffers each
 * post transfers (and their sizes then).
 */
function recording(
  port: MessagePort,
): MessagePortLike & { sizes: number[]; buffers: ArrayBuffer[] } {
  const sizes: number[] = [];
  const buffers: ArrayBuffer[] = [];
  return {
    sizes,
    buffers,
    postMessage(message: unknown, transfer: Transferable[] = []) {
      for (const item of transfer) {
        if (item instanceof ArrayBuffer) {
          sizes.push(item.byteLength);
          buffers.push(item);
        }
      }
      port.postMessage(message, transfer);
    },
    addEventListener: (type, listener) => port.addEventListener(type, listener),
    removeEventListener: (type, listener) => port.removeEventListener(type, listener),
    start: () => port.start(),
    close: () => port.close(),
  };
}

Deno.test("connectInProcess: calls, errors and both ends' services", async () => {
  await using conn = await connectInProcess(TestService, { service: ClientService });
  assert.equal(conn.peerService, "Test");
  assert.equal(conn.description, "in-process server");
  assert.equal(await conn.root.add(1, 2), 3);
  // Pipelined: the answer's method is called before the answer arrives.
  assert.equal(await conn.root.counter().increment(5), 5);
  assert.equal(await conn.root.askClient(), "hello from the client");
  const error = await rejection(conn.root.fail());
  assert.ok(error instanceof RemoteError && error instanceof TypeError);
  assert.match((error as Error).message, /bad input/);
  assert.equal(await conn.ping() >= 0, true);
  const stats = conn.stats();
  assert.ok(stats.framesSent > 0 && stats.framesReceived > 0);
  assert.equal(stats.bufferedOutbound, 0);
});

Deno.test("connectInProcess: callbacks both ways", async () => {
  await using conn = await connectInProcess(TestService);
  // The server calls the client's function while the client's call waits.
  assert.equal(await conn.root.apply((n: number) => n + 1, 41), 42);
  // A nested call: the callback calls the server again.
  assert.equal(await conn.root.apply(async (n: number) => await conn.root.add(n, 100), 1), 101);
  // A function of the server's, called by the client.
  const triple = await conn.root.multiplier(3);
  assert.equal(await triple(7), 21);
});

Deno.test("connectInProcess: netrefs keep their identity both ways", async () => {
  await using conn = await connectInProcess(TestService);
  const a = await conn.root.counter();
  const b = await conn.root.counter();
  assert.equal(a, b, "the same remote object is the same proxy");
  const local = { n: 1, f: () => 2 };
  const mine = new Counter();
  assert.equal(await conn.root.echo(mine), mine, "a local object comes back as itself");
  assert.equal(await conn.root.echo(a), a, "a netref sent back comes back as itself");
  assert.deepEqual(Object.keys(await conn.root.echo(local)), ["n", "f"]);
});

Deno.test("connectInProcess: a value of several MiB travels, and the sender's array stays", async () => {
  await using conn = await connectInProcess(TestService);
  const big = new Uint8Array(6 * MiB);
  for (let i = 0; i < big.length; i += 4096) big[i] = i / 4096 % 251;
  const back: Uint8Array = await conn.root.echo(big);
  assert.equal(big.length, 6 * MiB, "the caller's array is never transferred");
  assert.notEqual(back, big);
  assert.equal(back.buffer.byteLength, back.length, "a received array owns its whole buffer");
  assert.deepEqual(back, big);
  assert.equal(await conn.root.sum(big), big.reduce((s, x) => s + x, 0));
  const numbers = Array.from({ length: 200_000 }, (_, i) => i);
  assert.deepEqual(await conn.root.echo(numbers), numbers);
  assert.equal(conn.stats().bufferedInbound, 0, "everything received was given back");
});

Deno.test("connectMessagePort: large byte arrays and large bodies are transferred, not copied", async () => {
  const { port1, port2 } = new MessageChannel();
  const client = recording(port1);
  const server = recording(port2);
  const serving = serveMessagePort(server, TestService);
  await using conn = await connectMessagePort(client);
  await serving;
  const big = new Uint8Array(6 * MiB).fill(9);
  const back: Uint8Array = await conn.root.echo(big);
  // Each way, the attachment was a buffer of exactly its size, transferred (detached here).
  assert.deepEqual(client.sizes.filter((size) => size === big.length), [big.length]);
  assert.deepEqual(server.sizes.filter((size) => size === big.length), [big.length]);
  for (const buffer of [...client.buffers, ...server.buffers]) {
    assert.equal(buffer.byteLength, 0, "transferred: detached");
  }
  assert.equal(big.length, 6 * MiB, "the caller's array stays");
  assert.deepEqual(back, big);
  // A large body (many small values, no attachment) is transferred too; a small one is not.
  const before = client.sizes.length;
  assert.equal(await conn.root.add(1, 2), 3);
  assert.equal(client.sizes.length, before, "a small message is cloned");
  const numbers = Array.from({ length: 200_000 }, (_, i) => i);
  assert.deepEqual(await conn.root.echo(numbers), numbers);
  assert.ok(client.sizes.slice(before).some((size) => size > 200_000), `${client.sizes}`);
});

Deno.test("connectInProcess: closing rejects pending calls and closes the serving end", async () => {
  let served: ServiceConnection | null = null;
  class Watched extends TestService {
    override onConnect(conn: ServiceConnection): void {
      super.onConnect(conn);
      served = conn;
    }
  }
  const conn = await connectInProcess(Watched);
  const pending = conn.root.hang();
  await conn.close();
  assert.ok((await rejection(pending)) instanceof ConnectionClosedError);
  await waitFor(() => served?.closed === true, 2000, "the serving end to close");
  await served!.finished;
});

Deno.test("connectInProcess: refuses limits out of range before starting", async () => {
  await assert.rejects(connectInProcess(TestService, { maxMessageSize: 10 }), RangeError);
  await assert.rejects(
    connectInProcess(TestService, { serverOptions: { maxDepth: 1 } }),
    RangeError,
  );
});

Deno.test("connectMessagePort over a MessageChannel", async () => {
  const { port1, port2 } = new MessageChannel();
  const log = quietLogger();
  const serving = serveMessagePort(port2, TestService, { logger: log });
  const conn = await connectMessagePort(port1, { description: "test port" });
  const server = await serving;
  assert.equal(conn.description, "test port");
  assert.equal(server.description, "message port");
  assert.equal(await conn.root.add(2, 3), 5);
  assert.equal(await conn.root.apply((n: number) => n * n, 9), 81);
  const pending = conn.root.hang();
  // The serving end closes: the client hears it at once.
  await server.close();
  const error = await rejection(pending);
  assert.ok(error instanceof ConnectionClosedError, String(error));
  await conn.finished;
  assert.ok(conn.closed);
  assert.deepEqual(log.lines, []);
});

Deno.test("PostMessageChannel: counters, budget, release, close", async () => {
  const { port1, port2 } = new MessageChannel();
  const inbound = new Budget(200_000, "test budget");
  let closes = 0;
  const channel = new PostMessageChannel(port2, {
    inbound,
    description: "test",
    onClose: () => {
      closes++;
      port2.close();
    },
  });
  channel.setLimits({ peerFrameSize: 0, maxFrameSize: 0, maxMessageSize: 100_000 });
  const sent = [new Uint8Array(90_000), new Uint8Array(10_000)];
  port1.postMessage(sent);
  port1.postMessage(new Uint8Array(90_000));
  // A third does not fit the budget while the first two are held: a flood.
  port1.postMessage(new Uint8Array(50_000));
  const first = (await channel.receive())!;
  assert.equal(first.body.length, 90_000);
  assert.equal(first.attachments[0].length, 10_000);
  assert.equal(first.held, 100_000);
  const second = (await channel.receive())!;
  assert.equal(inbound.used, 190_000);
  const flood = await rejection(channel.receive());
  assert.ok(flood instanceof ProtocolError);
  assert.match(flood.message, /inbound budget \(maxInboundBytes\)/);
  channel.release(first);
  assert.equal(inbound.used, 90_000);
  assert.equal(channel.counters.framesReceived, 2);
  assert.equal(channel.counters.bytesReceived, 190_000);
  assert.equal(channel.send(new Uint8Array([1, 2, 3]), []), null);
  assert.equal(channel.counters.framesSent, 1);
  assert.equal(channel.buffered, 0);
  await channel.drained(0);
  await channel.flushed();
  channel.close();
  channel.close();
  assert.equal(closes, 1, "close is idempotent");
  assert.equal(inbound.used, 0, "closing gives back what was held");
  channel.release(second); // After close: nothing more to give back.
  assert.equal(inbound.used, 0);
  assert.ok((await rejection(channel.receive())) instanceof ConnectionClosedError);
  assert.equal(channel.failure, null);
  port1.close();
});

Deno.test("PostMessageChannel: posts its end marker on close, and reads the peer's as the end", async () => {
  const { port1, port2 } = new MessageChannel();
  const seen: unknown[] = [];
  port1.onmessage = (event) => seen.push(event.data);
  const channel = new PostMessageChannel(port2, {
    inbound: new Budget(MiB, "test budget"),
    description: "test",
    onClose: () => port2.close(),
  });
  channel.setLimits({ peerFrameSize: 0, maxFrameSize: 0, maxMessageSize: MiB });
  port1.postMessage(new Uint8Array([0x90]));
  port1.postMessage(null);
  assert.deepEqual((await channel.receive())!.body, new Uint8Array([0x90]));
  assert.equal(await channel.receive(), null);
  channel.send(new Uint8Array([7]), []);
  channel.close();
  await waitFor(() => seen.length >= 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Its message went out; no end marker back to a peer that ended first.
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0], new Uint8Array([7]));
  port1.close();

  const other = new MessageChannel();
  const marks: unknown[] = [];
  other.port1.onmessage = (event) => marks.push(event.data);
  new PostMessageChannel(other.port2, {
    inbound: new Budget(MiB, "test budget"),
    description: "test",
    onClose: () => other.port2.close(),
  }).close();
  await waitFor(() => marks.length === 1);
  assert.equal(marks[0], null, "the end marker");
  other.port1.close();
});

// ---- hostile messages -------------------------------------------------------------------------

/** A peer that posts whatever it is told on its end of a `MessageChannel`. */
class RawPortPeer {
  readonly port: MessagePort;
  readonly received: unknown[] = [];

  constructor(port: MessagePort) {
    this.port = port;
    port.onmessage = (event) => this.received.push(event.data);
  }

  /** Posts an rdc message (a copy of `message`'s encoding as its body). */
  send(message: unknown, attachments: Uint8Array[] = []): void {
    const bytes = body(message).slice();
    this.port.postMessage(attachments.length === 0 ? bytes : [bytes, ...attachments]);
  }

  post(data: unknown, transfer: Transferable[] = []): void {
    this.port.postMessage(data, transfer);
  }
}

/** A server on a `MessageChannel` whose other end is a raw peer; `handshake` sends its HELLO. */
function rawServed(options: { handshake?: boolean; maxMessageSize?: number } = {}) {
  const { port1, port2 } = new MessageChannel();
  const log = quietLogger();
  const serving = serveMessagePort(port2, TestService, {
    logger: log,
    handshakeTimeout: 2000,
    maxMessageSize: options.maxMessageSize,
  });
  const peer = new RawPortPeer(port1);
  if (options.handshake ?? true) peer.send(hello());
  return {
    peer,
    log,
    serving,
    [Symbol.dispose]() {
      port1.close();
    },
  };
}

/** An attack: what the raw peer posts once the handshake is done, and what the server says. */
interface PortAttack {
  name: string;
  expect: RegExp;
  run: (peer: RawPortPeer) => void;
}

const hostileAttacks: PortAttack[] = [
  { name: "a string", expect: /not an rdc message/, run: (peer) => peer.post("GET / HTTP/1.1") },
  {
    name: "an array of numbers",
    expect: /the body is not a Uint8Array/,
    run: (peer) => peer.post([1, 2, 3]),
  },
  {
    name: "an object",
    expect: /not an rdc message/,
    run: (peer) => peer.post({ body: new Uint8Array([0x90]), attachments: [] }),
  },
  {
    name: "a body that is a string",
    expect: /the body is not a Uint8Array/,
    run: (peer) => peer.post(["\x93\x01\x02\x03", new Uint8Array(1)]),
  },
  {
    name: "a body of another typed array",
    expect: /not an rdc message/,
    run: (peer) => peer.post(new Uint16Array(4)),
  },
  {
    name: "an array of one item",
    expect: /an array of 1 items/,
    run: (peer) => peer.post([new Uint8Array([0x90])]),
  },
  {
    name: "an attachment that is not a Uint8Array",
    expect: /attachment #1 is not a Uint8Array/,
    run: (peer) => peer.post([new Uint8Array([0x90]), new Uint8Array(1), [1, 2]]),
  },
  {
    name: "an empty body",
    expect: /empty body/,
    run: (peer) => peer.post(new Uint8Array(0)),
  },
  {
    name: "a body that is a view into a larger buffer",
    expect: /the body does not span a whole, plain ArrayBuffer/,
    run: (peer) => peer.post(new Uint8Array(64).subarray(8, 16)),
  },
  {
    name: "a body in shared memory",
    expect: /the body does not span a whole, plain ArrayBuffer/,
    run: (peer) => peer.post(new Uint8Array(new SharedArrayBuffer(8))),
  },
  {
    name: "two attachments on one buffer",
    expect: /attachment #1 shares its buffer/,
    run: (peer) => {
      const shared = new Uint8Array(16);
      peer.post([new Uint8Array([0x90]), shared, shared]);
    },
  },
  {
    name: "too many attachments",
    expect: /carries 65536 attachments, more than 65535/,
    run: (peer) =>
      peer.post([
        new Uint8Array([0x90]),
        ...Array.from({ length: 65_536 }, () => new Uint8Array(1)),
      ]),
  },
  {
    name: "a message beyond maxMessageSize",
    expect: /a message of 70000 bytes exceeds the limit of 65536 bytes \(maxMessageSize\)/,
    run: (peer) => peer.post(new Uint8Array(70_000)),
  },
  {
    name: "attachments beyond maxMessageSize",
    expect: /a message of 65537 bytes exceeds the limit of 65536 bytes \(maxMessageSize\)/,
    run: (peer) => peer.post([new Uint8Array([0x90]), new Uint8Array(65_536)]),
  },
  {
    name: "a message port slipped in",
    expect: /a message carried message ports/,
    run: (peer) => {
      const { port1, port2 } = new MessageChannel();
      port2.close();
      peer.post(new Uint8Array([0x90]), [port1]);
    },
  },
  {
    name: "bytes that are not MessagePack",
    expect: /0xc1 is not a MessagePack token/,
    run: (peer) => peer.post(new Uint8Array([0xc1, 0xc1])),
  },
  {
    name: "an array declaring 4 billion items",
    expect: /./,
    run: (peer) => {
      const args = new Uint8Array([0x91, 0xdd, ...u32(0xffffffff)]);
      peer.post(rawRequest(0, OP.CALL, 0, ["echo"], args).slice());
    },
  },
  {
    name: "a second HELLO",
    expect: /unexpected second handshake/,
    run: (peer) => peer.send(hello()),
  },
];

Deno.test("hostile messages close only their own connection", async (t) => {
  // A bystander, connected before the attacks, must keep working through them.
  await using bystander = await connectInProcess(TestService);
  for (const attack of hostileAttacks) {
    await t.step(attack.name, async () => {
      using raw = rawServed({ maxMessageSize: 64 * 1024 });
      const server = await raw.serving;
      // An honest request first: the connection works.
      raw.peer.send(request(0, OP.CALL, 0, ["add"], [1, 2]));
      await waitFor(() => raw.peer.received.length >= 2, 2000, "the reply");
      attack.run(raw.peer);
      await server.finished;
      const reason = server.closeReason;
      assert.ok(reason instanceof ProtocolError, `${attack.name}: ${reason}`);
      assert.match(reason.message, attack.expect);
      assert.ok(raw.log.lines.some((line) => line.startsWith("warn: closing message port")));
      // The peer was told why (a CLOSE), then the end marker.
      await waitFor(() => raw.peer.received.at(-1) === null, 2000, "the end marker");
      assert.equal(await bystander.root.add(20, 22), 42);
    });
  }
  assert.equal(await bystander.ping() >= 0, true);
});

Deno.test("hostile: a flood past the inbound budget closes that connection only", async () => {
  await using bystander = await connectInProcess(TestService);
  const { port1, port2 } = new MessageChannel();
  const log = quietLogger();
  const serving = serveMessagePort(port2, TestService, {
    logger: log,
    maxMessageSize: 16 * MiB,
    maxInboundBytes: 32 * MiB,
    maxElements: 20_000_000,
  });
  const peer = new RawPortPeer(port1);
  peer.send(hello());
  const server = await serving;
  // Requests whose arguments take many slices to decode: held meanwhile, and more keep coming.
  const items = 12 * MiB;
  for (let seq = 0; seq < 6; seq++) {
    const args = new Uint8Array(6 + items);
    args.set([0x91, 0xdd, ...u32(items)]);
    const message = rawRequest(seq, OP.CALL, 0, ["echo"], args);
    peer.post(message, [message.buffer as ArrayBuffer]);
  }
  await server.finished;
  assert.ok(server.closeReason instanceof ProtocolError, String(server.closeReason));
  assert.match(server.closeReason.message, /beyond the 33554432 bytes of the inbound budget/);
  assert.equal(await bystander.root.add(1, 1), 2);
  port1.close();
});

Deno.test("hostile: before the handshake only a small message, without attachments, is taken", async (t) => {
  const cases: PortAttack[] = [
    {
      name: "a message over 16 KiB",
      expect: /a message of 16385 bytes exceeds the limit of 16384 bytes before the handshake/,
      run: (peer) => peer.post(new Uint8Array(16 * 1024 + 1)),
    },
    {
      name: "an attachment",
      expect: /a message with attachments before the handshake/,
      run: (peer) => peer.post([body(hello()).slice(), new Uint8Array(70_000)]),
    },
    {
      name: "garbage",
      expect: /not an rdc message/,
      run: (peer) => peer.post(42),
    },
    {
      name: "a first message that is not a HELLO",
      expect: /not an rdc peer/,
      run: (peer) => peer.send([MSG.CLOSE + 10, "nope"]),
    },
  ];
  for (const attack of cases) {
    await t.step(attack.name, async () => {
      using raw = rawServed({ handshake: false });
      attack.run(raw.peer);
      const error = await rejection(raw.serving);
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(error.message, attack.expect);
    });
  }
  await t.step("silence", async () => {
    const { port1, port2 } = new MessageChannel();
    const error = await rejection(
      serveMessagePort(port2, TestService, { handshakeTimeout: 100, logger: quietLogger() }),
    );
    assert.match(String(error), /no handshake from message port within 100 ms/);
    port1.close();
  });
});

// ---- a real module Worker ---------------------------------------------------------------------

/** Starts tests/_worker_service.ts as a module worker and connects to it. */
async function workerConnection(
  options: { terminate?: boolean } = {},
): Promise<{ worker: Worker; conn: Connection; root: Remote<WorkerService> }> {
  const worker = new Worker(new URL("./_worker_service.ts", import.meta.url), { type: "module" });
  const conn = await connectWorker(worker, { logger: quietLogger(), ...options });
  return { worker, conn, root: conn.root as Remote<WorkerService> };
}

Deno.test("connectWorker: calls, a callback and a large array", async () => {
  const { conn, root } = await workerConnection();
  try {
    assert.equal(conn.peerService, "Worker");
    assert.equal(conn.description, "worker");
    assert.equal(await root.add(40, 2), 42);
    assert.equal(await root.inWorker(), true);
    assert.deepEqual(await root.map([1, 2, 3], (n: number) => n * 10), [10, 20, 30]);
    const bytes = new Uint8Array(4 * MiB).fill(1);
    assert.equal(await root.sum(bytes), 4 * MiB);
    assert.equal(bytes.length, 4 * MiB, "the caller's array stays");
  } finally {
    await conn.close();
  }
});

Deno.test("connectWorker: terminate() rejects a pending call with ConnectionClosedError", async () => {
  const { worker, conn, root } = await workerConnection();
  const pending = root.hang();
  const started = Date.now();
  worker.terminate();
  const error = await rejection(pending);
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.match((error as Error).message, /the worker was terminated/);
  assert.ok(Date.now() - started < 1000, "at once");
  await conn.finished;
  assert.equal(Object.hasOwn(worker, "terminate"), false, "the worker's own method is back");
});

Deno.test("connectWorker: an error thrown inside the worker rejects a pending call", async () => {
  const { conn, root } = await workerConnection();
  const error = await rejection(root.crashSoon());
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.match((error as Error).message, /the worker failed: .*crashed on purpose/);
  await conn.finished;
});

Deno.test("connectWorker: an unhandled rejection inside the worker rejects a pending call", async () => {
  const { conn, root } = await workerConnection();
  const error = await rejection(root.rejectSoon());
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.match((error as Error).message, /the worker failed: .*rejected on purpose/);
  await conn.finished;
});

Deno.test("connectWorker: the worker closing itself rejects a pending call", async () => {
  const { conn, root } = await workerConnection();
  const error = await rejection(root.closeSoon());
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.match((error as Error).message, /worker closed the connection/);
  await conn.finished;
});

Deno.test("connectWorker: closing terminates the worker unless told not to", async () => {
  const { worker, conn, root } = await workerConnection({ terminate: false });
  const pending = root.hang();
  await conn.close();
  assert.ok((await rejection(pending)) instanceof ConnectionClosedError);
  // Still running (a live worker would fail this test's sanitizer were it not terminated).
  worker.terminate();
  const owned = await workerConnection();
  await owned.conn.close();
});

Deno.test("connectWorker: a worker that never serves fails the handshake", async () => {
  const worker = new Worker(
    `data:text/javascript,${encodeURIComponent("self.onmessage = () => {};")}`,
    { type: "module" },
  );
  const error = await rejection(
    connectWorker(worker, { handshakeTimeout: 200, logger: quietLogger() }),
  );
  assert.match(String(error), /no handshake from worker within 200 ms/);
});

Deno.test("connectWorker: a worker module that fails to load", async () => {
  const worker = new Worker(
    `data:text/javascript,${encodeURIComponent("throw new Error('cannot start');")}`,
    { type: "module" },
  );
  const error = await rejection(connectWorker(worker, { logger: quietLogger() }));
  assert.ok(
    error instanceof ConnectionClosedError || error instanceof ProtocolError,
    String(error),
  );
  assert.match(String(error), /cannot start/);
});

Deno.test("serveParent refuses to run outside a worker", async () => {
  await assert.rejects(serveParent(TestService), {
    name: "TypeError",
    message: /runs inside a Worker/,
  });
});

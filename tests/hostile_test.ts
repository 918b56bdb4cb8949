/**
 * Hostile peers over real loopback sockets. Each attack comes from a raw TCP
 * peer that completes a proper handshake first; for each one the offending
 * connection is closed (a Close frame naming the problem, then end of
 * stream), the server logs why, and the server keeps serving both a client
 * connected before the attack and one connected after it. Nothing may
 * pollute `Object.prototype`.
 */

import assert from "node:assert/strict";
import { Encoder, ExtData } from "@msgpack/msgpack";
import {
  connect,
  type Connection,
  currentCall,
  exposed,
  serve,
  type ServeOptions,
  Service,
} from "../mod.ts";
import { quietLogger, rawFrame, waitFor } from "./_helpers.ts";
import { closeReason, EXT, MSG, OP, RawPeer } from "./_raw_peer.ts";

class Thing {
  @exposed
  get value(): number {
    return 1;
  }
}

// Members are exposed with the decorator (not the prefix) so that the same
// service also works unchanged under allowAllAttrs.
class EvilTargetService extends Service {
  @exposed
  echo(value: unknown): unknown {
    return value;
  }
  @exposed
  make(): Thing {
    return new Thing();
  }
  /** Never answers until the call is cancelled or the connection closes. */
  @exposed
  hang(): Promise<string> {
    const { signal } = currentCall()!;
    return new Promise((resolve) => {
      if (signal.aborted) resolve("aborted");
      signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
  }
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function header(length: number): Uint8Array {
  return u32(length);
}

/** A frame with the attachment bit set in its header. */
function attachmentFrame(payload: Uint8Array): Uint8Array {
  const out = frameOf(payload);
  out[0] |= 0x80;
  return out;
}

/** The extension that names attachment `index`, sent as array kind `kind`. */
function attachmentRef(index: number, kind: number): ExtData {
  const data = new Uint8Array(5);
  data.set(u32(index));
  data[4] = kind;
  return new ExtData(10, data);
}

function frameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out.set(header(payload.length));
  out.set(payload, 4);
  return out;
}

/** Opens a raw connection and completes a proper handshake, checked with a ping. */
async function handshaken(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  const hello = await peer.readFrame() as unknown[];
  assert.equal(hello[0], MSG.HELLO);
  await peer.send([MSG.HELLO, "rdc", 1, "Raw", ["Raw"], []]);
  await peer.send([MSG.REQUEST, 4000, OP.PING, 0, [], ["warm-up"]]);
  assert.deepEqual(await peer.readFrame(), [MSG.REPLY, 4000, "warm-up"]);
  return peer;
}

interface Attack {
  name: string;
  /** What the Close frame and the server's log line must mention. */
  expect: RegExp;
  serverOptions?: Omit<ServeOptions, "port">;
  /** Sends the offending input over an established raw connection. */
  run(peer: RawPeer): Promise<void>;
}

async function assertWorks(client: Connection, what: string): Promise<void> {
  assert.equal(client.closed, false, `${what} was closed`);
  assert.deepEqual(await client.root.echo({ what, n: [1, 2] }), { what, n: [1, 2] }, what);
  assert.equal(await client.root.make().value, 1, what);
}

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();

function assertNoPollution(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeNames);
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined, "Object.prototype was polluted");
  assert.equal(Object.getPrototypeOf(probe), Object.prototype);
}

/** Runs one attack against a fresh server and checks every promise the suite makes. */
async function withstand(attack: Attack): Promise<void> {
  const lines: string[] = [];
  const server = serve(EvilTargetService, {
    ...attack.serverOptions,
    logger: quietLogger(lines),
    port: 0,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const before = await connect("127.0.0.1", port, { logger: quietLogger() });
  let peer: RawPeer | undefined;
  try {
    await assertWorks(before, "the client connected before");
    peer = await handshaken(port);
    await attack.run(peer);
    const frames = await peer.readToEnd(5000);
    const reason = closeReason(frames);
    assert.ok(reason !== undefined, `no Close frame before EOF; got ${Deno.inspect(frames)}`);
    assert.match(reason, attack.expect, `the Close frame's reason: ${reason}`);
    await waitFor(
      () => lines.some((l) => attack.expect.test(l)),
      3000,
      `a log line matching ${attack.expect}; got ${Deno.inspect(lines)}`,
    );
    await waitFor(() => server.connections.size === 1, 3000, "the raw connection to go");
    await assertWorks(before, "the client connected before");
    await using after = await connect("127.0.0.1", port, { logger: quietLogger() });
    await assertWorks(after, "the client connected after");
    assertNoPollution();
  } finally {
    peer?.close();
    await before.close();
    await server.close();
  }
}

function step(attack: Attack): [string, () => Promise<void>] {
  return [attack.name, () => withstand(attack)];
}

async function runAll(t: Deno.TestContext, attacks: Attack[]): Promise<void> {
  for (const attack of attacks) {
    const [name, fn] = step(attack);
    await t.step(name, fn);
  }
}

Deno.test("hostile: garbage and broken framing", async (t) => {
  await runAll(t, [
    {
      name: "garbage bytes (an HTTP request) after the handshake",
      expect: /exceeds the limit/,
      run: (peer) => peer.sendBytes(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")),
    },
    {
      name: "garbage bytes inside a well-sized frame",
      expect: /undecodable/,
      run: (peer) => peer.sendBytes(frameOf(new Uint8Array([0xc1, 0xc1, 0xc1, 0xc1, 0xc1]))),
    },
    {
      name: "a truncated frame, then end of stream",
      expect: /stream ended inside a frame/,
      run: async (peer) => {
        await peer.sendBytes(header(100));
        await peer.sendBytes(new Uint8Array(10));
        await peer.conn.closeWrite();
      },
    },
    {
      name: "a truncated frame header, then end of stream",
      expect: /stream ended inside a frame/,
      run: async (peer) => {
        await peer.sendBytes(new Uint8Array([0, 0]));
        await peer.conn.closeWrite();
      },
    },
    {
      name: "a length prefix of 4 GiB (an attachment of 2 GiB)",
      expect: /attachment frame of 2147483647 bytes exceeds the limit of 67108864/,
      run: (peer) => peer.sendBytes(header(0xffffffff)),
    },
    {
      name: "a length prefix just over 64 MiB",
      expect: /67108865 bytes exceeds the limit of 67108864/,
      run: (peer) => peer.sendBytes(header(64 * 1024 * 1024 + 1)),
    },
    {
      name: "a frame over a small custom maxFrameSize",
      expect: /exceeds the limit of 1024 bytes/,
      serverOptions: { maxFrameSize: 1024 },
      run: (peer) =>
        peer.sendBytes(rawFrame([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], ["x".repeat(2000)]])),
    },
    {
      name: "an undecodable payload (a truncated array)",
      expect: /undecodable/,
      run: (peer) => peer.sendBytes(frameOf(new Uint8Array([0x93, 0x01]))),
    },
    {
      name: "a payload with trailing bytes",
      expect: /undecodable/,
      run: (peer) => {
        const valid = new Encoder().encode([MSG.REQUEST, 0, OP.PING, 0, [], ["x"]]);
        const payload = new Uint8Array(valid.length + 3);
        payload.set(valid);
        return peer.sendBytes(frameOf(payload));
      },
    },
    {
      name: "an empty frame",
      expect: /undecodable/,
      run: (peer) => peer.sendBytes(header(0)),
    },
  ]);
});

Deno.test("hostile: unknown references", async (t) => {
  await runAll(t, [
    {
      name: "a request on unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, 999, ["x"], []]),
    },
    {
      name: "a release of unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) => peer.send([MSG.RELEASE, [999], [1]]),
    },
    {
      name: "a release of the root",
      expect: /reference #0/,
      run: (peer) => peer.send([MSG.RELEASE, [0], [1]]),
    },
    {
      name: "a release of more references than were sent",
      expect: /release of 5 references/,
      run: async (peer) => {
        await peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["make"], []]);
        const reply = await peer.readFrame() as [number, number, ExtData];
        assert.equal(reply[0], MSG.REPLY);
        assert.ok(reply[2] instanceof ExtData && reply[2].type === EXT.EXPORT);
        const data = reply[2].data as Uint8Array;
        const id = new DataView(data.buffer, data.byteOffset).getUint32(1);
        await peer.send([MSG.RELEASE, [id], [5]]);
      },
    },
    {
      name: "an Import ext naming unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [new ExtData(EXT.IMPORT, u32(999))]]),
    },
    {
      name: "a lazy path argument on unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [[
          new ExtData(EXT.TAG_PATH, new Uint8Array(0)),
          999,
          "x",
        ]]]),
    },
    {
      name: "a request on an unknown answer",
      expect: /unknown answer #5/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, -6, ["x"], []]),
    },
    {
      name: "an answer to a request that was never sent",
      expect: /never sent/,
      run: (peer) => peer.send([MSG.REPLY, 5000, null]),
    },
  ]);
});

Deno.test("hostile: wrong message shapes", async (t) => {
  await runAll(t, [
    {
      name: "a message that is not an array",
      expect: /expected a non-empty array/,
      run: (peer) => peer.send("hello"),
    },
    {
      name: "a map instead of a message",
      expect: /expected a non-empty array/,
      run: (peer) => peer.send({ type: 1 }),
    },
    {
      name: "an empty array",
      expect: /expected a non-empty array/,
      run: (peer) => peer.send([]),
    },
    {
      name: "an unknown message type",
      expect: /unknown message type 42/,
      run: (peer) => peer.send([42, 0]),
    },
    {
      name: "a string as the sequence number",
      expect: /malformed Request message: bad sequence number/,
      run: (peer) => peer.send([MSG.REQUEST, "x", OP.GET, 0, [], []]),
    },
    {
      name: "a negative sequence number",
      expect: /bad sequence number/,
      run: (peer) => peer.send([MSG.REQUEST, -1, OP.GET, 0, [], []]),
    },
    {
      name: "an unknown operation",
      expect: /unknown operation 99/,
      run: (peer) => peer.send([MSG.REQUEST, 0, 99, 0, [], []]),
    },
    {
      name: "a fractional operation",
      expect: /unknown operation 1.5/,
      run: (peer) => peer.send([MSG.REQUEST, 0, 1.5, 0, [], []]),
    },
    {
      name: "a fractional target",
      expect: /bad target/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, 0.5, [], []]),
    },
    {
      name: "a path of numbers",
      expect: /path must be an array of strings/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, 0, [1, 2], []]),
    },
    {
      name: "args that are not an array",
      expect: /args must be an array/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], "oops"]),
    },
    {
      name: "a Request with too few fields",
      expect: /expected 6 or 7 fields, got 3/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET]),
    },
    {
      name: "a Release with lists of different lengths",
      expect: /equal length/,
      run: (peer) => peer.send([MSG.RELEASE, [1, 2], [1]]),
    },
    {
      name: "a second Hello",
      expect: /second handshake/,
      run: (peer) => peer.send([MSG.HELLO, "rdc", 1, "Raw", ["Raw"], []]),
    },
    {
      name: "an unknown extension type in the arguments",
      expect: /unknown extension type 99/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [1, new ExtData(99, new Uint8Array(1))]]),
    },
    {
      name: "an attachment reference with no attachment frame",
      expect: /attachment #0, but 0 came with the message/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [attachmentRef(0, 1)]]),
    },
    {
      name: "an attachment of an unknown kind",
      expect: /attachment of unknown kind 200/,
      run: async (peer) => {
        await peer.sendBytes(attachmentFrame(new Uint8Array(8)));
        await peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [attachmentRef(0, 200)]]);
      },
    },
    {
      name: "a Float64Array attachment whose length is not a multiple of 8",
      expect: /malformed typed array length/,
      run: async (peer) => {
        await peer.sendBytes(attachmentFrame(new Uint8Array(12)));
        await peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [attachmentRef(0, 8)]]);
      },
    },
    {
      name: "attachments adding up to more than a frame may hold",
      expect: /attachments of more than 1024 bytes for one message/,
      serverOptions: { maxFrameSize: 1024 },
      run: async (peer) => {
        for (let i = 0; i < 3; i++) await peer.sendBytes(attachmentFrame(new Uint8Array(500)));
      },
    },
    {
      name: "an unknown container tag",
      expect: /unknown container tag 99/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [[
          new ExtData(99, new Uint8Array(0)),
          1,
        ]]]),
    },
    {
      name: "a back reference to a value that does not precede it",
      expect: /back reference/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [new ExtData(EXT.BACKREF, u32(50))]]),
    },
    {
      name: "a malformed Error value",
      expect: /malformed Error/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [[
          new ExtData(EXT.TAG_ERROR, new Uint8Array(0)),
          1,
          2,
        ]]]),
    },
    {
      name: "nesting deeper than the receiver's limit",
      expect: /nested deeper than 20 levels/,
      serverOptions: { maxDepth: 20 },
      run: (peer) => {
        let value: unknown = 1;
        for (let i = 0; i < 40; i++) value = [value];
        const payload = new Encoder({ maxDepth: 1000 }).encode([
          MSG.REQUEST,
          0,
          OP.CALL,
          0,
          ["echo"],
          [value],
        ]);
        return peer.sendBytes(frameOf(payload));
      },
    },
  ]);
});

Deno.test("hostile: sequence abuse", async (t) => {
  await runAll(t, [
    {
      name: "a duplicate sequence number",
      expect: /duplicate request #5/,
      run: async (peer) => {
        await peer.send([MSG.REQUEST, 5, OP.CALL, 0, ["hang"], []]);
        await peer.send([MSG.REQUEST, 5, OP.CALL, 0, ["hang"], []]);
      },
    },
    {
      name: "a duplicate of an answered, unfinished request",
      expect: /duplicate request #6/,
      run: async (peer) => {
        await peer.send([MSG.REQUEST, 6, OP.PING, 0, [], ["a"]]);
        assert.deepEqual(await peer.readFrame(), [MSG.REPLY, 6, "a"]);
        await peer.send([MSG.REQUEST, 6, OP.PING, 0, [], ["b"]]);
      },
    },
    {
      name: "too many pending requests",
      expect: /exceeded 2 pending requests/,
      serverOptions: { maxPendingRequests: 2 },
      run: async (peer) => {
        for (let seq = 0; seq < 3; seq++) {
          await peer.send([MSG.REQUEST, seq, OP.CALL, 0, ["hang"], []]);
        }
      },
    },
    {
      name: "too many exports",
      expect: /export limit of 3/,
      serverOptions: { maxExports: 3 },
      run: async (peer) => {
        for (let seq = 0; seq < 3; seq++) {
          await peer.send([MSG.REQUEST, seq, OP.CALL, 0, ["make"], []]);
        }
      },
    },
  ]);
});

const PROTO_JSON = '{"__proto__": {"polluted": "yes"}}';

Deno.test("hostile: prototype pollution attempts", async (t) => {
  await runAll(t, [
    {
      name: "a map with a __proto__ key as an argument",
      expect: /__proto__/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [JSON.parse(PROTO_JSON)]]),
    },
    {
      name: "a map with a __proto__ key nested deep in an argument",
      expect: /__proto__/,
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["echo"], [{ a: [{ b: JSON.parse(PROTO_JSON) }] }]]),
    },
    ...["__proto__", "constructor", "prototype"].map((segment): Attack => ({
      name: `a Get of the path segment ${segment}`,
      expect: new RegExp(`blocked member '${segment}'`),
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, 0, [segment], []]),
    })),
    {
      name: "a Set through __proto__",
      expect: /blocked member '__proto__'/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.SET, 0, ["__proto__", "polluted"], ["yes"]]),
    },
    {
      name: "a Set through constructor.prototype of an exported function",
      expect: /blocked member 'constructor'/,
      serverOptions: { allowAllAttrs: true, allowSetAttr: true },
      run: (peer) =>
        peer.send([MSG.REQUEST, 0, OP.SET, 0, ["echo", "constructor", "prototype", "polluted"], [
          "yes",
        ]]),
    },
    {
      name: "a Get of constructor even with allowAllAttrs",
      expect: /blocked member 'constructor'/,
      serverOptions: { allowAllAttrs: true },
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, 0, ["echo", "constructor"], []]),
    },
    {
      name: "a Call of an Object.prototype method (__defineGetter__)",
      expect: /blocked member '__defineGetter__'/,
      serverOptions: { allowAllAttrs: true },
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.CALL, 0, ["__defineGetter__"], ["x", 1]]),
    },
    {
      name: "a Get of hasOwnProperty",
      expect: /blocked member 'hasOwnProperty'/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET, 0, ["hasOwnProperty"], []]),
    },
  ]);
  assertNoPollution();
});

Deno.test("hostile: an attacker does not disturb other connections mid-call", async () => {
  const lines: string[] = [];
  const server = serve(EvilTargetService, { logger: quietLogger(lines), port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const client = await connect("127.0.0.1", port, { logger: quietLogger() });
  const peers: RawPeer[] = [];
  try {
    // a call in flight on the honest connection while several attackers are thrown out
    const inFlight = client.root.hang();
    for (let i = 0; i < 5; i++) {
      const peer = await handshaken(port);
      peers.push(peer);
      await peer.sendBytes(frameOf(new Uint8Array([0xc1])));
    }
    for (const peer of peers) {
      assert.match(closeReason(await peer.readToEnd()) ?? "", /undecodable/);
    }
    await waitFor(() => lines.filter((l) => /undecodable/.test(l)).length === 5);
    assert.equal(await client.root.echo("fine"), "fine");
    assert.equal(client.closed, false);
    const hangs = server.connections.size;
    assert.equal(hangs, 1);
    await client.close();
    await assert.rejects(async () => await inFlight);
  } finally {
    for (const peer of peers) peer.close();
    await client.close();
    await server.close();
  }
});

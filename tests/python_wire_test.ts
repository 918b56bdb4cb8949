/**
 * RPyC's wire as rdc speaks it: brine byte-exact against vectors Python
 * made (5.3 and 6.0.2), values Python loads back, the channel's framing and
 * zlib threshold, and hostile input that must close only its connection.
 */

import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { decodeBrine, encodeBrine } from "../core/python/brine.ts";
import { COMPRESSION_THRESHOLD, PyChannel } from "../core/python/channel.ts";
import { encodeMessage, Handle, Msg } from "../core/python/envelope.ts";
import { Complex, PyFloat, python, Slice, Tuple } from "../core/python/mod.ts";
import { Budget } from "../core/wire/budget.ts";
import { transportFromConn } from "../core/net/adapters.ts";
import { isPeerFault, ProtocolError } from "../core/errors.ts";
import { pythonTest, runPython } from "./_python.ts";
import { quietLogger, waitFor } from "./_helpers.ts";
import { within } from "./_cli.ts";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text: string) =>
  new Uint8Array(text.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);

for (const file of ["brine53.jsonl", "brine602.jsonl"]) {
  Deno.test(`brine: Python's vectors re-encode byte for byte (${file})`, async () => {
    const lines = (await Deno.readTextFile(new URL(`./python/${file}`, import.meta.url)))
      .trim().split("\n").map((line) => JSON.parse(line) as { py: string; hex: string });
    assert.ok(lines.length >= 57);
    for (const { py, hex: expected } of lines) {
      const value = decodeBrine(unhex(expected), { floats: "wrap" });
      assert.equal(hex(encodeBrine(value)), expected, py);
    }
  });
}

Deno.test("brine: decoded values", () => {
  const decode = (text: string, ints?: "bigint") => decodeBrine(unhex(text), { ints });
  assert.equal(
    decode("161f31323637363530363030323238323239343031343936373033323035333736"),
    2n ** 100n,
  );
  assert.equal(decode("161039303037313939323534373430393933"), 2n ** 53n + 1n);
  assert.equal(decode("1603313630"), 160);
  assert.equal(decode("1603313630", "bigint"), 160n);
  assert.equal(decode("4f"), -1);
  assert.ok(Object.is(decode("188000000000000000"), -0));
  assert.equal(decode("080df09f9880"), "😀");
  assert.deepEqual(decode("0b6162"), new Uint8Array([97, 98]));
  assert.ok(decode("0a61") instanceof Uint8Array);
  const tuple = decode("12515253") as Tuple;
  assert.ok(tuple instanceof Tuple && Object.isFrozen(tuple));
  assert.deepEqual([...tuple], [1, 2, 3]);
  assert.ok(decodeBrine(encodeBrine(new Slice(1, 2, 3))) instanceof Slice);
  assert.deepEqual(decodeBrine(encodeBrine(new Complex(2, 3))), new Complex(2, 3));
  assert.deepEqual(decodeBrine(encodeBrine(new Set([5]))), new Set([5]));
  assert.equal(hex(encodeBrine(1)), "51");
  assert.equal(hex(encodeBrine(new PyFloat(1))), "183ff0000000000000");
  assert.equal(hex(encodeBrine(2 ** 60)), "18" + "43b0000000000000");
  assert.equal(hex(encodeBrine(undefined)), "00");
  assert.throws(() => encodeBrine({}), TypeError);
  assert.throws(() => encodeBrine(() => 1), /function/);
});

Deno.test("brine: hostile input is a ProtocolError naming the fault", () => {
  const refuse = (bytes: Uint8Array, pattern: RegExp) => {
    assert.throws(() => decodeBrine(bytes), (e: unknown) => {
      assert.ok(e instanceof ProtocolError && isPeerFault(e), String(e));
      assert.match(e.message, pattern);
      return true;
    });
  };
  const sample = encodeBrine([1, "text", new Uint8Array(300), [2n ** 80n, 1.5], new Set([1])]);
  for (let cut = 0; cut < sample.length; cut++) refuse(sample.subarray(0, cut), /needs|remain/);
  refuse(unhex("07"), /unknown tag 0x07/);
  refuse(unhex("15ffffffff"), /tuple of 4294967295 items/);
  refuse(unhex("0fffffffff00"), /bytes needs 4294967295/);
  refuse(unhex("17ffffffff31"), /an int of 4294967295 digits/);
  refuse(unhex("1700000005313233"), /digits needs 5/);
  refuse(unhex("16024142"), /bad int/);
  refuse(encodeBrine(10n ** 200_000n), /an int of 200001 digits/);
  refuse(unhex("080bffff"), /not UTF-8/);
  refuse(unhex("5151"), /1 bytes after the value/);
  refuse(new Uint8Array(2000).fill(0x10), /nested deeper than 256/);
  refuse(unhex("1951"), /slice .* without a tuple/);
});

pythonTest("brine: Python loads what Deno encodes", async (_t, v) => {
  const values: [unknown, string][] = [
    [null, "None"],
    [true, "True"],
    [-49, "-49"],
    [2n ** 100n, String(2n ** 100n)],
    [python.float(1), "1.0"],
    [-0, "-0.0"],
    [Infinity, "inf"],
    ["hé😀", "'hé😀'"],
    [new Uint8Array([0, 255]), "b'\\x00\\xff'"],
    [[1, [2, []]], "(1, (2, ()))"],
    [new Set(["a"]), "frozenset({'a'})"],
    [new Complex(1, -2), "(1-2j)"],
    [new Slice(null, 5), "slice(None, 5, None)"],
    [python.NOT_IMPLEMENTED, "NotImplemented"],
    [python.ELLIPSIS, "Ellipsis"],
  ];
  const code = [
    "from rpyc.core import brine",
    ...values.map(([value]) =>
      `print(repr(brine.load(bytes.fromhex('${hex(encodeBrine(value))}'))))`
    ),
  ].join("\n");
  const lines = (await runPython(v, code)).trim().split("\n");
  assert.deepEqual(lines, values.map(([, repr]) => repr));
});

/** A channel pair over real loopback TCP; the far end is raw. */
async function channelPair(maxFrameSize = 1 << 20) {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const accepted = await listener.accept();
  const channel = new PyChannel(transportFromConn(accepted, "test"), {
    maxFrameSize,
    inbound: new Budget(4 * maxFrameSize, "test"),
  });
  return { channel, raw };
}

function frame(payload: Uint8Array, compressed = 0, length = payload.length, trailer = 0x0a) {
  const out = new Uint8Array(payload.length + 6);
  new DataView(out.buffer).setUint32(0, length);
  out[4] = compressed;
  out.set(payload, 5);
  out[out.length - 1] = trailer;
  return out;
}

Deno.test("channel: one write per frame, zlib above 3 000 bytes, both forms read", async () => {
  const { channel, raw } = await channelPair();
  try {
    for (const size of [COMPRESSION_THRESHOLD, COMPRESSION_THRESHOLD + 1, 64_001]) {
      const payload = new Uint8Array(size).fill(7);
      await channel.send(payload);
      const header = new Uint8Array(5);
      let got = 0;
      while (got < 5) got += (await raw.read(header.subarray(got)))!;
      const length = new DataView(header.buffer).getUint32(0);
      assert.equal(header[4], size > COMPRESSION_THRESHOLD ? 1 : 0, `size ${size}`);
      const rest = new Uint8Array(length + 1);
      for (let n = 0; n < rest.length;) n += (await raw.read(rest.subarray(n)))!;
      assert.equal(rest[length], 0x0a);
      await raw.write(frame(rest.subarray(0, length), header[4]));
      assert.deepEqual(await channel.receive(), payload);
    }
    assert.equal(channel.counters.compressedReceived, 2);
  } finally {
    raw.close();
    channel.close();
  }
});

Deno.test("channel: a zlib bomb, a lying length, a bad trailer and bad zlib are refused", async () => {
  const cases: [Uint8Array, RegExp][] = [
    [frame(deflateSync(new Uint8Array(8 << 20)), 1), /inflates beyond/],
    [frame(new Uint8Array(4), 0, 0x7fffffff), /exceeds/],
    [frame(new Uint8Array(4), 0, 4, 0x00), /trailer/],
    [frame(new Uint8Array([1, 2, 3]), 1), /bad zlib/],
    [frame(new Uint8Array(4), 7), /compression flag/],
  ];
  for (const [bytes, pattern] of cases) {
    const { channel, raw } = await channelPair();
    try {
      await raw.write(bytes);
      await assert.rejects(channel.receive(), (e: unknown) => {
        assert.ok(isPeerFault(e), String(e));
        assert.match((e as Error).message, pattern);
        return true;
      });
    } finally {
      raw.close();
      channel.close();
    }
  }
});

Deno.test("python.serve: hostile input closes only its connection", async () => {
  const lines: string[] = [];
  await using server = python.serve({ exposed_add: (a: number, b: number) => a + b }, {
    port: 0,
    logger: quietLogger(lines),
  });
  const port = (server.addr as Deno.NetAddr).port;
  await using good = await python.connect("127.0.0.1", port, { version: 6 });
  const request = (body: unknown) => frame(encodeMessage(6, Msg.Request, 0, body));
  const attacks: [string, Uint8Array][] = [
    ["bad brine", frame(new Uint8Array([1, 0x11, 0x50, 0x07]))],
    ["a zlib bomb", frame(deflateSync(new Uint8Array(80 << 20)), 1)],
    ["a lying length", frame(new Uint8Array(3), 0, 0xfffffff0)],
    ["a compressed first frame that is not RPyC", frame(deflateSync(new Uint8Array(4000)), 1)],
    ["an unknown handler", request([99, [1, []]])],
    ["an unknown label", request([Handle.GetRoot, [9, []]])],
    ["an unknown reference", request([Handle.GetAttr, [2, [[3, ["deno.X", 1, 999]], [1, "x"]]]])],
    ["a DEL with a negative count", request([Handle.Del, [2, [[3, ["deno.X", 1, 1]], [1, -5]]]])],
    [
      "keyword arguments that are not pairs",
      request([Handle.CallAttr, [2, [[3, ["deno.Object", 1, 1]], [1, "add"], [1, []], [1, [7]]]]]),
    ],
    ["not RPyC", new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")],
    ["bind_threads", frame(new Uint8Array(17))],
  ];
  for (const [what, bytes] of attacks) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(bytes);
    // The server hangs up on it (a reply, if any, comes first).
    const hungUp = async () => {
      while ((await conn.read(new Uint8Array(64 * 1024)).catch(() => null)) !== null);
    };
    try {
      await within(hungUp(), 10_000, `the server to hang up on ${what}`);
    } finally {
      conn.close();
    }
    assert.equal(await good.root.add(1, 2), 3, `the good client after ${what}`);
  }
  await waitFor(() => server.connections.size === 1);
  assert.ok(lines.some((l) => /bind_threads/.test(l)));
  for (const fault of [/inflates beyond/, /exceeds/, /unknown tag/, /handler 99/, /label 9/]) {
    assert.ok(lines.some((l) => fault.test(l)), String(fault));
  }
});

Deno.test("python.serve: maxConnections refuses the client beyond it", async () => {
  const lines: string[] = [];
  await using server = python.serve({ exposed_one: () => 1 }, {
    port: 0,
    maxConnections: 1,
    logger: quietLogger(lines),
  });
  const port = (server.addr as Deno.NetAddr).port;
  await using first = await python.connect("127.0.0.1", port, { version: 6 });
  await assert.rejects(python.connect("127.0.0.1", port, { version: 6 }));
  assert.ok(lines.some((l) => /too many connections/.test(l)));
  assert.equal(await first.root.one(), 1);
});

Deno.test("brine: 3 000 seeded mutations decode or fail as a peer fault, nothing else", async () => {
  const lines = (await Deno.readTextFile(new URL("./python/brine602.jsonl", import.meta.url)))
    .trim().split("\n").map((line) => unhex((JSON.parse(line) as { hex: string }).hex));
  let seed = 20251203;
  const random = () => {
    // mulberry32: a fixed sequence, so a failure replays.
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from(lines[Math.floor(random() * lines.length)]);
    const flips = 1 + Math.floor(random() * 3);
    for (let f = 0; f < flips && bytes.length > 0; f++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    const cut = random() < 0.3 ? Math.floor(random() * bytes.length) : bytes.length;
    try {
      decodeBrine(bytes.subarray(0, cut));
    } catch (error) {
      assert.ok(isPeerFault(error), `mutation ${i}: ${error}`);
    }
  }
});

Deno.test("python: an inbound budget smaller than a frame is refused up front", async () => {
  assert.throws(
    () => python.serve({}, { port: 0, maxFrameSize: 1 << 20, maxInboundBytes: 1 << 10 }),
    /maxInboundBytes \(1024\) must hold a frame/,
  );
  await assert.rejects(
    python.connect("127.0.0.1", 1, { maxFrameSize: 1 << 20, maxInboundBytes: 1 << 10 }),
    RangeError,
  );
});

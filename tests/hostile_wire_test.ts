/**
 * Hostile peers against the version 2 message layer, over real loopback
 * sockets: decoder bombs, framing and streams, attachments, shape tables and
 * budgets. Each attack comes from a raw TCP peer (after a proper handshake
 * unless it targets the handshake); for each one only that connection closes,
 * with a CLOSE naming the problem, the server logs why, clients connected
 * before and after keep getting right answers, the process's resident set
 * does not grow with what the peer declared, and nothing pollutes
 * `Object.prototype` (see `withstand` in _raw_peer.ts). Budgets refuse
 * without closing: those attacks check that the connection stays usable.
 * Every byte that matters is written out here, as core/PROTOCOL.md describes
 * it.
 */

import assert from "node:assert/strict";
import { ExtData } from "@msgpack/msgpack";
import { connect, type ServeOptions, type Server, timed } from "../mod.ts";
import { quietLogger, waitFor } from "./_helpers.ts";
import {
  type AnnouncedLimits,
  assertNoPollution,
  assertWorks,
  attachmentRef,
  body,
  CHUNK_BIT,
  chunkFrame,
  closeReason,
  concat,
  DEFAULT_LIMITS,
  encode,
  EOF,
  exportedId,
  exportExt,
  EXT,
  firstChunk,
  FLAG,
  frame,
  greeted,
  handshaken,
  header,
  hello,
  MSG,
  NO_SHAPE,
  OP,
  RawPeer,
  rawRequest,
  request,
  rss,
  runAll,
  shapeTable,
  streamFrames,
  target,
  thrownError,
  u32,
  VERSION,
  withstand,
} from "./_raw_peer.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The bytes given. */
function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** Fails unless `actual` holds exactly the bytes of `expected`. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.length, expected.length, "lengths differ");
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `the bytes differ at ${at}`);
}

/** Request #0: a CALL of `echo` whose single argument is the raw bytes given. */
function echoRaw(argument: Uint8Array): Uint8Array {
  return rawRequest(0, OP.CALL, 0, ["echo"], concat(bytes(0x91), argument));
}

/**
 * Two array32 headers and a map32 header, nested, each declaring 2^32 - 1
 * items, padded with nils to `size` bytes.
 */
function containerBomb(size = 200): Uint8Array {
  const out = new Uint8Array(size).fill(0xc0);
  const huge = [0xff, 0xff, 0xff, 0xff];
  out.set([0xdd, ...huge, 0xdd, ...huge, 0xdf, ...huge]);
  return out;
}

/** The message array pieces of a HELLO up to (not including) its aliases. */
function helloStart(): Uint8Array {
  return concat(bytes(0x99), encode(MSG.HELLO), encode("rdc"), encode(VERSION), encode("Raw"));
}

/** Reads on until a message matching `match` has arrived (it may have already); returns it. */
async function awaitMessage(
  peer: RawPeer,
  match: (message: unknown[]) => boolean,
  what: string,
): Promise<unknown[]> {
  while (true) {
    const found = peer.received.find(match);
    if (found) return found;
    try {
      await peer.next();
    } catch (error) {
      assert.fail(`${what} never came (${error}); got ${Deno.inspect(peer.received)}`);
    }
  }
}

/** The REPLY or THROW to request `seq`. */
function answer(peer: RawPeer, seq: number): Promise<unknown[]> {
  return awaitMessage(
    peer,
    (m) => (m[0] === MSG.REPLY || m[0] === MSG.THROW) && m[1] === seq,
    `the answer to #${seq}`,
  );
}

/** How many references to each id the RELEASEs received so far gave back. */
function released(peer: RawPeer): Map<number, number> {
  const counts = new Map<number, number>();
  for (const message of peer.received) {
    if (message[0] !== MSG.RELEASE) continue;
    const [, ids, numbers] = message as [number, number[], number[]];
    ids.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + numbers[i]));
  }
  return counts;
}

/** Reads on until every id of `expected` has been released (at least) that many times. */
async function awaitReleases(peer: RawPeer, expected: Map<number, number>): Promise<void> {
  const done = () => [...expected].every(([id, n]) => (released(peer).get(id) ?? 0) >= n);
  while (!done()) {
    try {
      await peer.next(2000);
    } catch {
      break;
    }
  }
  assert.deepEqual(released(peer), expected, "references released (id => count)");
}

/** The server side of the `nth` raw peer's connection (their HELLO names them "Raw"). */
function rawConnection(server: Server, nth = 0) {
  const conn = [...server.connections].filter((c) => c.peerService === "Raw")[nth];
  assert.ok(conn, "the raw connection is gone");
  return conn;
}

/**
 * Runs `run` on a handshaken raw peer of a fresh server, for attacks a budget
 * refuses without closing: the raw connection must stay open and answer a
 * ping afterwards, the server must log no violation, and honest clients
 * before and after must be served.
 */
async function survive(
  serverOptions: Omit<ServeOptions, "port">,
  run: (peer: RawPeer, server: Server) => Promise<void>,
  peerLimits: Partial<AnnouncedLimits> = {},
): Promise<void> {
  const { server, port, lines, before } = await target(serverOptions);
  const peer = await handshaken(port, peerLimits);
  try {
    await run(peer, server);
    await peer.send(request(9000, OP.PING, 0, [], ["still here"]));
    assert.deepEqual(await answer(peer, 9000), [MSG.REPLY, 9000, "still here"]);
    assert.equal(rawConnection(server).closed, false);
    assert.deepEqual(lines.filter((l) => /closing|failed/.test(l)), []);
    await assertWorks(before, "the client connected before");
    await using after = await connect("127.0.0.1", port, { logger: quietLogger() });
    await assertWorks(after, "the client connected after");
    assertNoPollution();
  } finally {
    peer.close();
    await before.close();
    await server.close();
  }
}

// ---- decoder bombs -----------------------------------------------------------------------------

Deno.test("hostile wire: decoder bombs", async (t) => {
  await runAll(t, [
    {
      name: "a 200-byte first frame of array and map headers declaring 2^32 - 1 items",
      expect: /not an rdc peer.*an array of 4294967295 items, in 195 bytes/,
      beforeHandshake: true,
      run: (peer) => peer.sendBytes(frame(containerBomb())),
    },
    {
      name: "a HELLO whose aliases declare 2^32 - 1 names",
      expect: /not an rdc peer.*an array of 4294967295 items/,
      beforeHandshake: true,
      run: (peer) =>
        peer.sendBytes(
          frame(concat(helloStart(), bytes(0xdd, 0xff, 0xff, 0xff, 0xff), containerBomb(150))),
        ),
    },
    {
      name: "a HELLO whose limits declare 2^32 - 1 entries",
      expect: /not an rdc peer.*a map of 4294967295 entries/,
      beforeHandshake: true,
      run: (peer) =>
        peer.sendBytes(
          frame(
            concat(helloStart(), encode(["Raw"]), encode([]), bytes(0xdf, 0xff, 0xff, 0xff, 0xff)),
          ),
        ),
    },
    {
      name: "a 200-byte frame of the same headers after the handshake",
      expect: /an array of 4294967295 items, in 195 bytes/,
      run: (peer) => peer.sendBytes(frame(containerBomb())),
    },
    {
      // Valid headers around the lie, so that the reader is a few levels down when it meets it.
      name: "huge counts nested a few levels down in a request's arguments",
      expect: /an array of 4294967295 items/,
      run: (peer) =>
        peer.sendBytes(
          frame(echoRaw(concat(bytes(0x93, 0xdc, 0x00, 0x10, 0x81, 0xa1, 0x6b), containerBomb()))),
        ),
    },
    {
      name: "a map declaring 2^31 - 1 entries in a request's arguments",
      expect: /a map of 2147483647 entries/,
      run: (peer) =>
        peer.sendBytes(
          frame(echoRaw(concat(bytes(0xdf, 0x7f, 0xff, 0xff, 0xff), containerBomb()))),
        ),
    },
    {
      name: "a path declaring 2^32 - 1 names",
      expect: /an array of 4294967295 items/,
      run: (peer) =>
        peer.sendBytes(
          frame(
            concat(
              bytes(0x97),
              encode(MSG.REQUEST),
              encode(0),
              encode(OP.GET),
              encode(0),
              containerBomb(),
            ),
          ),
        ),
    },
    {
      name: "a bin32 declaring 4 GiB in a small frame",
      expect: /a binary needs 4294967295 bytes/,
      run: (peer) => peer.sendBytes(frame(echoRaw(bytes(0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3)))),
    },
    {
      name: "a str32 declaring 4 GiB in a small frame",
      expect: /a string needs 4294967295 bytes/,
      run: (peer) => peer.sendBytes(frame(echoRaw(bytes(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61)))),
    },
    {
      name: "an ext32 declaring 4 GiB in a small frame",
      expect: /an extension needs 4294967295 bytes/,
      run: (peer) =>
        peer.sendBytes(frame(echoRaw(bytes(0xc9, 0xff, 0xff, 0xff, 0xff, EXT.EXPORT, 0)))),
    },
    {
      name: "a bigint one byte over the default maxBigIntBytes",
      expect: /a bigint of 1048577 bytes \(maxBigIntBytes is 1048576\)/,
      run: (peer) => {
        const magnitude = new Uint8Array(1 + MiB + 1).fill(0xff);
        magnitude[0] = 0; // the sign byte
        return peer.send(request(0, OP.CALL, 0, ["echo"], [new ExtData(EXT.BIGINT, magnitude)]));
      },
    },
    {
      name: "a bigint over a small maxBigIntBytes",
      expect: /a bigint of 17 bytes \(maxBigIntBytes is 16\)/,
      serverOptions: { maxBigIntBytes: 16 },
      run: (peer) =>
        peer.send(request(0, OP.CALL, 0, ["echo"], [new ExtData(EXT.BIGINT, new Uint8Array(18))])),
    },
    {
      name: "a uint64 of 2^53 + 1",
      expect: /an integer beyond 2\^53/,
      run: (peer) => peer.sendBytes(frame(echoRaw(bytes(0xcf, 0, 0x20, 0, 0, 0, 0, 0, 1)))),
    },
    {
      name: "an int64 of -2^63",
      expect: /an integer beyond 2\^53/,
      run: (peer) => peer.sendBytes(frame(echoRaw(bytes(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0)))),
    },
    {
      name: "a sequence number beyond 2^53",
      expect: /an integer beyond 2\^53/,
      run: (peer) =>
        peer.sendBytes(
          frame(
            concat(
              bytes(0x97, MSG.REQUEST, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
              encode(OP.PING),
              encode(0),
              encode([]),
              encode([]),
              encode(["x"]),
            ),
          ),
        ),
    },
    {
      name: "arrays nested deeper than the default maxDepth (256)",
      expect: /value nested deeper than 256 levels/,
      run: (peer) => peer.sendBytes(frame(echoRaw(new Uint8Array(300).fill(0x91)))),
    },
    {
      name: "maps nested deeper than the default maxDepth (256)",
      expect: /value nested deeper than 256 levels/,
      run: (peer) => {
        // {k: {k: {k: …}}}
        const nested = new Uint8Array(3 * 300 + 1);
        for (let i = 0; i < 300; i++) nested.set([0x81, 0xa1, 0x6b], 3 * i);
        nested[3 * 300] = 0x01;
        return peer.sendBytes(frame(echoRaw(nested)));
      },
    },
    {
      // 60 + 60 items: each container is small, the message is not.
      name: "more elements in one message than a small maxElements",
      expect: /a value of more than 100 elements \(maxElements\)/,
      serverOptions: { maxElements: 100 },
      run: (peer) =>
        peer.send(
          request(0, OP.CALL, 0, ["echo"], [[new Array(60).fill(1), new Array(60).fill(2)]]),
        ),
    },
  ]);
});

// ---- framing -----------------------------------------------------------------------------------

Deno.test("hostile wire: framing and streams", async (t) => {
  await runAll(t, [
    {
      name: "a frame over 16 KiB before the handshake",
      expect:
        /not an rdc peer.*frame of 16385 bytes exceeds the limit of 16384 bytes before the handshake/,
      beforeHandshake: true,
      run: (peer) => peer.sendBytes(concat(header(16 * KiB + 1), new Uint8Array(100))),
    },
    {
      name: "a chunk frame before the handshake",
      expect: /not an rdc peer.*a chunk frame before the handshake/,
      beforeHandshake: true,
      run: (peer) => peer.sendBytes(firstChunk(0, 10, [], new Uint8Array(10))),
    },
    {
      name: "a whole frame over a custom maxFrameSize",
      expect: /frame of 65537 bytes exceeds the limit of 65536 bytes/,
      serverOptions: { maxFrameSize: 64 * KiB },
      run: (peer) => peer.sendBytes(concat(header(64 * KiB + 1), new Uint8Array(1000))),
    },
    {
      name: "a chunk frame over a custom maxFrameSize",
      expect: /frame of 65537 bytes exceeds the limit of 65536 bytes/,
      serverOptions: { maxFrameSize: 64 * KiB },
      // 5 bytes of chunk header, 6 of prologue, and data to make 65 537.
      run: (peer) => peer.sendBytes(firstChunk(0, 200 * KiB, [], new Uint8Array(64 * KiB - 10))),
    },
    {
      name: "a chunk frame too short for its own header",
      expect: /chunk frame of 3 bytes/,
      run: (peer) => peer.sendBytes(concat(u32((CHUNK_BIT | 3) >>> 0), bytes(0, 0, 0))),
    },
    {
      name: "a chunk of a stream never opened",
      expect: /chunk of stream 5, which is not open/,
      run: (peer) => peer.sendBytes(chunkFrame(5, 0, new Uint8Array(10))),
    },
    {
      name: "a second FIRST on an open stream",
      expect: /stream 0 opened twice/,
      run: async (peer) => {
        await peer.sendBytes(firstChunk(0, 100, [], new Uint8Array(10)));
        await peer.sendBytes(firstChunk(0, 100, [], new Uint8Array(10)));
      },
    },
    {
      name: "a first chunk without a prologue",
      expect: /first chunk of stream 0 has no prologue/,
      run: (peer) => peer.sendBytes(chunkFrame(0, FLAG.FIRST, bytes(0, 0, 1))),
    },
    {
      name: "a prologue announcing more attachments than its chunk holds",
      expect: /first chunk of stream 0 cuts its prologue short/,
      run: (peer) => peer.sendBytes(chunkFrame(0, FLAG.FIRST, bytes(0, 0, 0, 10, 0, 100, 0, 0))),
    },
    {
      name: "a stream announcing a body of 4 GiB (over maxMessageSize)",
      expect:
        /a message of 4294967295 bytes exceeds the limit of 1073741824 bytes \(maxMessageSize\)/,
      run: (peer) => peer.sendBytes(firstChunk(0, 0xffffffff, [], new Uint8Array(100))),
    },
    {
      name: "a stream whose attachments add up to more than maxMessageSize",
      expect: /exceeds the limit of 1073741824 bytes \(maxMessageSize\)/,
      run: (peer) => peer.sendBytes(firstChunk(0, 10, [0x7fffffff, 0x7fffffff, 10])),
    },
    {
      name: "a prologue announcing 65 535 attachments of 4 GiB",
      expect: /exceeds the limit of 1073741824 bytes \(maxMessageSize\)/,
      run: (peer) => peer.sendBytes(firstChunk(0, 10, new Array(65_535).fill(0xffffffff))),
    },
    {
      name: "a stream announcing more than a small maxMessageSize",
      expect: /a message of 65537 bytes exceeds the limit of 65536 bytes \(maxMessageSize\)/,
      serverOptions: { maxMessageSize: 65_536 },
      run: (peer) => peer.sendBytes(firstChunk(0, 65_537, [], new Uint8Array(10))),
    },
    {
      name: "a first chunk carrying more data than its stream announced",
      expect: /stream 0 carries more than the 4 bytes it announced/,
      run: (peer) => peer.sendBytes(firstChunk(0, 4, [], new Uint8Array(8))),
    },
    {
      name: "a later chunk carrying more data than its stream has left",
      expect: /stream 3 carries more than the 8 bytes it announced/,
      run: async (peer) => {
        await peer.sendBytes(firstChunk(3, 8, [], new Uint8Array(4)));
        await peer.sendBytes(chunkFrame(3, 0, new Uint8Array(5)));
      },
    },
    {
      name: "a chunk with an unknown flag",
      expect: /chunk of stream 0 with unknown flags 4/,
      run: (peer) => peer.sendBytes(chunkFrame(0, 0x04, new Uint8Array(10))),
    },
    {
      name: "a chunk with both FIRST and ABORT",
      expect: /chunk of stream 0 with unknown flags 3/,
      run: (peer) => peer.sendBytes(chunkFrame(0, FLAG.FIRST | FLAG.ABORT, new Uint8Array(10))),
    },
    {
      name: "an ABORT carrying data",
      expect: /abort of stream 0 carries data/,
      run: async (peer) => {
        await peer.sendBytes(firstChunk(0, 100, [], new Uint8Array(10)));
        await peer.sendBytes(chunkFrame(0, FLAG.ABORT, bytes(1, 2, 3)));
      },
    },
    {
      name: "an ABORT of a stream never opened",
      expect: /abort of stream 9, which is not open/,
      run: (peer) => peer.sendBytes(chunkFrame(9, FLAG.ABORT)),
    },
    {
      name: "a second stream opened while the first is open",
      expect: /stream 1 opened while stream 0 is open \(one at a time\)/,
      run: async (peer) => {
        const opens = [0, 1].map((id) => firstChunk(id, 100, [], bytes(0x97)));
        await peer.sendBytes(concat(...opens));
      },
    },
    {
      name: "a stream with an empty body",
      expect: /stream 0 has an empty body/,
      run: (peer) => peer.sendBytes(firstChunk(0, 0, [10], new Uint8Array(10))),
    },
    {
      name: "garbage after a message that came in chunks",
      expect: /3 bytes after the message/,
      run: (peer) =>
        peer.sendStream(0, concat(body(request(0, OP.PING, 0, [], ["x"])), bytes(1, 2, 3)), [
          new Uint8Array(10),
        ]),
    },
    {
      // Found by the fuzzer: a request large enough to be decoded in slices
      // swallowed the fault found at its end, and the connection hung.
      name: "garbage after a request decoded in slices",
      expect: /1 bytes after the message/,
      run: (peer) =>
        peer.sendStream(
          0,
          echoRaw(
            concat(bytes(0xdd), u32(3_000_000), new Uint8Array(3_000_000).fill(0xc0), bytes(1)),
          ),
        ),
    },
    {
      // Found by the fuzzer: closing a socket with unread bytes resets it, and
      // the reset could reach the peer before the CLOSE did.
      name: "a fault with a megabyte of data behind it",
      expect: /3 bytes after the message/,
      run: (peer) =>
        peer.sendBytes(
          concat(frame(concat(encode([MSG.FINISH, []]), bytes(1, 2, 3))), new Uint8Array(MiB)),
        ),
    },
    {
      name: "two messages in one whole frame",
      expect: /3 bytes after the message/,
      run: (peer) =>
        peer.sendBytes(frame(concat(encode([MSG.FINISH, []]), encode([MSG.FINISH, []])))),
    },
    {
      name: "a stream cut off inside a chunk, then end of stream",
      expect: /stream ended inside a frame/,
      run: async (peer) => {
        const chunk = firstChunk(0, 1000, [], new Uint8Array(500));
        await peer.sendBytes(chunk.subarray(0, chunk.length - 400));
        await peer.conn.closeWrite();
      },
    },
  ]);
});

Deno.test("hostile wire: a stream cut off between chunks gives its budget back", async () => {
  // The stream held 100 000 of the server's 150 000 bytes: an honest 90 000-byte
  // message after it only fits if they came back when its connection ended.
  const options = { maxMessageSize: 100_000, maxTotalInboundBytes: 150_000 };
  const { server, port, before } = await target(options);
  const peer = await handshaken(port);
  try {
    await peer.sendBytes(firstChunk(0, 100_000, [], new Uint8Array(1000)));
    await waitFor(() => rawConnection(server).stats().bufferedInbound === 100_000);
    // A clean end between frames (core/PROTOCOL.md): no CLOSE is owed, only the budget.
    await peer.conn.closeWrite();
    await peer.readToEnd();
    await waitFor(() => server.connections.size === 1, 3000, "the raw connection to go");
    const payload = new Uint8Array(90_000).map((_, i) => i & 0xff);
    const echoed = await timed(before.root.echo, 3000)(payload);
    assert.deepEqual(echoed, payload);
    await using after = await connect("127.0.0.1", port, { logger: quietLogger() });
    assert.deepEqual(await timed(after.root.echo, 3000)(payload), payload);
  } finally {
    peer.close();
    await before.close();
    await server.close();
  }
});

Deno.test("hostile wire: a peer still sending when its connection is faulted reads the CLOSE", async () => {
  // The server stops writing but reads on for a moment: a peer that had more
  // on its way gets to read why, instead of a reset cutting it short.
  const { server, port, before } = await target();
  const peer = await handshaken(port);
  try {
    await peer.sendBytes(frame(concat(encode([MSG.FINISH, []]), bytes(1, 2, 3))));
    const close = await peer.next();
    assert.match(closeReason([close]) ?? "", /3 bytes after the message/);
    for (let i = 0; i < 8; i++) {
      await peer.sendBytes(new Uint8Array(32 * KiB));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(await peer.readToEnd(), [], "nothing after the CLOSE but end of stream");
    await waitFor(() => server.connections.size === 1, 3000, "the raw connection to go");
    await assertWorks(before, "the client connected before");
  } finally {
    peer.close();
    await before.close();
    await server.close();
  }
});

Deno.test("hostile wire: a connection closed while it waits for inbound room takes none", async () => {
  // One peer holds the server's whole inbound budget with a half-sent message;
  // a second waits for room for its own; the server drops the second, then the
  // first goes. The budget must come back whole: a message of the budget less
  // 1 KiB is answered.
  const budget = 4 * MiB;
  const { server, port, before } = await target({
    maxMessageSize: budget,
    maxTotalInboundBytes: budget,
  });
  const holder = await handshaken(port);
  const waiter = await handshaken(port);
  try {
    await holder.sendBytes(firstChunk(0, budget - 64 * KiB, [], new Uint8Array(1)));
    await waitFor(() => rawConnection(server, 0).stats().bufferedInbound > 0);
    await waiter.sendBytes(firstChunk(0, budget - 64 * KiB, [], new Uint8Array(1)));
    const waiting = rawConnection(server, 1);
    // It waits: the stream is announced but none of its room is given yet.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(waiting.stats().bufferedInbound, 0);
    await waiting.close();
    assert.equal(await waiter.readToEnd().then(() => "ended"), "ended");
    holder.close();
    await waitFor(() => server.connections.size === 1, 3000, "both raw connections to go");
    const payload = new Uint8Array(budget - KiB).fill(9);
    assert.equal(
      (await timed(before.root.echo, 5000)(payload) as Uint8Array).length,
      payload.length,
    );
  } finally {
    holder.close();
    waiter.close();
    await before.close();
    await server.close();
  }
});

// ---- attachments -------------------------------------------------------------------------------

Deno.test("hostile wire: attachment abuse", async (t) => {
  await runAll(t, [
    {
      // Version 1 copied the bytes for each reference: 192 KB named 3 600 times was 696 MB.
      name: "one attachment named many times in one message",
      expect: /attachment #0 is referred to twice/,
      run: (peer) =>
        peer.sendStream(
          0,
          body(request(0, OP.CALL, 0, ["echo"], [new Array(3600).fill(attachmentRef(0))])),
          [new Uint8Array(192 * KiB)],
        ),
    },
    {
      name: "an attachment index beyond those sent",
      expect: /attachment #3, but 1 came with the message/,
      run: (peer) =>
        peer.sendStream(0, body(request(0, OP.CALL, 0, ["echo"], [attachmentRef(3)])), [
          new Uint8Array(100),
        ]),
    },
    {
      name: "an attachment reference of the wrong size",
      expect: /malformed attachment reference/,
      run: (peer) =>
        peer.sendStream(
          0,
          body(request(0, OP.CALL, 0, ["echo"], [new ExtData(EXT.ATTACHMENT, u32(0))])),
          [new Uint8Array(100)],
        ),
    },
  ]);

  await t.step(
    "attachments nothing refers to are fine, and their budget comes back",
    () =>
      survive({}, async (peer, server) => {
        await peer.sendStream(0, body(request(0, OP.PING, 0, [], ["unused"])), [
          new Uint8Array(70 * KiB),
          new Uint8Array(10),
        ]);
        assert.deepEqual(await answer(peer, 0), [MSG.REPLY, 0, "unused"]);
        assert.equal(rawConnection(server).stats().bufferedInbound, 0);
        await peer.send([MSG.FINISH, [0]]);
      }),
  );
});

// ---- shape tables ------------------------------------------------------------------------------

/** `count` empty member lists numbered from `from`. */
function emptyLists(from: number, count: number): [number, string[]][] {
  return Array.from({ length: count }, (_, i) => [from + i, []]);
}

Deno.test("hostile wire: shape tables", async (t) => {
  const ping = request(0, OP.PING, 0, [], ["x"]);
  await runAll(t, [
    {
      name: "a reference naming a shape never described",
      expect: /reference with unknown member list #42/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [exportExt(1, 42, "Thing")])),
    },
    {
      name: "a shape table whose key is a string",
      expect: /malformed shape table: a shape number/,
      run: (peer) => peer.sendBytes(frame(concat(encode({ a: [] }), encode(ping)))),
    },
    {
      name: "a shape table describing shape 0xFFFFFFFF (no list)",
      expect: /malformed shape table: a shape number/,
      run: (peer) => peer.send(ping, shapeTable([[NO_SHAPE, ["x"]]])),
    },
    {
      name: "a shape table whose list is a string",
      expect: /malformed shape table: a member list/,
      run: (peer) => peer.sendBytes(frame(concat(bytes(0x81, 0x00), encode("x"), encode(ping)))),
    },
    {
      name: "a shape table whose member name is a number",
      expect: /malformed shape table: a member name/,
      run: (peer) => peer.sendBytes(frame(concat(bytes(0x81, 0x00), encode([1]), encode(ping)))),
    },
    {
      name: "a shape table declaring 2^32 - 1 lists in a small frame",
      expect: /a map of 4294967295 entries/,
      run: (peer) =>
        peer.sendBytes(frame(concat(bytes(0xdf, 0xff, 0xff, 0xff, 0xff), encode(ping)))),
    },
    {
      name: "two shape tables before a message",
      expect: /malformed message: a message is a map/,
      run: (peer) => {
        const table = shapeTable([[0, ["a"]]]);
        return peer.sendBytes(frame(concat(table, table, encode(ping))));
      },
    },
    {
      // The limit is per connection: each message stays well under it.
      name: "more than 65 536 member lists described, over two messages",
      expect: /peer described more than 65536 member lists/,
      run: async (peer) => {
        await peer.send(request(0, OP.PING, 0, [], ["a"]), shapeTable(emptyLists(0, 32_768)));
        assert.deepEqual(await answer(peer, 0), [MSG.REPLY, 0, "a"]);
        await peer.send(request(1, OP.PING, 0, [], ["b"]), shapeTable(emptyLists(32_768, 32_769)));
      },
    },
  ]);

  await t.step(
    "describing a list again, in a later message, is harmless",
    () =>
      survive({}, async (peer) => {
        const table = shapeTable([[7, ["size"]]]);
        await peer.send(request(0, OP.CALL, 0, ["echo"], [exportExt(1, 7, "Box")]), table);
        await peer.send(request(1, OP.CALL, 0, ["echo"], [exportExt(1, 7, "Box")]), table);
        // Our object comes back as IMPORT (ext 7): the server knew it both times.
        for (const seq of [0, 1]) {
          const reply = await answer(peer, seq);
          assert.ok(reply[2] instanceof ExtData && reply[2].type === EXT.IMPORT, `${reply}`);
        }
        await peer.send([MSG.FINISH, [0, 1]]);
      }),
  );
});

// ---- budgets -----------------------------------------------------------------------------------

Deno.test("hostile wire: budgets refuse with LimitError and keep the connection", async (t) => {
  await t.step(
    "a request beyond maxPendingRequests, and one pipelined on it",
    () =>
      survive({ maxPendingRequests: 2 }, async (peer, server) => {
        await peer.send(request(0, OP.CALL, 0, ["hang"], []));
        await peer.send(request(1, OP.CALL, 0, ["hang"], []));
        // Refused unread: the reference it carries goes back at once.
        await peer.send(request(2, OP.CALL, 0, ["echo"], [exportExt(1, NO_SHAPE, "Mine")]));
        const refused = thrownError(await answer(peer, 2));
        assert.equal(refused.name, "LimitError");
        assert.match(
          refused.message,
          /requests pending on this connection are at their limit of 2/,
        );
        await awaitReleases(peer, new Map([[1, 1]]));
        // Cancelling one call makes room, so the next request is opened, not refused:
        // it fails because the answer it is pipelined on (#2, target -3) was refused.
        await peer.send([MSG.CANCEL, 0]);
        await peer.send(request(3, OP.GET, -3, ["x"], []));
        assert.deepEqual(thrownError(await answer(peer, 3)), refused);
        assert.equal(rawConnection(server).stats().answers, 2, "#1 and #3 are open answers");
        await peer.send([MSG.FINISH, [2, 3]]);
      }),
  );

  await t.step(
    "refusals that are FINISHed may go on indefinitely",
    () =>
      survive({ maxPendingRequests: 2 }, async (peer) => {
        await peer.send(request(0, OP.CALL, 0, ["hang"], []));
        await peer.send(request(1, OP.CALL, 0, ["hang"], []));
        for (let seq = 2; seq < 12; seq++) {
          await peer.send(request(seq, OP.PING, 0, [], [seq]));
          assert.equal(thrownError(await answer(peer, seq)).name, "LimitError");
          await peer.send([MSG.FINISH, [seq]]);
        }
        await peer.send([MSG.CANCEL, 0]);
      }),
  );

  await t.step("refusals left unFINISHed up to the budget cut the peer off", () =>
    withstand({
      name: "unfinished refusals",
      expect: /peer left 2 refused requests without FINISH/,
      serverOptions: { maxPendingRequests: 2 },
      run: async (peer) => {
        for (let seq = 0; seq < 5; seq++) await peer.send(request(seq, OP.CALL, 0, ["hang"], []));
      },
    }));

  await t.step(
    "a request bringing more netrefs than maxImports",
    () =>
      survive({ maxImports: 3 }, async (peer, server) => {
        // The server's import table holds our root and room for two more.
        const mine = [1, 2, 3, 4, 5].map((id) => exportExt(id, 0, `Mine${id}`));
        await peer.send(request(0, OP.CALL, 0, ["echo"], [mine]), shapeTable([[0, ["f"]]]));
        const refused = thrownError(await answer(peer, 0));
        assert.equal(refused.name, "LimitError");
        assert.match(refused.message, /maxImports/);
        // Each reference the request brought is given back once, or we would hold
        // those objects for a peer that never took them.
        await awaitReleases(peer, new Map([[1, 1], [2, 1], [3, 1], [4, 1], [5, 1]]));
        assert.equal(rawConnection(server).stats().imports, 1, "only our root is imported");
        await peer.send([MSG.FINISH, [0]]);
      }),
  );

  await t.step(
    "calls that would export more than maxExports",
    () =>
      survive({ maxExports: 3 }, async (peer) => {
        // The root is export 0: two Things fit, the third does not.
        for (let seq = 0; seq < 3; seq++) await peer.send(request(seq, OP.CALL, 0, ["make"], []));
        const first = await answer(peer, 0);
        await answer(peer, 1);
        const refused = thrownError(await answer(peer, 2));
        assert.equal(refused.name, "LimitError");
        assert.match(refused.message, /cannot export more than 3 objects \(maxExports\)/);
        // Giving one back makes room again.
        await peer.send([MSG.RELEASE, [exportedId(first[2])], [1]]);
        await peer.send(request(3, OP.CALL, 0, ["make"], [], [0, 1, 2]));
        assert.equal((await answer(peer, 3))[0], MSG.REPLY);
        await peer.send([MSG.FINISH, [3]]);
      }),
  );
});

// ---- limits the peer announced ----------------------------------------------------------------

Deno.test("hostile wire: replies stay within the limits the peer announced", async (t) => {
  // The request is fine for the server; its answer is not for the peer, so
  // the call fails and the connection stays (core/PROTOCOL.md, "HELLO").
  const cases: [string, Partial<AnnouncedLimits>, unknown, string, RegExp][] = [
    ["maxElements", { maxElements: 64 }, new Array(100).fill(1), "LimitError", /maxElements/],
    ["maxDepth", { maxDepth: 4 }, [[[[[[1]]]]]], "TypeError", /nested deeper than 4 levels/],
    [
      "maxBigIntBytes",
      { maxBigIntBytes: 8 },
      new ExtData(EXT.BIGINT, new Uint8Array([0, ...new Array(9).fill(0xff)])),
      "LimitError",
      /maxBigIntBytes/,
    ],
    [
      "maxMessageSize",
      { maxMessageSize: 64 * KiB },
      new Array(30_000).fill(1000),
      "LimitError",
      /maxMessageSize/,
    ],
  ];
  for (const [limit, limits, value, name, message] of cases) {
    await t.step(
      `a reply over the peer's ${limit} is a THROW, and the connection stays`,
      () =>
        survive({}, async (peer) => {
          await peer.send(request(0, OP.CALL, 0, ["echo"], [value]));
          const refused = thrownError(await answer(peer, 0));
          assert.equal(refused.name, name, refused.message);
          assert.match(refused.message, message);
          await peer.send([MSG.FINISH, [0]]);
        }, limits),
    );
  }
});

// ---- honest streams ----------------------------------------------------------------------------

Deno.test("hostile wire: honest large messages from a raw peer", async (t) => {
  await t.step(
    "a 3 MiB attachment in chunks, with a PING between two of them",
    () =>
      survive({}, async (peer) => {
        const big = new Uint8Array(3 * MiB).map((_, i) => (i * 7) & 0xff);
        const chunks = streamFrames(
          0,
          body(request(0, OP.CALL, 0, ["echo"], [attachmentRef(0)])),
          [big],
          768 * KiB,
        );
        assert.ok(chunks.length >= 4);
        await peer.sendBytes(chunks[0]);
        await peer.send(request(1, OP.PING, 0, [], ["between chunks"]));
        for (const chunk of chunks.slice(1)) await peer.sendBytes(chunk);
        // The PING arrived first, so it is answered first; nothing else comes.
        const ping = await peer.receive();
        const echo = await peer.receive();
        assert.ok(ping !== EOF && echo !== EOF);
        assert.deepEqual(ping.message, [MSG.REPLY, 1, "between chunks"]);
        assert.deepEqual(echo.message, [MSG.REPLY, 0, attachmentRef(0)]);
        assert.ok(echo.chunked, "a reply with an attachment travels as a stream");
        assertSameBytes(echo.attachments[0], big);
        await peer.send([MSG.FINISH, [0, 1]]);
      }),
  );

  await t.step(
    "a large reply comes in chunks under the frame size the peer announced",
    async () => {
      const { server, port, before } = await target();
      const peer = await handshaken(port, { maxFrameSize: 64 * KiB });
      try {
        const big = new Uint8Array(MiB).map((_, i) => (i * 13) & 0xff);
        await peer.sendStream(
          0,
          body(request(0, OP.CALL, 0, ["echo"], [attachmentRef(0)])),
          [big],
          60 * KiB,
        );
        const reply = await peer.receive();
        assert.ok(reply !== EOF);
        assert.ok(reply.chunked, "a reply with an attachment travels as a stream");
        assert.deepEqual(reply.message, [MSG.REPLY, 0, attachmentRef(0)]);
        assert.equal(reply.attachments.length, 1);
        assertSameBytes(reply.attachments[0], big);
        assert.ok(peer.largestFrame <= 64 * KiB, `a frame of ${peer.largestFrame} bytes`);
      } finally {
        peer.close();
        await before.close();
        await server.close();
      }
    },
  );

  await t.step(
    "whole frames between the chunks of two streams, one after the other",
    () =>
      survive({}, async (peer) => {
        const payloads = [0, 1].map((n) => new Uint8Array(200 * KiB).fill(n + 1));
        const streams = payloads.map((payload, id) =>
          streamFrames(
            id,
            body(request(id, OP.CALL, 0, ["echo"], [attachmentRef(0)])),
            [payload],
            32 * KiB,
          )
        );
        let pings = 2;
        for (const stream of streams) {
          for (const chunk of stream) {
            await peer.sendBytes(chunk);
            await peer.send(request(pings++, OP.PING, 0, [], ["between"]));
          }
        }
        for (let seq = 0; seq < pings; seq++) {
          const expected = seq < 2 ? attachmentRef(0) : "between";
          assert.deepEqual(await answer(peer, seq), [MSG.REPLY, seq, expected]);
        }
        await peer.send([MSG.FINISH, Array.from({ length: pings }, (_, seq) => seq)]);
      }),
  );

  await t.step(
    "an ABORTed stream is dropped and its budget comes back",
    () =>
      survive({}, async (peer, server) => {
        await peer.sendBytes(firstChunk(0, 300 * KiB, [], new Uint8Array(100 * KiB)));
        await peer.sendBytes(chunkFrame(0, FLAG.ABORT));
        await peer.send(request(0, OP.PING, 0, [], ["after the abort"]));
        assert.deepEqual(await answer(peer, 0), [MSG.REPLY, 0, "after the abort"]);
        assert.equal(rawConnection(server).stats().bufferedInbound, 0);
        // Stream numbers are the sender's: a new stream may follow.
        await peer.sendStream(1, body(request(1, OP.PING, 0, [], ["streamed"])), [bytes(1)]);
        assert.deepEqual(await answer(peer, 1), [MSG.REPLY, 1, "streamed"]);
        await peer.send([MSG.FINISH, [0, 1]]);
      }),
  );

  await t.step("a HELLO of exactly 16 KiB is accepted", async () => {
    const { server, port, before } = await target();
    const peer = await greeted(port);
    try {
      let payload: Uint8Array = new Uint8Array(0);
      for (let pad = 16_000; payload.length !== 16 * KiB; pad++) {
        payload = encode([
          MSG.HELLO,
          "rdc",
          VERSION,
          "Raw",
          ["Raw", "x".repeat(pad)],
          [],
          {
            ...DEFAULT_LIMITS,
          },
          [],
          false,
        ]);
        assert.ok(payload.length <= 16 * KiB, "no padding gives exactly 16 KiB");
      }
      await peer.sendBytes(frame(payload));
      await peer.send(request(0, OP.PING, 0, [], ["p"]));
      assert.deepEqual(await peer.next(), [MSG.REPLY, 0, "p"]);
    } finally {
      peer.close();
      await before.close();
      await server.close();
    }
  });
});

// ---- a malicious server ------------------------------------------------------------------------

Deno.test("hostile wire: a malicious server's decoder bomb costs an honest client only that connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const before = rss();
  const client = connect("127.0.0.1", (listener.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
  });
  const server = new RawPeer(await accepting);
  listener.close();
  try {
    assert.equal((await server.next())[0], MSG.HELLO);
    await server.send(hello());
    const conn = await client;
    const call = conn.root.anything();
    const asked = await awaitMessage(server, (m) => m[0] === MSG.REQUEST, "the request");
    // The answer: [REPLY, seq, <array and map headers declaring 2^32 - 1 items>].
    await server.sendBytes(
      frame(concat(bytes(0x93), encode(MSG.REPLY), encode(asked[1]), containerBomb(190))),
    );
    const error = await call.then(() => null, (e: unknown) => e);
    assert.ok(error instanceof Error && error.name === "ConnectionClosedError", String(error));
    assert.match(String(conn.closeReason), /an array of 4294967295 items/);
    assert.ok(rss() - before < 64 * MiB, "nothing was allocated for the lie");
  } finally {
    server.close();
    (await client.catch(() => null))?.close();
  }
});

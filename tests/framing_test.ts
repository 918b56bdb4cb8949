/**
 * The framing layer on its own, over a web-stream transport the test writes
 * into: how a channel holds and gives back inbound room when it closes in the
 * middle of things. The fuzzer found both cases; over sockets their timing is
 * out of a test's hands.
 */

import assert from "node:assert/strict";
import { Budget } from "../core/wire/budget.ts";
import { ByteFrameChannel } from "../core/wire/framing.ts";
import { transportFromStreams } from "../core/net/adapters.ts";
import { ConnectionClosedError } from "../mod.ts";
import { rejection, waitFor } from "./_helpers.ts";

const MiB = 1024 * 1024;

/**
 * A channel, and `send`, which queues bytes for it to read (a write settles
 * only once they are read, so nothing waits for it).
 */
function channel(inbound: Budget): {
  channel: ByteFrameChannel;
  send: (bytes: Uint8Array) => void;
} {
  const incoming = new TransformStream<Uint8Array, Uint8Array>();
  const transport = transportFromStreams(
    { readable: incoming.readable, writable: new WritableStream() },
    "test stream",
  );
  const channel = new ByteFrameChannel(transport, { inbound, drainTimeout: 0 });
  channel.setLimits({ peerFrameSize: 2 * MiB, maxFrameSize: 2 * MiB, maxMessageSize: 3 * MiB });
  const writer = incoming.writable.getWriter();
  return { channel, send: (bytes) => void writer.write(bytes).catch(() => {}) };
}

/** A whole frame of `length` bytes of payload. */
function wholeFrame(length: number): Uint8Array {
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

/** The first chunk of stream `id`, announcing a body of `bodyLength` bytes and carrying none. */
function firstChunk(id: number, bodyLength: number): Uint8Array {
  const out = new Uint8Array(4 + 5 + 6);
  const view = new DataView(out.buffer);
  view.setUint32(0, (0x80000000 | (5 + 6)) >>> 0);
  view.setUint32(4, id);
  out[8] = 0x01; // FIRST
  view.setUint32(9, bodyLength);
  view.setUint16(13, 0); // no attachments
  return out;
}

Deno.test("framing: a channel closed while it waits for room gives everything back and takes none", async () => {
  const inbound = new Budget(3 * MiB, "inbound bytes of this connection");
  const { channel: reader, send } = channel(inbound);
  // A large whole frame is held against the budget until released; it is not.
  send(wholeFrame(MiB));
  const held = await reader.receive();
  assert.equal(held?.body.length, MiB);
  assert.equal(inbound.used, MiB);
  // A stream needing more than is left waits for room, reading nothing more.
  send(firstChunk(0, 2.5 * MiB));
  const waiting = reader.receive();
  await waitFor(
    () => reader.counters.bytesReceived === 4 + MiB + 15,
    2_000,
    "the FIRST chunk read",
  );
  assert.equal(inbound.used, MiB);
  // Closing gives back the held frame: the room must not go to the channel's own waiter.
  reader.close();
  assert.ok((await rejection(waiting)) instanceof ConnectionClosedError);
  assert.equal(inbound.used, 0, "the budget came back whole");
});

Deno.test("framing: a second stream opened while one is half read is the peer's fault", async () => {
  const inbound = new Budget(3 * MiB, "inbound bytes of this connection");
  const { channel: reader, send } = channel(inbound);
  send(firstChunk(0, MiB));
  send(firstChunk(1, MiB));
  const error = await rejection(reader.receive());
  assert.match(String(error), /stream 1 opened while stream 0 is open \(one at a time\)/);
  reader.close();
  assert.equal(inbound.used, 0, "the budget came back whole");
});

Deno.test("framing: a channel closed at any moment after room is granted gives all of it back", async () => {
  // The room comes from a server's budget when another connection gives some back; the
  // channel may close in any of the turns between that grant and the message it is for.
  for (
    const [what, announce] of [
      ["a stream", () => firstChunk(0, MiB)],
      ["a large whole frame", () => wholeFrame(MiB).subarray(0, 4 + 5 + 6)],
    ] as const
  ) {
    for (let turns = 0; turns < 12; turns++) {
      const server = new Budget(MiB, "inbound bytes of the server");
      const inbound = new Budget(3 * MiB, "inbound bytes of this connection", server);
      assert.equal(server.tryTake(MiB), true, "another connection holds all of it");
      const { channel: reader, send } = channel(inbound);
      send(announce());
      const receiving = rejection(reader.receive());
      await waitFor(
        () => reader.counters.bytesReceived >= 4 + 5 + 6,
        2_000,
        "the frame header read",
      );
      server.give(MiB);
      for (let turn = 0; turn < turns; turn++) await Promise.resolve();
      reader.close();
      const ended = await receiving;
      assert.ok(
        ended instanceof ConnectionClosedError,
        `${what}, closed ${turns} turns after: ${ended}`,
      );
      assert.equal(server.used, 0, `${what}: closed ${turns} turns after the grant, all came back`);
    }
  }
});

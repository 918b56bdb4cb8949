/**
 * Web streams handed over as capabilities, over real TCP connections under
 * the default (strict) policy: a `ReadableStream` or `WritableStream` passed
 * as an argument or returned arrives as a local stream of its kind, with
 * backpressure within the stream window, cancel and abort propagated with
 * their reasons, errors arriving as errors, and the netrefs released after.
 */

import assert from "node:assert/strict";
import { RemoteError, Service } from "../mod.ts";
import { pair, rejection, waitFor } from "./_helpers.ts";
import { exportedId, exportExt, hello, MSG, NO_SHAPE, OP, RawPeer, request } from "./_raw_peer.ts";

/** What the owner's side of the streams saw (the service runs in this process). */
interface Seen {
  pulled: number;
  cancelReason: unknown;
  written: number;
  /** Streams handed over and held unread. */
  held: ReadableStream<unknown>[];
  received: unknown[];
  closed: boolean;
}

function numbers(count: number, seen: Seen, failAt = -1): ReadableStream<number> {
  let next = 0;
  return new ReadableStream<number>({
    pull(controller) {
      seen.pulled++;
      if (next === failAt) return controller.error(new RangeError(`chunk ${next} failed`));
      if (next === count) return controller.close();
      controller.enqueue(next++);
    },
    cancel(reason) {
      seen.cancelReason = reason;
    },
  }, { highWaterMark: 0 });
}

function streamService(seen: Seen) {
  return class StreamService extends Service {
    /** Reads a stream the caller handed over to the end. */
    async exposed_collect(stream: ReadableStream<unknown>): Promise<unknown[]> {
      assert.ok(stream instanceof ReadableStream, "a local ReadableStream");
      return await Array.fromAsync(stream);
    }
    /** Sums the lengths of byte chunks, checking each is filled with its index. */
    async exposed_byteTotal(stream: ReadableStream<Uint8Array>): Promise<number> {
      let total = 0, index = 0;
      for await (const chunk of stream) {
        assert.ok(chunk.every((b) => b === index % 256), `chunk ${index} intact`);
        total += chunk.length;
        index++;
      }
      return total;
    }
    exposed_numbers(count: number, failAt = -1): ReadableStream<number> {
      return numbers(count, seen, failAt);
    }
    /** Writes `count` numbers into a stream the caller handed over, then closes it. */
    async exposed_fill(sink: WritableStream<number>, count: number): Promise<void> {
      assert.ok(sink instanceof WritableStream, "a local WritableStream");
      const writer = sink.getWriter();
      for (let i = 0; i < count; i++) {
        await writer.write(i);
        seen.written++;
      }
      await writer.close();
    }
    /** A stream the caller writes into. */
    exposed_sink(): WritableStream<unknown> {
      return new WritableStream({
        write(chunk) {
          seen.received.push(chunk);
        },
        close() {
          seen.closed = true;
        },
      });
    }
    /** Reads one chunk of a stream handed over, then cancels it with `reason`. */
    async exposed_firstOf(stream: ReadableStream<unknown>, reason: string): Promise<unknown> {
      const reader = stream.getReader();
      const { value } = await reader.read();
      await reader.cancel(reason);
      return value;
    }
    /** Keeps a stream handed over without reading it. */
    exposed_hold(stream: ReadableStream<unknown>): void {
      seen.held.push(stream);
    }
    /** Cancels the streams held, with `reason`. */
    async exposed_cancelHeld(reason: string): Promise<void> {
      for (const stream of seen.held.splice(0)) await stream.cancel(reason);
    }
    /** Writes one chunk, then aborts with `reason`. */
    async exposed_abortAfterOne(sink: WritableStream<number>, reason: string): Promise<void> {
      const writer = sink.getWriter();
      await writer.write(1);
      await writer.abort(reason);
    }
  };
}

function freshSeen(): Seen {
  return { pulled: 0, cancelReason: undefined, written: 0, received: [], closed: false, held: [] };
}

/** A sink that records what it is given; `gate` (when set) holds every write until it resolves. */
function recordingSink(failAt = -1) {
  const chunks: unknown[] = [];
  const state = {
    chunks,
    closed: false,
    abortReason: undefined as unknown,
    gate: null as Promise<void> | null,
  };
  const stream = new WritableStream({
    async write(chunk) {
      if (chunks.length === failAt) throw new TypeError(`sink refused chunk ${failAt}`);
      chunks.push(chunk);
      if (state.gate) await state.gate;
    },
    close() {
      state.closed = true;
    },
    abort(reason) {
      state.abortReason = reason;
    },
  });
  return { stream, state };
}

Deno.test("streams: a ReadableStream passed as an argument is read by the peer", async () => {
  const seen = freshSeen();
  await using p = await pair(streamService(seen));
  assert.deepEqual(await p.client.root.collect(numbers(20, freshSeen())), [...Array(20).keys()]);
  // Byte chunks, 64 KiB and more (attachments) and small (inline).
  const sizes = [1 << 20, 100, 64 * 1024, 3];
  const bytes = new ReadableStream<Uint8Array>({
    start(controller) {
      sizes.forEach((size, i) => controller.enqueue(new Uint8Array(size).fill(i)));
      controller.close();
    },
  });
  assert.equal(await p.client.root.byteTotal(bytes), sizes.reduce((a, b) => a + b));
  await waitFor(() => p.client.stats().exports === 1, 3000, "the streams' release");
});

Deno.test("streams: a returned ReadableStream is read with backpressure, within the window", async () => {
  const seen = freshSeen();
  await using p = await pair(streamService(seen), {}, { streamWindow: 4 });
  const stream = await p.client.root.numbers(1000) as ReadableStream<number>;
  assert.ok(stream instanceof ReadableStream);
  const reader = stream.getReader();
  for (let read = 1; read <= 30; read++) {
    assert.deepEqual(await reader.read(), { done: false, value: read - 1 });
    // A round trip: batches asked for meanwhile have been served.
    await p.client.ping();
    assert.ok(
      seen.pulled <= read + 4 + 2,
      `after ${read} chunks the owner was pulled ${seen.pulled} times`,
    );
  }
  await reader.cancel("enough");
  await waitFor(() => seen.cancelReason === "enough", 3000, "the owner's cancel");
  assert.ok(seen.pulled < 40, "the 1000-chunk stream was not drained");
  await waitFor(() => p.serverConn().stats().exports === 1, 3000, "the stream's release");
});

Deno.test("streams: the owner's error arrives as an error, after the chunks before it", async () => {
  await using p = await pair(streamService(freshSeen()));
  const stream = await p.client.root.numbers(100, 5) as ReadableStream<number>;
  const got: number[] = [];
  const error = await rejection((async () => {
    for await (const n of stream) got.push(n);
  })());
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.ok(error instanceof RemoteError, `${error}`);
  assert.equal((error as RemoteError).name, "RangeError");
  assert.match((error as Error).message, /chunk 5 failed/);
});

Deno.test("streams: a WritableStream passed as an argument is written by the peer", async () => {
  const seen = freshSeen();
  await using p = await pair(streamService(seen));
  const { stream, state } = recordingSink();
  await p.client.root.fill(stream, 50);
  assert.deepEqual(state.chunks, [...Array(50).keys()], "every chunk, in order");
  assert.equal(state.closed, true, "close reached the sink");
  await waitFor(() => p.client.stats().exports === 1, 3000, "the stream's release");
});

Deno.test("streams: a slow sink slows the writer on the other end", async () => {
  const seen = freshSeen();
  // The writer's end (the server, holding the local WritableStream) sets the window.
  await using p = await pair(streamService(seen), { streamWindow: 4 });
  const { stream, state } = recordingSink();
  const open = Promise.withResolvers<void>();
  state.gate = open.promise;
  const filling = p.client.root.fill(stream, 100);
  await waitFor(() => state.chunks.length >= 1, 3000, "the first chunk");
  for (let i = 0; i < 5; i++) await p.client.ping(); // Time for a writer that does not wait to run on.
  assert.ok(
    seen.written <= 1 + 4 + 1,
    `the writer ran ${seen.written} chunks ahead of a stuck sink`,
  );
  state.gate = null;
  open.resolve();
  await filling;
  assert.deepEqual(state.chunks, [...Array(100).keys()]);
});

Deno.test("streams: abort and sink errors propagate with their reasons", async () => {
  await using p = await pair(streamService(freshSeen()));
  const aborted = recordingSink();
  await p.client.root.abortAfterOne(aborted.stream, "changed my mind");
  assert.deepEqual(aborted.state.chunks, [1]);
  assert.equal(aborted.state.abortReason, "changed my mind");

  const failing = recordingSink(3);
  const error = await rejection(p.client.root.fill(failing.stream, 20));
  assert.match(String((error as Error).message), /sink refused chunk 3/);
  assert.deepEqual(failing.state.chunks, [0, 1, 2]);
});

Deno.test("streams: a returned WritableStream is written here; a cancel travels back", async () => {
  const seen = freshSeen();
  await using p = await pair(streamService(seen));
  const sink = await p.client.root.sink() as WritableStream<string>;
  assert.ok(sink instanceof WritableStream);
  const writer = sink.getWriter();
  for (let i = 0; i < 10; i++) await writer.write(`line ${i}`);
  await writer.close();
  assert.deepEqual(seen.received, [...Array(10).keys()].map((i) => `line ${i}`));
  assert.equal(seen.closed, true);

  const mine = freshSeen();
  assert.equal(await p.client.root.firstOf(numbers(1000, mine), "got one"), 0);
  await waitFor(() => mine.cancelReason === "got one", 3000, "the cancel reaching this end");
  assert.ok(mine.pulled <= 1 + 64 + 2, `pulled ${mine.pulled} of 1000: the default window is 64`);
  await waitFor(() => p.client.stats().exports === 1, 3000, "the streams' release");
  await waitFor(() => p.serverConn().stats().exports === 1, 3000, "the streams' release");
});

Deno.test("streams: a stream handed over is pushed: its reader asks nothing for the first window", async () => {
  await using p = await pair(streamService(freshSeen()));
  const server = p.serverConn();
  const before = server.stats().framesSent;
  assert.deepEqual(await p.client.root.collect(numbers(20, freshSeen())), [...Array(20).keys()]);
  await waitFor(() => p.client.stats().exports === 1, 3000, "the stream's release");
  // The reply and the release of the stream: no ITER, no BATCH.
  const sent = server.stats().framesSent - before;
  assert.ok(sent <= 2, `the reader sent ${sent} frames for a stream within one window`);
});

Deno.test("streams: a reader that never reads holds its owner to the window; its cancel travels back", async () => {
  const seen = freshSeen();
  await using p = await pair(streamService(seen), { streamWindow: 4 });
  await p.client.root.hold(numbers(1000, seen));
  for (let i = 0; i < 5; i++) await p.client.ping(); // Time for an owner that does not wait to run on.
  assert.ok(seen.pulled <= 4 + 1, `the owner was pulled ${seen.pulled} times for a window of 4`);
  await p.client.root.cancelHeld("not interested");
  await waitFor(() => seen.cancelReason === "not interested", 3000, "the owner's cancel");
  await waitFor(() => p.client.stats().exports === 1, 3000, "the stream's release");
});

Deno.test("streams: a raw peer is pushed the window it announced, then asks with BATCH on the stream", async () => {
  const seen = freshSeen();
  await using p = await pair(streamService(seen));
  const peer = await RawPeer.connect(p.port);
  try {
    await peer.next(); // The server's HELLO.
    await peer.send(hello("Raw", { streamWindow: 4 }));
    await peer.send(request(0, OP.CALL, 0, ["numbers"], [1000]));
    const reply = await peer.next();
    assert.equal(reply[0], MSG.REPLY);
    const kindByte = (reply[2] as { data: Uint8Array }).data[0];
    assert.equal(kindByte, 0x20 | 4, "a ReadableStream, its PUSH announced");
    const id = exportedId(reply[2]);
    const [type, pushedId, failed, [items, done]] = await peer.next() as [
      number,
      number,
      boolean,
      unknown[],
    ];
    assert.deepEqual([type, pushedId, failed, items, done], [
      MSG.PUSH,
      id,
      false,
      [0, 1, 2, 3],
      false,
    ]);
    // Nothing more comes unasked, and the owner's stream was read no further.
    await peer.send(request(1, OP.PING, 0, [], ["still"]));
    assert.deepEqual(await peer.next(), [MSG.REPLY, 1, "still"]);
    assert.ok(seen.pulled <= 4 + 1, `pulled ${seen.pulled} times`);
    await peer.send(request(2, OP.BATCH, id, [], [3]));
    const [, seq, [more, end]] = await peer.next() as [number, number, unknown[]];
    assert.deepEqual([seq, more, end], [2, [4, 5, 6], false]);
    await peer.send(request(3, OP.RETURN, id, [], ["done here"]));
    assert.equal((await peer.next())[1], 3);
    await waitFor(() => seen.cancelReason === "done here", 3000, "the owner's cancel");
  } finally {
    peer.close();
  }
});

Deno.test("streams: a PUSH beyond the receiver's window closes that connection, naming it", async () => {
  await using p = await pair(streamService(freshSeen()), { streamWindow: 4 });
  const peer = await RawPeer.connect(p.port);
  try {
    await peer.next(); // The server's HELLO.
    await peer.send(hello());
    const stream = exportExt(1, NO_SHAPE, "ReadableStream", 0x20 | 4);
    await peer.send(request(0, OP.CALL, 0, ["collect"], [stream]));
    await peer.send([MSG.PUSH, 1, false, [[1, 2, 3, 4, 5], false, null]]);
    const messages = await peer.readToEnd();
    const close = messages.find((m) => m[0] === MSG.CLOSE);
    assert.match(String(close?.[1]), /a PUSH of 5 chunks, more than the streamWindow \(4\)/);
  } finally {
    peer.close();
  }
  await p.client.ping(); // The other connections go on.
});

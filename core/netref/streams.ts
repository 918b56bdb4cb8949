/**
 * Web streams the peer handed over, as local streams of the same kind: a
 * remote `ReadableStream` is read through batched iteration (its first
 * chunks pushed by the peer, then BATCH, RETURN to cancel), a remote
 * `WritableStream` is written with WRITE, CLOSE and ABORT (core/PROTOCOL.md,
 * "Streams").
 *
 * Contract: backpressure holds end to end within `window` chunks. A local
 * readable starts with the window the peer pushes unasked (its first chunks
 * are on their way with the message that carried the stream), then asks for
 * more only as it is read: the peer's stream is read at most `window` chunks
 * ahead. A local
 * writable keeps at most `window` writes unacknowledged: a write waits while
 * that many are, so a slow sink slows the writer. Cancel and abort go to the
 * peer's stream, with their reason; the peer's errors error the local stream.
 * The netref is released once the stream is done either way.
 *
 * @module
 */

import type { PrefetchingIterator } from "./iteration.ts";
import { Op } from "../wire/messages.ts";

/**
 * A local `ReadableStream` of what `iterator` (over the peer's stream)
 * yields. `release` (idempotent) lets go of the peer's stream.
 */
export function readableFrom(iterator: PrefetchingIterator, release: () => void): ReadableStream {
  return new ReadableStream({
    async pull(controller) {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        release();
        throw error;
      }
      if (!step.done) return controller.enqueue(step.value);
      release();
      controller.close();
    },
    async cancel(reason) {
      try {
        await iterator.return(reason);
      } finally {
        release();
      }
    },
  }, { highWaterMark: 1 });
}

/** Sends one stream operation to the peer's stream; resolves with its answer. */
export type StreamSend = (
  op: typeof Op.Write | typeof Op.Close | typeof Op.Abort,
  args: unknown[],
) => Promise<unknown>;

/**
 * A local `WritableStream` whose chunks go to the peer's stream, `window` of
 * them unacknowledged at most. `release` (idempotent) lets go of the peer's stream.
 */
export function writableTo(send: StreamSend, release: () => void, window: number): WritableStream {
  const unacknowledged: Promise<unknown>[] = [];
  let written = 0;
  const settle = async (): Promise<void> => {
    while (unacknowledged.length > 0) await unacknowledged.shift();
  };
  return new WritableStream({
    async write(chunk) {
      const ack = send(Op.Write, [chunk, written++]);
      ack.catch(() => {}); // Seen when its turn comes (below, or at close).
      unacknowledged.push(ack);
      try {
        while (unacknowledged.length >= window) await unacknowledged.shift();
      } catch (error) {
        release();
        throw error;
      }
    },
    async close() {
      try {
        await settle();
        await send(Op.Close, []);
      } finally {
        release();
      }
    },
    async abort(reason) {
      unacknowledged.length = 0;
      try {
        await send(Op.Abort, [reason]);
      } finally {
        release();
      }
    },
  }, { highWaterMark: 1 });
}

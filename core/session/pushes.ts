/**
 * Pushed streams: a `ReadableStream` handed over starts flowing without
 * being asked. Its owner reads the first window of chunks (the peer's
 * `streamWindow`, from its HELLO) right after the message that carries the
 * stream is in line, and sends them in one PUSH; the receiver asks for more
 * with BATCH on the stream itself, as its reader consumes (core/PROTOCOL.md,
 * "Streams").
 *
 * Contract: the owner opens one async iterator per stream it hands over
 * (which locks the stream) and keeps it for the PUSH and the BATCH and
 * RETURN requests on that stream; it sends exactly one PUSH per push it
 * started, unless the connection closes first. A driven session (the
 * synchronous mode) pushes nothing (its thread may be blocked when the
 * chunks should go: its peer asks with BATCH from the start), and is pushed
 * nothing (it announces a window of 0: it reads a stream with ITER, which
 * gets the same iterator). The receiver waits for each PUSH an EXPORT
 * announced until it arrives or the connection closes, even once its reader
 * is gone, so a PUSH never finds its stream unknown.
 *
 * @module
 */

import { AccessError } from "../errors.ts";
import { type BatchAnswer, stepBatch } from "./iteration.ts";

/** The iterator of each stream handed over, for the PUSH and the peer's BATCH and RETURN on it. */
const streamIterators = new WeakMap<ReadableStream, object>();

/**
 * The iterator this end reads `stream` with for the peer: opened (which
 * locks the stream) the first time.
 *
 * @throws {TypeError} when the stream is locked by a reader of this end's own.
 */
export function streamIterator(stream: ReadableStream): object {
  let iterator = streamIterators.get(stream);
  if (!iterator) {
    iterator = stream[Symbol.asyncIterator]();
    streamIterators.set(stream, iterator);
  }
  return iterator;
}

/**
 * Opens `stream`'s iterator for the peer and reads its first `count` chunks
 * (fewer at its end or at an error after some chunks, which the next BATCH
 * then throws).
 *
 * @throws what opening the stream threw (it is locked), or what its first read did.
 */
export function readFirstChunks(
  stream: ReadableStream,
  count: number,
): Promise<BatchAnswer> {
  let iterator: object;
  try {
    iterator = streamIterator(stream);
  } catch (error) {
    return Promise.reject(error);
  }
  return stepBatch(iterator, count);
}

/**
 * The iterator a NEXT, RETURN or BATCH on `target` steps: `target` itself
 * when this end opened it for an ITER (`opened`), or the iterator of a
 * `ReadableStream` this end handed over (the capability to read it).
 *
 * @throws {AccessError} for anything else: stepping is no way around the policy.
 * @throws {TypeError} for a stream locked by a reader of this end's own.
 */
export function steppedIterator(target: unknown, opened: WeakSet<object>): object {
  if (target instanceof ReadableStream) return streamIterator(target);
  if (opened.has(target as object)) return target as object;
  throw new AccessError(
    "NEXT, RETURN and BATCH work only on an iterator opened by ITER or a ReadableStream handed over",
  );
}

/**
 * The PUSHes this end waits for, by stream (the peer's export id).
 *
 * Contract: `expect` registers one when an EXPORT announces it; `take` hands
 * its promise to the local stream (once); `settle` delivers it and forgets
 * it; `clear` (the connection closed) fails every one still waited for.
 */
export class PushTable {
  readonly #waiting = new Map<number, PromiseWithResolvers<BatchAnswer> & { taken: boolean }>();

  /** Whether a PUSH for stream `id` is awaited. */
  has(id: number): boolean {
    return this.#waiting.has(id);
  }

  /** A PUSH for stream `id` is on its way. */
  expect(id: number): void {
    if (this.#waiting.has(id)) return;
    const push = { ...Promise.withResolvers<BatchAnswer>(), taken: false };
    push.promise.catch(() => {}); // Nobody may read the stream.
    this.#waiting.set(id, push);
  }

  /** The PUSH of stream `id`, if one is awaited and not taken yet. */
  take(id: number): Promise<BatchAnswer> | null {
    const push = this.#waiting.get(id);
    if (!push || push.taken) return null;
    push.taken = true;
    return push.promise;
  }

  /** Delivers stream `id`'s PUSH (its first chunks, or the error reading them failed with). */
  settle(id: number, failed: boolean, value: unknown): void {
    const push = this.#waiting.get(id);
    if (!push) return;
    this.#waiting.delete(id);
    if (failed) push.reject(value);
    else push.resolve(value as BatchAnswer);
  }

  /** Fails every awaited PUSH with `reason`. */
  clear(reason: Error): void {
    for (const push of this.#waiting.values()) push.reject(reason);
    this.#waiting.clear();
  }
}

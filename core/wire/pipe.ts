/**
 * A one-way byte pipe between two threads, in a `SharedArrayBuffer`: one
 * writer, one reader, no locks. The synchronous mode carries a connection's
 * messages through two of these, between the main thread and the I/O
 * worker (`core/sync/`).
 *
 * Layout: a header of two counters (bytes ever written, bytes ever read,
 * modulo 2³²), each on its own cache line, then the ring of `capacity`
 * bytes (a power of two). The writer alone advances the write counter, the
 * reader alone the read counter; each side notifies on its own counter, so
 * the other can wait on it with `Atomics.wait` (blocking, for the main
 * thread) or `Atomics.waitAsync` (for the worker's event loop).
 *
 * @module
 */

/** Int32 index of the write counter; of the read counter (64 bytes apart). */
const WRITTEN = 0;
const READ = 16;
/** Bytes before the ring. */
const HEADER_BYTES = 128;

/** The ring's default size: a call's message fits many times; a big value goes through in pieces. */
export const DEFAULT_PIPE_CAPACITY = 1024 * 1024;

/**
 * One direction of a connection between two threads.
 *
 * Contract: exactly one thread writes and exactly one reads. `write` and
 * `read` never block: they move what fits (or what is there) and say how
 * much. The waits return at once when their condition already holds.
 */
export class SharedPipe {
  /** The shared memory, to hand to the other thread (`new SharedPipe(buffer)` there). */
  readonly buffer: SharedArrayBuffer;
  readonly #counters: Int32Array;
  readonly #ring: Uint8Array;
  readonly #capacity: number;

  /** A pipe of `capacity` bytes (a power of two, at least 4 KiB). */
  static create(capacity: number = DEFAULT_PIPE_CAPACITY): SharedPipe {
    if (capacity < 4096 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(
        `a pipe's capacity is a power of two from 4 KiB to 1 GiB, not ${capacity}`,
      );
    }
    return new SharedPipe(new SharedArrayBuffer(HEADER_BYTES + capacity));
  }

  /** The pipe whose memory is `buffer` (made by {@linkcode SharedPipe.create}, maybe in another thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#counters = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#ring = new Uint8Array(buffer, HEADER_BYTES);
    this.#capacity = this.#ring.length;
  }

  /** Bytes written and not yet read. */
  get readable(): number {
    return (Atomics.load(this.#counters, WRITTEN) - Atomics.load(this.#counters, READ)) >>> 0;
  }

  /** Bytes that may be written now. */
  get writable(): number {
    return this.#capacity - this.readable;
  }

  /** The write counter, to wait on for data ({@linkcode SharedPipe.waitForData}). */
  get written(): number {
    return Atomics.load(this.#counters, WRITTEN);
  }

  /** The read counter, to wait on for room ({@linkcode SharedPipe.waitForRoom}). */
  get consumed(): number {
    return Atomics.load(this.#counters, READ);
  }

  /** Copies as much of `bytes` as fits; returns how much that was. Writer only. */
  write(bytes: Uint8Array): number {
    const count = Math.min(bytes.length, this.writable);
    if (count === 0) return 0;
    const at = Atomics.load(this.#counters, WRITTEN);
    const start = at & (this.#capacity - 1);
    const first = Math.min(count, this.#capacity - start);
    this.#ring.set(first === bytes.length ? bytes : bytes.subarray(0, first), start);
    if (first < count) this.#ring.set(bytes.subarray(first, count), 0);
    Atomics.store(this.#counters, WRITTEN, (at + count) | 0);
    Atomics.notify(this.#counters, WRITTEN);
    return count;
  }

  /** Copies up to `into.length` readable bytes into `into`; returns how many. Reader only. */
  read(into: Uint8Array): number {
    const count = Math.min(into.length, this.readable);
    if (count === 0) return 0;
    const at = Atomics.load(this.#counters, READ);
    const start = at & (this.#capacity - 1);
    const first = Math.min(count, this.#capacity - start);
    into.set(this.#ring.subarray(start, start + first));
    if (first < count) into.set(this.#ring.subarray(0, count - first), first);
    Atomics.store(this.#counters, READ, (at + count) | 0);
    Atomics.notify(this.#counters, READ);
    return count;
  }

  /**
   * Blocks the thread until the write counter differs from `seen` or `ms`
   * pass. Not allowed where `Atomics.wait` is not (a browser's main thread).
   */
  waitForData(seen: number, ms: number): void {
    Atomics.wait(this.#counters, WRITTEN, seen, ms);
  }

  /** Blocks the thread until the read counter differs from `seen` or `ms` pass. */
  waitForRoom(seen: number, ms: number): void {
    Atomics.wait(this.#counters, READ, seen, ms);
  }

  /** Wakes a writer waiting for room (`roomAfter`), which then looks again whether to go on. */
  wakeWriter(): void {
    Atomics.notify(this.#counters, READ);
  }

  /** Resolves once the write counter differs from `seen` (the event loop keeps running). */
  dataAfter(seen: number): Promise<unknown> {
    return waitAsync(this.#counters, WRITTEN, seen);
  }

  /** Resolves once the read counter differs from `seen`. */
  roomAfter(seen: number): Promise<unknown> {
    return waitAsync(this.#counters, READ, seen);
  }
}

/** `Atomics.waitAsync` as a promise, whichever way it answers. */
export function waitAsync(array: Int32Array, index: number, seen: number): Promise<unknown> {
  const result = Atomics.waitAsync(array, index, seen);
  return result.async ? result.value : Promise.resolve(result.value);
}

/**
 * Buffers for the copies of large byte arrays a message carries, shared by
 * every connection of the process: reusing them spares each large send a
 * fresh allocation, and the page faults of touching it.
 *
 * @module
 */

/**
 * Idle buffers by capacity (powers of two).
 *
 * Contract: `take` hands out a view nobody else holds; `give` takes it back
 * once nothing reads it any more (its bytes were written). At most
 * {@linkcode BufferPool.MAX_KEPT} bytes are kept idle, smaller buffers
 * making way for a larger one; the rest is left to the garbage collector.
 */
export class BufferPool {
  /** The most bytes kept idle. */
  static readonly MAX_KEPT = 128 * 1024 * 1024;
  #idle = new Map<number, ArrayBuffer[]>();
  #kept = 0;
  #lent = new WeakSet<ArrayBuffer>();

  /** Bytes kept idle now, for the next sends (at most {@linkcode BufferPool.MAX_KEPT}). */
  get idleBytes(): number {
    return this.#kept;
  }

  /** A view of `size` bytes on a buffer of the next power-of-two capacity. */
  take(size: number): Uint8Array {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(size, 1)));
    let buffer = this.#idle.get(capacity)?.pop();
    if (buffer) this.#kept -= capacity;
    else buffer = new ArrayBuffer(capacity);
    this.#lent.add(buffer);
    return new Uint8Array(buffer, 0, size);
  }

  /** Whether `view` is one this pool lent out. */
  lent(view: Uint8Array): boolean {
    return this.#lent.has(view.buffer as ArrayBuffer);
  }

  /** Takes back a view from {@linkcode BufferPool.take}, once nothing reads it. */
  give(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    if (!this.#lent.delete(buffer)) return;
    if (buffer.byteLength > BufferPool.MAX_KEPT) return;
    if (this.#kept + buffer.byteLength > BufferPool.MAX_KEPT) this.#makeRoom(buffer.byteLength);
    if (this.#kept + buffer.byteLength > BufferPool.MAX_KEPT) return;
    this.#kept += buffer.byteLength;
    const idle = this.#idle.get(buffer.byteLength);
    if (idle) idle.push(buffer);
    else this.#idle.set(buffer.byteLength, [buffer]);
  }

  /**
   * Drops idle buffers smaller than `capacity`, smallest first, until one of
   * `capacity` fits: a large buffer is worth more than the small ones it
   * displaces, its pages cost the most to fault in again.
   */
  #makeRoom(capacity: number): void {
    for (const size of [...this.#idle.keys()].sort((a, b) => a - b)) {
      if (size >= capacity) return;
      const idle = this.#idle.get(size)!;
      while (idle.length > 0 && this.#kept + capacity > BufferPool.MAX_KEPT) {
        idle.pop();
        this.#kept -= size;
      }
      if (idle.length === 0) this.#idle.delete(size);
      if (this.#kept + capacity <= BufferPool.MAX_KEPT) return;
    }
  }
}

/** The pool of this process. */
export const attachmentBuffers: BufferPool = new BufferPool();

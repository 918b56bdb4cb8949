/**
 * Buffers for the copies of large byte arrays a message carries, shared by
 * every connection of the process: reusing them spares each large send a
 * fresh allocation, and the page faults of touching it. Buffers handed over
 * with `transfer()` join the pool once written, and a large byte array that
 * arrives is read into an idle buffer of exactly its size when there is one,
 * so bytes echoed back and forth with `transfer()` reuse the same memory.
 *
 * @module
 */

/**
 * Idle buffers by capacity (powers of two), and adopted ones by their size.
 *
 * Contract: `take` hands out a view nobody else holds, and `adopt` takes a
 * buffer nobody else can reach any more (its owner transferred it); `give`
 * takes either back once nothing reads it any more (its bytes were written).
 * `takeWhole` hands a buffer out for good: the pool forgets it. At most
 * {@linkcode BufferPool.MAX_KEPT} bytes are kept idle, smaller buffers
 * making way for a larger one; the rest is left to the garbage collector.
 */
export class BufferPool {
  /** The most bytes kept idle. */
  static readonly MAX_KEPT = 128 * 1024 * 1024;
  #idle = new Map<number, ArrayBuffer[]>();
  /** Idle adopted buffers by their exact size: they are taken whole, for good. */
  #idleAdopted = new Map<number, ArrayBuffer[]>();
  #adopted = new WeakSet<ArrayBuffer>();
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

  /**
   * A buffer of exactly `size` bytes, whole, for the caller to keep: an idle
   * adopted one of that size if there is one, else a new one. Its old bytes
   * are the caller's to overwrite, all of them, before anyone else sees it.
   */
  takeWhole(size: number): Uint8Array {
    const buffer = this.#idleAdopted.get(size)?.pop();
    if (!buffer) return new Uint8Array(size);
    this.#kept -= size;
    return new Uint8Array(buffer);
  }

  /**
   * Lends out `view`, whose buffer the caller owns and nobody else can reach
   * (it was moved out of its owner's hands with `ArrayBuffer.transfer`), as
   * if {@linkcode BufferPool.take} had made it: `give` then keeps its buffer
   * for {@linkcode BufferPool.takeWhole}.
   */
  adopt(view: Uint8Array): Uint8Array {
    this.#lent.add(view.buffer as ArrayBuffer);
    this.#adopted.add(view.buffer as ArrayBuffer);
    return view;
  }

  /** Whether `view` is one this pool lent out. */
  lent(view: Uint8Array): boolean {
    return this.#lent.has(view.buffer as ArrayBuffer);
  }

  /** Takes back a view from {@linkcode BufferPool.take} or `adopt`, once nothing reads it. */
  give(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    if (!this.#lent.delete(buffer)) return;
    if (buffer.byteLength > BufferPool.MAX_KEPT) return;
    if (this.#kept + buffer.byteLength > BufferPool.MAX_KEPT) this.#makeRoom(buffer.byteLength);
    if (this.#kept + buffer.byteLength > BufferPool.MAX_KEPT) return;
    this.#kept += buffer.byteLength;
    const pool = this.#adopted.delete(buffer) ? this.#idleAdopted : this.#idle;
    const idle = pool.get(buffer.byteLength);
    if (idle) idle.push(buffer);
    else pool.set(buffer.byteLength, [buffer]);
  }

  /**
   * Drops idle buffers smaller than `capacity`, smallest first, until one of
   * `capacity` fits: a large buffer is worth more than the small ones it
   * displaces, its pages cost the most to fault in again.
   */
  #makeRoom(capacity: number): void {
    const sizes = [...this.#idle.keys(), ...this.#idleAdopted.keys()].sort((a, b) => a - b);
    for (const size of sizes) {
      if (size >= capacity) return;
      for (const pool of [this.#idle, this.#idleAdopted]) {
        const idle = pool.get(size);
        while (idle && idle.length > 0 && this.#kept + capacity > BufferPool.MAX_KEPT) {
          idle.pop();
          this.#kept -= size;
        }
        if (idle?.length === 0) pool.delete(size);
      }
      if (this.#kept + capacity <= BufferPool.MAX_KEPT) return;
    }
  }
}

/** The pool of this process. */
export const attachmentBuffers: BufferPool = new BufferPool();

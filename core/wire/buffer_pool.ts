/**
 * Buffers for the copies of large byte arrays a message carries, shared by
 * every connection of the process: reusing them spares each large send a
 * fresh allocation, and the page faults of touching it. Buffers handed over
 * with `transfer()` join the pool once written, and a large byte array that
 * arrives is read into an idle one of exactly its size when there is one,
 * so bytes echoed back and forth with `transfer()` reuse the same memory.
 *
 * @module
 */

/**
 * Idle buffers by size, at most {@linkcode Shelf.MAX_KEPT} bytes of them:
 * a buffer that does not fit displaces smaller idle ones, never larger ones
 * (a large buffer is worth more than the small ones it displaces, its pages
 * cost the most to fault in again); what is not kept is left to the garbage
 * collector.
 */
class Shelf {
  /** The most bytes kept idle. */
  static readonly MAX_KEPT = 128 * 1024 * 1024;
  #idle = new Map<number, ArrayBuffer[]>();
  #kept = 0;

  /** Bytes kept idle now. */
  get kept(): number {
    return this.#kept;
  }

  /** An idle buffer of `size` bytes, if one is kept; the shelf forgets it. */
  take(size: number): ArrayBuffer | undefined {
    const buffer = this.#idle.get(size)?.pop();
    if (buffer) this.#kept -= size;
    return buffer;
  }

  /** Keeps `buffer` idle, if it fits or smaller ones can make way for it. */
  put(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (size > Shelf.MAX_KEPT) return;
    if (this.#kept + size > Shelf.MAX_KEPT) this.#makeRoom(size);
    if (this.#kept + size > Shelf.MAX_KEPT) return;
    this.#kept += size;
    const idle = this.#idle.get(size);
    if (idle) idle.push(buffer);
    else this.#idle.set(size, [buffer]);
  }

  /** Drops idle buffers smaller than `size`, smallest first, until one of `size` fits. */
  #makeRoom(size: number): void {
    for (const smaller of [...this.#idle.keys()].sort((a, b) => a - b)) {
      if (smaller >= size) return;
      const idle = this.#idle.get(smaller)!;
      while (idle.length > 0 && this.#kept + size > Shelf.MAX_KEPT) {
        idle.pop();
        this.#kept -= smaller;
      }
      if (idle.length === 0) this.#idle.delete(smaller);
      if (this.#kept + size <= Shelf.MAX_KEPT) return;
    }
  }
}

/**
 * Buffers lent for copies (by capacity, powers of two), and buffers adopted
 * from `transfer()` (by their exact size), on a shelf each: a 100 MB copy
 * kept idle does not keep a transferred buffer from coming back, nor the
 * reverse.
 *
 * Contract: `take` hands out a view nobody else holds, and `adopt` takes a
 * buffer nobody else can reach any more (its owner transferred it); `give`
 * takes either back once nothing reads it any more (its bytes were written).
 * `takeWhole` hands an adopted buffer out for good: the pool forgets it. At
 * most {@linkcode BufferPool.MAX_KEPT} bytes are kept idle on each shelf.
 */
export class BufferPool {
  /** The most bytes kept idle on each shelf (copies, adopted). */
  static readonly MAX_KEPT = Shelf.MAX_KEPT;
  #copies = new Shelf();
  #adoptedShelf = new Shelf();
  #lent = new WeakSet<ArrayBuffer>();
  #adopted = new WeakSet<ArrayBuffer>();

  /** Bytes kept idle now, on both shelves. */
  get idleBytes(): number {
    return this.#copies.kept + this.#adoptedShelf.kept;
  }

  /** A view of `size` bytes on a buffer of the next power-of-two capacity. */
  take(size: number): Uint8Array {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(size, 1)));
    const buffer = this.#copies.take(capacity) ?? new ArrayBuffer(capacity);
    this.#lent.add(buffer);
    return new Uint8Array(buffer, 0, size);
  }

  /**
   * A buffer of exactly `size` bytes, whole, for the caller to keep: an idle
   * adopted one of that size if there is one, else a new one. Its old bytes
   * are the caller's to overwrite, all of them, before anyone else sees it.
   */
  takeWhole(size: number): Uint8Array {
    const buffer = this.#adoptedShelf.take(size);
    return buffer ? new Uint8Array(buffer) : new Uint8Array(size);
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
    if (this.#adopted.delete(buffer)) this.#adoptedShelf.put(buffer);
    else this.#copies.put(buffer);
  }
}

/** The pool of this process. */
export const attachmentBuffers: BufferPool = new BufferPool();

/**
 * A byte queue between a carrier that pushes chunks as events (a Node
 * socket, a WebSocket) and the `read`s of the wire layer.
 *
 * @module
 */

/**
 * Bytes that arrived as events (a Node socket's, a WebSocket's), waiting
 * for `read`s. Contract: one reader at a time. A read returns what is
 * queued first; once nothing is, it returns null when this end closed,
 * throws the failure if there was one, returns null at the end, or waits.
 */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  /** Bytes queued. */
  size = 0;
  #ended = false;
  #closed = false;
  #failure: Error | null = null;
  #wake: (() => void) | null = null;

  /** Whether this end closed it: reads return null from now on. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The first failure, if any. */
  get failure(): Error | null {
    return this.#failure;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.size += chunk.length;
    this.#notify();
  }

  /** No more bytes will come. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** The stream broke: reads throw `error` (the first failure counts). */
  fail(error: Error, replace = false): void {
    if (replace || this.#failure === null) this.#failure = error;
    this.#notify();
  }

  /** Drops what is queued. */
  clear(): void {
    this.#chunks.length = 0;
    this.size = 0;
  }

  /** This end closed: reads return what is queued, then null. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  async read(into: Uint8Array): Promise<number | null> {
    while (this.size === 0) {
      if (this.#closed) return null;
      if (this.#failure) throw this.#failure;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const head = this.#chunks[0];
    const count = Math.min(into.length, head.length);
    into.set(head.subarray(0, count));
    if (count === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(count);
    this.size -= count;
    return count;
  }

  #notify(): void {
    this.#wake?.();
    this.#wake = null;
  }
}

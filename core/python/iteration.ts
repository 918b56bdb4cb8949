/**
 * `for await` over a Python iterable: BUFFITER in batches that grow from 16
 * to 1 024 items, so a list of a thousand items costs a handful of round
 * trips rather than a thousand.
 *
 * @module
 */

import { Handle } from "./envelope.ts";
import type { PySession } from "./session.ts";

const FIRST_BATCH = 16;
const LARGEST_BATCH = 1024;

/**
 * A local async iterator over a Python iterator netref. It owns one
 * reference to that iterator and gives it back when the iteration ends (or
 * is left early).
 */
export class PyIterator implements AsyncIterator<unknown> {
  #session: PySession;
  #iterator: unknown;
  #buffer: readonly unknown[] = [];
  #next = 0;
  #batch = FIRST_BATCH;
  #done = false;

  /** Iterates `iterator` (a netref the session received) of `session`. */
  constructor(session: PySession, iterator: unknown) {
    this.#session = session;
    this.#iterator = iterator;
  }

  /** The next item, fetching the next batch when the buffer is empty. */
  async next(): Promise<IteratorResult<unknown>> {
    if (this.#next < this.#buffer.length) return { done: false, value: this.#buffer[this.#next++] };
    if (this.#done) return { done: true, value: undefined };
    try {
      const items = await this.#session.request(Handle.BuffIter, [this.#iterator, this.#batch]);
      this.#buffer = items as readonly unknown[];
    } catch (error) {
      this.#finish();
      throw error;
    }
    this.#next = 0;
    this.#batch = Math.min(this.#batch * 2, LARGEST_BATCH);
    if (this.#buffer.length === 0) {
      this.#finish();
      return { done: true, value: undefined };
    }
    return { done: false, value: this.#buffer[this.#next++] };
  }

  /** Leaves the iteration early. */
  return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.#finish();
    return Promise.resolve({ done: true, value });
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#buffer = [];
    this.#session.boxer.giveBackValue(this.#iterator);
  }
}

/**
 * The consumer's side of remote iteration: an async iterator that prefetches
 * a remote iterator's items in batches (BATCH), within a credit window.
 *
 * Contract: the remote iterator never runs more than `window` items ahead of
 * what this iterator has handed out (items buffered here plus items asked for
 * never exceed the window), so a generator's side effects run at most that
 * far ahead. A growing iterator starts with a credit of 256 items (or the
 * window, if smaller: {@linkcode firstCredit}) and quadruples it, up to the
 * window ({@linkcode grownCredit}), each time the consumer has caught up
 * with the batches and waits for one: a consumer that works on each item
 * keeps the producer close, one that only collects gets the round trips a
 * large window saves. A window of 1 is lock-step: one NEXT per item, asked for only when
 * the consumer asks, and values passed to `next(value)` reach the remote
 * generator. Errors arrive at the item where they happened; `return()` (a
 * `break`) runs the remote generator's `finally` unless it has finished.
 *
 * @module
 */

import { checkBatchAnswer } from "../session/iteration.ts";
import { Op } from "../wire/messages.ts";

/** The credit a growing iteration starts with: what it asks for first. */
const FIRST_CREDIT = 256;

/** A growing iteration's first credit within `window`. */
export function firstCredit(window: number): number {
  return Math.min(window, FIRST_CREDIT);
}

/** The credit after `credit` proved too small (the consumer waited): four times it, within `window`. */
export function grownCredit(credit: number, window: number): number {
  return Math.min(window, credit * 4);
}

/** How a prefetching iterator reaches its remote iterator (which the caller opened). */
export interface RemoteSteps {
  /** Sends NEXT, RETURN or BATCH with `arg` to the remote iterator; resolves with the answer. */
  step(op: typeof Op.Next | typeof Op.Return | typeof Op.Batch, arg: unknown): Promise<unknown>;
  /** Releases the remote iterator (it is done, or left). Called once. */
  release(): void;
}

/** Options of a remote iteration. */
export interface IterateOptions {
  /**
   * Items the producer may run ahead of the consumer, from 1 (lock-step: one
   * round trip per item) to 65 536. The iteration starts 256 items ahead (or
   * the window, if smaller) and goes further, up to the window, only while
   * the loop keeps waiting for items.
   * @default {16_384} (or the connection's `iterationWindow`)
   */
  window?: number;
}

/** What follows the buffered items: the end, an error, or (null) more to ask for. */
type Ending = { done: true; value: unknown } | { done: false; error: unknown } | null;

/** An async iterator over a remote iterator, prefetching within a window. */
export class PrefetchingIterator implements AsyncIterableIterator<unknown> {
  readonly #steps: RemoteSteps;
  readonly #window: number;
  /** Items buffered plus asked for may reach this: the window, or less while growing. */
  #credit: number;
  /** One NEXT per item, asked for when the consumer asks (window 1, nothing pushed). */
  readonly #lockStep: boolean;
  #buffer: unknown[] = [];
  #head = 0;
  #inFlight: Promise<void> | null = null;
  #ending: Ending = null;
  #released = false;
  /** Calls to `next` and `return` run one after another, in the order made. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Calls to `next` and `return` made and not finished (the queue's length). */
  #turns = 0;

  /**
   * Iterates the remote iterator `steps` reach, `window` items ahead at most:
   * from the start when `growing` is false, else growing into it. `first` is
   * a batch of `window` items the producer sends unasked (a pushed stream's
   * first chunks), if one is on its way.
   */
  constructor(
    steps: RemoteSteps,
    window: number,
    { growing = false, first = null }: { growing?: boolean; first?: Promise<unknown> | null } = {},
  ) {
    this.#steps = steps;
    this.#window = window;
    this.#credit = growing ? firstCredit(window) : window;
    this.#lockStep = window === 1 && first === null;
    if (first) this.#inFlight = this.#receive(first, window);
  }

  /** The next item; `value` reaches the remote generator only in lock-step (window 1). */
  next(value?: unknown): Promise<IteratorResult<unknown>> {
    // The usual case, an item here and no call before this one still running: no turn to wait.
    if (this.#turns === 0 && !this.#lockStep && value === undefined && this.#hasBuffered()) {
      return Promise.resolve(this.#takeBuffered());
    }
    return this.#inTurn(() => this.#lockStep ? this.#stepOnce(value) : this.#take(value));
  }

  /** Leaves the iteration: the remote generator's `finally` runs, unless it has finished. */
  return(value?: unknown): Promise<IteratorResult<unknown>> {
    return this.#inTurn(async () => {
      const open = this.#ending === null;
      this.#ending = { done: true, value };
      this.#buffer = [];
      this.#inFlight?.catch(() => {}); // Items asked for and not wanted any more.
      if (open && !this.#released) {
        await this.#steps.step(Op.Return, value).finally(() => this.#release());
      }
      return { done: true, value };
    });
  }

  /** This iterator. */
  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    this.#turns++;
    const turn = this.#queue.then(work).finally(() => this.#turns--);
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #stepOnce(value: unknown): Promise<IteratorResult<unknown>> {
    const ending = this.#ending;
    if (ending) return this.#finish(ending);
    try {
      const step = await this.#steps.step(Op.Next, value) as IteratorResult<unknown>;
      if (step.done) this.#end({ done: true, value: step.value });
      return { done: Boolean(step.done), value: step.value };
    } catch (error) {
      this.#end({ done: true, value: undefined });
      throw error;
    }
  }

  async #take(value: unknown): Promise<IteratorResult<unknown>> {
    if (value !== undefined) {
      throw new TypeError(
        "a prefetching remote iteration cannot pass values to next(); iterate with window 1",
      );
    }
    while (!this.#hasBuffered()) {
      const ending = this.#ending;
      if (ending) return this.#finish(ending);
      if (this.#inFlight) {
        // Caught up with the producer: a larger credit would have spared this wait.
        this.#credit = grownCredit(this.#credit, this.#window);
        await this.#inFlight;
      } else {
        await this.#ask();
      }
    }
    return this.#takeBuffered();
  }

  #hasBuffered(): boolean {
    return this.#head < this.#buffer.length;
  }

  #takeBuffered(): IteratorResult<unknown> {
    const item = this.#buffer[this.#head];
    this.#buffer[this.#head++] = undefined;
    this.#refill();
    return { done: false, value: item };
  }

  /** Asks for more when the buffer has run down to half the credit. */
  #refill(): void {
    const buffered = this.#buffer.length - this.#head;
    if (this.#ending || this.#inFlight || buffered > this.#credit >> 1) return;
    void this.#ask().catch(() => {});
  }

  #ask(): Promise<void> {
    const count = this.#credit - (this.#buffer.length - this.#head);
    const batch = this.#receive(this.#steps.step(Op.Batch, count), count);
    this.#inFlight = batch;
    return batch;
  }

  /**
   * Takes in a batch of at most `count` items on its way (asked for or
   * pushed); it is in flight until it comes. A malformed one ends the
   * iteration with its error.
   */
  #receive(answer: Promise<unknown>, count: number): Promise<void> {
    return answer.then((answer) => checkBatchAnswer(answer, count)).then(
      (answer) => {
        const [items, done, returned] = answer;
        if (this.#ending) return; // Left meanwhile.
        this.#buffer = this.#hasBuffered() ? this.#buffer.slice(this.#head).concat(items) : items;
        this.#head = 0;
        if (done) this.#end({ done: true, value: returned });
      },
      (error) => {
        if (!this.#ending) this.#end({ done: false, error });
      },
    ).finally(() => {
      this.#inFlight = null;
    });
  }

  /** What follows the last item: the end (every time), or its error (once, then the end). */
  #finish(ending: NonNullable<Ending>): IteratorResult<unknown> {
    if (ending.done) return { done: true, value: ending.value };
    this.#ending = { done: true, value: undefined };
    throw ending.error;
  }

  #end(ending: NonNullable<Ending>): void {
    this.#ending = ending;
    this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#steps.release();
  }
}

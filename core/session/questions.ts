/**
 * The caller's table of requests awaiting answers, with their timeouts and
 * abort signals.
 *
 * @module
 */

import { Deadlines } from "./deadlines.ts";
import type { Question } from "./engine.ts";
import { TimeoutError } from "../errors.ts";

/**
 * The caller's table of requests awaiting their answers, with their timeouts
 * and abort signals.
 *
 * Contract: `take` removes a request and disarms its timer and signal
 * listener; each request is taken at most once. `onGiveUp(seq, reason)` is
 * called when a timeout expires or a signal aborts, while the request is
 * still pending; it is expected to `take` it.
 */
export class QuestionTable {
  #pending = new Map<number, Question>();
  /** Per request: its timeout in ms, kept only for the error message when it expires. */
  #timeouts = new Map<number, number>();
  /** Per request with an abort signal: how to stop listening to it. */
  #abortListeners = new Map<number, () => void>();
  #deadlines: Deadlines;
  #onGiveUp: (seq: number, reason: unknown) => void;

  readonly #usualTimeout: number;

  /** See the class contract; `usualTimeout` is the connection's default timeout. */
  constructor(onGiveUp: (seq: number, reason: unknown) => void, usualTimeout: number) {
    this.#onGiveUp = onGiveUp;
    this.#usualTimeout = usualTimeout;
    this.#deadlines = new Deadlines(
      (seq) => this.#pending.has(seq),
      (seq) => {
        const ms = this.#timeouts.get(seq) ?? this.#usualTimeout;
        onGiveUp(seq, new TimeoutError(`request #${seq} timed out after ${ms} ms`));
      },
    );
  }

  /** Requests awaiting answers. */
  get size(): number {
    return this.#pending.size;
  }

  /** Records a sent request; `timeout` 0 or Infinity means none. */
  add(question: Question, timeout: number, signal: AbortSignal | undefined): void {
    const seq = question.seq;
    if (timeout > 0 && Number.isFinite(timeout)) {
      this.#deadlines.add(seq, timeout);
      // Most requests share the connection's timeout: keep only the others.
      if (timeout !== this.#usualTimeout) this.#timeouts.set(seq, timeout);
    }
    if (signal) {
      const onAbort = () => this.#onGiveUp(seq, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#abortListeners.set(seq, () => signal.removeEventListener("abort", onAbort));
    }
    this.#pending.set(seq, question);
  }

  /** Whether request `seq` awaits its answer. */
  has(seq: number): boolean {
    return this.#pending.has(seq);
  }

  /** Removes request `seq`, if it is pending, and returns its question. */
  take(seq: number): Question | undefined {
    const question = this.#pending.get(seq);
    if (!question) return undefined;
    this.#pending.delete(seq);
    this.#deadlines.settle(seq);
    if (this.#timeouts.size > 0) this.#timeouts.delete(seq);
    if (this.#abortListeners.size > 0) {
      this.#abortListeners.get(seq)?.();
      this.#abortListeners.delete(seq);
    }
    return question;
  }

  /** Fails every pending request with `reason` and stops all timers. */
  failAll(reason: unknown): void {
    this.#deadlines.clear();
    for (const seq of [...this.#pending.keys()]) this.take(seq)!.fail(reason);
  }
}

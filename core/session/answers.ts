/**
 * The answer table: the peer's requests this end is serving, and their
 * answers, kept while the peer may still pipeline on them (Cap'n Proto's
 * answers table).
 *
 * @module
 */

import type { IncomingCall } from "./dispatch.ts";
import { LimitError, peerFault } from "../errors.ts";
import type { Budget } from "../wire/budget.ts";
import { unwrapMarker } from "../wire/markers.ts";

/** One of the peer's requests, from arrival until the peer no longer needs its answer. */
export interface Answer {
  /**
   * The outcome: the value, or a promise of it (a rejected one if the call
   * threw). Pipelined requests await it. Set by the server right after `open`.
   */
  outcome: unknown;
  /** The served call's context (its abort signal). */
  readonly call: IncomingCall;
  /** The call has ended. */
  settled: boolean;
  /** The peer sent FINISH (or CANCEL) for it. */
  finished: boolean;
  /** The peer gave up on it: no reply is sent. */
  cancelled: boolean;
}

/**
 * Answers of one connection, by the peer's sequence numbers.
 *
 * Contract: an answer holds one unit of the pending-requests budget from
 * `open` until it leaves the table, once both settled and finished. A
 * request refused for lack of budget keeps only its error, until FINISH, so
 * that requests pipelined on it fail with it; a peer that lets as many
 * refusals pile up as the budget allows is cut off. `open` and `valueOf`
 * throw `ProtocolError` for requests an honest peer never sends.
 */
export class AnswerTable {
  #answers = new Map<number, Answer>();
  #refused = new Map<number, LimitError>();
  #serving = 0;
  #cleared = false;
  readonly #budget: Budget;

  /** Answers take room from `budget` (the connection's, inside a server's). */
  constructor(budget: Budget) {
    this.#budget = budget;
  }

  /** Answers kept (running or awaiting FINISH). */
  get size(): number {
    return this.#answers.size;
  }

  /** Calls still running. */
  get serving(): number {
    return this.#serving;
  }

  /**
   * Records a new request; null when the budget has no room (the caller
   * refuses it, see {@linkcode AnswerTable.refuse}).
   *
   * @throws {ProtocolError} for a duplicate number.
   */
  open(seq: number, call: IncomingCall): Answer | null {
    if (this.#answers.has(seq) || this.#refused.has(seq)) {
      throw peerFault(`duplicate request #${seq}`);
    }
    // After `clear`, nothing may take budget it would never give back.
    if (this.#cleared || !this.#budget.tryTake(1)) return null;
    const answer: Answer = {
      outcome: undefined,
      call,
      settled: false,
      finished: false,
      cancelled: false,
    };
    this.#answers.set(seq, answer);
    this.#serving++;
    return answer;
  }

  /**
   * Records request `seq` as refused with `error`, and returns the error.
   *
   * @throws {ProtocolError} for a duplicate number, or when refusals the peer
   *   never finished reach the connection's own budget.
   */
  refuse(seq: number, error: LimitError): LimitError {
    if (this.#answers.has(seq) || this.#refused.has(seq)) {
      throw peerFault(`duplicate request #${seq}`);
    }
    if (this.#refused.size >= this.#budget.limit) {
      throw peerFault(`peer left ${this.#refused.size} refused requests without FINISH`);
    }
    this.#refused.set(seq, error);
    return error;
  }

  /** Why there is no room for one more request: the budget that is full, as an error. */
  busy(): LimitError {
    const full = this.#budget.used >= this.#budget.limit || !this.#budget.parent
      ? this.#budget
      : this.#budget.parent;
    return new LimitError(
      `request refused: ${full.name} are at their limit of ${full.limit}`,
    );
  }

  /**
   * The value of answer `seq`, for a request pipelined on it: the value itself,
   * not a `ref()`/`byValue()` marker that chose how it travels.
   *
   * @throws {ProtocolError} for an unknown answer; the call's error if it failed.
   */
  async valueOf(seq: number): Promise<unknown> {
    const answer = this.#answers.get(seq);
    if (!answer) {
      const refusal = this.#refused.get(seq);
      if (refusal) throw refusal;
      throw peerFault(`unknown answer #${seq}`);
    }
    return unwrapMarker(await answer.outcome);
  }

  /** The call behind `seq` ended; returns whether the peer still wants a reply. */
  settle(seq: number, answer: Answer): boolean {
    this.#serving--;
    answer.settled = true;
    if (answer.finished) this.#delete(seq);
    return !answer.cancelled;
  }

  #delete(seq: number): void {
    if (this.#answers.delete(seq)) this.#budget.give(1);
  }

  /** FINISH: the peer no longer needs these answers. Unknown numbers are ignored. */
  finish(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const answer = this.#answers.get(seq);
      if (!answer) {
        this.#refused.delete(seq);
        continue;
      }
      answer.finished = true;
      if (answer.settled) this.#delete(seq);
    }
  }

  /**
   * CANCEL: abort the call's signal (unless it already ended) and send no
   * reply. Unknown numbers are ignored.
   */
  cancel(seq: number): void {
    const answer = this.#answers.get(seq);
    if (!answer) {
      this.#refused.delete(seq);
      return;
    }
    answer.cancelled = true;
    if (!answer.settled) {
      answer.call.abort(new DOMException("the caller cancelled the call", "AbortError"));
    }
    this.finish([seq]);
  }

  /**
   * The connection closed: abort every running call (not those that ended,
   * kept only until the peer's FINISH), give back the budget, forget
   * everything, and open nothing from now on.
   */
  clear(reason: Error): void {
    this.#cleared = true;
    for (const answer of this.#answers.values()) {
      if (!answer.settled) answer.call.abort(reason);
    }
    this.#budget.give(this.#answers.size);
    this.#answers.clear();
    this.#refused.clear();
  }
}

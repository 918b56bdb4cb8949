/**
 * The answer table: the peer's requests this end is serving, and their
 * answers, kept while the peer may still pipeline on them (Cap'n Proto's
 * answers table).
 *
 * @module
 */

import type { IncomingCall } from "./dispatch.ts";
import { peerFault } from "../errors.ts";
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
 * Contract: an answer leaves the table once it is both settled and finished,
 * whichever comes last. `open` and `valueOf` throw `ProtocolError`
 * for requests an honest peer never sends.
 */
export class AnswerTable {
  #answers = new Map<number, Answer>();
  #serving = 0;

  /** Answers kept (running or awaiting FINISH). */
  get size(): number {
    return this.#answers.size;
  }

  /** Calls still running. */
  get serving(): number {
    return this.#serving;
  }

  /** Whether request `seq` has an answer here. */
  has(seq: number): boolean {
    return this.#answers.has(seq);
  }

  /**
   * Records a new request.
   *
   * @throws {ProtocolError} for a duplicate number, or more than `maxServing`
   *   answers (running or awaiting FINISH) at once.
   */
  open(seq: number, call: IncomingCall, maxServing: number): Answer {
    if (this.#answers.has(seq)) throw peerFault(`duplicate request #${seq}`);
    // Running calls and answers kept for pipelining both cost memory: a peer
    // that never sends FINISH fills the table and is cut off.
    if (this.#answers.size >= maxServing) {
      throw peerFault(`peer exceeded ${maxServing} pending requests (running or unfinished)`);
    }
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
   * The value of answer `seq`, for a request pipelined on it: the value itself,
   * not a `ref()`/`byValue()` marker that chose how it travels.
   *
   * @throws {ProtocolError} for an unknown answer; the call's error if it failed.
   */
  async valueOf(seq: number): Promise<unknown> {
    const answer = this.#answers.get(seq);
    if (!answer) throw peerFault(`unknown answer #${seq}`);
    return unwrapMarker(await answer.outcome);
  }

  /** The call behind `seq` ended; returns whether the peer still wants a reply. */
  settle(seq: number, answer: Answer): boolean {
    this.#serving--;
    answer.settled = true;
    if (answer.finished) this.#answers.delete(seq);
    return !answer.cancelled;
  }

  /** FINISH: the peer no longer needs these answers. Unknown numbers are ignored. */
  finish(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const answer = this.#answers.get(seq);
      if (!answer) continue;
      answer.finished = true;
      if (answer.settled) this.#answers.delete(seq);
    }
  }

  /** CANCEL: abort the call's signal and send no reply. Unknown numbers are ignored. */
  cancel(seq: number): void {
    const answer = this.#answers.get(seq);
    if (!answer) return;
    answer.cancelled = true;
    answer.call.abort(new DOMException("the caller cancelled the call", "AbortError"));
    this.finish([seq]);
  }

  /** The connection closed: abort every running call and forget everything. */
  clear(reason: Error): void {
    for (const answer of this.#answers.values()) answer.call.abort(reason);
    this.#answers.clear();
  }
}

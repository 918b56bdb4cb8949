/**
 * Request timeouts with one timer instead of one per request.
 *
 * @module
 */

import { unrefTimer } from "../platform.ts";

/**
 * Deadlines of pending requests, kept in the order they were added.
 *
 * Requests that share a connection's default timeout expire in send order, so
 * one timer armed for the oldest deadline serves them all; a request whose
 * deadline would come before the newest one (a shorter per-call timeout) gets
 * a timer of its own. Entries for requests that were answered are dropped
 * lazily, when they reach the head.
 *
 * Contract: `isPending(seq)` says whether a request still waits; `expire(seq)`
 * is called at most once per added request, only while it is pending.
 */
export class Deadlines {
  #seqs: number[] = [];
  #times: number[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;
  #isPending: (seq: number) => boolean;
  #expire: (seq: number) => void;
  #own = new Map<number, ReturnType<typeof setTimeout>>();

  /** See the class contract. */
  constructor(isPending: (seq: number) => boolean, expire: (seq: number) => void) {
    this.#isPending = isPending;
    this.#expire = expire;
  }

  /** Expires `seq` after `ms` milliseconds unless it is answered first. */
  add(seq: number, ms: number): void {
    const deadline = Date.now() + ms;
    this.#dropAnswered();
    const last = this.#times.length > this.#head ? this.#times[this.#times.length - 1] : -Infinity;
    if (deadline < last) {
      this.#armOwn(seq, deadline);
      return;
    }
    this.#seqs.push(seq);
    this.#times.push(deadline);
    this.#arm();
  }

  /** Forgets a request's own timer, if it has one (the shared queue cleans itself). */
  settle(seq: number): void {
    const timer = this.#own.get(seq);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#own.delete(seq);
    }
  }

  /** Stops every timer. */
  clear(): void {
    clearTimeout(this.#timer);
    for (const timer of this.#own.values()) clearTimeout(timer);
    this.#own.clear();
    this.#seqs = [];
    this.#times = [];
    this.#head = 0;
    this.#armedFor = Infinity;
  }

  /** A timer for one request, re-armed until its deadline (timers cap at about 24.8 days). */
  #armOwn(seq: number, deadline: number): void {
    const timer = setTimeout(() => {
      this.#own.delete(seq);
      if (!this.#isPending(seq)) return;
      if (Date.now() < deadline) this.#armOwn(seq, deadline);
      else this.#expire(seq);
    }, clampDelay(deadline - Date.now()));
    unrefTimer(timer);
    this.#own.set(seq, timer);
  }

  #dropAnswered(): void {
    while (this.#head < this.#seqs.length && !this.#isPending(this.#seqs[this.#head])) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#seqs.length) {
      this.#seqs = this.#seqs.slice(this.#head);
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(): void {
    if (this.#head >= this.#seqs.length) return;
    const next = this.#times[this.#head];
    if (this.#timer !== undefined && this.#armedFor <= next) return;
    clearTimeout(this.#timer);
    this.#armedFor = next;
    this.#timer = setTimeout(() => this.#fire(), clampDelay(next - Date.now()));
    // Pending requests do not keep the process alive by themselves: the socket does.
    unrefTimer(this.#timer);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    while (this.#head < this.#seqs.length && this.#times[this.#head] <= now) {
      const seq = this.#seqs[this.#head++];
      if (this.#isPending(seq)) this.#expire(seq);
    }
    this.#dropAnswered();
    this.#arm();
  }
}

/** The longest delay `setTimeout` takes; longer deadlines re-arm on expiry. */
const MAX_DELAY_MS = 2 ** 31 - 1;

function clampDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_DELAY_MS);
}

/**
 * Outgoing messages that could not go in line at once, from the first slice
 * of boxing until the channel has placed their last byte.
 *
 * @module
 */

import type { Sending } from "../wire/channel.ts";
import type { InTransit } from "./engine.ts";
import type { OutgoingRefs } from "./object_space.ts";

/**
 * A message on its way out that could not go at once: it is being boxed in
 * slices, or waits for requests it depends on, or travels in chunks.
 *
 * Contract: it is placed at most once and aborted at most once, never both;
 * aborting takes back what its references gave out and runs `onAbort`.
 */
export class Outgoing implements InTransit {
  readonly settled: Promise<void>;
  readonly #resolve: () => void;
  readonly #reject: (reason: unknown) => void;
  readonly #refs: OutgoingRefs;
  readonly #onAbort: () => void;
  #sending: Sending | null = null;
  #state: "preparing" | "sending" | "placed" | "aborted" = "preparing";

  /** `onAbort` runs if the message is given up (after its references are taken back). */
  constructor(refs: OutgoingRefs, onAbort: () => void = () => {}) {
    this.#refs = refs;
    this.#onAbort = onAbort;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    promise.catch(() => {});
    this.settled = promise;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Whether it was given up. */
  get aborted(): boolean {
    return this.#state === "aborted";
  }

  /** The channel took it: in line at once (null), or once `sending` is placed. */
  sent(sending: Sending | null): void {
    if (sending === null) return this.#placed();
    this.#state = "sending";
    this.#sending = sending;
    sending.placed.then(() => this.#placed());
  }

  #placed(): void {
    if (this.#state === "aborted") return;
    this.#state = "placed";
    this.#refs.placed();
    this.#resolve();
  }

  /** Gives it up, unless it is in line already; see {@linkcode InTransit.abort}. */
  abort(reason: unknown): boolean {
    switch (this.#state) {
      case "preparing":
        break;
      case "sending":
        if (!this.#sending!.abort()) return false;
        break;
      case "placed":
      case "aborted":
        return false;
      default:
        this.#state satisfies never;
    }
    this.#state = "aborted";
    this.#refs.rollback();
    this.#onAbort();
    this.#reject(reason);
    return true;
  }
}

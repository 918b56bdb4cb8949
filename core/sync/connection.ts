/**
 * A synchronous connection, as its users see it: a root whose every use
 * blocks until the peer answers, plus `async` for the calls that should
 * overlap.
 *
 * @module
 */

import { ConnectionClosedError } from "../errors.ts";
import type { ConnectionStats, RootObject } from "../session/connection.ts";
import { type Question, type RemoteState, remoteState } from "../session/engine.ts";
import type { ImportEntry } from "../session/imports.ts";
import type { Session } from "../session/session.ts";
import type { ResolvedLimits } from "../wire/limits.ts";
import { Op } from "../wire/messages.ts";
import { syncTimeout, waitUntil } from "./driver.ts";
import type { IoWorker } from "./io_worker.ts";
import { registerWaiter, syncOperation } from "./proxy.ts";
import type { SharedChannel } from "./shared_channel.ts";

/**
 * One synchronous rdc connection. Made by `connectSync` and its siblings.
 *
 * Contract: main thread. Every use of `root` (and of netrefs reached from
 * it) blocks until the answer arrives, serving the peer's requests
 * meanwhile; callbacks therefore run inside whatever synchronous call is
 * waiting. `close()` is idempotent and never throws; `using` closes too.
 */
export class SyncConnection implements Disposable {
  readonly #session: Session;
  readonly #channel: SharedChannel;
  readonly #worker: IoWorker;
  readonly #timeout: number;

  /** Use `connectSync` and its siblings; this wraps a session that is started. */
  constructor(session: Session, channel: SharedChannel, worker: IoWorker, timeout: number) {
    this.#session = session;
    this.#channel = channel;
    this.#worker = worker;
    this.#timeout = timeout;
    registerWaiter(session, {
      wait: (question, what, timeout) => this.#wait(question, what, timeout),
    });
  }

  /**
   * The peer's root object (its service), as a synchronous netref. Typed
   * `any` so that any member may be reached.
   */
  // deno-lint-ignore no-explicit-any
  get root(): any {
    return this.#session.root;
  }

  /** The name of the peer's service, from its handshake. */
  get peerService(): string {
    return this.#session.peerService;
  }

  /** What the connection goes to (`tcp 127.0.0.1:18812`). */
  get description(): string {
    return this.#session.description;
  }

  /** The service instance this end offers the peer. */
  get service(): RootObject {
    return this.#session.service;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#session.closed;
  }

  /** Why the connection closed, once it has. */
  get closeReason(): Error | null {
    return this.#session.closeReason;
  }

  /** The limits this end enforces on what the peer sends. */
  get limits(): Readonly<ResolvedLimits> {
    return this.#session.limits;
  }

  /**
   * Calls `listener` once with the reason when the connection closes (at once
   * if it has). Dispose the result to stop listening.
   */
  onClose(listener: (reason: Error) => void): Disposable {
    return this.#session.onClose(listener);
  }

  /** Table sizes and counters. */
  stats(): ConnectionStats {
    return this.#session.stats();
  }

  /**
   * Pings the peer; returns the round trip in milliseconds.
   *
   * @throws {TimeoutError} after `timeout` ms (default: the connection's).
   */
  ping(timeout?: number): number {
    const started = performance.now();
    const echoed = syncOperation(this.#rootState(), Op.Ping, [], ["rdc-ping"], timeout);
    if (echoed !== "rdc-ping") throw new TypeError("the ping echoed the wrong payload");
    return performance.now() - started;
  }

  /**
   * A deep copy of a remote value (RPyC's `classic.obtain`): class instances
   * arrive as plain objects of the members the peer lets us read; netrefs
   * inside stay netrefs. A local value is returned as it is.
   */
  obtain<T = unknown>(remote: unknown): T {
    const state = this.#ownState(remote, "obtain");
    return state ? syncOperation(state, Op.Copy, [], []) as T : remote as T;
  }

  /**
   * `fn` (a remote function of this connection) with a timeout of its own:
   * the call throws `TimeoutError` after `ms` milliseconds, and the
   * connection stays usable (a late answer is dropped).
   */
  timed<F extends (...args: never[]) => unknown>(fn: F, ms: number): F {
    const state = this.#ownState(fn, "timed")!;
    return ((...args: unknown[]) => syncOperation(state, Op.Call, [], args, ms)) as unknown as F;
  }

  /**
   * `fn` (a remote function of this connection) as a function that returns
   * a promise instead of blocking (RPyC's `async_`): calls made this way
   * overlap, and their answers are handled when the event loop turns (or
   * during any synchronous call). The process stays alive while one runs.
   */
  async<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<Awaited<R>> {
    const state = this.#ownState(fn, "async")!;
    const worker = this.#worker;
    return (...args: A) => {
      const question = this.#session.send(Op.Call, state.base as ImportEntry, [], args, undefined);
      if (question.state !== "pending") return question.promise as Promise<Awaited<R>>;
      worker.hold();
      return question.promise.finally(() => worker.letGo()) as Promise<Awaited<R>>;
    };
  }

  /** Closes the connection, telling the peer why. Idempotent; never throws. */
  close(reason = "connection closed by this end"): void {
    if (this.#session.closed) return;
    this.#session.close(reason);
    // The CLOSE is in the pipe already: let the worker send it and close now.
    this.#channel.close();
  }

  /** Closes the connection (`using conn = connectSync(...)`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Blocks for `question`; see `SyncWaiter`. */
  #wait(question: Question, what: () => string, timeout?: number): unknown {
    const ms = timeout ?? this.#timeout;
    if (question.state === "pending") {
      const settled = waitUntil(this.#worker, () => question.state !== "pending", ms);
      if (!settled) this.#session.abandon(question, syncTimeout(what(), ms));
    }
    if (question.state === "rejected") throw question.value;
    return question.value;
  }

  #rootState(): RemoteState {
    if (this.#session.closed) {
      throw new ConnectionClosedError("the connection is closed", {
        cause: this.#session.closeReason,
      });
    }
    return remoteState(this.#session.root)!;
  }

  /** The state of a netref of this connection (undefined for a local value, when `what` allows). */
  #ownState(value: unknown, what: string): RemoteState | undefined {
    const state = remoteState(value);
    if (state?.engine === this.#session) return state;
    if (state === undefined && what === "obtain") return undefined;
    throw new TypeError(`${what}() expects a netref of this synchronous connection`);
  }
}

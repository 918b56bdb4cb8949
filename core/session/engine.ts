/**
 * The engine contract proxies drive, and the caller's record of one
 * operation: `Engine`, `Question`, and the proxy state (`RemoteState`) that
 * ties a netref to its engine.
 *
 * @module
 */

import type { ImportEntry } from "./imports.ts";
import { type OpCode, RefKind } from "../wire/messages.ts";

/** The state behind one proxy. Immutable; a longer path is a new proxy. */
export interface RemoteState {
  /** The engine the base belongs to. */
  readonly engine: Engine;
  /** What the path starts from. */
  readonly base: ImportEntry | Question;
  /** Property names read from the base. */
  readonly path: readonly string[];
  /** The GET (or AWAIT) sent when this proxy was first awaited. */
  read?: Question;
}

/** The key under which a proxy's target keeps its state. */
export const STATE: unique symbol = Symbol("rdc.remote");
/** The state of a proxy, or undefined for anything that is not one. */
export function remoteState(value: unknown): RemoteState | undefined {
  // Async netrefs are functions; synchronous ones are objects and arrays too.
  return typeof value === "function" || (typeof value === "object" && value !== null)
    ? (value as { [STATE]?: RemoteState })[STATE]
    : undefined;
}

/** `[Remote Counter #12]`, `[Remote Counter #12.count]`, `[Remote answer #3.name]`. */
export function describe(state: RemoteState): string {
  const base = state.base;
  const head = base instanceof Question
    ? `answer #${base.seq}`
    : `${base.kind === RefKind.Function ? "function " : ""}${base.name || "object"} #${base.id}`;
  return `[Remote ${head}${state.path.map((k) => "." + k).join("")}]`;
}

/**
 * Follows `path` through a value that is already here (an answer that
 * arrived), stopping at the first netref on the way: `rest` is the part of the
 * path left for it, empty when the whole path was followed here.
 *
 * @throws {TypeError} when the path runs into `null` or `undefined`.
 */
export function followLocal(
  value: unknown,
  path: readonly string[],
): { parent: unknown; value: unknown; rest: readonly string[] } {
  let parent: unknown = undefined;
  let current = value;
  for (let i = 0; i < path.length; i++) {
    if (remoteState(current)) return { parent, value: current, rest: path.slice(i) };
    if (current === null || current === undefined) {
      throw new TypeError(`cannot read '${path[i]}' of ${current}`);
    }
    parent = current;
    current = (current as Record<string, unknown>)[path[i]];
  }
  return { parent, value: current, rest: [] };
}

/** Per-call options: a timeout in milliseconds (0 = none) and an `AbortSignal`. */
export interface CallOptions {
  /** Milliseconds before the call rejects with `TimeoutError`; 0 waits forever. */
  timeout?: number;
  /** Aborting it rejects the call with the signal's reason and cancels it remotely. */
  signal?: AbortSignal;
}

/**
 * The part of a connection that proxies drive.
 *
 * Contract: `send` never throws; failures (a closed connection, a value that
 * cannot be boxed) come back as a rejected question. `base` belongs to this
 * engine. A question `base` may still be pending: the request is then
 * pipelined on it.
 */
export interface Engine {
  /** Sends one operation on `base` at `path`. */
  send(
    op: OpCode,
    base: ImportEntry | Question,
    path: readonly string[],
    args: unknown[],
    options: CallOptions | undefined,
  ): Question;
  /**
   * Gives up on `question`, still pending (the caller's own deadline passed):
   * it fails with `reason`, and the peer is told to cancel. Idempotent.
   */
  abandon(question: Question, reason: unknown): void;
  /** Releases an import now (a netref was disposed). Idempotent. */
  dispose(entry: ImportEntry): void;
  /** The connection's description, for display. */
  readonly description: string;
  /** Items a remote iteration prefetches at most (the connection's `iterationWindow`). */
  readonly iterationWindow: number;
  /** Chunks a web stream handed over has in flight at most (the connection's `streamWindow`). */
  readonly streamWindow: number;
  /**
   * The first chunks the peer pushes of its stream `entry` (a window's
   * worth: `[items, done, returned]`, as a BATCH answers), or null when no
   * PUSH is on its way for it (it came, or the EXPORT announced none). Once
   * per stream; rejects when the peer's first read failed or the connection closes.
   */
  pushed(entry: ImportEntry): Promise<unknown> | null;
  /** Whether the connection has closed (its `send` then rejects with `ConnectionClosedError`). */
  readonly closed: boolean;
  /** Logs a failure nobody can await (a write through assignment syntax). */
  report(message: string): void;
}

/**
 * A request still on its way out: being boxed in slices, waiting for a
 * request it depends on, or travelling in chunks.
 */
export interface InTransit {
  /**
   * Resolves once the request is in line (whatever is sent later arrives
   * after it); rejects with the reason when it is given up first. Nobody
   * needs to handle the rejection.
   */
  readonly settled: Promise<void>;
  /**
   * Gives the request up, if it is not in line yet: the peer never sees it.
   * Returns whether it was stopped in time. Idempotent.
   */
  abort(reason: unknown): boolean;
}

/**
 * The caller's record of one operation: pending until the answer arrives,
 * then fulfilled or rejected for good. Local evaluations (an operation on an
 * already-resolved value) are questions too, with no engine and no `seq`.
 */
export class Question {
  /** The engine that sent it, or null for a local evaluation. */
  readonly engine: Engine | null;
  /** The request's sequence number (−1 for a local evaluation). */
  readonly seq: number;
  /** Where the question stands. */
  state: "pending" | "fulfilled" | "rejected" = "pending";
  /** The answer, once fulfilled; the reason, once rejected. */
  value: unknown = undefined;
  /**
   * The request while it is still on its way (being encoded, or travelling in
   * chunks); null when it went in line at once. Requests that depend on this
   * one's answer wait for it; giving up on the call aborts it.
   */
  inTransit: InTransit | null = null;
  #promise: Promise<unknown> | null = null;
  #resolve: ((value: unknown) => void) | null = null;
  #reject: ((reason: unknown) => void) | null = null;

  /** Made by an engine's `send`, or by the static helpers for local results. */
  constructor(engine: Engine | null, seq: number) {
    this.engine = engine;
    this.seq = seq;
  }

  /** A question already answered with `value`. */
  static fulfilled(value: unknown): Question {
    const q = new Question(null, -1);
    q.fulfil(value);
    return q;
  }

  /** A question already failed with `reason`. */
  static rejected(reason: unknown): Question {
    const q = new Question(null, -1);
    q.fail(reason);
    return q;
  }

  /** A question answered when `promise` settles. */
  static of(promise: Promise<unknown>): Question {
    const q = new Question(null, -1);
    promise.then((v) => q.fulfil(v), (e) => q.fail(e));
    return q;
  }

  /** The answer as a promise; made on first use so unawaited calls cost no promise. */
  get promise(): Promise<unknown> {
    if (!this.#promise) {
      if (this.state === "fulfilled") this.#promise = Promise.resolve(this.value);
      else if (this.state === "rejected") this.#promise = Promise.reject(this.value);
      else {
        this.#promise = new Promise((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
    }
    return this.#promise;
  }

  /** Settles with a value. Only the first settlement counts. */
  fulfil(value: unknown): void {
    if (this.state !== "pending") return;
    this.state = "fulfilled";
    this.value = value;
    this.#resolve?.(value);
  }

  /** Settles with a reason. Only the first settlement counts. */
  fail(reason: unknown): void {
    if (this.state !== "pending") return;
    this.state = "rejected";
    this.value = reason;
    this.#reject?.(reason);
  }
}

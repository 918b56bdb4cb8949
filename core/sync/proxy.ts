/**
 * Synchronous netrefs: proxies on which plain synchronous code works as on
 * the local object. Every operation is one request, sent at once; the trap
 * blocks until the answer arrives (serving the peer's requests meanwhile,
 * see `driver.ts`) and returns it, or throws what the peer threw. Values
 * come back as values, objects by reference as synchronous netrefs.
 *
 * The target is chosen by the reference's kind so that the language's own
 * checks see the right thing: an array for a remote array (`Array.isArray`),
 * a bound function for a function (`typeof`, `new`; a bound function has no
 * non-configurable `prototype` to list), a plain object otherwise. Proxy
 * invariants then require every remote member to be reported configurable,
 * so a frozen remote object does not look frozen, and `Object.freeze` of a
 * netref is refused.
 *
 * @module
 */

import { rethrowWithCallerStack } from "../errors.ts";
import { firstCredit, grownCredit } from "../netref/iteration.ts";
import { proxyTarget } from "../netref/proxy.ts";
import type { ImportEntry } from "../session/imports.ts";
import { type BatchAnswer, checkBatchAnswer } from "../session/iteration.ts";
import { BLOCKED_NAMES } from "../session/policy.ts";
import {
  describe,
  type Engine,
  type Question,
  type RemoteState,
  remoteState,
  STATE,
} from "../session/engine.ts";
import { Op, type OpCode, RefKind } from "../wire/messages.ts";

/** How a synchronous netref's requests are waited for: its connection's. */
export interface SyncWaiter {
  /**
   * Blocks until `question` settles (or `timeout` ms, default the
   * connection's, are up), then returns its value or throws its reason.
   * `what` names the operation, for a timeout (asked only then).
   */
  wait(question: Question, what: () => string, timeout?: number): unknown;
}

const waiters = new WeakMap<Engine, SyncWaiter>();

/** Makes `engine`'s netrefs synchronous, waiting with `waiter`. */
export function registerWaiter(engine: Engine, waiter: SyncWaiter): void {
  waiters.set(engine, waiter);
}

/** Whether `value` is a synchronous netref. */
export function isSyncNetref(value: unknown): boolean {
  const state = remoteState(value);
  return state !== undefined && waiters.has(state.engine);
}

/** What every function target is bound from (see the module comment). */
const FUNCTION_TARGET = function () {};

/** Makes the synchronous netref of `state` (an import: a netref proper, no path). */
export function makeSyncProxy(state: RemoteState): object {
  const base = state.base as ImportEntry;
  const target = base.kind === RefKind.Function
    ? FUNCTION_TARGET.bind(null)
    : base.kind === RefKind.Array
    ? []
    : {};
  return new Proxy(proxyTarget(target, state) as unknown as Record<symbol, unknown>, HANDLER);
}

/**
 * Performs `op` on the netref of `state` at `path`, blocking for the answer.
 *
 * @throws what the peer threw; `TimeoutError`; `ConnectionClosedError`;
 *   `ReferenceError` for a netref that was disposed.
 */
export function syncOperation(
  state: RemoteState,
  op: OpCode,
  path: readonly string[],
  args: unknown[],
  timeout?: number,
): unknown {
  if (op !== Op.Get && op !== Op.Has && op !== Op.Keys && op !== Op.Copy) keysSeen = null;
  const base = state.base as ImportEntry;
  if (base.released && !state.engine.closed) {
    throw new ReferenceError(`${describe(state)} was released (disposed)`);
  }
  const waiter = waiters.get(state.engine)!;
  const question = state.engine.send(op, base, path, args, timeout ? { timeout } : undefined);
  try {
    return waiter.wait(question, () => operationName(op, state, path), timeout);
  } catch (error) {
    rethrowWithCallerStack(error);
  }
}

/** `call of [Remote Counter #3].add`, for timeouts. */
function operationName(op: OpCode, state: RemoteState, path: readonly string[]): string {
  const name = (Object.keys(Op) as (keyof typeof Op)[]).find((key) => Op[key] === op) ?? "op";
  return `${name.toLowerCase()} of ${describe({ ...state, path })}`;
}

/**
 * The member names `Object.keys` just fetched, for the descriptor lookups
 * that follow it in the same statement. Dropped by any operation that may
 * change the remote object, and when the event loop turns.
 */
let keysSeen: { state: RemoteState; keys: Set<string> } | null = null;

function remoteKeys(state: RemoteState): Set<string> {
  if (keysSeen?.state === state) return keysSeen.keys;
  const names = syncOperation(state, Op.Keys, [], []) as string[];
  const keys = new Set(
    names.filter((name) => typeof name === "string" && !BLOCKED_NAMES.has(name)),
  );
  if (keysSeen === null) queueMicrotask(() => keysSeen = null);
  keysSeen = { state, keys };
  return keys;
}

/**
 * Iterates a remote iterable: ITER once, then BATCH, blocking, whenever the
 * items fetched are used up (NEXT per item with an `iterationWindow` of 1),
 * and RETURN when left early. The remote iterator never runs further ahead
 * than the batch being used. A batch asks for 256 items (or the window, if
 * smaller) and the next for four times as many, up to the window, whenever
 * the loop used a batch up faster than it took to fetch: a loop that works
 * on each item keeps its batches small, one that only collects soon needs
 * few round trips.
 */
function* iterate(state: RemoteState): Generator<unknown, void, undefined> {
  const iterator = remoteState(syncOperation(state, Op.Iter, [], []))!;
  const window = state.engine.iterationWindow;
  let credit = firstCredit(window);
  let finished = false;
  try {
    while (true) {
      const asked = performance.now();
      const [items, done] = window === 1
        ? nextAsBatch(syncOperation(iterator, Op.Next, [], [undefined]))
        : checkBatchAnswer(syncOperation(iterator, Op.Batch, [], [credit]), credit);
      const fetched = performance.now();
      // Done, the remote iterator has nothing left to run: RETURN would be one request too many.
      finished = done;
      yield* items;
      if (done) return;
      if (performance.now() - fetched < fetched - asked) credit = grownCredit(credit, window);
    }
  } finally {
    // `break`, `return` or a throw in the loop: the remote `finally` runs now.
    if (!finished && !state.engine.closed) syncOperation(iterator, Op.Return, [], [undefined]);
    state.engine.dispose(iterator.base as ImportEntry);
  }
}

/** A NEXT's answer as a BATCH's: its one item, or none at the end. */
function nextAsBatch(step: unknown): BatchAnswer {
  const { done, value } = step as IteratorResult<unknown>;
  return done ? [[], true, value] : [[value], false, undefined];
}

/**
 * Disposes a synchronous netref: runs the remote object's disposer with
 * `error` when its owner said it has one (DISPOSE, blocking), and releases
 * the netref whatever the disposer does.
 *
 * @throws what the disposer threw.
 */
function disposeSync(state: RemoteState, error: unknown): void {
  const base = state.base as ImportEntry;
  try {
    if (base.disposable && !base.released && !state.engine.closed) {
      syncOperation(state, Op.Dispose, [], [error]);
    }
  } finally {
    state.engine.dispose(base);
  }
}

const OBJECT_PROTOTYPE = Object.prototype as unknown as Record<string, unknown>;

function readMember(
  target: Record<symbol, unknown>,
  key: string | symbol,
  receiver: unknown,
): unknown {
  const state = target[STATE] as RemoteState;
  const base = state.base as ImportEntry;
  if (typeof key === "symbol") {
    switch (key) {
      case STATE:
        return state;
      case Symbol.dispose:
        return (error?: unknown) => disposeSync(state, error);
      case Symbol.iterator:
        return () => iterate(state);
      case Symbol.toPrimitive:
        return (hint: string) => syncOperation(state, Op.Primitive, [], [hint]);
      case Symbol.hasInstance:
        if (base.kind !== RefKind.Function) return undefined;
        return (value: unknown) => {
          const other = remoteState(value);
          // Only the peer's own objects can be instances of its classes.
          if (other?.engine !== state.engine) return false;
          return syncOperation(state, Op.InstanceOf, [], [value]);
        };
      default:
        return target[key];
    }
  }
  switch (key) {
    case "then":
      if (base.kind !== RefKind.Promise) return undefined;
      // `await netref` of a remote promise: its value, waited for once the await starts.
      return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
        Promise.resolve().then(() => syncOperation(state, Op.Await, [], [])).then(
          onFulfilled,
          onRejected,
        );
    case "toJSON":
      // JSON.stringify of a netref gives the remote object's JSON: what its own
      // toJSON returns, else a copy of the data the peer lets us read.
      return (key: string) =>
        syncOperation(state, Op.Has, ["toJSON"], [])
          ? syncOperation(state, Op.Call, ["toJSON"], [key])
          : syncOperation(state, Op.Copy, [], []);
    case "toString":
    case "toLocaleString":
      return () => syncOperation(state, Op.Primitive, [], ["string"]);
    case "valueOf":
      return () => receiver;
    case "__proto__":
      return Reflect.getPrototypeOf(target);
  }
  if (BLOCKED_NAMES.has(key)) return key in OBJECT_PROTOTYPE ? OBJECT_PROTOTYPE[key] : undefined;
  return syncOperation(state, Op.Get, [key], []);
}

const HANDLER: ProxyHandler<Record<symbol, unknown>> = {
  get: readMember,
  set(target, key, value) {
    if (typeof key === "symbol" || BLOCKED_NAMES.has(key)) {
      throw new TypeError(`cannot set '${String(key)}' on a remote object`);
    }
    syncOperation(target[STATE] as RemoteState, Op.Set, [key], [value]);
    return true;
  },
  deleteProperty(target, key) {
    if (typeof key === "symbol" || BLOCKED_NAMES.has(key)) {
      throw new TypeError(`cannot delete '${String(key)}' of a remote object`);
    }
    return Boolean(syncOperation(target[STATE] as RemoteState, Op.Delete, [key], []));
  },
  has(target, key) {
    if (typeof key === "symbol") return key in target;
    if (BLOCKED_NAMES.has(key)) return key in OBJECT_PROTOTYPE;
    return Boolean(syncOperation(target[STATE] as RemoteState, Op.Has, [key], []));
  },
  ownKeys(target) {
    const keys = [...remoteKeys(target[STATE] as RemoteState)];
    // An array target's `length` cannot be left out (it is not configurable).
    return Array.isArray(target) ? [...keys.filter((key) => key !== "length"), "length"] : keys;
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key === "symbol") return Reflect.getOwnPropertyDescriptor(target, key);
    const state = target[STATE] as RemoteState;
    if (key === "length" && Array.isArray(target)) {
      const length = syncOperation(state, Op.Get, ["length"], []);
      return { value: length, writable: true, enumerable: false, configurable: false };
    }
    if (!remoteKeys(state).has(key)) return undefined;
    // An accessor: `Object.keys` needs only that it is enumerable, with no round trip per key.
    return {
      get: () => syncOperation(state, Op.Get, [key], []),
      set: (value: unknown) => syncOperation(state, Op.Set, [key], [value]),
      enumerable: true,
      configurable: true,
    };
  },
  defineProperty(target, key, descriptor) {
    if (
      typeof key === "symbol" || !("value" in descriptor) || descriptor.configurable === false
    ) {
      throw new TypeError(
        `cannot define '${String(key)}' on a remote object: only a plain assignment travels`,
      );
    }
    syncOperation(target[STATE] as RemoteState, Op.Set, [key], [descriptor.value]);
    return true;
  },
  preventExtensions() {
    throw new TypeError("a remote object cannot be frozen, sealed or made non-extensible");
  },
  setPrototypeOf() {
    throw new TypeError("the prototype of a remote object cannot be changed");
  },
  apply(target, _thisArg, args) {
    // A function read off a remote object is bound to it there (GET): `this` travels already.
    return syncOperation(target[STATE] as RemoteState, Op.Call, [], args);
  },
  construct(target, args) {
    return syncOperation(target[STATE] as RemoteState, Op.New, [], args) as object;
  },
};

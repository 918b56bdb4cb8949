/**
 * Netrefs: the `Proxy` objects through which remote values are used.
 *
 * Every proxy stands for a base (an import, or a question: the answer to a
 * call) plus a path of property names. Reading a property extends the path
 * and sends nothing. Calling it, or `new`, sends one request at once and
 * returns a proxy for the answer, on which further calls are pipelined. Awaiting
 * a proxy with a path sends one GET. A bare import (a netref proper) is not
 * thenable unless the peer said it is a promise. Plain synchronous code that
 * would need the peer (`JSON.stringify`, `for…of`, enumerating a value not yet
 * here) throws a `TypeError` naming the asynchronous way instead.
 *
 * @module
 */

import type { ImportEntry } from "../session/imports.ts";
import { openIterator, type PrimitiveHint, runDisposer, toPrimitive } from "../session/dispatch.ts";
import { stepBatch, stepIterator } from "../session/iteration.ts";
import { writeToStream } from "../session/streams.ts";
import { rethrowWithCallerStack } from "../errors.ts";
import { BLOCKED_NAMES } from "../session/policy.ts";
import {
  type CallOptions,
  describe,
  type Engine,
  followLocal,
  Question,
  type RemoteState,
  remoteState,
  STATE,
} from "../session/engine.ts";
import { Op, type OpCode, RefKind } from "../wire/messages.ts";
import { PrefetchingIterator } from "./iteration.ts";
import { readableFrom, type StreamSend, writableTo } from "./streams.ts";

const INSPECT = Symbol.for("Deno.customInspect");
const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * Whether `value` is a netref (or a pending remote value) rather than a local
 * object.
 */
export function isRemote(value: unknown): boolean {
  return remoteState(value) !== undefined;
}

/**
 * What every target is bound from. A bound function, unlike a plain one, has
 * no `prototype`: a plain function's is non-configurable, and the `ownKeys`
 * trap would then have to list it among the members. Bound, it still has
 * `typeof` "function" and is constructible, so `apply` and `construct` reach
 * the traps (an arrow or a method would not be constructible).
 */
const TARGET = function () {};

/** Makes a proxy for `state`. */
export function makeProxy(state: RemoteState): object {
  const base = state.base;
  if (state.path.length === 0 && !(base instanceof Question)) {
    // A web stream handed over is a capability: it arrives as a local stream of its kind.
    const release = () => state.engine.dispose(base);
    if (base.kind === RefKind.ReadableStream) {
      const { engine } = state;
      const steps = {
        step: (op: OpCode, arg: unknown) => perform(op, engine, base, [], [arg], undefined).promise,
        release,
      };
      // Its first chunks are on their way, pushed; BATCH on the stream asks for more.
      const chunks = new PrefetchingIterator(steps, engine.streamWindow, {
        first: engine.pushed(base),
      });
      return readableFrom(chunks, release);
    }
    if (base.kind === RefKind.WritableStream) {
      const send: StreamSend = (op, args) =>
        perform(op, state.engine, base, [], args, undefined).promise;
      return writableTo(send, release, state.engine.streamWindow);
    }
  }
  const target = proxyTarget(TARGET.bind(null), state) as unknown as Record<symbol, unknown>;
  return new Proxy(target, HANDLER);
}

/**
 * Makes `target` the target of a netref of `state` (this mode's or the
 * synchronous mode's): it carries the state, and describes itself to
 * inspectors, which look at the target itself, not through the traps.
 */
export function proxyTarget<T extends object>(target: T, state: RemoteState): T {
  const slots = target as unknown as Record<symbol, unknown>;
  slots[STATE] = state;
  slots[INSPECT] = slots[NODE_INSPECT] = inspectTarget;
  return target;
}

/** `[Remote …]` for inspectors; one function for every proxy (`this` is its target). */
function inspectTarget(this: Record<symbol, unknown>): string {
  return describe(this[STATE] as RemoteState);
}

function isThenableState(state: RemoteState): boolean {
  const base = state.base;
  return state.path.length > 0 || base instanceof Question || base.kind === RefKind.Promise;
}

/** Settles a proxy to its value: the answer, a GET of its path, or an AWAIT of a remote promise. */
export function settle(state: RemoteState): Promise<unknown> {
  const base = state.base;
  if (base instanceof Question && state.path.length === 0) return base.promise;
  const op = state.path.length === 0 ? Op.Await : Op.Get;
  state.read ??= perform(op, state.engine, base, state.path, [], undefined);
  return state.read.promise;
}

/**
 * Performs `op` on `base` at `path`: remotely, or — when the base is an answer
 * that already arrived — on that value, following it into whatever netref
 * the path reaches.
 */
export function perform(
  op: OpCode,
  engine: Engine,
  base: ImportEntry | Question,
  path: readonly string[],
  args: unknown[],
  options: CallOptions | undefined,
): Question {
  if (base instanceof Question) {
    if (base.state === "rejected") return Question.rejected(base.value);
    if (base.state === "fulfilled") return performOnValue(op, base.value, path, args, options);
    if (base.engine === null) {
      // A local evaluation still running: continue once it settles.
      return Question.of(
        base.promise.then(() => performOnValue(op, base.value, path, args, options).promise),
      );
    }
  } else if (base.released && !engine.closed) {
    return Question.rejected(
      new ReferenceError(`${describe({ engine, base, path: [] })} was released (disposed)`),
    );
  }
  return engine.send(op, base, path, args, options);
}

function performOnValue(
  op: OpCode,
  value: unknown,
  path: readonly string[],
  args: unknown[],
  options: CallOptions | undefined,
): Question {
  try {
    const reached = followLocal(value, path);
    const state = remoteState(reached.value);
    if (state) {
      return perform(op, state.engine, state.base, [...state.path, ...reached.rest], args, options);
    }
    return localOperation(op, reached.parent, reached.value, path, args);
  } catch (error) {
    return Question.rejected(error);
  }
}

/** An operation on a value that is already here (data, or one of our own objects come back). */
function localOperation(
  op: OpCode,
  parent: unknown,
  value: unknown,
  path: readonly string[],
  args: unknown[],
): Question {
  const holder = parent as Record<string, unknown>;
  const key = path[path.length - 1];
  switch (op) {
    case Op.Get:
    case Op.Copy:
    case Op.Ping:
      return Question.fulfilled(value);
    case Op.Await:
      return Question.of(Promise.resolve(value));
    case Op.Call:
      if (typeof value !== "function") throw new TypeError(`${key ?? "value"} is not a function`);
      return Question.of(Promise.resolve(Reflect.apply(value, parent, args)));
    case Op.New:
      if (typeof value !== "function") {
        throw new TypeError(`${key ?? "value"} is not a constructor`);
      }
      return Question.fulfilled(Reflect.construct(value, args));
    case Op.Set:
      holder[key] = args[0];
      return Question.fulfilled(undefined);
    case Op.Delete:
      return Question.fulfilled(delete holder[key]);
    case Op.Has:
      return Question.fulfilled(Object(holder) === holder && key in holder);
    case Op.Iter:
      // The answer is already here: iterate it in place.
      return Question.fulfilled(openIterator(value, key ?? "value"));
    case Op.Next:
    case Op.Return:
      return Question.of(stepIterator(value, op, args[0]));
    case Op.Batch:
      return Question.of(stepBatch(Object(value), args[0]));
    case Op.Write:
    case Op.Close:
    case Op.Abort:
      return Question.of(writeToStream(value, op, args));
    case Op.Primitive:
      return Question.fulfilled(toPrimitive(value, args[0] as PrimitiveHint));
    case Op.InstanceOf:
      if (typeof value !== "function") throw new TypeError(`${key ?? "value"} is not a class`);
      return Question.fulfilled(args[0] instanceof value);
    case Op.Keys:
      return Question.fulfilled(Object(value) === value ? Object.keys(value as object) : []);
    case Op.Dispose:
      return Question.of(Promise.resolve(runDisposer(value, args[0])));
    default:
      op satisfies never;
      throw new TypeError(`unknown operation ${op}`);
  }
}

function call(op: OpCode, state: RemoteState, args: unknown[], options?: CallOptions): object {
  const question = perform(op, state.engine, state.base, state.path, args, options);
  return makeProxy({ engine: question.engine ?? state.engine, base: question, path: [] });
}

/** Calls a remote function with per-call options (what `timed` builds on). */
export function callWith(remote: unknown, args: unknown[], options: CallOptions): object {
  const state = remoteState(remote);
  if (!state) throw new TypeError("expected a remote function (a netref)");
  return call(Op.Call, state, args, options);
}

/**
 * Disposes a netref: releases it and, when its owner said the object is
 * disposable, runs the object's disposer there with `error` (DISPOSE).
 * Resolves once the disposer has run (at once when there is none), and
 * rejects with what it threw. A netref of an answer not here yet is disposed
 * once the answer arrives; a netref with a path (a member not yet read) has
 * nothing of its own to dispose.
 */
function dispose(state: RemoteState, error: unknown): Promise<void> {
  const base = state.base;
  if (base instanceof Question) {
    if (base.state === "fulfilled") return disposeValue(base.value, error);
    return base.promise.then((value) => disposeValue(value, error), () => {});
  }
  if (state.path.length > 0) return Promise.resolve();
  const disposing = base.disposable && !base.released && !state.engine.closed
    ? perform(Op.Dispose, state.engine, base, [], [error], undefined).promise
    : null;
  // DISPOSE names the object when it is read: the RELEASE that follows cannot take it away.
  state.engine.dispose(base);
  return disposing ? disposing.then(() => {}, rethrowWithCallerStack) : Promise.resolve();
}

function disposeValue(value: unknown, error: unknown): Promise<void> {
  const state = remoteState(value);
  return state ? dispose(state, error) : Promise.resolve();
}

/** Releases the netref `value` (if it is a bare one) without running any disposer. */
function releaseValue(value: unknown): void {
  const state = remoteState(value);
  if (state && !(state.base instanceof Question) && state.path.length === 0) {
    state.engine.dispose(state.base);
  }
}

/**
 * `using`: nothing can wait for the disposer, so a failure of it is
 * reported through the connection's logger.
 */
function disposeNow(state: RemoteState, error: unknown): void {
  dispose(state, error).catch((failure) =>
    state.engine.report(`disposing ${describe(state)} failed: ${failure}`)
  );
}

/**
 * An async iterator over a remote (async) iterable, prefetching items in
 * batches, growing up to `window` ahead (the connection's `iterationWindow`
 * unless given).
 */
export function remoteIterator(
  state: RemoteState,
  window: number = state.engine.iterationWindow,
): PrefetchingIterator {
  const iterator = perform(Op.Iter, state.engine, state.base, state.path, [], undefined);
  return new PrefetchingIterator(
    {
      step: (op, arg) => perform(op, state.engine, iterator, [], [arg], undefined).promise,
      // Done or left, the iterator needs no disposing (that would be one more `return()`).
      release: () => releaseValue(iterator.value),
    },
    window,
    { growing: true },
  );
}

/**
 * `netref.key = value` and `delete netref.key`: sent at once; nobody can await
 * them, so a refusal is reported through the connection's logger instead of
 * vanishing.
 */
function writeWithoutWaiting(op: OpCode, state: RemoteState, key: string, args: unknown[]): void {
  const path = [...state.path, key];
  perform(op, state.engine, state.base, path, args, undefined).promise.catch((error) => {
    const what = op === Op.Set ? "assignment to" : "delete of";
    state.engine.report(`${what} ${describe({ ...state, path })} failed: ${error}`);
  });
}

const OBJECT_PROTOTYPE = Object.prototype as unknown as Record<string, unknown>;

/**
 * The members a netref is known to have without asking: the list its owner
 * sent with a bare import. A property read or an answer has none (what it
 * will be is not here yet), nor has an import sent without one.
 */
function knownMembers(state: RemoteState): ReadonlySet<string> | null {
  const base = state.base;
  return base instanceof Question || state.path.length > 0 ? null : base.members;
}

/** {@linkcode knownMembers}, or a TypeError saying how to get them when there are none. */
function listedMembers(state: RemoteState, what: string): ReadonlySet<string> {
  const members = knownMembers(state);
  if (members) return members;
  throw new TypeError(
    `${what} ${describe(state)}: the member list is not known without asking the peer; ` +
      "await the value first, or copy it with `await obtain(value)`",
  );
}

/**
 * Synchronous iteration (`for…of`, spread, destructuring, `Array.from`)
 * cannot wait for the peer; without this, `Array.from` would silently read
 * the netref as an empty array-like.
 */
function refuseSyncIteration(state: RemoteState): () => never {
  return () => {
    throw new TypeError(
      `${describe(state)} is remote: iterate it with \`for await (const x of …)\``,
    );
  };
}

/** `JSON.stringify` would otherwise drop the netref without a word, as it drops functions. */
function refuseJson(state: RemoteState): () => never {
  return () => {
    throw new TypeError(
      `${describe(state)} is remote and JSON.stringify cannot wait for the peer: ` +
        "serialize a local copy, `JSON.stringify(await obtain(x))`",
    );
  };
}

/** The `get` trap: local answers for plumbing names, a lazy proxy for every other member. */
function readMember(target: Record<symbol, unknown>, key: string | symbol): unknown {
  const state = target[STATE] as RemoteState;
  if (typeof key === "symbol") {
    switch (key) {
      case STATE:
        return state;
      case Symbol.dispose:
        return (error?: unknown) => disposeNow(state, error);
      case Symbol.asyncDispose:
        return (error?: unknown) => dispose(state, error);
      case Symbol.asyncIterator:
        return () => remoteIterator(state);
      case Symbol.iterator:
        return refuseSyncIteration(state);
      case Symbol.toPrimitive:
        return () => describe(state);
      case Symbol.toStringTag:
        return "Remote";
      default:
        return target[key];
    }
  }
  switch (key) {
    case "then":
      if (!isThenableState(state)) return undefined;
      // The rethrow runs in a reaction of its own: there, V8's async stack
      // trace reaches the awaiting caller's frames.
      return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
        settle(state).catch(rethrowWithCallerStack).then(onFulfilled, onRejected);
    case "catch":
      if (!isThenableState(state)) break;
      return (onRejected?: (e: unknown) => unknown) => settle(state).catch(onRejected);
    case "finally":
      if (!isThenableState(state)) break;
      return (onFinally?: () => void) => settle(state).finally(onFinally);
    case "toString":
    case "toLocaleString":
      return () => describe(state);
    case "toJSON":
      return refuseJson(state);
    case "__proto__":
      return Reflect.getPrototypeOf(target);
  }
  if (BLOCKED_NAMES.has(key)) return key in OBJECT_PROTOTYPE ? OBJECT_PROTOTYPE[key] : undefined;
  return makeProxy({ engine: state.engine, base: state.base, path: [...state.path, key] });
}

/**
 * The traps. Enumeration (`Object.keys`, `for…in`, spread into an object)
 * lists the members a bare import arrived with, as own enumerable data
 * properties whose values are the lazy proxies a read gives; where there is
 * no list it throws rather than report none. The target keeps no
 * non-configurable own property and stays extensible (`defineProperty` and
 * `preventExtensions` refuse), which is what lets `ownKeys` and
 * `getOwnPropertyDescriptor` answer from the list within the `Proxy`
 * invariants.
 */
const HANDLER: ProxyHandler<Record<symbol, unknown>> = {
  get: readMember,
  apply(target, _thisArg, args) {
    return call(Op.Call, target[STATE] as RemoteState, args);
  },
  construct(target, args) {
    return call(Op.New, target[STATE] as RemoteState, args);
  },
  set(target, key, value) {
    if (typeof key === "symbol" || BLOCKED_NAMES.has(key)) return false;
    writeWithoutWaiting(Op.Set, target[STATE] as RemoteState, key, [value]);
    return true;
  },
  deleteProperty(target, key) {
    if (typeof key === "symbol" || BLOCKED_NAMES.has(key)) return false;
    writeWithoutWaiting(Op.Delete, target[STATE] as RemoteState, key, []);
    return true;
  },
  has(target, key) {
    if (typeof key === "symbol") return key in target;
    const state = target[STATE] as RemoteState;
    // A netref knows the members its owner let us reach, as of when it arrived.
    const members = knownMembers(state);
    if (members) return members.has(key);
    throw new TypeError(
      `'${key}' in ${describe(state)}: the \`in\` operator cannot wait for the peer; ` +
        `await the value first, or use \`await hasMember(value, "${key}")\``,
    );
  },
  ownKeys(target) {
    const members = listedMembers(target[STATE] as RemoteState, "listing the members of");
    // Symbols stay unlisted: they are this end's plumbing, not the peer's members.
    return [...members].filter((name) => !BLOCKED_NAMES.has(name));
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key === "symbol") return Reflect.getOwnPropertyDescriptor(target, key);
    const members = listedMembers(target[STATE] as RemoteState, `own member '${key}' of`);
    if (!members.has(key) || BLOCKED_NAMES.has(key)) return undefined;
    return { value: readMember(target, key), writable: true, enumerable: true, configurable: true };
  },
  defineProperty(target, key) {
    throw new TypeError(
      `cannot define '${String(key)}' on ${describe(target[STATE] as RemoteState)}: ` +
        "it has no local properties; assign it, or `await setMember(netref, name, value)`",
    );
  },
  preventExtensions(target) {
    throw new TypeError(
      `${describe(target[STATE] as RemoteState)} cannot be frozen, sealed or made ` +
        "non-extensible: it stands for an object the peer owns",
    );
  },
};

/**
 * Sets `netref[key] = value` on the peer and resolves once it is done (or
 * rejects with the peer's refusal). `netref.key = value` does the same without
 * a way to wait.
 */
export function setMember(netref: unknown, key: string, value: unknown): Promise<void> {
  return memberOp(Op.Set, netref, key, [value]) as Promise<void>;
}

/** Deletes `netref[key]` on the peer; resolves with the result of `delete`. */
export function deleteMember(netref: unknown, key: string): Promise<boolean> {
  return memberOp(Op.Delete, netref, key, []) as Promise<boolean>;
}

/** `key in netref`, asked of the peer: true when the member exists and may be reached. */
export function hasMember(netref: unknown, key: string): Promise<boolean> {
  return memberOp(Op.Has, netref, key, []) as Promise<boolean>;
}

function memberOp(op: OpCode, netref: unknown, key: string, args: unknown[]): Promise<unknown> {
  const state = remoteState(netref);
  if (!state) return Promise.reject(new TypeError("expected a netref"));
  if (BLOCKED_NAMES.has(key)) {
    return Promise.reject(new TypeError(`'${key}' is never reachable through a netref`));
  }
  return perform(op, state.engine, state.base, [...state.path, key], args, undefined).promise;
}

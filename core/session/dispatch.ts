/**
 * The callee's side of an operation: following a path under the security
 * policy and doing what the request asks.
 *
 * @module
 */

import { AccessError } from "../errors.ts";
import {
  checkPathSegment,
  isService,
  type ResolvedPolicy,
  resolveMember,
  Restricted,
} from "./policy.ts";
import { ByValue, unwrapMarker } from "../wire/markers.ts";
import type { CopyFilter } from "../wire/values.ts";
import { remoteState } from "./engine.ts";
import { Op, type OpCode } from "../wire/messages.ts";
import type { Connection } from "./connection.ts";
import { stepBatch, stepIterator } from "./iteration.ts";
import { writeToStream } from "./streams.ts";
import { steppedIterator, streamIterator } from "./pushes.ts";
import { isThenable } from "../wire/thenable.ts";

/**
 * What a served call may know about itself. Read it with {@linkcode currentCall}
 * before the function's first `await`.
 */
export interface CallContext {
  /** Fires when the caller cancels the call, times out, or the connection closes. */
  readonly signal: AbortSignal;
  /** The connection the call came in on. */
  readonly connection: Connection;
}

/** A served call's context; the signal is made only if someone asks for it. */
export class IncomingCall implements CallContext {
  /** The connection the call came in on. */
  readonly connection: Connection;
  #controller: AbortController | null = null;
  #reason: unknown = undefined;
  #aborted = false;

  /** One per incoming request. */
  constructor(connection: Connection) {
    this.connection = connection;
  }

  /** The call's abort signal. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the call's signal. Idempotent. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

const isRemote = (value: unknown): boolean => remoteState(value) !== undefined;

let active: CallContext | undefined;

/** Options of {@linkcode currentCall}. */
export interface CurrentCallOptions {
  /**
   * Give `undefined` outside a served call instead of throwing.
   *
   * @default {false}
   */
  optional?: boolean;
}

/**
 * The context of the remote call being served, called synchronously from a
 * function the peer invoked (that is, before its first `await`).
 *
 * @throws {Error} when no remote call is being served here (called from
 *   local code, or after the function's first `await`); pass
 *   `{ optional: true }` to get `undefined` instead.
 * @example
 * ```ts
 * import { currentCall, Service } from "@rdc/rdc";
 * class SlowService extends Service {
 *   async exposed_wait(ms: number): Promise<string> {
 *     const { signal } = currentCall();
 *     await new Promise((resolve) => setTimeout(resolve, ms, { signal }));
 *     return signal.aborted ? "cancelled" : "done";
 *   }
 * }
 * ```
 */
export function currentCall(): CallContext;
/** {@linkcode currentCall}, or `undefined` outside a served call. */
export function currentCall(
  options: CurrentCallOptions & { optional: true },
): CallContext | undefined;
/** {@linkcode currentCall}, throwing outside a served call unless `optional`. */
export function currentCall(options: CurrentCallOptions): CallContext | undefined;
export function currentCall(options: CurrentCallOptions = {}): CallContext | undefined {
  if (active || options.optional) return active;
  throw new Error(
    "currentCall() is only available while a remote call is being served, before the " +
      "function's first await (pass { optional: true } to get undefined instead)",
  );
}

/** Follows `path` from `base` for reading; returns the last holder and value. */
export function walk(
  base: unknown,
  path: readonly string[],
  policy: ResolvedPolicy,
): { parent: unknown; value: unknown } {
  let parent: unknown = undefined;
  let value = base;
  for (const name of path) {
    // A getter may return ref(x) or byValue(x): the path goes on into x.
    value = unwrapMarker(value);
    if (isRemote(value)) {
      // A netref of another connection, exported onward: its owner enforces its own
      // policy, but blocked names stop here.
      checkPathSegment(name);
      parent = value;
      value = (value as Record<string, unknown>)[name];
      continue;
    }
    const member = resolveMember(value, name, "read", policy, isService(value));
    parent = member.holder;
    value = Reflect.get(member.holder, member.name);
  }
  return { parent, value };
}

/**
 * Performs `op` on `base` at `path`, with `context` as the current call while
 * user code starts. Returns the result, or a promise of it when user code is
 * asynchronous; the caller awaits any thenable result before replying. Runs
 * synchronously as far as it can, so a plain call costs no extra ticks.
 *
 * @throws {AccessError} when the policy refuses; whatever user code throws.
 */
export function execute(
  op: OpCode,
  base: unknown,
  path: readonly string[],
  args: unknown[],
  policy: ResolvedPolicy,
  context: CallContext,
): unknown {
  switch (op) {
    case Op.Get: {
      const { parent, value } = walk(base, path, policy);
      return typeof value === "function" && parent !== undefined
        ? boundMethod(parent, value)
        : value;
    }
    case Op.Call: {
      const { parent, value } = walk(base, path, policy);
      if (typeof value !== "function") {
        throw new TypeError(`${path.join(".") || "the target"} is not a function`);
      }
      return invoke(() => Reflect.apply(value, parent, args), context);
    }
    case Op.New: {
      if (!policy.allowConstruct && !isRemote(base)) {
        throw new AccessError(`cannot construct '${path.join(".") || "the target"}'`);
      }
      const { value } = walk(base, path, policy);
      if (typeof value !== "function") {
        throw new TypeError(`${path.join(".") || "the target"} is not a constructor`);
      }
      return invoke(() => Reflect.construct(value, args), context);
    }
    case Op.Set:
    case Op.Delete: {
      const holder = unwrapMarker(walk(base, path.slice(0, -1), policy).value);
      const name = path[path.length - 1];
      if (name === undefined) throw new TypeError("nothing to write: the path is empty");
      if (isRemote(holder)) {
        const remote = holder as Record<string, unknown>;
        if (op === Op.Set) remote[name] = args[0];
        else delete remote[name];
        return op === Op.Set ? undefined : true;
      }
      const access = op === Op.Set ? "write" : "delete";
      const member = resolveMember(holder, name, access, policy, isService(holder));
      if (op === Op.Set) {
        if (!Reflect.set(member.holder, member.name, args[0])) {
          throw new TypeError(`cannot assign to read-only '${name}'`);
        }
        return undefined;
      }
      return Reflect.deleteProperty(member.holder, member.name);
    }
    case Op.Has: {
      const holder = unwrapMarker(walk(base, path.slice(0, -1), policy).value);
      const name = path[path.length - 1];
      if (name === undefined) throw new TypeError("nothing to look for: the path is empty");
      try {
        const member = resolveMember(holder, name, "read", policy, isService(holder));
        return Object(member.holder) === member.holder && member.name in member.holder;
      } catch (error) {
        if (error instanceof AccessError) return false;
        throw error;
      }
    }
    case Op.Iter: {
      const { value } = walk(base, path, policy);
      // A stream handed over has one iterator, whoever steps it (see pushes.ts).
      const iterator = value instanceof ReadableStream
        ? streamIterator(value)
        : openIterator(value, path.join(".") || "the target", (run) => invoke(run, context));
      if (typeof iterator === "object" && iterator !== null) openedIterators.add(iterator);
      return iterator;
    }
    case Op.Next:
    case Op.Return: {
      const iterator = steppedIterator(base, openedIterators);
      return stepIterator(iterator, op, args[0], (run) => invoke(run, context));
    }
    case Op.Batch: {
      const iterator = steppedIterator(base, openedIterators);
      return stepBatch(iterator, args[0], (run) => invoke(run, context));
    }
    case Op.Write:
    case Op.Close:
    case Op.Abort:
      return writeToStream(base, op, args);
    case Op.Await:
      return base;
    case Op.Ping:
      return args[0];
    case Op.Copy: {
      const { value } = walk(base, path, policy);
      if (isRemote(value)) return value; // Another connection's object: forwarded by reference.
      if (typeof value === "function") throw new TypeError("cannot copy a function by value");
      const filter = copyFilter(policy);
      // A promise is copied once it has settled.
      return isThenable(value)
        ? Promise.resolve(value).then((settled) => new ByValue(settled, true, filter))
        : new ByValue(value, true, filter);
    }
    case Op.Primitive: {
      const value = unwrapMarker(walk(base, path, policy).value);
      return invoke(() => toPrimitive(value, args[0] as PrimitiveHint), context);
    }
    case Op.InstanceOf: {
      const { value } = walk(base, path, policy);
      if (typeof value !== "function") {
        throw new TypeError(`${path.join(".") || "the target"} is not a class`);
      }
      return invoke(() => args[0] instanceof value, context);
    }
    case Op.Keys: {
      const holder = unwrapMarker(walk(base, path, policy).value);
      return Object(holder) === holder ? readableKeys(holder as object, policy) : [];
    }
    case Op.Dispose:
      if (path.length > 0) throw new TypeError("DISPOSE takes no path: it disposes its target");
      return invoke(() => disposeTarget(base, args[0]), context);
    default:
      op satisfies never;
      throw new TypeError(`unknown operation ${op}`);
  }
}

/**
 * Runs the disposer of an object the peer held a netref to and disposed
 * (RPyC's remote `__exit__`): its `Symbol.asyncDispose`, else its
 * `Symbol.dispose`, with the error the peer passed (undefined when none).
 * Any policy allows it, as RPyC allows `__exit__`: a disposer is part of
 * what the object was handed out with. A service and a `restricted()` view
 * are never disposed by the peer.
 *
 * @throws {AccessError} for a service or a restricted view; {@linkcode TypeError}
 *   for an object without a disposer; whatever the disposer throws.
 */
export function disposeTarget(target: unknown, error: unknown): unknown {
  if (isService(target) || target instanceof Restricted) {
    throw new AccessError("cannot dispose a service or a restricted view");
  }
  return runDisposer(target, error);
}

/**
 * Calls `target`'s `Symbol.asyncDispose`, else its `Symbol.dispose`, with
 * `error` as the argument.
 *
 * @throws {TypeError} when it has neither; whatever the disposer throws.
 */
export function runDisposer(target: unknown, error: unknown): unknown {
  const holder = Object(target) as Record<symbol, unknown>;
  const disposer = holder[Symbol.asyncDispose] ?? holder[Symbol.dispose];
  if (typeof disposer !== "function") throw new TypeError("the target has no disposer");
  return disposer.call(target, error);
}

/**
 * Opens an iterator on `value` (async first, then sync), running the opening
 * call through `run`.
 *
 * @throws {TypeError} naming `what` when it is not iterable.
 */
export function openIterator(
  value: unknown,
  what: string,
  run = (f: () => unknown) => f(),
): unknown {
  const iterable = Object(value) as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  const open: (() => unknown) | undefined = iterable[Symbol.asyncIterator] ??
    iterable[Symbol.iterator];
  if (typeof open !== "function") throw new TypeError(`${what} is not iterable`);
  return run(() => open.call(value));
}

/** Iterators opened for the peer by ITER: the only targets of NEXT and RETURN. */
const openedIterators = new WeakSet<object>();

const boundMethods = new WeakMap<object, WeakMap<object, unknown>>();

/**
 * A method read off an object, bound to it (RPyC's bound-method netrefs), so
 * `const f = await root.counter.increment; await f()` keeps its `this`. One
 * bound function per (object, method), so it keeps one identity; classes and
 * netrefs are left alone.
 */
// deno-lint-ignore ban-types
function boundMethod(holder: unknown, fn: Function): unknown {
  if (isRemote(fn) || typeof holder !== "object" && typeof holder !== "function") return fn;
  // A function kept in a plain object (a namespace, a record of handlers) is not a method.
  const proto = Object.getPrototypeOf(holder);
  if (proto === Object.prototype || proto === null) return fn;
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return fn;
  let byMethod = boundMethods.get(holder as object);
  if (!byMethod) boundMethods.set(holder as object, byMethod = new WeakMap());
  let bound = byMethod.get(fn);
  if (!bound) {
    bound = Object.defineProperty(fn.bind(holder), "name", { value: fn.name });
    byMethod.set(fn, bound);
  }
  return bound;
}

/** The hint of the language's ToPrimitive. */
export type PrimitiveHint = "string" | "number" | "default";

/**
 * What `String(value)`, `+value` or `` `${value}` `` make of `value` (the
 * language's ToPrimitive with `hint`), done where the value lives.
 *
 * @throws {TypeError} for a hint that is none of the three, and when neither
 *   `toString` nor `valueOf` gives a primitive.
 */
export function toPrimitive(value: unknown, hint: PrimitiveHint): unknown {
  if (hint !== "string" && hint !== "number" && hint !== "default") {
    throw new TypeError(`a primitive's hint is "string", "number" or "default", not ${hint}`);
  }
  if (Object(value) !== value) return value;
  const object = value as Record<string | symbol, unknown>;
  const exotic = object[Symbol.toPrimitive];
  if (typeof exotic === "function") return exotic.call(value, hint);
  const order = hint === "string" ? ["toString", "valueOf"] : ["valueOf", "toString"];
  for (const name of order) {
    const method = object[name];
    if (typeof method !== "function") continue;
    const result = method.call(value);
    if (Object(result) !== result) return result;
  }
  throw new TypeError("cannot convert the object to a primitive value");
}

/**
 * `Object.keys(holder)` as the peer may see it: the own enumerable names it
 * may read under their own names.
 */
function readableKeys(holder: object, policy: ResolvedPolicy): string[] {
  if (holder instanceof Restricted) return [...holder.readable];
  const service = isService(holder);
  return Object.keys(holder).filter((key) => {
    try {
      const member = resolveMember(holder, key, "read", policy, service);
      return member.holder === holder && member.name === key;
    } catch {
      return false;
    }
  });
}

/** Runs user code with `context` current for its synchronous part. */
function invoke(run: () => unknown, context: CallContext): unknown {
  const previous = active;
  active = context;
  try {
    return run();
  } finally {
    active = previous;
  }
}

/**
 * What `obtain` copies of a class instance: its own enumerable members that
 * the policy lets the peer read under their own names. (The policy also lets
 * a name reach `exposed_<name>`; that must not let a field `secret` be copied
 * because a method `exposed_secret` exists.) A restricted view stays a
 * reference.
 */
function copyFilter(policy: ResolvedPolicy): CopyFilter {
  return {
    keys(instance: object): string[] | null {
      return instance instanceof Restricted ? null : readableKeys(instance, policy);
    },
  };
}

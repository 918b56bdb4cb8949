/**
 * Deno values as a Python peer sees them: the type name each is labelled
 * with, the attributes Python may reach (under rdc's policy), and the
 * emulation that makes a JS array passed with `ref()` behave as a `list`, a
 * `Map` as a `dict`, an iterator as an iterator, and an object with a
 * disposer as a context manager (`with`).
 *
 * @module
 */

import {
  BLOCKED_NAMES,
  disposableByPeer,
  isService,
  type Member,
  reachableNames,
  type ResolvedPolicy,
  resolveMember,
} from "../session/policy.ts";
import { disposeTarget } from "../session/dispatch.ts";
import { ByReference } from "../wire/markers.ts";
import { AccessError, peerFault } from "../errors.ts";
import { NOT_IMPLEMENTED, Slice, Tuple } from "./values.ts";
import { PythonError, StopIterationSignal } from "./vinegar.ts";

/** A JS iterator lent to Python: `__next__`, BUFFITER. */
export class LentIterator {
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>;
  /** Wraps `iterator`. */
  constructor(iterator: Iterator<unknown> | AsyncIterator<unknown>) {
    this.#iterator = iterator;
  }

  /** The next item; throws the end of iteration as Python's StopIteration. */
  async next(): Promise<unknown> {
    const step = await this.#iterator.next();
    if (step.done) throw new StopIterationSignal();
    return step.value;
  }

  /** Up to `count` items (fewer at the end). */
  async take(count: number): Promise<unknown[]> {
    const items: unknown[] = [];
    while (items.length < count) {
      const step = await this.#iterator.next();
      if (step.done) break;
      items.push(step.value);
    }
    return items;
  }
}

/** Python's type name for a Deno value going by reference (the id pack's name). */
export function namePack(value: object): string {
  if (typeof value === "function") return "builtins.function";
  if (Array.isArray(value)) return "builtins.list";
  if (value instanceof Map) return "builtins.dict";
  if (value instanceof LentIterator) return "builtins.list_iterator";
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return `deno.${typeof name === "string" && name ? name : "Object"}`;
}

type Method<T> = (self: T, ...args: unknown[]) => unknown;

const missingKey = (key: unknown): PythonError => new PythonError("builtins.KeyError", [key]);

function listIndex(list: unknown[], index: unknown): number {
  const i = Number(index);
  if (!Number.isInteger(i)) {
    throw new PythonError("builtins.TypeError", ["list indices must be integers"]);
  }
  const at = i < 0 ? list.length + i : i;
  if (at < 0 || at >= list.length) {
    throw new PythonError("builtins.IndexError", ["list index out of range"]);
  }
  return at;
}

function sliceOf(list: unknown[], slice: Slice): unknown[] {
  const step = slice.step === null ? 1 : Number(slice.step);
  if (step !== 1) {
    throw new PythonError("builtins.ValueError", ["only step 1 slices of a Deno list"]);
  }
  const start = slice.start === null ? undefined : Number(slice.start);
  const stop = slice.stop === null ? undefined : Number(slice.stop);
  return list.slice(start, stop);
}

function itemsOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  throw new PythonError("builtins.TypeError", [
    "a Deno list extends only by a tuple or list value",
  ]);
}

/** `list` methods of an array lent with `ref()`. */
const LIST: Record<string, Method<unknown[]>> = {
  __len__: (a) => a.length,
  __bool__: (a) => a.length > 0,
  __getitem__: (a, i) => i instanceof Slice ? Tuple.fromItems(sliceOf(a, i)) : a[listIndex(a, i)],
  __setitem__: (a, i, v) => void (a[listIndex(a, i)] = v),
  __delitem__: (a, i) => void a.splice(listIndex(a, i), 1),
  __contains__: (a, v) => a.includes(v),
  __iter__: (a) => new LentIterator(a[Symbol.iterator]()),
  __reversed__: (a) => new LentIterator([...a].reverse()[Symbol.iterator]()),
  append: (a, v) => void a.push(v),
  extend: (a, v) => void a.push(...itemsOf(v)),
  insert: (a, i, v) => void a.splice(Number(i), 0, v),
  pop: (a, i = -1) => a.splice(listIndex(a, i), 1)[0],
  index: (a, v) => {
    const at = a.indexOf(v);
    if (at < 0) throw new PythonError("builtins.ValueError", [`${String(v)} is not in list`]);
    return at;
  },
  count: (a, v) => a.filter((x) => x === v).length,
  clear: (a) => void a.splice(0),
  reverse: (a) => void a.reverse(),
};

/** `dict` methods of a `Map`. */
const DICT: Record<string, Method<Map<unknown, unknown>>> = {
  __len__: (m) => m.size,
  __bool__: (m) => m.size > 0,
  __getitem__: (m, k) => {
    if (!m.has(k)) throw missingKey(k);
    return m.get(k);
  },
  __setitem__: (m, k, v) => void m.set(k, v),
  __delitem__: (m, k) => {
    if (!m.delete(k)) throw missingKey(k);
  },
  __contains__: (m, k) => m.has(k),
  __iter__: (m) => new LentIterator(m.keys()),
  keys: (m) => new ByReference([...m.keys()]),
  values: (m) => new ByReference([...m.values()]),
  items: (m) => new ByReference([...m.entries()].map(([k, v]) => Tuple.fromItems([k, v]))),
  get: (m, k, fallback = null) => m.has(k) ? m.get(k) : fallback,
  pop: (m, k, ...fallback) => {
    if (m.has(k)) {
      const v = m.get(k);
      m.delete(k);
      return v;
    }
    if (fallback.length > 0) return fallback[0];
    throw missingKey(k);
  },
  setdefault: (m, k, v = null) => {
    if (!m.has(k)) m.set(k, v);
    return m.get(k);
  },
  clear: (m) => m.clear(),
};

/** Iterator methods of a {@linkcode LentIterator}. */
const ITERATOR: Record<string, Method<LentIterator>> = {
  __next__: (it) => it.next(),
  __iter__: (it) => it,
  __length_hint__: () => NOT_IMPLEMENTED,
};

function emulation(value: unknown): Record<string, Method<never>> | null {
  if (Array.isArray(value)) return LIST;
  if (value instanceof Map) return DICT;
  if (value instanceof LentIterator) return ITERATOR;
  return null;
}

/**
 * What a Deno object with a disposer (`Symbol.asyncDispose` or
 * `Symbol.dispose`) shows Python so that `with` works on it, as on any RPyC
 * netref: `__enter__` returns the object, and `__exit__` (RPyC's CTXEXIT)
 * runs the disposer with the exception the block raised, if any. Services
 * and `restricted()` views have neither, as rdc's own peers may not dispose
 * them.
 */
const CONTEXT_METHODS = ["__enter__", "__exit__"];

function contextMethod(value: unknown, name: string): ((...args: unknown[]) => unknown) | null {
  if (!CONTEXT_METHODS.includes(name) || !disposableByPeer(value)) return null;
  return name === "__enter__" ? () => value : (_type, error) => exitContext(value, error);
}

/**
 * Leaves a `with` block on `value`: runs its disposer with `error` (the
 * exception the block raised, a netref to it; none when it raised nothing).
 * Resolves with None, so the block's exception, if any, goes on.
 *
 * @throws {PythonError} AttributeError when `value` is no context manager;
 *   whatever its disposer throws.
 */
export async function exitContext(value: unknown, error: unknown): Promise<null> {
  if (!disposableByPeer(value)) throw noAttribute(value, "__exit__");
  await disposeTarget(value, error ?? undefined);
  return null;
}

/** Python's AttributeError for a name `value` lacks. */
function noAttribute(value: unknown, name: string): PythonError {
  const type = typeof value === "object" && value !== null ? namePack(value) : typeof value;
  return new PythonError("builtins.AttributeError", [
    `'${type}' object has no attribute '${name}'`,
  ]);
}

/**
 * `getattr(value, name)` for Python: an emulated method (bound), or the
 * member the policy lets it reach (a method comes bound to its object).
 *
 * @throws {PythonError} AttributeError when there is no such member or the
 * policy refuses it (Python's `hasattr` depends on that type).
 */
export function getAttribute(value: unknown, name: string, policy: ResolvedPolicy): unknown {
  const context = contextMethod(value, name);
  if (context) return context;
  const emulated = emulation(value);
  if (emulated) {
    const method = emulated[name];
    if (!method) throw noAttribute(value, name);
    return (...args: unknown[]) => (method as Method<unknown>)(value, ...args);
  }
  const member = reach(value, name, "read", policy);
  const holder = member.holder as Record<string, unknown>;
  if (!(member.name in holder)) throw noAttribute(value, name);
  const found = holder[member.name];
  return typeof found === "function" && !isClass(found) ? found.bind(holder) : found;
}

/**
 * The member `name` of `value` that the policy lets Python reach for
 * `access`. A refusal, the always-blocked names (`__proto__`,
 * `constructor`, …) included, is Python's AttributeError: what `hasattr` and
 * `getattr(x, name, default)` expect.
 */
function reach(
  value: unknown,
  name: string,
  access: "read" | "write" | "delete",
  policy: ResolvedPolicy,
): Member {
  const verb = access === "read" ? "access" : access;
  if (BLOCKED_NAMES.has(name)) {
    throw new PythonError("builtins.AttributeError", [`cannot ${verb} '${name}'`]);
  }
  try {
    return resolveMember(value, name, access, policy, isService(value));
  } catch (error) {
    if (error instanceof AccessError) {
      throw new PythonError("builtins.AttributeError", [error.message]);
    }
    throw error;
  }
}

/** Whether `fn` is a class (so a Python call means `new`). */
export function isClass(fn: unknown): boolean {
  return typeof fn === "function" &&
    /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** Sets or deletes a member for Python's SETATTR/DELATTR, under the policy. */
export function writeAttribute(
  value: unknown,
  name: string,
  access: "write" | "delete",
  newValue: unknown,
  policy: ResolvedPolicy,
): void {
  const member = reach(value, name, access, policy);
  const holder = member.holder as Record<string, unknown>;
  if (access === "write") holder[member.name] = newValue;
  else delete holder[member.name];
}

/** The names `dir()` shows Python: the emulated methods, or what the policy lets it reach. */
export function attributeNames(value: unknown, policy: ResolvedPolicy): string[] {
  const emulated = emulation(value);
  if (emulated) return Object.keys(emulated).sort();
  if (typeof value !== "object" && typeof value !== "function" || value === null) return [];
  const names = reachableNames(value, policy);
  return disposableByPeer(value) ? [...CONTEXT_METHODS, ...names] : names;
}

/**
 * INSPECT's answer: `(name, doc)` for each method Python may call, read from
 * property descriptors so that no getter runs.
 */
export function methodList(value: unknown, policy: ResolvedPolicy): Tuple {
  const methods: Tuple[] = [];
  for (const name of attributeNames(value, policy)) {
    if (isMethod(value, name, policy)) methods.push(Tuple.fromItems([name, null]));
  }
  return Tuple.fromItems(methods);
}

function isMethod(value: unknown, name: string, policy: ResolvedPolicy): boolean {
  if (emulation(value) || contextMethod(value, name)) return true;
  const member = reach(value, name, "read", policy);
  for (let o: object | null = member.holder; o; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, member.name);
    if (descriptor) return typeof descriptor.value === "function";
  }
  return false;
}

/** One `(name, value)` of a call's keyword arguments. @throws {ProtocolError} for another shape. */
function keywordPair(pair: unknown): [string, unknown] {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
    throw peerFault("rpyc: a keyword argument that is not a (name, value) pair");
  }
  return [pair[0], pair[1]];
}

/**
 * Calls `fn` for Python's CALL: a class is constructed (when the policy
 * allows it), a function applied; keyword arguments arrive as one trailing
 * plain object. The result is awaited.
 */
export async function callFromPython(
  fn: unknown,
  args: readonly unknown[],
  kwargs: readonly unknown[],
  policy: ResolvedPolicy,
): Promise<unknown> {
  if (typeof fn !== "function") {
    throw new PythonError("builtins.TypeError", [`'${typeof fn}' object is not callable`]);
  }
  const all = [...args];
  if (kwargs.length > 0) all.push(Object.fromEntries(kwargs.map(keywordPair)));
  if (isClass(fn)) {
    if (!policy.allowConstruct) {
      throw new PythonError("builtins.TypeError", [`cannot construct ${fn.name}: not allowed`]);
    }
    return Reflect.construct(fn, all);
  }
  return await fn(...all);
}

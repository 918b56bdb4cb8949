/**
 * What JavaScript has no syntax for on a Python object: items, `len`,
 * `repr`, `str`, `hash`, `dir`, truth, equality, comparisons and
 * arithmetic operators. Each takes netrefs of a Python connection (awaited
 * or not) and costs one request (operators two when the first answer is
 * `NotImplemented`).
 *
 * @module
 */

import { Handle, type HandleCode } from "./envelope.ts";
import { PySession } from "./session.ts";
import { NOT_IMPLEMENTED } from "./values.ts";
import { isPythonError } from "./vinegar.ts";
import { obtainValue } from "./obtain.ts";
import { remoteState } from "../session/engine.ts";
import { ImportEntry } from "../session/imports.ts";
import { settle } from "../netref/proxy.ts";

function sessionOf(...values: unknown[]): PySession | null {
  for (const value of values) {
    const engine = remoteState(value)?.engine;
    if (engine instanceof PySession) return engine;
  }
  return null;
}

function requireSession(value: unknown, what: string): PySession {
  const session = sessionOf(value);
  if (!session) throw new TypeError(`${what} expects a netref of a Python connection`);
  return session;
}

function callAttr(target: unknown, name: string, args: unknown[]): Promise<unknown> {
  return requireSession(target, name).request(Handle.CallAttr, [target, name, args, []]);
}

function handler(target: unknown, code: HandleCode, what: string, args: unknown[] = []) {
  return requireSession(target, what).request(code, [target, ...args]);
}

/** `x[key]`. */
export function item(x: unknown, key: unknown): Promise<unknown> {
  return callAttr(x, "__getitem__", [key]);
}

/** `x[key] = value`. */
export async function setItem(x: unknown, key: unknown, value: unknown): Promise<void> {
  await callAttr(x, "__setitem__", [key, value]);
}

/** `del x[key]`. */
export async function delItem(x: unknown, key: unknown): Promise<void> {
  await callAttr(x, "__delitem__", [key]);
}

/** `value in x`. */
export async function contains(x: unknown, value: unknown): Promise<boolean> {
  return Boolean(await callAttr(x, "__contains__", [value]));
}

/** `len(x)`. */
export async function len(x: unknown): Promise<number> {
  return Number(await callAttr(x, "__len__", []));
}

/** `bool(x)`: `__bool__`, else `__len__`, else true (a netref itself is always truthy in JS). */
export async function bool(x: unknown): Promise<boolean> {
  for (const name of ["__bool__", "__len__"]) {
    try {
      return Boolean(await callAttr(x, name, []));
    } catch (error) {
      if (!isPythonError(error, "AttributeError")) throw error;
    }
  }
  return true;
}

/** `repr(x)`. */
export async function repr(x: unknown): Promise<string> {
  return String(await handler(x, Handle.Repr, "repr"));
}

/** `str(x)`. */
export async function str(x: unknown): Promise<string> {
  return String(await handler(x, Handle.Str, "str"));
}

/** `hash(x)`. */
export async function hash(x: unknown): Promise<number | bigint> {
  return await handler(x, Handle.Hash, "hash") as number | bigint;
}

/** `dir(x)`. */
export async function dir(x: unknown): Promise<string[]> {
  return [...await handler(x, Handle.Dir, "dir") as string[]];
}

/** `getattr(x, name)`: also reaches names a proxy keeps for itself (`then`, `toString`). */
export function getattr(x: unknown, name: string): Promise<unknown> {
  return handler(x, Handle.GetAttr, "getattr", [name]);
}

/** The Python type name of a netref (`builtins.list`), known without a round trip; null for a local value. */
export function typeName(x: unknown): string | null {
  const base = remoteState(x)?.base;
  return base instanceof ImportEntry && sessionOf(x) ? base.name : null;
}

/** A comparison of {@linkcode compare}: `eq` is `==`, `lt` is `<`, and so on. */
export type Comparison = "eq" | "ne" | "lt" | "le" | "gt" | "ge";
/** A binary operator of {@linkcode op}, by the name of Python's `operator` module. */
export type Operator =
  | "add"
  | "sub"
  | "mul"
  | "matmul"
  | "truediv"
  | "floordiv"
  | "mod"
  | "pow"
  | "lshift"
  | "rshift"
  | "and"
  | "or"
  | "xor";

/** The comparisons, by Python's method names. */
const COMPARISONS: Readonly<Record<Comparison, string>> = {
  eq: "__eq__",
  ne: "__ne__",
  lt: "__lt__",
  le: "__le__",
  gt: "__gt__",
  ge: "__ge__",
} as const;

/** The binary operators: the method and its reflection. */
const OPERATORS: Readonly<Record<Operator, readonly [string, string]>> = {
  add: ["__add__", "__radd__"],
  sub: ["__sub__", "__rsub__"],
  mul: ["__mul__", "__rmul__"],
  matmul: ["__matmul__", "__rmatmul__"],
  truediv: ["__truediv__", "__rtruediv__"],
  floordiv: ["__floordiv__", "__rfloordiv__"],
  mod: ["__mod__", "__rmod__"],
  pow: ["__pow__", "__rpow__"],
  lshift: ["__lshift__", "__rlshift__"],
  rshift: ["__rshift__", "__rrshift__"],
  and: ["__and__", "__rand__"],
  or: ["__or__", "__ror__"],
  xor: ["__xor__", "__rxor__"],
} as const;

/** `a == b` and the other comparisons, through RPyC's CMP. */
export async function compare(
  a: unknown,
  b: unknown,
  how: Comparison,
): Promise<unknown> {
  const session = sessionOf(a, b);
  if (!session) throw new TypeError(`compare() expects a netref of a Python connection`);
  const [left, right, method] = sessionOf(a) ? [a, b, COMPARISONS[how]] : [b, a, reflected(how)];
  const result = await session.request(Handle.Cmp, [left, right, method]);
  if (result === NOT_IMPLEMENTED && (how === "eq" || how === "ne")) {
    // Python falls back to identity for == and !=.
    return (how === "eq") === (await settleBoth(a, b));
  }
  return result;
}

function reflected(how: Comparison): string {
  const mirror: Record<Comparison, Comparison> = {
    eq: "eq",
    ne: "ne",
    lt: "gt",
    le: "ge",
    gt: "lt",
    ge: "le",
  };
  return COMPARISONS[mirror[how]];
}

async function settleBoth(a: unknown, b: unknown): Promise<boolean> {
  const [x, y] = await Promise.all([a, b].map(settled));
  return x === y;
}

/** A value with any pending netref awaited (a bare netref is already itself). */
function settled(value: unknown): Promise<unknown> | unknown {
  const state = remoteState(value);
  if (!state || (state.base instanceof ImportEntry && state.path.length === 0)) return value;
  return settle(state);
}

/** `a == b`. */
export async function eq(a: unknown, b: unknown): Promise<boolean> {
  return Boolean(await compare(a, b, "eq"));
}

/**
 * Python's binary operators: `python.op.add(a, b)` is `a + b`, trying
 * `b.__radd__(a)` when `a.__add__(b)` gives `NotImplemented`, as Python does.
 */
export const op: Readonly<Record<Operator, (a: unknown, b: unknown) => Promise<unknown>>> = Object
  .fromEntries(
    Object.entries(OPERATORS).map(([name, [method, reflection]]) => [
      name,
      async (a: unknown, b: unknown) => {
        if (sessionOf(a)) {
          const result = await callAttr(a, method, [b]);
          if (result !== NOT_IMPLEMENTED) return result;
        }
        if (sessionOf(b)) {
          const result = await callAttr(b, reflection, [a]);
          if (result !== NOT_IMPLEMENTED) return result;
        }
        throw new TypeError(`unsupported operand types for ${name}`);
      },
    ]),
  ) as never;

/**
 * A local copy of a Python value: a list becomes an array, a dict a `Map`, a
 * set a `Set` (recursively); other objects stay netrefs; local values are
 * returned as they are.
 */
export async function obtain<T = unknown>(x: unknown): Promise<T> {
  const session = sessionOf(x);
  if (!session) return x as T;
  return await obtainValue(session, await settled(x)) as T;
}

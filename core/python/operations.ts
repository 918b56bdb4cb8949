/**
 * rdc's proxy operations as RPyC requests. Nothing is pipelined (RPyC has
 * no promise pipelining): a pending base is awaited here first.
 *
 * | rdc op        | RPyC requests                                          |
 * |---------------|--------------------------------------------------------|
 * | GET a.b.c     | GETATTR per name (intermediate netrefs given back)     |
 * | CALL a.b.m()  | GETATTR of the prefix, then one CALLATTR `m`           |
 * | CALL f()/NEW  | CALL                                                   |
 * | SET / DELETE  | SETATTR / DELATTR                                      |
 * | HAS           | GETATTR; AttributeError means false                    |
 * | ITER          | CALLATTR `__iter__`, then BUFFITER in growing batches  |
 * | COPY          | obtain: a walk with BUFFITER and `__getitem__`         |
 * | PRIMITIVE     | STR                                                    |
 * | KEYS          | DIR                                                    |
 *
 * @module
 */

import { Handle } from "./envelope.ts";
import type { PySession } from "./session.ts";
import { Kwargs, Tuple } from "./values.ts";
import { isPythonError } from "./vinegar.ts";
import { obtainValue } from "./obtain.ts";
import { PyIterator } from "./iteration.ts";
import { type CallOptions, Question } from "../session/engine.ts";
import { ImportEntry } from "../session/imports.ts";
import { perform } from "../netref/proxy.ts";
import { Op, type OpCode } from "../wire/messages.ts";

/** Splits a trailing `kwargs({...})` off `args`: `[positional, (("k", v), …)]`. */
export function splitKwargs(args: readonly unknown[]): [unknown[], unknown[]] {
  const last = args[args.length - 1];
  if (!(last instanceof Kwargs)) return [[...args], []];
  return [args.slice(0, -1), last.entries.map(([k, v]) => Tuple.fromItems([k, v]))];
}

/** Runs `op` on `base` at `path` for a proxy of `session`. */
export async function runOperation(
  session: PySession,
  op: OpCode,
  base: ImportEntry | Question,
  path: readonly string[],
  args: unknown[],
  options: CallOptions | undefined,
): Promise<unknown> {
  if (base instanceof Question) {
    // An answer still on its way: RPyC cannot pipeline, so wait for it here.
    await base.promise;
    return await perform(op, session, base, path, args, options).promise;
  }
  const name = path[path.length - 1];
  switch (op) {
    case Op.Get:
    case Op.Await:
      return await walk(session, base, path, options);
    case Op.Call:
    case Op.New: {
      const [positional, named] = splitKwargs(args);
      if (path.length === 0) {
        return await session.request(Handle.Call, [base, positional, named], options);
      }
      return await onParent(
        session,
        base,
        path,
        options,
        (parent) => session.request(Handle.CallAttr, [parent, name, positional, named], options),
      );
    }
    case Op.Set:
      return await onParent(
        session,
        base,
        path,
        options,
        (parent) => session.request(Handle.SetAttr, [parent, name, args[0]], options),
      );
    case Op.Delete:
      await onParent(
        session,
        base,
        path,
        options,
        (parent) => session.request(Handle.DelAttr, [parent, name], options),
      );
      return true;
    case Op.Has:
      try {
        session.boxer.giveBackValue(await walk(session, base, path, options));
        return true;
      } catch (error) {
        if (isPythonError(error, "AttributeError")) return false;
        throw error;
      }
    case Op.Iter:
      return await onTarget(session, base, path, options, async (iterable) => {
        const iterator = await session.request(
          Handle.CallAttr,
          [iterable, "__iter__", [], []],
          options,
        );
        return new PyIterator(session, iterator);
      });
    case Op.Copy:
      return await onTarget(session, base, path, options, (value) => obtainValue(session, value));
    case Op.Primitive:
      return await onTarget(session, base, path, options, (v) => session.request(Handle.Str, [v]));
    case Op.Keys:
      return await onTarget(session, base, path, options, (v) => session.request(Handle.Dir, [v]));
    case Op.Ping:
      return await session.ping(options);
    case Op.Next:
    case Op.Return:
    case Op.Batch:
      throw new TypeError("iterate a Python iterable with `for await (const x of netref)`");
    case Op.Write:
    case Op.Close:
    case Op.Abort:
      throw new TypeError("a Python object is not a web stream");
    case Op.Dispose:
      // Python objects never arrive marked disposable: releasing them (DEL) is all there is.
      return undefined;
    case Op.InstanceOf:
      throw new TypeError(
        "`instanceof` cannot test a Python class; use `python.isinstance(value, cls)`",
      );
    default:
      op satisfies never;
      throw new TypeError(`unknown operation ${op}`);
  }
}

/**
 * Follows `path` from `base` with one GETATTR per name; each intermediate
 * netref is given back once the next one arrived.
 */
export async function walk(
  session: PySession,
  base: ImportEntry | unknown,
  path: readonly string[],
  options: CallOptions | undefined,
): Promise<unknown> {
  if (path.length === 0 && base instanceof ImportEntry) {
    return base.proxy?.deref() ?? session.proxyFor(base);
  }
  let current: unknown = base;
  for (let i = 0; i < path.length; i++) {
    const next = await session.request(Handle.GetAttr, [current, path[i]], options);
    if (i > 0) session.boxer.giveBackValue(current);
    current = next;
  }
  return current;
}

/** Runs `use` on what `path` leads to, giving that back afterwards when it was fetched. */
async function onTarget<T>(
  session: PySession,
  base: ImportEntry,
  path: readonly string[],
  options: CallOptions | undefined,
  use: (target: unknown) => Promise<T> | T,
): Promise<T> {
  const target = path.length === 0 ? base : await walk(session, base, path, options);
  try {
    return await use(target);
  } finally {
    if (path.length > 0) session.boxer.giveBackValue(target);
  }
}

/** Runs `use` on the object that holds the path's last name. */
function onParent<T>(
  session: PySession,
  base: ImportEntry,
  path: readonly string[],
  options: CallOptions | undefined,
  use: (parent: unknown) => Promise<T>,
): Promise<T> {
  return onTarget(session, base, path.slice(0, -1), options, use);
}

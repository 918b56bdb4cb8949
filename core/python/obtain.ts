/**
 * `obtain` for Python values: lists, dicts and sets are copied into local
 * arrays, `Map`s and `Set`s by walking them (BUFFITER, `__getitem__`), which
 * any RPyC service allows; other objects stay netrefs.
 *
 * @module
 */

import { Handle } from "./envelope.ts";
import type { PySession } from "./session.ts";
import { PyIterator } from "./iteration.ts";
import { Tuple } from "./values.ts";
import { remoteState } from "../session/engine.ts";
import { ImportEntry } from "../session/imports.ts";

const MAX_DEPTH = 64;
const LISTS = new Set(["builtins.list", "builtins.tuple", "collections.deque"]);
const SETS = new Set(["builtins.set", "builtins.frozenset"]);
const DICTS = new Set(["builtins.dict", "collections.OrderedDict", "collections.defaultdict"]);

/** A local copy of `value` (see the module doc). */
export async function obtainValue(session: PySession, value: unknown, depth = 0): Promise<unknown> {
  if (depth > MAX_DEPTH) throw new RangeError(`obtain: nested deeper than ${MAX_DEPTH}`);
  if (value instanceof Tuple) {
    const items = [];
    for (const item of value) items.push(await obtainValue(session, item, depth + 1));
    return Tuple.fromItems(items);
  }
  const state = remoteState(value);
  if (!state || state.engine !== session || !(state.base instanceof ImportEntry)) return value;
  const type = state.base.name;
  if (LISTS.has(type) || SETS.has(type)) {
    const items = [];
    for await (const item of iterate(session, value)) {
      items.push(await obtainValue(session, item, depth + 1));
    }
    return SETS.has(type) ? new Set(items) : items;
  }
  if (DICTS.has(type)) {
    const map = new Map<unknown, unknown>();
    for await (const key of iterate(session, value)) {
      const item = await session.request(Handle.CallAttr, [value, "__getitem__", [key], []]);
      map.set(
        await obtainValue(session, key, depth + 1),
        await obtainValue(session, item, depth + 1),
      );
    }
    return map;
  }
  return value;
}

async function* iterate(session: PySession, iterable: unknown): AsyncGenerator<unknown> {
  const iterator = await session.request(Handle.CallAttr, [iterable, "__iter__", [], []]);
  const items = new PyIterator(session, iterator);
  try {
    for (let step = await items.next(); !step.done; step = await items.next()) yield step.value;
  } finally {
    await items.return();
  }
}

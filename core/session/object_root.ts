/**
 * A plain object as a connection's root (Comlink's `expose(obj)`):
 * `serve({ add(a, b) { return a + b; } }, options)`.
 *
 * @module
 */

import type { Connection, RootObject } from "./connection.ts";
import { BLOCKED_NAMES, Restricted } from "./policy.ts";

/**
 * The root a plain object becomes: a {@linkcode Restricted} view whose
 * readable names are the object's own enumerable string-keyed properties
 * that hold functions when the connection opens (but `constructor`,
 * `toString` and the other names no netref reaches). Data properties, inherited
 * members and properties added later are not reachable, nothing is written
 * or deleted, and calls run with the object itself as `this`. It has no
 * lifetime hooks: use a `Service` for those.
 *
 * Contract: the object is shared by every connection that serves it; the view
 * is made for one connection and owns nothing.
 */
export class ObjectRoot extends Restricted implements RootObject {
  /** A view of `object`'s own methods, as they are now. */
  constructor(object: object) {
    super(object, ownMethodNames(object));
  }

  /** Nothing to do: a plain object has no lifetime hooks. */
  onConnect(_conn: Connection): void {}

  /** Nothing to do: a plain object has no lifetime hooks. */
  onDisconnect(_conn: Connection): void {}
}

/** Whether `value` is a plain object (prototype `Object.prototype` or `null`). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function ownMethodNames(object: object): string[] {
  return Object.keys(object).filter((name) =>
    !BLOCKED_NAMES.has(name) && typeof (object as Record<string, unknown>)[name] === "function"
  );
}

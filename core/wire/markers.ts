/**
 * Markers that override how a value is boxed: {@linkcode ref} and
 * {@linkcode byValue}.
 *
 * @module
 */

import type { CopyFilter } from "./values.ts";

/** A value wrapped by {@linkcode ref}: it will travel by reference. */
export class ByReference<T = unknown> {
  /** The wrapped value. */
  readonly value: T;
  /** Wraps `value`; prefer {@linkcode ref}. */
  constructor(value: T) {
    this.value = value;
  }
}

/** A value wrapped by {@linkcode byValue}: it will travel as a copy. */
export class ByValue<T = unknown> {
  /** The wrapped value. */
  readonly value: T;
  /** Whether nested class instances are copied too (true for `obtain`). */
  readonly deep: boolean;
  /**
   * Which own members of class instances are copied; all of them when
   * absent. `obtain` copies only what the peer's policy lets it read.
   */
  readonly filter: CopyFilter | undefined;
  /** Wraps `value`; prefer {@linkcode byValue}. */
  constructor(value: T, deep: boolean, filter?: CopyFilter) {
    this.value = value;
    this.deep = deep;
    this.filter = filter;
  }
}

/**
 * Forces `value` to travel by reference, even when it is plain data (an array,
 * a plain object, a `Map`): the peer gets a netref and sees later changes.
 *
 * @example
 * ```ts
 * import { ref } from "@rdc/rdc";
 * const shared = { hits: 0 };
 * // await conn.root.track(ref(shared)); // the server mutates our object
 * ```
 */
export function ref<T>(value: T): ByReference<T> {
  return new ByReference(value);
}

/**
 * Forces `value` to travel as a copy: a class instance becomes a plain object
 * of its own enumerable properties (nested instances still go by reference).
 * Functions cannot be copied.
 */
export function byValue<T>(value: T): ByValue<T> {
  return new ByValue(value, false);
}

/** The value inside a {@linkcode ref} or {@linkcode byValue} marker, or `value` itself. */
export function unwrapMarker(value: unknown): unknown {
  return value instanceof ByReference || value instanceof ByValue ? value.value : value;
}

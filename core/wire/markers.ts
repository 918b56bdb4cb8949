/**
 * Markers that override how a value is boxed: {@linkcode ref},
 * {@linkcode byValue} and {@linkcode transfer}.
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

/** Bytes wrapped by {@linkcode transfer}: their memory moves to the message. */
export class Transferred<T extends ArrayBuffer | ArrayBufferView = ArrayBuffer | ArrayBufferView> {
  /** The wrapped buffer or view. */
  readonly value: T;
  /** Wraps `value`; prefer {@linkcode transfer}. */
  constructor(value: T) {
    this.value = value;
  }
}

/**
 * Hands the memory of an `ArrayBuffer` (or of the buffer under a typed array
 * or `DataView`) over to the message that sends it, as `postMessage`'s
 * transfer list does: a byte array of 64 KiB or more is not copied into the
 * send buffers but written to the transport (or posted) from its own memory,
 * and the buffer is detached here once the value is boxed (its `byteLength`
 * becomes 0; reading the view throws or reads nothing). The bytes arrive as
 * an ordinary copy: a `Uint8Array` as a `Uint8Array`, a `Float64Array` as a
 * `Float64Array`. A smaller array is copied into the message and detached all
 * the same. A view that covers only part of its buffer still detaches the
 * whole buffer; over a message port only the viewed bytes travel, copied.
 *
 * @example
 * ```ts
 * import { transfer } from "@rdc/rdc";
 * const frame = new Uint8Array(16 * 1024 * 1024);
 * // await conn.root.store(transfer(frame)); // frame.byteLength is 0 from now on
 * ```
 *
 * @throws {TypeError} when `value` is no `ArrayBuffer`, typed array or
 *   `DataView`, or its buffer is shared or already detached.
 */
export function transfer<T extends ArrayBuffer | ArrayBufferView>(value: T): Transferred<T> {
  const buffer = ArrayBuffer.isView(value) ? value.buffer : value;
  if (!(buffer instanceof ArrayBuffer)) {
    throw new TypeError(
      "transfer() takes an ArrayBuffer, a typed array or a DataView (not a SharedArrayBuffer)",
    );
  }
  if (buffer.detached) throw new TypeError("transfer(): the buffer is already detached");
  return new Transferred(value);
}

/** The value inside a {@linkcode ref}, {@linkcode byValue} or {@linkcode transfer} marker, or `value` itself. */
export function unwrapMarker(value: unknown): unknown {
  return value instanceof ByReference || value instanceof ByValue || value instanceof Transferred
    ? value.value
    : value;
}

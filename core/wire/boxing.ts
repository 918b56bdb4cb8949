/**
 * Boxing: turning a JavaScript value into a tree that MessagePack encodes as
 * is (unboxing.ts does the reverse).
 *
 * Plain data is copied: undefined, null, booleans, numbers (NaN, ±Infinity and
 * -0 kept), bigint, strings, typed arrays, ArrayBuffer, Date, plain objects,
 * arrays, Map, Set and Error. Shared and cyclic references inside one message
 * survive: every copied object gets an index in the order it is first met
 * (depth first, parents before children) and a repeat becomes a back reference
 * to that index. Everything else is handed to a {@linkcode ReferenceBoxer},
 * which exports it. core/PROTOCOL.md, "Values", has the exact encoding.
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { ByReference, ByValue } from "./markers.ts";
import {
  ARRAY_BUFFER_KIND,
  ATTACHMENT_MIN,
  bigintToBytes,
  isPathArg,
  NEGATIVE_ZERO,
  type ReferenceBoxer,
  TAG_ERROR,
  TAG_MAP,
  TAG_SET,
  TYPED_ARRAYS,
  u32,
  UNDEFINED,
} from "./values.ts";
import { Ext } from "./messages.ts";

/** Packs a value into a tree that MessagePack encodes as is. One instance per message. */
export class Boxer {
  #refs: ReferenceBoxer;
  #maxDepth: number;
  #seen = new Map<object, number>();
  #attachments: Uint8Array[] | null = null;

  /** Large byte arrays of the message, sent as frames of their own before it. */
  get attachments(): readonly Uint8Array[] {
    return this.#attachments ?? NO_ATTACHMENTS;
  }

  /** Boxes against `refs`; values nested deeper than `maxDepth` are refused. */
  constructor(refs: ReferenceBoxer, maxDepth: number) {
    this.#refs = refs;
    this.#maxDepth = maxDepth;
  }

  /**
   * Boxes `value`.
   *
   * @throws {TypeError} for symbols, for objects with an own `__proto__` key,
   *   for functions wrapped in `byValue`, and for values nested too deep.
   */
  box(value: unknown, depth = 0, deep = false): unknown {
    switch (typeof value) {
      case "number":
        return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO : value;
      case "string":
      case "boolean":
        return value;
      case "undefined":
        return UNDEFINED;
      case "bigint":
        return new ExtData(Ext.BigInt, bigintToBytes(value));
      case "symbol":
        throw new TypeError(`cannot send ${String(value)}: symbols have no wire form`);
      case "function":
        return this.#refs.boxReference(value, (v) => this.box(v, 0, false));
      case "object":
        if (value === null) return null;
        return this.#boxObject(value, depth, deep);
    }
  }

  /**
   * Takes `bytes` as the message's next attachment and returns the extension
   * naming it. The frame writer copies the bytes when the message is sent, so
   * a value travels as it was then.
   */
  #attach(bytes: Uint8Array, kind: number): ExtData {
    const data = new Uint8Array(5);
    new DataView(data.buffer).setUint32(0, this.#attachments?.length ?? 0);
    data[4] = kind;
    (this.#attachments ??= []).push(bytes);
    return new ExtData(Ext.Attachment, data);
  }

  #boxObject(value: object, depth: number, deep: boolean): unknown {
    if (depth > this.#maxDepth) {
      throw new TypeError(`cannot send a value nested deeper than ${this.#maxDepth} levels`);
    }
    const seen = this.#seen.get(value);
    if (seen !== undefined) return new ExtData(Ext.BackRef, u32(seen));
    const proto = Object.getPrototypeOf(value);
    if (proto === ByReference.prototype) {
      const inner = (value as ByReference).value as object;
      return this.#refs.boxReference(inner, (v) => this.box(v, depth, deep));
    }
    if (proto === ByValue.prototype) {
      const marked = value as ByValue;
      return this.#copyInstance(marked.value, depth, marked.deep);
    }
    const next = depth + 1;
    if (proto === Array.prototype) {
      this.#index(value);
      const array = value as unknown[];
      const out = new Array(array.length);
      for (let i = 0; i < array.length; i++) out[i] = this.box(array[i], next, deep);
      return out;
    }
    if ((proto === Object.prototype || proto === null) && !isNamespaceObject(value)) {
      this.#index(value);
      return this.#boxPlain(value as Record<string, unknown>, next, deep);
    }
    if (proto === Uint8Array.prototype) {
      this.#index(value);
      const bytes = value as Uint8Array;
      return bytes.length < ATTACHMENT_MIN ? bytes : this.#attach(bytes, 1);
    }
    if (ArrayBuffer.isView(value)) {
      this.#index(value);
      const kind = TYPED_ARRAYS.findIndex((cls) => value instanceof cls);
      if (kind === -1) {
        throw new TypeError(`cannot send a ${value.constructor.name}: no wire form for it`);
      }
      const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      if (view.length >= ATTACHMENT_MIN) return this.#attach(view, kind);
      const bytes = new Uint8Array(value.byteLength + 1);
      bytes[0] = kind;
      bytes.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), 1);
      return new ExtData(Ext.TypedArray, bytes);
    }
    if (proto === ArrayBuffer.prototype) {
      this.#index(value);
      const buffer = value as ArrayBuffer;
      if (buffer.byteLength >= ATTACHMENT_MIN) {
        return this.#attach(new Uint8Array(buffer), ARRAY_BUFFER_KIND);
      }
      return new ExtData(Ext.ArrayBuffer, new Uint8Array(buffer.slice(0)));
    }
    if (proto === Date.prototype) {
      this.#index(value);
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setFloat64(0, (value as Date).getTime());
      return new ExtData(Ext.Date, bytes);
    }
    if (proto === Map.prototype) {
      this.#index(value);
      const out: unknown[] = [TAG_MAP];
      for (const [k, v] of value as Map<unknown, unknown>) {
        const key = this.box(k, next, deep);
        if (isPathArg(key)) {
          throw new TypeError(`await ${String(k)} before using it as a Map key`);
        }
        out.push(key, this.box(v, next, deep));
      }
      return out;
    }
    if (proto === Set.prototype) {
      this.#index(value);
      const out: unknown[] = [TAG_SET];
      for (const v of value as Set<unknown>) out.push(this.box(v, next, deep));
      return out;
    }
    if (value instanceof Error) return this.#boxError(value, next, deep);
    if (deep && !isThenable(value)) return this.#copyInstance(value, depth, deep);
    return this.#refs.boxReference(value, (v) => this.box(v, depth, deep));
  }

  #boxPlain(value: Record<string, unknown>, depth: number, deep: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (key === "__proto__") {
        throw new TypeError("cannot send an object with an own __proto__ key");
      }
      out[key] = this.box(value[key], depth, deep);
    }
    return out;
  }

  /** A class instance as a plain object of its own enumerable properties. */
  #copyInstance(value: unknown, depth: number, deep: boolean): unknown {
    if (typeof value === "function") {
      throw new TypeError("cannot copy a function by value; send it by reference instead");
    }
    if (typeof value !== "object" || value === null) return this.box(value, depth, deep);
    const proto = Object.getPrototypeOf(value);
    if (
      proto !== Object.prototype && proto !== null && !(value instanceof Error) &&
      !isBuiltinData(value)
    ) {
      this.#index(value);
      return this.#boxPlain(value as Record<string, unknown>, depth + 1, deep);
    }
    return this.#boxObject(value, depth, deep);
  }

  #boxError(error: Error, depth: number, deep: boolean): unknown[] {
    this.#index(error);
    const props: Record<string, unknown> = {};
    for (const key of Object.keys(error)) {
      if (key !== "cause" && key !== "__proto__" && key !== "stack" && key !== "message") {
        props[key] = (error as unknown as Record<string, unknown>)[key];
      }
    }
    const hasCause = Object.hasOwn(error, "cause");
    return [
      TAG_ERROR,
      error.constructor?.name ?? "Error",
      String(error.name),
      String(error.message),
      String(error.stack ?? ""),
      hasCause,
      hasCause ? this.box(error.cause, depth, deep) : null,
      this.#boxPlain(props, depth, deep),
    ];
  }

  #index(value: object): void {
    this.#seen.set(value, this.#seen.size);
  }
}

function isThenable(value: object): boolean {
  return typeof (value as { then?: unknown }).then === "function";
}

const NO_ATTACHMENTS: readonly Uint8Array[] = Object.freeze([]);

/**
 * Objects that are plain in shape but are namespaces of functions, not data:
 * module namespaces, built-ins that carry their own tag (`Math`, `JSON`,
 * `Reflect`, `Intl`, `Atomics`, `WebAssembly`) and `Deno`. They travel by
 * reference.
 */
function isNamespaceObject(value: object): boolean {
  return Object.hasOwn(value, Symbol.toStringTag) ||
    value === (globalThis as { Deno?: unknown }).Deno;
}

function isBuiltinData(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set ||
    value instanceof Date || value instanceof ArrayBuffer || Array.isArray(value);
}

/**
 * Boxing: turning JavaScript values into MessagePack-ready trees and back.
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
import { completeRemoteError, ProtocolError, RemoteError } from "./errors.ts";
import { ByReference, ByValue } from "./markers.ts";
import { Ext, type RefKindCode, type Target } from "./wire.ts";

/**
 * How boxing reaches the connection's reference tables.
 *
 * Contract: `boxReference` may add to the export table (the caller owns the
 * new count); the unboxing methods may add to the import table. None of them
 * calls user code.
 */
export interface ReferenceBoxer {
  /**
   * The wire form of a value that goes by reference. `box` boxes a value in
   * the same message (for a netref whose answer is already here).
   */
  boxReference(value: object, box: (value: unknown) => unknown): unknown;
  /** The local proxy for the peer's export (see {@linkcode ExportDescriptor}). */
  importReference(descriptor: ExportDescriptor): unknown;
  /** Our own export `id`, coming back: the original object. */
  localReference(id: number): unknown;
  /** A lazy path on one of our targets, used as an argument: its value, later. */
  resolvePath(target: Target, path: string[]): Promise<unknown>;
}

const UNDEFINED = new ExtData(Ext.Undefined, new Uint8Array(0));
const NEGATIVE_ZERO = new ExtData(Ext.NegativeZero, new Uint8Array(0));
const TAG_MAP = new ExtData(Ext.TagMap, new Uint8Array(0));
const TAG_SET = new ExtData(Ext.TagSet, new Uint8Array(0));
const TAG_ERROR = new ExtData(Ext.TagError, new Uint8Array(0));

/** The typed-array constructors, indexed by their wire kind. */
const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
] as const;

/** Packs a value into a tree that MessagePack encodes as is. One instance per message. */
export class Boxer {
  #refs: ReferenceBoxer;
  #maxDepth: number;
  #seen = new Map<object, number>();

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
    if (proto === Object.prototype || (proto === null && !isModuleNamespace(value))) {
      this.#index(value);
      return this.#boxPlain(value as Record<string, unknown>, next, deep);
    }
    if (proto === Uint8Array.prototype) {
      this.#index(value);
      return value;
    }
    if (ArrayBuffer.isView(value)) {
      this.#index(value);
      const kind = TYPED_ARRAYS.findIndex((cls) => value instanceof cls);
      const bytes = new Uint8Array(value.byteLength + 1);
      bytes[0] = kind;
      bytes.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), 1);
      return new ExtData(Ext.TypedArray, bytes);
    }
    if (proto === ArrayBuffer.prototype) {
      this.#index(value);
      return new ExtData(Ext.ArrayBuffer, new Uint8Array((value as ArrayBuffer).slice(0)));
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
        out.push(this.box(k, next, deep), this.box(v, next, deep));
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

/**
 * Unpacks a decoded tree into values, in place where it can (the tree is
 * fresh from the decoder and owned by nobody else). One instance per message.
 *
 * Lazy paths used as arguments cannot be resolved synchronously; they are
 * collected, and {@linkcode Unboxer.settle} resolves them.
 */
export class Unboxer {
  #refs: ReferenceBoxer;
  #maxDepth: number;
  #seen: unknown[] = [];
  #deferred: Promise<void>[] | null = null;

  /** Unboxes against `refs`; trees nested deeper than `maxDepth` are a protocol error. */
  constructor(refs: ReferenceBoxer, maxDepth: number) {
    this.#refs = refs;
    this.#maxDepth = maxDepth;
  }

  /**
   * Unboxes a tree.
   *
   * @throws {ProtocolError} for unknown extension types, bad back references,
   *   malformed tagged containers and excessive nesting.
   */
  unbox(wire: unknown, depth = 0): unknown {
    if (typeof wire !== "object" || wire === null) return wire;
    if (depth > this.#maxDepth) {
      throw new ProtocolError(`value nested deeper than ${this.#maxDepth} levels`);
    }
    if (wire instanceof ExtData) return this.#unboxExt(wire);
    if (wire instanceof Uint8Array) {
      // Copy small views so they do not pin the whole frame's buffer.
      const bytes = wire.buffer.byteLength > 2 * wire.byteLength ? wire.slice() : wire;
      this.#seen.push(bytes);
      return bytes;
    }
    const next = depth + 1;
    if (Array.isArray(wire)) {
      const head = wire[0];
      if (head instanceof ExtData && head.type >= Ext.TagMap) {
        return this.#unboxTagged(wire, head.type, next);
      }
      this.#seen.push(wire);
      for (let i = 0; i < wire.length; i++) {
        const item = wire[i];
        if (typeof item === "object" && item !== null) {
          wire[i] = this.#unboxSlot(item, next, wire as unknown as Record<number, unknown>, i);
        }
      }
      return wire;
    }
    const record = wire as Record<string, unknown>;
    this.#seen.push(record);
    this.#unboxEntries(record, next);
    return record;
  }

  /** Unboxes an object's values in place (without indexing the object itself). */
  #unboxEntries(record: Record<string, unknown>, depth: number): void {
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === "object" && item !== null) {
        record[key] = this.#unboxSlot(item, depth, record, key);
      }
    }
  }

  /**
   * Unboxes a whole value (a reply). A lazy path at the top lands in the
   * returned holder once {@linkcode Unboxer.settle} resolves.
   */
  unboxTop(wire: unknown): { value: unknown } {
    const holder = { value: undefined as unknown };
    holder.value = this.#unboxOrDefer(wire, 0, (value) => (holder.value = value));
    return holder;
  }

  /** Whether lazy paths were met, so {@linkcode Unboxer.settle} has work to do. */
  get hasDeferred(): boolean {
    return this.#deferred !== null;
  }

  /** Resolves every lazy path met so far, writing the values into their slots. */
  async settle(): Promise<void> {
    if (this.#deferred) await Promise.all(this.#deferred);
  }

  #unboxSlot(
    item: object,
    depth: number,
    holder: Record<string | number, unknown>,
    key: string | number,
  ): unknown {
    if (isPathArg(item)) {
      this.#defer(item as unknown[], (value) => (holder[key] = value));
      return undefined;
    }
    return this.unbox(item, depth);
  }

  #unboxOrDefer(item: unknown, depth: number, assign: (value: unknown) => void): unknown {
    if (!isPathArg(item)) return this.unbox(item, depth);
    this.#defer(item as unknown[], assign);
    return undefined;
  }

  #defer(wire: unknown[], assign: (value: unknown) => void): void {
    const [, target, ...path] = wire;
    if (!Number.isInteger(target) || !path.every((k) => typeof k === "string")) {
      throw new ProtocolError("malformed lazy path argument");
    }
    (this.#deferred ??= []).push(
      this.#refs.resolvePath(target as number, path as string[]).then(assign),
    );
  }

  #unboxTagged(wire: unknown[], tag: number, depth: number): unknown {
    switch (tag) {
      case Ext.TagMap: {
        if (wire.length % 2 === 0) throw new ProtocolError("malformed Map: odd entry list");
        const map = new Map<unknown, unknown>();
        this.#seen.push(map);
        for (let i = 1; i < wire.length; i += 2) {
          const key = this.unbox(wire[i], depth);
          map.set(key, this.#unboxOrDefer(wire[i + 1], depth, (value) => map.set(key, value)));
        }
        return map;
      }
      case Ext.TagSet: {
        const set = new Set<unknown>();
        this.#seen.push(set);
        for (let i = 1; i < wire.length; i++) {
          if (isPathArg(wire[i])) this.#defer(wire[i] as unknown[], (value) => set.add(value));
          else set.add(this.unbox(wire[i], depth));
        }
        return set;
      }
      case Ext.TagError: {
        const [, className, name, message, stack, hasCause, cause, props] = wire;
        if (
          typeof className !== "string" || typeof name !== "string" ||
          typeof message !== "string" || typeof stack !== "string" ||
          typeof hasCause !== "boolean" || typeof props !== "object" || props === null ||
          Array.isArray(props)
        ) {
          throw new ProtocolError("malformed Error value");
        }
        // Index the error before its contents, as the sender did, so they may refer to it.
        const error = RemoteError.from({
          className,
          name,
          message,
          stack,
          hasCause: false,
          cause: undefined,
          props: {},
        });
        this.#seen.push(error);
        const details = props as Record<string, unknown>;
        this.#unboxEntries(details, depth);
        const setCause = (value: unknown) => completeRemoteError(error, true, value, {});
        const causeValue = hasCause ? this.#unboxOrDefer(cause, depth, setCause) : undefined;
        completeRemoteError(error, hasCause, causeValue, details);
        return error;
      }
      case Ext.TagPath:
        throw new ProtocolError("a lazy path may only stand in an array, object, Map or Set");
      default:
        throw new ProtocolError(`unknown container tag ${tag}`);
    }
  }

  #unboxExt(ext: ExtData): unknown {
    const data = ext.data as Uint8Array;
    switch (ext.type) {
      case Ext.Undefined:
        return undefined;
      case Ext.NegativeZero:
        return -0;
      case Ext.BigInt:
        return bytesToBigint(data);
      case Ext.Date: {
        if (data.length !== 8) throw new ProtocolError("malformed Date value");
        const date = new Date(new DataView(data.buffer, data.byteOffset, 8).getFloat64(0));
        this.#seen.push(date);
        return date;
      }
      case Ext.BackRef: {
        const index = readU32(data, 0, "back reference");
        if (index >= this.#seen.length) {
          throw new ProtocolError(
            `back reference to #${index}, but only ${this.#seen.length} values precede it`,
          );
        }
        return this.#seen[index];
      }
      case Ext.Export:
        return this.#refs.importReference(decodeExport(data));
      case Ext.Import:
        return this.#refs.localReference(readU32(data, 0, "reference"));
      case Ext.TypedArray: {
        const cls = TYPED_ARRAYS[data[0]];
        if (!cls || data.length < 1) throw new ProtocolError("malformed typed array");
        const buffer = data.slice(1).buffer;
        const perItem = cls === DataView
          ? 1
          : (cls as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
        if (buffer.byteLength % perItem !== 0) {
          throw new ProtocolError("malformed typed array length");
        }
        const view = cls === DataView
          ? new DataView(buffer)
          : new (cls as Uint8ArrayConstructor)(buffer);
        this.#seen.push(view);
        return view;
      }
      case Ext.ArrayBuffer: {
        const buffer = data.slice().buffer;
        this.#seen.push(buffer);
        return buffer;
      }
      default:
        throw new ProtocolError(`unknown extension type ${ext.type}`);
    }
  }
}

function isPathArg(wire: unknown): boolean {
  return Array.isArray(wire) && wire[0] instanceof ExtData && wire[0].type === Ext.TagPath;
}

function isThenable(value: object): boolean {
  return typeof (value as { then?: unknown }).then === "function";
}

function isModuleNamespace(value: object): boolean {
  return (value as Record<symbol, unknown>)[Symbol.toStringTag] === "Module";
}

function isBuiltinData(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set ||
    value instanceof Date || value instanceof ArrayBuffer || Array.isArray(value);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function readU32(data: Uint8Array, offset: number, what: string): number {
  if (data.length < offset + 4) throw new ProtocolError(`malformed ${what}`);
  return ((data[offset] << 24) | (data[offset + 1] << 16) | (data[offset + 2] << 8) |
    data[offset + 3]) >>> 0;
}

/**
 * What an EXPORT ext says: the sender's object `id`, what it is, its class or
 * function name, and which members the receiver may reach on it (its shape).
 */
export interface ExportDescriptor {
  /** Object, function or promise. */
  kind: RefKindCode;
  /** The sender's export id. */
  id: number;
  /** The sender's number for the member list; equal lists share one number per connection. */
  shape: number;
  /** The class or function name, for display. */
  name: string;
  /** The member list, sent the first time a shape number is used; null after that. */
  members: string[] | null;
}

const SEPARATOR = 0;

/** Encodes an EXPORT payload: kind, id, shape, name, then NUL-separated members when new. */
export function encodeExport(descriptor: ExportDescriptor): ExtData {
  const encoder = new TextEncoder();
  const name = encoder.encode(descriptor.name.slice(0, 64).replaceAll("\0", ""));
  const members = descriptor.members === null
    ? null
    : encoder.encode(descriptor.members.map((m) => m.replaceAll("\0", "")).join("\0"));
  const out = new Uint8Array(9 + name.length + (members ? 1 + members.length : 0));
  out[0] = descriptor.kind;
  out.set(u32(descriptor.id), 1);
  out.set(u32(descriptor.shape), 5);
  out.set(name, 9);
  if (members) {
    out[9 + name.length] = SEPARATOR;
    out.set(members, 10 + name.length);
  }
  return new ExtData(Ext.Export, out);
}

function decodeExport(data: Uint8Array): ExportDescriptor {
  if (data.length < 9 || data[0] > 2) throw new ProtocolError("malformed reference");
  const decoder = new TextDecoder();
  const split = data.indexOf(SEPARATOR, 9);
  const nameEnd = split === -1 ? data.length : split;
  return {
    kind: data[0] as RefKindCode,
    id: readU32(data, 1, "reference"),
    shape: readU32(data, 5, "reference"),
    name: decoder.decode(data.subarray(9, nameEnd)),
    members: split === -1
      ? null
      : decoder.decode(data.subarray(split + 1)).split("\0").filter((m) => m !== ""),
  };
}

/** The ext for "your export `id`, coming back to you". */
export function importExt(id: number): ExtData {
  return new ExtData(Ext.Import, u32(id));
}

/** The tagged array for "the value at `path` of your target". */
export function pathArg(target: Target, path: readonly string[]): unknown[] {
  return [new ExtData(Ext.TagPath, new Uint8Array(0)), target, ...path];
}

function bigintToBytes(value: bigint): Uint8Array {
  const negative = value < 0n;
  let hex = (negative ? -value : value).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(1 + hex.length / 2);
  out[0] = negative ? 1 : 0;
  for (let i = 0; i < hex.length / 2; i++) out[i + 1] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToBigint(data: Uint8Array): bigint {
  if (data.length < 1 || data[0] > 1) throw new ProtocolError("malformed bigint");
  let hex = "0x0";
  for (let i = 1; i < data.length; i++) hex += data[i].toString(16).padStart(2, "0");
  const magnitude = BigInt(hex);
  return data[0] ? -magnitude : magnitude;
}

/**
 * Boxing: writing a JavaScript value as MessagePack tokens (unboxing.ts reads
 * them back). core/PROTOCOL.md, "Values", has the exact encoding.
 *
 * Plain data is copied: undefined, null, booleans, numbers (NaN, ±Infinity and
 * -0 kept), bigint, strings, typed arrays, ArrayBuffer, Date, plain objects,
 * arrays, Map, Set and Error. Shared and cyclic references inside one message
 * survive: every copied object gets an index in the order it is first met
 * (depth first, a container before its contents) and a repeat becomes a back
 * reference to that index. Everything else goes by reference, through the
 * session's {@linkcode ReferenceWriter}.
 *
 * The walk keeps its own stack instead of recursing, so it can stop at a
 * deadline and go on later ({@linkcode Sliced}): a huge value is boxed over
 * several turns of the event loop. It reads the value as it goes (copying
 * large byte arrays as it meets them); a value that takes more than one
 * slice to box must not change until its call is sent.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { attachmentBuffers } from "./buffer_pool.ts";
import { ByReference, ByValue, Transferred } from "./markers.ts";
import { Ext } from "./messages.ts";
import type { ByteWriter } from "./msgpack.ts";
import { checkDeadline, type Sliced } from "./slicing.ts";
import { isThenable } from "./thenable.ts";
import {
  ARRAY_BUFFER_KIND,
  ATTACHMENT_MIN,
  bigintToBytes,
  type CopyFilter,
  encodeExport,
  type ReferenceWriter,
  typedArrayKind,
  writeU32,
} from "./values.ts";

/** The limits a value must fit: the peer's (announced in its HELLO) and this end's own. */
export interface BoxLimits {
  /** Deepest nesting. */
  maxDepth: number;
  /** Most array items and map entries in one message. */
  maxElements: number;
  /** Largest bigint magnitude, in bytes. */
  maxBigIntBytes: number;
  /** Largest message, attachments included. */
  maxMessageSize: number;
}

/** How a connection boxes what it sends: the limits, and what errors reveal. */
export interface BoxSettings extends BoxLimits {
  /**
   * Whether errors carry their stack (RPyC's `include_local_traceback`);
   * without it they carry an empty one, so file paths and lines stay here.
   */
  includeLocalStack: boolean;
}

/** The most attachments one message carries. */
export const MAX_ATTACHMENTS = 65_535;

/** Strings longer than this (in UTF-16 units) are written in pieces, one piece per step. */
const LONG_STRING = 1024 * 1024;
const STRING_PIECE = 256 * 1024;
/** Bytes of a large array copied per step. */
const COPY_PIECE = 1024 * 1024;
/**
 * Copied objects tracked for back references in one message. A `Map` that
 * grows past a power of two rehashes all at once (a million entries: a
 * quarter of a second, no slicing possible), so a message tracks only its
 * first 262 144 objects; objects met later are copied each time they are met
 * (a cycle through them ends at `maxDepth`).
 */
export const TRACKED_OBJECTS = 262_144;

/** Steps between looks at the clock. */
const CHECK_EVERY = 512;

const enum Kind {
  /** Items of an array (also a Set's, flattened; and the root, a one-item list). */
  Items,
  /** Entries of an object: `keys` of `source`. */
  Entries,
  /** A Map, flattened to key, value, key, value. */
  MapEntries,
  /** An Error's cause, then its other properties. */
  ErrorRest,
  /** A long string, in pieces. */
  LongString,
  /** A large byte array, copied into its attachment in pieces. */
  Copy,
}

interface Frame {
  kind: Kind;
  items: readonly unknown[];
  keys: readonly string[];
  source: Record<string, unknown>;
  index: number;
  count: number;
  /** Nesting of the items. */
  depth: number;
  /** Copy nested class instances too (obtain). */
  deep: boolean;
  filter: CopyFilter | undefined;
  /** For a long string: its text (`index` counts the UTF-16 units written). */
  text: string;
  /** For a copy: from where, to where (`index` counts the bytes copied). */
  from: Uint8Array | null;
  to: Uint8Array | null;
}

const NO_ITEMS: readonly unknown[] = [];
const NO_KEYS: readonly string[] = [];
const NO_SOURCE: Record<string, unknown> = {};
const NO_ATTACHMENTS: readonly Uint8Array[] = Object.freeze([]);

/** Attachment buffers by default: the shared pool's. */
const pooled = (size: number): Uint8Array => attachmentBuffers.take(size);

/**
 * Writes one value into a {@linkcode ByteWriter}, resumably. One instance per
 * message.
 *
 * Contract: `run` throws `TypeError` for values that have no wire form
 * (symbols, `byValue` of a function, an object with an own `__proto__` key,
 * unknown typed arrays, a lazy path as a `Map` key, nesting past
 * `maxDepth`), `LimitError` for a value beyond the peer's limits, and
 * whatever a getter on the value throws. Either way the message is
 * abandoned: the caller takes back what `refs` gave out for it.
 */
export class Boxer implements Sliced {
  readonly #writer: ByteWriter;
  readonly #refs: ReferenceWriter;
  readonly #limits: BoxSettings;
  /** The first {@linkcode TRACKED_OBJECTS} copied objects, by identity, and their indexes. */
  readonly #seen = new Map<object, number>();
  /** Copied objects met so far: the next one's index. */
  #copied = 0;
  /** Frames by depth, reused: `#depth` of them are in use. */
  readonly #stack: Frame[] = [];
  #depth = 0;
  #attachments: Uint8Array[] | null = null;
  #attached = 0;
  #elements = 0;
  /** Steps until the next look at the clock. */
  #steps = CHECK_EVERY;
  readonly #allocate: (size: number) => Uint8Array;

  /**
   * Boxes `value` into `writer` when run; large byte arrays are copied into
   * buffers from `allocate` (by default, the shared pool's).
   */
  constructor(
    writer: ByteWriter,
    refs: ReferenceWriter,
    limits: BoxSettings,
    value: unknown,
    allocate: (size: number) => Uint8Array = pooled,
  ) {
    this.#writer = writer;
    this.#refs = refs;
    this.#limits = limits;
    this.#allocate = allocate;
    this.#push(Kind.Items, [value], 1, 0, false, undefined);
  }

  /** Large byte arrays of the message, sent beside it. */
  get attachments(): readonly Uint8Array[] {
    return this.#attachments ?? NO_ATTACHMENTS;
  }

  /** Bytes of the message so far: what was written plus the attachments. */
  get size(): number {
    return this.#writer.length + this.#attached;
  }

  /** Works until the value is written (true) or the deadline passed (false). */
  run(deadline: number): boolean {
    let limit = deadline;
    const stack = this.#stack;
    while (this.#depth > 0) {
      if (--this.#steps <= 0) {
        this.#steps = CHECK_EVERY;
        this.#checkSize();
        limit = checkDeadline(limit);
        if (limit < 0) return false;
      }
      const frame = stack[this.#depth - 1];
      if (frame.index === frame.count) {
        this.#depth--;
        continue;
      }
      switch (frame.kind) {
        case Kind.Items:
          this.#value(frame.items[frame.index++], frame, false);
          break;
        case Kind.Entries: {
          const key = frame.keys[frame.index++];
          if (key === "__proto__") {
            throw new TypeError("cannot send an object with an own __proto__ key");
          }
          this.#writer.string(key);
          this.#value(frame.source[key], frame, false);
          break;
        }
        case Kind.MapEntries: {
          const i = frame.index++;
          this.#value(frame.items[i], frame, i % 2 === 0);
          break;
        }
        case Kind.ErrorRest:
          if (frame.index++ === 1) {
            // The other properties: an object that takes no index (the receiver gives it none).
            this.#entries(frame.source, frame.keys, frame.depth, frame.deep, frame.filter);
          } else if (frame.items.length > 0) this.#value(frame.items[0], frame, false);
          else this.#writer.nil();
          break;
        case Kind.LongString:
          this.#stringPiece(frame);
          break;
        case Kind.Copy:
          this.#copyPiece(frame);
          break;
        default:
          frame.kind satisfies never;
      }
    }
    this.#checkSize();
    return true;
  }

  /** Writes the next piece of a long string; `index` counts the UTF-16 units written. */
  #stringPiece(frame: Frame): void {
    const text = frame.text;
    let end = Math.min(text.length, frame.index + STRING_PIECE);
    // Never split a surrogate pair between pieces.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    this.#writer.stringPiece(text.slice(frame.index, end));
    frame.index = end;
    if (end === text.length) this.#writer.endString();
    this.#steps -= 64;
  }

  /** Copies the next piece of a large byte array into its attachment. */
  #copyPiece(frame: Frame): void {
    const end = Math.min(frame.count, frame.index + COPY_PIECE);
    frame.to!.set(frame.from!.subarray(frame.index, end), frame.index);
    frame.index = end;
    this.#steps -= 128;
  }

  #push(
    kind: Kind,
    items: readonly unknown[],
    count: number,
    depth: number,
    deep: boolean,
    filter: CopyFilter | undefined,
  ): Frame {
    let frame = this.#stack[this.#depth];
    if (frame) {
      frame.kind = kind;
      frame.items = items;
      frame.keys = NO_KEYS;
      frame.source = NO_SOURCE;
      frame.index = 0;
      frame.count = count;
      frame.depth = depth;
      frame.deep = deep;
      frame.filter = filter;
      frame.text = "";
      frame.from = null;
      frame.to = null;
    } else {
      frame = {
        kind,
        items,
        keys: NO_KEYS,
        source: NO_SOURCE,
        index: 0,
        count,
        depth,
        deep,
        filter,
        text: "",
        from: null,
        to: null,
      };
      this.#stack.push(frame);
    }
    this.#depth++;
    return frame;
  }

  #count(items: number): void {
    this.#elements += items;
    if (this.#elements > this.#limits.maxElements) {
      throw new LimitError(
        `cannot send a value of more than ${this.#limits.maxElements} elements (the peer's maxElements)`,
      );
    }
  }

  #checkSize(): void {
    if (this.size > this.#limits.maxMessageSize) {
      throw new LimitError(
        `cannot send a message of more than ${this.#limits.maxMessageSize} bytes ` +
          `(the peer's maxMessageSize)`,
      );
    }
  }

  /** Writes one value met inside `frame` (`asKey`: as a Map key). */
  #value(value: unknown, frame: Frame, asKey: boolean): void {
    const w = this.#writer;
    switch (typeof value) {
      case "number":
        if (value === 0 && 1 / value < 0) w.extHeader(Ext.NegativeZero, 0);
        else w.number(value);
        return;
      case "string":
        if (value.length > LONG_STRING) {
          const long = this.#push(
            Kind.LongString,
            NO_ITEMS,
            value.length,
            frame.depth,
            false,
            undefined,
          );
          long.text = value;
          w.beginString();
          return;
        }
        w.string(value);
        return;
      case "boolean":
        w.bool(value);
        return;
      case "undefined":
        w.extHeader(Ext.Undefined, 0);
        return;
      case "bigint": {
        const bytes = bigintToBytes(value);
        if (bytes.length - 1 > this.#limits.maxBigIntBytes) {
          throw new LimitError(
            `cannot send a bigint of ${bytes.length - 1} bytes (the peer's maxBigIntBytes is ` +
              `${this.#limits.maxBigIntBytes})`,
          );
        }
        this.#steps -= bytes.length >> 10;
        w.ext(Ext.BigInt, bytes);
        return;
      }
      case "symbol":
        throw new TypeError(`cannot send ${String(value)}: symbols have no wire form`);
      case "function":
        this.#reference(value, frame, asKey);
        return;
      case "object":
        if (value === null) w.nil();
        else this.#object(value, frame, asKey, frame.deep, frame.filter);
        return;
    }
  }

  #object(
    value: object,
    frame: Frame,
    asKey: boolean,
    deep: boolean,
    filter: CopyFilter | undefined,
  ): void {
    const w = this.#writer;
    const depth = frame.depth;
    if (this.#repeat(value, frame)) return;
    const proto = Object.getPrototypeOf(value);
    if (proto === ByReference.prototype) {
      const inner = (value as ByReference).value;
      if (typeof inner === "object" && inner !== null || typeof inner === "function") {
        return this.#reference(inner, frame, asKey);
      }
      return this.#value(inner, frame, asKey);
    }
    if (proto === ByValue.prototype) {
      const marked = value as ByValue;
      if (typeof marked.value === "function") {
        throw new TypeError("cannot copy a function by value; send it by reference instead");
      }
      if (typeof marked.value !== "object" || marked.value === null) {
        return this.#value(marked.value, frame, asKey);
      }
      return this.#copy(marked.value, frame, asKey, marked.deep, marked.filter);
    }
    if (proto === Transferred.prototype) {
      return this.#transferred((value as Transferred).value, frame, asKey);
    }
    const next = depth + 1;
    // A synchronous netref looks like a plain object or array; it still goes by reference.
    if (
      (proto === Object.prototype || proto === Array.prototype || proto === null) &&
      this.#refs.isReference(value)
    ) {
      return this.#reference(value, frame, asKey);
    }
    // A copy takes a subclass of a built-in (`class Items extends Array`) as the built-in.
    if (proto === Array.prototype || (deep && Array.isArray(value))) {
      this.#index(value);
      const items = value as unknown[];
      w.array(items.length);
      this.#count(items.length);
      this.#push(Kind.Items, items, items.length, next, deep, filter);
      return;
    }
    if ((proto === Object.prototype || proto === null) && !isNamespaceObject(value)) {
      this.#index(value);
      this.#entries(value as Record<string, unknown>, Object.keys(value), next, deep, filter);
      return;
    }
    if (ArrayBuffer.isView(value)) return this.#bytes(value);
    if (proto === ArrayBuffer.prototype || (deep && value instanceof ArrayBuffer)) {
      this.#index(value);
      const buffer = value as ArrayBuffer;
      if (buffer.byteLength >= ATTACHMENT_MIN) {
        return this.#attach(new Uint8Array(buffer), ARRAY_BUFFER_KIND);
      }
      w.ext(Ext.ArrayBuffer, new Uint8Array(buffer));
      return;
    }
    if (proto === Date.prototype || (deep && value instanceof Date)) {
      this.#index(value);
      w.extHeader(Ext.Date, 8);
      const { view, at } = w.payload(8);
      view.setFloat64(at, (value as Date).getTime());
      return;
    }
    if (proto === Map.prototype || (deep && value instanceof Map)) {
      this.#index(value);
      const flat: unknown[] = [];
      for (const [k, v] of value as Map<unknown, unknown>) flat.push(k, v);
      w.array(1 + flat.length);
      this.#count(1 + flat.length);
      w.extHeader(Ext.TagMap, 0);
      this.#push(Kind.MapEntries, flat, flat.length, next, deep, filter);
      return;
    }
    if (proto === Set.prototype || (deep && value instanceof Set)) {
      this.#index(value);
      const items = [...value as Set<unknown>];
      w.array(1 + items.length);
      this.#count(1 + items.length);
      w.extHeader(Ext.TagSet, 0);
      this.#push(Kind.Items, items, items.length, next, deep, filter);
      return;
    }
    if (value instanceof Error) return this.#error(value, next, deep, filter);
    if (deep && !isThenable(value)) return this.#copy(value, frame, asKey, deep, filter);
    this.#reference(value, frame, asKey);
  }

  /**
   * Checks the nesting of an object met in `frame`, and writes a back
   * reference when it was met before in this message; returns whether it did.
   *
   * @throws {TypeError} when it is nested too deep.
   */
  #repeat(value: object, frame: Frame): boolean {
    if (frame.depth > this.#limits.maxDepth) {
      throw new TypeError(`cannot send a value nested deeper than ${this.#limits.maxDepth} levels`);
    }
    const seen = this.#seen.get(value);
    if (seen === undefined) return false;
    this.#u32Ext(Ext.BackRef, seen);
    return true;
  }

  /** A copy of `value` (`byValue`, `obtain`): a class instance as a plain object of its own members. */
  #copy(
    value: object,
    frame: Frame,
    asKey: boolean,
    deep: boolean,
    filter: CopyFilter | undefined,
  ): void {
    const proto = Object.getPrototypeOf(value);
    const instance = proto !== Object.prototype && proto !== null && !(value instanceof Error) &&
      !isBuiltinData(value) && !(proto === ByReference.prototype || proto === ByValue.prototype);
    if (!instance) return this.#object(value, frame, asKey, deep, filter);
    if (this.#repeat(value, frame)) return;
    const keys = filter ? filter.keys(value) : Object.keys(value);
    if (keys === null) return this.#reference(value, frame, asKey);
    this.#index(value);
    this.#entries(value as Record<string, unknown>, keys, frame.depth + 1, deep, filter);
  }

  #entries(
    source: Record<string, unknown>,
    keys: readonly string[],
    depth: number,
    deep: boolean,
    filter: CopyFilter | undefined,
  ): void {
    this.#writer.map(keys.length);
    this.#count(keys.length);
    const frame = this.#push(Kind.Entries, NO_ITEMS, keys.length, depth, deep, filter);
    frame.keys = keys;
    frame.source = source;
  }

  /**
   * Bytes handed over with `transfer()`: boxed like any byte array, except
   * that a large one becomes its attachment as it is (its memory, moved out
   * of the caller's buffer), and the caller's buffer is detached either way.
   */
  #transferred(value: ArrayBuffer | ArrayBufferView, frame: Frame, asKey: boolean): void {
    const view = ArrayBuffer.isView(value) ? value : null;
    const buffer = (view ? view.buffer : value) as ArrayBuffer;
    if (buffer.detached) throw new TypeError("cannot send a transferred buffer: it is detached");
    const length = view ? view.byteLength : buffer.byteLength;
    if (length < ATTACHMENT_MIN) {
      this.#object(value, frame, asKey, false, undefined);
      buffer.transfer();
      return;
    }
    this.#index(value);
    const kind = !view
      ? ARRAY_BUFFER_KIND
      : Object.getPrototypeOf(view) === Uint8Array.prototype
      ? 1
      : typedArrayKind(view);
    if (kind === -1) {
      throw new TypeError(`cannot send a ${view!.constructor.name}: no wire form for it`);
    }
    const offset = view ? view.byteOffset : 0;
    this.#attach(
      new Uint8Array(buffer, offset, length),
      kind,
      () => attachmentBuffers.adopt(new Uint8Array(buffer.transfer(), offset, length)),
    );
  }

  #bytes(value: ArrayBufferView): void {
    this.#index(value);
    const w = this.#writer;
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    this.#steps -= bytes.length >> 12;
    if (Object.getPrototypeOf(value) === Uint8Array.prototype) {
      if (bytes.length >= ATTACHMENT_MIN) this.#attach(bytes, 1);
      else w.bin(bytes);
      return;
    }
    const kind = typedArrayKind(value);
    if (kind === -1) {
      throw new TypeError(`cannot send a ${value.constructor.name}: no wire form for it`);
    }
    if (bytes.length >= ATTACHMENT_MIN) return this.#attach(bytes, kind);
    w.extHeader(Ext.TypedArray, 1 + bytes.length);
    const { bytes: out, at } = w.payload(1 + bytes.length);
    out[at] = kind;
    out.set(bytes, at + 1);
  }

  /**
   * Takes a copy of `bytes` as the message's next attachment (copied a piece
   * per step, into a buffer the channel owns once the message is sent), so
   * the array travels as it was when sent; or, with `take`, what it returns
   * (transferred bytes, moved rather than copied).
   */
  #attach(bytes: Uint8Array, kind: number, take?: () => Uint8Array): void {
    const attachments = this.#attachments ??= [];
    if (attachments.length >= MAX_ATTACHMENTS) {
      throw new LimitError(
        `cannot send more than ${MAX_ATTACHMENTS} byte arrays of 64 KiB or more in one message`,
      );
    }
    this.#attached += bytes.length;
    this.#checkSize();
    this.#writer.extHeader(Ext.Attachment, 5);
    const { bytes: out, at } = this.#writer.payload(5);
    writeU32(out, at, attachments.length);
    out[at + 4] = kind;
    if (take) {
      attachments.push(take());
      return;
    }
    const copy = this.#allocate(bytes.length);
    attachments.push(copy);
    const frame = this.#push(Kind.Copy, NO_ITEMS, bytes.length, 0, false, undefined);
    frame.from = bytes;
    frame.to = copy;
  }

  #error(error: Error, depth: number, deep: boolean, filter: CopyFilter | undefined): void {
    this.#index(error);
    const props: Record<string, unknown> = {};
    for (const key of Object.keys(error)) {
      if (key !== "cause" && key !== "__proto__" && key !== "stack" && key !== "message") {
        props[key] = (error as unknown as Record<string, unknown>)[key];
      }
    }
    // An AggregateError's own `errors` is not enumerable, yet it is what the error is about.
    const errors = Object.getOwnPropertyDescriptor(error, "errors")?.value;
    if (Array.isArray(errors)) props.errors = errors;
    const hasCause = Object.hasOwn(error, "cause");
    const w = this.#writer;
    w.array(8);
    this.#count(8);
    w.extHeader(Ext.TagError, 0);
    w.string(error.constructor?.name ?? "Error");
    w.string(String(error.name));
    w.string(String(error.message));
    w.string(this.#limits.includeLocalStack ? String(error.stack ?? "") : "");
    w.bool(hasCause);
    const rest = this.#push(
      Kind.ErrorRest,
      hasCause ? [error.cause] : NO_ITEMS,
      2,
      depth,
      deep,
      filter,
    );
    rest.keys = Object.keys(props);
    rest.source = props;
  }

  #reference(value: object, frame: Frame, asKey: boolean): void {
    const w = this.#writer;
    const reference = this.#refs.reference(value);
    switch (reference.kind) {
      case "export":
        w.ext(Ext.Export, encodeExport(reference.descriptor));
        return;
      case "import":
        this.#u32Ext(Ext.Import, reference.id);
        return;
      case "path": {
        if (asKey) throw new TypeError(`await ${String(value)} before using it as a Map key`);
        const path = reference.path;
        w.array(2 + path.length);
        this.#count(2 + path.length);
        w.extHeader(Ext.TagPath, 0);
        w.number(reference.target);
        for (const name of path) w.string(name);
        return;
      }
      case "value":
        this.#value(reference.value, frame, asKey);
        return;
      default:
        reference satisfies never;
    }
  }

  #u32Ext(type: number, n: number): void {
    this.#writer.extHeader(type, 4);
    const { bytes, at } = this.#writer.payload(4);
    writeU32(bytes, at, n);
  }

  #index(value: object): void {
    const index = this.#copied++;
    if (index < TRACKED_OBJECTS) this.#seen.set(value, index);
  }
}

/**
 * Writes `value` when it is a primitive that needs no boxer (most results
 * are); returns whether it did.
 */
export function writePrimitive(writer: ByteWriter, value: unknown): boolean {
  switch (typeof value) {
    case "number":
      if (value === 0 && 1 / value < 0) return false;
      writer.number(value);
      return true;
    case "string":
      if (value.length > LONG_STRING) return false;
      writer.string(value);
      return true;
    case "boolean":
      writer.bool(value);
      return true;
    case "undefined":
      writer.extHeader(Ext.Undefined, 0);
      return true;
    case "object":
      if (value !== null) return false;
      writer.nil();
      return true;
    default:
      return false;
  }
}

/** Items and string lengths small enough that an array of them always fits any message. */
const FAST_ITEMS = 64;
const FAST_STRING = 256;

/**
 * Writes `values` as an array when every item is a small primitive (most
 * argument lists are), so they need no boxer; returns whether it did (the
 * writer is untouched when it did not). What it writes is what a boxer would.
 */
export function writePrimitives(writer: ByteWriter, values: readonly unknown[]): boolean {
  if (values.length > FAST_ITEMS) return false;
  for (const value of values) {
    switch (typeof value) {
      case "number":
        if (value === 0 && 1 / value < 0) return false;
        break;
      case "string":
        if (value.length >= FAST_STRING) return false;
        break;
      case "boolean":
      case "undefined":
        break;
      case "object":
        if (value !== null) return false;
        break;
      default:
        return false;
    }
  }
  writer.array(values.length);
  for (const value of values) writePrimitive(writer, value);
  return true;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

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

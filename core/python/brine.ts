/**
 * Brine, RPyC's codec for immutable values: `None`, `bool`, `int`, `float`,
 * `complex`, `bytes`, `str`, `tuple`, `frozenset`, `slice`, `NotImplemented`
 * and `Ellipsis`. Encoding is byte-exact with Python's `rpyc.core.brine`
 * (5.x and 6.x write the same bytes).
 *
 * Decoding trusts nothing: every declared length is checked against the
 * bytes that remain before anything is allocated, nesting and element counts
 * are bounded, and bad input throws a `ProtocolError` naming what was wrong.
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import { Complex, ELLIPSIS, NOT_IMPLEMENTED, PyFloat, Slice, Tuple } from "./values.ts";

const TAG = {
  None: 0x00,
  EmptyBytes: 0x01,
  EmptyTuple: 0x02,
  True: 0x03,
  False: 0x04,
  NotImplemented: 0x05,
  Ellipsis: 0x06,
  Unicode: 0x08,
  Bytes1: 0x0a,
  Bytes4: 0x0d,
  BytesL1: 0x0e,
  BytesL4: 0x0f,
  Tuple1: 0x10,
  Tuple4: 0x13,
  TupleL1: 0x14,
  TupleL4: 0x15,
  IntL1: 0x16,
  IntL4: 0x17,
  Float: 0x18,
  Slice: 0x19,
  FrozenSet: 0x1a,
  Complex: 0x1b,
} as const;

/**
 * The most digits an int may have: parsing is superlinear, so a peer could
 * otherwise spend this end's CPU with a few megabytes of digits. Python
 * itself refuses to print ints over 4 300 digits (`sys.set_int_max_str_digits`).
 */
export const MAX_INT_DIGITS = 100_000;

/** Ints from −48 to 159 are one byte: the value plus 0x50. */
const IMM_MIN = -0x30;
const IMM_MAX = 0x9f;
const IMM_BIAS = 0x50;

/** How decoded numbers are typed. */
export interface BrineOptions {
  /**
   * `"auto"`: a Python `int` is a `number` when it is a safe integer, else a
   * `bigint`. `"bigint"`: always a `bigint`. Default `"auto"`.
   */
  ints?: "auto" | "bigint";
  /**
   * `"number"`: a Python `float` is a plain `number`. `"wrap"`: a
   * {@linkcode PyFloat}, so it goes back as a float. Default `"number"`.
   */
  floats?: "number" | "wrap";
  /** Deepest nesting of tuples accepted. Default 256. */
  maxDepth?: number;
  /** Most values (tuple items, set items) in one message. Default 10 000 000. */
  maxElements?: number;
}

const UTF8 = new TextEncoder();
const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });

/** Whether `value` has a brine encoding (Python could load it as plain data). */
export function isBrineValue(value: unknown, depth = 0): boolean {
  if (depth > 256) return false;
  switch (typeof value) {
    case "undefined":
    case "boolean":
    case "number":
    case "bigint":
    case "string":
      return true;
    case "symbol":
      return value === NOT_IMPLEMENTED || value === ELLIPSIS;
    case "object":
      if (value === null || value instanceof Uint8Array || value instanceof PyFloat) return true;
      if (value instanceof Complex) return true;
      if (value instanceof Slice) {
        return [value.start, value.stop, value.step].every((v) => isBrineValue(v, depth + 1));
      }
      if (Array.isArray(value)) return value.every((v) => isBrineValue(v, depth + 1));
      if (value instanceof Set) return [...value].every((v) => isBrineValue(v, depth + 1));
      return false;
    default:
      return false;
  }
}

/** A growable output buffer. */
class Writer {
  bytes = new Uint8Array(64);
  length = 0;

  room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  byte(b: number): void {
    this.room(1);
    this.bytes[this.length++] = b;
  }

  u32(n: number): void {
    this.room(4);
    new DataView(this.bytes.buffer).setUint32(this.length, n);
    this.length += 4;
  }

  f64(n: number): void {
    this.room(8);
    new DataView(this.bytes.buffer).setFloat64(this.length, n);
    this.length += 8;
  }

  raw(data: Uint8Array): void {
    this.room(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }
}

/**
 * Encodes `value` as brine. Arrays become tuples, `Set`s frozensets,
 * `undefined` None, a `Uint8Array` bytes. An integral safe `number` is an
 * `int`, any other number (and `-0`) a `float`.
 *
 * @throws {TypeError} for a value brine cannot carry (check with {@linkcode isBrineValue}).
 */
export function encodeBrine(value: unknown): Uint8Array {
  const out = new Writer();
  put(out, value, 0);
  return out.bytes.slice(0, out.length);
}

function put(out: Writer, value: unknown, depth: number): void {
  if (depth > 256) throw new TypeError("brine: value nested deeper than 256");
  switch (typeof value) {
    case "undefined":
      return out.byte(TAG.None);
    case "boolean":
      return out.byte(value ? TAG.True : TAG.False);
    case "number":
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) return putInt(out, BigInt(value));
      out.byte(TAG.Float);
      return out.f64(value);
    case "bigint":
      return putInt(out, value);
    case "string":
      out.byte(TAG.Unicode);
      return putBytes(out, UTF8.encode(value));
    case "symbol":
      if (value === NOT_IMPLEMENTED) return out.byte(TAG.NotImplemented);
      if (value === ELLIPSIS) return out.byte(TAG.Ellipsis);
      break;
    case "object":
      if (value === null) return out.byte(TAG.None);
      if (value instanceof Uint8Array) return putBytes(out, value);
      if (value instanceof PyFloat) {
        out.byte(TAG.Float);
        return out.f64(value.value);
      }
      if (value instanceof Complex) {
        out.byte(TAG.Complex);
        out.f64(value.re);
        return out.f64(value.im);
      }
      if (value instanceof Slice) {
        out.byte(TAG.Slice);
        return putTuple(out, [value.start, value.stop, value.step], depth);
      }
      if (Array.isArray(value)) return putTuple(out, value, depth);
      if (value instanceof Set) {
        out.byte(TAG.FrozenSet);
        return putTuple(out, [...value], depth);
      }
      break;
  }
  throw new TypeError(`brine cannot carry ${describeValue(value)}`);
}

function putInt(out: Writer, n: bigint): void {
  if (n >= IMM_MIN && n <= IMM_MAX) return out.byte(Number(n) + IMM_BIAS);
  const digits = UTF8.encode(n.toString());
  if (digits.length < 256) {
    out.byte(TAG.IntL1);
    out.byte(digits.length);
  } else {
    out.byte(TAG.IntL4);
    out.u32(digits.length);
  }
  out.raw(digits);
}

/**
 * The tag and length of a byte string or tuple of `n` items: a tag of its
 * own when empty, one of four tags with the length in them up to 4, else a
 * tag and a one-byte or four-byte length.
 */
function putLength(
  out: Writer,
  n: number,
  empty: number,
  short: number,
  l1: number,
  l4: number,
): void {
  if (n === 0) return out.byte(empty);
  if (n <= 4) return out.byte(short + n - 1);
  if (n < 256) {
    out.byte(l1);
    return out.byte(n);
  }
  out.byte(l4);
  out.u32(n);
}

function putBytes(out: Writer, data: Uint8Array): void {
  putLength(out, data.length, TAG.EmptyBytes, TAG.Bytes1, TAG.BytesL1, TAG.BytesL4);
  out.raw(data);
}

function putTuple(out: Writer, items: readonly unknown[], depth: number): void {
  putLength(out, items.length, TAG.EmptyTuple, TAG.Tuple1, TAG.TupleL1, TAG.TupleL4);
  for (const item of items) put(out, item, depth + 1);
}

function describeValue(value: unknown): string {
  if (typeof value === "function") return `a function (${value.name || "anonymous"})`;
  if (typeof value === "object" && value !== null) {
    return `an object of class ${value.constructor?.name ?? "null-prototype"}`;
  }
  return `a ${typeof value}`;
}

/**
 * Decodes one brine value that fills `data` exactly.
 *
 * @throws {ProtocolError} for truncated input, an unknown tag, a lying
 * length, bad UTF-8 or digits, trailing bytes, or a breached limit.
 */
export function decodeBrine(data: Uint8Array, options: BrineOptions = {}): unknown {
  const reader = new Reader(data, options);
  const value = reader.value(0);
  if (reader.pos !== data.length) {
    throw peerFault(`brine: ${data.length - reader.pos} bytes after the value`);
  }
  return value;
}

class Reader {
  pos = 0;
  elements = 0;
  readonly view: DataView;
  readonly bigints: boolean;
  readonly wrapFloats: boolean;
  readonly maxDepth: number;
  readonly maxElements: number;

  constructor(readonly data: Uint8Array, options: BrineOptions) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.bigints = options.ints === "bigint";
    this.wrapFloats = options.floats === "wrap";
    this.maxDepth = options.maxDepth ?? 256;
    this.maxElements = options.maxElements ?? 10_000_000;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.data.length) {
      throw peerFault(
        `brine: ${what} needs ${n} bytes at offset ${this.pos}, ` +
          `${this.data.length - this.pos} remain`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.data[this.pos++];
  }

  u32(what: string): number {
    this.need(4, what);
    const n = this.view.getUint32(this.pos);
    this.pos += 4;
    return n;
  }

  f64(): number {
    this.need(8, "a float");
    const n = this.view.getFloat64(this.pos);
    this.pos += 8;
    return n;
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  count(n: number, minBytesEach: number): void {
    // Each item takes at least a byte, so a count larger than what remains is a lie.
    this.need(n * minBytesEach, `a tuple of ${n} items`);
    this.elements += n;
    if (this.elements > this.maxElements) {
      throw peerFault(`brine: more than ${this.maxElements} values in one message`);
    }
  }

  value(depth: number): unknown {
    const at = this.pos;
    const tag = this.u8("a tag");
    if (tag >= IMM_MIN + IMM_BIAS && tag <= IMM_MAX + IMM_BIAS) {
      const n = tag - IMM_BIAS;
      return this.bigints ? BigInt(n) : n;
    }
    switch (tag) {
      case TAG.None:
        return null;
      case TAG.EmptyBytes:
        return new Uint8Array(0);
      case TAG.EmptyTuple:
        return Tuple.fromItems([]);
      case TAG.True:
        return true;
      case TAG.False:
        return false;
      case TAG.NotImplemented:
        return NOT_IMPLEMENTED;
      case TAG.Ellipsis:
        return ELLIPSIS;
      case TAG.Unicode:
        return this.unicode(at);
      case TAG.BytesL1:
        return this.take(this.u8("a length"), "bytes");
      case TAG.BytesL4:
        return this.take(this.u32("a length"), "bytes");
      case TAG.TupleL1:
        return this.tuple(this.u8("a length"), depth);
      case TAG.TupleL4:
        return this.tuple(this.u32("a length"), depth);
      case TAG.IntL1:
        return this.int(this.u8("a length"), at);
      case TAG.IntL4:
        return this.int(this.u32("a length"), at);
      case TAG.Float: {
        const n = this.f64();
        return this.wrapFloats ? new PyFloat(n) : n;
      }
      case TAG.Complex:
        return new Complex(this.f64(), this.f64());
      case TAG.Slice: {
        const parts = this.nested(depth, at, "a slice");
        return new Slice(parts[0], parts[1], parts[2]);
      }
      case TAG.FrozenSet:
        return new Set(this.nested(depth, at, "a frozenset"));
    }
    if (tag >= TAG.Bytes1 && tag <= TAG.Bytes4) return this.take(tag - TAG.Bytes1 + 1, "bytes");
    if (tag >= TAG.Tuple1 && tag <= TAG.Tuple4) return this.tuple(tag - TAG.Tuple1 + 1, depth);
    throw peerFault(`brine: unknown tag 0x${tag.toString(16).padStart(2, "0")} at offset ${at}`);
  }

  /** A slice's or frozenset's tuple, which must be exactly that. */
  nested(depth: number, at: number, what: string): Tuple {
    const inner = this.value(depth + 1);
    if (!(inner instanceof Tuple)) {
      throw peerFault(`brine: ${what} at offset ${at} without a tuple`);
    }
    if (what === "a slice" && inner.length !== 3) {
      throw peerFault(`brine: a slice at offset ${at} has ${inner.length} parts, not 3`);
    }
    return inner;
  }

  unicode(at: number): string {
    const bytes = this.value(this.maxDepth - 1);
    if (!(bytes instanceof Uint8Array)) {
      throw peerFault(`brine: a str at offset ${at} without bytes`);
    }
    try {
      return UTF8_STRICT.decode(bytes);
    } catch {
      throw peerFault(`brine: a str at offset ${at} is not UTF-8`);
    }
  }

  int(length: number, at: number): number | bigint {
    if (length > MAX_INT_DIGITS + 1) {
      throw peerFault(
        `brine: an int of ${length} digits at offset ${at} (at most ${MAX_INT_DIGITS})`,
      );
    }
    const text = new TextDecoder().decode(this.take(length, "an int's digits")).trim();
    if (!/^[-+]?\d+(_\d+)*$/.test(text)) throw peerFault(`brine: bad int at offset ${at}`);
    const n = BigInt(text.replaceAll("_", ""));
    if (this.bigints) return n;
    return n >= Number.MIN_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER ? Number(n) : n;
  }

  tuple(n: number, depth: number): Tuple {
    if (depth >= this.maxDepth) throw peerFault(`brine: nested deeper than ${this.maxDepth}`);
    this.count(n, 1);
    const items = new Array<unknown>(n);
    for (let i = 0; i < n; i++) items[i] = this.value(depth + 1);
    return Tuple.fromItems(items);
  }
}

/**
 * Wire values: what boxing and unboxing share — the references they trade
 * with the session's object space, and the extension payloads of
 * core/PROTOCOL.md's "Values" and "References".
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import {
  DISPOSABLE_FLAG,
  PUSHED_FLAG,
  RefKind,
  type RefKindCode,
  type Target,
} from "./messages.ts";

/**
 * What an EXPORT says: the sender's object `id`, what it is, its class or
 * function name, and the number of its member list (its shape).
 */
export interface ExportDescriptor {
  /** Object, function or promise. */
  kind: RefKindCode;
  /** The sender's export id. */
  id: number;
  /** The number of its member list (see the message's shape table), or `NO_SHAPE`. */
  shape: number;
  /** The class or function name, for display. */
  name: string;
  /** Whether the object has `Symbol.asyncDispose` or `Symbol.dispose` (see DISPOSE). */
  disposable: boolean;
  /** Whether a PUSH of its first chunks follows (a `ReadableStream` exported anew). */
  pushed: boolean;
}

/** How a value that does not travel by copy goes instead. */
export type Reference =
  /** The sender's own object, exported. */
  | { readonly kind: "export"; readonly descriptor: ExportDescriptor }
  /** The receiver's own object, coming back. */
  | { readonly kind: "import"; readonly id: number }
  /** The value at `path` of one of the receiver's targets (a netref not yet awaited). */
  | { readonly kind: "path"; readonly target: Target; readonly path: readonly string[] }
  /** A netref whose answer is already here: this value travels in its place. */
  | { readonly kind: "value"; readonly value: unknown };

/**
 * How boxing reaches the connection's object space.
 *
 * Contract: `reference` may add to the export table and the member lists;
 * the message being boxed owns what it adds (if it is never sent, the space
 * takes it back). It never calls user code.
 */
export interface ReferenceWriter {
  /** How `value`, which goes by reference, travels. */
  reference(value: object): Reference;
  /**
   * Whether `value` is a netref, which goes by reference whatever it looks
   * like (a synchronous netref looks like a plain object or array).
   */
  isReference(value: object): boolean;
}

/**
 * How unboxing reaches the connection's object space.
 *
 * Contract: `importReference` may add to the import table (the message
 * being read owns what it adds); none of these calls user code.
 */
export interface ReferenceReader {
  /** The local proxy for the peer's export. */
  importReference(descriptor: ExportDescriptor): unknown;
  /** Our own export `id`, coming back: the original object. */
  localReference(id: number): unknown;
  /** A lazy path on one of our targets, used as an argument: its value, later. */
  resolvePath(target: Target, path: readonly string[]): Promise<unknown>;
}

/**
 * Which own members of class instances a copy carries: all of them, or for
 * `obtain` only those the peer's policy lets it read.
 */
export interface CopyFilter {
  /** The own keys of `instance` to copy, or null when it must stay a reference. */
  keys(instance: object): string[] | null;
}

/**
 * Byte arrays this long or longer travel as attachments: beside the message,
 * so neither end copies them through MessagePack.
 */
export const ATTACHMENT_MIN = 64 * 1024;

/** The kind byte of an attached `ArrayBuffer` (typed arrays use their index in TYPED_ARRAYS). */
export const ARRAY_BUFFER_KIND = 0xff;

/** The shape number of a reference sent without a member list. */
export const NO_SHAPE = 0xffffffff;

/** The typed-array constructors, indexed by their wire kind. */
export const TYPED_ARRAYS = [
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
  // Kind 12, where the runtime has it.
  ...(typeof Float16Array === "function" ? [Float16Array] : []),
] as const;

/** A typed array's wire kind, or -1 when it has none. */
export function typedArrayKind(value: ArrayBufferView): number {
  return TYPED_ARRAYS.findIndex((cls) => value instanceof cls);
}

/** Bytes per element of the typed-array kind `kind` (1 for a `DataView`). */
export function elementSize(kind: number): number {
  const cls = TYPED_ARRAYS[kind];
  return cls === DataView ? 1 : (cls as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

/** A typed array (or `DataView`) of kind `kind` over all of `buffer`. */
export function viewOf(kind: number, buffer: ArrayBuffer): ArrayBufferView {
  const cls = TYPED_ARRAYS[kind];
  return cls === DataView ? new DataView(buffer) : new (cls as Uint8ArrayConstructor)(buffer);
}

/** Reads a big-endian uint32, or throws a ProtocolError naming `what`. */
export function readU32(data: Uint8Array, offset: number, what: string): number {
  if (data.length < offset + 4) throw peerFault(`malformed ${what}`);
  return ((data[offset] << 24) | (data[offset + 1] << 16) | (data[offset + 2] << 8) |
    data[offset + 3]) >>> 0;
}

/** `n` as 4 big-endian bytes at `at` of `into`. */
export function writeU32(into: Uint8Array, at: number, n: number): void {
  into[at] = n >>> 24;
  into[at + 1] = (n >>> 16) & 0xff;
  into[at + 2] = (n >>> 8) & 0xff;
  into[at + 3] = n & 0xff;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** An EXPORT payload: kind (and flags), id, shape, then the name (at most 64 characters). */
export function encodeExport(descriptor: ExportDescriptor): Uint8Array {
  const name = utf8.encode(descriptor.name.slice(0, 64));
  const out = new Uint8Array(9 + name.length);
  out[0] = descriptor.kind | (descriptor.disposable ? DISPOSABLE_FLAG : 0) |
    (descriptor.pushed ? PUSHED_FLAG : 0);
  writeU32(out, 1, descriptor.id);
  writeU32(out, 5, descriptor.shape);
  out.set(name, 9);
  return out;
}

/** Decodes an EXPORT payload. */
export function decodeExport(data: Uint8Array): ExportDescriptor {
  const kind = data[0] & ~(DISPOSABLE_FLAG | PUSHED_FLAG);
  const pushed = (data[0] & PUSHED_FLAG) !== 0;
  if (
    data.length < 9 || data.length > 9 + 64 * 3 || kind > RefKind.WritableStream ||
    (pushed && kind !== RefKind.ReadableStream)
  ) {
    throw peerFault("malformed reference");
  }
  return {
    kind: kind as RefKindCode,
    disposable: (data[0] & DISPOSABLE_FLAG) !== 0,
    pushed,
    id: readU32(data, 1, "reference"),
    shape: readU32(data, 5, "reference"),
    name: fromUtf8.decode(data.subarray(9)),
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A bigint as a sign byte and big-endian magnitude. */
export function bigintToBytes(value: bigint): Uint8Array {
  const negative = value < 0n;
  let hex = (negative ? -value : value).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(1 + hex.length / 2);
  out[0] = negative ? 1 : 0;
  for (let i = 0, j = 1; i < hex.length; i += 2, j++) {
    out[j] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
  }
  return out;
}

function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

/** The inverse of {@linkcode bigintToBytes}. */
export function bytesToBigint(data: Uint8Array): bigint {
  if (data.length < 1 || data[0] > 1) throw peerFault("malformed bigint");
  const parts = new Array<string>(data.length);
  parts[0] = "0x0";
  for (let i = 1; i < data.length; i++) parts[i] = HEX[data[i]];
  const magnitude = BigInt(parts.join(""));
  return data[0] ? -magnitude : magnitude;
}

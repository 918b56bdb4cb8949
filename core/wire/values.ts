/**
 * Wire values: the MessagePack extension payloads and tags that boxing and
 * unboxing share (core/PROTOCOL.md, "Values" and "References").
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { peerFault } from "../errors.ts";
import { Ext, type RefKindCode, type Target } from "./messages.ts";

/**
 * How boxing and unboxing reach the connection's reference tables.
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

/** The ext for `undefined`. */
export const UNDEFINED = new ExtData(Ext.Undefined, new Uint8Array(0));
/** The ext for `-0`. */
export const NEGATIVE_ZERO = new ExtData(Ext.NegativeZero, new Uint8Array(0));
/** The tag that opens a `Map`. */
export const TAG_MAP = new ExtData(Ext.TagMap, new Uint8Array(0));
/** The tag that opens a `Set`. */
export const TAG_SET = new ExtData(Ext.TagSet, new Uint8Array(0));
/** The tag that opens an `Error`. */
export const TAG_ERROR = new ExtData(Ext.TagError, new Uint8Array(0));

/**
 * Byte arrays this long or longer travel as attachments: frames of their own
 * next to the message, so neither end copies them through MessagePack.
 */
export const ATTACHMENT_MIN = 64 * 1024;

/** The kind byte of an attached `ArrayBuffer` (typed arrays use their index in TYPED_ARRAYS). */
export const ARRAY_BUFFER_KIND = 0xff;

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

/** Whether a decoded item is a lazy-path tagged array. */
export function isPathArg(wire: unknown): boolean {
  return Array.isArray(wire) && wire[0] instanceof ExtData && wire[0].type === Ext.TagPath;
}

/** `n` as 4 big-endian bytes. */
export function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Reads a big-endian uint32, or throws a ProtocolError naming `what`. */
export function readU32(data: Uint8Array, offset: number, what: string): number {
  if (data.length < offset + 4) throw peerFault(`malformed ${what}`);
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

/** Decodes an EXPORT payload. */
export function decodeExport(data: Uint8Array): ExportDescriptor {
  if (data.length < 9 || data[0] > 2) throw peerFault("malformed reference");
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

/** A bigint as a sign byte and big-endian magnitude. */
export function bigintToBytes(value: bigint): Uint8Array {
  const negative = value < 0n;
  let hex = (negative ? -value : value).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(1 + hex.length / 2);
  out[0] = negative ? 1 : 0;
  for (let i = 0; i < hex.length / 2; i++) out[i + 1] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The inverse of {@linkcode bigintToBytes}. */
export function bytesToBigint(data: Uint8Array): bigint {
  if (data.length < 1 || data[0] > 1) throw peerFault("malformed bigint");
  let hex = "0x0";
  for (let i = 1; i < data.length; i++) hex += data[i].toString(16).padStart(2, "0");
  const magnitude = BigInt(hex);
  return data[0] ? -magnitude : magnitude;
}

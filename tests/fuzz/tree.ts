/**
 * Message bodies as trees of values decoded by @msgpack/msgpack (an encoder
 * independent of core/wire/msgpack.ts), with two kinds of node no honest
 * encoder writes: {@linkcode Raw} bytes spliced in verbatim, and an
 * {@linkcode AnyKeyMap} whose keys may be anything. A tree is encoded again
 * after a mutator changed it; {@linkcode slotsOf} lists the places a mutator
 * may change.
 *
 * @module
 */

import { Decoder, Encoder, ExtData, ExtensionCodec } from "@msgpack/msgpack";
import { concat } from "../_raw_peer.ts";

/** Bytes spliced verbatim into an encoding: how lies no honest encoder writes get in. */
export class Raw {
  /** What is spliced. */
  readonly bytes: Uint8Array;
  /** Wraps `bytes`. */
  constructor(bytes: Uint8Array | readonly number[]) {
    this.bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  }
}

/**
 * A MessagePack map whose keys may be anything: a shape table's integers, a
 * tag, a `__proto__` key (which @msgpack/msgpack would neither decode into an
 * object nor encode from one).
 */
export class AnyKeyMap {
  /** Key, value, in order. */
  readonly entries: [unknown, unknown][];
  /** A map of `entries`. */
  constructor(entries: [unknown, unknown][]) {
    this.entries = entries;
  }
}

/** A decoded message body: an optional shape table, the message, and anything after it. */
export interface Body {
  /** The shape table before the message, if any. */
  table: AnyKeyMap | null;
  /** The message (an array, unless mutated). */
  message: unknown;
  /** Values after the message (a protocol error, or a mutation). */
  rest: unknown[];
}

/** The ext type @msgpack/msgpack writes where a {@linkcode Raw} is to be spliced. */
const PLACEHOLDER = 0x7f;
const MARK = [0xf0, 0x0d, 0xfa, 0xce];

interface SpliceContext {
  pieces: Uint8Array[];
}

const spliceCodec = new ExtensionCodec<SpliceContext>();
spliceCodec.register({
  type: PLACEHOLDER,
  encode(input: unknown, context: SpliceContext): Uint8Array | null {
    let bytes: Uint8Array;
    if (input instanceof Raw) bytes = input.bytes;
    else if (input instanceof AnyKeyMap) bytes = encodeAnyKeyMap(input);
    else return null;
    context.pieces.push(bytes);
    const marker = new Uint8Array(8);
    marker.set(MARK);
    new DataView(marker.buffer).setUint32(4, context.pieces.length - 1);
    return marker;
  },
  decode: (data: Uint8Array) => data,
});

/**
 * Encodes a tree of decoded values (and {@linkcode Raw} and
 * {@linkcode AnyKeyMap} nodes) with @msgpack/msgpack: each special node is
 * written as an 8-byte placeholder extension, then replaced by its bytes.
 */
export function encodeTree(value: unknown): Uint8Array {
  const context: SpliceContext = { pieces: [] };
  const encoded = new Encoder<SpliceContext>({
    extensionCodec: spliceCodec,
    context,
    maxDepth: 10_000,
  }).encode(value);
  return context.pieces.length === 0 ? encoded : splice(encoded, context.pieces);
}

/** Replaces every placeholder (`d7 7f MARK index`) in `encoded` by its piece. */
function splice(encoded: Uint8Array, pieces: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i + 10 <= encoded.length; i++) {
    if (
      encoded[i] !== 0xd7 || encoded[i + 1] !== PLACEHOLDER || encoded[i + 2] !== MARK[0] ||
      encoded[i + 3] !== MARK[1] || encoded[i + 4] !== MARK[2] || encoded[i + 5] !== MARK[3]
    ) continue;
    const index = new DataView(encoded.buffer, encoded.byteOffset + i + 6, 4).getUint32(0);
    parts.push(encoded.subarray(from, i), pieces[index]);
    i += 9;
    from = i + 1;
  }
  parts.push(encoded.subarray(from));
  return concat(...parts);
}

function encodeAnyKeyMap(map: AnyKeyMap): Uint8Array {
  // One encoding of the keys and values as an array, whose header then becomes the map's.
  const items = encodeTree(map.entries.flat());
  const arrayHeader = header("array", 2 * map.entries.length).length;
  return concat(header("map", map.entries.length), items.subarray(arrayHeader));
}

/** The narrowest MessagePack header of a map, array, string or binary of `count`. */
export function header(kind: "map" | "array" | "str" | "bin", count: number): Uint8Array {
  const big = (tag: number, width: 1 | 2 | 4) => {
    const out = new Uint8Array(1 + width);
    out[0] = tag;
    const view = new DataView(out.buffer);
    if (width === 1) out[1] = count;
    else if (width === 2) view.setUint16(1, count);
    else view.setUint32(1, count >>> 0);
    return out;
  };
  switch (kind) {
    case "map":
      return count < 16
        ? new Uint8Array([0x80 | count])
        : big(count < 0x10000 ? 0xde : 0xdf, count < 0x10000 ? 2 : 4);
    case "array":
      return count < 16
        ? new Uint8Array([0x90 | count])
        : big(count < 0x10000 ? 0xdc : 0xdd, count < 0x10000 ? 2 : 4);
    case "str":
      return count < 32
        ? new Uint8Array([0xa0 | count])
        : count < 0x100
        ? big(0xd9, 1)
        : big(count < 0x10000 ? 0xda : 0xdb, count < 0x10000 ? 2 : 4);
    case "bin":
      return count < 0x100
        ? big(0xc4, 1)
        : big(count < 0x10000 ? 0xc5 : 0xc6, count < 0x10000 ? 2 : 4);
  }
}

const treeDecoder = new Decoder();

/** Decodes a message body; null when @msgpack/msgpack cannot read it. */
export function decodeBody(payload: Uint8Array): Body | null {
  let values: unknown[];
  try {
    values = [...treeDecoder.decodeMulti(payload)];
  } catch {
    return null;
  }
  if (values.length === 0) return null;
  let table: AnyKeyMap | null = null;
  let start = 0;
  if (values.length >= 2 && isPlainObject(values[0])) {
    // A shape table: its keys are shape numbers, which decoding made property names.
    const entries = Object.entries(values[0] as Record<string, unknown>);
    table = new AnyKeyMap(entries.map(([shape, list]) => [Number(shape), list]));
    start = 1;
  }
  return { table, message: values[start], rest: values.slice(start + 1) };
}

/** Encodes a body decoded (and perhaps mutated) by {@linkcode decodeBody}. */
export function encodeBody(body: Body): Uint8Array {
  return concat(
    body.table ? encodeTree(body.table) : new Uint8Array(0),
    encodeTree(body.message),
    ...body.rest.map(encodeTree),
  );
}

/** Whether `value` decoded as a plain object (a map of string keys), not another kind of node. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && !(value instanceof ExtData) && !(value instanceof Raw) &&
    !(value instanceof AnyKeyMap);
}

/** A place in a tree that holds a value. */
export interface Slot {
  get(): unknown;
  set(value: unknown): void;
}

/** Every slot of `body` (the message itself, its fields, and all they contain), up to `limit`. */
export function slotsOf(body: Body, limit = 4_000): Slot[] {
  const out: Slot[] = [{ get: () => body.message, set: (v) => (body.message = v) }];
  const visit = (value: unknown) => {
    if (out.length >= limit) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        out.push({ get: () => value[i], set: (v) => (value[i] = v) });
        visit(value[i]);
      }
    } else if (value instanceof AnyKeyMap) {
      for (const entry of value.entries) {
        out.push({ get: () => entry[1], set: (v) => (entry[1] = v) });
        visit(entry[1]);
      }
    } else if (isPlainObject(value)) {
      for (const key of Object.keys(value)) {
        out.push({ get: () => value[key], set: (v) => (value[key] = v) });
        visit(value[key]);
      }
    }
  };
  visit(body.message);
  if (body.table) visit(body.table);
  return out;
}

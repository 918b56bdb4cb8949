/**
 * A seeded, bounded fuzzer for the rdc wire protocol (core/PROTOCOL.md,
 * version 2), shared by tests/fuzz_test.ts (a few thousand mutations in CI)
 * and bench/fuzz.ts (the long run).
 *
 * What it checks is the promise of the hostile-peer issue: bad input gets a
 * clear error and loses nothing — only the offending connection closes, the
 * server never crashes, an honest client on the same server keeps getting
 * right answers, and nothing a peer sends makes rdc allocate, buffer or
 * compute without bound.
 *
 * How, in four parts (each a section below):
 *
 * 1. **Randomness.** {@linkcode Rng}, a mulberry32 generator. Mutation `i` of
 *    seed `s` draws from its own generator ({@linkcode mutationRng}), so one
 *    mutation can be rebuilt and replayed alone, whatever ran before it.
 * 2. **Corpus.** {@linkcode captureCorpus} runs a real client against a real
 *    server over a pair of tapped web streams and records every frame each
 *    way, split at frame boundaries, one {@linkcode Scenario} per connection.
 *    Each frame the client sent remembers how many server frames had gone out
 *    before it, so a replay can wait for them (a reply to a callback must not
 *    overtake the call it answers).
 * 3. **Mutators.** {@linkcode makeMutation} takes a scenario's traffic and
 *    applies one to three mutators: structure-aware ones decode a message body
 *    with @msgpack/msgpack (an encoder independent of core/wire/msgpack.ts),
 *    change it and encode it again; byte-level ones flip, cut and splice
 *    frames; chunk-level ones lie about streams; a few change the HELLO.
 * 4. **Runner.** {@linkcode runFuzz} serves {@linkcode fuzzService} on a free
 *    loopback port, keeps one honest client connected throughout, and sends
 *    each mutation on a raw TCP connection of its own (a small pool of them at
 *    once), reading what comes back until a CLOSE, the end of the stream, the
 *    answer to a sentinel PING sent last, or a short idle bound. Each batch of
 *    `checkEvery` mutations runs while the honest client checks its answers;
 *    after it, once the raw peers have gone, no connection or call of theirs
 *    may be left, the server's inbound and pending-requests budgets must be
 *    whole again (the honest client fills each exactly), and no built-in
 *    prototype may have changed. At the end: memory, unhandled rejections.
 *
 * The wire numbers are written out here, not imported from core/, so that the
 * fuzzer checks the protocol as the specification states it.
 *
 * @module
 */

import { deepStrictEqual } from "node:assert/strict";
import { Decoder, Encoder, ExtData, ExtensionCodec } from "@msgpack/msgpack";
import {
  connect,
  type Connection,
  connectStream,
  currentCall,
  deleteMember,
  hasMember,
  type Limits,
  type Logger,
  obtain,
  serve,
  type Server,
  Service,
  setMember,
  timed,
} from "../mod.ts";

// =============================================================================================
// 1. Randomness
// =============================================================================================

/**
 * A small deterministic pseudo-random generator (mulberry32): the same seed
 * always yields the same sequence, on every platform.
 */
export class Rng {
  #state: number;

  /** A generator seeded with the low 32 bits of `seed`. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A uniformly random unsigned 32-bit integer. */
  u32(): number {
    return (this.next() * 4294967296) >>> 0;
  }

  /** `count` random bytes. */
  bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.int(256);
    return out;
  }

  /** One of `items`, each as likely as its `weight`. */
  weighted<T extends { weight: number }>(items: readonly T[]): T {
    let total = 0;
    for (const item of items) total += item.weight;
    let left = this.next() * total;
    for (const item of items) {
      left -= item.weight;
      if (left < 0) return item;
    }
    return items[items.length - 1];
  }
}

/**
 * The generator of mutation `index` under `seed`: hashed from both, so that
 * neighbouring mutations are unrelated and any one can be rebuilt alone.
 */
export function mutationRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return new Rng(h);
}

// =============================================================================================
// Wire numbers (core/PROTOCOL.md)
// =============================================================================================

/** The protocol version the fuzzer speaks. */
export const VERSION = 2;
/** Message types. */
export const MSG = {
  HELLO: 0,
  REQUEST: 1,
  REPLY: 2,
  THROW: 3,
  RELEASE: 4,
  CANCEL: 5,
  FINISH: 6,
  CLOSE: 7,
} as const;
/** Request operations. */
export const OP = {
  GET: 0,
  CALL: 1,
  NEW: 2,
  SET: 3,
  DELETE: 4,
  HAS: 5,
  ITER: 6,
  NEXT: 7,
  RETURN: 8,
  AWAIT: 9,
  PING: 10,
  COPY: 11,
} as const;
/** Extension types of boxed values. */
export const EXT = {
  UNDEFINED: 1,
  NEGATIVE_ZERO: 2,
  BIGINT: 3,
  DATE: 4,
  BACKREF: 5,
  EXPORT: 6,
  IMPORT: 7,
  TYPED_ARRAY: 8,
  ARRAY_BUFFER: 9,
  ATTACHMENT: 10,
  TAG_MAP: 20,
  TAG_SET: 21,
  TAG_ERROR: 22,
  TAG_PATH: 23,
} as const;
/** The header bit of a chunk frame. */
export const CHUNK_BIT = 0x80000000;
/** Chunk flags. */
export const FLAG = { FIRST: 0x01, ABORT: 0x02 } as const;

const MiB = 1024 * 1024;

/**
 * The largest message the server under test accepts: small, because a peer
 * may make the server take (and zero) that much memory with a frame of a few
 * bytes, which the budgets bound but the process's resident size shows.
 */
export const MAX_MESSAGE = 4 * MiB;

/**
 * The limits of the server under test: the defaults, but for the smallest
 * frame size a server may announce, so that streams of a few chunks cost a
 * few hundred KiB instead of megabytes (the framing code is the same), and a
 * 4 MiB message size.
 */
export const FUZZ_LIMITS: Limits = { maxFrameSize: 64 * 1024, maxMessageSize: MAX_MESSAGE };

/**
 * The server's inbound budget, across its connections: as small as one
 * message, so that the honest client can check that all of it came back
 * (one message of nearly that size goes through only when nothing leaked).
 */
export const FUZZ_INBOUND_BUDGET = MAX_MESSAGE;

/**
 * The server's budget of requests pending across its connections: small, so
 * that the honest client can fill it exactly and see that none of it leaked.
 */
export const FUZZ_PENDING_BUDGET = 4096;

/** The largest frame payload the server under test accepts. */
const FRAME_LIMIT = 64 * 1024;

/** The limits the raw peer announces in its HELLO: the protocol's defaults. */
const PEER_LIMITS = {
  maxMessageSize: 1024 * MiB,
  maxFrameSize: 2 * MiB,
  maxDepth: 256,
  maxElements: 10_000_000,
  maxBigIntBytes: MiB,
};

/** The request number of the PING sent after every mutation: its answer proves the connection lives. */
export const SENTINEL_SEQ = 4_000_000_123;

// =============================================================================================
// Frames and chunks
// =============================================================================================

/** One frame: a header and a payload (core/PROTOCOL.md, "Frames"). */
export interface Frame {
  /** The header's chunk bit. */
  chunk: boolean;
  /** What follows the header. */
  payload: Uint8Array;
  /** A header that lies about the payload's length (a mutation); absent when it tells the truth. */
  header?: number;
}

/** The bytes of `frames`, back to back. */
export function frameBytes(frames: readonly Frame[]): Uint8Array {
  let size = 0;
  for (const frame of frames) size += 4 + frame.payload.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const frame of frames) {
    const header = frame.header ?? ((frame.payload.length | (frame.chunk ? CHUNK_BIT : 0)) >>> 0);
    view.setUint32(at, header >>> 0);
    out.set(frame.payload, at + 4);
    at += 4 + frame.payload.length;
  }
  return out;
}

/** A whole frame holding `payload`. */
export function wholeFrame(payload: Uint8Array): Frame {
  return { chunk: false, payload };
}

/**
 * Splits a byte stream into frames as they complete. Frames whose payload is
 * larger than `keepUpTo` are counted and skipped, never buffered.
 */
export class FrameSplitter {
  #pending: Uint8Array = new Uint8Array(0);
  /** Bytes of the current oversize frame still to skip. */
  #skipping = 0;
  readonly #keepUpTo: number;

  /** A splitter that keeps payloads of at most `keepUpTo` bytes. */
  constructor(keepUpTo = Infinity) {
    this.#keepUpTo = keepUpTo;
  }

  /** Bytes of an unfinished frame held. */
  get buffered(): number {
    return this.#pending.length;
  }

  /**
   * Feeds `bytes`; returns the frames they complete (a skipped frame comes
   * back with an empty payload).
   */
  push(bytes: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let data = bytes;
    if (this.#skipping > 0) {
      const skip = Math.min(this.#skipping, data.length);
      this.#skipping -= skip;
      data = data.subarray(skip);
      if (this.#skipping > 0) return out;
    }
    let buffer = this.#pending.length === 0 ? data : concat(this.#pending, data);
    while (buffer.length >= 4) {
      const header = new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0);
      const length = header & 0x7fffffff;
      const chunk = header >= CHUNK_BIT;
      if (length > this.#keepUpTo) {
        const skip = Math.min(length, buffer.length - 4);
        this.#skipping = length - skip;
        buffer = buffer.subarray(4 + skip);
        out.push({ chunk, payload: new Uint8Array(0) });
        if (this.#skipping > 0) break;
        continue;
      }
      if (buffer.length < 4 + length) break;
      out.push({ chunk, payload: buffer.slice(4, 4 + length) });
      buffer = buffer.subarray(4 + length);
    }
    this.#pending = buffer.slice();
    return out;
  }
}

/** One chunk frame's payload, read (core/PROTOCOL.md, "Frames"). */
export interface Chunk {
  /** The sender's stream number. */
  stream: number;
  /** FIRST, ABORT, or neither (or anything, in a mutation). */
  flags: number;
  /** With FIRST: the message body's length. */
  bodyLength?: number;
  /** With FIRST: each attachment's length. */
  sizes?: number[];
  /** The stream's data this chunk carries. */
  data: Uint8Array;
}

/** Reads a chunk frame's payload; null when it is too short to be one. */
export function parseChunk(payload: Uint8Array): Chunk | null {
  if (payload.length < 5) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const stream = view.getUint32(0);
  const flags = payload[4];
  if (!(flags & FLAG.FIRST)) return { stream, flags, data: payload.subarray(5) };
  if (payload.length < 11) return null;
  const bodyLength = view.getUint32(5);
  const count = view.getUint16(9);
  if (payload.length < 11 + 4 * count) return null;
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) sizes.push(view.getUint32(11 + 4 * i));
  return { stream, flags, bodyLength, sizes, data: payload.subarray(11 + 4 * count) };
}

/** A chunk frame's payload. */
export function chunkPayload(chunk: Chunk): Uint8Array {
  const first = chunk.bodyLength !== undefined;
  const sizes = chunk.sizes ?? [];
  const prologue = first ? 6 + 4 * sizes.length : 0;
  const out = new Uint8Array(5 + prologue + chunk.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, chunk.stream >>> 0);
  out[4] = chunk.flags & 0xff;
  if (first) {
    view.setUint32(5, chunk.bodyLength! >>> 0);
    view.setUint16(9, sizes.length & 0xffff);
    sizes.forEach((size, i) => view.setUint32(11 + 4 * i, size >>> 0));
  }
  out.set(chunk.data, 5 + prologue);
  return out;
}

/** A message that travelled as a stream of chunks, put back together. */
export interface StreamedMessage {
  /** Its stream number. */
  stream: number;
  /** The message body (MessagePack). */
  body: Uint8Array;
  /** Its attachments, in order. */
  attachments: Uint8Array[];
  /** Where its chunks are among the frames. */
  frames: number[];
}

/** The complete streams among `frames` (those whose every announced byte is there). */
export function collectStreams(frames: readonly Frame[]): StreamedMessage[] {
  interface Open {
    sizes: number[];
    total: number;
    received: number;
    data: Uint8Array[];
    frames: number[];
  }
  const open = new Map<number, Open>();
  const out: StreamedMessage[] = [];
  frames.forEach((frame, index) => {
    if (!frame.chunk) return;
    const chunk = parseChunk(frame.payload);
    if (!chunk || chunk.flags & FLAG.ABORT) return;
    if (chunk.bodyLength !== undefined) {
      const sizes = [chunk.bodyLength, ...chunk.sizes!];
      const total = sizes.reduce((a, b) => a + b, 0);
      open.set(chunk.stream, { sizes, total, received: 0, data: [], frames: [] });
    }
    const stream = open.get(chunk.stream);
    if (!stream) return;
    stream.data.push(chunk.data);
    stream.frames.push(index);
    stream.received += chunk.data.length;
    if (stream.received < stream.total) return;
    open.delete(chunk.stream);
    const all = concat(...stream.data);
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const size of stream.sizes) {
      parts.push(all.slice(at, at + size));
      at += size;
    }
    out.push({
      stream: chunk.stream,
      body: parts[0],
      attachments: parts.slice(1),
      frames: stream.frames,
    });
  });
  return out;
}

/**
 * The chunk frames of one message (body, then attachments) on stream
 * `stream`, each within `maxPayload` bytes, as an honest sender cuts them.
 */
export function chunkMessage(
  stream: number,
  body: Uint8Array,
  attachments: readonly Uint8Array[],
  maxPayload = FRAME_LIMIT - 4,
): Frame[] {
  const data = concat(body, ...attachments);
  const frames: Frame[] = [];
  let at = 0;
  let first = true;
  while (first || at < data.length) {
    const prologue = first ? 6 + 4 * attachments.length : 0;
    const room = Math.max(1, maxPayload - 5 - prologue);
    const piece = data.subarray(at, at + room);
    const chunk: Chunk = first
      ? {
        stream,
        flags: FLAG.FIRST,
        bodyLength: body.length,
        sizes: attachments.map((a) => a.length),
        data: piece,
      }
      : { stream, flags: 0, data: piece };
    frames.push({ chunk: true, payload: chunkPayload(chunk) });
    at += piece.length;
    first = false;
  }
  return frames;
}

/** `parts` joined. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// =============================================================================================
// Message bodies as trees (@msgpack/msgpack)
// =============================================================================================

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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && !(value instanceof ExtData) && !(value instanceof Raw) &&
    !(value instanceof AnyKeyMap);
}

/** A tag: an extension of `type` with no payload (`c7 00 type`). */
export function tag(type: number): ExtData {
  return new ExtData(type, new Uint8Array(0));
}

/** The big-endian uint32 `bytes` start with. */
function readU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

/** `n` as 4 big-endian bytes. */
function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

/** A frame holding `message` (a tree), whole. */
export function messageFrame(message: unknown): Frame {
  return wholeFrame(encodeTree(message));
}

/** The raw peer's HELLO, announcing `limits` (the protocol's defaults unless told). */
export function helloMessage(limits: Record<string, unknown> = PEER_LIMITS): unknown[] {
  return [MSG.HELLO, "rdc", VERSION, "Fuzzer", ["Fuzzer"], [], { ...limits }];
}

/** The PING whose answer shows the connection still serves after the mutated traffic. */
export function sentinelFrame(): Frame {
  return messageFrame([MSG.REQUEST, SENTINEL_SEQ, OP.PING, 0, [], [], ["fuzz-sentinel"]]);
}

// =============================================================================================
// 2. The service under test, and the corpus of valid traffic
// =============================================================================================

/** What the service under test counts across its instances. */
export class ServiceProbe {
  /** Calls of `hang` ever started (but those of the budget check). */
  hangs = 0;
  /** Calls of `hang` the budget check made. */
  budgetHangs = 0;
  /** Calls of `hang` that started cancelled already (their connection had closed). */
  lateHangs = 0;
  /** Calls of `hang` still waiting for their cancellation: call number → its connection. */
  readonly hanging = new Map<number, string>();
}

/** The argument of the `hang` calls the pending-budget check makes. */
const BUDGET_HANG = "budget check";

/** The object `make` returns: methods the peer may call, state to see that calls land. */
class Counter {
  #value: number;
  constructor(start: number) {
    this.#value = start;
  }
  exposed_add(step: number): number {
    this.#value += step;
    return this.#value;
  }
  exposed_value(): number {
    return this.#value;
  }
  exposed_items(): number[] {
    return [this.#value, this.#value + 1];
  }
}

/**
 * The service the fuzzer attacks, one class per server: echo, make an
 * object, call a callback, hang until cancelled, and a few more members so
 * that the corpus covers every operation. `probe` counts the hanging calls,
 * so the runner can tell a call that outlived its connection.
 */
export function fuzzService(probe: ServiceProbe, hold?: unknown[]): new () => Service {
  return class FuzzService extends Service {
    /** Keeps what the peer sent (when recording), so no collection adds RELEASEs. */
    #held(values: unknown[]): void {
      hold?.push(...values);
    }

    exposed_config = { size: 3, nested: { deep: [1, 2, 3], label: "cfg" } };

    exposed_echo(value: unknown): unknown {
      this.#held([value]);
      return value;
    }

    exposed_make(start = 0): Counter {
      return new Counter(typeof start === "number" ? start : 0);
    }

    async exposed_call(callback: (...args: unknown[]) => unknown, ...args: unknown[]) {
      this.#held([callback, ...args]);
      return await callback(...args);
    }

    async exposed_callMember(target: Record<string, unknown>, name: string, ...args: unknown[]) {
      this.#held([target, ...args]);
      return await (target[name] as (...args: unknown[]) => unknown)(...args);
    }

    exposed_hang(purpose?: unknown): Promise<string> {
      const call = currentCall()!; // read before the first await, as it must be
      const signal = call.signal;
      // The budget check's own calls are tracked like the others, but not counted.
      const id = purpose === BUDGET_HANG ? -++probe.budgetHangs : probe.hangs++;
      if (signal.aborted) {
        // Served after its connection closed (it waited for a lazy path, say): nothing to wait for.
        probe.lateHangs++;
        return Promise.resolve("cancelled");
      }
      probe.hanging.set(id, (call.connection as Connection).description);
      return new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          probe.hanging.delete(id);
          resolve("cancelled");
        }, { once: true });
      });
    }

    exposed_f(n: number): number {
      return n * 2;
    }

    exposed_fail(message: string): never {
      const error = new RangeError(String(message));
      error.stack = `RangeError: ${error.message}\n    at fail (fuzz service)`;
      throw error;
    }

    *exposed_range(n: number): Generator<number> {
      for (let i = 0; i < Math.min(Number(n) || 0, 100); i++) yield i;
    }

    exposed_later(value: unknown): { promise: Promise<unknown> } {
      return { promise: Promise.resolve(value) };
    }

    exposed_size(bytes: ArrayBufferView | ArrayBuffer): number {
      return bytes.byteLength;
    }
  };
}

/** One frame the client sent, and how many server frames had gone out before it. */
export interface TrafficFrame {
  /** The frame. */
  frame: Frame;
  /** Server frames (after its HELLO) a replay waits for before sending this one. */
  after: number;
}

/** The traffic of one recorded connection, HELLOs left out. */
export interface Scenario {
  /** What the client did. */
  name: string;
  /** What the client sent, in order. */
  toServer: TrafficFrame[];
  /** What the server sent, in order: material for splicing foreign frames. */
  toClient: Frame[];
}

/** Every scenario, and a fingerprint of their bytes (a replay checks it matches). */
export interface Corpus {
  /** The recorded connections. */
  scenarios: Scenario[];
  /** FNV-1a of every frame, in hex: equal corpora have equal fingerprints. */
  fingerprint: string;
  /** Frames recorded, both ways. */
  frames: number;
}

// deno-lint-ignore no-explicit-any
type Root = any;
/**
 * What a scenario's client does. Netrefs it passes to `keep` stay alive until
 * the recording ends, so that no garbage collection (whose timing varies)
 * adds a RELEASE to the traffic.
 */
type Script = (root: Root, conn: Connection, keep: <T>(value: T) => T) => Promise<void>;

/** Lets the housekeeping timers (FINISH, RELEASE: 5 ms) fire, so batches do not depend on timing. */
const settle = (ms = 15) => new Promise((resolve) => setTimeout(resolve, ms));

/** Awaits `value`, ignoring a rejection (scenarios provoke errors on purpose). */
async function quietly(value: unknown): Promise<void> {
  try {
    await value;
  } catch {
    // The error travelled; that is all the scenario wanted.
  }
}

/** `new remote(...args)`, a rejection if the netref cannot even be constructed locally. */
function construct(remote: Root, ...args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve(new remote(...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `error` with a stack that names no file: the recorded bytes must not depend
 * on where the checkout is or on which line this file throws.
 */
function withStack<E extends Error>(error: E): E {
  error.stack = `${error.name}: ${error.message}\n    at scenario (fuzz)`;
  return error;
}

/** A local object with members the server may call: it goes by reference, with a member list. */
class Local {
  exposed_hi(name: unknown): string {
    return `hi ${name}`;
  }
  exposed_twice(n: number): number {
    return 2 * n;
  }
}

/** What the client of each scenario does; the names say which messages and values it covers. */
const SCENARIOS: Record<string, Script> = {
  async primitives(root) {
    // deno-fmt-ignore
    const values = [0, 1, -1, 127, 128, 65535, 2 ** 32, 2 ** 53 - 1, -(2 ** 31), 1.5, NaN, Infinity];
    for (const value of values) await root.echo(value);
    for (const value of ["", "ascii", "ünï€😀", true, false, null, undefined, -0]) {
      await root.echo(value);
    }
    for (const value of [0n, 2n ** 100n, -(2n ** 64n)]) await root.echo(value);
    await settle();
  },
  async containers(root) {
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { name: "cycle" };
    cyclic.self = cyclic;
    await root.echo({ a: 1, b: [1, "two", { c: null }], d: { e: { f: [true] } } });
    await root.echo(Array.from({ length: 20 }, (_, i) => i));
    await root.echo(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])));
    await root.echo(new Map<unknown, unknown>([[1, "one"], ["two", 2], [{ k: 1 }, [3]]]));
    await root.echo(new Set([1, "a", null]));
    await root.echo([new Date(86_400_000), new Date(NaN)]);
    await root.echo({ a: shared, b: shared, cyclic });
    await root.echo([
      new Int8Array([-1, 2]),
      new Uint8Array([1, 2, 3]),
      new Uint8ClampedArray([255]),
      new Int16Array([-300]),
      new Uint16Array([60000]),
      new Int32Array([-70000]),
      new Uint32Array([4e9]),
      new Float32Array([1.5]),
      new Float64Array([Math.PI]),
      new BigInt64Array([-5n]),
      new BigUint64Array([5n]),
      new DataView(new ArrayBuffer(3)),
      new ArrayBuffer(4),
    ]);
    await root.echo(withStack(new TypeError("as a value", { cause: "because" })));
    await settle();
  },
  async attachments(root) {
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    await root.size(big);
    await root.echo(new Float64Array(9_000));
    await root.size(new ArrayBuffer(70_000));
    await root.echo({ first: big, again: big });
    await settle();
  },
  async longBody(root) {
    await root.echo("x".repeat(150_000));
    await settle();
  },
  async errors(root) {
    await quietly(root.fail("boom"));
    await quietly(root.call(() => {
      throw withStack(new RangeError("from a callback"));
    }));
    await quietly(root.call(() => {
      throw 42;
    }));
    await quietly(root.missing());
    await settle();
  },
  async callbacks(root) {
    const double = (x: number) => x * 2;
    await root.call(double, 21);
    await root.call(double, 4);
    await root.call(async (a: unknown, b: unknown) => await Promise.resolve([a, b]), 1, "two");
    await root.callMember(new Local(), "hi", "there");
    await root.callMember(new Local(), "twice", 8);
    await settle();
  },
  async references(root) {
    const counter = await root.make(5);
    await counter.add(1);
    await root.echo(counter);
    await root.echo({ inside: counter, list: [counter] });
    counter[Symbol.dispose]();
    await settle();
    const other = await root.make(1);
    await other.value();
    other[Symbol.dispose]();
    await settle();
  },
  async lazy(root) {
    await root.f(root.config.size);
    await root.echo(root.config.nested.deep);
    await root.echo({ size: root.config.size, label: root.config.nested.label });
    await root.echo(new Map([["k", root.config.size]]));
    await settle();
  },
  async pipelined(root, _conn, keep) {
    await keep(root.make(3)).add(4);
    await keep(root.make(1)).items();
    const pending = keep(root.make(2));
    await root.echo(pending.value);
    keep(await root.echo(pending));
    await settle();
  },
  async cancel(root) {
    // The call's deadline timer does not keep the process alive, and in-memory streams have
    // no pending I/O that would: a timer that does, meanwhile.
    await Promise.all([quietly(timed(root.hang, 30)()), settle(60)]);
    const controller = new AbortController();
    const call = timed(root.hang, { signal: controller.signal })();
    await settle();
    controller.abort(new Error("enough"));
    await quietly(call);
    await settle();
  },
  async iterators(root, _conn, keep) {
    for await (const _ of keep(root.range(3))) { /* every step is a NEXT */ }
    for await (const _ of keep(root.range(5))) break; // RETURN
    await settle();
  },
  async operations(root, conn, keep) {
    await root.config; // GET
    await hasMember(root, "echo"); // HAS
    await hasMember(root.config, "size");
    await obtain(root.config); // COPY
    await obtain(keep(root.make(9)));
    await quietly(setMember(root.config, "size", 4)); // SET (refused by the policy)
    await quietly(deleteMember(root.config, "size")); // DELETE (refused)
    await quietly(construct(root.make, 1)); // NEW (refused)
    await conn.ping(); // PING
    const later = keep(await root.later(7));
    await later.promise; // AWAIT
    await settle();
  },
  async bursts(root, _conn, keep) {
    const calls = [];
    for (let i = 0; i < 40; i++) calls.push(root.echo(i % 3 === 0 ? { i, s: "s".repeat(i) } : i));
    calls.push(keep(root.make(1)).add(1), root.f(root.config.size));
    await Promise.all(calls);
    await settle();
    for (let i = 0; i < 5; i++) await root.echo(i); // FINISH rides on the next request
    await settle();
  },
  async goodbye(root, conn) {
    await root.echo("bye");
    await settle();
    await conn.close(); // the CLOSE frame is recorded too
  },
};

/** Scenarios that end with the client's CLOSE, which the recording keeps. */
const KEEPS_CLOSE = new Set(["goodbye"]);

/** A logger that counts lines by their shape instead of printing them. */
export interface CountingLogger extends Logger {
  /** Normalised line → times seen. */
  readonly counts: Map<string, number>;
}

/** A {@linkcode CountingLogger}. */
export function countingLogger(): CountingLogger {
  const counts = new Map<string, number>();
  const logger = ((level: string, message: string) => {
    const key = `${level}: ${normalizeReason(message)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }) as CountingLogger;
  (logger as { counts: Map<string, number> }).counts = counts;
  return logger;
}

/**
 * A reason with its numbers and addresses taken out, so that reasons that
 * differ only in them count as one.
 */
export function normalizeReason(reason: string): string {
  return reason
    .replace(/\d+\.\d+\.\d+\.\d+:\d+/g, "<addr>")
    .replace(/'[^']{20,}'/g, "'…'")
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, "N")
    .replace(/(N[ ,]*){2,}/g, "N ")
    .slice(0, 160);
}

/** Records the bytes going one way through a web stream pair, split into frames. */
class Tap {
  readonly frames: Frame[] = [];
  readonly after: number[] = [];
  readonly #splitter = new FrameSplitter();
  recording = true;

  /**
   * A stream that passes bytes through, recording their frames; `seen` counts
   * the frames gone the other way (the HELLO left out) when each is recorded.
   */
  stream(seen: () => number): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        // The writer reuses its buffers once a write resolves: keep (and pass on) a copy.
        const copy = chunk.slice();
        if (this.recording) {
          for (const frame of this.#splitter.push(copy)) {
            this.frames.push(frame);
            this.after.push(seen());
          }
        }
        controller.enqueue(copy);
      },
    });
  }
}

/** Runs one scenario on a fresh client-server pair over tapped streams; returns its traffic. */
async function record(
  name: string,
  script: Script,
  service: new () => Service,
  limits: Limits,
): Promise<Scenario> {
  const up = new Tap();
  const down = new Tap();
  const toServer = up.stream(() => Math.max(0, down.frames.length - 1));
  const toClient = down.stream(() => Math.max(0, up.frames.length - 1));
  const quiet = countingLogger();
  const [server, client] = await Promise.all([
    connectStream(
      { readable: toServer.readable, writable: toClient.writable },
      { ...limits, service, logger: quiet, description: `capture ${name} (server)` },
    ),
    connectStream(
      { readable: toClient.readable, writable: toServer.writable },
      { ...limits, logger: quiet, description: `capture ${name} (client)` },
    ),
  ]);
  const kept: unknown[] = [];
  try {
    await script(client.root, client, (value) => {
      kept.push(value);
      return value;
    });
    await settle();
  } finally {
    if (!KEEPS_CLOSE.has(name)) up.recording = down.recording = false;
    await client.close();
    await server.close();
  }
  kept.length = 0; // only now may the netrefs the script kept be collected
  return {
    name,
    // The first frame each way is the HELLO: the raw peer sends its own.
    toServer: up.frames.slice(1).map((frame, i) => ({
      frame: anonymous(frame),
      after: up.after[i + 1],
    })),
    toClient: down.frames.slice(1).map(anonymous),
  };
}

/**
 * `frame` with the stacks of the errors it carries replaced when they name
 * files (rdc's own errors do): the corpus must be the same bytes on every
 * machine and whatever the line numbers of core/ today.
 */
function anonymous(frame: Frame): Frame {
  if (frame.chunk || !new TextDecoder().decode(frame.payload).includes("file:")) return frame;
  const body = decodeBody(frame.payload);
  if (!body) return frame;
  let changed = false;
  for (const slot of slotsOf(body)) {
    const value = slot.get();
    if (!Array.isArray(value) || value.length !== 8) continue;
    const first = value[0];
    if (first instanceof ExtData && first.type === EXT.TAG_ERROR && typeof value[4] === "string") {
      value[4] = `${value[2]}: ${value[3]}\n    at (stack left out)`;
      changed = true;
    }
  }
  return changed ? wholeFrame(encodeBody(body)) : frame;
}

/**
 * Records the corpus: every scenario, each on a connection of its own,
 * against the service the fuzzer attacks, with the server's limits.
 */
export async function captureCorpus(limits: Limits = FUZZ_LIMITS): Promise<Corpus> {
  const held: unknown[] = [];
  const service = fuzzService(new ServiceProbe(), held);
  const scenarios: Scenario[] = [];
  for (const [name, script] of Object.entries(SCENARIOS)) {
    scenarios.push(await record(name, script, service, limits));
  }
  let hash = 0x811c9dc5;
  let frames = 0;
  const mix = (frame: Frame, after = 0) => {
    frames++;
    hash = Math.imul(hash ^ (frame.chunk ? 1 : 0) ^ (after << 1), 0x01000193);
    for (const byte of frame.payload) hash = Math.imul(hash ^ byte, 0x01000193);
  };
  for (const scenario of scenarios) {
    scenario.toServer.forEach(({ frame, after }) => mix(frame, after));
    scenario.toClient.forEach((frame) => mix(frame));
  }
  return { scenarios, fingerprint: (hash >>> 0).toString(16).padStart(8, "0"), frames };
}

// =============================================================================================
// 3. Mutators
// =============================================================================================

/** A mutated exchange: what the raw peer sends, and how it was made. */
export interface Mutation {
  /** Its number under the seed. */
  index: number;
  /** The scenario it started from. */
  scenario: string;
  /** The mutators applied, each with what it did. */
  steps: string[];
  /** The mutators' names alone, for statistics. */
  mutators: string[];
  /** What goes before the traffic: normally one HELLO frame. */
  hello: Frame[];
  /** The traffic, in order. */
  frames: TrafficFrame[];
  /** Send the bytes in tiny writes, to exercise partial reads. */
  trickle: boolean;
}

/** What a mutator works on. */
interface Draft {
  rng: Rng;
  corpus: Corpus;
  hello: Frame[];
  frames: TrafficFrame[];
  trickle: boolean;
}

/** One way of breaking traffic: returns what it did, or null when it does not apply. */
interface Mutator {
  name: string;
  weight: number;
  apply(draft: Draft): string | null;
}

/**
 * A scenario's traffic as recorded (`reencode` false), or with every whole
 * message decoded and encoded again by @msgpack/msgpack: a replay of either
 * must be served like the original, which shows that the replay machinery
 * and the independent codec speak the protocol (so that what a mutation
 * breaks is what it meant to).
 */
export function unmutated(corpus: Corpus, scenario: string, reencode: boolean): Mutation {
  const found = corpus.scenarios.find((s) => s.name === scenario);
  if (!found) throw new RangeError(`no scenario ${scenario}`);
  const frames = found.toServer.map(({ frame, after }) => {
    const body = reencode && !frame.chunk ? decodeBody(frame.payload) : null;
    return { frame: body ? wholeFrame(encodeBody(body)) : frame, after };
  });
  return {
    index: -1,
    scenario,
    steps: [reencode ? "re-encoded" : "as recorded"],
    mutators: [],
    hello: [messageFrame(helloMessage())],
    frames,
    trickle: false,
  };
}

/**
 * Builds mutation `index` of `seed`: a scenario's traffic with one to three
 * mutators applied. Deterministic: the same corpus, seed and index give the
 * same bytes.
 */
export function makeMutation(corpus: Corpus, seed: number, index: number): Mutation {
  const rng = mutationRng(seed, index);
  const scenario = rng.pick(corpus.scenarios);
  const draft: Draft = {
    rng,
    corpus,
    hello: [messageFrame(helloMessage())],
    frames: scenario.toServer.map((t) => ({ frame: { ...t.frame }, after: t.after })),
    trickle: false,
  };
  const count = rng.chance(0.7) ? 1 : rng.chance(0.7) ? 2 : 3;
  const steps: string[] = [];
  const mutators: string[] = [];
  for (let attempts = 0; steps.length < count && attempts < 20; attempts++) {
    const mutator = rng.weighted(MUTATORS);
    let did: string | null;
    try {
      did = mutator.apply(draft);
    } catch (error) {
      // A bug of the fuzzer's own, not of rdc: say where, so it can be fixed.
      const before = steps.length > 0 ? ` after ${steps.join("; ")}` : "";
      const where = `mutation #${index} of seed ${seed}${before}`;
      throw new Error(`mutator ${mutator.name} failed on ${where}`, { cause: error });
    }
    if (did === null) continue;
    steps.push(did ? `${mutator.name}(${did})` : mutator.name);
    mutators.push(mutator.name);
  }
  return {
    index,
    scenario: scenario.name,
    steps,
    mutators,
    hello: draft.hello,
    frames: draft.frames,
    trickle: draft.trickle,
  };
}

// ---- values to put where they do not belong --------------------------------------------------

/** Integers at the edges: of MessagePack's formats, of 32 bits, of safe integers, of rdc's numbers. */
// deno-fmt-ignore
const INTS = [
  0, 1, -1, 2, 7, 8, 11, 12, 23, 24, 127, 128, 255, 256, 0x7fff, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000, 2 ** 53 - 1,
  -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 32) - 1, -(2 ** 53) + 1,
];

/** Names the policy must refuse or treat with care, and strings of awkward encodings. */
// deno-fmt-ignore
const STRINGS = [
  "", "__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty",
  "__defineGetter__", "then", "call", "apply", "bind", "arguments", "caller", "_private",
  "exposed_echo", "echo", "hang", "make", "onConnect", "onDisconnect", "config", "size",
  "x".repeat(300), "\u0000", "\ud800", "ünï€😀", "rdc",
];

/** A value of a random kind: what a field that expects something else gets. */
function anyValue(rng: Rng): unknown {
  switch (rng.int(12)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
    case 3:
      return rng.pick(INTS);
    case 4:
      return rng.pick([1.5, NaN, Infinity, -Infinity, -0.0, 1e300, 2 ** 53 + 2]);
    case 5:
      return rng.pick(STRINGS);
    case 6:
      return rng.bytes(rng.pick([0, 1, 5, 300]));
    case 7:
      return rng.pick([[], [null], [1, 2, 3], ["a", "b"], [[[]]]]);
    case 8:
      return rng.pick([{}, { a: 1 }, { then: 1 }, { size: "3" }]);
    case 9:
      return forgeExt(rng);
    case 10:
      return tag(rng.pick([20, 21, 22, 23, 24, 30, 127]));
    default:
      return lyingRaw(rng);
  }
}

/** Headers that declare more than is there, and bytes that are not MessagePack. */
function lyingRaw(rng: Rng): Raw {
  const lies: (() => number[] | Uint8Array)[] = [
    () => [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4 294 967 295 items
    () => [0xdd, 0x00, 0x01, 0x00, 0x00, 0xc0], // array32 of 65 536 items, one present
    () => [0xdc, 0xff, 0xff], // array16
    () => [0x9f, 0xc0], // fixarray of 15, one present
    () => [0xdf, 0x7f, 0xff, 0xff, 0xff], // map32
    () => [0xde, 0xff, 0xff, 0xa1, 0x61], // map16
    () => [0x8f], // fixmap of 15, none present
    () => [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
    () => [0xdb, 0x00, 0x10, 0x00, 0x00, 0x61], // str32 of 1 MiB, one byte present
    () => [0xd9, 0xff, 0x61, 0x62], // str8 of 255, two present
    () => [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GiB
    () => [0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00], // bin32 of 2 GiB
    () => [0xc5, 0xff, 0xff], // bin16
    () => [0xc9, 0xff, 0xff, 0xff, 0xff, 0x0a], // ext32 of 4 GiB, type attachment
    () => [0xc9, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00], // ext32 of 256 bytes, type export
    () => [0xc8, 0xff, 0xff, 0x05], // ext16, type back reference
    () => [0xc7, 0xff, 0x03, 0x00], // ext8 bigint, 255 declared
    () => [0xc1], // never used in MessagePack
    () => [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint64 beyond 2^53
    () => [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], // int64 minimum
    () => [0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0], // uint64 of exactly 2^53
    () => [0xca, 0x7f, 0xc0, 0x00, 0x00], // float32 NaN
    () => [0xa4, 0xff, 0xfe, 0xc0, 0x80], // a string that is not UTF-8
    () => [0xa3, 0xed, 0xa0, 0x80], // an encoded surrogate
    () => [0xd4, 0x05, 0x00], // fixext1 back reference
    () => [0xd6, 0x07, 0x00, 0x00, 0x00, 0x00], // fixext4 import of the root
    () => [], // nothing: the container holds one item less than it says
    () => [0xc0, 0xc0], // one item more than it says
    () => concat(new Uint8Array([0xdb]), u32(rng.range(1, 70_000)), rng.bytes(rng.int(8))),
    () => concat(new Uint8Array([0xdd]), u32(rng.u32()), rng.bytes(rng.int(8))),
  ];
  return new Raw(rng.pick(lies)());
}

/** Nesting deeper (or exactly as deep) as the server's maxDepth (256), of several kinds. */
function deepRaw(rng: Rng): { raw: Raw; what: string } {
  const depth = rng.pick([255, 256, 257, 258, 300, 1_000, 10_000, 30_000]);
  const kind = rng.pick(["array", "map", "set", "error", "lazy-map"]);
  const unit: number[] = {
    array: [0x91],
    map: [0x81, 0xa1, 0x61],
    set: [0x92, 0xc7, 0x00, EXT.TAG_SET],
    // [tag22, className, name, message, stack, hasCause=true, cause=…, props={}]: the cause nests.
    error: [0x98, 0xc7, 0x00, EXT.TAG_ERROR, 0xa1, 0x45, 0xa1, 0x45, 0xa0, 0xa0, 0xc3],
    "lazy-map": [0x93, 0xc7, 0x00, EXT.TAG_MAP, 0xa1, 0x6b],
  }[kind]!;
  const tail = kind === "error" ? [0x80] : [];
  const bytes = new Uint8Array(unit.length * depth + 1 + tail.length * depth);
  for (let i = 0; i < depth; i++) bytes.set(unit, i * unit.length);
  bytes[unit.length * depth] = 0xc0;
  for (let i = 0; i < tail.length * depth; i++) bytes[unit.length * depth + 1 + i] = tail[0];
  return { raw: new Raw(bytes), what: `${kind}×${depth}` };
}

/** An extension of a type rdc knows, with a payload that lies. */
function forgeExt(rng: Rng): ExtData {
  // deno-fmt-ignore
  const type = rng.pick([
    EXT.UNDEFINED, EXT.NEGATIVE_ZERO, EXT.BIGINT, EXT.DATE, EXT.BACKREF, EXT.EXPORT, EXT.IMPORT,
    EXT.TYPED_ARRAY, EXT.ARRAY_BUFFER, EXT.ATTACHMENT, 0, 11, 19, 24, 64, 126, -1, -2, -128,
  ]);
  const id = () => rng.pick([0, 1, 2, 3, 100, 0x7fffffff, 0xffffffff, rng.u32()]);
  let data: Uint8Array;
  switch (type) {
    case EXT.UNDEFINED:
    case EXT.NEGATIVE_ZERO:
      data = rng.bytes(rng.range(1, 3));
      break;
    case EXT.BIGINT:
      data = rng.pick([
        new Uint8Array(0),
        new Uint8Array([2, 1]),
        new Uint8Array([0]),
        concat(new Uint8Array([1]), rng.bytes(rng.pick([1, 8, 4_000, 40_000]))),
      ]);
      break;
    case EXT.DATE:
      data = rng.pick([rng.bytes(7), rng.bytes(9), new Uint8Array([0x7f, 0xf8, 0, 0, 0, 0, 0, 0])]);
      break;
    case EXT.BACKREF:
      data = rng.chance(0.8)
        ? u32(rng.pick([0, 1, 2, 5, 1000, 0xffffffff]))
        : rng.bytes(rng.pick([0, 3, 5]));
      break;
    case EXT.EXPORT: {
      const name = rng.pick([
        new Uint8Array(0),
        rng.bytes(10),
        new Uint8Array(200).fill(0x61),
        new Uint8Array([0xff, 0xfe]),
      ]);
      data = concat(
        new Uint8Array([rng.pick([0, 1, 2, 3, 255])]),
        u32(id()),
        u32(rng.pick([0, 1, 7, 0xfffffffe, 0xffffffff, rng.u32()])),
        name,
      );
      if (rng.chance(0.2)) data = data.subarray(0, rng.int(9));
      break;
    }
    case EXT.IMPORT:
      data = rng.chance(0.8) ? u32(id()) : rng.bytes(rng.pick([0, 3, 5]));
      break;
    case EXT.TYPED_ARRAY:
      data = concat(
        new Uint8Array([rng.pick([0, 1, 3, 8, 9, 11, 12, 13, 255])]),
        rng.bytes(rng.pick([0, 1, 3, 7, 8, 64])),
      );
      break;
    case EXT.ARRAY_BUFFER:
      data = rng.bytes(rng.pick([0, 1, 100]));
      break;
    case EXT.ATTACHMENT:
      data = concat(
        u32(rng.pick([0, 1, 2, 0xffffffff])),
        new Uint8Array([rng.pick([0, 1, 3, 8, 12, 13, 255])]),
      );
      if (rng.chance(0.2)) data = data.subarray(0, rng.int(5));
      break;
    default:
      data = rng.bytes(rng.pick([0, 1, 4, 8, 16, 17]));
  }
  return new ExtData(type, data);
}

/** Targets a REQUEST or a lazy path may name, the honest and the impossible. */
// deno-fmt-ignore
const TARGETS = [
  0, 1, 2, 3, 5, 99_999, 0xffffffff, 0x100000000, -1, -2, -3, -100, -(2 ** 32), -(2 ** 32) - 1,
  1.5, "0", null,
];

/** Paths of the service's members, of blocked names, of what lies behind them. */
// deno-fmt-ignore
const PATHS: unknown[][] = [
  [], ["echo"], ["config"], ["config", "size"], ["config", "nested", "deep", "0"], ["make"],
  ["hang"], ["range"], ["fail"], ["call"], ["later"], ["size"], ["exposed_echo"], ["onConnect"],
  ["onDisconnect"], ["__proto__"], ["constructor"], ["prototype"], ["echo", "call"],
  ["echo", "bind"], ["echo", "name"], ["echo", "length"], ["config", "__proto__"],
  ["config", "size", "toFixed"], ["config", "nested", "constructor", "constructor"],
  ["toString"], ["then"], ["_x"], ["no_such"], [1], [null], [["config"]],
];

/**
 * One of {@linkcode PATHS}, copied: later mutators change trees in place, and
 * a shared path changed would change every later mutation (and could make a cycle).
 */
function pickPath(rng: Rng): unknown[] {
  return structuredClone(rng.pick(PATHS));
}

/** A lazy path `[tag23, target, ...path]`, usually with something wrong. */
function lazyPath(rng: Rng): unknown[] {
  const path = rng.chance(0.7) ? pickPath(rng) : [rng.pick(STRINGS)];
  switch (rng.int(5)) {
    case 0:
      return [tag(EXT.TAG_PATH)];
    case 1:
      return [tag(EXT.TAG_PATH), rng.pick(["0", null, 1.5, [], tag(EXT.TAG_PATH)])];
    default:
      return [tag(EXT.TAG_PATH), rng.pick(TARGETS), ...path];
  }
}

/** A tagged container (Map, Set, Error, lazy path) that is malformed, or in a bad place. */
function badTagged(rng: Rng): { value: unknown; what: string } {
  switch (rng.int(9)) {
    case 0:
      return { value: [tag(EXT.TAG_MAP), "odd"], what: "map-odd" };
    case 1:
      return { value: [tag(EXT.TAG_MAP), lazyPath(rng), 1], what: "map-lazy-key" };
    case 2:
      return { value: [tag(EXT.TAG_MAP), tag(EXT.TAG_SET), 1], what: "map-tag-key" };
    case 3:
      return {
        value: [tag(EXT.TAG_SET), ...Array.from({ length: 50 }, () => 1)],
        what: "set-dups",
      };
    case 4: {
      const count = rng.range(1, 10);
      const fields = ["Error", "Error", "message", "stack", true, null, {}, "extra", 1].slice(
        0,
        count - 1,
      );
      return { value: [tag(EXT.TAG_ERROR), ...fields], what: `error-${count}` };
    }
    case 5:
      return {
        value: [
          tag(EXT.TAG_ERROR),
          anyValue(rng),
          "E",
          "m",
          "s",
          anyValue(rng),
          null,
          anyValue(rng),
        ],
        what: "error-types",
      };
    case 6:
      return {
        value: [
          tag(EXT.TAG_ERROR),
          "E",
          "E",
          "m",
          "s",
          false,
          null,
          new AnyKeyMap([["__proto__", 1]]),
        ],
        what: "error-proto-prop",
      };
    case 7:
      return { value: [tag(rng.pick([24, 25, 30, 64, 127])), 1, 2], what: "unknown-tag" };
    default:
      return { value: [tag(EXT.TAG_SET), tag(EXT.TAG_MAP)], what: "tag-as-item" };
  }
}

// ---- walking a decoded tree ----------------------------------------------------------------

/** A place in a tree that holds a value. */
interface Slot {
  get(): unknown;
  set(value: unknown): void;
}

/** Every slot of `body` (the message itself, its fields, and all they contain), up to `limit`. */
function slotsOf(body: Body, limit = 4_000): Slot[] {
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

/** A random slot, favouring the message's own fields (where the fixed-field checks are). */
function pickSlot(body: Body, rng: Rng): Slot {
  const message = body.message;
  if (Array.isArray(message) && message.length > 0 && rng.chance(0.3)) {
    const i = rng.int(message.length);
    return { get: () => message[i], set: (v) => (message[i] = v) };
  }
  return rng.pick(slotsOf(body));
}

/** Every extension in `body`, with the slot that holds it. */
function extSlots(body: Body): Slot[] {
  return slotsOf(body).filter((slot) => slot.get() instanceof ExtData);
}

/** Every array in `body` (plain or tagged). */
function arraysOf(body: Body): unknown[][] {
  return slotsOf(body).map((slot) => slot.get()).filter(Array.isArray) as unknown[][];
}

// ---- applying a body mutation to a frame or a stream -----------------------------------------

/**
 * Decodes one message of the draft (a whole frame, or a stream put back
 * together), lets `change` mutate it, and puts the result back in its place.
 */
function withBody(draft: Draft, change: BodyChange, onlyStreams = false): string | null {
  const { rng, frames } = draft;
  const streams = collectStreams(frames.map((t) => t.frame));
  const useStream = streams.length > 0 && (onlyStreams || rng.chance(0.25));
  if (useStream) {
    const stream = rng.pick(streams);
    const body = decodeBody(stream.body);
    if (!body) return null;
    const attachments = [...stream.attachments];
    const did = change(body, rng, { attachments, corpus: draft.corpus });
    if (did === null) return null;
    const encoded = encodeIfShallow(body);
    if (!encoded) return null;
    const chunks = chunkMessage(stream.stream, encoded, attachments);
    const after = frames[stream.frames[0]].after;
    const keep = frames.filter((_, i) => !stream.frames.includes(i));
    // No chunk of the stream comes before its first: the new chunks go where it was.
    keep.splice(stream.frames[0], 0, ...chunks.map((frame) => ({ frame, after })));
    frames.length = 0;
    frames.push(...keep);
    return `stream ${stream.stream}: ${did}`;
  }
  if (onlyStreams) return null;
  const whole = frames.map((t, i) => ({ t, i })).filter(({ t }) =>
    !t.frame.chunk && t.frame.header === undefined
  );
  if (whole.length === 0) return null;
  const { t, i } = rng.pick(whole);
  const body = decodeBody(t.frame.payload);
  if (!body) return null;
  const did = change(body, rng, { attachments: [], corpus: draft.corpus });
  if (did === null) return null;
  const encoded = encodeIfShallow(body);
  if (!encoded) return null;
  t.frame = wholeFrame(encoded);
  return `frame ${i}: ${did}`;
}

/**
 * Encodes `body`, or returns null when it is nested too deep for the
 * encoder's recursion: a body an earlier mutator made deep (with a
 * {@linkcode Raw} nesting), decoded again, is left as it is.
 */
function encodeIfShallow(body: Body): Uint8Array | null {
  try {
    return encodeBody(body);
  } catch (error) {
    if (error instanceof RangeError || /too deep/i.test(String(error))) return null;
    throw error;
  }
}

/** What a body mutation may use besides the body: a stream's attachments, the corpus. */
interface BodyContext {
  /** The attachments of a streamed message (changes are sent); empty for a whole frame. */
  attachments: Uint8Array[];
  /** The corpus, for values taken from other messages. */
  corpus: Corpus;
}

/** Changes one decoded body; returns what it did, or null when it does not apply. */
type BodyChange = (body: Body, rng: Rng, context: BodyContext) => string | null;

/** A mutator that changes one message body. */
function bodyMutator(name: string, weight: number, change: BodyChange): Mutator {
  return { name, weight, apply: (draft) => withBody(draft, change) };
}

/** A mutator that changes one field of one kind of message. */
function fieldMutator(
  name: string,
  weight: number,
  types: readonly number[],
  field: number,
  values: (rng: Rng) => unknown,
): Mutator {
  return bodyMutator(name, weight, (body, rng) => {
    const message = body.message;
    if (
      !Array.isArray(message) || !types.includes(message[0] as number) || message.length <= field
    ) {
      return null;
    }
    const value = values(rng);
    message[field] = value;
    return describeValue(value);
  });
}

/** A short description of a value, for a mutation's steps. */
function describeValue(value: unknown): string {
  if (value instanceof Raw) {
    return `raw ${hex(value.bytes.subarray(0, 12))}${value.bytes.length > 12 ? "…" : ""}`;
  }
  if (value instanceof ExtData) return `ext ${value.type}/${value.data.length}`;
  if (value instanceof AnyKeyMap) return `map{${value.entries.length}}`;
  if (value instanceof Uint8Array) return `bin ${value.length}`;
  if (typeof value === "string") {
    return JSON.stringify(value.length > 20 ? value.slice(0, 20) + "…" : value);
  }
  if (Array.isArray(value)) return `[${value.length}]`;
  if (typeof value === "object" && value !== null) return "{…}";
  return String(value);
}

/** Bytes in hex. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- the mutators ------------------------------------------------------------------------------

const REQ = [MSG.REQUEST];
const ANSWERS = [MSG.REPLY, MSG.THROW];
const SEQ_MESSAGES = [MSG.REQUEST, MSG.REPLY, MSG.THROW, MSG.CANCEL];

/** Request numbers: taken already, the largest, beyond 32 bits, negative. */
// deno-fmt-ignore
const SEQS = [0, 1, 2, 3, 5, 40, 0xfffffffe, 0xffffffff, 0x100000000, -1, -(2 ** 31), 2 ** 53 - 1];

/** A request number, or something of the wrong type in its place. */
const seqValue = (rng: Rng): unknown => rng.chance(0.7) ? rng.pick(SEQS) : anyValue(rng);

/** Messages built from scratch with honest shapes and dubious contents. */
function forgeMessage(rng: Rng): unknown[] {
  const seq = rng.chance(0.6) ? rng.range(0, 60) : rng.pick(INTS);
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2: {
      const args = rng.pick<() => unknown[]>([
        () => [],
        () => [rng.pick(INTS)],
        () => [lazyPath(rng)],
        () => [forgeExt(rng)],
        () => [
          new ExtData(
            EXT.EXPORT,
            concat(new Uint8Array([rng.int(3)]), u32(rng.range(1, 5)), u32(0xffffffff)),
          ),
        ],
        () => [anyValue(rng), anyValue(rng)],
        () => [Array.from({ length: rng.range(16, 3_000) }, (_, i) => i)],
      ])();
      return [MSG.REQUEST, seq, rng.range(0, 11), rng.pick(TARGETS), pickPath(rng), [], args];
    }
    case 3:
      return [rng.pick(ANSWERS), seq, anyValue(rng)];
    case 4: {
      const id = rng.pick([0, 1, 2, 3, 0xffffffff]);
      return [MSG.RELEASE, [id], [rng.pick([0, 1, 2, 1000, 0xffffffff])]];
    }
    case 5:
      return [MSG.CANCEL, rng.pick([seq, 0xffffffff, SENTINEL_SEQ])];
    case 6:
      return [MSG.FINISH, Array.from({ length: rng.pick([1, 10, 5_000]) }, () => rng.pick(INTS))];
    default:
      return [MSG.CLOSE, rng.pick(["bye", "", "x".repeat(10_000)])];
  }
}

/** A request whose target is its own answer, or one not yet asked: pipelining on what cannot be. */
function selfPipelined(rng: Rng): unknown[] {
  const seq = rng.range(0, 50);
  const target = rng.pick([-(seq + 1), -(seq + 2), -(seq + 1000)]);
  const args = rng.chance(0.5) ? [] : [[tag(EXT.TAG_PATH), -(seq + 1)]];
  return [
    MSG.REQUEST,
    seq,
    rng.pick([OP.GET, OP.CALL, OP.AWAIT, OP.ITER]),
    rng.chance(0.5) ? target : 0,
    [],
    [],
    args,
  ];
}

/** A shape table that lies: bad shape numbers, lists that are not lists of strings, many lists. */
function badShapeTable(rng: Rng): { table: AnyKeyMap; what: string } {
  switch (rng.int(5)) {
    case 0: {
      const shape = rng.pick([-1, 0xffffffff, 0x100000000, 1.5, "0", null, 2 ** 53 - 1]);
      return { table: new AnyKeyMap([[shape, ["echo"]]]), what: `shape ${String(shape)}` };
    }
    case 1: {
      const list = rng.pick<unknown>([
        "x",
        null,
        [1],
        [null],
        [["a"]],
        new Array(500).fill("__proto__"),
        lyingRaw(rng),
      ]);
      return {
        table: new AnyKeyMap([[rng.range(0, 3), list]]),
        what: `list ${describeValue(list)}`,
      };
    }
    case 2: {
      const count = rng.pick([100, 5_000, 14_000]);
      return {
        table: new AnyKeyMap(
          Array.from({ length: count }, (_, i) => [i, []] as [unknown, unknown]),
        ),
        what: `${count} lists`,
      };
    }
    case 3:
      return {
        table: new AnyKeyMap([[0, ["a"]], [0, ["b"]], [
          1,
          Array.from({ length: 3_000 }, (_, i) => `m${i}`),
        ]]),
        what: "redefined",
      };
    default:
      return { table: new AnyKeyMap([]), what: "empty" };
  }
}

/** The mutators, weighted by how much ground each covers. */
const MUTATORS: readonly Mutator[] = [
  // ---- message fields
  fieldMutator(
    "msg-type",
    3,
    [0, 1, 2, 3, 4, 5, 6, 7],
    0,
    (rng) =>
      rng.chance(0.7) ? rng.pick([8, 9, 100, 255, -1, 0, 1, 2, 3, 4, 5, 6, 7]) : anyValue(rng),
  ),
  bodyMutator("field-count", 3, (body, rng) => {
    const message = body.message;
    if (!Array.isArray(message)) return null;
    switch (rng.int(4)) {
      case 0:
        message.pop();
        return "dropped last";
      case 1:
        message.push(anyValue(rng));
        return "extra field";
      case 2:
        message.splice(1, message.length);
        return "type only";
      default:
        body.message = rng.pick<unknown>([[], {}, 1, "msg", null, [message]]);
        return `message is ${describeValue(body.message)}`;
    }
  }),
  fieldMutator("seq", 4, SEQ_MESSAGES, 1, seqValue),
  fieldMutator(
    "op",
    3,
    REQ,
    2,
    (rng) => rng.chance(0.6) ? rng.pick([12, 13, 99, 255, -1, 2 ** 31]) : rng.range(0, 11),
  ),
  fieldMutator("target", 4, REQ, 3, (rng) => rng.pick(TARGETS)),
  fieldMutator("path", 4, REQ, 4, (rng) =>
    rng.chance(0.7) ? pickPath(rng) : rng.pick<unknown>([
      [rng.pick(STRINGS)],
      ["config", rng.pick(STRINGS)],
      Array.from({ length: 2_000 }, () => "config"),
      "echo",
      null,
      {},
    ])),
  fieldMutator("finished", 3, REQ, 5, (rng) =>
    rng.pick<unknown>([
      [0xffffffff],
      [-1],
      [1.5],
      ["0"],
      [null],
      Array.from({ length: rng.pick([16, 1_000, 10_000]) }, (_, i) => i),
      Array.from({ length: 100 }, () => SENTINEL_SEQ),
      null,
      {},
    ])),
  fieldMutator("args", 4, REQ, 6, (rng) =>
    rng.pick<unknown>([
      null,
      1,
      "args",
      {},
      [lazyPath(rng)],
      [anyValue(rng)],
      [anyValue(rng), anyValue(rng), anyValue(rng)],
      [tag(EXT.TAG_MAP)],
      [tag(EXT.TAG_PATH), 0, "config"],
      new ExtData(EXT.UNDEFINED, new Uint8Array(0)),
    ])),
  fieldMutator("answer-value", 2, ANSWERS, 2, anyValue),
  bodyMutator("release", 3, (body, rng) => {
    const message = body.message;
    if (!Array.isArray(message) || message[0] !== MSG.RELEASE) return null;
    const ids = rng.pick<unknown>([[0], [0xffffffff], [1, 1], [1, 2, 3], [], [-1], ["1"], null]);
    const counts = rng.pick<unknown>([
      [1],
      [0],
      [2],
      [1000],
      [0xffffffff],
      [-1],
      [1, 1],
      [],
      [1.5],
      null,
    ]);
    message[1] = ids;
    message[2] = counts;
    return `${describeValue(ids)} ${describeValue(counts)}`;
  }),
  fieldMutator("close-reason", 1, [MSG.CLOSE], 1, anyValue),
  {
    name: "forged-message",
    weight: 8,
    apply(draft) {
      const message = forgeMessage(draft.rng);
      const at = draft.rng.int(draft.frames.length + 1);
      draft.frames.splice(at, 0, { frame: messageFrame(message), after: 0 });
      return `${JSON.stringify(message, replacer).slice(0, 80)} at ${at}`;
    },
  },
  {
    name: "self-pipelined",
    weight: 2,
    apply(draft) {
      const message = selfPipelined(draft.rng);
      draft.frames.push({ frame: messageFrame(message), after: 0 });
      return JSON.stringify(message, replacer);
    },
  },
  {
    name: "request-flood",
    weight: 1,
    apply(draft) {
      // A flood of calls, then a close. Small enough that the raw peers at once stay under the
      // server's pending budget: the honest client's calls are never refused by design.
      const count = draft.rng.pick([100, 200, 400]);
      const op = draft.rng.pick([OP.CALL, OP.PING, OP.GET]);
      const path = op === OP.CALL ? ["hang"] : op === OP.GET ? ["config"] : [];
      const frames = Array.from({ length: count }, (_, i) => ({
        frame: messageFrame([MSG.REQUEST, 1_000 + i, op, 0, path, [], op === OP.PING ? [i] : []]),
        after: 0,
      }));
      draft.frames.push(...frames);
      return `${count} × op ${op}`;
    },
  },
  {
    name: "second-hello",
    weight: 1,
    apply(draft) {
      if (draft.hello.length === 0) return null;
      const at = draft.rng.int(draft.frames.length + 1);
      draft.frames.splice(at, 0, { frame: draft.hello[0], after: 0 });
      return `at ${at}`;
    },
  },

  // ---- values
  bodyMutator("wrong-type", 8, (body, rng) => {
    const slot = pickSlot(body, rng);
    const value = anyValue(rng);
    slot.set(value);
    return describeValue(value);
  }),
  bodyMutator("lying-header", 6, (body, rng) => {
    const raw = lyingRaw(rng);
    pickSlot(body, rng).set(raw);
    return describeValue(raw);
  }),
  bodyMutator("deep-nesting", 3, (body, rng) => {
    const { raw, what } = deepRaw(rng);
    pickSlot(body, rng).set(raw);
    return what;
  }),
  bodyMutator("many-elements", 2, (body, rng) => {
    const count = rng.pick([16, 1_000, 20_000, 60_000]);
    const value = rng.chance(0.5)
      ? new Raw(concat(header("array", count), new Uint8Array(count).fill(0xc0)))
      : new Raw(
        concat(
          header("map", Math.floor(count / 3)),
          ...Array.from(
            { length: Math.floor(count / 3) },
            (_, i) => new Uint8Array([0xa1, 0x41 + (i % 26), 0xc0]),
          ),
        ),
      );
    pickSlot(body, rng).set(value);
    return `${count}`;
  }),
  bodyMutator("forge-ext", 6, (body, rng) => {
    const ext = forgeExt(rng);
    pickSlot(body, rng).set(ext);
    return describeValue(ext);
  }),
  bodyMutator("mutate-ext", 5, (body, rng) => {
    const slots = extSlots(body);
    if (slots.length === 0) return null;
    const slot = rng.pick(slots);
    const ext = slot.get() as ExtData;
    const data = new Uint8Array(ext.data as Uint8Array);
    switch (rng.int(5)) {
      case 0:
        slot.set(
          new ExtData(
            rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 24, 127, -1, -128]),
            data,
          ),
        );
        return `type ${ext.type}→${(slot.get() as ExtData).type}`;
      case 1:
        slot.set(
          new ExtData(ext.type, data.subarray(0, Math.max(0, data.length - rng.range(1, 4)))),
        );
        return `ext ${ext.type} shortened`;
      case 2:
        slot.set(new ExtData(ext.type, concat(data, rng.bytes(rng.pick([1, 4, 300])))));
        return `ext ${ext.type} lengthened`;
      case 3: {
        if (data.length === 0) return null;
        data[rng.int(data.length)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
        slot.set(new ExtData(ext.type, data));
        return `ext ${ext.type} byte`;
      }
      default: {
        if (data.length < 5) return null;
        data.set(u32(rng.pick([0, 1, 0xffffffff, rng.u32()])), ext.type === EXT.EXPORT ? 1 : 0);
        slot.set(new ExtData(ext.type, data));
        return `ext ${ext.type} number`;
      }
    }
  }),
  bodyMutator("misplaced-tag", 4, (body, rng) => {
    const arrays = arraysOf(body);
    const t = tag(rng.pick([20, 21, 22, 23, 24, 31, 127]));
    if (arrays.length === 0 || rng.chance(0.3)) {
      pickSlot(body, rng).set(t);
      return `bare tag ${t.type}`;
    }
    const array = rng.pick(arrays);
    array.splice(rng.range(Math.min(1, array.length), array.length), 0, t);
    return `tag ${t.type} inside`;
  }),
  bodyMutator("lazy-path", 5, (body, rng) => {
    const lazy = lazyPath(rng);
    pickSlot(body, rng).set(lazy);
    return JSON.stringify(lazy.slice(1), replacer).slice(0, 60);
  }),
  bodyMutator("bad-tagged", 4, (body, rng) => {
    const { value, what } = badTagged(rng);
    pickSlot(body, rng).set(value);
    return what;
  }),
  bodyMutator("odd-keys", 3, (body, rng) => {
    const key = rng.pick<unknown>([
      "__proto__",
      1,
      null,
      -1,
      tag(EXT.TAG_MAP),
      [1],
      new Uint8Array(2),
      1.5,
      true,
    ]);
    const map = new AnyKeyMap([[key, anyValue(rng)], ["ok", 1]]);
    pickSlot(body, rng).set(map);
    return `key ${describeValue(key)}`;
  }),
  bodyMutator("back-reference", 3, (body, rng) => {
    const index = rng.pick([0, 1, 2, 3, 10, 1_000, 0xffffffff]);
    const ext = new ExtData(EXT.BACKREF, u32(index));
    pickSlot(body, rng).set(rng.chance(0.3) ? new AnyKeyMap([[ext, 1]]) : ext);
    return `#${index}`;
  }),
  bodyMutator("duplicate-subtree", 3, (body, rng) => {
    const slots = slotsOf(body);
    if (slots.length < 2) return null;
    const from = rng.pick(slots).get();
    // A copy of its bytes, not the node: a node moved under itself would make a cycle.
    rng.pick(slots).set(new Raw(encodeTree(from)));
    return describeValue(from);
  }),
  bodyMutator("foreign-value", 3, (body, rng, { corpus }) => {
    const donor = foreignBody(corpus, rng);
    if (!donor) return null;
    const value = rng.pick(slotsOf(donor)).get();
    pickSlot(body, rng).set(value);
    return describeValue(value);
  }),
  bodyMutator("shape-table", 4, (body, rng) => {
    const { table, what } = badShapeTable(rng);
    if (body.table && rng.chance(0.5)) body.table.entries.push(...table.entries);
    else body.table = table;
    return what;
  }),
  bodyMutator("trailing", 2, (body, rng) => {
    if (rng.chance(0.5)) body.rest.push(anyValue(rng));
    else body.rest.push(body.table ?? new AnyKeyMap([[0, ["x"]]]));
    return "";
  }),
  {
    name: "shape-flood",
    weight: 1,
    apply(draft) {
      // More member lists than a peer may describe (65 536), over several messages.
      let shape = 0;
      for (let m = 0; m < 6; m++) {
        const table = new AnyKeyMap(
          Array.from({ length: 12_000 }, () => [shape++, []] as [unknown, unknown]),
        );
        draft.frames.push({
          frame: wholeFrame(concat(encodeTree(table), encodeTree([MSG.FINISH, []]))),
          after: 0,
        });
      }
      return `${shape} lists`;
    },
  },

  // ---- streams: bodies and attachments
  {
    name: "stream-body",
    weight: 3,
    apply(draft) {
      return withBody(draft, (body, rng, context) => {
        return rng.pick(STREAM_BODY_CHANGES)(body, rng, context);
      }, true);
    },
  },
  {
    name: "attachments-lie",
    weight: 3,
    apply(draft) {
      return withBody(draft, (body, rng, { attachments }) => {
        switch (rng.int(5)) {
          case 0:
            if (attachments.length === 0) return null;
            attachments.pop();
            return "one attachment less";
          case 1:
            attachments.push(rng.bytes(rng.pick([0, 1, 7, 70_000])));
            return "an unnamed attachment";
          case 2:
            if (attachments.length === 0) return null;
            attachments[0] = attachments[0].subarray(
              0,
              Math.max(0, attachments[0].length - rng.pick([1, 3, 1000])),
            );
            return "attachment shortened";
          case 3: {
            const ext = new ExtData(
              EXT.ATTACHMENT,
              concat(
                u32(rng.pick([0, 1, 7, 0xffffffff])),
                new Uint8Array([rng.pick([0, 1, 3, 8, 11, 12, 255])]),
              ),
            );
            pickSlot(body, rng).set(ext);
            return "ext 10 placed";
          }
          default: {
            const refs = extSlots(body).filter((s) => (s.get() as ExtData).type === EXT.ATTACHMENT);
            if (refs.length === 0) return null;
            const again = refs[0].get();
            pickSlot(body, rng).set(again);
            return "ext 10 twice";
          }
        }
      });
    },
  },
  {
    name: "whole-as-stream",
    weight: 2,
    apply(draft) {
      const { rng, frames } = draft;
      const whole = frames.filter((t) => !t.frame.chunk);
      if (whole.length === 0) return null;
      const t = rng.pick(whole);
      const at = frames.indexOf(t);
      const stream = rng.pick([0, 1, 63, 64, 0xffffffff]);
      const chunks = chunkMessage(
        stream,
        t.frame.payload,
        rng.chance(0.3) ? [rng.bytes(10)] : [],
        rng.pick([16, 40, FRAME_LIMIT - 4]),
      );
      frames.splice(at, 1, ...chunks.map((frame) => ({ frame, after: t.after })));
      return `stream ${stream}, ${chunks.length} chunks`;
    },
  },

  // ---- chunks
  chunkMutator("chunk-stream-id", 3, (chunk, rng) => {
    chunk.stream = rng.pick([0, 1, 2, 64, 65, 0xffffffff, rng.u32()]);
    return `id ${chunk.stream}`;
  }),
  chunkMutator("chunk-flags", 3, (chunk, rng) => {
    const flags = rng.pick([0, 1, 2, 3, 4, 8, 0x80, 0xff]);
    if ((flags & FLAG.FIRST) && chunk.bodyLength === undefined) {
      chunk.bodyLength = chunk.data.length;
      chunk.sizes = [];
    }
    if (!(flags & FLAG.FIRST)) {
      chunk.bodyLength = undefined;
      chunk.sizes = undefined;
    }
    chunk.flags = flags;
    return `flags ${flags}`;
  }),
  chunkMutator("prologue-lie", 4, (chunk, rng) => {
    if (chunk.bodyLength === undefined) return null;
    if (rng.chance(0.5)) {
      chunk.bodyLength = rng.pick([
        0,
        1,
        chunk.bodyLength - 1,
        chunk.bodyLength + 1,
        0x7fffffff,
        0xffffffff,
        MAX_MESSAGE - 1,
        MAX_MESSAGE,
        MAX_MESSAGE + 1,
      ]);
      return `body ${chunk.bodyLength}`;
    }
    const sizes = chunk.sizes!;
    switch (rng.int(3)) {
      case 0:
        sizes.push(rng.pick([0, 1, 100, 0xffffffff]));
        return "one size more";
      case 1:
        if (sizes.length === 0) return null;
        sizes[rng.int(sizes.length)] = rng.pick([0, 1, 0xffffffff, MAX_MESSAGE - 1000, 512 * MiB]);
        return "size lies";
      default:
        sizes.length = 0;
        return "no sizes";
    }
  }),
  {
    name: "abort",
    weight: 2,
    apply(draft) {
      const { rng, frames } = draft;
      const stream = rng.pick([0, 1, 5, 0xffffffff]);
      const data = rng.chance(0.3) ? rng.bytes(rng.range(1, 10)) : new Uint8Array(0);
      const frame: Frame = {
        chunk: true,
        payload: chunkPayload({ stream, flags: FLAG.ABORT, data }),
      };
      const at = rng.int(frames.length + 1);
      frames.splice(at, 0, { frame, after: at < frames.length ? frames[at].after : 0 });
      return `stream ${stream} at ${at}${data.length ? " with data" : ""}`;
    },
  },
  {
    name: "many-streams",
    weight: 1,
    apply(draft) {
      // More open streams than allowed (64), each announcing a little and sending nothing.
      const count = draft.rng.pick([64, 65, 100]);
      for (let stream = 0; stream < count; stream++) {
        const payload = chunkPayload({
          stream,
          flags: FLAG.FIRST,
          bodyLength: 10,
          sizes: [],
          data: new Uint8Array(0),
        });
        draft.frames.push({ frame: { chunk: true, payload }, after: 0 });
      }
      return `${count}`;
    },
  },
  {
    name: "big-announce",
    weight: 2,
    apply(draft) {
      // A stream announcing a large message and carrying almost none of it: the server
      // may take room for it, but must give it back when the peer goes.
      const { rng } = draft;
      const body = rng.pick([
        MiB,
        MAX_MESSAGE / 2,
        MAX_MESSAGE - 100,
        MAX_MESSAGE,
        MAX_MESSAGE + 1,
        1024 * MiB,
      ]);
      const sizes = rng.chance(0.5) ? [] : [rng.pick([100, MiB, MAX_MESSAGE])];
      const payload = chunkPayload({
        stream: rng.int(3),
        flags: FLAG.FIRST,
        bodyLength: body,
        sizes,
        data: rng.bytes(rng.int(100)),
      });
      draft.frames.splice(rng.int(draft.frames.length + 1), 0, {
        frame: { chunk: true, payload },
        after: 0,
      });
      return `${body}+${sizes.join("+") || 0}`;
    },
  },

  // ---- frames and bytes
  frameMutator("bit-flip", 6, (frame, rng) => {
    if (frame.payload.length === 0) return null;
    const payload = frame.payload.slice();
    const flips = rng.range(1, 4);
    for (let i = 0; i < flips; i++) payload[rng.int(payload.length)] ^= 1 << rng.int(8);
    frame.payload = payload;
    return `${flips}`;
  }),
  frameMutator("byte-set", 4, (frame, rng) => {
    if (frame.payload.length === 0) return null;
    const payload = frame.payload.slice();
    const at = rng.int(Math.min(payload.length, rng.chance(0.7) ? 16 : payload.length));
    payload[at] = rng.pick([
      0x00,
      0xff,
      0x7f,
      0x80,
      0xc1,
      0xdd,
      0xdf,
      0xdb,
      0xc9,
      0xc7,
      0x90,
      0x9f,
    ]);
    frame.payload = payload;
    return `@${at}=${payload[at].toString(16)}`;
  }),
  frameMutator("truncate", 4, (frame, rng) => {
    if (frame.payload.length === 0) return null;
    const cut = rng.int(frame.payload.length);
    frame.payload = frame.payload.slice(0, cut);
    return `to ${cut}`;
  }),
  frameMutator("extend", 2, (frame, rng) => {
    frame.payload = concat(
      frame.payload,
      rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : new Uint8Array([0xc0]),
    );
    return "";
  }),
  frameMutator("insert-bytes", 2, (frame, rng) => {
    const at = rng.int(frame.payload.length + 1);
    frame.payload = concat(
      frame.payload.subarray(0, at),
      rng.bytes(rng.range(1, 8)),
      frame.payload.subarray(at),
    );
    return `@${at}`;
  }),
  frameMutator("delete-bytes", 2, (frame, rng) => {
    if (frame.payload.length < 2) return null;
    const at = rng.int(frame.payload.length - 1);
    const count = rng.range(1, Math.min(16, frame.payload.length - at));
    frame.payload = concat(frame.payload.subarray(0, at), frame.payload.subarray(at + count));
    return `@${at}-${count}`;
  }),
  frameMutator("header-lie", 5, (frame, rng) => {
    const length = frame.payload.length;
    const lie = rng.pick([
      0,
      1,
      3,
      4,
      5,
      length - 1,
      length + 1,
      length + 7,
      16_384,
      65_532,
      65_536,
      65_537,
      0x7fffffff,
    ]);
    frame.header = (Math.max(0, lie) | (rng.chance(0.2) !== frame.chunk ? CHUNK_BIT : 0)) >>> 0;
    return `${frame.header.toString(16)} for ${length}`;
  }),
  frameMutator("chunk-bit", 3, (frame) => {
    frame.chunk = !frame.chunk;
    return frame.chunk ? "set" : "cleared";
  }),
  {
    name: "duplicate-frame",
    weight: 3,
    apply({ rng, frames }) {
      if (frames.length === 0) return null;
      const i = rng.int(frames.length);
      frames.splice(rng.range(i, frames.length), 0, {
        frame: { ...frames[i].frame },
        after: frames[i].after,
      });
      return `${i}`;
    },
  },
  {
    name: "swap-frames",
    weight: 3,
    apply({ rng, frames }) {
      if (frames.length < 2) return null;
      const i = rng.int(frames.length), j = rng.int(frames.length);
      [frames[i].frame, frames[j].frame] = [frames[j].frame, frames[i].frame];
      return `${i}↔${j}`;
    },
  },
  {
    name: "drop-frame",
    weight: 2,
    apply({ rng, frames }) {
      if (frames.length === 0) return null;
      const i = rng.int(frames.length);
      frames.splice(i, 1);
      return `${i}`;
    },
  },
  {
    name: "shuffle-frames",
    weight: 1,
    apply({ rng, frames }) {
      for (let i = frames.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [frames[i].frame, frames[j].frame] = [frames[j].frame, frames[i].frame];
      }
      return "";
    },
  },
  {
    name: "foreign-frame",
    weight: 3,
    apply({ rng, corpus, frames }) {
      const donor = rng.pick(corpus.scenarios);
      const pool = rng.chance(0.5) ? donor.toClient : donor.toServer.map((t) => t.frame);
      if (pool.length === 0) return null;
      const frame = rng.pick(pool);
      const at = rng.int(frames.length + 1);
      frames.splice(at, 0, { frame: { ...frame }, after: 0 });
      return `${donor.name} at ${at}`;
    },
  },
  {
    name: "repeat-traffic",
    weight: 2,
    apply({ rng, frames }) {
      const times = rng.range(2, 4);
      const once = frames.map((t) => ({ frame: { ...t.frame }, after: t.after }));
      for (let i = 1; i < times; i++) frames.push(...once.map((t) => ({ ...t, after: 0 })));
      return `×${times}`;
    },
  },
  {
    name: "garbage",
    weight: 3,
    apply({ rng, frames }) {
      const bytes = rng.bytes(rng.pick([1, 3, 4, 5, 64, 4096]));
      // Either a frame of garbage, or garbage where a frame header should be.
      const frame: Frame = bytes.length >= 4 && rng.chance(0.5)
        ? { chunk: false, payload: bytes.subarray(4), header: readU32(bytes) }
        : wholeFrame(bytes);
      const at = rng.int(frames.length + 1);
      frames.splice(at, 0, { frame, after: 0 });
      return `${bytes.length} bytes at ${at}`;
    },
  },
  {
    name: "empty-frame",
    weight: 1,
    apply({ rng, frames }) {
      const frame: Frame = { chunk: rng.chance(0.5), payload: new Uint8Array(0) };
      frames.splice(rng.int(frames.length + 1), 0, { frame, after: 0 });
      return frame.chunk ? "chunk" : "whole";
    },
  },
  {
    name: "trickle",
    weight: 1,
    apply(draft) {
      if (draft.trickle) return null;
      draft.trickle = true;
      return "";
    },
  },

  // ---- the handshake
  helloMutator("hello-version", 2, (hello, rng) => {
    hello[2] = rng.pick([1, 3, 0, 0xffffffff, -1, "2", null, 2.5]);
    if (hello[2] === 1 && rng.chance(0.5)) hello.pop(); // a version-1 HELLO had six fields
    return describeValue(hello[2]);
  }),
  helloMutator("hello-magic", 1, (hello, rng) => {
    hello[1] = rng.pick(["RDC", "rdc\u0000", "", 5, null, "rpyc"]);
    return describeValue(hello[1]);
  }),
  helloMutator("hello-limits", 3, (hello, rng) => {
    const limits = { ...PEER_LIMITS } as Record<string, unknown>;
    const name = rng.pick(Object.keys(PEER_LIMITS));
    switch (rng.int(4)) {
      case 0:
        delete limits[name];
        return `no ${name}`;
      case 1:
        limits[name] = rng.pick([0, -1, 1.5, "1", null, 2 ** 53, 2 ** 60, []]);
        return `${name}=${describeValue(limits[name])}`;
      case 2:
        hello[6] = rng.pick<unknown>([null, [], "limits", new AnyKeyMap([[1, 1]])]);
        return `limits ${describeValue(hello[6])}`;
      default:
        limits.extra = 1;
        hello[6] = limits;
        return "extra limit";
    }
  }),
  helloMutator("hello-tiny-limits", 4, (hello, rng) => {
    // Around the floors a peer may announce (below them it is refused at the handshake,
    // at them every answer the server builds must still fit, or fail cleanly).
    const choices: Record<string, number[]> = {
      maxMessageSize: [1, 65_535, 65_536, 65_537, 70_000],
      maxFrameSize: [1, 65_535, 65_536, 65_537],
      maxDepth: [1, 3, 4, 5, 6],
      maxElements: [1, 63, 64, 65, 100],
      maxBigIntBytes: [1, 7, 8, 9],
    };
    const limits = { ...PEER_LIMITS } as Record<string, number>;
    for (const name of Object.keys(choices)) {
      if (rng.chance(0.4)) limits[name] = rng.pick(choices[name]);
    }
    hello[6] = limits;
    return Object.entries(limits).filter(([name, value]) =>
      value !== (PEER_LIMITS as Record<string, number>)[name]
    )
      .map(([name, value]) => `${name}=${value}`).join(" ");
  }),
  helloMutator("hello-fields", 2, (hello, rng) => {
    switch (rng.int(4)) {
      case 0:
        hello[3] = anyValue(rng);
        return `service ${describeValue(hello[3])}`;
      case 1:
        hello[4] = rng.pick<unknown>([
          [],
          [1],
          null,
          Array.from({ length: 1_500 }, (_, i) => `alias${i}`),
        ]);
        return `aliases ${describeValue(hello[4])}`;
      case 2:
        hello[5] = rng.pick<unknown>([[1], null, Array.from({ length: 1_500 }, (_, i) => `m${i}`), [
          "__proto__",
          "constructor",
        ]]);
        return `members ${describeValue(hello[5])}`;
      default:
        hello.push(anyValue(rng));
        return "extra field";
    }
  }),
  {
    name: "hello-replaced",
    weight: 2,
    apply(draft) {
      const { rng } = draft;
      switch (rng.int(6)) {
        case 0:
          draft.hello = [];
          return "no hello";
        case 1:
          draft.hello = [messageFrame([MSG.CLOSE, "refused"])];
          return "close";
        case 2:
          draft.hello = [messageFrame([MSG.REQUEST, 0, OP.PING, 0, [], [], [1]])];
          return "request";
        case 3:
          draft.hello = chunkMessage(0, draft.hello[0].payload, []);
          return "as a stream";
        case 4:
          draft.hello = [messageFrame(helloMessage()), messageFrame(helloMessage())];
          return "twice";
        default:
          draft.hello = [
            messageFrame([
              ...helloMessage().slice(0, 4),
              Array.from({ length: 2_000 }, (_, i) => `a${i}`),
              [],
              PEER_LIMITS,
            ]),
          ];
          return "oversize";
      }
    },
  },
  {
    name: "hello-bytes",
    weight: 2,
    apply(draft) {
      const { rng } = draft;
      if (draft.hello.length === 0) return null;
      const payload = draft.hello[0].payload.slice();
      const flips = rng.range(1, 3);
      for (let i = 0; i < flips; i++) payload[rng.int(payload.length)] ^= 1 << rng.int(8);
      draft.hello = [{ ...draft.hello[0], payload }];
      return `${flips} flips`;
    },
  },
];

/** Changes a streamed body may get: the value mutators that matter most where attachments are. */
const STREAM_BODY_CHANGES: BodyChange[] = [
  (body, rng) => {
    pickSlot(body, rng).set(anyValue(rng));
    return "wrong type";
  },
  (body, rng) => {
    pickSlot(body, rng).set(lyingRaw(rng));
    return "lying header";
  },
  (body, rng) => {
    pickSlot(body, rng).set(forgeExt(rng));
    return "forged ext";
  },
  (body, rng) => {
    const slots = extSlots(body);
    if (slots.length === 0) return null;
    const slot = rng.pick(slots);
    const ext = slot.get() as ExtData;
    const data = new Uint8Array(ext.data as Uint8Array);
    if (data.length >= 4) data.set(u32(rng.pick([1, 2, 0xffffffff])), 0);
    if (data.length >= 5 && rng.chance(0.5)) data[4] = rng.pick([1, 3, 12, 13, 255]);
    slot.set(new ExtData(ext.type, data));
    return `ext ${ext.type} retargeted`;
  },
];

/** A mutator of one frame's bytes. */
function frameMutator(
  name: string,
  weight: number,
  change: (frame: Frame, rng: Rng) => string | null,
): Mutator {
  return {
    name,
    weight,
    apply({ rng, frames }) {
      if (frames.length === 0) return null;
      const i = rng.int(frames.length);
      const frame = { ...frames[i].frame };
      const did = change(frame, rng);
      if (did === null) return null;
      frames[i] = { frame, after: frames[i].after };
      return `frame ${i} ${did}`;
    },
  };
}

/** A mutator of one chunk frame's header, flags or prologue. */
function chunkMutator(
  name: string,
  weight: number,
  change: (chunk: Chunk, rng: Rng) => string | null,
): Mutator {
  return {
    name,
    weight,
    apply({ rng, frames }) {
      const chunks = frames.map((t, i) => ({ t, i })).filter(({ t }) =>
        t.frame.chunk && t.frame.header === undefined
      );
      if (chunks.length === 0) return null;
      const { t, i } = rng.pick(chunks);
      const chunk = parseChunk(t.frame.payload);
      if (!chunk) return null;
      const did = change(chunk, rng);
      if (did === null) return null;
      frames[i] = { frame: { chunk: true, payload: chunkPayload(chunk) }, after: t.after };
      return `frame ${i} ${did}`;
    },
  };
}

/** A mutator of the HELLO message. */
function helloMutator(
  name: string,
  weight: number,
  change: (hello: unknown[], rng: Rng) => string,
): Mutator {
  return {
    name,
    weight,
    apply(draft) {
      const hello = helloMessage() as unknown[];
      const did = change(hello, draft.rng);
      draft.hello = [messageFrame(hello)];
      return did;
    },
  };
}

/** A decoded body from anywhere in the corpus, either way. */
function foreignBody(corpus: Corpus, rng: Rng): Body | null {
  const scenario = rng.pick(corpus.scenarios);
  const pool = rng.chance(0.5) ? scenario.toClient : scenario.toServer.map((t) => t.frame);
  const whole = pool.filter((frame) => !frame.chunk);
  return whole.length === 0 ? null : decodeBody(rng.pick(whole).payload);
}

/** JSON.stringify's replacer for messages holding binary and extension values. */
function replacer(_key: string, value: unknown): unknown {
  if (
    value instanceof ExtData || value instanceof Raw || value instanceof Uint8Array ||
    value instanceof AnyKeyMap
  ) {
    return describeValue(value);
  }
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}

// =============================================================================================
// 4. The raw peer and the runner
// =============================================================================================

/** How an exchange ended. */
export type OutcomeKind =
  /** The server sent CLOSE (with a reason) and closed. */
  | "closed"
  /** The server answered the sentinel PING: the connection still served when the traffic ended. */
  | "answered"
  /** The stream ended without a CLOSE. */
  | "eof"
  /**
   * The server reset the connection without a CLOSE having arrived (it closed
   * its socket with bytes of ours unread, so the kernel sent RST and dropped
   * what the server had sent last).
   */
  | "reset"
  /** Neither within the idle bound: the server waits for more (an unfinished frame, say). */
  | "timeout"
  /** Not even the server's HELLO arrived: the server stopped serving. */
  | "silent";

/** What came back for one mutation. */
export interface Outcome {
  /** How it ended. */
  kind: OutcomeKind;
  /** The CLOSE's reason, when there was one. */
  reason: string | null;
  /** Frames received (the HELLO included). */
  frames: number;
  /** The raw peer's local port: how the server names the connection (`tcp 127.0.0.1:port`). */
  port: number;
}

/** Time bounds of one exchange. */
export interface ExchangeBounds {
  /** Milliseconds without a byte from the server after the traffic is sent: then it is over. */
  idleMs: number;
  /** Milliseconds a replay waits for the server frames the next one answers. */
  stepMs: number;
  /** Milliseconds the whole exchange may take. */
  capMs: number;
}

/** Whole frames larger than this are skipped unread by the raw peer. */
const READ_KEEP = 256 * 1024;

/** The raw peer's view of what the server sent. */
class Listener {
  frames = 0;
  greeted = false;
  reason: string | null = null;
  answered = false;
  ended = false;
  /** The stream ended with an error (a reset), not cleanly. */
  reset = false;
  lastByte = performance.now();
  #wake: (() => void) | null = null;
  readonly #splitter = new FrameSplitter(READ_KEEP);

  /** Resolves at the next event (bytes, end), or after `ms`. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  get done(): boolean {
    return this.ended || this.reason !== null || this.answered;
  }

  feed(bytes: Uint8Array): void {
    this.lastByte = performance.now();
    for (const frame of this.#splitter.push(bytes)) {
      this.frames++;
      if (!frame.chunk && frame.payload.length > 0) this.#inspect(frame.payload);
      this.greeted = true;
    }
    this.#wake?.();
  }

  /** The stream ended (the server closed it, unless this end did: see `stop`). */
  end(reset: boolean): void {
    if (this.#stopped) return;
    this.ended = true;
    this.reset = reset;
    this.#wake?.();
  }

  #stopped = false;

  /** This end is about to close the connection: the end that follows is not the server's doing. */
  stop(): void {
    this.#stopped = true;
  }

  #inspect(payload: Uint8Array): void {
    const body = decodeBody(payload);
    const message = body?.message;
    if (!Array.isArray(message)) return;
    if (message[0] === MSG.CLOSE) this.reason = String(message[1]);
    if ((message[0] === MSG.REPLY || message[0] === MSG.THROW) && message[1] === SENTINEL_SEQ) {
      this.answered = true;
    }
  }
}

/** A promise the server under test broke (or a bound the harness could not keep with it). */
export class FuzzFailure extends Error {
  override name = "FuzzFailure";
}

/**
 * Sends one mutation on a raw TCP connection to `port` and reads what comes
 * back until a CLOSE, the end of the stream, the sentinel's answer or a
 * bound. Closes the connection before it returns.
 *
 * @throws {FuzzFailure} when the server does not take the connection.
 */
export async function exchange(
  port: number,
  mutation: Mutation,
  bounds: ExchangeBounds,
): Promise<Outcome> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    throw new FuzzFailure(`the server stopped accepting connections: ${error}`);
  }
  conn.setNoDelay(true);
  const started = performance.now();
  const listener = new Listener();
  const reading = readAll(conn, listener);
  const timeLeft = () => bounds.capMs - (performance.now() - started);
  let cap: ReturnType<typeof setTimeout> | undefined;
  try {
    // A server that reads nothing (it waits for budget, say) blocks the writes: the cap ends them.
    await Promise.race([
      send(conn, mutation, listener, bounds),
      new Promise((resolve) => cap = setTimeout(resolve, Math.max(0, timeLeft()))),
    ]);
    clearTimeout(cap);
    const sent = performance.now();
    while (!listener.done && timeLeft() > 0) {
      const quiet = performance.now() - Math.max(sent, listener.lastByte);
      if (quiet >= bounds.idleMs && listener.greeted) break;
      await listener.next(Math.min(bounds.idleMs - quiet + 1, timeLeft()));
    }
  } finally {
    clearTimeout(cap);
    listener.stop();
    try {
      conn.close();
    } catch {
      // The server closed it first.
    }
    await reading;
  }
  const kind: OutcomeKind = listener.reason !== null
    ? "closed"
    : listener.answered
    ? "answered"
    : listener.ended
    ? (listener.reset ? "reset" : "eof")
    : listener.greeted
    ? "timeout"
    : "silent";
  return { kind, reason: listener.reason, frames: listener.frames, port: conn.localAddr.port };
}

async function readAll(conn: Deno.Conn, listener: Listener): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let reset = false;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      listener.feed(buffer.subarray(0, n));
    }
  } catch {
    reset = true; // by the server (or closed here, which the listener ignores)
  }
  listener.end(reset);
}

/**
 * Writes the HELLO, the traffic and the sentinel. Before a frame that was
 * sent in answer to server frames, it waits (a bounded while) for as many
 * to have arrived, so replies do not overtake the calls they answer.
 */
async function send(
  conn: Deno.Conn,
  mutation: Mutation,
  listener: Listener,
  bounds: ExchangeBounds,
): Promise<void> {
  const write = (frames: Frame[]) => writeBytes(conn, frameBytes(frames), mutation.trickle);
  try {
    let batch: Frame[] = [...mutation.hello];
    for (const { frame, after } of mutation.frames) {
      // The server's HELLO is not counted in `after`.
      if (after > 0 && listener.frames - 1 < after && !listener.done) {
        await write(batch);
        batch = [];
        while (listener.frames - 1 < after && !listener.done) {
          const before = listener.frames;
          await listener.next(bounds.stepMs);
          if (listener.frames === before) break; // nothing more is coming: go on regardless
        }
      }
      if (listener.ended) return;
      batch.push(frame);
    }
    batch.push(sentinelFrame());
    await write(batch);
  } catch {
    // The server closed the connection under us: what it said is in the listener.
  }
}

/** How many bytes a trickled exchange sends in tiny writes before sending the rest at once. */
const TRICKLE_BYTES = 2_048;

async function writeBytes(conn: Deno.Conn, bytes: Uint8Array, trickle: boolean): Promise<void> {
  let at = 0;
  if (trickle) {
    let step = 1;
    while (at < Math.min(bytes.length, TRICKLE_BYTES)) {
      at += await conn.write(bytes.subarray(at, at + step));
      step = (step % 7) + 1;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

// ---- the honest client ---------------------------------------------------------------------------

/** The value the honest client echoes in check `round`: every kind of value, different each time. */
export function honestProbe(round: number): unknown {
  return {
    round,
    negativeZero: -0,
    big: 2n ** 70n + BigInt(round),
    text: `ünï€😀 ${round}`,
    map: new Map<unknown, unknown>([[round, "n"], ["k", [1, { x: round }]]]),
    set: new Set([round, "a"]),
    date: new Date(round * 1000),
    nothing: undefined,
    floats: new Float64Array([round, 0.5]),
    bytes: new Uint8Array([1, 2, round & 0xff]),
    nested: [[[{ deep: round }]]],
    nan: NaN,
  };
}

/**
 * One round of the honest client's checks: an echo of every kind of value, a
 * callback round trip, an attachment (which needs room in the server's
 * inbound budget) and a pipelined call, each answer compared with what it
 * must be.
 *
 * @throws {FuzzFailure} naming the check that went wrong.
 */
export async function honestCheck(client: Connection, round: number): Promise<void> {
  const root = client.root;
  const check = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      throw new FuzzFailure(`honest client, round ${round}, ${what}: ${error}`);
    }
  };
  await check("echo", async () => {
    const probe = honestProbe(round);
    deepStrictEqual(await root.echo(probe), probe);
  });
  await check("callback", async () => {
    deepStrictEqual(await root.call((x: number) => x * 2 + 1, round), round * 2 + 1);
  });
  await check("attachment", async () => {
    deepStrictEqual(
      await root.size(new Uint8Array(70_000 + (round % 1000))),
      70_000 + (round % 1000),
    );
  });
  await check("pipelined", async () => {
    deepStrictEqual(await root.make(round).add(1), round + 1);
  });
}

/**
 * Sends a message as large as the server's whole inbound budget, less 1 KiB:
 * it is answered only if every byte of the budget came back once the raw
 * peers left (nothing leaked, nothing left waiting).
 *
 * @throws {FuzzFailure} when no answer comes within `timeoutMs`.
 */
export async function budgetCheck(client: Connection, timeoutMs: number): Promise<void> {
  const size = FUZZ_INBOUND_BUDGET - 1024;
  try {
    deepStrictEqual(await timed(client.root.size, timeoutMs)(new Uint8Array(size)), size);
  } catch (error) {
    throw new FuzzFailure(
      `the server's inbound budget did not come back whole: a message of ${size} bytes ` +
        `(the budget less 1 KiB) got no answer: ${error}`,
    );
  }
}

/**
 * Fills the server's pending-requests budget exactly: as many hanging calls
 * as it holds less one, then an echo, which is refused if any unit of the
 * budget leaked. The hanging calls are cancelled after.
 *
 * @throws {FuzzFailure} when the echo is refused or gets no answer within `timeoutMs`.
 */
export async function pendingCheck(client: Connection, timeoutMs: number): Promise<void> {
  const root = client.root;
  const cancel = new AbortController();
  const hang = timed(root.hang, { signal: cancel.signal });
  const hanging = Array.from(
    { length: FUZZ_PENDING_BUDGET - 1 },
    () => hang(BUDGET_HANG).catch(() => {}),
  );
  try {
    // Requests are read in order: when the echo is served, every hang holds its unit.
    deepStrictEqual(await timed(root.echo, timeoutMs)("last unit"), "last unit");
  } catch (error) {
    throw new FuzzFailure(
      `the server's pending-requests budget did not come back whole: with ` +
        `${FUZZ_PENDING_BUDGET - 1} calls pending, one more got: ${error}`,
    );
  } finally {
    cancel.abort();
    await Promise.all(hanging);
  }
}

// ---- the run ---------------------------------------------------------------------------------

/** What {@linkcode runFuzz} does. */
export interface FuzzOptions {
  /** The seed every mutation derives from. */
  seed: number;
  /** How many mutations. */
  mutations: number;
  /** The first mutation's index (to resume or replay a range). Default 0. */
  first?: number;
  /** Run exactly these mutation indices instead of a range. */
  only?: number[];
  /** Raw connections at once. Default 8. */
  concurrency?: number;
  /** Honest checks, leak and budget checks every this many mutations. Default 250. */
  checkEvery?: number;
  /** Bounds of each exchange. */
  bounds?: Partial<ExchangeBounds>;
  /** Most the process's resident memory may grow, in bytes. Default 256 MiB. */
  memoryBound?: number;
  /** Milliseconds the server may take to drop raw connections once their peers left. Default 5 000. */
  leakGraceMs?: number;
  /**
   * After a batch that broke a promise, replace the server and the honest
   * client and go on (the long run does, to find more than one bug); by
   * default the run stops there.
   */
  keepGoing?: boolean;
  /** Called with each mutation and its outcome (for tracing). */
  onOutcome?: (mutation: Mutation, outcome: Outcome) => void;
  /** Called after each batch, with the report so far (for progress lines). */
  onProgress?: (report: FuzzReport) => void;
  /** A corpus captured earlier (it is captured otherwise). */
  corpus?: Corpus;
}

/** A broken promise, and the batch of mutations after which it showed. */
export interface Failure {
  /** What was wrong. */
  what: string;
  /** The first and last mutation index of the batch; null when it showed at the end. */
  batch: [number, number] | null;
}

/** What a run found. */
export interface FuzzReport {
  /** The seed. */
  seed: number;
  /** Mutations run. */
  mutations: number;
  /** Outcomes by kind. */
  outcomes: Record<OutcomeKind, number>;
  /** CLOSE reasons, normalised, with counts. */
  reasons: Map<string, number>;
  /** By mutator: its outcomes. */
  byMutator: Map<string, Record<OutcomeKind, number>>;
  /** Honest-client rounds that passed. */
  honestChecks: number;
  /** Rounds of leak and budget checks that passed. */
  leakChecks: number;
  /** Resident memory before the first mutation and after the last, after a GC, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /**
   * The JS heap and the memory of ArrayBuffers, before and after, in bytes:
   * what tells a leak (they grow) from memory the allocator keeps (only the
   * resident size grows).
   */
  heap: [number, number];
  buffers: [number, number];
  /** The most resident memory seen at a check. */
  rssPeak: number;
  /** Wall time of the mutations, in milliseconds. */
  elapsedMs: number;
  /** The worst event-loop stall seen, in milliseconds (a sign of unbounded work; never asserted). */
  worstStallMs: number;
  /** The corpus fingerprint (equal fingerprints, equal mutations). */
  corpus: string;
  /** Frames in the corpus. */
  corpusFrames: number;
  /** Unhandled rejections and uncaught errors seen. */
  unhandled: string[];
  /** What the servers logged, normalised, with counts. */
  serverLog: Map<string, number>;
  /** Broken promises, in the order they showed: empty when the run passed. */
  failures: Failure[];
  /** Servers replaced after a failure (with `keepGoing`). */
  restarts: number;
  /** Calls of `hang` the servers started. */
  hangs: number;
  /** Of those, calls that started after their connection had closed. */
  lateHangs: number;
}

const OUTCOME_KINDS: OutcomeKind[] = ["closed", "answered", "eof", "reset", "timeout", "silent"];

function emptyOutcomes(): Record<OutcomeKind, number> {
  return { closed: 0, answered: 0, eof: 0, reset: 0, timeout: 0, silent: 0 };
}

/** The default bounds of an exchange. */
export const DEFAULT_BOUNDS: ExchangeBounds = { idleMs: 200, stepMs: 100, capMs: 5_000 };

/** Milliseconds a check of the honest client may wait for an answer before it counts as lost. */
const CHECK_TIMEOUT_MS = 10_000;

/** Milliseconds closing the server may take at the end (or before a restart). */
const CLOSE_TIMEOUT_MS = 10_000;

/** The server under test and its honest client: replaced as a whole after a failure. */
export class Target {
  /** What the service counts. */
  readonly probe: ServiceProbe;
  readonly server: Server;
  readonly client: Connection;
  readonly port: number;
  /** The server's side of the honest client's connection. */
  readonly honest: readonly Connection[];
  /** The server closed by itself. */
  closed = false;

  private constructor(probe: ServiceProbe, server: Server, client: Connection) {
    this.probe = probe;
    this.server = server;
    this.client = client;
    this.port = (server.addr as Deno.NetAddr).port;
    this.honest = [...server.connections];
    server.finished.then(() => this.closed = true);
  }

  /** Serves the fuzz service on a free loopback port, and connects the honest client. */
  static async start(log: Logger): Promise<Target> {
    const probe = new ServiceProbe();
    const server = serve(fuzzService(probe), {
      ...FUZZ_LIMITS,
      maxTotalInboundBytes: FUZZ_INBOUND_BUDGET,
      maxTotalPendingRequests: FUZZ_PENDING_BUDGET,
      hostname: "127.0.0.1",
      port: 0,
      logger: log,
    });
    await server.ready;
    const port = (server.addr as Deno.NetAddr).port;
    const client = await connect("127.0.0.1", port, {
      logger: countingLogger(),
      timeout: CHECK_TIMEOUT_MS + 5_000,
    });
    // The server counts a connection once its side of the handshake is done: wait for it.
    for (let waited = 0; server.connections.size === 0 && waited < 5_000; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return new Target(probe, server, client);
  }

  /** Closes the client and the server; returns what went wrong, if anything. */
  async stop(): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closing = (async () => {
      await this.client.close();
      await this.server.close();
      return null;
    })();
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`closing the server took more than ${CLOSE_TIMEOUT_MS} ms`),
        CLOSE_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([closing, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs the fuzzer: a server, an honest client, and `mutations` raw
 * connections, `concurrency` at a time, in batches of `checkEvery` with the
 * checks after each. Returns the report; `failures` lists every broken
 * promise (the run stops at the first batch that has one, unless
 * `keepGoing`).
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed >>> 0;
  const checkEvery = options.checkEvery ?? 250;
  const memoryBound = options.memoryBound ?? 256 * MiB;
  const indices = options.only ??
    Array.from({ length: options.mutations }, (_, i) => (options.first ?? 0) + i);

  const unhandled: string[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(`unhandled rejection: ${describeError(event.reason)}`);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    unhandled.push(`uncaught error: ${describeError(event.error)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  const stalls = watchStalls();

  const corpus = options.corpus ?? await captureCorpus();
  const log = countingLogger();
  const report: FuzzReport = {
    seed,
    mutations: 0,
    outcomes: emptyOutcomes(),
    reasons: new Map(),
    byMutator: new Map(),
    honestChecks: 0,
    leakChecks: 0,
    rssBefore: 0,
    rssAfter: 0,
    heap: [0, 0],
    buffers: [0, 0],
    rssPeak: 0,
    elapsedMs: 0,
    worstStallMs: 0,
    corpus: corpus.fingerprint,
    corpusFrames: corpus.frames,
    unhandled,
    serverLog: log.counts,
    failures: [],
    restarts: 0,
    hangs: 0,
    lateHangs: 0,
  };
  const fail = (what: string, batch: [number, number] | null) =>
    report.failures.push({ what, batch });

  let target = await Target.start(log);
  const tallyHangs = () => {
    report.hangs += target.probe.hangs;
    report.lateHangs += target.probe.lateHangs;
  };
  try {
    for (const problem of await quietChecks(target, 0)) fail(problem, null);
    report.honestChecks++;
    report.rssBefore = residentMemory();
    report.heap[0] = Deno.memoryUsage().heapUsed;
    report.buffers[0] = Deno.memoryUsage().external;
    report.rssPeak = report.rssBefore;
    const started = performance.now();
    for (let b = 0; b < indices.length; b += checkEvery) {
      const batch = indices.slice(b, b + checkEvery);
      const range: [number, number] = [batch[0], batch[batch.length - 1]];
      const seenUnhandled = unhandled.length;
      const problems = await runBatch(target, batch, corpus, seed, report, options);
      if (unhandled.length > seenUnhandled) problems.push(unhandled[seenUnhandled]);
      for (const problem of problems) {
        fail(`${problem} (after mutations #${range[0]}…#${range[1]})`, range);
      }
      report.rssPeak = Math.max(report.rssPeak, Deno.memoryUsage().rss);
      report.elapsedMs = performance.now() - started;
      report.worstStallMs = stalls.worst;
      options.onProgress?.(report);
      if (problems.length === 0) continue;
      if (!options.keepGoing) break;
      // A fresh server: what broke this one must not count against the batches after it.
      tallyHangs();
      const stuck = await target.stop();
      if (stuck) fail(stuck, range);
      target = await Target.start(log);
      report.restarts++;
    }
    report.elapsedMs = performance.now() - started;
    report.rssAfter = residentMemory();
    report.heap[1] = Deno.memoryUsage().heapUsed;
    report.buffers[1] = Deno.memoryUsage().external;
    if (report.rssAfter - report.rssBefore > memoryBound) {
      fail(
        `resident memory grew by ${mib(report.rssAfter - report.rssBefore)} ` +
          `(bound ${mib(memoryBound)})`,
        null,
      );
    }
  } finally {
    tallyHangs();
    report.worstStallMs = stalls.worst;
    stalls.stop();
    const stuck = await target.stop();
    if (stuck) fail(stuck, null);
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
  return report;
}

/**
 * One batch: its mutations on raw connections, `concurrency` at a time, with
 * a round of honest checks under fire; then, once every raw peer has gone,
 * the leak and budget checks. Returns the broken promises.
 */
async function runBatch(
  target: Target,
  batch: readonly number[],
  corpus: Corpus,
  seed: number,
  report: FuzzReport,
  options: FuzzOptions,
): Promise<string[]> {
  const problems: string[] = [];
  const bounds = { ...DEFAULT_BOUNDS, ...options.bounds };
  const byPort = new Map<number, Mutation>();
  const honest = honestCheck(target.client, report.honestChecks).then(
    () => report.honestChecks++,
    (error) => problems.push(describeError(error)),
  );
  const attack = runPool(batch, options.concurrency ?? 8, async (index) => {
    const mutation = makeMutation(corpus, seed, index);
    const outcome = await exchange(target.port, mutation, bounds);
    tally(report, mutation, outcome);
    byPort.set(outcome.port, mutation);
    options.onOutcome?.(mutation, outcome);
    if (outcome.kind === "silent") {
      problems.push(`the server never greeted mutation #${index} (${mutation.steps.join("; ")})`);
    }
  }).catch((error) => problems.push(describeError(error)));
  await Promise.all([honest, attack]);
  const leak = await leakCheck(target, options.leakGraceMs ?? 5_000, byPort);
  if (leak) problems.push(leak);
  else {
    const budgets = await quietChecks(target, null);
    if (budgets.length === 0) report.leakChecks++;
    problems.push(...budgets);
  }
  if (target.closed) problems.push("the server closed during the run");
  const polluted = pollution();
  if (polluted) problems.push(polluted);
  return problems;
}

/**
 * The checks that need the server to itself: the whole inbound budget and
 * the whole pending-requests budget must be free; with a round number, an
 * honest round first. Returns what failed.
 */
async function quietChecks(target: Target, round: number | null): Promise<string[]> {
  try {
    if (round !== null) await honestCheck(target.client, round);
    await budgetCheck(target.client, CHECK_TIMEOUT_MS);
    await pendingCheck(target.client, CHECK_TIMEOUT_MS);
    return [];
  } catch (error) {
    return [error instanceof FuzzFailure ? error.message : describeError(error)];
  }
}

/** The built-in prototypes a `__proto__` key or path would pollute, and their own names now. */
const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype] as const;
const PRISTINE = PROTOTYPES.map((proto) => Reflect.ownKeys(proto).length);

/** What a peer added to a built-in prototype, if anything. */
function pollution(): string | null {
  const grown = PROTOTYPES.findIndex((proto, i) => Reflect.ownKeys(proto).length !== PRISTINE[i]);
  if (grown < 0) return null;
  const name = ["Object", "Array", "Function"][grown];
  return `${name}.prototype was changed: it has ${
    Reflect.ownKeys(PROTOTYPES[grown]).length
  } own keys, ${PRISTINE[grown]} before`;
}

/** Adds one outcome to the report. */
function tally(report: FuzzReport, mutation: Mutation, outcome: Outcome): void {
  report.mutations++;
  report.outcomes[outcome.kind]++;
  if (outcome.reason !== null) {
    const key = normalizeReason(outcome.reason);
    report.reasons.set(key, (report.reasons.get(key) ?? 0) + 1);
  }
  for (const name of new Set(mutation.mutators)) {
    let counts = report.byMutator.get(name);
    if (!counts) report.byMutator.set(name, counts = emptyOutcomes());
    counts[outcome.kind]++;
  }
}

/** Runs `work` on every item, at most `limit` at once; rejects with the first failure. */
async function runPool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (next < items.length && failure === null) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw failure;
}

/**
 * Once every raw peer has gone, the server must hold no connection but the
 * honest one (within `graceMs`: closing takes a turn or two), and no call of
 * theirs may still hang. Returns what is wrong, naming the mutations, or null.
 */
async function leakCheck(
  target: Target,
  graceMs: number,
  byPort: ReadonlyMap<number, Mutation>,
): Promise<string | null> {
  const { server, honest, probe } = target;
  const deadline = performance.now() + graceMs;
  const strays = () => [...server.connections].filter((c) => !honest.includes(c));
  while ((strays().length > 0 || probe.hanging.size > 0) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The server names a connection by the peer's address: the port tells which mutation it was.
  const culprit = (description: string) => {
    const mutation = byPort.get(Number(description.split(":").pop()));
    return mutation
      ? `mutation #${mutation.index} (${mutation.scenario}: ${mutation.steps.join("; ")})`
      : description;
  };
  const left = strays();
  if (left.length > 0) {
    const open = left.filter((c) => !c.closed);
    const detail = left.slice(0, 5).map((c) =>
      `${culprit(c.description)}, ${c.closed ? "closing" : "open"}, ${JSON.stringify(c.stats())}`
    );
    return `${left.length} raw connections outlived their peers by ${graceMs} ms ` +
      `(${open.length} not even closing): ${detail.join(" | ")}`;
  }
  if (probe.hanging.size > 0) {
    const detail = [...new Set(probe.hanging.values())].slice(0, 5).map(culprit);
    return `${probe.hanging.size} calls of hang outlived their connections: ${detail.join(" | ")}`;
  }
  return null;
}

/** Resident memory after a garbage collection, when the process allows one. */
function residentMemory(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss;
}

/** Watches the event loop: the worst delay of a 10 ms timer, in milliseconds. */
function watchStalls(): { readonly worst: number; stop(): void } {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  return {
    get worst() {
      return worst;
    },
    stop: () => clearInterval(timer),
  };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause === undefined ? "" : ` (cause: ${describeError(error.cause)})`;
  return `${error.name}: ${error.message}${cause}`;
}

/** Bytes in MiB, for people. */
export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** A report as lines of text: the summary bench/fuzz.ts prints and a failing test shows. */
export function formatReport(report: FuzzReport, top = 25): string {
  const perSecond = Math.round(report.mutations / (report.elapsedMs / 1000 || 1));
  const lines = [
    `seed ${report.seed}, corpus ${report.corpus} (${report.corpusFrames} frames)`,
    `mutations ${report.mutations} in ${(report.elapsedMs / 1000).toFixed(1)} s (${perSecond}/s)`,
    `outcomes: ${OUTCOME_KINDS.map((k) => `${k} ${report.outcomes[k]}`).join(", ")}`,
    `honest-client rounds passed: ${report.honestChecks}; leak and budget checks passed: ` +
    `${report.leakChecks}; servers replaced after a failure: ${report.restarts}`,
    `hang calls: ${report.hangs} (${report.lateHangs} started after their connection closed)`,
    `resident memory: ${mib(report.rssBefore)} before, ${mib(report.rssAfter)} after, ` +
    `${mib(report.rssPeak)} at most; JS heap ${mib(report.heap[0])} → ${mib(report.heap[1])}, ` +
    `ArrayBuffers ${mib(report.buffers[0])} → ${mib(report.buffers[1])}`,
    `worst event-loop stall: ${report.worstStallMs.toFixed(0)} ms`,
    `distinct close reasons: ${report.reasons.size}`,
  ];
  const sorted = [...report.reasons].sort((a, b) => b[1] - a[1]);
  for (const [reason, count] of sorted.slice(0, top)) {
    lines.push(`  ${String(count).padStart(7)}  ${reason}`);
  }
  if (sorted.length > top) lines.push(`  … and ${sorted.length - top} more`);
  lines.push(`by mutator (${OUTCOME_KINDS.join("/")}):`);
  for (const [name, counts] of [...report.byMutator].sort((a, b) => a[0].localeCompare(b[0]))) {
    const columns = OUTCOME_KINDS.map((k) => String(counts[k]).padStart(6)).join(" ");
    lines.push(`  ${name.padEnd(20)} ${columns}`);
  }
  const notable = [...report.serverLog]
    .filter(([line]) => !/^warn: (closing |.* is not an rdc peer|.* version mismatch)/.test(line))
    .sort((a, b) => b[1] - a[1]);
  if (notable.length > 0) {
    lines.push("server log lines other than protocol closes and refused handshakes:");
    for (const [line, count] of notable.slice(0, top)) {
      lines.push(`  ${String(count).padStart(7)}  ${line}`);
    }
  }
  lines.push(...failureLines(report));
  return lines.join("\n");
}

/** The failures, alike ones counted once, and how to replay the first. */
function failureLines(report: FuzzReport): string[] {
  if (report.failures.length === 0) return ["no promise broken"];
  const kinds = new Map<string, { first: Failure; count: number }>();
  for (const failure of report.failures) {
    const key = normalizeReason(failure.what.replace(/ \(after mutations.*$/, "")).slice(0, 80);
    const seen = kinds.get(key);
    if (seen) seen.count++;
    else kinds.set(key, { first: failure, count: 1 });
  }
  const lines = [`BROKEN PROMISES: ${report.failures.length} (${kinds.size} kinds)`];
  for (const { first, count } of kinds.values()) {
    lines.push(`  ${count}× ${first.what}`);
    if (first.batch) {
      const [from, to] = first.batch;
      lines.push(
        `     isolate it: deno task fuzz --seed ${report.seed} --first ${from} ` +
          `--mutations ${to - from + 1} --concurrency 1 --check-every 1 --stop`,
      );
    }
  }
  return lines;
}

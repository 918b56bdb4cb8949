/**
 * MessagePack, the byte format of every rdc message: a writer that appends
 * tokens to a growing buffer, and a reader that takes tokens off a message
 * one at a time. This is the only file that knows MessagePack's bytes;
 * boxing and unboxing (one layer up) speak in tokens.
 *
 * The reader trusts nothing it reads: every length a token declares is
 * checked against the bytes left in the message before anything is
 * allocated or read, so no declared count can make it allocate more than the
 * message itself holds (an array of n items needs at least n bytes, a map of
 * n entries at least 2n).
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import { attachmentBuffers } from "./buffer_pool.ts";

/** What {@linkcode ByteReader.next} found; the token's payload is in the reader's fields. */
export const Token = {
  Nil: 0,
  Bool: 1,
  Int: 2,
  Float: 3,
  Str: 4,
  Bin: 5,
  Array: 6,
  Map: 7,
  Ext: 8,
  /** A string of more than {@linkcode LONG_STRING} bytes, left unread: take it in pieces. */
  LongStr: 9,
} as const;
/** One of {@linkcode Token}. */
export type TokenKind = typeof Token[keyof typeof Token];

const TOKEN_NAMES = [
  "nil",
  "boolean",
  "integer",
  "float",
  "string",
  "binary",
  "array",
  "map",
  "ext",
  "long string",
];

/**
 * Strings longer than this (in bytes) are not decoded by `next()` but left
 * for the caller to take in pieces, so a huge one never stalls the event loop.
 */
export const LONG_STRING = 1024 * 1024;

/** The name of a token kind, for errors: "a string", "an array". */
export function tokenName(kind: TokenKind): string {
  const name = TOKEN_NAMES[kind];
  return (/^[aeiou]/.test(name) ? "an " : "a ") + name;
}

const encoder = new TextEncoder();

/** Writers this large take their buffers from the attachment pool. */
const POOLED = 1024 * 1024;
/** Past this size, a writer's buffer is kept as a block and a new one begun, instead of copied. */
const BLOCK = 1024 * 1024;
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Appends MessagePack tokens to a buffer that grows as needed.
 *
 * Contract: owned by one encoding at a time; `bytes()` is a view that stays
 * valid until the next `reset()`. Never calls user code.
 */
export class ByteWriter {
  #buffer: Uint8Array<ArrayBuffer>;
  #view: DataView;
  /** Where the next byte goes in `#buffer`. */
  #at = 0;
  /** Full blocks before `#buffer`, and their bytes: a large message is not copied as it grows. */
  #blocks: Uint8Array[] = [];
  #sealed = 0;
  /** Where the header of the long string being written is, counted from the start (see `beginString`). */
  #string = -1;

  /** Starts with room for `capacity` bytes. */
  constructor(capacity = 256) {
    this.#buffer = new Uint8Array(capacity);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.#sealed + this.#at;
  }

  /** The bytes written since the last reset, in order: one block, or several for a large message. */
  blocks(): Uint8Array[] {
    const current = this.#buffer.subarray(0, this.#at);
    return this.#blocks.length === 0 ? [current] : [...this.#blocks, current];
  }

  /** The bytes written since the last reset, in one piece (copied together if they are in several). */
  bytes(): Uint8Array {
    if (this.#blocks.length === 0) return this.#buffer.subarray(0, this.#at);
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const block of this.blocks()) {
      out.set(block, at);
      at += block.length;
    }
    return out;
  }

  /**
   * Forgets what was written; with `shrinkTo`, drops a buffer grown past
   * that size. Large buffers go back to the pool they came from: call this
   * only when nothing reads what was written any more.
   */
  reset(shrinkTo = Infinity): void {
    for (const block of this.#blocks) attachmentBuffers.give(block);
    this.#blocks = [];
    this.#sealed = 0;
    this.#at = 0;
    if (this.#buffer.length > shrinkTo) this.#use(new Uint8Array(shrinkTo));
  }

  #use(buffer: Uint8Array<ArrayBuffer>): void {
    attachmentBuffers.give(this.#buffer);
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /** Makes room for `count` contiguous bytes at `#at`. */
  #room(count: number): void {
    const needed = this.#at + count;
    if (needed <= this.#buffer.length) return;
    if (this.#at >= BLOCK) {
      // Full enough: keep it as a block and go on in a fresh one, copying nothing.
      this.#blocks.push(this.#buffer.subarray(0, this.#at));
      this.#sealed += this.#at;
      this.#buffer = attachmentBuffers.take(Math.max(BLOCK, count)) as Uint8Array<ArrayBuffer>;
      this.#view = new DataView(
        this.#buffer.buffer,
        this.#buffer.byteOffset,
        this.#buffer.byteLength,
      );
      this.#at = 0;
      return;
    }
    let capacity = Math.max(64, this.#buffer.length * 2);
    while (capacity < needed) capacity *= 2;
    // Large buffers come from the pool: a large message then costs no fresh memory.
    const grown = capacity >= POOLED ? attachmentBuffers.take(capacity) : new Uint8Array(capacity);
    grown.set(this.#buffer.subarray(0, this.#at));
    this.#use(grown as Uint8Array<ArrayBuffer>);
  }

  /** `nil`. */
  nil(): void {
    this.#room(1);
    this.#buffer[this.#at++] = 0xc0;
  }

  /** `true` or `false`. */
  bool(value: boolean): void {
    this.#room(1);
    this.#buffer[this.#at++] = value ? 0xc3 : 0xc2;
  }

  /** A number: the smallest integer format for safe integers, float64 otherwise. */
  number(value: number): void {
    if (Number.isSafeInteger(value)) return this.#int(value);
    this.#room(9);
    this.#buffer[this.#at] = 0xcb;
    this.#view.setFloat64(this.#at + 1, value);
    this.#at += 9;
  }

  #int(value: number): void {
    this.#room(9);
    const b = this.#buffer, at = this.#at;
    if (value >= 0) {
      if (value < 0x80) {
        b[at] = value;
        this.#at += 1;
      } else if (value < 0x100) {
        b[at] = 0xcc;
        b[at + 1] = value;
        this.#at += 2;
      } else if (value < 0x10000) {
        b[at] = 0xcd;
        this.#view.setUint16(at + 1, value);
        this.#at += 3;
      } else if (value < 0x100000000) {
        b[at] = 0xce;
        this.#view.setUint32(at + 1, value);
        this.#at += 5;
      } else {
        b[at] = 0xcf;
        this.#view.setBigUint64(at + 1, BigInt(value));
        this.#at += 9;
      }
    } else if (value >= -32) {
      b[at] = value & 0xff;
      this.#at += 1;
    } else if (value >= -0x80) {
      b[at] = 0xd0;
      this.#view.setInt8(at + 1, value);
      this.#at += 2;
    } else if (value >= -0x8000) {
      b[at] = 0xd1;
      this.#view.setInt16(at + 1, value);
      this.#at += 3;
    } else if (value >= -0x80000000) {
      b[at] = 0xd2;
      this.#view.setInt32(at + 1, value);
      this.#at += 5;
    } else {
      b[at] = 0xd3;
      this.#view.setBigInt64(at + 1, BigInt(value));
      this.#at += 9;
    }
  }

  /** A UTF-8 string (lone surrogates become U+FFFD, as `TextEncoder` makes them). */
  string(value: string): void {
    const count = value.length;
    if (count < 32 && isAscii(value)) {
      this.#room(1 + count);
      const b = this.#buffer;
      let at = this.#at;
      b[at++] = 0xa0 | count;
      for (let i = 0; i < count; i++) b[at++] = value.charCodeAt(i);
      this.#at = at;
      return;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: size the header for that, then
    // encode in place. A header wider than needed is still valid MessagePack.
    const most = count * 3;
    const head = most < 32 ? 1 : most < 0x100 ? 2 : most < 0x10000 ? 3 : 5;
    this.#room(head + most);
    const start = this.#at + head;
    const written = encoder.encodeInto(value, this.#buffer.subarray(start)).written;
    this.#header(head, written, 0xa0, 0xd9, 0xda, 0xdb);
    this.#at = start + written;
  }

  /** Writes a str/bin/array/map header of `head` bytes for `count` at the current position. */
  #header(head: number, count: number, fix: number, one: number, two: number, four: number): void {
    const b = this.#buffer, at = this.#at;
    switch (head) {
      case 1:
        b[at] = fix | count;
        return;
      case 2:
        b[at] = one;
        b[at + 1] = count;
        return;
      case 3:
        b[at] = two;
        this.#view.setUint16(at + 1, count);
        return;
      default:
        b[at] = four;
        this.#view.setUint32(at + 1, count);
    }
  }

  /**
   * Starts a string whose UTF-8 is appended in pieces with
   * {@linkcode ByteWriter.stringPiece} and ended by
   * {@linkcode ByteWriter.endString}; nothing else is written meanwhile.
   */
  beginString(): void {
    this.#room(5);
    this.#string = this.length;
    this.#buffer[this.#at] = 0xdb;
    this.#at += 5;
  }

  /** Appends `value`'s UTF-8 to the string begun at the last `beginString`. */
  stringPiece(value: string): void {
    this.#room(value.length * 3);
    this.#at += encoder.encodeInto(value, this.#buffer.subarray(this.#at)).written;
  }

  /** Ends the string begun last: writes its length into its header. */
  endString(): void {
    const header = this.#string;
    this.#string = -1;
    // The header is where it was written, whole: in a block kept since, or in the buffer.
    let block: Uint8Array = this.#buffer, at = header - this.#sealed;
    for (let start = 0, i = 0; at < 0 && i < this.#blocks.length; i++) {
      if (header < start + this.#blocks[i].length) {
        block = this.#blocks[i];
        at = header - start;
      }
      start += this.#blocks[i].length;
    }
    new DataView(block.buffer, block.byteOffset).setUint32(at + 1, this.length - header - 5);
  }

  /** A binary token holding `bytes`. */
  bin(bytes: Uint8Array): void {
    const count = bytes.length;
    const head = count < 0x100 ? 2 : count < 0x10000 ? 3 : 5;
    this.#room(head + count);
    this.#header(head, count, 0, 0xc4, 0xc5, 0xc6);
    this.#at += head;
    this.#buffer.set(bytes, this.#at);
    this.#at += count;
  }

  /** An array header for `count` items (the items follow). */
  array(count: number): void {
    this.#room(5);
    const head = count < 16 ? 1 : count < 0x10000 ? 3 : 5;
    this.#header(head, count, 0x90, 0, 0xdc, 0xdd);
    this.#at += head;
  }

  /** A map header for `count` entries (keys and values follow, alternating). */
  map(count: number): void {
    this.#room(5);
    const head = count < 16 ? 1 : count < 0x10000 ? 3 : 5;
    this.#header(head, count, 0x80, 0, 0xde, 0xdf);
    this.#at += head;
  }

  /** An extension token of `type` with payload `data`. */
  ext(type: number, data: Uint8Array): void {
    this.extHeader(type, data.length);
    this.#buffer.set(data, this.#at);
    this.#at += data.length;
  }

  /**
   * The header of an extension token whose `size` payload bytes the caller
   * writes next (through {@linkcode ByteWriter.payload}).
   */
  extHeader(type: number, size: number): void {
    this.#room(6 + size);
    const b = this.#buffer, at = this.#at;
    if (size < 0x100) {
      b[at] = 0xc7;
      b[at + 1] = size;
      b[at + 2] = type;
      this.#at += 3;
    } else if (size < 0x10000) {
      b[at] = 0xc8;
      this.#view.setUint16(at + 1, size);
      b[at + 3] = type;
      this.#at += 4;
    } else {
      b[at] = 0xc9;
      this.#view.setUint32(at + 1, size);
      b[at + 5] = type;
      this.#at += 6;
    }
  }

  /** Room for `size` raw payload bytes at the end; returns where they go (write them, then nothing else). */
  payload(size: number): { bytes: Uint8Array; view: DataView; at: number } {
    this.#room(size);
    const at = this.#at;
    this.#at += size;
    return { bytes: this.#buffer, view: this.#view, at };
  }
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Reads MessagePack tokens off one message.
 *
 * `next()` reads a token's header (and a scalar's value) and leaves what it
 * found in the reader's fields: `number` for integers and floats, `boolean`,
 * `string`, and `count` for the bytes of a binary or extension token, the
 * items of an array or the entries of a map (`extType` for extensions). A
 * binary or extension payload is then taken with {@linkcode ByteReader.take}.
 *
 * Contract: throws `ProtocolError` (a peer fault) for bytes that are not
 * MessagePack, for a declared length longer than what is left, and for
 * integers outside JavaScript's safe range. Never allocates more than the
 * message holds.
 */
export class ByteReader {
  readonly #bytes: Uint8Array;
  /** For floats and 64-bit integers only, made on first use: most messages have none. */
  #dataView: DataView | null = null;
  /** Where the next token starts. */
  position: number;
  readonly #end: number;
  /** An integer's or a float's value. */
  number = 0;
  /** A boolean's value. */
  boolean = false;
  /** A string's value. */
  string = "";
  /** Bytes of a binary or extension payload; items of an array; entries of a map. */
  count = 0;
  /** An extension's type. */
  extType = 0;
  /** What {@linkcode ByteReader.nextKey} found when it was not a string. */
  lastKind: TokenKind = Token.Nil;

  /** Reads `bytes` from `start`. */
  constructor(bytes: Uint8Array, start = 0) {
    this.#bytes = bytes;
    this.position = start;
    this.#end = bytes.length;
  }

  get #view(): DataView {
    const b = this.#bytes;
    return this.#dataView ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** The signed byte at `at`. */
  #i8(at: number): number {
    return (this.#bytes[at] << 24) >> 24;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#end - this.position;
  }

  /** The first byte of the next token, without reading it; -1 at the end. */
  peek(): number {
    return this.position < this.#end ? this.#bytes[this.position] : -1;
  }

  /**
   * The type of the next token when it is an extension with no payload (the
   * form tags take), else -1. Reads nothing.
   */
  peekEmptyExt(): number {
    const b = this.#bytes, at = this.position;
    return at + 2 < this.#end && b[at] === 0xc7 && b[at + 1] === 0 ? this.#i8(at + 2) : -1;
  }

  #need(count: number, what: string): void {
    if (this.#end - this.position < count) {
      throw peerFault(
        `malformed message: ${what} needs ${count} bytes, ${this.#end - this.position} remain`,
      );
    }
  }

  /** Reads the next token. */
  next(): TokenKind {
    this.#need(1, "a token");
    const b = this.#bytes;
    const head = b[this.position++];
    if (head < 0x80) {
      this.number = head;
      return Token.Int;
    }
    if (head >= 0xe0) {
      this.number = head - 0x100;
      return Token.Int;
    }
    if (head < 0x90) return this.#container(head & 0x0f, 2, Token.Map);
    if (head < 0xa0) return this.#container(head & 0x0f, 1, Token.Array);
    if (head < 0xc0) return this.#str(head & 0x1f);
    switch (head) {
      case 0xc0:
        return Token.Nil;
      case 0xc2:
      case 0xc3:
        this.boolean = head === 0xc3;
        return Token.Bool;
      case 0xc4:
        return this.#sized(this.#u(1), Token.Bin);
      case 0xc5:
        return this.#sized(this.#u(2), Token.Bin);
      case 0xc6:
        return this.#sized(this.#u(4), Token.Bin);
      case 0xc7:
      case 0xc8:
      case 0xc9: {
        const size = this.#u(head === 0xc7 ? 1 : head === 0xc8 ? 2 : 4);
        this.#need(1, "an extension type");
        this.extType = this.#i8(this.position++);
        return this.#sized(size, Token.Ext);
      }
      case 0xca:
        this.#need(4, "a float32");
        this.number = this.#view.getFloat32(this.position);
        this.position += 4;
        return Token.Float;
      case 0xcb:
        this.#need(8, "a float64");
        this.number = this.#view.getFloat64(this.position);
        this.position += 8;
        return Token.Float;
      case 0xcc:
        this.number = this.#u(1);
        return Token.Int;
      case 0xcd:
        this.number = this.#u(2);
        return Token.Int;
      case 0xce:
        this.number = this.#u(4);
        return Token.Int;
      case 0xcf:
        this.#need(8, "a uint64");
        this.number = safe(this.#view.getBigUint64(this.position));
        this.position += 8;
        return Token.Int;
      case 0xd0:
        this.#need(1, "an int8");
        this.number = this.#i8(this.position++);
        return Token.Int;
      case 0xd1:
        this.#need(2, "an int16");
        this.number = (this.#u(2) << 16) >> 16;
        return Token.Int;
      case 0xd2:
        this.#need(4, "an int32");
        this.number = this.#u(4) | 0;
        return Token.Int;
      case 0xd3:
        this.#need(8, "an int64");
        this.number = safe(this.#view.getBigInt64(this.position));
        this.position += 8;
        return Token.Int;
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        this.#need(1, "an extension type");
        this.extType = this.#i8(this.position++);
        return this.#sized(1 << (head - 0xd4), Token.Ext);
      case 0xd9:
        return this.#str(this.#u(1));
      case 0xda:
        return this.#str(this.#u(2));
      case 0xdb:
        return this.#str(this.#u(4));
      case 0xdc:
        return this.#container(this.#u(2), 1, Token.Array);
      case 0xdd:
        return this.#container(this.#u(4), 1, Token.Array);
      case 0xde:
        return this.#container(this.#u(2), 2, Token.Map);
      case 0xdf:
        return this.#container(this.#u(4), 2, Token.Map);
      default:
        throw peerFault(`malformed message: 0x${head.toString(16)} is not a MessagePack token`);
    }
  }

  #u(size: 1 | 2 | 4): number {
    this.#need(size, "a length");
    const b = this.#bytes, at = this.position;
    this.position += size;
    return size === 1
      ? b[at]
      : size === 2
      ? (b[at] << 8) | b[at + 1]
      : ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  #sized(count: number, kind: TokenKind): TokenKind {
    this.#need(count, kind === Token.Bin ? "a binary" : "an extension");
    this.count = count;
    return kind;
  }

  #container(count: number, bytesPerItem: number, kind: TokenKind): TokenKind {
    // Every item takes at least a byte: a count the rest of the message cannot hold is a lie.
    if (count * bytesPerItem > this.#end - this.position) {
      throw peerFault(
        `malformed message: ${kind === Token.Map ? "a map of" : "an array of"} ${count} ` +
          `${kind === Token.Map ? "entries" : "items"}, in ${this.#end - this.position} bytes`,
      );
    }
    this.count = count;
    return kind;
  }

  #str(size: number): TokenKind {
    this.#need(size, "a string");
    if (size > LONG_STRING) {
      this.count = size;
      return Token.LongStr;
    }
    const b = this.#bytes, at = this.position;
    this.position += size;
    if (size < 12) {
      let ascii = "";
      for (let i = at; i < at + size; i++) {
        const c = b[i];
        if (c > 0x7f) return this.#utf8(at, size);
        ascii += String.fromCharCode(c);
      }
      this.string = ascii;
      return Token.Str;
    }
    return this.#utf8(at, size);
  }

  /**
   * Reads the next token, which must be a string, as a map key: short keys
   * repeat (every row of a table has the same ones), so they are decoded
   * once per process and shared. Returns false, reading it as `next()` would,
   * when the token is not a short string.
   */
  nextKey(): boolean {
    const b = this.#bytes, at = this.position;
    const head = at < this.#end ? b[at] : 0;
    const size = head & 0x1f;
    if ((head & 0xe0) !== 0xa0 || size > KEY_CACHE_MAX || at + 1 + size > this.#end) {
      this.lastKind = this.next();
      return this.lastKind === Token.Str;
    }
    this.position = at + 1 + size;
    this.string = keys.get(b, at + 1, size) ??
      keys.put(b, at + 1, size, this.#decodeKey(at + 1, size));
    return true;
  }

  #decodeKey(at: number, size: number): string {
    try {
      return decoder.decode(this.#bytes.subarray(at, at + size));
    } catch {
      throw peerFault("malformed message: a string that is not UTF-8");
    }
  }

  #utf8(at: number, size: number): TokenKind {
    try {
      this.string = decoder.decode(this.#bytes.subarray(at, at + size));
    } catch {
      throw peerFault("malformed message: a string that is not UTF-8");
    }
    return Token.Str;
  }

  /**
   * Decodes the next `count` bytes of a long string's payload; `stream` says
   * more pieces follow (a character may be split between pieces).
   */
  utf8Piece(decoder: TextDecoder, count: number, stream: boolean): string {
    const bytes = this.take(count);
    try {
      return decoder.decode(bytes, { stream });
    } catch {
      throw peerFault("malformed message: a string that is not UTF-8");
    }
  }

  /** The next `count` bytes (a binary or extension payload), as a view into the message. */
  take(count: number): Uint8Array {
    this.#need(count, "a payload");
    const out = this.#bytes.subarray(this.position, this.position + count);
    this.position += count;
    return out;
  }
}

/** Map keys of at most this many bytes are shared through {@linkcode KeyCache}. */
const KEY_CACHE_MAX = 16;

interface CachedKey {
  bytes: Uint8Array;
  text: string;
}

/**
 * Short strings decoded once and shared, in a direct-mapped table: a miss
 * replaces whatever was in its slot, so the table never grows.
 */
class KeyCache {
  #slots = new Array<CachedKey | undefined>(4096);

  #slot(b: Uint8Array, at: number, size: number): number {
    let hash = size;
    for (let i = at; i < at + size; i++) hash = (hash * 31 + b[i]) | 0;
    return hash & 4095;
  }

  get(b: Uint8Array, at: number, size: number): string | undefined {
    const entry = this.#slots[this.#slot(b, at, size)];
    if (!entry || entry.bytes.length !== size) return undefined;
    const bytes = entry.bytes;
    for (let i = 0; i < size; i++) if (bytes[i] !== b[at + i]) return undefined;
    return entry.text;
  }

  put(b: Uint8Array, at: number, size: number, text: string): string {
    this.#slots[this.#slot(b, at, size)] = { bytes: b.slice(at, at + size), text };
    return text;
  }
}

const keys = new KeyCache();

function safe(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw peerFault("malformed message: an integer beyond 2^53 (bigints travel as ext 3)");
  }
  return Number(value);
}

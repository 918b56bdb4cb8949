/**
 * The wire vocabulary: message types, operations and extension types, and
 * the reading of every message's fixed fields, checked field by field before
 * use. core/PROTOCOL.md describes each message; keep the two in step.
 *
 * Values inside messages (arguments, results) are read by unboxing, one
 * layer up; {@linkcode readMessage} stops where a value begins.
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import { ANNOUNCED, type AnnouncedLimits, MIN_LIMITS } from "./limits.ts";
import { type ByteReader, type ByteWriter, Token, type TokenKind, tokenName } from "./msgpack.ts";
import { COMPRESSED, type CompressionOffer } from "./compression.ts";

/** The protocol version this build speaks; exchanged in the handshake. */
export const PROTOCOL_VERSION = 4;

/** The first field of every handshake, so a stranger on the port is recognised at once. */
export const PROTOCOL_MAGIC = "rdc";

/** Message types: the first element of every message array. */
export const Msg = {
  Hello: 0,
  Request: 1,
  Reply: 2,
  Throw: 3,
  Release: 4,
  Cancel: 5,
  Finish: 6,
  Close: 7,
  // 8 is COMPRESSED, an envelope the channel unwraps (core/wire/compression.ts).
  Push: 9,
} as const;
/** One of {@linkcode Msg}. */
export type MsgType = typeof Msg[keyof typeof Msg];

/** Operations a REQUEST asks for. */
export const Op = {
  Get: 0,
  Call: 1,
  New: 2,
  Set: 3,
  Delete: 4,
  Has: 5,
  Iter: 6,
  Next: 7,
  Return: 8,
  Await: 9,
  Ping: 10,
  Copy: 11,
  Primitive: 12,
  InstanceOf: 13,
  Keys: 14,
  Dispose: 15,
  Batch: 16,
  Write: 17,
  Close: 18,
  Abort: 19,
} as const;
/** One of {@linkcode Op}. */
export type OpCode = typeof Op[keyof typeof Op];

const OP_COUNT = Object.keys(Op).length;

/** MessagePack extension types used inside boxed values. */
export const Ext = {
  Undefined: 1,
  NegativeZero: 2,
  BigInt: 3,
  Date: 4,
  BackRef: 5,
  Export: 6,
  Import: 7,
  TypedArray: 8,
  ArrayBuffer: 9,
  Attachment: 10,
  // Tags: an array whose first element is one of these (with no payload) is a tagged container.
  TagMap: 20,
  TagSet: 21,
  TagError: 22,
  TagPath: 23,
} as const;

/**
 * What an exported reference is, so the importer can shape its proxy (a web
 * stream's importer makes a local stream of the same kind).
 */
export const RefKind = {
  Object: 0,
  Function: 1,
  Promise: 2,
  Array: 3,
  ReadableStream: 4,
  WritableStream: 5,
} as const;
/** One of {@linkcode RefKind}. */
export type RefKindCode = typeof RefKind[keyof typeof RefKind];
/**
 * The bit of an EXPORT's kind byte that says the object is disposable (it
 * has `Symbol.asyncDispose` or `Symbol.dispose`): disposing its netref sends
 * DISPOSE.
 */
export const DISPOSABLE_FLAG = 0x10;
/**
 * The bit of an EXPORT's kind byte that says a PUSH of the stream's first
 * chunks follows (set only on a `ReadableStream` exported anew).
 */
export const PUSHED_FLAG = 0x20;

/** The most items one BATCH may ask for (and so the largest window, and the largest PUSH). */
export const MAX_BATCH = 65_536;

/**
 * A REQUEST target: a non-negative number is one of the receiver's exports;
 * a negative number `-(seq + 1)` is the answer to the sender's request `seq`.
 */
export type Target = number;

/** Encodes "the answer to my request `seq`" as a target. */
export function questionTarget(seq: number): Target {
  return -seq - 1;
}

/** A HELLO: who the peer is, and the limits its messages must fit. */
export interface Hello {
  readonly type: typeof Msg.Hello;
  readonly version: number;
  readonly service: string;
  readonly aliases: string[];
  readonly members: string[];
  /** Null in a HELLO of another shape (another version's), which is refused for its version. */
  readonly limits: AnnouncedLimits | null;
  /**
   * Chunks of a `ReadableStream` it takes ahead of its reader: the first
   * PUSH's size; 0 when it takes no PUSH (the synchronous mode).
   */
  readonly streamWindow: number;
  /** What it offers of compression (core/wire/compression.ts). */
  readonly compression: CompressionOffer;
}

/** A REQUEST's fixed fields; its arguments (one value, an array) follow in the reader. */
export interface RequestHead {
  readonly type: typeof Msg.Request;
  readonly seq: number;
  readonly op: OpCode;
  readonly target: Target;
  readonly path: string[];
  readonly finished: number[];
}

/** A REPLY's or THROW's sequence number; the value follows in the reader. */
export interface AnswerHead {
  readonly type: typeof Msg.Reply | typeof Msg.Throw;
  readonly seq: number;
}

/** A PUSH's stream (export id) and whether it failed; the value follows in the reader. */
export interface PushHead {
  readonly type: typeof Msg.Push;
  readonly id: number;
  readonly failed: boolean;
}

/** A RELEASE. */
export interface Release {
  readonly type: typeof Msg.Release;
  readonly ids: number[];
  readonly counts: number[];
}

/** A CANCEL. */
export interface Cancel {
  readonly type: typeof Msg.Cancel;
  readonly seq: number;
}

/** A FINISH. */
export interface Finish {
  readonly type: typeof Msg.Finish;
  readonly seqs: number[];
}

/** A CLOSE. */
export interface Close {
  readonly type: typeof Msg.Close;
  readonly reason: string;
}

/** Every message, as {@linkcode readMessage} returns it. */
export type MessageHead =
  | Hello
  | RequestHead
  | AnswerHead
  | PushHead
  | Release
  | Cancel
  | Finish
  | Close;

const MSG_NAMES = new Map<number, string>(Object.entries(Msg).map(([name, type]) => [type, name]));

/** The name of a message type, for errors and logs. */
export function msgName(type: number): string {
  return MSG_NAMES.get(type) ?? `#${type}`;
}

const MAX_SEQ = 0xffffffff;

/** The HELLO's entry (in its limits map) for the chunks of a stream an end takes ahead of its reader. */
const STREAM_WINDOW = "streamWindow";

/**
 * Reads one message's fixed fields, checking each. For REQUEST, REPLY and
 * THROW it stops where the value begins (the arguments, the result); every
 * other message is read whole.
 *
 * @throws {ProtocolError} naming the message and the field that is wrong.
 */
export function readMessage(reader: ByteReader): MessageHead {
  const fields = expect(reader, Token.Array, "a message");
  if (fields === 0) throw peerFault("malformed message: an empty array");
  const type = int(reader, 0, Msg.Push, "message type");
  if (type === COMPRESSED) throw peerFault("malformed message: a COMPRESSED inside one");
  const kind = type as MsgType;
  const field = new FieldReader(reader, kind, fields);
  switch (kind) {
    case Msg.Hello: {
      field.count(3, 9);
      if (field.string("magic") !== PROTOCOL_MAGIC) field.fail("not an rdc handshake");
      const version = field.int("version", 0, MAX_SEQ);
      // Another version's HELLO may have other fields: the version alone decides.
      if (fields !== 9) {
        return {
          type: kind,
          version,
          service: "",
          aliases: [],
          members: [],
          limits: null,
          streamWindow: 0,
          compression: { accepts: [], wanted: false },
        };
      }
      const service = field.string("service name");
      const aliases = field.strings("aliases");
      const members = field.strings("root member list");
      const { limits, streamWindow } = field.limits();
      return {
        type: kind,
        version,
        service,
        aliases,
        members,
        limits,
        streamWindow,
        compression: { accepts: field.strings("compression list"), wanted: field.bool("wanted") },
      };
    }
    case Msg.Request:
      field.count(7, 7);
      return {
        type: kind,
        seq: field.int("sequence number", 0, MAX_SEQ),
        op: field.int("operation", 0, OP_COUNT - 1) as OpCode,
        target: field.int("target", -MAX_SEQ - 1, MAX_SEQ),
        path: field.names("path"),
        finished: field.ints("finished list"),
      };
    case Msg.Reply:
    case Msg.Throw:
      field.count(3, 3);
      return { type: kind, seq: field.int("sequence number", 0, MAX_SEQ) };
    case Msg.Push:
      field.count(4, 4);
      return { type: kind, id: field.int("stream", 1, MAX_SEQ), failed: field.bool("failed") };
    case Msg.Release: {
      field.count(3, 3);
      const ids = field.ints("ids");
      const counts = field.ints("counts");
      if (ids.length !== counts.length) field.fail("ids and counts differ in length");
      return { type: kind, ids, counts };
    }
    case Msg.Cancel:
      field.count(2, 2);
      return { type: kind, seq: field.int("sequence number", 0, MAX_SEQ) };
    case Msg.Finish:
      field.count(2, 2);
      return { type: kind, seqs: field.ints("sequence list") };
    case Msg.Close:
      field.count(2, 2);
      return { type: kind, reason: field.string("reason") };
    default:
      kind satisfies never;
      throw peerFault(`unknown message type ${kind}`);
  }
}

/** Reads the next token, which must be of `kind`; returns its count (or 0). */
function expect(reader: ByteReader, kind: TokenKind, what: string): number {
  const found = reader.next();
  if (found !== kind) throw peerFault(`malformed message: ${what} is ${tokenName(found)}`);
  return reader.count;
}

function int(reader: ByteReader, min: number, max: number, what: string): number {
  const found = reader.next();
  if (found !== Token.Int || reader.number < min || reader.number > max) {
    const got = found === Token.Int ? String(reader.number) : tokenName(found);
    throw peerFault(`malformed message: bad ${what} (${got})`);
  }
  return reader.number;
}

/** Reads the fields of one message in order, naming it in every error. */
class FieldReader {
  readonly #reader: ByteReader;
  readonly #type: number;
  readonly #fields: number;

  constructor(reader: ByteReader, type: number, fields: number) {
    this.#reader = reader;
    this.#type = type;
    this.#fields = fields;
  }

  fail(what: string): never {
    throw peerFault(`malformed ${msgName(this.#type)} message: ${what}`);
  }

  count(min: number, max: number): void {
    if (this.#fields < min || this.#fields > max) {
      this.fail(`expected ${min === max ? min : `${min} to ${max}`} fields, got ${this.#fields}`);
    }
  }

  #next(kind: TokenKind, what: string): void {
    const found = this.#reader.next();
    if (found !== kind) this.fail(`${what} is ${tokenName(found)}`);
  }

  int(what: string, min: number, max: number): number {
    const reader = this.#reader;
    this.#next(Token.Int, what);
    if (reader.number < min || reader.number > max) this.fail(`bad ${what} ${reader.number}`);
    return reader.number;
  }

  bool(what: string): boolean {
    this.#next(Token.Bool, what);
    return this.#reader.boolean;
  }

  string(what: string): string {
    this.#next(Token.Str, what);
    return this.#reader.string;
  }

  strings(what: string): string[] {
    this.#next(Token.Array, what);
    const out = new Array<string>(this.#reader.count);
    for (let i = 0; i < out.length; i++) out[i] = this.string(`an item of the ${what}`);
    return out;
  }

  /** Like `strings`, for property names: short ones repeat, and are shared (see `nextKey`). */
  names(what: string): string[] {
    this.#next(Token.Array, what);
    const reader = this.#reader;
    const out = new Array<string>(reader.count);
    for (let i = 0; i < out.length; i++) {
      if (reader.nextKey()) out[i] = reader.string;
      else this.fail(`an item of the ${what} is ${tokenName(reader.lastKind)}`);
    }
    return out;
  }

  ints(what: string): number[] {
    this.#next(Token.Array, what);
    const out = new Array<number>(this.#reader.count);
    for (let i = 0; i < out.length; i++) out[i] = this.int(`item of the ${what}`, 0, MAX_SEQ);
    return out;
  }

  /**
   * The announced limits, and the stream window beside them: a map of names
   * to positive whole numbers, every one present.
   */
  limits(): { limits: AnnouncedLimits; streamWindow: number } {
    this.#next(Token.Map, "limits");
    const entries = this.#reader.count;
    const out: Partial<Record<string, number>> = {};
    for (let i = 0; i < entries; i++) {
      const name = this.string("a limit's name");
      const value = this.int(
        `limit ${name}`,
        name === STREAM_WINDOW ? 0 : 1,
        Number.MAX_SAFE_INTEGER,
      );
      if ((ANNOUNCED as readonly string[]).includes(name) || name === STREAM_WINDOW) {
        out[name] = value;
      }
    }
    const streamWindow = out[STREAM_WINDOW];
    if (streamWindow === undefined || streamWindow > MAX_BATCH) {
      this.fail(`${STREAM_WINDOW} must be from 0 to ${MAX_BATCH}, not ${streamWindow}`);
    }
    for (const name of ANNOUNCED) {
      const value = out[name];
      if (value === undefined) this.fail(`no ${name} limit`);
      if (value < MIN_LIMITS[name]) {
        this.fail(`${name} ${value} is below the least any end accepts (${MIN_LIMITS[name]})`);
      }
    }
    delete out[STREAM_WINDOW];
    return { limits: out as unknown as AnnouncedLimits, streamWindow };
  }
}

/** Writes a HELLO. */
export function writeHello(
  writer: ByteWriter,
  version: number,
  aliases: readonly string[],
  members: readonly string[],
  limits: AnnouncedLimits,
  streamWindow: number,
  compression: CompressionOffer,
): void {
  writer.array(9);
  writer.number(Msg.Hello);
  writer.string(PROTOCOL_MAGIC);
  writer.number(version);
  writer.string(aliases[0]);
  writeStrings(writer, aliases);
  writeStrings(writer, members);
  writer.map(ANNOUNCED.length + 1);
  for (const name of ANNOUNCED) {
    writer.string(name);
    writer.number(limits[name]);
  }
  writer.string(STREAM_WINDOW);
  writer.number(streamWindow);
  writeStrings(writer, compression.accepts);
  writer.bool(compression.wanted);
}

/** Writes a REQUEST's fixed fields; the caller writes its arguments next. */
export function writeRequestHead(
  writer: ByteWriter,
  seq: number,
  op: OpCode,
  target: Target,
  path: readonly string[],
  finished: readonly number[],
): void {
  writer.array(7);
  writer.number(Msg.Request);
  writer.number(seq);
  writer.number(op);
  writer.number(target);
  writeStrings(writer, path);
  writeInts(writer, finished);
}

/** Writes a REPLY's or THROW's fixed fields; the caller writes the value next. */
export function writeAnswerHead(writer: ByteWriter, failed: boolean, seq: number): void {
  writer.array(3);
  writer.number(failed ? Msg.Throw : Msg.Reply);
  writer.number(seq);
}

/** Writes a PUSH's fixed fields; the caller writes its value next. */
export function writePushHead(writer: ByteWriter, id: number, failed: boolean): void {
  writer.array(4);
  writer.number(Msg.Push);
  writer.number(id);
  writer.bool(failed);
}

/** Writes a RELEASE. */
export function writeRelease(
  writer: ByteWriter,
  ids: readonly number[],
  counts: readonly number[],
): void {
  writer.array(3);
  writer.number(Msg.Release);
  writeInts(writer, ids);
  writeInts(writer, counts);
}

/** Writes a CANCEL or a FINISH. */
export function writeSeqs(writer: ByteWriter, type: typeof Msg.Cancel, seq: number): void;
export function writeSeqs(
  writer: ByteWriter,
  type: typeof Msg.Finish,
  seqs: readonly number[],
): void;
export function writeSeqs(
  writer: ByteWriter,
  type: typeof Msg.Cancel | typeof Msg.Finish,
  seqs: number | readonly number[],
): void {
  writer.array(2);
  writer.number(type);
  if (typeof seqs === "number") writer.number(seqs);
  else writeInts(writer, seqs);
}

/** Writes a CLOSE. */
export function writeClose(writer: ByteWriter, reason: string): void {
  writer.array(2);
  writer.number(Msg.Close);
  writer.string(reason);
}

function writeStrings(writer: ByteWriter, items: readonly string[]): void {
  writer.array(items.length);
  for (const item of items) writer.string(item);
}

function writeInts(writer: ByteWriter, items: readonly number[]): void {
  writer.array(items.length);
  for (const item of items) writer.number(item);
}

/**
 * Unboxing: reading MessagePack tokens back into JavaScript values (the
 * reverse of boxing.ts; core/PROTOCOL.md, "Values").
 *
 * Like boxing, it keeps its own stack so that it can stop at a deadline and
 * go on later ({@linkcode Sliced}). Every count a token declares is checked
 * before anything is built: against what is left of the message (by the
 * reader), against the nesting and element limits this end announced, and
 * against what the attachments hold.
 *
 * @module
 */

import { completeRemoteError, peerFault, RemoteError } from "../errors.ts";
import { Ext } from "./messages.ts";
import { type ByteReader, Token } from "./msgpack.ts";
import { checkDeadline, type Sliced } from "./slicing.ts";
import {
  ARRAY_BUFFER_KIND,
  bytesToBigint,
  decodeExport,
  elementSize,
  readU32,
  type ReferenceReader,
  TYPED_ARRAYS,
  viewOf,
} from "./values.ts";
import type { Target } from "./messages.ts";

/** The limits this end announced, which what it reads must fit. */
export interface UnboxLimits {
  /** Deepest nesting. */
  maxDepth: number;
  /** Most array items and map entries in one message. */
  maxElements: number;
  /** Largest bigint magnitude, in bytes. */
  maxBigIntBytes: number;
}

const CHECK_EVERY = 512;
const STRING_PIECE = 1024 * 1024;

const enum Kind {
  /** The value itself: one slot. */
  Root,
  /** Items of an array. */
  Items,
  /** Entries of an object (a MessagePack map). */
  Entries,
  /** A tagged Map's key, value, key, value. */
  MapEntries,
  /** A tagged Set's items. */
  SetItems,
  /** A tagged Error's cause, then its other properties. */
  ErrorRest,
  /** A long string, read in pieces. */
  LongString,
}

interface Frame {
  kind: Kind;
  /** What is being filled: an array, an object, a Map, a Set, an Error. */
  target: unknown;
  index: number;
  count: number;
  /** Nesting of the items. */
  depth: number;
  /** The last Map key read, or the object key read. */
  key: unknown;
  /** Error: whether it had a cause, and its cause and properties once read. */
  hasCause: boolean;
  cause: unknown;
  props: Record<string, unknown> | null;
  /** A long string: the pieces so far. */
  pieces: string[] | null;
}

/** A lazy path met as a value: resolved after the whole message is read. */
class LazyPath {
  readonly target: Target;
  readonly path: string[];
  constructor(target: Target, path: string[]) {
    this.target = target;
    this.path = path;
  }
}

/**
 * Reads one value from a {@linkcode ByteReader}, resumably. One instance per
 * message.
 *
 * Contract: `run` throws `ProtocolError` (a peer fault) for anything that
 * is not a well-formed value within the limits, and whatever `refs` throws
 * (a full import table: `LimitError`). Lazy paths are collected and only
 * resolved by {@linkcode Unboxer.settle}, once the value is read.
 */
export class Unboxer implements Sliced {
  readonly #reader: ByteReader;
  readonly #refs: ReferenceReader;
  readonly #limits: UnboxLimits;
  readonly #attachments: readonly Uint8Array[];
  readonly #seen: unknown[] = [];
  /** Frames by depth, reused: `#depth` of them are in use. */
  readonly #stack: Frame[] = [];
  #depth = 0;
  #used: Uint8Array | null = null;
  #elements = 0;
  #steps = CHECK_EVERY;
  #deferred: { lazy: LazyPath; assign: (value: unknown) => void }[] | null = null;
  #result: unknown = undefined;

  /**
   * Reads from `reader` against `refs`, with the attachments that came with
   * the message. Nothing it returns refers to the reader's bytes: the
   * message's buffer may be reused once it is done.
   */
  constructor(
    reader: ByteReader,
    refs: ReferenceReader,
    limits: UnboxLimits,
    attachments: readonly Uint8Array[],
  ) {
    this.#reader = reader;
    this.#refs = refs;
    this.#limits = limits;
    this.#attachments = attachments;
    this.#push(Kind.Root, undefined, 1, 0);
  }

  /** The value, once `run` has returned true (lazy paths in it are filled in by `settle`). */
  get value(): unknown {
    return this.#result;
  }

  /** Whether lazy paths were met, so {@linkcode Unboxer.settle} has work to do. */
  get hasDeferred(): boolean {
    return this.#deferred !== null;
  }

  /** Resolves every lazy path met, writing the values into their slots. */
  async settle(): Promise<void> {
    const deferred = this.#deferred;
    if (!deferred) return;
    await Promise.all(
      deferred.map(({ lazy, assign }) =>
        this.#refs.resolvePath(lazy.target, lazy.path).then(assign)
      ),
    );
  }

  /** Works until the value is read (true) or the deadline passed (false). */
  run(deadline: number): boolean {
    let limit = deadline;
    const stack = this.#stack;
    const reader = this.#reader;
    while (this.#depth > 0) {
      if (--this.#steps <= 0) {
        this.#steps = CHECK_EVERY;
        limit = checkDeadline(limit);
        if (limit < 0) return false;
      }
      const frame = stack[this.#depth - 1];
      if (frame.index === frame.count) {
        this.#depth--;
        this.#complete(frame);
        continue;
      }
      switch (frame.kind) {
        case Kind.Entries:
          if (frame.key === undefined) {
            if (!reader.nextKey()) throw peerFault("malformed object: a key that is not a string");
            if (reader.string === "__proto__") throw peerFault("an object with a __proto__ key");
            frame.key = reader.string;
            continue;
          }
          this.#read(frame);
          break;
        case Kind.ErrorRest:
          if (frame.index === 1) this.#readProps(frame);
          else this.#read(frame);
          break;
        case Kind.LongString:
          this.#stringPiece(frame);
          break;
        default:
          this.#read(frame);
      }
    }
    return true;
  }

  #push(kind: Kind, target: unknown, count: number, depth: number): Frame {
    let frame = this.#stack[this.#depth];
    if (frame) {
      frame.kind = kind;
      frame.target = target;
      frame.index = 0;
      frame.count = count;
      frame.depth = depth;
      frame.key = undefined;
      frame.hasCause = false;
      frame.cause = undefined;
      frame.props = null;
      frame.pieces = null;
    } else {
      frame = {
        kind,
        target,
        index: 0,
        count,
        depth,
        key: undefined,
        hasCause: false,
        cause: undefined,
        props: null,
        pieces: null,
      };
      this.#stack.push(frame);
    }
    this.#depth++;
    return frame;
  }

  /** A frame is full: finish what it built. */
  #complete(frame: Frame): void {
    if (frame.kind === Kind.ErrorRest) {
      completeRemoteError(frame.target as Error, frame.hasCause, frame.cause, frame.props ?? {});
    } else if (frame.kind === Kind.LongString) {
      this.#place(frame.pieces!.join(""));
    }
  }

  /** Puts `value` into the slot the top frame is at, and moves past it. */
  #place(value: unknown): void {
    const frame = this.#stack[this.#depth - 1];
    const i = frame.index++;
    if (value instanceof LazyPath) return this.#defer(value, frame, i);
    switch (frame.kind) {
      case Kind.Root:
        this.#result = value;
        return;
      case Kind.Items:
        (frame.target as unknown[])[i] = value;
        return;
      case Kind.Entries:
        (frame.target as Record<string, unknown>)[frame.key as string] = value;
        frame.key = undefined;
        return;
      case Kind.MapEntries:
        if (i % 2 === 0) frame.key = value;
        else (frame.target as Map<unknown, unknown>).set(frame.key, value);
        return;
      case Kind.SetItems:
        (frame.target as Set<unknown>).add(value);
        return;
      case Kind.ErrorRest:
        frame.cause = value;
        return;
      case Kind.LongString:
        throw new Error("unreachable: a long string holds no values");
      default:
        frame.kind satisfies never;
    }
  }

  /** A lazy path in a slot: the slot is filled when it resolves (see `settle`). */
  #defer(lazy: LazyPath, frame: Frame, i: number): void {
    let assign: (value: unknown) => void;
    switch (frame.kind) {
      case Kind.Root:
        assign = (value) => (this.#result = value);
        break;
      case Kind.Items: {
        const target = frame.target as unknown[];
        target[i] = undefined;
        assign = (value) => (target[i] = value);
        break;
      }
      case Kind.Entries: {
        const target = frame.target as Record<string, unknown>;
        const key = frame.key as string;
        target[key] = undefined;
        frame.key = undefined;
        assign = (value) => (target[key] = value);
        break;
      }
      case Kind.MapEntries: {
        if (i % 2 === 0) throw peerFault("a lazy path as a Map key");
        const target = frame.target as Map<unknown, unknown>;
        const key = frame.key;
        target.set(key, undefined);
        assign = (value) => target.set(key, value);
        break;
      }
      case Kind.SetItems: {
        const target = frame.target as Set<unknown>;
        assign = (value) => target.add(value);
        break;
      }
      case Kind.ErrorRest: {
        const error = frame.target as Error;
        assign = (value) => completeRemoteError(error, true, value, {});
        break;
      }
      case Kind.LongString:
        throw new Error("unreachable: a long string holds no values");
      default:
        frame.kind satisfies never;
        return;
    }
    (this.#deferred ??= []).push({ lazy, assign });
  }

  #count(items: number): void {
    this.#elements += items;
    if (this.#elements > this.#limits.maxElements) {
      throw peerFault(`a value of more than ${this.#limits.maxElements} elements (maxElements)`);
    }
  }

  /** Opening a container inside `frame`: it must not be nested too deep. */
  #open(frame: Frame): void {
    if (frame.depth > this.#limits.maxDepth) {
      throw peerFault(`value nested deeper than ${this.#limits.maxDepth} levels`);
    }
  }

  /** Reads the next value and places it; a container is placed, then filled. */
  #read(frame: Frame): void {
    const reader = this.#reader;
    const found = reader.next();
    switch (found) {
      case Token.Int:
      case Token.Float:
        return this.#place(reader.number);
      case Token.Str:
        return this.#place(reader.string);
      case Token.Nil:
        return this.#place(null);
      case Token.Bool:
        return this.#place(reader.boolean);
      case Token.Bin: {
        // Copied: the message's buffer is reused once it is decoded.
        const bytes = reader.take(reader.count).slice();
        this.#steps -= bytes.length >> 12;
        this.#seen.push(bytes);
        return this.#place(bytes);
      }
      case Token.Array:
        this.#open(frame);
        this.#count(reader.count);
        return this.#array(frame, reader.count);
      case Token.Map: {
        this.#open(frame);
        this.#count(reader.count);
        const record: Record<string, unknown> = {};
        this.#seen.push(record);
        this.#place(record);
        this.#push(Kind.Entries, record, reader.count, frame.depth + 1);
        return;
      }
      case Token.Ext:
        return this.#place(this.#ext(reader.extType, reader.take(reader.count)));
      case Token.LongStr: {
        const long = this.#push(
          Kind.LongString,
          new TextDecoder("utf-8", { fatal: true }),
          reader.count,
          frame.depth,
        );
        long.pieces = [];
        return;
      }
      default:
        found satisfies never;
    }
  }

  #stringPiece(frame: Frame): void {
    const size = Math.min(STRING_PIECE, frame.count - frame.index);
    frame.index += size;
    const more = frame.index < frame.count;
    frame.pieces!.push(this.#reader.utf8Piece(frame.target as TextDecoder, size, more));
    this.#steps -= 64;
  }

  /** An array: plain, or tagged (a Map, a Set, an Error, a lazy path) by its first item. */
  #array(frame: Frame, count: number): void {
    const tag = count > 0 ? this.#reader.peekEmptyExt() : -1;
    const depth = frame.depth + 1;
    if (tag < Ext.TagMap) {
      const items = new Array(count);
      this.#seen.push(items);
      this.#place(items);
      this.#push(Kind.Items, items, count, depth);
      return;
    }
    this.#reader.next();
    switch (tag) {
      case Ext.TagMap: {
        if ((count - 1) % 2 !== 0) throw peerFault("malformed Map: odd entry list");
        const map = new Map<unknown, unknown>();
        this.#seen.push(map);
        this.#place(map);
        this.#push(Kind.MapEntries, map, count - 1, depth);
        return;
      }
      case Ext.TagSet: {
        const set = new Set<unknown>();
        this.#seen.push(set);
        this.#place(set);
        this.#push(Kind.SetItems, set, count - 1, depth);
        return;
      }
      case Ext.TagError:
        return this.#error(count, depth);
      case Ext.TagPath:
        return this.#place(this.#lazyPath(count));
      default:
        throw peerFault(`unknown container tag ${tag}`);
    }
  }

  #error(count: number, depth: number): void {
    if (count !== 8) throw peerFault("malformed Error value");
    const className = this.#string("Error value");
    const name = this.#string("Error value");
    const message = this.#string("Error value");
    const stack = this.#string("Error value");
    if (this.#reader.next() !== Token.Bool) throw peerFault("malformed Error value");
    const hasCause = this.#reader.boolean;
    // Indexed before its contents, as the sender did, so they may refer to it.
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
    this.#place(error);
    const rest = this.#push(Kind.ErrorRest, error, 2, depth);
    rest.hasCause = hasCause;
  }

  /** An Error's other properties: an object that takes no index (the sender gave it none). */
  #readProps(frame: Frame): void {
    frame.index++;
    if (this.#reader.next() !== Token.Map) throw peerFault("malformed Error value");
    this.#count(this.#reader.count);
    const props: Record<string, unknown> = {};
    frame.props = props;
    this.#push(Kind.Entries, props, this.#reader.count, frame.depth);
  }

  #lazyPath(count: number): LazyPath {
    if (count < 2 || this.#reader.next() !== Token.Int) {
      throw peerFault("malformed lazy path argument");
    }
    const target = this.#reader.number;
    const path = new Array<string>(count - 2);
    for (let i = 0; i < path.length; i++) path[i] = this.#string("lazy path argument");
    return new LazyPath(target, path);
  }

  #string(what: string): string {
    if (this.#reader.next() !== Token.Str) throw peerFault(`malformed ${what}`);
    return this.#reader.string;
  }

  #ext(type: number, data: Uint8Array): unknown {
    switch (type) {
      case Ext.Undefined:
        if (data.length !== 0) throw peerFault("malformed undefined");
        return undefined;
      case Ext.NegativeZero:
        if (data.length !== 0) throw peerFault("malformed -0");
        return -0;
      case Ext.BigInt:
        if (data.length - 1 > this.#limits.maxBigIntBytes) {
          throw peerFault(
            `a bigint of ${
              data.length - 1
            } bytes (maxBigIntBytes is ${this.#limits.maxBigIntBytes})`,
          );
        }
        this.#steps -= data.length >> 10;
        return bytesToBigint(data);
      case Ext.Date: {
        if (data.length !== 8) throw peerFault("malformed Date value");
        const date = new Date(new DataView(data.buffer, data.byteOffset, 8).getFloat64(0));
        this.#seen.push(date);
        return date;
      }
      case Ext.BackRef: {
        if (data.length !== 4) throw peerFault("malformed back reference");
        const index = readU32(data, 0, "back reference");
        if (index >= this.#seen.length) {
          throw peerFault(
            `back reference to #${index}, but only ${this.#seen.length} values precede it`,
          );
        }
        return this.#seen[index];
      }
      case Ext.Export:
        return this.#refs.importReference(decodeExport(data));
      case Ext.Import:
        if (data.length !== 4) throw peerFault("malformed reference");
        return this.#refs.localReference(readU32(data, 0, "reference"));
      case Ext.TypedArray: {
        const cls = TYPED_ARRAYS[data[0]];
        if (data.length < 1 || !cls || cls === Uint8Array) throw peerFault("malformed typed array");
        if ((data.length - 1) % elementSize(data[0]) !== 0) {
          throw peerFault("malformed typed array length");
        }
        const view = viewOf(data[0], data.slice(1).buffer);
        this.#seen.push(view);
        return view;
      }
      case Ext.ArrayBuffer: {
        const buffer = data.slice().buffer;
        this.#seen.push(buffer);
        return buffer;
      }
      case Ext.Attachment: {
        const value = this.#attachment(data);
        this.#seen.push(value);
        return value;
      }
      default:
        throw peerFault(`unknown extension type ${type}`);
    }
  }

  /** The attachment an ATTACHMENT extension names, as the kind of array it was sent as. */
  #attachment(data: Uint8Array): unknown {
    if (data.length !== 5) throw peerFault("malformed attachment reference");
    const index = readU32(data, 0, "attachment");
    const bytes = this.#attachments[index];
    if (!bytes) {
      throw peerFault(
        `attachment #${index}, but ${this.#attachments.length} came with the message`,
      );
    }
    // Each attachment is one value; sharing goes through back references.
    const used = this.#used ??= new Uint8Array(this.#attachments.length);
    if (used[index]) throw peerFault(`attachment #${index} is referred to twice`);
    used[index] = 1;
    const kind = data[4];
    if (kind === ARRAY_BUFFER_KIND) return bytes.buffer;
    if (!TYPED_ARRAYS[kind]) throw peerFault(`attachment of unknown kind ${kind}`);
    if (kind === 1) return bytes;
    if (bytes.length % elementSize(kind) !== 0) throw peerFault("malformed typed array length");
    return viewOf(kind, bytes.buffer as ArrayBuffer);
  }
}

/** What {@linkcode readPrimitive} returns for a value that is not a primitive. */
export const NOT_PRIMITIVE: unique symbol = Symbol("not a primitive");

/**
 * Reads the value at `reader` when it is a primitive (most results are:
 * numbers, strings, booleans, null, undefined), which needs no unboxer;
 * otherwise reads nothing and returns {@linkcode NOT_PRIMITIVE}.
 */
export function readPrimitive(reader: ByteReader): unknown {
  const head = reader.peek();
  // Every primitive token but bin and ext: ints, floats, strings (not str32: it may be long), nil, booleans.
  const scalar = head < 0x80 || head >= 0xe0 || (head >= 0xa0 && head <= 0xc3 && head !== 0xc1) ||
    (head >= 0xca && head <= 0xd3) || head === 0xd9 || head === 0xda;
  if (scalar) {
    const kind = reader.next();
    if (kind === Token.LongStr) throw peerFault("unreachable: a long string is not read here");
    return kind === Token.Str
      ? reader.string
      : kind === Token.Nil
      ? null
      : kind === Token.Bool
      ? reader.boolean
      : reader.number;
  }
  const ext = reader.peekEmptyExt();
  if (ext === Ext.Undefined || ext === Ext.NegativeZero) {
    reader.next();
    return ext === Ext.Undefined ? undefined : -0;
  }
  return NOT_PRIMITIVE;
}

/**
 * Reads an argument list of at most 15 primitives (most are), which needs no
 * unboxer; otherwise reads nothing and returns null.
 */
export function readPrimitives(reader: ByteReader): unknown[] | null {
  const head = reader.peek();
  if (head < 0x90 || head > 0x9f) return null;
  const start = reader.position;
  reader.next();
  const out = new Array(head & 0x0f);
  for (let i = 0; i < out.length; i++) {
    const value = readPrimitive(reader);
    if (value === NOT_PRIMITIVE) {
      reader.position = start;
      return null;
    }
    out[i] = value;
  }
  return out;
}

/**
 * Visits every EXPORT in a value without building it: how references in a
 * message nobody will read (a refused request, an answer nobody waits for)
 * are given back. Bounded like unboxing (the reader checks every count
 * against the bytes left), and sliced like it.
 */
export class ExportScanner implements Sliced {
  readonly #reader: ByteReader;
  readonly #visit: (id: number) => void;
  #pending = 1;

  /** Scans the value at `reader`'s position, calling `visit` with each exported id. */
  constructor(reader: ByteReader, visit: (id: number) => void) {
    this.#reader = reader;
    this.#visit = visit;
  }

  /** Works until the value is scanned (true) or the deadline passed (false). */
  run(deadline: number): boolean {
    let limit = deadline;
    const reader = this.#reader;
    for (let steps = CHECK_EVERY; this.#pending > 0; this.#pending--) {
      if (--steps <= 0) {
        steps = CHECK_EVERY;
        limit = checkDeadline(limit);
        if (limit < 0) return false;
      }
      switch (reader.next()) {
        case Token.Array:
          this.#pending += reader.count;
          break;
        case Token.Map:
          this.#pending += 2 * reader.count;
          break;
        case Token.Bin:
        case Token.LongStr:
          reader.take(reader.count);
          break;
        case Token.Ext: {
          const data = reader.take(reader.count);
          if (reader.extType === Ext.Export) this.#visit(decodeExport(data).id);
          break;
        }
      }
    }
    return true;
  }
}

/**
 * A raw TCP peer for handshake and hostile-peer tests: it reads and writes
 * frames by hand, without the library's connection engine, so a test can send
 * anything at all and see exactly what comes back. The wire numbers below are
 * written out here on purpose (not imported from core/) so the tests check the
 * protocol as core/PROTOCOL.md (version 4) describes it. Messages are encoded
 * with @msgpack/msgpack, an encoder independent of ours.
 *
 * The second half is the hostile-peer harness shared by hostile_test.ts and
 * hostile_wire_test.ts: a target service, a handshaken raw peer, and
 * {@linkcode withstand}, which runs one attack and checks every promise the
 * suites make.
 */

import assert from "node:assert/strict";
import { Decoder, Encoder, ExtData } from "@msgpack/msgpack";
import {
  connect,
  type Connection,
  currentCall,
  exposed,
  serve,
  type ServeOptions,
  type Server,
  Service,
} from "../mod.ts";
import { quietLogger, rawFrame, waitFor, writeAll } from "./_helpers.ts";
import { joinBlocks } from "../core/wire/channel.ts";

// ---- wire numbers (core/PROTOCOL.md) -------------------------------------------------------

/** The protocol version these tests speak. */
export const VERSION = 4;
/** Message types: the first element of every message. */
export const MSG = {
  HELLO: 0,
  REQUEST: 1,
  REPLY: 2,
  THROW: 3,
  RELEASE: 4,
  CANCEL: 5,
  FINISH: 6,
  CLOSE: 7,
  PUSH: 9,
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
  PRIMITIVE: 12,
  INSTANCEOF: 13,
  KEYS: 14,
  DISPOSE: 15,
  BATCH: 16,
  WRITE: 17,
  CLOSE: 18,
  ABORT: 19,
} as const;
/** MessagePack extension types inside boxed values. */
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
/** The largest frame either end accepts before the handshake. */
export const HANDSHAKE_FRAME_SIZE = 16 * 1024;
/** The shape number of a reference sent without a member list. */
export const NO_SHAPE = 0xffffffff;

const MiB = 1024 * 1024;

/** The limits a HELLO announces. */
export interface AnnouncedLimits {
  maxMessageSize: number;
  maxFrameSize: number;
  maxDepth: number;
  maxElements: number;
  maxBigIntBytes: number;
  /** Chunks of a stream taken ahead of the reader: the size of the peer's first PUSH. */
  streamWindow: number;
}

/** The default announced limits (core/PROTOCOL.md, "HELLO"). */
export const DEFAULT_LIMITS: Readonly<AnnouncedLimits> = Object.freeze({
  maxMessageSize: 1024 * MiB,
  maxFrameSize: 2 * MiB,
  maxDepth: 256,
  maxElements: 10_000_000,
  maxBigIntBytes: MiB,
  streamWindow: 64,
});

// ---- building messages ---------------------------------------------------------------------

/** A version-4 HELLO (accepting no compression) for a service called `name`, announcing the default limits unless told. */
export function hello(
  name = "Raw",
  limits: Partial<AnnouncedLimits> = {},
  version = VERSION,
): unknown[] {
  const announced = { ...DEFAULT_LIMITS, ...limits };
  return [MSG.HELLO, "rdc", version, name, [name], [], announced, [], false];
}

/** A REQUEST, fields in their wire order (`finished` before `args`). */
export function request(
  seq: number,
  op: number,
  target: number,
  path: string[],
  args: unknown[],
  finished: number[] = [],
): unknown[] {
  return [MSG.REQUEST, seq, op, target, path, finished, args];
}

/**
 * A REQUEST's body whose `args` are the raw bytes given, for arguments no
 * honest encoder writes (declared lengths that lie, integers beyond 2^53).
 */
export function rawRequest(
  seq: number,
  op: number,
  target: number,
  path: string[],
  args: Uint8Array,
  finished: number[] = [],
): Uint8Array {
  const head = [MSG.REQUEST, seq, op, target, path, finished].map((field) => encode(field));
  return concat(new Uint8Array([0x97]), ...head, args);
}

/** An extension with no payload (`c7 00 type`): the form tags take. */
export function tag(type: number): ExtData {
  return new ExtData(type, new Uint8Array(0));
}

/** An EXPORT: the sender's object `id`, of member list `shape`, labelled `name`. */
export function exportExt(id: number, shape: number, name: string, kind = 0): ExtData {
  const label = new TextEncoder().encode(name);
  const out = new Uint8Array(9 + label.length);
  out[0] = kind;
  out.set(u32(id), 1);
  out.set(u32(shape), 5);
  out.set(label, 9);
  return new ExtData(EXT.EXPORT, out);
}

/** An IMPORT: the receiver's own export `id`, coming back. */
export function importExt(id: number): ExtData {
  return new ExtData(EXT.IMPORT, u32(id));
}

/** The extension that names attachment `index`, sent as array kind `kind` (1 = Uint8Array). */
export function attachmentRef(index: number, kind = 1): ExtData {
  const data = new Uint8Array(5);
  data.set(u32(index));
  data[4] = kind;
  return new ExtData(EXT.ATTACHMENT, data);
}

/** The id in an EXPORT extension. */
export function exportedId(ext: unknown): number {
  assert.ok(ext instanceof ExtData && ext.type === EXT.EXPORT, `not an EXPORT: ${ext}`);
  const data = ext.data as Uint8Array;
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
}

/** The class name, name and message of an error boxed in a THROW (`[ext 22, className, …]`). */
export function thrownError(
  message: unknown[],
): { className: string; name: string; message: string } {
  assert.equal(message[0], MSG.THROW, `not a THROW: ${Deno.inspect(message)}`);
  const error = message[2] as unknown[];
  assert.ok(Array.isArray(error), `the THROW carries no error: ${Deno.inspect(message)}`);
  const head = error[0];
  assert.ok(head instanceof ExtData && head.type === EXT.TAG_ERROR, "not a tagged Error");
  return {
    className: error[1] as string,
    name: error[2] as string,
    message: error[3] as string,
  };
}

/** `n` as 4 big-endian bytes. */
export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** The byte arrays given, back to back. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return joinBlocks(parts);
}

/** One encoder for every small value: each fresh one would cost a 2 KiB buffer. */
const encoder = new Encoder();

/** One value in MessagePack, by the independent encoder (a copy of its bytes). */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * A shape table: a map from shape numbers to member lists. Written by hand
 * because @msgpack/msgpack only writes string keys (and, for tables of many
 * lists, into one buffer: small arrays by the thousand would weigh on the
 * resident set the hostile tests watch).
 */
export function shapeTable(lists: Iterable<[number, string[]]>): Uint8Array {
  const entries = [...lists];
  const out: number[] = [];
  const n = entries.length;
  if (n < 16) out.push(0x80 | n);
  else if (n < 0x10000) out.push(0xde, n >> 8, n & 0xff);
  else out.push(0xdf, ...u32(n));
  for (const [shape, names] of entries) {
    if (shape < 0x80) out.push(shape);
    else if (shape < 0x10000) out.push(0xcd, shape >> 8, shape & 0xff);
    else out.push(0xce, ...u32(shape));
    if (names.length === 0) out.push(0x90);
    else out.push(...encode(names));
  }
  return Uint8Array.from(out);
}

/** A message body: its shape table (if any), then the message. */
export function body(message: unknown, shapes?: Uint8Array): Uint8Array {
  return shapes ? concat(shapes, encode(message)) : encode(message);
}

/** A whole frame holding `payload` (any bytes at all). */
export function frame(payload: Uint8Array): Uint8Array {
  return concat(u32(payload.length), payload);
}

/** A frame header announcing `length` bytes, with nothing after it. */
export function header(length: number): Uint8Array {
  return u32(length);
}

/** A stream's prologue: its body length and the length of each attachment. */
export function prologue(
  bodyLength: number,
  attachmentLengths: readonly number[] = [],
): Uint8Array {
  const out = new Uint8Array(6 + 4 * attachmentLengths.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, bodyLength);
  view.setUint16(4, attachmentLengths.length);
  attachmentLengths.forEach((length, i) => view.setUint32(6 + 4 * i, length));
  return out;
}

/** A chunk frame of stream `stream`; `data` follows the chunk header (a prologue first on FIRST). */
export function chunkFrame(
  stream: number,
  flags: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(9 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (CHUNK_BIT | (5 + data.length)) >>> 0);
  view.setUint32(4, stream);
  out[8] = flags;
  out.set(data, 9);
  return out;
}

/** The first chunk of a stream: FIRST, the prologue, then `data`. */
export function firstChunk(
  stream: number,
  bodyLength: number,
  attachmentLengths: readonly number[] = [],
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return chunkFrame(stream, FLAG.FIRST, concat(prologue(bodyLength, attachmentLengths), data));
}

/**
 * A message as a stream of chunk frames, each with at most `chunkData`
 * bytes of data: the body, then each attachment.
 */
export function streamFrames(
  stream: number,
  message: Uint8Array,
  attachments: readonly Uint8Array[] = [],
  chunkData = MiB,
): Uint8Array[] {
  const data = concat(message, ...attachments);
  const frames: Uint8Array[] = [];
  let offset = 0;
  do {
    const piece = data.subarray(offset, offset + chunkData);
    frames.push(
      offset === 0
        ? firstChunk(stream, message.length, attachments.map((a) => a.length), piece)
        : chunkFrame(stream, 0, piece),
    );
    offset += piece.length;
  } while (offset < data.length);
  return frames;
}

// ---- the raw peer ------------------------------------------------------------------------------

/** What {@linkcode RawPeer.readMessage} returns once the other end has closed. */
export const EOF = Symbol("eof");

/** One message as it arrived. */
export interface Received {
  /** The message array. */
  message: unknown[];
  /** Its shape table, if its body had one. */
  shapes: Map<number, string[]> | null;
  /** The attachments of a message that came as a stream. */
  attachments: Uint8Array[];
  /** Whether it came as a stream of chunks rather than a whole frame. */
  chunked: boolean;
}

/** An incoming stream being put together. */
interface Assembly {
  data: Uint8Array;
  filled: number;
  sizes: number[];
}

/** A raw TCP peer that reads and writes frames by hand. */
export class RawPeer {
  readonly conn: Deno.Conn;
  /** Every member list the other end described so far. */
  readonly shapes = new Map<number, string[]>();
  /** Every message read so far, in the order they arrived. */
  readonly received: unknown[][] = [];
  /** The longest frame payload read so far. */
  largestFrame = 0;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #streams = new Map<number, Assembly>();
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends `message` as a whole frame, after the encoded shape table if one is given. */
  send(message: unknown, shapes?: Uint8Array): Promise<void> {
    return writeAll(this.conn, rawFrame(message, shapes));
  }

  /** Sends any bytes at all. */
  sendBytes(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Sends a message body as stream `stream`, in chunks of at most `chunkData` bytes of data. */
  async sendStream(
    stream: number,
    message: Uint8Array,
    attachments: readonly Uint8Array[] = [],
    chunkData = MiB,
  ): Promise<void> {
    for (const chunk of streamFrames(stream, message, attachments, chunkData)) {
      await this.sendBytes(chunk);
    }
  }

  /** Reads more bytes; false at end of stream. Closes the socket and throws on timeout. */
  async #more(timeoutMs: number): Promise<boolean> {
    if (this.#end === this.#buffer.length) {
      const kept = this.#end - this.#start;
      const grown = new Uint8Array(Math.max(this.#buffer.length, 2 * kept, 64 * 1024));
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = grown;
      this.#start = 0;
      this.#end = kept;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const read = this.conn.read(this.#buffer.subarray(this.#end)).catch((error) => {
      if (error instanceof Deno.errors.ConnectionReset || this.#closed) return null;
      throw error;
    });
    const n = await Promise.race([read, timeout]).finally(() => clearTimeout(timer));
    if (n === "timeout") {
      this.close();
      await read.catch(() => {});
      throw new Error(`raw peer: nothing read within ${timeoutMs} ms`);
    }
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Makes `count` bytes available; false at end of stream. */
  async #fill(count: number, timeoutMs: number): Promise<boolean> {
    if (this.#start + count > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(count, this.#buffer.length));
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buffer = grown;
    }
    while (this.#end - this.#start < count) {
      if (!(await this.#more(timeoutMs))) return false;
    }
    return true;
  }

  /**
   * The next message, whole or put together from its chunks (so messages come
   * in the order they complete), or EOF. A `timeoutMs` of Infinity waits as
   * long as it takes.
   */
  async receive(timeoutMs = 3000): Promise<Received | typeof EOF> {
    while (true) {
      if (!(await this.#fill(4, timeoutMs))) {
        if (this.#end === this.#start) return EOF;
        throw new Error("raw peer: the stream ended inside a frame header");
      }
      const headerWord = this.#u32(this.#start);
      const length = headerWord & 0x7fffffff;
      if (!(await this.#fill(4 + length, timeoutMs))) {
        throw new Error(`raw peer: the stream ended inside a frame of ${length} bytes`);
      }
      const payload = this.#buffer.slice(this.#start + 4, this.#start + 4 + length);
      this.#start += 4 + length;
      this.largestFrame = Math.max(this.largestFrame, length);
      if (headerWord < CHUNK_BIT) return this.#decode(payload, [], false);
      const done = this.#chunk(payload);
      if (done) return done;
    }
  }

  /** One chunk; the message it completes, if it does. */
  #chunk(payload: Uint8Array): Received | null {
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const id = view.getUint32(0);
    const flags = payload[4];
    let data = payload.subarray(5);
    if (flags & FLAG.ABORT) {
      this.#streams.delete(id);
      return null;
    }
    if (flags & FLAG.FIRST) {
      const count = view.getUint16(9);
      const sizes = [view.getUint32(5)];
      for (let i = 0; i < count; i++) sizes.push(view.getUint32(11 + 4 * i));
      const total = sizes.reduce((a, b) => a + b, 0);
      this.#streams.set(id, { data: new Uint8Array(total), filled: 0, sizes });
      data = data.subarray(6 + 4 * count);
    }
    const assembly = this.#streams.get(id);
    assert.ok(assembly, `raw peer: a chunk of stream ${id}, which is not open`);
    assembly.data.set(data, assembly.filled);
    assembly.filled += data.length;
    if (assembly.filled < assembly.data.length) return null;
    this.#streams.delete(id);
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const size of assembly.sizes) {
      parts.push(assembly.data.subarray(offset, offset + size));
      offset += size;
    }
    const [message, ...attachments] = parts;
    return this.#decode(message, attachments, true);
  }

  #decode(payload: Uint8Array, attachments: Uint8Array[], chunked: boolean): Received {
    const items = [...new Decoder().decodeMulti(payload)];
    let shapes: Map<number, string[]> | null = null;
    if (items.length === 2 && !Array.isArray(items[0]) && typeof items[0] === "object") {
      const table = items.shift() as Record<string, string[]>;
      shapes = new Map(Object.entries(table).map(([shape, names]) => [Number(shape), names]));
      for (const [shape, names] of shapes) this.shapes.set(shape, names);
    }
    const message = items[0];
    if (items.length !== 1 || !Array.isArray(message)) {
      throw new Error(`raw peer: a body that is not one message: ${Deno.inspect(items)}`);
    }
    this.received.push(message);
    return { message, shapes, attachments, chunked };
  }

  #u32(at: number): number {
    return new DataView(this.#buffer.buffer).getUint32(at);
  }

  /** The next message array, or EOF. */
  async readMessage(timeoutMs = 3000): Promise<unknown[] | typeof EOF> {
    const received = await this.receive(timeoutMs);
    return received === EOF ? EOF : received.message;
  }

  /** The next message array; fails at end of stream. */
  async next(timeoutMs = 3000): Promise<unknown[]> {
    const message = await this.readMessage(timeoutMs);
    assert.ok(message !== EOF, "raw peer: the other end closed");
    return message;
  }

  /** Every message until the peer closes. */
  async readToEnd(timeoutMs = 3000): Promise<unknown[][]> {
    const messages: unknown[][] = [];
    while (true) {
      const message = await this.readMessage(timeoutMs);
      if (message === EOF) return messages;
      messages.push(message);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** The reason in the first CLOSE among `messages`, if there is one. */
export function closeReason(messages: unknown[]): string | undefined {
  const close = messages.find((m) => Array.isArray(m) && m[0] === MSG.CLOSE) as
    | [number, string]
    | undefined;
  return close?.[1];
}

// ---- the hostile-peer harness ----------------------------------------------------------------

class Thing {
  @exposed
  get value(): number {
    return 1;
  }
}

/**
 * The service attacks are made on. Members are exposed with the decorator
 * (not the prefix) so that it also works unchanged under allowAllAttrs.
 */
export class EvilTargetService extends Service {
  @exposed
  echo(value: unknown): unknown {
    return value;
  }
  @exposed
  make(): Thing {
    return new Thing();
  }
  /** Never answers until the call is cancelled or the connection closes. */
  @exposed
  hang(): Promise<string> {
    const { signal } = currentCall();
    return new Promise((resolve) => {
      if (signal.aborted) resolve("aborted");
      signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
  }
}

/** A raw connection that has read the server's HELLO (checked) and sent nothing yet. */
export async function greeted(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  const greeting = await peer.next();
  assert.equal(greeting[0], MSG.HELLO);
  assert.equal(greeting[2], VERSION);
  return peer;
}

/**
 * A raw connection after a proper handshake, checked with a ping (request
 * #4000, whose answer it then FINISHes so that it holds no budget).
 */
export async function handshaken(
  port: number,
  limits: Partial<AnnouncedLimits> = {},
): Promise<RawPeer> {
  const peer = await greeted(port);
  await peer.send(hello("Raw", limits));
  await peer.send(request(4000, OP.PING, 0, [], ["warm-up"]));
  assert.deepEqual(await peer.next(), [MSG.REPLY, 4000, "warm-up"]);
  await peer.send([MSG.FINISH, [4000]]);
  return peer;
}

/** One attack on a fresh server. */
export interface Attack {
  name: string;
  /** What the CLOSE's reason and the server's log line must mention. */
  expect: RegExp;
  serverOptions?: Omit<ServeOptions, "port">;
  /** Made before the handshake: the raw peer has only read the server's HELLO. */
  beforeHandshake?: boolean;
  /** Sends the offending input. */
  run(peer: RawPeer): Promise<void>;
}

/** Checks that an honest client gets right answers, by value and by reference. */
export async function assertWorks(client: Connection, what: string): Promise<void> {
  assert.equal(client.closed, false, `${what} was closed`);
  assert.deepEqual(await client.root.echo({ what, n: [1, 2] }), { what, n: [1, 2] }, what);
  assert.equal(await client.root.make().value, 1, what);
}

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();

/** Fails if anything was added to `Object.prototype`. */
export function assertNoPollution(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeNames);
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined, "Object.prototype was polluted");
  assert.equal(Object.getPrototypeOf(probe), Object.prototype);
}

/** Growth of the resident set over one attack beyond which the server surely allocated what a peer declared. */
const RSS_BOUND = 64 * MiB;

/** The resident set size, after a garbage collection when the tests run with --expose-gc. */
export function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss;
}

/** A server of {@linkcode EvilTargetService} with its log kept, and an honest client of it. */
export async function target(
  serverOptions: Omit<ServeOptions, "port"> = {},
): Promise<{ server: Server; port: number; lines: string[]; before: Connection }> {
  const lines: string[] = [];
  const server = serve(EvilTargetService, {
    ...serverOptions,
    logger: quietLogger(lines),
    port: 0,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const before = await connect("127.0.0.1", port, { logger: quietLogger() });
  await assertWorks(before, "the client connected before");
  return { server, port, lines, before };
}

/**
 * Runs one attack against a fresh server and checks every promise the
 * suites make: the offending connection gets a CLOSE naming the problem and
 * then end of stream, the server logs why, a client connected before and one
 * connected after get right answers, the process's memory stayed in bounds,
 * and nothing polluted `Object.prototype`.
 */
export async function withstand(attack: Attack): Promise<void> {
  const { server, port, lines, before } = await target(attack.serverOptions);
  let peer: RawPeer | undefined;
  try {
    peer = attack.beforeHandshake ? await greeted(port) : await handshaken(port);
    const rssBefore = rss();
    await attack.run(peer);
    const messages = await peer.readToEnd(5000);
    const reason = closeReason(messages);
    assert.ok(reason !== undefined, `no CLOSE before end of stream; got ${Deno.inspect(messages)}`);
    assert.match(reason, attack.expect, `the CLOSE's reason: ${reason}`);
    await waitFor(
      () => lines.some((l) => attack.expect.test(l)),
      3000,
      `a log line matching ${attack.expect}; got ${Deno.inspect(lines)}`,
    );
    await waitFor(() => server.connections.size === 1, 3000, "the raw connection to go");
    const grown = rss() - rssBefore;
    assert.ok(grown < RSS_BOUND, `the resident set grew by ${(grown / MiB).toFixed(1)} MiB`);
    await assertWorks(before, "the client connected before");
    await using after = await connect("127.0.0.1", port, { logger: quietLogger() });
    await assertWorks(after, "the client connected after");
    assertNoPollution();
  } finally {
    peer?.close();
    await before.close();
    await server.close();
  }
}

/** Runs each attack as a step of `t`. */
export async function runAll(t: Deno.TestContext, attacks: Attack[]): Promise<void> {
  for (const attack of attacks) await t.step(attack.name, () => withstand(attack));
}

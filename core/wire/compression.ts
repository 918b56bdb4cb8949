/**
 * Compression of large message bodies, negotiated in the handshake: the
 * offer each end announces in its HELLO, the agreement, and the channel that
 * compresses and decompresses (core/PROTOCOL.md, "Compression").
 *
 * The algorithms themselves come in through the {@linkcode Codec} seam:
 * {@linkcode registerCodecs} (the Deno entry's network layer registers
 * `node:zlib`'s); a build without codecs offers none.
 *
 * Contract: a {@linkcode CompressingChannel} passes every message through as
 * it is until {@linkcode CompressingChannel.agree} ran; from then on it
 * compresses the bodies it sends that are large and compressible (never
 * attachments), and unwraps COMPRESSED messages it receives only if this end
 * offered their algorithm. A decompressed body takes room from the inbound
 * budget like any message, and may not exceed the size it declared (nor
 * `maxMessageSize`): a zip bomb is refused as an oversized message is.
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import type { Budget } from "./budget.ts";
import {
  type ChannelCounters,
  type ChannelLimits,
  joinBlocks,
  type ReadableFrameChannel,
  type ReceivedMessage,
  type Sending,
} from "./channel.ts";
import { ByteReader, ByteWriter, Token } from "./msgpack.ts";

/** A compression algorithm, as the network layer supplies it. */
export interface Codec {
  /** Its name on the wire (`"zstd"`, `"deflate"`). */
  readonly name: string;
  /** Compresses `bytes`. */
  compress(bytes: Uint8Array): Uint8Array;
  /**
   * Decompresses `bytes`, producing at most `size` bytes.
   *
   * @throws when the data is malformed or would decompress to more than `size` bytes.
   */
  decompress(bytes: Uint8Array, size: number): Uint8Array;
}

/**
 * The `compression` connection option: `true` compresses with the best
 * algorithm both ends support, `false` never compresses (in either
 * direction), a name insists on that algorithm (a peer without it is
 * refused). Unset, an end accepts compression and uses it when the peer asks
 * for it.
 */
export type CompressionOption = boolean | string;

/** What an end announces in its HELLO about compression. */
export interface CompressionOffer {
  /** Algorithms it decompresses, best first; empty when it refuses compression. */
  readonly accepts: readonly string[];
  /** Whether it asks for compression (its option is `true` or a name). */
  readonly wanted: boolean;
}

/** The codecs registered so far (by the Deno entry's network layer), best first. */
const registered: Codec[] = [];

/**
 * Makes `codecs` available to the connections started from now on, after
 * those registered before. The Deno entry registers `node:zlib`'s
 * (core/net/codecs.ts); a browser build registers none, and offers no
 * compression.
 */
export function registerCodecs(codecs: readonly Codec[]): void {
  for (const codec of codecs) {
    if (!registered.some((known) => known.name === codec.name)) registered.push(codec);
  }
}

/** The codecs registered, best first. */
export function registeredCodecs(): readonly Codec[] {
  return registered;
}

/** The offer of an end that has no codecs or refuses compression. */
export const NO_COMPRESSION: CompressionOffer = Object.freeze({ accepts: [], wanted: false });

/** Message type of the envelope around a compressed body: `[8, algorithm, size, data]`. */
export const COMPRESSED = 8;

/** Bodies smaller than this are sent as they are. */
export const COMPRESS_MIN = 4096;

/** A compressed body must be at most this fraction of the original to be sent compressed. */
const WORTH_IT = 0.9;

/** Bodies larger than this are first judged on a sample of this size (incompressible data costs little). */
const SAMPLE = 64 * 1024;

/**
 * The offer an end with `codecs` and `option` announces.
 *
 * @throws {RangeError} for an algorithm name this end has no codec for.
 */
export function compressionOffer(
  codecs: readonly Codec[],
  option: CompressionOption | undefined,
): CompressionOffer {
  if (option === false) return NO_COMPRESSION;
  if (typeof option === "string") {
    if (!codecs.some((codec) => codec.name === option)) {
      const known = codecs.map((codec) => `'${codec.name}'`).join(", ") || "none";
      throw new RangeError(`compression '${option}' is not available here (available: ${known})`);
    }
    return { accepts: [option], wanted: true };
  }
  if (codecs.length === 0) return NO_COMPRESSION;
  return { accepts: codecs.map((codec) => codec.name), wanted: option === true };
}

/**
 * Checks the peer's offer against this end's: an end that insisted on an
 * algorithm refuses a peer that does not accept it.
 *
 * @throws {ProtocolError} naming the algorithm and what the peer accepts.
 */
export function checkOffers(mine: CompressionOffer, peer: CompressionOffer): void {
  const insisted = mine.wanted && mine.accepts.length === 1 ? mine.accepts[0] : null;
  if (insisted !== null && !peer.accepts.includes(insisted)) {
    const accepted = peer.accepts.length ? peer.accepts.join(", ") : "no compression";
    throw peerFault(`compression '${insisted}' was required, the peer accepts ${accepted}`);
  }
}

/**
 * The algorithm this end compresses with, given both offers: its own best
 * that the peer accepts, when either end asked for compression and neither
 * refused it; else none.
 */
export function agreedCodec(
  codecs: readonly Codec[],
  mine: CompressionOffer,
  peer: CompressionOffer,
): Codec | null {
  if (!(mine.wanted || peer.wanted) || mine.accepts.length === 0) return null;
  for (const name of mine.accepts) {
    if (peer.accepts.includes(name)) return codecs.find((codec) => codec.name === name) ?? null;
  }
  return null;
}

/** A channel that compresses large bodies once both ends agreed on it. */
export class CompressingChannel implements ReadableFrameChannel {
  readonly #inner: ReadableFrameChannel;
  readonly #codecs: readonly Codec[];
  /** What this end announces. */
  readonly offer: CompressionOffer;
  #sending: Codec | null = null;
  #maxMessage = Infinity;
  /** Room taken for decompressed messages not yet released: given back at close. */
  #room = 0;
  /** Decompressed messages: the message they came in, and the room taken for them. */
  readonly #unwrapped = new WeakMap<ReceivedMessage, { original: ReceivedMessage; room: number }>();

  /**
   * Wraps `inner`, which it owns from now on, announcing `offer`.
   *
   * @throws {RangeError} as {@linkcode compressionOffer}.
   */
  constructor(
    inner: ReadableFrameChannel,
    codecs: readonly Codec[],
    option: CompressionOption | undefined,
  ) {
    this.#inner = inner;
    this.#codecs = codecs;
    this.offer = compressionOffer(codecs, option);
  }

  /** Applies the peer's offer (after {@linkcode checkOffers} accepted it). */
  agree(peer: CompressionOffer): void {
    this.#sending = agreedCodec(this.#codecs, this.offer, peer);
  }

  /** The algorithm this end compresses with, or null. */
  get algorithm(): string | null {
    return this.#sending?.name ?? null;
  }

  send(
    body: Uint8Array | readonly Uint8Array[],
    attachments: readonly Uint8Array[],
  ): Sending | null {
    const codec = this.#sending;
    if (codec === null) return this.#inner.send(body, attachments);
    const size = body instanceof Uint8Array
      ? body.length
      : body.reduce((sum, block) => sum + block.length, 0);
    if (size < COMPRESS_MIN) return this.#inner.send(body, attachments);
    const whole = body instanceof Uint8Array ? body : joinBlocks(body);
    const packed = compressIfWorthIt(codec, whole);
    if (packed === null) return this.#inner.send(body, attachments);
    const w = new ByteWriter(packed.length + 32);
    w.array(4);
    w.number(COMPRESSED);
    w.string(codec.name);
    w.number(whole.length);
    w.bin(packed);
    return this.#inner.send(w.blocks(), attachments);
  }

  async receive(): Promise<ReceivedMessage | null> {
    const message = await this.#inner.receive();
    if (message === null || !isCompressed(message.body)) return message;
    return await this.#unwrap(message);
  }

  release(message: ReceivedMessage): void {
    const unwrapped = this.#unwrapped.get(message);
    if (!unwrapped) return this.#inner.release(message);
    this.#unwrapped.delete(message);
    this.#giveBack(unwrapped.room);
    this.#inner.release(unwrapped.original);
  }

  setLimits(limits: ChannelLimits): void {
    this.#maxMessage = limits.maxMessageSize;
    this.#inner.setLimits(limits);
  }

  get buffered(): number {
    return this.#inner.buffered;
  }

  drained(bytes: number): Promise<void> {
    return this.#inner.drained(bytes);
  }

  flushed(): Promise<void> {
    return this.#inner.flushed();
  }

  get inbound(): Budget {
    return this.#inner.inbound;
  }

  get failure(): Error | null {
    return this.#inner.failure;
  }

  close(): void {
    this.#giveBack(this.#room);
    this.#inner.close();
  }

  get description(): string {
    return this.#inner.description;
  }

  get counters(): ChannelCounters {
    return this.#inner.counters;
  }

  get allocateAttachment(): ((size: number) => Uint8Array) | undefined {
    return this.#inner.allocateAttachment;
  }

  /**
   * Decompresses a COMPRESSED message, after taking room for what it
   * declares. The compressed message stays held until the whole is released.
   */
  async #unwrap(message: ReceivedMessage): Promise<ReceivedMessage> {
    const reader = new ByteReader(message.body);
    reader.next(); // The array of four: isCompressed looked.
    reader.next(); // Its type.
    expectToken(reader, Token.Str, "algorithm");
    const name = reader.string;
    expectToken(reader, Token.Int, "size");
    const size = reader.number;
    expectToken(reader, Token.Bin, "data");
    const bytes = reader.take(reader.count);
    if (reader.remaining !== 0) throw peerFault("malformed COMPRESSED message: bytes after it");
    const codec = this.offer.accepts.includes(name)
      ? this.#codecs.find((c) => c.name === name)
      : undefined;
    if (!codec) {
      throw peerFault(`a message compressed with '${name}', which this end did not offer`);
    }
    const attached = message.attachments.reduce((sum, a) => sum + a.length, 0);
    if (size < 1 || size + attached > this.#maxMessage) {
      throw peerFault(
        `a compressed message declares ${size} bytes (plus ${attached} attached), ` +
          `beyond the largest message this end accepts (${this.#maxMessage})`,
      );
    }
    await this.#takeRoom(size, message.held);
    let body: Uint8Array;
    try {
      body = codec.decompress(bytes, size);
    } catch (error) {
      this.#giveBack(size);
      throw peerFault(
        `a '${name}' message does not decompress to the ${size} bytes it declares: ` +
          (error as Error).message,
      );
    }
    if (body.length !== size) {
      this.#giveBack(size);
      throw peerFault(`a '${name}' message decompresses to ${body.length} bytes, not ${size}`);
    }
    const whole = { body, attachments: message.attachments, held: message.held + size };
    this.#unwrapped.set(whole, { original: message, room: size });
    return whole;
  }

  /**
   * Takes `size` from the inbound budget, waiting for room; past the limit
   * when the message itself (holding `held`) leaves too little that it could
   * ever be had.
   */
  async #takeRoom(size: number, held: number): Promise<void> {
    const inbound = this.#inner.inbound;
    if (inbound.tooSmallFor(size + held)) inbound.force(size);
    else await inbound.take(size);
    this.#room += size;
  }

  #giveBack(size: number): void {
    if (size === 0) return;
    this.#room -= size;
    this.#inner.inbound.give(size);
  }
}

/** Whether `body` is a COMPRESSED envelope: an array of four whose first item is 8. */
function isCompressed(body: Uint8Array): boolean {
  return body.length > 2 && body[0] === 0x94 && body[1] === COMPRESSED;
}

function expectToken(reader: ByteReader, kind: number, what: string): void {
  if (reader.next() !== kind) throw peerFault(`malformed COMPRESSED message: bad ${what}`);
}

/** `whole` compressed with `codec`, or null when that would not save enough. */
function compressIfWorthIt(codec: Codec, whole: Uint8Array): Uint8Array | null {
  if (whole.length > 4 * SAMPLE) {
    const sample = codec.compress(whole.subarray(0, SAMPLE));
    if (sample.length > SAMPLE * WORTH_IT) return null;
  }
  const packed = codec.compress(whole);
  return packed.length > whole.length * WORTH_IT ? null : packed;
}

/**
 * Frames, chunks and streams as the fuzzer handles them (core/PROTOCOL.md,
 * "Frames"): a {@linkcode Frame} may carry a header that lies, a
 * {@linkcode FrameSplitter} cuts a byte stream into frames, and chunk frames
 * are read, written and put back together into the messages they carry.
 *
 * @module
 */

import { CHUNK_BIT, concat, FLAG } from "../_raw_peer.ts";
import { FRAME_LIMIT } from "./limits.ts";

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

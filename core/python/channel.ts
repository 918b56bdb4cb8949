/**
 * RPyC's channel: the framing of Python RPyC (5.x and 6.x alike) over any
 * byte {@linkcode Transport}.
 *
 * ```
 * frame := length:uint32-BE | compressed:uint8 | payload (length bytes) | 0x0a
 * ```
 *
 * A payload larger than 3 000 bytes is sent zlib-compressed (level 1), as
 * Python's `Channel` does; either form is accepted. Every frame goes out in
 * one write.
 *
 * @module
 */

import { deflateSync, inflateSync } from "node:zlib";
import type { Budget } from "../wire/budget.ts";
import type { Transport } from "../wire/transport.ts";
import { peerFault } from "../errors.ts";

/** Payloads above this many bytes are compressed (Python's `COMPRESSION_THRESHOLD`). */
export const COMPRESSION_THRESHOLD = 3000;
const HEADER_SIZE = 5;
const FLUSHER = 0x0a;
const READ_CHUNK = 64 * 1024;

/** What the channel refuses; see {@linkcode PyChannel}. */
export interface PyChannelLimits {
  /** Largest payload accepted, before and after decompression, in bytes. */
  maxFrameSize: number;
  /** Bytes held for frames being read, shared with a server's budget when given. */
  inbound: Budget;
}

/** Counters of one channel. */
export interface PyChannelCounters {
  /** Frames written. */
  framesSent: number;
  /** Frames read. */
  framesReceived: number;
  /** Bytes written, headers included. */
  bytesSent: number;
  /** Bytes read, headers included. */
  bytesReceived: number;
  /** Frames written compressed. */
  compressedSent: number;
  /** Frames read compressed. */
  compressedReceived: number;
}

/**
 * Frames over one transport, which it owns.
 *
 * Contract: `receive` is called by one reader at a time; `send` may be called
 * at any time (writes are queued, one frame per write, in call order).
 * `receive` resolves with null at a clean end of stream and throws a
 * `ProtocolError` for a frame that breaks the rules (too large, a bad
 * trailer, bad zlib, a zlib bomb); the caller then closes the connection.
 */
export class PyChannel {
  /** The byte stream it owns. */
  readonly transport: Transport;
  /** Frames and bytes each way. */
  readonly counters: PyChannelCounters = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    compressedSent: 0,
    compressedReceived: 0,
  };
  #limits: PyChannelLimits;
  #buffer = new Uint8Array(READ_CHUNK);
  #start = 0;
  #end = 0;
  #writing: Promise<void> = Promise.resolve();

  /** A channel over `transport`, enforcing `limits` on what it reads. */
  constructor(transport: Transport, limits: PyChannelLimits) {
    this.transport = transport;
    this.#limits = limits;
  }

  /** Reads the next frame's payload, decompressed; null at end of stream. */
  async receive(): Promise<Uint8Array | null> {
    if (!await this.#fill(HEADER_SIZE)) {
      if (this.#end > this.#start) throw peerFault("rpyc: the stream ended inside a frame header");
      return null;
    }
    const view = new DataView(this.#buffer.buffer, this.#start, HEADER_SIZE);
    const length = view.getUint32(0);
    const compressed = view.getUint8(4);
    const max = this.#limits.maxFrameSize;
    if (length > max) throw peerFault(`rpyc: a frame of ${length} bytes exceeds ${max}`);
    if (compressed > 1) throw peerFault(`rpyc: bad compression flag ${compressed}`);
    const total = HEADER_SIZE + length + 1;
    const budget = this.#limits.inbound;
    const waited = budget.take(total);
    if (waited) await waited;
    try {
      if (!await this.#fill(total)) throw peerFault("rpyc: the stream ended inside a frame");
      const frame = this.#buffer.subarray(this.#start, this.#start + total);
      if (frame[total - 1] !== FLUSHER) throw peerFault("rpyc: a frame without its 0x0a trailer");
      const raw = frame.slice(HEADER_SIZE, total - 1);
      this.#start += total;
      this.counters.framesReceived++;
      this.counters.bytesReceived += total;
      if (!compressed) return raw;
      this.counters.compressedReceived++;
      return inflate(raw, max);
    } finally {
      budget.give(total);
    }
  }

  /** Sends one frame; resolves once written. Rejects if the transport fails. */
  send(payload: Uint8Array): Promise<void> {
    let body = payload;
    let compressed = 0;
    if (payload.length > COMPRESSION_THRESHOLD) {
      body = deflateSync(payload, { level: 1 });
      compressed = 1;
      this.counters.compressedSent++;
    }
    const frame = new Uint8Array(HEADER_SIZE + body.length + 1);
    const view = new DataView(frame.buffer);
    view.setUint32(0, body.length);
    view.setUint8(4, compressed);
    frame.set(body, HEADER_SIZE);
    frame[frame.length - 1] = FLUSHER;
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    const write = this.#writing.then(() => this.transport.write(frame));
    this.#writing = write.catch(() => {});
    return write;
  }

  /** Closes the transport. Idempotent. */
  close(): void {
    this.transport.close();
  }

  /** Buffers until `count` bytes are available; false if the stream ends first. */
  async #fill(count: number): Promise<boolean> {
    while (this.#end - this.#start < count) {
      if (this.#buffer.length - this.#start < count) this.#compact(count);
      const n = await this.transport.read(this.#buffer.subarray(this.#end));
      if (n === null) return false;
      this.#end += n;
    }
    return true;
  }

  /** Moves held bytes to the front, into a buffer of at least `count` bytes (shrunk back after a large frame). */
  #compact(count: number): void {
    const size = Math.max(READ_CHUNK, count);
    const held = this.#buffer.subarray(this.#start, this.#end);
    if (size > this.#buffer.length || size < this.#buffer.length) {
      const next = new Uint8Array(size);
      next.set(held);
      this.#buffer = next;
    } else {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    }
    this.#end -= this.#start;
    this.#start = 0;
  }
}

/**
 * Inflates a zlib payload, refusing output beyond `max` bytes (a zlib bomb)
 * and corrupt data, each as a `ProtocolError`.
 */
function inflate(data: Uint8Array, max: number): Uint8Array {
  try {
    return new Uint8Array(inflateSync(data, { maxOutputLength: max }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_BUFFER_TOO_LARGE") {
      throw peerFault(`rpyc: a compressed frame inflates beyond ${max} bytes`);
    }
    throw peerFault(`rpyc: bad zlib data in a compressed frame (${(error as Error).message})`);
  }
}

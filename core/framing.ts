/**
 * Framing: length-prefixed frames over a {@linkcode Transport}.
 *
 * A frame is a 4-byte big-endian header followed by a payload: one
 * MessagePack message, or an attachment (raw bytes that belong to the next
 * message). The header's top bit marks an attachment; the other 31 bits are
 * the payload's length. Frames queued while a write is in flight leave
 * together in the next write; a large payload leaves in a write of its own.
 *
 * @module
 */

import { peerFault } from "./errors.ts";
import type { Transport } from "./transport.ts";

/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 4;

/** The header bit that marks an attachment frame. */
const ATTACHMENT_BIT = 0x80000000;

const ARENA_SIZE = 64 * 1024;

/**
 * Reads frames from a transport.
 *
 * Each returned payload is a view that nobody else writes to: small frames are
 * carved out of a 64 KiB arena that is never reused, large frames get a buffer
 * of their own. So decoded byte strings may alias the payload safely.
 */
export class FrameReader {
  #transport: Transport;
  #maxFrameSize: number;
  #arena = new Uint8Array(ARENA_SIZE);
  #start = 0;
  #end = 0;
  /** Payload bytes received so far, headers included. */
  bytesReceived = 0;
  /** Whether the frame {@linkcode FrameReader.next} returned last is an attachment. */
  attachment = false;

  /** Reads from `transport`; a frame longer than `maxFrameSize` is a `ProtocolError`. */
  constructor(transport: Transport, maxFrameSize: number) {
    this.#transport = transport;
    this.#maxFrameSize = maxFrameSize;
  }

  /**
   * Resolves with the next payload, or null on a clean end of stream (between
   * frames). Throws `ProtocolError` on an oversize length or a stream
   * that ends inside a frame.
   */
  async next(): Promise<Uint8Array | null> {
    if (!(await this.#fill(FRAME_HEADER_SIZE, true))) return null;
    const a = this.#arena, s = this.#start;
    const header = ((a[s] << 24) | (a[s + 1] << 16) | (a[s + 2] << 8) | a[s + 3]) >>> 0;
    this.attachment = header >= ATTACHMENT_BIT;
    const length = header & ~ATTACHMENT_BIT;
    if (length > this.#maxFrameSize) {
      throw peerFault(
        `${this.attachment ? "attachment " : ""}frame of ${length} bytes exceeds the limit of ` +
          `${this.#maxFrameSize} bytes`,
      );
    }
    this.#start += FRAME_HEADER_SIZE;
    if (length > ARENA_SIZE / 2) return await this.#readLarge(length);
    await this.#fill(length, false);
    const payload = this.#arena.subarray(this.#start, this.#start + length);
    this.#start += length;
    return payload;
  }

  /** Makes `count` bytes available at `#start`; false only on a clean end before any byte. */
  async #fill(count: number, atBoundary: boolean): Promise<boolean> {
    if (this.#end - this.#start >= count) return true;
    if (this.#start + count > this.#arena.length) {
      // Start a fresh arena: earlier payloads keep the old one alive and unchanged.
      const fresh = new Uint8Array(ARENA_SIZE);
      fresh.set(this.#arena.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#arena = fresh;
    }
    while (this.#end - this.#start < count) {
      const n = await this.#transport.read(this.#arena.subarray(this.#end));
      if (n === null) {
        if (atBoundary && this.#end === this.#start) return false;
        throw peerFault(
          `stream ended inside a frame (${this.#end - this.#start} of ${count} bytes)`,
        );
      }
      this.#end += n;
      this.bytesReceived += n;
    }
    return true;
  }

  async #readLarge(length: number): Promise<Uint8Array> {
    const payload = new Uint8Array(length);
    const buffered = Math.min(length, this.#end - this.#start);
    payload.set(this.#arena.subarray(this.#start, this.#start + buffered));
    this.#start += buffered;
    let filled = buffered;
    while (filled < length) {
      const n = await this.#transport.read(payload.subarray(filled));
      if (n === null) {
        throw peerFault(`stream ended inside a frame (${filled} of ${length} bytes)`);
      }
      filled += n;
      this.bytesReceived += n;
    }
    return payload;
  }
}

/**
 * Writes frames to a transport, coalescing those queued while a write is in
 * flight. Owned by one connection; `send` never throws (a failed write is
 * reported once through `onError`).
 */
export class FrameWriter {
  #transport: Transport;
  #queue: Uint8Array[] = [];
  #writing = false;
  #failed = false;
  #onError: (error: unknown) => void;
  #idle: PromiseWithResolvers<void> | null = null;
  /** Bytes handed to the transport so far, headers included. */
  bytesSent = 0;

  /** Writes to `transport`; `onError` hears about the first failed write. */
  constructor(transport: Transport, onError: (error: unknown) => void) {
    this.#transport = transport;
    this.#onError = onError;
  }

  /** Queues one frame (header included, see {@linkcode frame}). */
  send(frame: Uint8Array): void {
    if (this.#failed) return;
    this.#queue.push(frame);
    if (!this.#writing) this.#pump();
  }

  /**
   * Queues `bytes` as an attachment frame. The bytes are written as they are
   * (not copied), so they must not change until written.
   */
  sendAttachment(bytes: Uint8Array): void {
    if (this.#failed) return;
    this.#queue.push(header(bytes.length, ATTACHMENT_BIT), bytes);
    if (!this.#writing) this.#pump();
  }

  /** Resolves once everything queued so far has been written (or writing failed). */
  flushed(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#idle ??= Promise.withResolvers();
    return this.#idle.promise;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#takeChunk();
        this.bytesSent += chunk.length;
        await this.#transport.write(chunk);
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
      this.#onError(error);
    } finally {
      this.#writing = false;
      this.#idle?.resolve();
      this.#idle = null;
    }
  }

  /** One frame as is, or several small ones joined so they leave in one write. */
  #takeChunk(): Uint8Array {
    const queue = this.#queue;
    // Join the small frames at the head, up to 256 KiB; a large frame goes alone.
    let count = 0, size = 0;
    while (
      count < queue.length && queue[count].length < ARENA_SIZE &&
      size + queue[count].length <= 4 * ARENA_SIZE
    ) {
      size += queue[count++].length;
    }
    if (count <= 1) return queue.shift()!;
    const joined = new Uint8Array(size);
    let offset = 0;
    for (const part of queue.splice(0, count)) {
      joined.set(part, offset);
      offset += part.length;
    }
    return joined;
  }
}

/** Prefixes `payload` with its length, in one new buffer. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = header(payload.length, 0, FRAME_HEADER_SIZE + payload.length);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** A buffer of `size` bytes (default: just the header) starting with the header for `length`. */
function header(length: number, bits: number, size = FRAME_HEADER_SIZE): Uint8Array {
  const out = new Uint8Array(size);
  const n = (length | bits) >>> 0;
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  return out;
}

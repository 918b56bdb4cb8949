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

import { peerFault } from "../errors.ts";
import type { Transport } from "./transport.ts";

/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 4;

/** The header bit that marks an attachment frame. */
const ATTACHMENT_BIT = 0x80000000;

const ARENA_SIZE = 64 * 1024;
/** The size of a write batch: frames that fit are joined, larger ones go alone. */
const BATCH_SIZE = 256 * 1024;

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
 * Writes frames to a transport. Small frames are copied into a batch buffer
 * as they come and leave together in the next write; a large frame, or an
 * attachment's body, leaves in a write of its own. Order is kept throughout.
 * Owned by one connection; nothing here throws (a failed write is reported
 * once through `onError`, and later frames are dropped).
 */
export class FrameWriter {
  #transport: Transport;
  /** Sealed chunks waiting for their write, in order. */
  #queue: Uint8Array[] = [];
  /** The open batch: frames copied in since the last seal. */
  #batch: Uint8Array<ArrayBuffer> = new Uint8Array(BATCH_SIZE);
  #batchLength = 0;
  /** A batch buffer whose write finished, ready to be the next open batch. */
  #spare: Uint8Array<ArrayBuffer> | null = null;
  #writing = false;
  #failed = false;
  #onError: (error: unknown) => void;
  #idle: PromiseWithResolvers<void> | null = null;
  /** Queued attachment copies, which go back to the pool once written. */
  #lent = new Set<Uint8Array>();
  /** Bytes handed to the transport so far, headers included. */
  bytesSent = 0;

  /** Writes to `transport`; `onError` hears about the first failed write. */
  constructor(transport: Transport, onError: (error: unknown) => void) {
    this.#transport = transport;
    this.#onError = onError;
  }

  /**
   * Queues one message frame. `payload` is copied before this returns, so it
   * may be a view into a buffer the caller reuses (the encoder's).
   */
  send(payload: Uint8Array): void {
    if (this.#failed) return;
    const size = FRAME_HEADER_SIZE + payload.length;
    if (size > BATCH_SIZE) {
      this.#seal();
      const own = header(payload.length, 0, size);
      own.set(payload, FRAME_HEADER_SIZE);
      this.#queue.push(own);
    } else {
      if (this.#batchLength + size > this.#batch.length) this.#seal();
      writeHeader(this.#batch, this.#batchLength, payload.length, 0);
      this.#batch.set(payload, this.#batchLength + FRAME_HEADER_SIZE);
      this.#batchLength += size;
    }
    if (!this.#writing) this.#pump();
  }

  /**
   * Queues `bytes` as an attachment frame. They are copied now (into a buffer
   * reused once written), so later changes to `bytes` are not sent.
   */
  sendAttachment(bytes: Uint8Array): void {
    if (this.#failed) return;
    if (this.#batchLength + FRAME_HEADER_SIZE > this.#batch.length) this.#seal();
    writeHeader(this.#batch, this.#batchLength, bytes.length, ATTACHMENT_BIT);
    this.#batchLength += FRAME_HEADER_SIZE;
    this.#seal();
    const copy = attachmentBuffers.take(bytes.length);
    copy.set(bytes);
    this.#lent.add(copy);
    this.#queue.push(copy);
    if (!this.#writing) this.#pump();
  }

  /** Resolves once everything queued so far has been written (or writing failed). */
  flushed(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#idle ??= Promise.withResolvers();
    return this.#idle.promise;
  }

  /** Moves the open batch to the queue and opens a fresh one. */
  #seal(): void {
    if (this.#batchLength === 0) return;
    this.#queue.push(this.#batch.subarray(0, this.#batchLength));
    this.#batch = this.#spare ?? new Uint8Array(BATCH_SIZE);
    this.#spare = null;
    this.#batchLength = 0;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      // Let frames queued in this same tick join the first write.
      await Promise.resolve();
      while (true) {
        if (this.#queue.length === 0) this.#seal();
        const chunk = this.#queue.shift();
        if (!chunk) break;
        this.bytesSent += chunk.length;
        await this.#transport.write(chunk);
        if (this.#lent.delete(chunk)) attachmentBuffers.give(chunk);
        else if (chunk.buffer.byteLength === BATCH_SIZE) {
          this.#spare = new Uint8Array(chunk.buffer as ArrayBuffer);
        }
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
      this.#batchLength = 0;
      this.#lent.clear();
      this.#onError(error);
    } finally {
      this.#writing = false;
      this.#idle?.resolve();
      this.#idle = null;
    }
  }
}

/**
 * Buffers for attachment copies, shared by every connection of the process:
 * reusing them spares each large send a fresh allocation (and the page faults
 * of touching it). At most {@linkcode BufferPool.MAX_KEPT} bytes are kept idle.
 */
class BufferPool {
  static readonly MAX_KEPT = 64 * 1024 * 1024;
  #idle = new Map<number, ArrayBuffer[]>();
  #kept = 0;

  /** A view of `size` bytes on a buffer of the next power-of-two capacity. */
  take(size: number): Uint8Array {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(size, 1)));
    const buffer = this.#idle.get(capacity)?.pop();
    if (!buffer) return new Uint8Array(new ArrayBuffer(capacity), 0, size);
    this.#kept -= capacity;
    return new Uint8Array(buffer, 0, size);
  }

  /** Takes back a view from {@linkcode BufferPool.take}, once nothing reads it. */
  give(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    if (this.#kept + buffer.byteLength > BufferPool.MAX_KEPT) return;
    this.#kept += buffer.byteLength;
    const idle = this.#idle.get(buffer.byteLength);
    if (idle) idle.push(buffer);
    else this.#idle.set(buffer.byteLength, [buffer]);
  }
}

const attachmentBuffers = new BufferPool();

/** A new buffer holding `payload` behind its frame header, for a frame sent outside a session. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = header(payload.length, 0, FRAME_HEADER_SIZE + payload.length);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** A buffer of `size` bytes (default: just the header) starting with the header for `length`. */
function header(length: number, bits: number, size = FRAME_HEADER_SIZE): Uint8Array {
  const out = new Uint8Array(size);
  writeHeader(out, 0, length, bits);
  return out;
}

/** Writes the header for a payload of `length` bytes (with `bits` set) at `at`. */
function writeHeader(into: Uint8Array, at: number, length: number, bits: number): void {
  const n = (length | bits) >>> 0;
  into[at] = n >>> 24;
  into[at + 1] = (n >>> 16) & 0xff;
  into[at + 2] = (n >>> 8) & 0xff;
  into[at + 3] = n & 0xff;
}

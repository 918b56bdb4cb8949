/**
 * Records: what travels through a {@linkcode SharedPipe} between the main
 * thread and the I/O worker. Each is a 16-byte header — kind and three
 * 32-bit fields, big-endian — and a payload:
 *
 * | kind      | way           | fields                                   | payload                         |
 * | --------- | ------------- | ---------------------------------------- | ------------------------------- |
 * | `Message` | both          | body size, attachment count, 0           | one u32 size per attachment, the body, the attachments |
 * | `Opened`  | worker → main | text size, 0, 0                          | the channel's description       |
 * | `Ended`   | worker → main | text size, how (an {@linkcode EndCode}), 0 | why, as text                  |
 * | `Limits`  | main → worker | peer frame size, max frame, max message  | none                            |
 * | `Close`   | main → worker | 0, 0, 0                                  | none                            |
 *
 * Both ends are this library: the sizes were checked against the budgets
 * where the bytes came from the network (in the worker), so they are
 * trusted here.
 *
 * @module
 */

import type { SharedPipe } from "./pipe.ts";

/** A record's kind. */
export const Rec = { Message: 1, Opened: 2, Ended: 3, Limits: 4, Close: 5 } as const;
/** One of {@linkcode Rec}. */
export type RecKind = typeof Rec[keyof typeof Rec];

/** How a channel ended, in an `Ended` record. */
export const End = {
  /** The peer closed the stream cleanly. */
  Clean: 0,
  /** The transport failed or was closed (a `ConnectionClosedError`). */
  Closed: 1,
  /** The peer broke the framing (a `ProtocolError`). */
  PeerFault: 2,
  /** Opening failed (connect, TLS, token): the text is the error. */
  OpenFailed: 3,
} as const;
/** One of {@linkcode End}. */
export type EndCode = typeof End[keyof typeof End];

/** A record as read. */
export type PipeRecord =
  | { kind: typeof Rec.Message; body: Uint8Array; attachments: Uint8Array[] }
  | { kind: typeof Rec.Opened; text: string }
  | { kind: typeof Rec.Ended; how: EndCode; text: string }
  | { kind: typeof Rec.Limits; peerFrameSize: number; maxFrameSize: number; maxMessageSize: number }
  | { kind: typeof Rec.Close };

const HEADER = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes of `record`, in pieces to write one after another. */
export function recordPieces(record: PipeRecord): Uint8Array[] {
  switch (record.kind) {
    case Rec.Message: {
      const { body, attachments } = record;
      const head = new Uint8Array(HEADER + 4 * attachments.length);
      const view = new DataView(head.buffer);
      writeHead(view, record.kind, body.length, attachments.length, 0);
      attachments.forEach((a, i) => view.setUint32(HEADER + 4 * i, a.length));
      return [head, body, ...attachments];
    }
    case Rec.Opened:
    case Rec.Ended: {
      const text = encoder.encode(record.text);
      const head = new Uint8Array(HEADER + text.length);
      const how = record.kind === Rec.Ended ? record.how : 0;
      writeHead(new DataView(head.buffer), record.kind, text.length, how, 0);
      head.set(text, HEADER);
      return [head];
    }
    case Rec.Limits: {
      const head = new Uint8Array(HEADER);
      const { peerFrameSize, maxFrameSize, maxMessageSize } = record;
      writeHead(
        new DataView(head.buffer),
        record.kind,
        peerFrameSize,
        maxFrameSize,
        maxMessageSize,
      );
      return [head];
    }
    case Rec.Close: {
      const head = new Uint8Array(HEADER);
      writeHead(new DataView(head.buffer), record.kind, 0, 0, 0);
      return [head];
    }
    default:
      record satisfies never;
      throw new TypeError("unknown record");
  }
}

/**
 * A message's header and body in one piece when the body is small: one copy
 * into the pipe instead of two, for the common call.
 */
export function messagePieces(body: Uint8Array, attachments: readonly Uint8Array[]): Uint8Array[] {
  if (attachments.length > 0 || body.length > 4096) {
    return recordPieces({ kind: Rec.Message, body, attachments: [...attachments] });
  }
  const out = new Uint8Array(HEADER + body.length);
  writeHead(new DataView(out.buffer), Rec.Message, body.length, 0, 0);
  out.set(body, HEADER);
  return [out];
}

function writeHead(view: DataView, kind: RecKind, a: number, b: number, c: number): void {
  view.setUint32(0, kind);
  view.setUint32(4, a);
  view.setUint32(8, b);
  view.setUint32(12, c);
}

/**
 * Reads records from a pipe as their bytes arrive, keeping what came of a
 * record until the rest does.
 *
 * Contract: one reader per pipe, on the pipe's reading thread. `poll`
 * never blocks.
 */
export class RecordReader {
  readonly #pipe: SharedPipe;
  readonly #head = new Uint8Array(HEADER);
  readonly #view = new DataView(this.#head.buffer);
  #headFilled = 0;
  /** The message being read: its buffers, and where in them the next byte goes. */
  #parts: Uint8Array[] | null = null;
  #sizes: Uint8Array | null = null;
  #part = 0;
  #offset = 0;

  /** Reads `pipe`. */
  constructor(pipe: SharedPipe) {
    this.#pipe = pipe;
  }

  /** The next whole record, or null when it has not all arrived yet. */
  poll(): PipeRecord | null {
    const pipe = this.#pipe;
    if (this.#headFilled < HEADER) {
      this.#headFilled += pipe.read(this.#head.subarray(this.#headFilled));
      if (this.#headFilled < HEADER) return null;
    }
    const view = this.#view;
    const kind = view.getUint32(0) as RecKind;
    const a = view.getUint32(4), b = view.getUint32(8), c = view.getUint32(12);
    switch (kind) {
      case Rec.Message:
        return this.#message(a, b);
      case Rec.Opened:
      case Rec.Ended: {
        if (!this.#fill(a, 0)) return null;
        const text = decoder.decode(this.#parts![0]);
        this.#reset();
        return kind === Rec.Opened ? { kind, text } : { kind, how: b as EndCode, text };
      }
      case Rec.Limits:
        this.#reset();
        return { kind, peerFrameSize: a, maxFrameSize: b, maxMessageSize: c };
      case Rec.Close:
        this.#reset();
        return { kind };
      default:
        kind satisfies never;
        throw new Error(`unknown record kind ${kind} in a pipe`);
    }
  }

  #message(bodySize: number, count: number): PipeRecord | null {
    if (count > 0 && !this.#parts) {
      // The attachments' sizes first: they shape the buffers.
      this.#sizes ??= new Uint8Array(4 * count);
      this.#offset += this.#pipe.read(this.#sizes.subarray(this.#offset));
      if (this.#offset < this.#sizes.length) return null;
      const view = new DataView(this.#sizes.buffer);
      const parts = [new Uint8Array(bodySize)];
      for (let i = 0; i < count; i++) parts.push(new Uint8Array(view.getUint32(4 * i)));
      this.#parts = parts;
      this.#offset = 0;
    }
    if (!this.#fill(bodySize, count)) return null;
    const [body, ...attachments] = this.#parts!;
    this.#reset();
    return { kind: Rec.Message, body, attachments };
  }

  /** Reads into the record's buffers (one of `size` bytes when there are none yet); true when full. */
  #fill(size: number, count: number): boolean {
    if (!this.#parts) {
      if (count === 0 && size <= this.#pipe.readable) {
        // The common case: all of it is here already.
        const whole = new Uint8Array(size);
        this.#pipe.read(whole);
        this.#parts = [whole];
        return true;
      }
      this.#parts = [new Uint8Array(size)];
    }
    const parts = this.#parts;
    while (this.#part < parts.length) {
      const target = parts[this.#part];
      if (this.#offset < target.length) {
        const n = this.#pipe.read(target.subarray(this.#offset));
        this.#offset += n;
        if (this.#offset < target.length) return false;
      }
      this.#part++;
      this.#offset = 0;
    }
    return true;
  }

  #reset(): void {
    this.#headFilled = 0;
    this.#parts = null;
    this.#sizes = null;
    this.#part = 0;
    this.#offset = 0;
  }
}

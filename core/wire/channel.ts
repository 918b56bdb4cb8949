/**
 * The message-level seam under a session: a {@linkcode FrameChannel} carries
 * whole encoded messages, with the byte arrays they carry beside them, and
 * tells its session how much it holds. A byte stream gets framing and
 * chunking (`framing.ts`); carriers that already deliver messages carry them
 * as they are. Nothing above this seam knows which.
 *
 * @module
 */

import type { Budget } from "./budget.ts";

/** A message as it arrives: its encoding, and the byte arrays it refers to (ext 10). */
export interface ReceivedMessage {
  /** The MessagePack encoding: an optional shape table, then the message array. */
  readonly body: Uint8Array;
  /** The message's attachments, in order; nobody else holds them. */
  readonly attachments: Uint8Array[];
  /** Bytes taken from the inbound budget for it, given back by `channel.release`. */
  readonly held: number;
}

/**
 * A message handed to {@linkcode FrameChannel.send} that is still on its way
 * (it travels in chunks).
 */
export interface Sending {
  /**
   * Resolves once the message's last byte is in line: whatever is sent from
   * then on arrives after it. Never rejects; if the channel fails or the
   * message is aborted first, it never resolves.
   */
  readonly placed: Promise<void>;
  /**
   * Stops sending the message if it is not complete yet; the peer drops
   * what arrived of it. Returns whether it was stopped in time (false: it is
   * complete, or the channel closed). Idempotent.
   */
  abort(): boolean;
}

/**
 * What the session tells its channel once the peer's HELLO has arrived: the
 * peer's own frame limit (to chunk under) and this end's limits for frames
 * and messages from now on.
 */
export interface ChannelLimits {
  /** The largest frame the peer accepts. */
  peerFrameSize: number;
  /** The largest frame this end accepts. */
  maxFrameSize: number;
  /** The largest message this end accepts. */
  maxMessageSize: number;
}

/**
 * Carries one connection's messages.
 *
 * Contract: owned by one session. `send` never throws; it copies what it
 * needs of `body` before returning unless it returns a {@linkcode Sending},
 * in which case `body` and `attachments` are read until `placed` resolves (or
 * the send is aborted) and must not change meanwhile. Messages arrive in the
 * order they complete: a small message overtakes a large one still in
 * transit, never the other way round. `close` is idempotent.
 */
export interface FrameChannel {
  /**
   * Queues one message. Returns null when it is already in line (small
   * messages), or a {@linkcode Sending} for one that travels in chunks.
   */
  send(
    body: Uint8Array | readonly Uint8Array[],
    attachments: readonly Uint8Array[],
  ): Sending | null;
  /**
   * Gives back what a received message held (its inbound budget, and its
   * body's buffer), once it has been decoded: nothing may read `body` after.
   * Messages not yet released when the channel closes are released then.
   */
  release(message: ReceivedMessage): void;
  /** Applies the limits agreed in the handshake (see {@linkcode ChannelLimits}). */
  setLimits(limits: ChannelLimits): void;
  /** Bytes queued and not yet handed to the carrier. */
  readonly buffered: number;
  /** Resolves once `buffered` is at most `bytes` (at once if it is), or the channel failed. */
  drained(bytes: number): Promise<void>;
  /** Resolves once everything queued has been handed to the carrier (or the channel failed). */
  flushed(): Promise<void>;
  /** The budget partial messages are held against. */
  readonly inbound: Budget;
  /**
   * Why this end broke the channel (a write failed, or made no progress for
   * `drainTimeout`), once it has; null otherwise. `receive` then rejects with it.
   */
  readonly failure: Error | null;
  /** Closes the carrier. Idempotent. */
  close(): void;
  /** What the channel is connected to (`tcp 127.0.0.1:18812`), for logs and errors. */
  readonly description: string;
  /** Frames (or carrier messages) and bytes each way, for statistics. */
  readonly counters: ChannelCounters;
  /**
   * Where boxing copies a message's large byte arrays (its attachments), if
   * the channel wants them somewhere of its own: a carrier that transfers
   * them (`postMessage`) wants fresh buffers of exactly their size. Absent:
   * they come from the shared pool, and the channel gives them back once
   * written. Either way the channel owns them once `send` has them.
   */
  readonly allocateAttachment?: (size: number) => Uint8Array;
}

/**
 * A {@linkcode FrameChannel} its session reads itself: every carrier but the
 * synchronous mode's, whose driver reads the messages and hands them to the
 * session (the main thread may be blocked, so nothing may wait on a promise).
 *
 * Contract: as {@linkcode FrameChannel}; `receive` is never called again
 * before its previous promise settles. Once `close` ran, a pending or later
 * `receive` rejects with `failure`, or with `ConnectionClosedError` when
 * nothing failed.
 */
export interface ReadableFrameChannel extends FrameChannel {
  /**
   * The next whole message, or null when the peer ended the stream cleanly.
   *
   * @throws {ProtocolError} (a peer fault) for malformed framing or a breached frame or
   *   message limit; `ConnectionClosedError` or the carrier's error when it fails.
   */
  receive(): Promise<ReceivedMessage | null>;
}

/** What crossed a channel so far. */
export interface ChannelCounters {
  /** Frames written. */
  framesSent: number;
  /** Frames read. */
  framesReceived: number;
  /** Bytes written, frame headers included. */
  bytesSent: number;
  /** Bytes read, frame headers included. */
  bytesReceived: number;
}

/** Blocks of a message (a body written in pieces) in one new buffer of exactly their size. */
export function joinBlocks(blocks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const block of blocks) size += block.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const block of blocks) {
    out.set(block, at);
    at += block.length;
  }
  return out;
}

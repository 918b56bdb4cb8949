/**
 * A {@linkcode ReadableFrameChannel} over a carrier that already delivers
 * whole messages by structured clone (a `MessagePort`, a `Worker`, a
 * worker's global scope): no framing. One rdc message is one posted message:
 * its body alone, or `[body, ...attachments]`; `null` says that the sender
 * closed its end.
 * core/PROTOCOL.md, "Messages (message carriers)", has the format.
 *
 * Large byte arrays are transferred, not copied: the attachments (boxing
 * copied them into fresh buffers of their own, see `allocateAttachment`) and
 * the channel's own copy of a large body (the session reuses its writer's
 * buffers, so the body is always copied once, into a buffer of exactly its
 * size). Nothing the caller keeps is ever transferred.
 *
 * A carrier cannot slow its sender down, so every message received is
 * counted against the inbound budget from its arrival until the session
 * releases it, and a peer that sends beyond the budget is disconnected.
 *
 * @module
 */

import { ConnectionClosedError, isPeerFault, peerFault } from "../errors.ts";
import { MAX_ATTACHMENTS } from "./boxing.ts";
import type { Budget } from "./budget.ts";
import { attachmentBuffers } from "./buffer_pool.ts";
import {
  type ChannelCounters,
  type ChannelLimits,
  joinBlocks,
  type ReadableFrameChannel,
  type ReceivedMessage,
} from "./channel.ts";
import { HANDSHAKE_FRAME_SIZE } from "./limits.ts";

/**
 * What a message carrier must offer: `MessagePort`, `Worker` and a worker's
 * `globalThis` all do.
 */
export interface MessageEndpoint {
  /** Posts `message` (structured clone), moving the buffers in `transfer` instead of copying them. */
  postMessage(message: unknown, transfer?: Transferable[]): void;
  /** Listens for `message` (and `messageerror`, a message that could not be deserialized). */
  addEventListener(type: "message" | "messageerror", listener: (event: MessageEvent) => void): void;
  /** Stops listening. */
  removeEventListener(
    type: "message" | "messageerror",
    listener: (event: MessageEvent) => void,
  ): void;
  /** Starts delivery (a `MessagePort` listened to with `addEventListener` needs it). */
  start?(): void;
}

/** Options of {@linkcode PostMessageChannel}. */
export interface PostMessageChannelOptions {
  /** The budget messages are held against from their arrival until released. */
  inbound: Budget;
  /** What the carrier leads to (`worker`, `message port`), for logs and errors. */
  description: string;
  /**
   * Runs once when the channel closes, after its end marker went out and it
   * stopped listening: closes the port, terminates the worker, … Must not throw.
   */
  onClose?: () => void;
}

/** Bodies at least this large are transferred; smaller ones are cloned (cheaper for them). */
const TRANSFER_MIN = 64 * 1024;

/**
 * The {@linkcode ReadableFrameChannel} of a message carrier.
 *
 * Contract: as {@linkcode ReadableFrameChannel}. Nothing is ever buffered
 * (the carrier takes each message at once), so `buffered` is 0 and `drained`
 * and `flushed` resolve at once. A message that is not of the expected shape
 * or does not fit the inbound budget (checked as it arrives), or that
 * breaches a limit (checked as it is received, under the limits then in
 * force) is a peer fault: the pending or next `receive` rejects with it
 * (after the messages that arrived before it), and nothing more is taken.
 * A `postMessage` that throws, or a carrier that the net layer reports gone
 * ({@linkcode PostMessageChannel.fail}), closes the channel with that
 * `failure`.
 */
export class PostMessageChannel implements ReadableFrameChannel {
  readonly description: string;
  readonly inbound: Budget;
  readonly counters: ChannelCounters = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  readonly #endpoint: MessageEndpoint;
  readonly #onClose: (() => void) | undefined;
  /** This end's largest message; 0 until the handshake, when HELLO-sized messages only are taken. */
  #maxMessage = 0;
  #failure: Error | null = null;
  #closed = false;
  /** Messages arrived and not yet received, oldest first. */
  #queue: ReceivedMessage[] = [];
  /** The peer's fault, once one was found: received after the queue. */
  #fault: Error | null = null;
  /** The peer posted its end marker: received (as null) after the queue. */
  #ended = false;
  /** The pending `receive`, if any. */
  #waiter: {
    resolve: (message: ReceivedMessage | null) => void;
    reject: (error: Error) => void;
  } | null = null;
  /** Inbound budget taken and not given back: messages queued, and received but not released. */
  #held = 0;

  /** A channel over `endpoint`, which it listens to from now on. */
  constructor(endpoint: MessageEndpoint, options: PostMessageChannelOptions) {
    this.#endpoint = endpoint;
    this.description = options.description;
    this.inbound = options.inbound;
    this.#onClose = options.onClose;
    endpoint.addEventListener("message", this.#onMessage);
    endpoint.addEventListener("messageerror", this.#onMessageError);
    endpoint.start?.();
  }

  /** Attachments go into fresh buffers of exactly their size: the channel transfers them. */
  readonly allocateAttachment = (size: number): Uint8Array => new Uint8Array(size);

  setLimits(limits: ChannelLimits): void {
    // Frames do not exist here: only the message limit applies.
    this.#maxMessage = limits.maxMessageSize;
  }

  get failure(): Error | null {
    return this.#failure;
  }

  get buffered(): number {
    return 0;
  }

  drained(_bytes: number): Promise<void> {
    return Promise.resolve();
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  // ---- sending --------------------------------------------------------------------------

  send(body: Uint8Array | readonly Uint8Array[], attachments: readonly Uint8Array[]): null {
    if (this.#closed) return null;
    const own = join(body);
    const transfer = new Set<ArrayBuffer>();
    if (own.length >= TRANSFER_MIN) transfer.add(own.buffer);
    let size = own.length;
    const sent: Uint8Array[] = [];
    for (const attachment of attachments) {
      size += attachment.length;
      // Boxing made every attachment a buffer of its own; anything else is copied, never moved.
      let bytes = attachment;
      if (!spansOwnBuffer(bytes) || transfer.has(bytes.buffer as ArrayBuffer)) {
        bytes = attachment.slice();
        attachmentBuffers.give(attachment);
      }
      transfer.add(bytes.buffer as ArrayBuffer);
      sent.push(bytes);
    }
    try {
      // A lone byte array clones faster than any object around it, and most messages have no
      // attachments.
      const message = sent.length === 0 ? own : [own, ...sent];
      // Without a transfer list, Deno's Worker takes a path that is twice as fast.
      if (transfer.size === 0) this.#endpoint.postMessage(message);
      else this.#endpoint.postMessage(message, [...transfer]);
    } catch (error) {
      this.fail(new ConnectionClosedError(`postMessage failed: ${error}`, { cause: error }));
      return null;
    }
    this.counters.framesSent++;
    this.counters.bytesSent += size;
    return null;
  }

  // ---- receiving ------------------------------------------------------------------------

  readonly #onMessage = (event: MessageEvent): void => {
    // Ports the peer slipped in would keep this process alive: close them.
    for (const port of event.ports ?? []) port.close();
    if (this.#closed || this.#fault || this.#ended) return;
    try {
      if (event.ports?.length) throw peerFault("a message carried message ports");
      const data: unknown = event.data;
      if (data === null) {
        this.#ended = true;
      } else {
        this.#accept(data);
      }
    } catch (error) {
      this.#fault = isPeerFault(error)
        ? error
        : peerFault(`malformed message: ${(error as Error)?.message ?? error}`);
    }
    this.#wake();
  };

  readonly #onMessageError = (): void => {
    if (this.#closed || this.#fault || this.#ended) return;
    this.#fault = peerFault("a message could not be deserialized (messageerror)");
    this.#wake();
  };

  /**
   * Checks a posted message's shape and queues it, holding its bytes. Its
   * size is checked against the limits when it is received: the handshake
   * that sets them may still be under way.
   */
  #accept(data: unknown): void {
    let body: unknown;
    let attachments: readonly unknown[];
    if (data instanceof Uint8Array) {
      body = data;
      attachments = [];
    } else if (Array.isArray(data)) {
      if (data.length < 2) {
        throw peerFault(`an array of ${data.length} items (a body and at least one attachment)`);
      }
      body = data[0];
      attachments = data.slice(1);
    } else {
      throw peerFault("not an rdc message (expected a Uint8Array, an array of them, or null)");
    }
    checkBytes(body, "the body");
    const count = attachments.length;
    if (count > MAX_ATTACHMENTS) {
      throw peerFault(`a message carries ${count} attachments, more than ${MAX_ATTACHMENTS}`);
    }
    if (body.length === 0) throw peerFault("empty body");
    let size = body.length;
    const buffers = new Set<ArrayBufferLike>([body.buffer]);
    for (let i = 0; i < count; i++) {
      const attachment: unknown = attachments[i];
      checkBytes(attachment, `attachment #${i}`);
      if (buffers.has(attachment.buffer)) {
        throw peerFault(`attachment #${i} shares its buffer with another array of the message`);
      }
      buffers.add(attachment.buffer);
      size += attachment.length;
    }
    // Nothing can slow the peer down: a message beyond the budget is a flood.
    if (!this.inbound.tryTake(size)) {
      throw peerFault(
        `sent a message of ${size} bytes while ${this.inbound.used} bytes of its earlier ` +
          `messages are held, beyond the ${this.inbound.capacity} bytes of the inbound budget ` +
          "(maxInboundBytes): a message carrier cannot slow its sender down",
      );
    }
    this.#held += size;
    this.counters.framesReceived++;
    this.counters.bytesReceived += size;
    this.#queue.push({ body, attachments: attachments as Uint8Array[], held: size });
  }

  /**
   * The next message, checked against the limits now in force; a fault (and
   * nothing more) once one was found; null once the peer ended; undefined
   * when there is nothing yet.
   */
  #next(): ReceivedMessage | null | undefined {
    if (this.#closed) throw this.#closedError();
    const message = this.#queue.shift();
    if (message) {
      const fault = this.#breach(message);
      if (!fault) return message;
      // Nothing more is taken from this peer: what it sent is given back.
      for (const dropped of [message, ...this.#queue]) this.release(dropped);
      this.#queue = [];
      this.#fault = fault;
    }
    if (this.#fault) throw this.#fault;
    return this.#ended ? null : undefined;
  }

  /** What is wrong with the size of `message` under the limits now in force, if anything. */
  #breach(message: ReceivedMessage): Error | null {
    const size = message.held;
    if (this.#maxMessage === 0) {
      if (message.attachments.length > 0) {
        return peerFault("a message with attachments before the handshake");
      }
      if (size > HANDSHAKE_FRAME_SIZE) {
        return peerFault(
          `a message of ${size} bytes exceeds the limit of ${HANDSHAKE_FRAME_SIZE} bytes ` +
            "before the handshake",
        );
      }
    } else if (size > this.#maxMessage) {
      return peerFault(
        `a message of ${size} bytes exceeds the limit of ${this.#maxMessage} bytes (maxMessageSize)`,
      );
    }
    return null;
  }

  /** Hands the pending `receive` what is next, if anything is. */
  #wake(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    let next: ReceivedMessage | null | undefined;
    try {
      next = this.#next();
    } catch (error) {
      this.#waiter = null;
      return waiter.reject(error as Error);
    }
    if (next === undefined) return;
    this.#waiter = null;
    waiter.resolve(next);
  }

  receive(): Promise<ReceivedMessage | null> {
    let next: ReceivedMessage | null | undefined;
    try {
      next = this.#next();
    } catch (error) {
      return Promise.reject(error);
    }
    if (next !== undefined) return Promise.resolve(next);
    const { promise, resolve, reject } = Promise.withResolvers<ReceivedMessage | null>();
    this.#waiter = { resolve, reject };
    return promise;
  }

  release(message: ReceivedMessage): void {
    if (message.held === 0 || this.#closed) return;
    this.#held -= message.held;
    this.inbound.give(message.held);
  }

  // ---- closing --------------------------------------------------------------------------

  /**
   * The carrier is gone or broken (the worker failed or was terminated):
   * closes the channel; `receive` rejects with `error`, which becomes `failure`.
   */
  fail(error: Error): void {
    this.#failure ??= error;
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Tell the peer, unless the carrier broke or the peer said it first.
    if (!this.#failure && !this.#ended) {
      try {
        this.#endpoint.postMessage(null);
      } catch {
        // Gone already: nobody to tell.
      }
    }
    this.#endpoint.removeEventListener("message", this.#onMessage);
    this.#endpoint.removeEventListener("messageerror", this.#onMessageError);
    this.#queue = [];
    this.inbound.give(this.#held);
    this.#held = 0;
    this.#wake();
    this.#onClose?.();
  }

  /** Why nothing more is received: the failure, if any, else a plain close. */
  #closedError(): Error {
    return this.#failure ?? new ConnectionClosedError("the channel is closed");
  }
}

/** The body in one buffer of its own, of exactly its size (a copy: the caller reuses its blocks). */
function join(body: Uint8Array | readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return body instanceof Uint8Array ? body.slice() : joinBlocks(body);
}

/** Whether `bytes` is the whole of a plain (not shared, not resizable) buffer. */
function spansOwnBuffer(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer && !buffer.resizable && bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength;
}

/** Checks that a received array is a `Uint8Array` spanning a plain buffer of its own. */
function checkBytes(value: unknown, what: string): asserts value is Uint8Array<ArrayBuffer> {
  if (!(value instanceof Uint8Array)) throw peerFault(`${what} is not a Uint8Array`);
  if (!spansOwnBuffer(value)) {
    throw peerFault(`${what} does not span a whole, plain ArrayBuffer of its own`);
  }
}

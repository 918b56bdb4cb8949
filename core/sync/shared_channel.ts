/**
 * The main thread's end of a synchronous connection: a
 * {@linkcode FrameChannel} whose messages go through two shared-memory
 * pipes to the I/O worker, which owns the socket and its framing. Its
 * session is driven: whoever polls the channel (the driver while a call
 * waits, the worker's idle wait otherwise) hands the session each message.
 *
 * @module
 */

import { AuthenticationError, ConnectionClosedError, peerFault, ProtocolError } from "../errors.ts";
import type { Endpoint } from "../net/endpoints.ts";
import { Budget } from "../wire/budget.ts";
import {
  type ChannelCounters,
  type ChannelLimits,
  type FrameChannel,
  joinBlocks,
  type ReceivedMessage,
  type Sending,
} from "../wire/channel.ts";
import type { ResolvedLimits } from "../wire/limits.ts";
import { DEFAULT_PIPE_CAPACITY, SharedPipe } from "../wire/pipe.ts";
import {
  End,
  type EndCode,
  messagePieces,
  Rec,
  recordPieces,
  RecordReader,
} from "../wire/pipe_records.ts";
import { Counter, COUNTER_WORDS } from "./control.ts";
import type { IoWorker, WorkerLink } from "./io_worker.ts";

/** Milliseconds of one wait for room in the pipe toward the worker. */
const ROOM_SLICE_MS = 50;

/** Who a channel hands its messages to once its session runs. */
export interface ChannelReceiver {
  /** The next message. */
  message(message: ReceivedMessage): void;
  /** The channel ended: cleanly (null), or with an error. */
  ended(error: Error | null): void;
}

/** How a channel is opened. */
export interface SharedChannelOptions {
  /** Where to connect. */
  endpoint: Endpoint;
  /** The connection's limits. */
  limits: ResolvedLimits;
  /** A token to present, if any. */
  token?: string;
  /** Each pipe's size in bytes (a power of two). Default 1 MiB. */
  pipeSize?: number;
}

/**
 * A synchronous connection's channel.
 *
 * Contract: as {@linkcode FrameChannel}, on the main thread. `send` copies
 * the message into the pipe before it returns (blocking while the pipe is
 * full), so it never returns a {@linkcode Sending}. Messages that arrive
 * before a receiver is attached wait for it, in order.
 */
export class SharedChannel implements FrameChannel, WorkerLink {
  description: string;
  readonly inbound: Budget;
  readonly #worker: IoWorker;
  readonly #toWorker: SharedPipe;
  readonly #reader: RecordReader;
  readonly #counters: Float64Array;
  #receiver: ChannelReceiver | null = null;
  #queue: ReceivedMessage[] = [];
  /** Set when the worker reports the channel open; the reason when opening failed. */
  #opened = false;
  #openError: Error | null = null;
  /** Once the channel ended: null when cleanly, else why. Undefined while it runs. */
  #end: Error | null | undefined = undefined;
  #closed = false;

  /** Asks `worker` to open a channel to `options.endpoint`; poll it to learn when it is open. */
  constructor(worker: IoWorker, options: SharedChannelOptions) {
    const pipeSize = options.pipeSize ?? DEFAULT_PIPE_CAPACITY;
    const toMain = SharedPipe.create(pipeSize);
    this.#toWorker = SharedPipe.create(pipeSize);
    this.#reader = new RecordReader(toMain);
    const counters = new SharedArrayBuffer(COUNTER_WORDS * 8);
    this.#counters = new Float64Array(counters);
    this.#worker = worker;
    this.description = describe(options.endpoint);
    // The budget itself is the worker's: this one says how much it is.
    this.inbound = new Budget(options.limits.maxInboundBytes, "bytes held for messages");
    worker.open({
      endpoint: options.endpoint,
      limits: options.limits,
      token: options.token,
      toMain: toMain.buffer,
      fromMain: this.#toWorker.buffer,
      counters,
    }, this);
  }

  /** Whether the worker has answered the open: true once open; throws why it failed. */
  get opened(): boolean {
    if (this.#openError) throw this.#openError;
    return this.#opened;
  }

  /** Whether a message waits for {@linkcode SharedChannel.takeMessage}. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** The next message, if one has arrived (before a receiver is attached: the handshake). */
  takeMessage(): ReceivedMessage | null {
    return this.#queue.shift() ?? null;
  }

  /** Whether the channel ended (then `takeMessage` will return no more). */
  get ended(): boolean {
    return this.#end !== undefined;
  }

  /** Why it ended, if not cleanly. */
  get endError(): Error | null {
    return this.#end ?? null;
  }

  /** Hands every message from now on (and those waiting) to `receiver`. */
  attach(receiver: ChannelReceiver): void {
    this.#receiver = receiver;
    const waiting = this.#queue;
    this.#queue = [];
    for (const message of waiting) receiver.message(message);
    if (this.#end !== undefined) receiver.ended(this.#end);
  }

  poll(): boolean {
    let any = false;
    while (this.#end === undefined) {
      const record = this.#reader.poll();
      if (!record) break;
      any = true;
      switch (record.kind) {
        case Rec.Message: {
          const message = { body: record.body, attachments: record.attachments, held: 0 };
          if (this.#receiver) this.#receiver.message(message);
          else this.#queue.push(message);
          break;
        }
        case Rec.Opened:
          this.description = record.text;
          this.#opened = true;
          break;
        case Rec.Ended:
          this.#finish(record.how, record.text);
          break;
        case Rec.Limits:
        case Rec.Close:
          this.#finish(End.PeerFault, `the I/O worker sent a ${record.kind} record`);
          break;
        default:
          record satisfies never;
      }
    }
    return any;
  }

  lost(reason: Error): void {
    if (this.#end !== undefined) return;
    if (!this.#opened) this.#openError ??= reason;
    this.#end = reason;
    this.#receiver?.ended(reason);
  }

  #finish(how: EndCode, text: string): void {
    const error = endError(how, text);
    if (how === End.OpenFailed) {
      this.#openError = error;
      this.#worker.detach(this);
    }
    this.#end = error;
    this.#receiver?.ended(error);
  }

  // ---- FrameChannel --------------------------------------------------------------------

  send(
    body: Uint8Array | readonly Uint8Array[],
    attachments: readonly Uint8Array[],
  ): Sending | null {
    if (this.#closed || this.#end !== undefined) return null;
    this.#write(messagePieces(join(body), attachments));
    return null;
  }

  release(_message: ReceivedMessage): void {
    // The worker gave the budget back when it handed the message over.
  }

  setLimits(limits: ChannelLimits): void {
    this.#write(recordPieces({ kind: Rec.Limits, ...limits }));
  }

  get buffered(): number {
    return this.#counters[Counter.Buffered] + this.#toWorker.readable;
  }

  drained(_bytes: number): Promise<void> {
    // What is sent is in the pipe already: the worker applies backpressure from there.
    return Promise.resolve();
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  get failure(): Error | null {
    return null;
  }

  get counters(): ChannelCounters {
    const c = this.#counters;
    return {
      framesSent: c[Counter.FramesSent],
      framesReceived: c[Counter.FramesReceived],
      bytesSent: c[Counter.BytesSent],
      bytesReceived: c[Counter.BytesReceived],
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.detach(this);
    if (this.#openError === null) this.#write(recordPieces({ kind: Rec.Close }));
  }

  /** Writes `pieces` into the pipe, blocking while it is full. Gives up if the worker fails. */
  #write(pieces: Uint8Array[]): void {
    const pipe = this.#toWorker;
    for (const piece of pieces) {
      let offset = 0;
      while (offset < piece.length) {
        const seen = pipe.consumed;
        const written = pipe.write(offset === 0 ? piece : piece.subarray(offset));
        offset += written;
        if (written > 0) continue;
        try {
          this.#worker.check();
        } catch {
          return; // The worker is gone: `lost` ends the connection.
        }
        pipe.waitForRoom(seen, ROOM_SLICE_MS);
      }
    }
  }
}

/** One byte array of a message's blocks. */
function join(body: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (body instanceof Uint8Array) return body;
  return body.length === 1 ? body[0] : joinBlocks(body);
}

/** What an `Ended` record means, as the error the session and its callers see. */
function endError(how: EndCode, text: string): Error | null {
  switch (how) {
    case End.Clean:
      return null;
    case End.Closed:
      return new ConnectionClosedError(text.replace(/^[A-Za-z]*Error: /, ""));
    case End.PeerFault:
      return peerFault(text.replace(/^[A-Za-z]*Error: /, ""));
    case End.OpenFailed:
      return rebuildError(text);
    default:
      how satisfies never;
      return new ConnectionClosedError(text);
  }
}

/**
 * The error the worker met opening a connection, with its class where the
 * main thread knows it (`ConnectionRefused: …` becomes a
 * `Deno.errors.ConnectionRefused`).
 */
function rebuildError(text: string): Error {
  const colon = text.indexOf(": ");
  const name = colon > 0 ? text.slice(0, colon) : "Error";
  const message = colon > 0 ? text.slice(colon + 2) : text;
  const known = (Deno.errors as unknown as Record<string, ErrorConstructor | undefined>)[name] ??
    OPEN_ERRORS[name];
  if (known) return new known(message);
  return Object.assign(new Error(message), { name });
}

/** `tcp 127.0.0.1:18812`, until the worker says better. */
function describe(endpoint: Endpoint): string {
  switch (endpoint.kind) {
    case "tcp":
    case "tls":
      return `${endpoint.kind} ${endpoint.host}:${endpoint.port}`;
    case "unix":
      return `unix ${endpoint.path}`;
    case "subprocess":
      return `subprocess (${endpoint.cmd.join(" ")})`;
    default:
      endpoint satisfies never;
      return "?";
  }
}

/** Errors of this library a failed open may report, by name. */
const OPEN_ERRORS: Record<string, ErrorConstructor | undefined> = {
  AuthenticationError: AuthenticationError as unknown as ErrorConstructor,
  ProtocolError: ProtocolError as unknown as ErrorConstructor,
  ConnectionClosedError: ConnectionClosedError as unknown as ErrorConstructor,
};

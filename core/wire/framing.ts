/**
 * Framing: a {@linkcode ReadableFrameChannel} over a byte stream ({@linkcode Transport}).
 *
 * Every frame is a 4-byte big-endian header and a payload. The header's top
 * bit marks a chunk; the other 31 bits are the payload's length. A message
 * that fits one frame and carries no attachments travels whole, in a frame of
 * its own. Any other message travels as a *stream* of chunks; whole frames
 * go between its chunks, so a ping is never stuck behind a large value.
 * Streams go one after another, so a reader holds room for at most one
 * message half read: it never waits for room while holding some that only
 * more reading would free. core/PROTOCOL.md, "Frames", has the layout.
 *
 * The reader takes room for a whole message from the inbound budget before
 * it reads any of its bytes (waiting, and so reading nothing, while there is
 * none), then reads each chunk straight into the message's buffers.
 *
 * @module
 */

import { ConnectionClosedError, peerFault } from "../errors.ts";
import { unrefTimer } from "../platform.ts";
import type { Budget } from "./budget.ts";
import { attachmentBuffers } from "./buffer_pool.ts";
import type {
  ChannelCounters,
  ChannelLimits,
  ReadableFrameChannel,
  ReceivedMessage,
  Sending,
} from "./channel.ts";
import { HANDSHAKE_FRAME_SIZE, MIN_FRAME_SIZE } from "./limits.ts";
import type { Transport } from "./transport.ts";

/** Bytes in a frame header. */
const HEADER = 4;
/** The header bit that marks a chunk frame. */
const CHUNK_BIT = 0x80000000;
/** A chunk's own header: stream id (uint32) and flags (uint8). */
const CHUNK_HEADER = 5;
/** Chunk flag: the stream's first chunk; a prologue with its sizes follows. */
const FIRST = 0x01;
/** Chunk flag: the sender gave up on the stream; drop it. */
const ABORT = 0x02;
/** The most data one chunk carries. */
const CHUNK_DATA = 1024 * 1024;
/** Attachments one message may carry. */
export const MAX_ATTACHMENTS = 65_535;

/** The open write batch: small frames and chunk headers are copied into it. */
const BATCH_SIZE = 64 * 1024;
/** Payloads this small are copied into the batch; larger ones are written from where they are. */
const COPY_LIMIT = 16 * 1024;
/** The read arena's size: frames shorter than half of it are read through it. */
const ARENA_SIZE = 64 * 1024;

/** Options of {@linkcode ByteFrameChannel}. */
export interface ByteFrameChannelOptions {
  /** The budget partial messages are held against (a connection's, inside a server's). */
  inbound: Budget;
  /** Milliseconds a write may make no progress before the channel fails; 0 = never. */
  drainTimeout: number;
}

/** One outgoing message in chunks. */
class Stream implements Sending {
  readonly id: number;
  /** The message's bytes, body blocks then attachments, in the order they go. */
  readonly parts: readonly Uint8Array[];
  readonly sizes: Uint8Array;
  /** Bytes left to send. */
  left: number;
  part = 0;
  offset = 0;
  started = false;
  done = false;
  aborted = false;
  readonly placed: Promise<void>;
  readonly #resolve: () => void;
  readonly #channel: ByteFrameChannel;

  constructor(
    channel: ByteFrameChannel,
    id: number,
    parts: readonly Uint8Array[],
    sizes: Uint8Array,
    total: number,
  ) {
    this.#channel = channel;
    this.id = id;
    this.parts = parts;
    this.sizes = sizes;
    this.left = total;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.placed = promise;
    this.#resolve = resolve;
  }

  /** Marks the stream complete (its last chunk is in line). */
  finish(): void {
    this.done = true;
    this.#resolve();
  }

  abort(): boolean {
    if (this.done || this.aborted) return false;
    return this.#channel.abortStream(this);
  }
}

/** An incoming message being assembled from chunks. */
interface Assembly {
  /** Its stream's number. */
  id: number;
  /** The body, then each attachment. */
  parts: Uint8Array[];
  part: number;
  offset: number;
  left: number;
  held: number;
}

/**
 * The {@linkcode ReadableFrameChannel} of a byte stream.
 *
 * Contract: as {@linkcode ReadableFrameChannel}. A failed write (or one that makes no
 * progress for `drainTimeout`) closes the transport; the pending or next
 * `receive` then rejects with a `ConnectionClosedError` saying why.
 */
export class ByteFrameChannel implements ReadableFrameChannel {
  readonly description: string;
  readonly inbound: Budget;
  readonly counters: ChannelCounters = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  readonly #transport: Transport;
  readonly #drainTimeout: number;
  #maxFrame = HANDSHAKE_FRAME_SIZE;
  #maxMessage = 0;
  #peerFrame = MIN_FRAME_SIZE;
  #failure: Error | null = null;
  #closed = false;

  // ---- writing
  /** The open batch, made when a frame is queued. */
  #batch: Uint8Array | null = null;
  #batchLength = 0;
  /** What the pump writes next, in order: sealed batches and payload views. */
  #pieces: Uint8Array[] = [];
  /** Beside each piece: the pooled copy to give back once it is written, if any. */
  #afterWrite: (Uint8Array | null)[] = [];
  #piecesLength = 0;
  /** Chunked messages to send, one after another (the first is in progress). */
  #streams: Stream[] = [];
  #streamsLeft = 0;
  #nextStream = 0;
  #writing = false;
  /** Writes completed, and what the watchdog saw of them: no change for long is a stall. */
  #writes = 0;
  #writesSeen = 0;
  #stalledOut = 0;
  /** The same for bytes of half-read messages (not while waiting for room: that is ours). */
  #bytesSeen = 0;
  #stalledIn = 0;
  #waitingForRoom = false;
  /** The transport read in progress, if any. */
  #reading: Promise<number | null> | null = null;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  // ---- reading
  /** Small at first (most connections are mostly idle); a fresh one is full size. */
  #arena: Uint8Array<ArrayBuffer> = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  /** The message half read, if any: streams come one at a time. */
  #assembly: Assembly | null = null;
  /**
   * Inbound budget this channel took and has not given back: for the stream
   * half read, for a large frame being read, and for messages delivered and
   * not yet released. Counted the moment room is granted, so that `close`,
   * whenever it runs, gives back all of it.
   */
  #held = 0;

  /** A channel over `transport`, which it owns from now on. */
  constructor(transport: Transport, options: ByteFrameChannelOptions) {
    this.#transport = transport;
    this.description = transport.description;
    this.inbound = options.inbound;
    this.#drainTimeout = options.drainTimeout;
  }

  setLimits(limits: ChannelLimits): void {
    this.#peerFrame = Math.max(MIN_FRAME_SIZE, limits.peerFrameSize);
    this.#maxFrame = limits.maxFrameSize;
    this.#maxMessage = limits.maxMessageSize;
  }

  get failure(): Error | null {
    return this.#failure;
  }

  get buffered(): number {
    return this.#batchLength + this.#piecesLength + this.#streamsLeft;
  }

  // ---- sending --------------------------------------------------------------------------

  send(
    body: Uint8Array | readonly Uint8Array[],
    attachments: readonly Uint8Array[],
  ): Sending | null {
    if (this.#closed) return null;
    const blocks = body instanceof Uint8Array ? [body] : body;
    let bodySize = 0;
    for (const block of blocks) bodySize += block.length;
    // A whole frame must leave room for the chunk header the peer would otherwise see.
    if (attachments.length === 0 && bodySize + HEADER <= Math.min(this.#peerFrame, CHUNK_DATA)) {
      const at = this.#reserve(HEADER + bodySize);
      writeHeader(this.#batch!, at, bodySize);
      let offset = at + HEADER;
      for (const block of blocks) {
        this.#batch!.set(block, offset);
        offset += block.length;
      }
      this.counters.framesSent++;
      this.#kick();
      return null;
    }
    if (attachments.length > MAX_ATTACHMENTS) {
      // The session checks this first; reaching here is a bug, not the peer's fault.
      throw new RangeError(`a message carries at most ${MAX_ATTACHMENTS} attachments`);
    }
    const sizes = new Uint8Array(6 + 4 * attachments.length);
    const view = new DataView(sizes.buffer);
    view.setUint32(0, bodySize);
    view.setUint16(4, attachments.length);
    let total = bodySize;
    attachments.forEach((bytes, i) => {
      view.setUint32(6 + 4 * i, bytes.length);
      total += bytes.length;
    });
    const id = this.#nextStream;
    this.#nextStream = (this.#nextStream + 1) >>> 0;
    const stream = new Stream(this, id, [...blocks, ...attachments], sizes, total);
    this.#streams.push(stream);
    this.#streamsLeft += total;
    this.#kick();
    return stream;
  }

  /** Drops an unfinished stream; tells the peer if it has seen any of it. */
  abortStream(stream: Stream): boolean {
    if (this.#closed) return false;
    stream.aborted = true;
    this.#streams.splice(this.#streams.indexOf(stream), 1);
    this.#streamsLeft -= stream.left;
    if (stream.started) {
      const at = this.#reserve(HEADER + CHUNK_HEADER);
      writeChunkHeader(this.#batch!, at, CHUNK_HEADER, stream.id, ABORT);
      this.counters.framesSent++;
      this.#kick();
    }
    this.#wakeDrained();
    return true;
  }

  /** Room for `size` bytes in the open batch (sealing it first if they do not fit); returns where. */
  #reserve(size: number): number {
    if (this.#batch && this.#batchLength + size > this.#batch.length) this.#seal();
    this.#batch ??= size <= BATCH_SIZE ? batches.take() : new Uint8Array(size);
    const at = this.#batchLength;
    this.#batchLength += size;
    return at;
  }

  /** Moves the open batch to the write queue; its buffer goes back to the pool once written. */
  #seal(): void {
    if (this.#batchLength === 0) return;
    this.#pieces.push(this.#batch!.subarray(0, this.#batchLength));
    this.#afterWrite.push(this.#batch);
    this.#piecesLength += this.#batchLength;
    this.#batch = null;
    this.#batchLength = 0;
  }

  #kick(): void {
    if (!this.#writing && !this.#closed) this.#pump();
  }

  /**
   * Puts the next chunk of the stream in progress in line: its header (and
   * prologue) into the batch, its data after it, copied when small, else as
   * views.
   */
  #nextChunk(): void {
    const stream = this.#streams[0];
    const first = !stream.started;
    const prologue = first ? stream.sizes.length : 0;
    const room = Math.min(CHUNK_DATA, this.#peerFrame - HEADER - CHUNK_HEADER - prologue);
    const size = Math.min(room, stream.left);
    const at = this.#reserve(HEADER + CHUNK_HEADER + prologue);
    writeChunkHeader(
      this.#batch!,
      at,
      CHUNK_HEADER + prologue + size,
      stream.id,
      first ? FIRST : 0,
    );
    if (first) this.#batch!.set(stream.sizes, at + HEADER + CHUNK_HEADER);
    stream.started = true;
    this.counters.framesSent++;
    let wanted = size;
    while (wanted > 0) {
      const part = stream.parts[stream.part];
      const take = Math.min(wanted, part.length - stream.offset);
      const piece = part.subarray(stream.offset, stream.offset + take);
      // A pooled copy goes back once its last byte is written (or copied into the batch).
      const last = stream.offset + take === part.length && attachmentBuffers.lent(part)
        ? part
        : null;
      if (take <= COPY_LIMIT) {
        const at = this.#reserve(take); // may seal the batch: take it afterwards
        this.#batch!.set(piece, at);
        if (last) attachmentBuffers.give(last);
      } else {
        this.#seal();
        this.#pieces.push(piece);
        this.#afterWrite.push(last);
        this.#piecesLength += take;
      }
      wanted -= take;
      stream.offset += take;
      if (stream.offset === part.length) {
        stream.part++;
        stream.offset = 0;
      }
    }
    stream.left -= size;
    this.#streamsLeft -= size;
    if (stream.left === 0) {
      this.#streams.shift();
      stream.finish();
    }
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    watchdog.add(this);
    try {
      // The first write leaves at once (a reply should not wait for anything);
      // frames queued while it is in flight join the next one.
      while (!this.#closed) {
        if (this.#pieces.length === 0) {
          if (this.#streams.length > 0) this.#nextChunk();
          this.#seal();
        }
        const piece = this.#pieces.shift();
        if (!piece) break;
        const written = this.#afterWrite.shift();
        this.#piecesLength -= piece.length;
        this.counters.bytesSent += piece.length;
        await this.#transport.write(piece);
        this.#writes++;
        if (written) giveBack(written);
        this.#wakeDrained();
      }
    } catch (error) {
      this.#fail(new ConnectionClosedError(`write failed: ${error}`, { cause: error }));
    } finally {
      this.#writing = false;
      this.#unwatch();
      this.#wakeDrained();
    }
  }

  /** Leaves the watchdog once nothing is being written and no message is half read. */
  #unwatch(): void {
    if (!this.#writing && !this.#assembly) watchdog.delete(this);
  }

  /**
   * Called by the watchdog every `tick` ms while this channel writes or has
   * a message half read: fails it once no write has completed, or no byte
   * of a half-read message has arrived, for `drainTimeout`.
   */
  checkStall(tick: number): void {
    if (this.#drainTimeout <= 0) return;
    if (this.#writing && this.#writes === this.#writesSeen) this.#stalledOut += tick;
    else this.#stalledOut = 0;
    this.#writesSeen = this.#writes;
    const reading = this.#assembly !== null && !this.#waitingForRoom;
    if (reading && this.counters.bytesReceived === this.#bytesSeen) this.#stalledIn += tick;
    else this.#stalledIn = 0;
    this.#bytesSeen = this.counters.bytesReceived;
    if (this.#stalledOut >= this.#drainTimeout) {
      this.#fail(
        new ConnectionClosedError(
          `${this.description} read nothing for ${this.#drainTimeout} ms (drainTimeout)`,
        ),
      );
    } else if (this.#stalledIn >= this.#drainTimeout) {
      this.#fail(
        peerFault(
          `sent nothing for ${this.#drainTimeout} ms in the middle of a message (drainTimeout)`,
        ),
      );
    }
  }

  drained(bytes: number): Promise<void> {
    if (this.buffered <= bytes || this.#failure || this.#closed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ bytes, resolve });
    return promise;
  }

  flushed(): Promise<void> {
    return this.drained(0);
  }

  #wakeDrained(): void {
    if (this.#waiters.length === 0) return;
    const buffered = this.buffered;
    const done = this.#failure || this.#closed;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!done && buffered > waiter.bytes && (buffered > 0 || this.#writing)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Records why the channel broke and closes the transport: `receive` reports it. */
  #fail(error: Error): void {
    this.#failure ??= error;
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    watchdog.delete(this);
    this.#streams = [];
    this.#streamsLeft = 0;
    this.#pieces = [];
    this.#afterWrite = [];
    this.#piecesLength = 0;
    this.#batch = null;
    this.#batchLength = 0;
    this.#wakeDrained();
    // Our own waiters go first: what is given back below must not be granted to them.
    this.inbound.abandonWaiters();
    this.#assembly = null;
    this.inbound.give(this.#held);
    this.#held = 0;
    this.#linger();
  }

  /**
   * Closes the transport, but first, when the closing is this end's own and
   * nothing failed, stops writing and reads (and drops) what the peer still
   * sends, for a moment: closing a socket with unread input resets it, and
   * the peer would lose the CLOSE that says why.
   */
  #linger(): void {
    const transport = this.#transport;
    if (this.#failure || !transport.closeWrite) return transport.close();
    transport.closeWrite();
    const timer = setTimeout(() => transport.close(), LINGER_MS);
    const pending = this.#reading;
    (async () => {
      const scratch = new Uint8Array(16 * 1024);
      try {
        // A read still pending is the receiver's: let it end (what it gets is dropped).
        if (pending && (await pending.catch(() => null)) === null) return;
        for (let dropped = 0; dropped < LINGER_BYTES;) {
          const n = await transport.read(scratch);
          if (n === null) break;
          dropped += n;
        }
      } catch {
        // Gone already: nothing more to wait for.
      } finally {
        clearTimeout(timer);
        transport.close();
      }
    })();
  }

  // ---- receiving ------------------------------------------------------------------------

  release(message: ReceivedMessage): void {
    attachmentBuffers.give(message.body);
    if (message.held === 0 || this.#closed) return;
    this.#giveBackRoom(message.held);
  }

  async receive(): Promise<ReceivedMessage | null> {
    try {
      while (true) {
        // Nothing more is read once this end broke or closed the channel.
        if (this.#closed) throw this.#closedError();
        if (!(await this.#fill(HEADER, true))) {
          if (this.#closed) throw this.#closedError();
          if (this.#assembly) {
            throw peerFault(`the stream ended inside a message (stream ${this.#assembly.id})`);
          }
          return null;
        }
        const header = this.#u32();
        const length = header & ~CHUNK_BIT;
        if (length > this.#maxFrame) {
          throw peerFault(
            `frame of ${length} bytes exceeds the limit of ${this.#maxFrame} bytes` +
              (this.#maxMessage === 0 ? " before the handshake" : ""),
          );
        }
        this.counters.framesReceived++;
        if (header < CHUNK_BIT) return await this.#whole(length);
        const message = await this.#readChunk(length);
        if (message) return message;
      }
    } catch (error) {
      // Once this end closed, what the read then met (the end of the stream) is no news.
      if (this.#closed) throw this.#closedError();
      throw error;
    }
  }

  async #whole(length: number): Promise<ReceivedMessage> {
    if (length === 0) throw peerFault("empty frame");
    if (this.#maxMessage > 0 && length > this.#maxMessage) {
      throw peerFault(
        `a message of ${length} bytes exceeds the limit of ${this.#maxMessage} bytes (maxMessageSize)`,
      );
    }
    if (length > ARENA_SIZE / 2) {
      // Held until decoded, which may take slices: it counts against the budget. With a
      // stream half read, waiting could wait for ever (only reading on frees its room):
      // the frame is taken anyway, a frame's size beyond the budget at most.
      if (this.#assembly) {
        this.inbound.force(length);
        this.#held += length;
      } else {
        await this.#room(length);
      }
      const body = attachmentBuffers.take(length);
      await this.#readInto(body, 0, length);
      return { body, attachments: [], held: length };
    }
    await this.#fill(length, false);
    const body = this.#arena.subarray(this.#start, this.#start + length);
    this.#start += length;
    return { body, attachments: [], held: 0 };
  }

  /** Reads one chunk frame; returns the message it completes, if it does. */
  async #readChunk(length: number): Promise<ReceivedMessage | null> {
    if (this.#maxMessage === 0) throw peerFault("a chunk frame before the handshake");
    if (length < CHUNK_HEADER) throw peerFault(`chunk frame of ${length} bytes`);
    await this.#fill(CHUNK_HEADER, false);
    const id = this.#u32();
    const flags = this.#arena[this.#start++];
    let data = length - CHUNK_HEADER;
    if (flags & ~(FIRST | ABORT) || flags === (FIRST | ABORT)) {
      throw peerFault(`chunk of stream ${id} with unknown flags ${flags}`);
    }
    const open = this.#assembly;
    if (flags & ABORT) {
      if (data !== 0) throw peerFault(`abort of stream ${id} carries data`);
      if (open?.id !== id) throw peerFault(`abort of stream ${id}, which is not open`);
      this.#assembly = null;
      this.#unwatch();
      this.#giveBackRoom(open.held);
      return null;
    }
    let assembly: Assembly;
    if (flags & FIRST) {
      if (open) {
        throw peerFault(
          open.id === id
            ? `stream ${id} opened twice`
            : `stream ${id} opened while stream ${open.id} is open (one at a time)`,
        );
      }
      const opened = await this.#open(id, data);
      assembly = opened.assembly;
      data -= opened.prologue;
      this.#assembly = assembly;
      watchdog.add(this);
    } else if (open?.id === id) {
      assembly = open;
    } else {
      throw peerFault(`chunk of stream ${id}, which is not open`);
    }
    if (data > assembly.left) {
      throw peerFault(`stream ${id} carries more than the ${assembly.held} bytes it announced`);
    }
    await this.#copyInto(assembly, data);
    if (assembly.left > 0) return null;
    this.#assembly = null;
    this.#unwatch();
    const [body, ...attachments] = assembly.parts;
    return { body, attachments, held: assembly.held };
  }

  /** Reads a stream's prologue, takes room for the whole message, and makes its buffers. */
  async #open(id: number, data: number): Promise<{ assembly: Assembly; prologue: number }> {
    if (data < 6) throw peerFault(`first chunk of stream ${id} has no prologue`);
    await this.#fill(6, false);
    const bodySize = this.#u32();
    const count = (this.#arena[this.#start] << 8) | this.#arena[this.#start + 1];
    this.#start += 2;
    const prologue = 6 + 4 * count;
    if (prologue > data) throw peerFault(`first chunk of stream ${id} cuts its prologue short`);
    await this.#fill(4 * count, false);
    const sizes = [bodySize];
    let total = bodySize;
    for (let i = 0; i < count; i++) {
      const size = this.#u32();
      sizes.push(size);
      total += size;
    }
    if (total > this.#maxMessage) {
      throw peerFault(
        `a message of ${total} bytes exceeds the limit of ${this.#maxMessage} bytes (maxMessageSize)`,
      );
    }
    if (bodySize === 0) throw peerFault(`stream ${id} has an empty body`);
    // Nothing is allocated before the budget has room: a peer announcing large
    // messages waits, unread, until others have been decoded.
    await this.#room(total);
    return {
      assembly: {
        id,
        // The body is only read while decoding: its buffer comes back to the pool.
        parts: sizes.map((size, i) =>
          i === 0 ? attachmentBuffers.take(size) : attachmentBuffers.takeWhole(size)
        ),
        part: 0,
        offset: 0,
        left: total,
        held: total,
      },
      prologue,
    };
  }

  /**
   * Takes `bytes` from the inbound budget, waiting (and reading nothing)
   * until there is room, and counts them held. Throws, holding nothing, if
   * the channel closes first.
   */
  async #room(bytes: number): Promise<void> {
    const waiting = this.inbound.take(bytes);
    if (waiting) {
      this.#waitingForRoom = true;
      // The wait is given up only when the channel closes.
      const granted = await waiting.then(() => true, () => false);
      this.#waitingForRoom = false;
      if (!granted) throw this.#closedError();
    }
    if (this.#closed) {
      this.inbound.give(bytes);
      throw this.#closedError();
    }
    this.#held += bytes;
  }

  /** Gives back `bytes` of inbound room this channel held. */
  #giveBackRoom(bytes: number): void {
    this.#held -= bytes;
    this.inbound.give(bytes);
  }

  /** Why nothing more is read: the failure, if any, else a plain close. */
  #closedError(): Error {
    return this.#failure ?? new ConnectionClosedError("the channel is closed");
  }

  /** Copies `count` bytes of the stream into the assembly's buffers, reading what is not here yet. */
  async #copyInto(assembly: Assembly, count: number): Promise<void> {
    assembly.left -= count;
    while (count > 0) {
      while (assembly.parts[assembly.part].length === assembly.offset) {
        assembly.part++;
        assembly.offset = 0;
      }
      const target = assembly.parts[assembly.part];
      const take = Math.min(count, target.length - assembly.offset);
      await this.#readInto(target, assembly.offset, take);
      assembly.offset += take;
      count -= take;
    }
  }

  /** Reads `count` bytes into `target` at `offset`: what the arena holds first, then straight in. */
  async #readInto(target: Uint8Array, offset: number, count: number): Promise<void> {
    const buffered = Math.min(count, this.#end - this.#start);
    target.set(this.#arena.subarray(this.#start, this.#start + buffered), offset);
    this.#start += buffered;
    let filled = buffered;
    while (filled < count) {
      const n = await this.#read(target.subarray(offset + filled, offset + count));
      if (n === null) throw peerFault(`stream ended inside a frame (${filled} of ${count} bytes)`);
      filled += n;
      this.counters.bytesReceived += n;
    }
  }

  /** One read of the transport; none starts once the channel is closed (`#linger` reads then). */
  #read(into: Uint8Array): Promise<number | null> {
    if (this.#closed) throw this.#closedError();
    const reading = this.#transport.read(into);
    this.#reading = reading;
    return reading;
  }

  #u32(): number {
    const a = this.#arena, s = this.#start;
    this.#start += 4;
    return ((a[s] << 24) | (a[s + 1] << 16) | (a[s + 2] << 8) | a[s + 3]) >>> 0;
  }

  /** Makes `count` bytes available at `#start`; false only on a clean end before any byte. */
  async #fill(count: number, atBoundary: boolean): Promise<boolean> {
    if (this.#end - this.#start >= count) return true;
    if (this.#start + count > this.#arena.length) {
      // A fresh arena: payloads handed out keep the old one alive and unchanged.
      const fresh = new Uint8Array(Math.max(ARENA_SIZE, count));
      fresh.set(this.#arena.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#arena = fresh;
    }
    while (this.#end - this.#start < count) {
      const n = await this.#read(this.#arena.subarray(this.#end));
      if (n === null) {
        if (atBoundary && this.#end === this.#start) return false;
        throw peerFault(
          `stream ended inside a frame (${this.#end - this.#start} of ${count} bytes)`,
        );
      }
      this.#end += n;
      this.counters.bytesReceived += n;
    }
    return true;
  }
}

function writeHeader(into: Uint8Array, at: number, length: number, bits = 0): void {
  const n = (length | bits) >>> 0;
  into[at] = n >>> 24;
  into[at + 1] = (n >>> 16) & 0xff;
  into[at + 2] = (n >>> 8) & 0xff;
  into[at + 3] = n & 0xff;
}

function writeChunkHeader(
  into: Uint8Array,
  at: number,
  length: number,
  id: number,
  flags: number,
): void {
  writeHeader(into, at, length, CHUNK_BIT);
  writeHeader(into, at + HEADER, id);
  into[at + HEADER + 4] = flags;
}

/** How long, and how much, a closing channel reads and drops before it closes (see `#linger`). */
const LINGER_MS = 250;
const LINGER_BYTES = 1024 * 1024;

/** How often the watchdog looks at channels with writes in flight or messages half read. */
const WATCH_MS = 1_000;

/** Write batches, shared by every channel: an idle connection holds none. */
const batches = new (class {
  #idle: Uint8Array[] = [];

  take(): Uint8Array {
    return this.#idle.pop() ?? new Uint8Array(BATCH_SIZE);
  }

  give(batch: Uint8Array): void {
    if (this.#idle.length < 64) this.#idle.push(batch);
  }
})();

/** Gives a written buffer back where it came from: the batches, or the attachment pool. */
function giveBack(buffer: Uint8Array): void {
  if (buffer.length === BATCH_SIZE && buffer.byteOffset === 0 && !attachmentBuffers.lent(buffer)) {
    batches.give(buffer);
  } else {
    attachmentBuffers.give(buffer);
  }
}

/** A whole-message frame holding `payload`, for a message sent before any channel exists. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  writeHeader(out, 0, payload.length);
  out.set(payload, HEADER);
  return out;
}

/**
 * One timer for every channel with a write in flight or a message half read:
 * it fails those that made no progress for their `drainTimeout` (the peer
 * stopped reading, or stopped sending in the middle of a message). It runs
 * only while some channel is watched (and one tick after).
 */
const watchdog = new (class {
  #channels = new Set<ByteFrameChannel>();
  #timer: ReturnType<typeof setInterval> | undefined;

  add(channel: ByteFrameChannel): void {
    this.#channels.add(channel);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => {
        if (this.#channels.size === 0) {
          clearInterval(this.#timer);
          this.#timer = undefined;
          return;
        }
        for (const c of this.#channels) c.checkStall(WATCH_MS);
      }, WATCH_MS);
      unrefTimer(this.#timer);
    }
  }

  /** Stops watching `channel`; the timer stops itself once nothing is watched. */
  delete(channel: ByteFrameChannel): void {
    this.#channels.delete(channel);
  }
})();

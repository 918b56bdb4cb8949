/**
 * One exchange: a mutation sent on a raw TCP connection of its own, and what
 * came back read until a CLOSE, the end of the stream, the answer to the
 * sentinel PING sent last, or a short idle bound; then classified as an
 * {@linkcode Outcome}.
 *
 * @module
 */

import { writeAll } from "../_helpers.ts";
import { MSG } from "../_raw_peer.ts";
import { FuzzFailure } from "./failure.ts";
import { type Frame, frameBytes, FrameSplitter } from "./frames.ts";
import { SENTINEL_SEQ, sentinelFrame } from "./messages.ts";
import type { Mutation } from "./mutation.ts";
import { decodeBody } from "./tree.ts";

/** How an exchange ended. */
export type OutcomeKind =
  /** The server sent CLOSE (with a reason) and closed. */
  | "closed"
  /** The server answered the sentinel PING: the connection still served when the traffic ended. */
  | "answered"
  /** The stream ended without a CLOSE. */
  | "eof"
  /**
   * The server reset the connection without a CLOSE having arrived (it closed
   * its socket with bytes of ours unread, so the kernel sent RST and dropped
   * what the server had sent last).
   */
  | "reset"
  /** Neither within the idle bound: the server waits for more (an unfinished frame, say). */
  | "timeout"
  /** Not even the server's HELLO arrived: the server stopped serving. */
  | "silent";

/** What came back for one mutation. */
export interface Outcome {
  /** How it ended. */
  kind: OutcomeKind;
  /** The CLOSE's reason, when there was one. */
  reason: string | null;
  /** Frames received (the HELLO included). */
  frames: number;
  /** The raw peer's local port: how the server names the connection (`tcp 127.0.0.1:port`). */
  port: number;
}

/** Time bounds of one exchange. */
export interface ExchangeBounds {
  /** Milliseconds without a byte from the server after the traffic is sent: then it is over. */
  idleMs: number;
  /** Milliseconds a replay waits for the server frames the next one answers. */
  stepMs: number;
  /** Milliseconds the whole exchange may take. */
  capMs: number;
}

/** The default bounds of an exchange. */
export const DEFAULT_BOUNDS: ExchangeBounds = { idleMs: 200, stepMs: 100, capMs: 5_000 };

/** Whole frames larger than this are skipped unread by the raw peer. */
const READ_KEEP = 256 * 1024;

/** The raw peer's view of what the server sent. */
class Listener {
  frames = 0;
  greeted = false;
  reason: string | null = null;
  answered = false;
  ended = false;
  /** The stream ended with an error (a reset), not cleanly. */
  reset = false;
  lastByte = performance.now();
  #wake: (() => void) | null = null;
  readonly #splitter = new FrameSplitter(READ_KEEP);

  /** Resolves at the next event (bytes, end), or after `ms`. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  get done(): boolean {
    return this.ended || this.reason !== null || this.answered;
  }

  feed(bytes: Uint8Array): void {
    this.lastByte = performance.now();
    for (const frame of this.#splitter.push(bytes)) {
      this.frames++;
      if (!frame.chunk && frame.payload.length > 0) this.#inspect(frame.payload);
      this.greeted = true;
    }
    this.#wake?.();
  }

  /** The stream ended (the server closed it, unless this end did: see `stop`). */
  end(reset: boolean): void {
    if (this.#stopped) return;
    this.ended = true;
    this.reset = reset;
    this.#wake?.();
  }

  #stopped = false;

  /** This end is about to close the connection: the end that follows is not the server's doing. */
  stop(): void {
    this.#stopped = true;
  }

  #inspect(payload: Uint8Array): void {
    const body = decodeBody(payload);
    const message = body?.message;
    if (!Array.isArray(message)) return;
    if (message[0] === MSG.CLOSE) this.reason = String(message[1]);
    if ((message[0] === MSG.REPLY || message[0] === MSG.THROW) && message[1] === SENTINEL_SEQ) {
      this.answered = true;
    }
  }
}

/**
 * Sends one mutation on a raw TCP connection to `port` and reads what comes
 * back until a CLOSE, the end of the stream, the sentinel's answer or a
 * bound. Closes the connection before it returns.
 *
 * @throws {FuzzFailure} when the server does not take the connection.
 */
export async function exchange(
  port: number,
  mutation: Mutation,
  bounds: ExchangeBounds,
): Promise<Outcome> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    throw new FuzzFailure(`the server stopped accepting connections: ${error}`);
  }
  conn.setNoDelay(true);
  const started = performance.now();
  const listener = new Listener();
  const reading = readAll(conn, listener);
  const timeLeft = () => bounds.capMs - (performance.now() - started);
  let cap: ReturnType<typeof setTimeout> | undefined;
  try {
    // A server that reads nothing (it waits for budget, say) blocks the writes: the cap ends them.
    await Promise.race([
      send(conn, mutation, listener, bounds),
      new Promise((resolve) => cap = setTimeout(resolve, Math.max(0, timeLeft()))),
    ]);
    clearTimeout(cap);
    const sent = performance.now();
    while (!listener.done && timeLeft() > 0) {
      const quiet = performance.now() - Math.max(sent, listener.lastByte);
      if (quiet >= bounds.idleMs && listener.greeted) break;
      await listener.next(Math.min(bounds.idleMs - quiet + 1, timeLeft()));
    }
  } finally {
    clearTimeout(cap);
    listener.stop();
    try {
      conn.close();
    } catch {
      // The server closed it first.
    }
    await reading;
  }
  const kind: OutcomeKind = listener.reason !== null
    ? "closed"
    : listener.answered
    ? "answered"
    : listener.ended
    ? (listener.reset ? "reset" : "eof")
    : listener.greeted
    ? "timeout"
    : "silent";
  return { kind, reason: listener.reason, frames: listener.frames, port: conn.localAddr.port };
}

async function readAll(conn: Deno.Conn, listener: Listener): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let reset = false;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      listener.feed(buffer.subarray(0, n));
    }
  } catch {
    reset = true; // by the server (or closed here, which the listener ignores)
  }
  listener.end(reset);
}

/**
 * Writes the HELLO, the traffic and the sentinel. Before a frame that was
 * sent in answer to server frames, it waits (a bounded while) for as many
 * to have arrived, so replies do not overtake the calls they answer.
 */
async function send(
  conn: Deno.Conn,
  mutation: Mutation,
  listener: Listener,
  bounds: ExchangeBounds,
): Promise<void> {
  const write = (frames: Frame[]) => writeBytes(conn, frameBytes(frames), mutation.trickle);
  try {
    let batch: Frame[] = [...mutation.hello];
    for (const { frame, after } of mutation.frames) {
      // The server's HELLO is not counted in `after`.
      if (after > 0 && listener.frames - 1 < after && !listener.done) {
        await write(batch);
        batch = [];
        while (listener.frames - 1 < after && !listener.done) {
          const before = listener.frames;
          await listener.next(bounds.stepMs);
          if (listener.frames === before) break; // nothing more is coming: go on regardless
        }
      }
      if (listener.ended) return;
      batch.push(frame);
    }
    batch.push(sentinelFrame());
    await write(batch);
  } catch {
    // The server closed the connection under us: what it said is in the listener.
  }
}

/** How many bytes a trickled exchange sends in tiny writes before sending the rest at once. */
const TRICKLE_BYTES = 2_048;

/** Writes `bytes`; with `trickle`, the first {@linkcode TRICKLE_BYTES} in tiny writes. */
async function writeBytes(conn: Deno.Conn, bytes: Uint8Array, trickle: boolean): Promise<void> {
  let at = 0;
  if (trickle) {
    let step = 1;
    while (at < Math.min(bytes.length, TRICKLE_BYTES)) {
      at += await conn.write(bytes.subarray(at, at + step));
      step = (step % 7) + 1;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  await writeAll(conn, bytes.subarray(at));
}

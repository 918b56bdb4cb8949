/**
 * A raw TCP peer for handshake and hostile-peer tests: it reads and writes
 * frames by hand, without the library's connection engine, so a test can send
 * anything at all and see exactly what comes back. The wire numbers below are
 * written out here on purpose (not imported from core/) so the tests check the
 * protocol as core/PROTOCOL.md describes it.
 */

import { Decoder } from "@msgpack/msgpack";
import { rawFrame, writeAll } from "./_helpers.ts";

/** Message types: the first element of every frame. */
export const MSG = { HELLO: 0, REQUEST: 1, REPLY: 2, RELEASE: 4, CLOSE: 7 } as const;
/** Request operations. */
export const OP = { GET: 0, CALL: 1, SET: 3, PING: 10 } as const;
/** MessagePack extension types inside boxed values. */
export const EXT = { BACKREF: 5, EXPORT: 6, IMPORT: 7, TAG_ERROR: 22, TAG_PATH: 23 } as const;

/** What {@linkcode RawPeer.readFrame} returns once the other end has closed. */
export const EOF = Symbol("eof");

/** A raw TCP peer that reads and writes frames by hand. */
export class RawPeer {
  readonly conn: Deno.Conn;
  #buffer = new Uint8Array(0);
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  send(message: unknown): Promise<void> {
    return writeAll(this.conn, rawFrame(message));
  }

  sendBytes(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Reads more bytes; false at end of stream. Closes the socket and throws on timeout. */
  async #more(timeoutMs: number): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const read = this.conn.read(chunk).catch((error) => {
      if (error instanceof Deno.errors.ConnectionReset || this.#closed) return null;
      throw error;
    });
    const n = await Promise.race([read, timeout]).finally(() => clearTimeout(timer));
    if (n === "timeout") {
      this.close();
      await read.catch(() => {});
      throw new Error(`raw peer: nothing read within ${timeoutMs} ms`);
    }
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  /** The next decoded frame, or EOF. */
  async readFrame(timeoutMs = 3000): Promise<unknown> {
    while (true) {
      if (this.#buffer.length >= 4) {
        const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0);
        if (this.#buffer.length >= 4 + length) {
          const payload = this.#buffer.slice(4, 4 + length);
          this.#buffer = this.#buffer.slice(4 + length);
          return new Decoder().decode(payload);
        }
      }
      if (!(await this.#more(timeoutMs))) return EOF;
    }
  }

  /** Every frame until the peer closes. */
  async readToEnd(timeoutMs = 3000): Promise<unknown[]> {
    const frames: unknown[] = [];
    while (true) {
      const frame = await this.readFrame(timeoutMs);
      if (frame === EOF) return frames;
      frames.push(frame);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** The reason in the first Close frame among `frames`, if there is one. */
export function closeReason(frames: unknown[]): string | undefined {
  const close = frames.find((f) => Array.isArray(f) && f[0] === MSG.CLOSE) as
    | [number, string]
    | undefined;
  return close?.[1];
}

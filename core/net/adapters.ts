/**
 * Transports over what Deno and Node hand out: a `Deno.Conn` (TCP, unix
 * socket, TLS), a pair of web streams, a Node.js socket, a WebSocket. Each
 * adapts its carrier to the one {@linkcode Transport} interface the wire
 * layer reads.
 *
 * @module
 */

import { ConnectionClosedError, peerFault } from "../errors.ts";
import type { ByteStreams, Transport } from "../wire/transport.ts";

/** Adapts a `Deno.Conn` (TCP, unix socket or TLS). Turns on TCP_NODELAY when it exists. */
export function transportFromConn(conn: Deno.Conn, description: string): Transport {
  (conn as Deno.TcpConn).setNoDelay?.(true);
  let closed = false;
  return {
    description,
    async read(into) {
      try {
        return await conn.read(into);
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) return null;
        throw error;
      }
    },
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Already closed by the peer or the runtime: nothing left to release.
      }
    },
    closeWrite() {
      conn.closeWrite().catch(() => {});
    },
  };
}

/** Adapts a pair of web streams (a child's stdio, an in-memory pipe, anything). */
export function transportFromStreams(streams: ByteStreams, description: string): Transport {
  const reader = streams.readable.getReader();
  const writer = streams.writable.getWriter();
  let leftover: Uint8Array | null = null;
  let closed = false;
  return {
    description,
    async read(into) {
      if (!leftover) {
        const { value, done } = await reader.read().catch((error) => {
          if (closed) return { value: undefined, done: true as const };
          throw error;
        });
        if (done || !value) return null;
        leftover = value;
      }
      const count = Math.min(into.length, leftover.length);
      into.set(leftover.subarray(0, count));
      leftover = count === leftover.length ? null : leftover.subarray(count);
      return count;
    },
    async write(bytes) {
      await writer.write(bytes);
    },
    close() {
      if (closed) return;
      closed = true;
      reader.cancel().catch(() => {});
      writer.close().catch(() => {});
    },
    closeWrite() {
      writer.close().catch(() => {});
    },
  };
}

/**
 * The slice of a Node.js socket ({@linkcode transportFromNodeSocket} needs):
 * `node:net` and `node:tls` sockets have it.
 */
export interface NodeSocket {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  write(bytes: Uint8Array, done: (error?: Error | null) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  end(): unknown;
  destroy(): unknown;
}

/** Bytes buffered from a Node socket before it is paused. */
const NODE_HIGH_WATER = 1024 * 1024;

/**
 * Adapts a Node.js socket (what `node:tls` hands out): its events become
 * `read`s, with the socket paused while 1 MiB waits unread.
 */
export function transportFromNodeSocket(socket: NodeSocket, description: string): Transport {
  const queue = new ChunkQueue();
  socket.on("data", (chunk) => {
    queue.push(chunk);
    if (queue.size > NODE_HIGH_WATER) socket.pause();
  });
  socket.on("end", () => queue.end());
  socket.on("close", () => queue.end());
  socket.on("error", (error) => queue.fail(error, true));
  return {
    description,
    async read(into) {
      const count = await queue.read(into);
      if (queue.size <= NODE_HIGH_WATER / 2) socket.resume();
      return count;
    },
    write(bytes) {
      return new Promise((resolve, reject) => {
        socket.write(bytes, (error) => error ? reject(error) : resolve());
      });
    },
    close() {
      if (queue.closed) return;
      queue.close();
      socket.destroy();
    },
    closeWrite() {
      socket.end();
    },
  };
}

/** Options of {@linkcode transportFromWebSocket}. */
export interface WebSocketTransportOptions {
  /**
   * Bytes received and not yet read that may wait; more, and the connection
   * is closed (a WebSocket cannot be told to stop sending). Default 16 MiB.
   */
  readAhead?: number;
  /** Bytes queued in the socket, not yet on the network, beyond which a write waits. Default 2 MiB. */
  highWater?: number;
}

/** Default of {@linkcode WebSocketTransportOptions.readAhead}. */
export const WEBSOCKET_READ_AHEAD = 16 * 1024 * 1024;
/** Default of {@linkcode WebSocketTransportOptions.highWater}. */
const WEBSOCKET_HIGH_WATER = 2 * 1024 * 1024;
/** The longest pause between two looks at a full socket's `bufferedAmount`. */
const DRAIN_POLL_MAX_MS = 50;

/** Close codes this adapter sends (the standard one, then its private-range twin). */
const CLOSE_NORMAL = 1000;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_TOO_BIG = 1009;
/** Close codes that end a connection cleanly: normal, going away, no code given. */
const CLEAN_CLOSE_CODES = new Set([1000, 1001, 1005]);

/**
 * Adapts a WebSocket (the client's `new WebSocket(url)`, or the server's
 * from `Deno.upgradeWebSocket`) to a byte stream: each `write` goes as one
 * binary message, and binary messages received are read back to back as a
 * stream, whatever their sizes. The socket may still be connecting; nothing
 * may be written before it is open.
 *
 * Contract: a text message is a protocol error: the socket is closed (code
 * 1003), and the next read throws a `ProtocolError` saying so. A WebSocket
 * cannot pause its sender, so received bytes wait in a queue bounded by
 * `readAhead`: a peer that sends more while nothing reads is cut off the
 * same way (code 1009). A write waits while more than `highWater` bytes are
 * queued in the socket, so a peer that stops reading stalls our writes (the
 * framing's `drainTimeout` then closes the connection) instead of making us
 * queue without bound. The peer closing the socket ends the stream: cleanly
 * (codes 1000, 1001, 1005: `read` returns null once the queue is empty),
 * otherwise with a `ConnectionClosedError` naming the code and reason.
 */
export function transportFromWebSocket(
  socket: WebSocket,
  description: string,
  options: WebSocketTransportOptions = {},
): Transport {
  const readAhead = options.readAhead ?? WEBSOCKET_READ_AHEAD;
  const highWater = options.highWater ?? WEBSOCKET_HIGH_WATER;
  socket.binaryType = "arraybuffer";
  const queue = new ChunkQueue();
  /** The close code and reason this end sends when it closes the socket. */
  let closing: [number, string] = [CLOSE_NORMAL, ""];
  const closeSocket = () => {
    const [code, reason] = closing;
    // Browsers let scripts send 1000 and 3000-4999 only: 1003 and 1009 become 4003 and 4009.
    for (const attempt of [code, code === CLOSE_NORMAL ? code : code + 3000]) {
      try {
        return socket.close(attempt, truncateReason(reason));
      } catch {
        // Refused code (or already closed): try the next, then give up.
      }
    }
  };
  /** Drops what is queued and closes the socket with `code` and `reason`: the next read throws. */
  const abandon = (code: number, reason: string) => {
    queue.clear();
    closing = [code, reason];
    closeSocket();
    queue.fail(peerFault(`${description} ${reason}`));
  };
  socket.addEventListener("message", (event: MessageEvent) => {
    if (queue.closed || queue.failure) return;
    const data = event.data;
    if (!(data instanceof ArrayBuffer)) {
      return abandon(
        CLOSE_UNSUPPORTED_DATA,
        "sent a text message: rdc over WebSocket uses binary messages",
      );
    }
    if (data.byteLength === 0) return;
    if (queue.size + data.byteLength > readAhead) {
      return abandon(
        CLOSE_TOO_BIG,
        `sent more than ${readAhead} bytes ahead of what was read (a WebSocket cannot be paused)`,
      );
    }
    queue.push(new Uint8Array(data));
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    if (!queue.closed && !CLEAN_CLOSE_CODES.has(event.code)) {
      const why = event.reason ? `: ${event.reason}` : "";
      queue.fail(
        new ConnectionClosedError(
          event.code === 1006 || !event.code
            ? `${description}: the WebSocket connection was lost`
            : `${description} closed the WebSocket (code ${event.code})${why}`,
        ),
      );
    }
    queue.end();
  });
  return {
    description,
    read: (into) => queue.read(into),
    async write(bytes) {
      if (queue.failure) throw queue.failure;
      if (queue.closed || socket.readyState !== WebSocket.OPEN) {
        throw new ConnectionClosedError(`${description}: the WebSocket is closed`);
      }
      // send() copies the bytes (the caller may reuse them at once) and queues them.
      socket.send(bytes);
      for (let pause = 1; socket.bufferedAmount > highWater;) {
        const before = socket.bufferedAmount;
        await new Promise((resolve) => setTimeout(resolve, pause));
        if (queue.closed || queue.failure || socket.readyState !== WebSocket.OPEN) {
          throw queue.failure ??
            new ConnectionClosedError(`${description}: the WebSocket is closed`);
        }
        // Look again soon while it drains; back off while the peer reads nothing.
        pause = socket.bufferedAmount < before ? 1 : Math.min(2 * pause, DRAIN_POLL_MAX_MS);
      }
    },
    close() {
      if (queue.closed) return;
      queue.clear();
      queue.close();
      closeSocket();
    },
  };
}

/**
 * Bytes that arrived as events (a Node socket's, a WebSocket's), waiting
 * for `read`s. Contract: one reader at a time. A read returns what is
 * queued first; once nothing is, it returns null when this end closed,
 * throws the failure if there was one, returns null at the end, or waits.
 */
class ChunkQueue {
  #chunks: Uint8Array[] = [];
  /** Bytes queued. */
  size = 0;
  #ended = false;
  #closed = false;
  #failure: Error | null = null;
  #wake: (() => void) | null = null;

  /** Whether this end closed it: reads return null from now on. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The first failure, if any. */
  get failure(): Error | null {
    return this.#failure;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.size += chunk.length;
    this.#notify();
  }

  /** No more bytes will come. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** The stream broke: reads throw `error` (the first failure counts). */
  fail(error: Error, replace = false): void {
    if (replace || this.#failure === null) this.#failure = error;
    this.#notify();
  }

  /** Drops what is queued. */
  clear(): void {
    this.#chunks.length = 0;
    this.size = 0;
  }

  /** This end closed: reads return what is queued, then null. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  async read(into: Uint8Array): Promise<number | null> {
    while (this.size === 0) {
      if (this.#closed) return null;
      if (this.#failure) throw this.#failure;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const head = this.#chunks[0];
    const count = Math.min(into.length, head.length);
    into.set(head.subarray(0, count));
    if (count === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(count);
    this.size -= count;
    return count;
  }

  #notify(): void {
    this.#wake?.();
    this.#wake = null;
  }
}

/** A close reason within the 123 bytes the protocol allows. */
function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "") + "…";
}

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
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  socket.on("data", (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    if (buffered > NODE_HIGH_WATER) socket.pause();
    notify();
  });
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  socket.on("error", (error) => {
    failure = error;
    notify();
  });
  let closed = false;
  return {
    description,
    async read(into) {
      while (chunks.length === 0) {
        if (closed) return null;
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((resolve) => wake = resolve);
      }
      const head = chunks[0];
      const count = Math.min(into.length, head.length);
      into.set(head.subarray(0, count));
      if (count === head.length) chunks.shift();
      else chunks[0] = head.subarray(count);
      buffered -= count;
      if (buffered <= NODE_HIGH_WATER / 2) socket.resume();
      return count;
    },
    write(bytes) {
      return new Promise((resolve, reject) => {
        socket.write(bytes, (error) => error ? reject(error) : resolve());
      });
    },
    close() {
      if (closed) return;
      closed = true;
      socket.destroy();
      notify();
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
  const chunks: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let closed = false;
  let failure: Error | null = null;
  /** The close code and reason this end sends when it closes the socket. */
  let closing: [number, string] = [CLOSE_NORMAL, ""];
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
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
    failure ??= peerFault(`${description} ${reason}`);
    chunks.length = 0;
    queued = 0;
    closing = [code, reason];
    closeSocket();
    notify();
  };
  socket.addEventListener("message", (event: MessageEvent) => {
    if (closed || failure) return;
    const data = event.data;
    if (!(data instanceof ArrayBuffer)) {
      return abandon(
        CLOSE_UNSUPPORTED_DATA,
        "sent a text message: rdc over WebSocket uses binary messages",
      );
    }
    if (data.byteLength === 0) return;
    if (queued + data.byteLength > readAhead) {
      return abandon(
        CLOSE_TOO_BIG,
        `sent more than ${readAhead} bytes ahead of what was read (a WebSocket cannot be paused)`,
      );
    }
    chunks.push(new Uint8Array(data));
    queued += data.byteLength;
    notify();
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    ended = true;
    if (!closed && !CLEAN_CLOSE_CODES.has(event.code)) {
      const why = event.reason ? `: ${event.reason}` : "";
      failure ??= new ConnectionClosedError(
        event.code === 1006 || !event.code
          ? `${description}: the WebSocket connection was lost`
          : `${description} closed the WebSocket (code ${event.code})${why}`,
      );
    }
    notify();
  });
  socket.addEventListener("error", () => notify());
  return {
    description,
    async read(into) {
      while (queued === 0) {
        if (closed) return null;
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((resolve) => wake = resolve);
      }
      const head = chunks[0];
      const count = Math.min(into.length, head.length);
      into.set(head.subarray(0, count));
      if (count === head.length) chunks.shift();
      else chunks[0] = head.subarray(count);
      queued -= count;
      return count;
    },
    async write(bytes) {
      if (failure) throw failure;
      if (closed || socket.readyState !== WebSocket.OPEN) {
        throw new ConnectionClosedError(`${description}: the WebSocket is closed`);
      }
      // send() copies the bytes (the caller may reuse them at once) and queues them.
      socket.send(bytes);
      for (let pause = 1; socket.bufferedAmount > highWater;) {
        const before = socket.bufferedAmount;
        await new Promise((resolve) => setTimeout(resolve, pause));
        if (closed || failure || socket.readyState !== WebSocket.OPEN) {
          throw failure ?? new ConnectionClosedError(`${description}: the WebSocket is closed`);
        }
        // Look again soon while it drains; back off while the peer reads nothing.
        pause = socket.bufferedAmount < before ? 1 : Math.min(2 * pause, DRAIN_POLL_MAX_MS);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      chunks.length = 0;
      queued = 0;
      closeSocket();
      notify();
    },
  };
}

/** A close reason within the 123 bytes the protocol allows. */
function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "") + "…";
}

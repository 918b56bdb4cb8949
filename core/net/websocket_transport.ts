/**
 * A WebSocket as a byte stream for rdc's framing: the adapter both the
 * Deno server's sockets and a browser's (or Deno's) client sockets use. Only
 * web APIs: the browser entry (web.ts) reaches this file.
 *
 * @module
 */

import { ConnectionClosedError, peerFault } from "../errors.ts";
import type { Transport } from "../wire/transport.ts";
import { ChunkQueue } from "./chunk_queue.ts";

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
      // send() copies the bytes (the caller may reuse them at once) and queues them. The
      // framing writes ordinary (never shared) buffers, which browsers' types insist on.
      socket.send(bytes as Uint8Array<ArrayBuffer>);
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

/** A close reason within the 123 bytes the protocol allows. */
function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "") + "…";
}

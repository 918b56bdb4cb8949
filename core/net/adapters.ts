/**
 * Transports over what Deno and Node hand out: a `Deno.Conn` (TCP, unix
 * socket, TLS), a pair of web streams, a Node.js socket. Each adapts its
 * carrier to the one {@linkcode Transport} interface the wire layer reads
 * (a WebSocket's adapter, which browsers use too, is in
 * `websocket_transport.ts`).
 *
 * @module
 */

import type { ByteStreams, Transport } from "../wire/transport.ts";
import { ChunkQueue } from "./chunk_queue.ts";

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

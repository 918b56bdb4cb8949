/**
 * The client side of one registry request: send it, wait for its reply.
 *
 * @module
 */

import dgram from "node:dgram";
import { transportFromConn } from "../net/adapters.ts";
import { closeQuietly, deadline, readFrame, writeFrame } from "./tcp_frames.ts";

/** How many times a UDP request is sent, at most, within its timeout. */
const SENDS = 4;

/**
 * Sends `message` in a datagram from a fresh socket, {@linkcode SENDS} times
 * spread over `timeoutMs` until an answer comes, and resolves with the first
 * datagram `accept` takes (returns something other than `undefined` for), or
 * `undefined` after `timeoutMs`. `accept` is told the address each datagram came from. Every request is idempotent, so a registry
 * that gets two copies answers both the same. The socket may broadcast: a
 * broadcast address reaches every registry on the local network, and the
 * first to answer wins (RPyC's `UDPRegistryClient`).
 */
export async function udpRoundTrip<T>(
  host: string,
  port: number,
  message: Uint8Array,
  accept: (datagram: Uint8Array, from: string) => T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const ipv6 = host.includes(":");
  const socket = dgram.createSocket(ipv6 ? "udp6" : "udp4");
  const reply = Promise.withResolvers<T | undefined>();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on("error", reply.reject);
    socket.on("message", (datagram: Uint8Array, sender: dgram.RemoteInfo) => {
      const accepted = accept(datagram, sender.address);
      if (accepted !== undefined) reply.resolve(accepted);
    });
    if (!ipv6) socket.setBroadcast(true);
    const send = () => socket.send(message, port, host, (error) => error && reply.reject(error));
    send();
    // Datagrams get lost (a registry's full receive buffer drops them): send again meanwhile.
    const resending = setInterval(send, timeoutMs / SENDS);
    try {
      using _ = deadline(timeoutMs, () => reply.resolve(undefined));
      return await reply.promise;
    } finally {
      clearInterval(resending);
    }
  } finally {
    await new Promise<void>((resolve) => socket.close(resolve));
  }
}

/**
 * Connects to `host:port`, sends `message` as a frame and resolves with the
 * reply frame's message; the connection carries nothing else.
 *
 * @throws {Error} when the connection fails, ends early, or no reply comes within `timeoutMs`.
 */
export function tcpRoundTrip(
  host: string,
  port: number,
  message: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  return overTcp(host, port, timeoutMs, async (conn) => {
    const transport = transportFromConn(conn, `tcp ${host}:${port}`);
    await writeFrame(transport, message);
    return await readFrame(transport);
  });
}

/**
 * Runs `exchange` on a fresh connection to `host:port`, which it closes
 * afterwards; the whole (connecting included) must end within `timeoutMs`.
 *
 * @throws {Error} when the connection fails, `exchange` throws, or time runs out.
 */
export async function overTcp<T>(
  host: string,
  port: number,
  timeoutMs: number,
  exchange: (conn: Deno.Conn) => Promise<T>,
): Promise<T> {
  const connecting = new AbortController();
  let conn: Deno.Conn | undefined;
  using timer = deadline(timeoutMs, () => {
    connecting.abort();
    closeQuietly(conn);
  });
  try {
    conn = await Deno.connect({ hostname: host, port, signal: connecting.signal });
    return await exchange(conn);
  } catch (error) {
    throw timer.expired ? new Error(`no reply within ${timeoutMs} ms`) : error;
  } finally {
    closeQuietly(conn);
  }
}

/**
 * Python RPyC's registry protocol, so rdc's registry client can use a
 * Python `rpyc_registry`: each request is `brine(("RPYC", COMMAND, args))`
 * in one datagram (UDP) or one write on a connection of its own (TCP, no
 * framing: the registry reads one `recv`, answers and closes), and the
 * reply is one brine value.
 *
 * | command    | args                  | reply                          |
 * |------------|-----------------------|--------------------------------|
 * | QUERY      | `(name,)`             | `((host, port), …)`            |
 * | LIST       | `((None,),)`          | `(NAME, …)`, or None if denied |
 * | REGISTER   | `((alias, …), port)`  | `"OK"`                         |
 * | UNREGISTER | `(port,)`             | `"OK"`                         |
 *
 * @module
 */

import { decodeBrine, encodeBrine } from "../python/brine.ts";
import type { Reply, RequestBody } from "./messages.ts";
import { overTcp } from "./round_trip.ts";

/** Python's `MAX_DGRAM_SIZE`, the most a TCP registry reads of a request. */
const MAX_DGRAM_SIZE = 1500;
/** The most read of a reply (Python lists up to ten datagrams' worth). */
const MAX_REPLY_SIZE = 64 * 1024;

/** `request` as RPyC's registry reads it. */
export function encodeRpycRequest(request: RequestBody): Uint8Array {
  switch (request.command) {
    case "QUERY":
      return encodeBrine(["RPYC", "QUERY", [request.name]]);
    case "LIST":
      return encodeBrine(["RPYC", "LIST", [[null]]]);
    case "REGISTER":
      return encodeBrine(["RPYC", "REGISTER", [request.names, request.port]]);
    case "UNREGISTER":
      return encodeBrine(["RPYC", "UNREGISTER", [request.port]]);
    default:
      request satisfies never;
      throw new TypeError("unknown registry command");
  }
}

/** The reply to `request`, or undefined when `bytes` is not one (malformed brine, a wrong shape). */
export function parseRpycReply(bytes: Uint8Array, request: RequestBody): Reply | undefined {
  let value: unknown;
  try {
    value = decodeBrine(bytes, { maxDepth: 4, maxElements: 100_000 });
  } catch {
    return undefined;
  }
  switch (request.command) {
    case "QUERY": {
      if (!Array.isArray(value)) return undefined;
      const servers = [];
      for (const entry of value) {
        if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "number") {
          return undefined;
        }
        servers.push({ host: entry[0], port: entry[1] });
      }
      return { servers };
    }
    case "LIST":
      if (value === null) return { error: "listing is disabled" };
      if (!Array.isArray(value) || !value.every((n) => typeof n === "string")) return undefined;
      return { names: [...value] as string[] };
    case "REGISTER":
    case "UNREGISTER":
      return value === "OK" ? { ok: true } : undefined;
    default:
      request satisfies never;
      return undefined;
  }
}

/**
 * Sends `message` over a fresh TCP connection and reads the reply until the
 * registry closes (RPyC's `TCPRegistryClient`).
 *
 * @throws {Error} when the connection fails or nothing comes within `timeoutMs`.
 */
export function rpycTcpRoundTrip(
  host: string,
  port: number,
  message: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  if (message.length > MAX_DGRAM_SIZE) {
    throw new RangeError(`a registry request of ${message.length} bytes is over ${MAX_DGRAM_SIZE}`);
  }
  return overTcp(host, port, timeoutMs, async (conn) => {
    for (let sent = 0; sent < message.length;) sent += await conn.write(message.subarray(sent));
    const reply = new Uint8Array(MAX_REPLY_SIZE);
    let filled = 0;
    for (;;) {
      const n = await conn.read(reply.subarray(filled));
      if (n === null) return reply.slice(0, filled);
      filled += n;
      if (filled === reply.length) return reply;
    }
  });
}

/**
 * The raw baseline: a TCP ping-pong written directly on `Deno.Conn`
 * (`read`/`write`, TCP_NODELAY on both ends), with no framing library, no
 * codec and no promises beyond the runtime's own.
 *
 * A client opens a connection and sends a 12-byte header: the request size,
 * the reply size and a mode (three big-endian u32). From then on, each time
 * the server has read a whole request it writes one reply of the agreed size.
 * The bench sets both sizes to the byte counts an rdc call puts on the wire,
 * so the baseline moves the same bytes each way.
 *
 * In the fresh mode (an echo: both sizes equal), each end does with memory
 * what sending and receiving a value must: the sender copies the value into
 * a new buffer (it sends the value as it was), and the receiver reads into a
 * new buffer (the value it gets is its own), which the server echoes back.
 * The plain mode reuses warm buffers throughout.
 *
 * @module
 */

import { SLICE_MS } from "../core/wire/slicing.ts";
import type { PullResult } from "./peer.ts";
import { pingWhile } from "./pings.ts";
import { buildTableInSlices, type Row } from "./table.ts";

/** Serves the ping-pong on `listener` until it closes. */
export async function serveRaw(listener: Deno.Listener): Promise<void> {
  try {
    for await (const conn of listener) void echo(conn);
  } catch {
    // Listener closed.
  }
}

async function echo(conn: Deno.Conn): Promise<void> {
  (conn as Deno.TcpConn).setNoDelay(true);
  try {
    const header = new Uint8Array(12);
    if (!(await readFully(conn, header))) return;
    const view = new DataView(header.buffer);
    const requestSize = view.getUint32(0);
    if (view.getUint32(8) === FRESH) {
      while (true) {
        const value = new Uint8Array(requestSize);
        if (!(await readFully(conn, value))) return;
        await writeFully(conn, value);
      }
    }
    const reply = new Uint8Array(view.getUint32(4)).fill(0x5a);
    const buffer = new Uint8Array(Math.max(requestSize, 4096));
    let received = 0;
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) return;
      received += count;
      while (received >= requestSize) {
        received -= requestSize;
        await writeFully(conn, reply);
      }
    }
  } catch {
    // The client went away.
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

/** The header's mode of a fresh echo. */
const FRESH = 1;

/** One client connection of the ping-pong. */
export class RawClient {
  readonly #conn: Deno.TcpConn;
  readonly #request: Uint8Array;
  readonly #reply: Uint8Array;
  readonly #fresh: boolean;

  private constructor(conn: Deno.TcpConn, requestSize: number, replySize: number, fresh: boolean) {
    this.#conn = conn;
    this.#request = new Uint8Array(requestSize).fill(0xa5);
    this.#reply = new Uint8Array(fresh ? 0 : replySize);
    this.#fresh = fresh;
  }

  /**
   * Connects and agrees the sizes: `requestSize` bytes out, `replySize` back
   * per round trip; `fresh` (an echo) uses new memory as a value echo must.
   */
  static async open(
    port: number,
    requestSize: number,
    replySize: number,
    fresh = false,
  ): Promise<RawClient> {
    if (fresh && requestSize !== replySize) throw new RangeError("a fresh echo has one size");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const header = new Uint8Array(12);
    const view = new DataView(header.buffer);
    view.setUint32(0, requestSize);
    view.setUint32(4, replySize);
    view.setUint32(8, fresh ? FRESH : 0);
    await writeFully(conn, header);
    return new RawClient(conn, requestSize, replySize, fresh);
  }

  /** Bytes sent per round trip. */
  get requestSize(): number {
    return this.#request.length;
  }

  /** Bytes received per round trip. */
  get replySize(): number {
    return this.#fresh ? this.#request.length : this.#reply.length;
  }

  /** One round trip: write the request, read the whole reply. */
  async roundTrip(): Promise<void> {
    if (this.#fresh) {
      const value = new Uint8Array(this.#request.length);
      value.set(this.#request);
      await writeFully(this.#conn, value);
      const back = new Uint8Array(value.length);
      if (!(await readFully(this.#conn, back))) throw new Error("raw server closed");
      return;
    }
    await writeFully(this.#conn, this.#request);
    if (!(await readFully(this.#conn, this.#reply))) throw new Error("raw server closed");
  }

  /** Closes the connection. */
  close(): void {
    this.#conn.close();
  }
}

async function writeFully(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Fills `into`; false if the stream ended first. */
async function readFully(conn: Deno.Conn, into: Uint8Array): Promise<boolean> {
  let offset = 0;
  while (offset < into.length) {
    const count = await conn.read(into.subarray(offset));
    if (count === null) return false;
    offset += count;
  }
  return true;
}

/**
 * Microseconds per new raw connection plus one round trip of the given sizes
 * (the physical floor under "connect and first call").
 */
export async function rawConnect(
  port: number,
  requestSize: number,
  replySize: number,
  count: number,
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const client = await RawClient.open(port, requestSize, replySize);
    await client.roundTrip();
    client.close();
  }
  return ((performance.now() - start) * 1000) / count;
}

/**
 * The floor under the "ping during a pull" scenario: pings on `client`
 * while this process builds the same `rows` rows in the slices rdc decodes
 * in ({@linkcode SLICE_MS}), without any protocol. Its worst ping is what
 * making that many objects costs a Deno program's event loop (mostly the
 * garbage collector's pauses), whoever makes them.
 */
export async function rawPull(client: RawClient, rows: number): Promise<PullResult> {
  (globalThis as { gc?: () => void }).gc?.();
  let table: Row[] = [];
  const result = await pingWhile(
    () => client.roundTrip(),
    async () => void (table = await buildTableInSlices(rows, SLICE_MS)),
  );
  if (table.length !== rows) throw new Error(`raw pull: ${table.length} rows, not ${rows}`);
  return result;
}

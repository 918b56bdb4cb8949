/**
 * rdc as a bench {@linkcode Peer}: a classic connection from this process to
 * the bench server process (`../server.ts`), and, for the synchronous call,
 * a synchronous connection to the same server (opened on first use: its I/O
 * worker thread starts only in the runs that measure it).
 *
 * @module
 */

import {
  classic,
  connect,
  type Connection,
  connectSync,
  type SyncConnection,
  transfer,
} from "../../mod.ts";
import { type BenchServer, startServer } from "../child.ts";
import type { ChurnResult, DelayedResult, Peer, PullResult, SoakResult } from "../peer.ts";
import { pingWhile } from "../pings.ts";
import { timeBatch, timeItems, timeStreams, timeSyncBatch } from "../scenarios.ts";
import type { Row } from "../table.ts";

const gc = (globalThis as { gc?: () => void }).gc;

/** rdc, driven from this process. */
export class RdcPeer implements Peer {
  readonly name = "rdc";
  readonly server: BenchServer;
  readonly conn: classic.ClassicConnection;
  /** Echoes go on a connection of their own: a value too big for it closes it, not `conn`. */
  #bulk: Connection | null = null;
  /** The synchronous connection and its `add`, fetched once; made by the first `syncCall`. */
  #sync: { conn: SyncConnection; add: (a: number, b: number) => number } | null = null;

  private constructor(server: BenchServer, conn: classic.ClassicConnection) {
    this.server = server;
    this.conn = conn;
  }

  /** Starts the server process (with `denoFlags`, e.g. `--cpu-prof`) and connects. */
  static async start(denoFlags: string[] = []): Promise<RdcPeer> {
    const server = await startServer(denoFlags);
    try {
      return new RdcPeer(server, await classic.connect("127.0.0.1", server.rdcPort));
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** The rdc server's port. */
  get port(): number {
    return this.server.rdcPort;
  }

  call(ms: number): Promise<number> {
    const root = this.conn.root;
    return timeBatch(() => root.add(1, 2), ms);
  }

  /**
   * Microseconds per synchronous `add(1, 2)` over a batch of at least `ms`,
   * on a synchronous connection to the same server: `add` is read once
   * (`syncConn.root.add`, a round trip that gives the function's netref),
   * then each call blocks in `Atomics.wait` until its answer arrives.
   */
  // deno-lint-ignore require-await
  async syncCall(ms: number): Promise<number> {
    if (!this.#sync || this.#sync.conn.closed) {
      const conn = connectSync("127.0.0.1", this.port);
      this.#sync = { conn, add: conn.root.add };
    }
    const add = this.#sync.add;
    if (add(1, 2) !== 3) throw new Error("sync call: wrong result");
    return timeSyncBatch(() => add(1, 2), ms);
  }

  chain(ms: number): Promise<number> {
    const modules = this.conn.modules;
    return timeBatch(() => modules["node:path"].posix.join("a", "b"), ms);
  }

  async callback(count: number): Promise<number> {
    return await this.conn.root.callback((x: number) => x, count);
  }

  async throughput(n: number): Promise<number> {
    gc?.();
    const root = this.conn.root;
    const calls = new Array<Promise<number>>(n);
    const start = performance.now();
    for (let i = 0; i < n; i++) calls[i] = root.add(i, 1);
    const results = await Promise.all(calls);
    const elapsed = performance.now() - start;
    if (results[n - 1] !== n) throw new Error(`throughput: wrong result ${results[n - 1]}`);
    return (n * 1000) / elapsed;
  }

  echo(size: number, count: number): Promise<number> {
    return this.#echo(size, count, false);
  }

  /** Echoes handed over both ways with `transfer`: each reply's buffer is the next request's. */
  echoTransfer(size: number, count: number): Promise<number> {
    return this.#echo(size, count, true);
  }

  async #echo(size: number, count: number, handOver: boolean): Promise<number> {
    // Incompressible, like real bulk data (RPyC compresses what it sends).
    let bytes = randomBytes(size);
    if (!this.#bulk || this.#bulk.closed) this.#bulk = await connect("127.0.0.1", this.port);
    const root = this.#bulk.root;
    gc?.();
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const back: Uint8Array = handOver
        ? await root.echoTransfer(transfer(bytes))
        : await root.echo(bytes);
      if (back.length !== size) throw new Error(`echo: ${back.length} bytes back, not ${size}`);
      if (handOver) bytes = back;
    }
    return ((performance.now() - start) * 1000) / count;
  }

  iterate(n: number, count: number): Promise<number> {
    const items = this.conn.root.items;
    return timeItems(() => Array.fromAsync(items(n)), n, count);
  }

  /** Microseconds per copy of the same `n` items as one array, by value (iteration's baseline). */
  copyItems(n: number, count: number): Promise<number> {
    const itemList = this.conn.root.itemList;
    return timeItems(() => itemList(n), n, count);
  }

  /** Bytes an echo of `text` puts on the wire both ways, with `compression` (the best: zstd). */
  async wireBytes(text: string, compression: boolean | string = true): Promise<number> {
    await using conn = await connect("127.0.0.1", this.port, { compression });
    const before = conn.stats();
    if (await conn.root.echoText(text) !== text) throw new Error("echo text: wrong result");
    const after = conn.stats();
    return after.bytesSent - before.bytesSent + after.bytesReceived - before.bytesReceived;
  }

  /** Microseconds per echo of `text` over loopback with `compression` (its cost in time). */
  async textEcho(text: string, compression: boolean | string, count: number): Promise<number> {
    await using conn = await connect("127.0.0.1", this.port, { compression });
    const echoText = conn.root.echoText;
    return await timeBatch(
      async () => {
        if (await echoText(text) !== text) throw new Error("echo text: wrong result");
      },
      0,
      count,
    );
  }

  async streamDelayed(port: number, chunks: number, count: number): Promise<number> {
    await using conn = await connect("127.0.0.1", port);
    const root = conn.root;
    return await timeStreams((stream) => root.consume(stream), chunks, count);
  }

  /**
   * `await pulling.root.table(rows)`: a plain array of plain objects returned
   * by a call travels by value, so the call is the pull. (`obtain` of the
   * call's result would move the table twice: once as the call's value, once
   * as the copy.)
   */
  async pull(rows: number): Promise<PullResult> {
    await using pulling = await connect("127.0.0.1", this.port);
    await using pinging = await connect("127.0.0.1", this.port);
    await pinging.ping(); // the first ping of a connection is not the one measured
    gc?.();
    const before = pulling.stats().bytesReceived;
    let table: Row[] = [];
    const result = await pingWhile(
      () => pinging.ping(),
      async () => void (table = await pulling.root.table(rows)),
    );
    if (table.length !== rows || table[rows - 1].id !== rows - 1) {
      throw new Error(`pull: ${table.length} rows back, not ${rows}`);
    }
    return { ...result, bytes: pulling.stats().bytesReceived - before };
  }

  async delayed(port: number, count: number): Promise<DelayedResult> {
    await using conn = await connect("127.0.0.1", port);
    const root = conn.root;
    if ((await root.inc(root.inc(root.inc(1)))) !== 4) throw new Error("pipelined: wrong result");
    const call = await timeBatch(() => root.add(1, 2), 0, count);
    const pipelined = await timeBatch(() => root.inc(root.inc(root.inc(1))), 0, count);
    return { call, pipelined };
  }

  async churn(n: number): Promise<ChurnResult> {
    const root = this.conn.root;
    const exports = async () => (await root.stats()).exports as number;
    const exportsBefore = await settle(exports, () => false, 200);
    const rssBefore: number = await root.rss();
    for (let done = 0; done < n; done += 1000) {
      // Created and dropped unused: the garbage collector releases them in batches.
      await Promise.all(Array.from({ length: Math.min(1000, n - done) }, () => root.make()));
    }
    const exportsAfter = await settle(exports, (value) => value <= exportsBefore);
    return { exportsBefore, exportsAfter, rssBefore, rssAfter: await root.rss() };
  }

  async soak(n: number, warmup: number): Promise<SoakResult> {
    const root = this.conn.root;
    const run = async (calls: number) => {
      for (let done = 0; done < calls; done += 1000) {
        await Promise.all(
          Array.from({ length: Math.min(1000, calls - done) }, (_, i) => root.add(i, 1)),
        );
      }
    };
    const start = performance.now();
    await run(warmup);
    gc?.();
    const rssWarm: number = await root.rss();
    await run(n - warmup);
    gc?.();
    const rssEnd: number = await root.rss();
    return { rssWarm, rssEnd, callsPerSecond: (n * 1000) / (performance.now() - start) };
  }

  async connect(count: number): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const conn = await connect("127.0.0.1", this.port);
      await conn.root.add(1, 2);
      await conn.close();
    }
    return ((performance.now() - start) * 1000) / count;
  }

  async close(): Promise<void> {
    this.#sync?.conn.close();
    await this.#bulk?.close();
    await this.conn.close();
    await this.server.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Collects garbage and reads `probe` until `done` says so, for at most
 * `maxMs` (netrefs dropped by the program are released by the garbage
 * collector, in batches).
 */
async function settle(
  probe: () => Promise<number>,
  done: (value: number) => boolean,
  maxMs = 10_000,
): Promise<number> {
  const deadline = performance.now() + maxMs;
  let value = await probe();
  while (!done(value) && performance.now() < deadline) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await probe();
  }
  return value;
}

/** `size` bytes that do not compress. */
export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

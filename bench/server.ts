/**
 * The bench's rdc server process: a classic server whose service adds what
 * the bench calls (see `peer.ts` for the shape every peer's server shares),
 * and a raw TCP ping-pong server (`raw.ts`), both on free loopback ports;
 * for scenario 11 (`transports.ts`), the same service over WebSocket
 * (`serve({ ws })`, path `/rdc`) and a raw WebSocket endpoint that echoes
 * every message, each on a port of its own.
 *
 * Started by `child.ts` as a separate Deno process so that client and server
 * do not share an event loop, as in real use. It prints one JSON line of
 * ports by name, `{"rdc": port, "raw": port, "ws": port, "rawWs": port}`
 * (readers take the names they know), then serves until its stdin closes, and then
 * shuts down cleanly (so `--cpu-prof` can write its profile).
 *
 * @module
 */

import {
  classic,
  type Connection,
  PERMISSIVE,
  serve,
  type ServiceConnection,
  transfer,
  type Transferred,
} from "../mod.ts";
import { serveRaw } from "./raw.ts";
import { buildTable, type Row } from "./table.ts";

/** An object that travels by reference, for churn. */
class Token {
  constructor(readonly serial: number) {}
}

/** The classic service plus what the bench calls. */
export class BenchService extends classic.ClassicService {
  #conn: Connection | null = null;
  #made = 0;
  static #tables = new Map<number, Row[]>();

  override onConnect(conn: ServiceConnection): void {
    super.onConnect(conn);
    this.#conn = conn as Connection;
  }

  /** The plain call. */
  exposed_add(a: number, b: number): number {
    return a + b;
  }

  /** For pipelining: `inc(inc(inc(1)))`. */
  exposed_inc(x: number): number {
    return x + 1;
  }

  /** Bulk: the same bytes back. */
  exposed_echo(bytes: Uint8Array): Uint8Array {
    return bytes;
  }

  /** Bulk, handed back without a copy (`transfer`): the bytes that arrived are the reply's. */
  exposed_echoTransfer(bytes: Uint8Array): Transferred<Uint8Array> {
    return transfer(bytes);
  }

  /** Text, the same back (the compression scenario echoes a repetitive string). */
  exposed_echoText(text: string): string {
    return text;
  }

  /** Items `0 … count - 1`, one at a time (remote iteration). */
  *exposed_items(count: number): Generator<number> {
    for (let i = 0; i < count; i++) yield i;
  }

  /** The same items as one array, by value (the copy iteration is measured against). */
  exposed_itemList(count: number): number[] {
    return Array.from({ length: count }, (_, i) => i);
  }

  /** Reads a stream the client handed over to the end; its chunk count. */
  async exposed_consume(stream: ReadableStream<Uint8Array>): Promise<number> {
    let chunks = 0;
    for await (const _ of stream) chunks++;
    return chunks;
  }

  /** Calls the client's `fn` `count` times, one after another; microseconds per call. */
  async exposed_callback(fn: (x: number) => Promise<number>, count: number): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < count; i++) await fn(i);
    return ((performance.now() - start) * 1000) / count;
  }

  /**
   * `rows` plain rows, travelling by value. Built on the first call and kept
   * for the process: building half a million rows takes the event loop for
   * a while, and the pull scenario times moving the value, not making it.
   */
  exposed_table(rows: number): Row[] {
    let table = BenchService.#tables.get(rows);
    if (!table) BenchService.#tables.set(rows, table = buildTable(rows));
    return table;
  }

  /** A new object, sent by reference. */
  exposed_make(): Token {
    return new Token(++this.#made);
  }

  /** This process's resident set size in bytes. */
  exposed_rss(): number {
    return Deno.memoryUsage().rss;
  }

  /** This end's table sizes and counters, to spot leaks after a run. */
  exposed_stats(): Record<string, number> {
    return { ...this.#conn!.stats() };
  }
}

if (import.meta.main) {
  const server = serve(BenchService, { ...PERMISSIVE, port: 0 });
  const rawListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const raw = serveRaw(rawListener);
  const wsServer = serve(BenchService, { ...PERMISSIVE, port: 0, ws: { path: "/rdc" } });
  const rawWs = serveRawWebSocket();
  const ports = {
    rdc: (server.addr as Deno.NetAddr).port,
    raw: (rawListener.addr as Deno.NetAddr).port,
    ws: (wsServer.addr as Deno.NetAddr).port,
    rawWs: rawWs.addr.port,
  };
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(ports) + "\n"));
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent on stdin; its end is the signal to stop.
  }
  rawListener.close();
  await raw;
  await rawWs.shutdown();
  await wsServer.close();
  await server.close();
}

/** The raw WebSocket baseline: every message echoed as it came, on a free loopback port. */
function serveRawWebSocket(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response("a WebSocket endpoint", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
}

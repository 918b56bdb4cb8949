/**
 * The Cap'n Web server process for the bench: `Deno.serve` on a free
 * loopback port, upgrading every request to a WebSocket and running a Cap'n
 * Web session on it (`newWebSocketRpcSession`) whose main object is a fresh
 * {@linkcode BenchApi}, the service shape every peer shares (`../peer.ts`).
 *
 * Started by `capnweb.ts` as a separate Deno process. It prints one JSON
 * line, `{"port": port}`, then serves until its stdin closes, and then
 * closes the sockets still open and shuts the HTTP server down.
 *
 * @module
 */

import { posix } from "node:path";
import { newWebSocketRpcSession, RpcTarget } from "capnweb";

/** `node:path`'s `posix`, as an object that travels by reference. */
export class PosixPath extends RpcTarget {
  /** Joins two path parts with `node:path`'s `posix.join`. */
  join(a: string, b: string): string {
    return posix.join(a, b);
  }
}

/** The `node:path` module, offering `posix` as a getter (Cap'n Web reaches prototype members only). */
export class PathModule extends RpcTarget {
  #posix = new PosixPath();

  /** The POSIX flavour. */
  get posix(): PosixPath {
    return this.#posix;
  }
}

/**
 * An object made for churn. Its session's {@linkcode BenchApi} counts it
 * live until Cap'n Web calls its `Symbol.dispose`, which it does once every
 * stub the client held on it has been disposed.
 */
export class Token extends RpcTarget {
  #serial: number;
  #onDispose: () => void;

  /** Token number `serial`; `onDispose` runs when Cap'n Web disposes it. */
  constructor(serial: number, onDispose: () => void) {
    super();
    this.#serial = serial;
    this.#onDispose = onDispose;
  }

  /** Its number in its session. */
  serial(): number {
    return this.#serial;
  }

  /** Cap'n Web's hook: the client released its stubs on this object. */
  [Symbol.dispose](): void {
    this.#onDispose();
  }
}

/** What the bench calls over Cap'n Web; one instance per WebSocket session. */
export class BenchApi extends RpcTarget {
  #modules = { "node:path": new PathModule() };
  #made = 0;
  #live = 0;

  /** The plain call. */
  add(a: number, b: number): number {
    return a + b;
  }

  /** For pipelining: `inc(inc(inc(1)))`. */
  inc(x: number): number {
    return x + 1;
  }

  /** The head of the chain `modules["node:path"].posix.join(a, b)` (a plain object by key). */
  get modules(): { "node:path": PathModule } {
    return this.#modules;
  }

  /** Bulk: the same bytes back. */
  echo(bytes: Uint8Array): Uint8Array {
    return bytes;
  }

  /** Reads a stream the client passed to the end; its chunk count. */
  async consume(stream: ReadableStream<Uint8Array>): Promise<number> {
    let chunks = 0;
    for await (const _ of stream) chunks++;
    return chunks;
  }

  /** Calls the client's `fn` `count` times, one after another; microseconds per call. */
  async callback(fn: (x: number) => number | Promise<number>, count: number): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < count; i++) await fn(i);
    return ((performance.now() - start) * 1000) / count;
  }

  /** A new object, sent by reference. */
  make(): Token {
    this.#live++;
    return new Token(++this.#made, () => this.#live--);
  }

  /** Tokens made in this session whose stubs the client has not yet released. */
  live(): number {
    return this.#live;
  }

  /** This process's resident set size in bytes. */
  rss(): number {
    return Deno.memoryUsage().rss;
  }
}

if (import.meta.main) {
  const sockets = new Set<WebSocket>();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: resolve }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("This server only speaks Cap'n Web over WebSocket.", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    sockets.add(socket);
    socket.addEventListener("open", () => {
      newWebSocketRpcSession(socket, new BenchApi());
    });
    socket.addEventListener("close", () => sockets.delete(socket));
    return response;
  });
  const { port } = await listening;
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify({ port }) + "\n"));
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent on stdin; its end is the signal to stop.
  }
  for (const socket of sockets) socket.close(1001, "server stopping");
  await server.shutdown();
}

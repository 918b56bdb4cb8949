/**
 * Cap'n Web (`npm:capnweb`) as a bench {@linkcode Peer}: its server runs as a
 * separate Deno process (`capnweb_server.ts`, a WebSocket on loopback); the
 * client runs in this process, written the way Cap'n Web's README writes
 * one: `newWebSocketRpcSession`, stubs used like local objects, promise
 * pipelining where a dependent call can go without a round trip, and
 * `Symbol.dispose` on what the client created.
 *
 * The client's socket is {@linkcode NoDelayWebSocket} by default, not Deno's
 * `WebSocket`: Deno's client clears TCP_NODELAY, and with Cap'n Web's two
 * frames per call that costs about 40 ms a call (see {@linkcode CapnwebOptions}).
 *
 * Cap'n Web speaks JSON: a `Uint8Array` travels by value as base64 inside the
 * JSON text (it is supported; this is its encoding on a WebSocket), and a
 * message may not exceed 32 Mi UTF-16 units on receipt (`DEFAULT_LIMITS`),
 * which a 16 MiB array (about 22.4 Mi as base64) stays under; bigger echoes
 * are left out, and so is the pull of the big table (its JSON is over the
 * limit too).
 *
 * @module
 */

import type { RpcStub } from "capnweb";
import type { ChurnResult, DelayedResult, Peer, SoakResult } from "../peer.ts";
import { timeBatch, timeStreams } from "../scenarios.ts";
import type { BenchApi } from "./capnweb_server.ts";

type Capnweb = typeof import("capnweb");
type Api = RpcStub<BenchApi>;

const CONFIG = new URL("../../deno.json", import.meta.url);
const SERVER = new URL("./capnweb_server.ts", import.meta.url);
const gc = (globalThis as { gc?: () => void }).gc;
/** Cap'n Web's limit on a received message, in UTF-16 units (its `DEFAULT_LIMITS`). */
const MAX_MESSAGE = 32 * 1024 * 1024;

/** A WebSocket session from this process, and the end of its socket. */
interface Session {
  api: Api;
  closed: Promise<void>;
}

/** How the client's WebSocket is made. */
export interface CapnwebOptions {
  /**
   * `"nodelay"` (the default): {@linkcode NoDelayWebSocket}, a WebSocket
   * client on `Deno.connect` with TCP_NODELAY set, as browsers and Node's `ws`
   * have it. `"deno"`: Deno's own `WebSocket`, whose client socket has
   * TCP_NODELAY cleared, so that Cap'n Web's two back-to-back frames per call
   * (`push`, `pull`) meet Nagle's algorithm and the server's delayed ACK: about
   * 40 ms per call on Linux loopback. The table is named "capnweb" for the
   * first and "capnweb-denows" for the second.
   */
  webSocket?: "nodelay" | "deno";
}

/**
 * Starts the Cap'n Web server process and connects to it, or prints one line
 * and resolves to `null` when Cap'n Web cannot run here (the npm package does
 * not load, or the server does not come up and answer `add`).
 */
export async function startCapnwebPeer(options: CapnwebOptions = {}): Promise<Peer | null> {
  let capnweb: Capnweb;
  try {
    capnweb = await import("capnweb");
  } catch (error) {
    console.log(`capnweb: skipped, npm:capnweb@0.12.0 does not load (${oneLine(error)})`);
    return null;
  }
  const native = options.webSocket === "deno";
  const open = (port: number): Session => {
    // The socket is made here rather than from a URL inside Cap'n Web so that
    // its end can be awaited (no socket outlives a measurement or the peer);
    // Cap'n Web's own `WebSocketTransport` drives it either way.
    const socket = native
      ? new WebSocket(`ws://127.0.0.1:${port}/`)
      : new NoDelayWebSocket("127.0.0.1", port) as unknown as WebSocket;
    const closed = new Promise<void>((resolve) =>
      socket.addEventListener("close", () => resolve())
    );
    return { api: capnweb.newWebSocketRpcSession<BenchApi>(socket), closed };
  };
  let server: ServerProcess | null = null;
  try {
    server = await startServer();
    const session = open(server.port);
    try {
      const sum = await session.api.add(1, 2);
      if (sum !== 3) throw new Error(`add(1, 2) gave ${sum}`);
    } catch (error) {
      session.api[Symbol.dispose]();
      throw error;
    }
    return new CapnwebPeer(native ? "capnweb-denows" : "capnweb", open, server, session);
  } catch (error) {
    await server?.close();
    console.log(`capnweb: skipped, its server does not answer (${oneLine(error)})`);
    return null;
  }
}

/** Cap'n Web, driven from this process. */
class CapnwebPeer implements Peer {
  readonly name: string;
  readonly #open: (port: number) => Session;
  readonly #server: ServerProcess;
  readonly #session: Session;
  #closing: Promise<void> | null = null;

  constructor(
    name: string,
    open: (port: number) => Session,
    server: ServerProcess,
    session: Session,
  ) {
    this.name = name;
    this.#open = open;
    this.#server = server;
    this.#session = session;
  }

  get port(): number {
    return this.#server.port;
  }

  call(ms: number): Promise<number> {
    const api = this.#session.api;
    return timeBatch(() => api.add(1, 2), ms);
  }

  chain(ms: number): Promise<number> {
    const api = this.#session.api;
    // Property reads on a stub only extend the path of the call: one message, one round trip.
    return timeBatch(() => api.modules["node:path"].posix.join("a", "b"), ms);
  }

  async callback(count: number): Promise<number> {
    // A plain function travels by reference; the server's stub on it is released when the call ends.
    return await this.#session.api.callback((x: number) => x, count);
  }

  async throughput(n: number): Promise<number> {
    gc?.();
    const api = this.#session.api;
    const calls = new Array<Promise<number>>(n);
    const start = performance.now();
    for (let i = 0; i < n; i++) calls[i] = api.add(i, 1);
    const results = await Promise.all(calls);
    const elapsed = performance.now() - start;
    if (results[n - 1] !== n) throw new Error(`throughput: wrong result ${results[n - 1]}`);
    return (n * 1000) / elapsed;
  }

  async echo(size: number, count: number): Promise<number> {
    // Uint8Array is one of Cap'n Web's pass-by-value types (base64 inside its JSON).
    const bytes = new Uint8Array(size).fill(7);
    const api = this.#session.api;
    gc?.();
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const back = await api.echo(bytes);
      if (!(back instanceof Uint8Array) || back.length !== size) {
        throw new Error(`echo: ${back?.length} bytes back, not a Uint8Array of ${size}`);
      }
    }
    return ((performance.now() - start) * 1000) / count;
  }

  /** Echoes whose base64 would pass Cap'n Web's message limit are left out. */
  echoSkip(size: number): string | undefined {
    return (size * 4) / 3 > MAX_MESSAGE * 0.95
      ? `n/a: as base64 it is over Cap'n Web's message limit of ${MAX_MESSAGE} UTF-16 units`
      : undefined;
  }

  async delayed(port: number, count: number): Promise<DelayedResult> {
    const session = this.#open(port);
    try {
      const api = session.api;
      const pipelined = async () => {
        // Promise pipelining: each unawaited result is passed as the next call's argument,
        // so the three calls leave together; only the last is pulled. The promises we do
        // not await are ours to dispose (Cap'n Web's ownership rule).
        using one = api.inc(1);
        using two = api.inc(one);
        return await api.inc(two);
      };
      if ((await pipelined()) !== 4) throw new Error("pipelined: wrong result");
      return {
        call: await timeBatch(() => api.add(1, 2), 0, count),
        pipelined: await timeBatch(pipelined, 0, count),
      };
    } finally {
      session.api[Symbol.dispose]();
      await session.closed;
    }
  }

  /** `api.consume(stream)` with a fresh stream of `chunks` chunks, through the proxy on `port`. */
  async streamDelayed(port: number, chunks: number, count: number): Promise<number> {
    const session = this.#open(port);
    try {
      const api = session.api;
      return await timeStreams((stream) => api.consume(stream), chunks, count);
    } finally {
      session.api[Symbol.dispose]();
      await session.closed;
    }
  }

  async churn(n: number): Promise<ChurnResult> {
    const api = this.#session.api;
    const exportsBefore = await api.live();
    const rssBefore = await api.rss();
    for (let done = 0; done < n; done += 1000) {
      const made = await Promise.all(
        Array.from({ length: Math.min(1000, n - done) }, () => api.make()),
      );
      // Cap'n Web has no garbage-collected release: the client disposes what it received.
      for (const token of made) token[Symbol.dispose]();
    }
    // Releases go out on dispose, ahead of this call on the same socket; the server
    // disposes each token as its release arrives, so the count is settled here.
    const exportsAfter = await api.live();
    return { exportsBefore, exportsAfter, rssBefore, rssAfter: await api.rss() };
  }

  async soak(n: number, warmup: number): Promise<SoakResult> {
    const api = this.#session.api;
    const run = async (calls: number) => {
      for (let done = 0; done < calls; done += 1000) {
        const length = Math.min(1000, calls - done);
        await Promise.all(Array.from({ length }, (_, i) => api.add(i, 1)));
      }
    };
    const start = performance.now();
    await run(warmup);
    gc?.();
    const rssWarm = await api.rss();
    await run(n - warmup);
    gc?.();
    const rssEnd = await api.rss();
    return { rssWarm, rssEnd, callsPerSecond: (n * 1000) / (performance.now() - start) };
  }

  async connect(count: number): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const session = this.#open(this.port);
      const sum = await session.api.add(1, 2);
      // Disposing the main stub ends the session and closes the socket.
      session.api[Symbol.dispose]();
      await session.closed;
      if (sum !== 3) throw new Error(`connect: add(1, 2) gave ${sum}`);
    }
    return ((performance.now() - start) * 1000) / count;
  }

  close(): Promise<void> {
    return this.#closing ??= (async () => {
      this.#session.api[Symbol.dispose]();
      await this.#session.closed;
      await this.#server.close();
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The server process. Closing it ends its stdin and waits for it to exit. */
interface ServerProcess {
  readonly port: number;
  close(): Promise<void>;
}

/** Spawns `capnweb_server.ts` and reads its port (killing it if silent for 30 s). */
async function startServer(): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `--config=${CONFIG.pathname}`, SERVER.pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    await child.stdin.close().catch(() => {}); // it may be gone already
    await child.status;
  };
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => child.kill(), 30_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited early (${(await child.status).code})`);
      text += value;
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout in the background so the server never blocks on it.
  const drain = (async () => {
    while (!(await reader.read()).done) { /* nothing else is expected */ }
  })();
  const { port } = JSON.parse(text.slice(0, text.indexOf("\n"))) as { port: number };
  let closing: Promise<void> | null = null;
  return {
    port,
    close: () =>
      closing ??= (async () => {
        await stop();
        await drain;
      })(),
  };
}

/** An error's message on one line. */
function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Random masking keys, drawn 1024 at a time. */
const keys = new Uint8Array(4096);
let keyAt = keys.length;
/** Where a frame's payload starts in the buffer `frame` builds: 4-aligned, room for the header before. */
const PAYLOAD_AT = 16;

/**
 * A WebSocket client (RFC 6455: text and binary messages, ping, close; no
 * extensions) on a `Deno.connect` socket with TCP_NODELAY set.
 *
 * Deno's `WebSocket` clears TCP_NODELAY on its client socket, and Cap'n Web
 * writes two small frames per awaited call (`push`, then `pull`), so the
 * second waits for the server's delayed ACK: about 40 ms per call. Browsers
 * and Node's `ws` set TCP_NODELAY, which is what a Cap'n Web user normally
 * runs on; this class gives the same socket behaviour here. It offers the
 * part of the `WebSocket` interface that Cap'n Web's `WebSocketTransport`
 * uses (`readyState`, `binaryType`, `send`, `close`, and the `open`,
 * `message`, `close` and `error` events). Each `send` is one masked frame
 * and one write, in order, as a browser does.
 */
export class NoDelayWebSocket extends EventTarget {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the `WebSocket` constants). */
  readyState = 0;
  /** How binary messages are delivered. */
  binaryType: BinaryType = "blob";
  #conn: Deno.TcpConn | null = null;
  #queue: Uint8Array[] = [];
  #flushing: Promise<void> | null = null;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Connects to ws://`hostname`:`port`/ (events tell how it goes, as with `WebSocket`). */
  constructor(hostname: string, port: number) {
    super();
    this.#run(hostname, port);
  }

  /** Sends one message: a string as a text frame, bytes as a binary frame. */
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (this.readyState === 0) {
      throw new DOMException("WebSocket is connecting", "InvalidStateError");
    }
    if (this.readyState !== 1) return; // as `WebSocket` does once closing: dropped
    if (typeof data === "string") this.#write(textFrame(data));
    else {
      const bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);
      this.#write(frame(2, bytes));
    }
  }

  /** Starts the closing handshake (or abandons the connection while it is being made). */
  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) return;
    const connecting = this.readyState === 0;
    this.readyState = 2;
    if (!connecting) this.#sendClose(code, reason);
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const text = encoder.encode(reason);
    const payload = new Uint8Array(2 + text.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(text, 2);
    this.#write(frame(8, payload));
    // A server that never answers the close frame is cut off.
    this.#closeTimer = setTimeout(() => this.#finish(1006, "", false), 5_000);
  }

  #write(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    this.#flushing ??= this.#flush();
  }

  /** Writes the queued frames in order; frames queued during a write go out together, as writev. */
  async #flush(): Promise<void> {
    const conn = this.#conn!;
    try {
      while (this.#queue.length > 0) {
        const bytes = this.#queue.length === 1 ? this.#queue[0] : concat(this.#queue);
        this.#queue = [];
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      }
    } catch (error) {
      this.#queue = [];
      this.#fail(error);
    } finally {
      this.#flushing = null;
    }
  }

  async #run(hostname: string, port: number): Promise<void> {
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.setNoDelay(true); // Deno.connect leaves Nagle's algorithm on
      this.#conn = conn;
      const reader = new FrameReader(conn);
      await this.#handshake(conn, reader, `${hostname}:${port}`);
      if (this.readyState === 2) this.#sendClose(1000, "");
      else {
        this.readyState = 1;
        this.dispatchEvent(new Event("open"));
      }
      await this.#receive(reader);
    } catch (error) {
      this.#fail(error);
    }
  }

  async #handshake(conn: Deno.TcpConn, reader: FrameReader, host: string): Promise<void> {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const request = `GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const bytes = encoder.encode(request);
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    const head = await reader.head();
    const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + ACCEPT_GUID));
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    const lines = head.split("\r\n");
    const ok = / 101 /.test(lines[0] + " ") &&
      lines.some((line) =>
        /^sec-websocket-accept:/i.test(line) && line.slice(21).trim() === accept
      );
    if (!ok) throw new Error(`WebSocket handshake refused: ${lines[0]}`);
  }

  async #receive(reader: FrameReader): Promise<void> {
    let fragments: Uint8Array<ArrayBuffer>[] = [];
    let fragmentOpcode = 0;
    for (;;) {
      const header = await reader.header();
      if (header === null) break;
      const payload = await reader.exactly(header.length);
      if (payload === null) break;
      const { fin, opcode } = header;
      if (opcode === 1 || opcode === 2 || opcode === 0) {
        if (opcode !== 0) fragmentOpcode = opcode;
        if (!fin || fragments.length > 0) fragments.push(payload);
        if (!fin) continue;
        const whole = fragments.length > 0 ? concat(fragments) : payload;
        fragments = [];
        if (this.readyState !== 1) continue;
        const data = fragmentOpcode === 1
          ? decoder.decode(whole)
          : this.binaryType === "arraybuffer"
          ? whole.buffer
          : new Blob([whole]);
        this.dispatchEvent(new MessageEvent("message", { data }));
      } else if (opcode === 8) {
        const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
        const reason = decoder.decode(payload.subarray(2));
        this.readyState = 2;
        this.#sendClose(code === 1005 ? 1000 : code, "");
        await this.#flushing;
        this.#finish(code, reason, true);
        return;
      } else if (opcode === 9) {
        this.#write(frame(10, payload));
      }
    }
    this.#finish(1006, "", false);
  }

  #fail(error: unknown): void {
    if (this.readyState === 3) return;
    this.dispatchEvent(new ErrorEvent("error", { error, message: String(error) }));
    this.#finish(1006, "", false);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    clearTimeout(this.#closeTimer);
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
  }
}

/** A frame header as read. */
interface FrameHeader {
  fin: boolean;
  opcode: number;
  length: number;
}

/** Buffered reads from the socket: the HTTP head, frame headers, payloads of a known length. */
class FrameReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Makes at least `n` bytes (at most the buffer's size) available; false at end of stream. */
  async #fill(n: number): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end < n) {
      const read = await this.#conn.read(this.#buffer.subarray(this.#end));
      if (read === null) return false;
      this.#end += read;
    }
    return true;
  }

  /** The HTTP response head, up to the blank line. */
  async head(): Promise<string> {
    for (let want = 1;; want = this.#end - this.#start + 1) {
      const held = this.#buffer.subarray(this.#start, this.#end);
      const text = decoder.decode(held);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#start += end + 4; // the head is ASCII: characters are bytes
        return text.slice(0, end);
      }
      if (want > 16_384 || !(await this.#fill(want))) {
        throw new Error("WebSocket handshake cut short");
      }
    }
  }

  /** The next frame's header, or null at end of stream. */
  async header(): Promise<FrameHeader | null> {
    if (!(await this.#fill(2))) return null;
    const b0 = this.#buffer[this.#start];
    const b1 = this.#buffer[this.#start + 1];
    if (b1 & 0x80) throw new Error("WebSocket server sent a masked frame");
    let length = b1 & 0x7f;
    let size = 2;
    if (length === 126) {
      size = 4;
      if (!(await this.#fill(size))) return null;
      length = (this.#buffer[this.#start + 2] << 8) | this.#buffer[this.#start + 3];
    } else if (length === 127) {
      size = 10;
      if (!(await this.#fill(size))) return null;
      const view = new DataView(this.#buffer.buffer, this.#start + 2, 8);
      length = Number(view.getBigUint64(0));
    }
    this.#start += size;
    return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, length };
  }

  /** Exactly `n` bytes in a fresh array, or null at end of stream. */
  async exactly(n: number): Promise<Uint8Array<ArrayBuffer> | null> {
    const out = new Uint8Array(n);
    let have = Math.min(n, this.#end - this.#start);
    out.set(this.#buffer.subarray(this.#start, this.#start + have));
    this.#start += have;
    while (have < n) {
      if (n - have <= this.#buffer.length / 2) {
        // Small remainder: read ahead into the buffer, so the next header comes with it.
        if (!(await this.#fill(n - have))) return null;
        const take = n - have;
        out.set(this.#buffer.subarray(this.#start, this.#start + take), have);
        this.#start += take;
        have = n;
      } else {
        const read = await this.#conn.read(out.subarray(have));
        if (read === null) return null;
        have += read;
      }
    }
    return out;
  }
}

/** A masked client frame carrying `text`, encoded straight into the frame when it is ASCII. */
function textFrame(text: string): Uint8Array {
  const buffer = new Uint8Array(PAYLOAD_AT + text.length);
  const { read, written } = encoder.encodeInto(text, buffer.subarray(PAYLOAD_AT));
  if (read! < text.length) return frame(1, encoder.encode(text));
  return finishFrame(1, buffer, written!);
}

/** A masked client frame carrying a copy of `payload`. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(PAYLOAD_AT + payload.length);
  buffer.set(payload, PAYLOAD_AT);
  return finishFrame(opcode, buffer, payload.length);
}

/**
 * Writes the header and a random masking key in front of the `n` payload
 * bytes at `PAYLOAD_AT` in `buffer`, masks them in place (four bytes at a
 * time: the payload is 4-aligned), and returns the frame.
 */
function finishFrame(opcode: number, buffer: Uint8Array, n: number): Uint8Array {
  const size = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const start = PAYLOAD_AT - 4 - size;
  buffer[start] = 0x80 | opcode;
  if (n < 126) buffer[start + 1] = 0x80 | n;
  else if (n < 65_536) {
    buffer[start + 1] = 0x80 | 126;
    buffer[start + 2] = n >> 8;
    buffer[start + 3] = n & 0xff;
  } else {
    buffer[start + 1] = 0x80 | 127;
    new DataView(buffer.buffer).setBigUint64(start + 2, BigInt(n));
  }
  const key = buffer.subarray(PAYLOAD_AT - 4, PAYLOAD_AT);
  if (keyAt === keys.length) {
    crypto.getRandomValues(keys);
    keyAt = 0;
  }
  key.set(keys.subarray(keyAt, keyAt += 4));
  const key32 = new Uint32Array(buffer.buffer, PAYLOAD_AT - 4, 1)[0];
  const words = new Uint32Array(buffer.buffer, PAYLOAD_AT, n >>> 2);
  for (let i = 0; i < words.length; i++) words[i] ^= key32;
  for (let i = n & ~3; i < n; i++) buffer[PAYLOAD_AT + i] ^= key[i & 3];
  return buffer.subarray(start, PAYLOAD_AT + n);
}

/** The arrays one after another in a new one. */
function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

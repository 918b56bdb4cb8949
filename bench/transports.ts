/**
 * Scenario 11: a call over each transport that is not a TCP socket, beside
 * the bare carrier's ping-pong in the same rounds.
 *
 * - Worker: rdc over `connectWorker` to a module worker serving `add`
 *   (`workers/add_service.ts`), against a bare `postMessage` ping-pong with
 *   a module worker that echoes each message (`workers/echo.ts`).
 * - MessagePort: rdc over `connectMessagePort` and `serveMessagePort` on the
 *   two ends of one `MessageChannel`, both in this thread, against a bare
 *   ping-pong over another channel whose far end echoes, also in this thread.
 *   In-process, not in a worker: the Worker row already measures a port
 *   between threads (a worker's `postMessage` is a port underneath), so this
 *   row measures the other use, `connectInProcess`'s, and with no thread hop
 *   to hide behind it shows what both of rdc's ends cost per call.
 * - WebSocket: rdc over `connectWebSocket` to `serve({ ws })` in the bench's
 *   server process, against a raw WebSocket echo endpoint in the same process
 *   (`server.ts`): the client sends a small binary message and awaits its echo.
 *
 * Each rdc call is `await add(1, 2)` with `add` fetched once; each baseline
 * message is a byte array of the size an rdc call's request has on that
 * carrier (from `conn.stats()`), echoed back whole.
 *
 * @module
 */

import {
  type Connection,
  connectMessagePort,
  connectWebSocket,
  connectWorker,
  serveMessagePort,
  Service,
} from "../mod.ts";
import { timeBatch, wire } from "./scenarios.ts";

/** The small service of the in-process MessagePort scenario (the worker has its own). */
class AddService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }
}

/** What the bare ping-pong needs of its carrier. */
interface Carrier {
  send(message: Uint8Array): void;
  onMessage(listener: () => void): void;
}

/** A bare ping-pong: posts one message, waits for the echo. */
class PingPong {
  readonly #carrier: Carrier;
  readonly #message: Uint8Array;
  #waiting: (() => void) | null = null;

  constructor(carrier: Carrier, size: number) {
    this.#carrier = carrier;
    this.#message = new Uint8Array(size).fill(0xa5);
    carrier.onMessage(() => {
      const done = this.#waiting;
      this.#waiting = null;
      done?.();
    });
  }

  /** One round trip. */
  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#carrier.send(this.#message);
    });
  }
}

/** One transport's pair of subjects. */
export interface TransportPair {
  /** Microseconds per rdc call over a batch of at least `ms`. */
  rdc(ms: number): Promise<number>;
  /** Microseconds per bare round trip over a batch of at least `ms`. */
  raw(ms: number): Promise<number>;
}

/** The three transports' connections and baselines; disposing closes them all. */
export class Transports implements AsyncDisposable {
  readonly worker: TransportPair;
  readonly port: TransportPair;
  readonly webSocket: TransportPair;
  /** What one rdc call puts on each carrier, for the report. */
  readonly requestBytes: Record<"worker" | "port" | "webSocket", number>;
  readonly #close: (() => Promise<void> | void)[];

  private constructor(
    pairs: Record<"worker" | "port" | "webSocket", TransportPair>,
    requestBytes: Record<"worker" | "port" | "webSocket", number>,
    close: (() => Promise<void> | void)[],
  ) {
    this.worker = pairs.worker;
    this.port = pairs.port;
    this.webSocket = pairs.webSocket;
    this.requestBytes = requestBytes;
    this.#close = close;
  }

  /** Starts the workers, opens the channels and the WebSockets (to the server's ports). */
  static async open(wsPort: number, rawWsPort: number): Promise<Transports> {
    const close: (() => Promise<void> | void)[] = [];
    try {
      // Worker.
      const worker = await connectWorker(
        new Worker(new URL("./workers/add_service.ts", import.meta.url), { type: "module" }),
      );
      close.push(() => worker.close());
      const echoWorker = new Worker(new URL("./workers/echo.ts", import.meta.url), {
        type: "module",
      });
      close.push(() => echoWorker.terminate());

      // MessagePort, in this thread.
      const { port1, port2 } = new MessageChannel();
      const serving = serveMessagePort(port2, AddService);
      const port = await connectMessagePort(port1);
      close.push(() => port.close());
      await serving;
      const echoChannel = new MessageChannel();
      echoChannel.port2.onmessage = (event) => echoChannel.port2.postMessage(event.data);
      close.push(() => {
        echoChannel.port1.close();
        echoChannel.port2.close();
      });

      // WebSocket, to the server process.
      const ws = await connectWebSocket(`ws://127.0.0.1:${wsPort}/rdc`);
      close.push(() => ws.close());
      const rawWs = new WebSocket(`ws://127.0.0.1:${rawWsPort}/`);
      rawWs.binaryType = "arraybuffer";
      close.push(() => rawWs.close());
      await new Promise<void>((resolve, reject) => {
        rawWs.onopen = () => resolve();
        rawWs.onerror = () => reject(new Error(`raw WebSocket to port ${rawWsPort} failed`));
      });

      const sizes = {
        worker: await requestSize(worker),
        port: await requestSize(port),
        webSocket: await requestSize(ws),
      };
      const pairs = {
        worker: pair(
          worker,
          new PingPong({
            send: (m) => echoWorker.postMessage(m),
            onMessage: (f) => echoWorker.onmessage = f,
          }, sizes.worker),
        ),
        port: pair(
          port,
          new PingPong({
            send: (m) => echoChannel.port1.postMessage(m),
            onMessage: (f) => echoChannel.port1.onmessage = f,
          }, sizes.port),
        ),
        webSocket: pair(
          ws,
          new PingPong(
            { send: (m) => rawWs.send(m), onMessage: (f) => rawWs.onmessage = f },
            sizes.webSocket,
          ),
        ),
      };
      return new Transports(pairs, sizes, close);
    } catch (error) {
      for (const step of close.reverse()) await step();
      throw error;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const step of this.#close.reverse()) await step();
  }
}

/** The bytes of an rdc call's request on `conn` (a message's body, on a message carrier). */
async function requestSize(conn: Connection): Promise<number> {
  const add = conn.root.add;
  return Math.round((await wire(conn, () => add(1, 2), 50)).bytesOut);
}

function pair(conn: Connection, ping: PingPong): TransportPair {
  const add: (a: number, b: number) => Promise<number> = conn.root.add;
  return {
    async rdc(ms) {
      if ((await add(1, 2)) !== 3) throw new Error(`${conn.description}: wrong result`);
      return await timeBatch(() => add(1, 2), ms);
    },
    raw: (ms) => timeBatch(() => ping.roundTrip(), ms),
  };
}

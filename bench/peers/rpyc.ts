/**
 * Python RPyC as a bench {@linkcode Peer}: Debian's `python3-rpyc` (RPyC
 * 5.3) run by `/usr/bin/python3`, server and client each in a process of its
 * own.
 *
 * - `rpyc_server.py` runs a `ThreadedServer` on 127.0.0.1 offering a
 *   `SlaveService` (classic) with the bench's calls, prints
 *   `{"port": N, "version": "…"}` and serves until its stdin closes.
 * - `rpyc_driver.py PORT` is the RPyC client. It connects with
 *   `rpyc.classic.connect`, prints `{"ready": true, "version": "…"}`, then
 *   reads one JSON command per line on stdin (`{"op": "call", "ms": 60}`;
 *   the fields are the method's arguments) and writes one JSON line per
 *   command: `{"value": …}` or `{"error": "…"}`. It exits when stdin closes.
 *
 * Every figure is timed inside the driver with `time.perf_counter`, so the
 * pipe between this process and the driver is never part of it.
 *
 * @module
 */

import type { ChurnResult, DelayedResult, Peer, PullResult, SoakResult } from "../peer.ts";

const PYTHON = "/usr/bin/python3";
const SERVER = new URL("./rpyc_server.py", import.meta.url).pathname;
const DRIVER = new URL("./rpyc_driver.py", import.meta.url).pathname;
/** How long a process may take to print its first line. */
const START_MS = 20_000;
/** How long a process may take to exit once its stdin is closed. */
const EXIT_MS = 5_000;
/**
 * The largest echo run: RPyC moves about 30 MiB/s here (it zlib-compresses
 * every frame), so one 100 MB echo would take some 7 s, a round and the
 * warm-up half a minute.
 */
const MAX_ECHO = 16 * 1024 * 1024;
/** RPyC's echo rate here, bytes out and back per second, for the skip message. */
const MAX_ECHO_RATE = 30 * 1024 * 1024;

/** Choices for {@linkcode startRpycPeer}. */
export interface RpycOptions {
  /**
   * What `echo` sends: random bytes (the default), or `size` copies of this
   * byte. RPyC zlib-compresses every frame over 3000 bytes, so a constant
   * fill shrinks to almost nothing and measures zlib more than the transfer.
   */
  echoFill?: number;
}

/**
 * Starts the RPyC server and driver; null, with a one-line message, when
 * `/usr/bin/python3` cannot import `rpyc`.
 *
 * @throws when a process fails to start or to connect.
 */
export async function startRpycPeer(options: RpycOptions = {}): Promise<Peer | null> {
  if (!(await canImportRpyc())) {
    console.log(
      `rpyc: skipped, ${PYTHON} cannot import rpyc (install it with \`apt-get install python3-rpyc\`)`,
    );
    return null;
  }
  const server = Python.start([SERVER]);
  try {
    const { port, version } = await server.first() as { port: number; version: string };
    const driver = Python.start([DRIVER, String(port)]);
    try {
      await driver.first();
    } catch (error) {
      await driver.close();
      throw error;
    }
    return new RpycPeer(server, driver, port, version, options.echoFill);
  } catch (error) {
    await server.close();
    throw error;
  }
}

async function canImportRpyc(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", "import rpyc"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false; // No /usr/bin/python3 at all.
  }
}

/** RPyC driven through its driver process; see the module documentation. */
export class RpycPeer implements Peer {
  readonly name = "rpyc";
  readonly port: number;
  /** RPyC's version, as the server imported it. */
  readonly version: string;
  readonly #server: Python;
  /** The pull's own server process, started by the first pull. */
  #pullServer: Promise<{ python: Python; port: number }> | null = null;
  readonly #driver: Python;
  readonly #echoFill: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | null = null;

  constructor(
    server: Python,
    driver: Python,
    port: number,
    version: string,
    echoFill?: number,
  ) {
    this.#server = server;
    this.#echoFill = echoFill;
    this.#driver = driver;
    this.port = port;
    this.version = version;
  }

  /**
   * Sends one command to the driver and resolves with its `value`. Commands
   * run one at a time, in order.
   *
   * @throws when the driver reports an error or has gone.
   */
  send(command: { op: string; [field: string]: unknown }): Promise<unknown> {
    if (this.#closing) return Promise.reject(new Error("rpyc peer is closed"));
    const result = this.#queue.then(() => this.#driver.ask(command));
    this.#queue = result.catch(() => {});
    return result;
  }

  /** `add = conn.root.add` once, then `add(1, 2)` in a loop. */
  async call(ms: number): Promise<number> {
    return await this.send({ op: "call", ms }) as number;
  }

  /**
   * `conn.root.add(1, 2)` written out in the loop: the attribute read is a
   * round trip of its own in RPyC.
   */
  async callAsWritten(ms: number): Promise<number> {
    return await this.send({ op: "call", ms, lookup: true }) as number;
  }

  /** `conn.modules.os.path.join("a", "b")` in a loop. */
  async chain(ms: number): Promise<number> {
    return await this.send({ op: "chain", ms }) as number;
  }

  /** `conn.modules.os.getpid()` in a loop: Python's own client, for rdc's Python interop. */
  async getpid(ms: number): Promise<number> {
    return await this.send({ op: "getpid", ms }) as number;
  }

  /** `conn.root.callback(fn, count)` with a local function. */
  async callback(count: number): Promise<number> {
    return await this.send({ op: "callback", count }) as number;
  }

  /** `n` calls of `rpyc.async_(conn.root.add)(1, 2)`, then a wait on each. */
  async throughput(n: number): Promise<number> {
    return await this.send({ op: "throughput", n }) as number;
  }

  /** `echo(data)` with `size` random bytes (or see {@linkcode RpycOptions}), `count` times. */
  async echo(size: number, count: number): Promise<number> {
    return await this.send({ op: "echo", size, count, fill: this.#echoFill }) as number;
  }

  /** `list(rpyc.buffiter(conn.root.items(n)))`, `count` times. */
  async iterate(n: number, count: number): Promise<number> {
    return await this.send({ op: "iterate", n, count }) as number;
  }

  /** One echo of `text` through the driver's counted socket stream (zlib on, RPyC's default). */
  async wireBytes(text: string): Promise<number> {
    return await this.send({ op: "wire_bytes", text }) as number;
  }

  /** Echoes over {@linkcode MAX_ECHO} are left out, for time. */
  echoSkip(size: number): string | undefined {
    const seconds = Math.round((2 * size) / MAX_ECHO_RATE);
    return size > MAX_ECHO
      ? `left out: one echo would take ~${seconds} s at RPyC's ~30 MiB/s (see its 16 MiB row)`
      : undefined;
  }

  /**
   * Two `rpyc.connect` in the driver: `rpyc.classic.obtain(conn.root.table(rows))`
   * on one, `conn.ping()` back to back on the other, from a second thread.
   * Their server is a process of its own: the table it keeps, and the memory
   * pickling it leaves behind, would otherwise show in the churn and soak
   * figures of the main one.
   */
  async pull(rows: number): Promise<PullResult> {
    this.#pullServer ??= (async () => {
      const python = Python.start([SERVER]);
      try {
        return { python, port: (await python.first() as { port: number }).port };
      } catch (error) {
        await python.close();
        throw error;
      }
    })();
    const { port } = await this.#pullServer;
    return await this.send({ op: "pull", rows, port }) as PullResult;
  }

  /** A second `rpyc.connect` through the proxy: `add(1, 2)` and `inc(inc(inc(1)))`. */
  async delayed(port: number, count: number): Promise<DelayedResult> {
    return await this.send({ op: "delayed", port, count }) as DelayedResult;
  }

  /** `obj = conn.root.make()` `n` times, then the server's live netref count. */
  async churn(n: number): Promise<ChurnResult> {
    return await this.send({ op: "churn", n }) as ChurnResult;
  }

  /** `n` async `add` calls in bursts of 1000 in flight. */
  async soak(n: number, warmup: number): Promise<SoakResult> {
    return await this.send({ op: "soak", n, warmup }) as SoakResult;
  }

  /** `rpyc.connect` + `conn.root.add(1, 2)` + `close()`, `count` times. */
  async connect(count: number): Promise<number> {
    return await this.send({ op: "connect", count }) as number;
  }

  /** Ends the driver (it closes its connection), then the server. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      await this.#queue;
      await this.#driver.close();
      await this.#server.close();
      await (await this.#pullServer?.catch(() => null))?.python.close();
    })();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A `/usr/bin/python3` child speaking JSON lines on its stdin and stdout. */
class Python {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  #closing: Promise<void> | null = null;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = readLines(child.stdout);
  }

  static start(args: string[]): Python {
    return new Python(
      new Deno.Command(PYTHON, {
        args: ["-u", ...args],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn(),
    );
  }

  /** The process's first line, parsed; kills it if none comes in time. */
  async first(): Promise<unknown> {
    const timer = setTimeout(() => this.#kill("SIGKILL"), START_MS);
    try {
      return await this.#next();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes `command` as a line and resolves with the `value` of the reply line. */
  async ask(command: unknown): Promise<unknown> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const reply = await this.#next() as { value?: unknown; error?: string };
    if (reply.error !== undefined) throw new Error(`rpyc driver: ${reply.error}`);
    return reply.value;
  }

  async #next(): Promise<unknown> {
    const { value, done } = await this.#lines.next();
    if (done) {
      const { code } = await this.#child.status;
      throw new Error(`${PYTHON} exited (code ${code}) before answering`);
    }
    return JSON.parse(value);
  }

  /** Closes stdin and waits for the exit; kills the process if it lingers. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        await this.#writer.close();
      } catch { /* the process is gone already */ }
      const timer = setTimeout(() => this.#kill("SIGKILL"), EXIT_MS);
      try {
        await this.#child.status;
      } finally {
        clearTimeout(timer);
      }
      // Read stdout to its end so the stream's resource is released.
      while (!(await this.#lines.next()).done) { /* nothing else is expected */ }
    })();
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* exited already */ }
  }
}

/** The lines of `stream`, without their "\n". */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end: number;
    while ((end = text.indexOf("\n")) >= 0) {
      yield text.slice(0, end);
      text = text.slice(end + 1);
    }
  }
  if (text) yield text;
}

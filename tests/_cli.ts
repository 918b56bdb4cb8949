/**
 * Helpers for the `rdc` command's tests: running `cli/main.ts` as a real
 * subprocess, to completion or in the background with its output collected,
 * and bounded waits on both.
 */

import assert from "node:assert/strict";

/** The repository's root: the working directory of every `rdc` run. */
export const ROOT = new URL("..", import.meta.url);
/** The command line that runs `rdc`, before its own arguments. */
export const RDC = [Deno.execPath(), "run", "--allow-all", "cli/main.ts"];

/** How long any single wait on a subprocess may take before the test fails. */
export const WAIT_MS = 20_000;

/** Resolves with `promise`, or fails naming `what` after `ms` milliseconds. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `predicate` every 20 ms until it holds; fails with `describe()` after `ms`. */
export async function poll(
  predicate: () => boolean | Promise<boolean>,
  ms: number,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What a finished run printed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rdc ...args` to completion with no input (killed if it outlives `WAIT_MS`). */
export async function runRdc(...args: string[]): Promise<RunResult> {
  await using proc = new RdcProcess(args, { stdin: "null" });
  const status = await proc.wait();
  return { code: status.code, stdout: proc.stdout, stderr: proc.stderr };
}

/** Options of {@linkcode RdcProcess}. */
export interface RdcProcessOptions {
  /** Default `"null"`. */
  stdin?: "null" | "piped";
  /** Run this program instead of `rdc` (`args` is then the whole command after it). */
  command?: string[];
  /** Variables added to its environment. */
  env?: Record<string, string>;
}

/**
 * A running `rdc` (or another command) whose stdout and stderr are collected
 * as text. Disposing it kills it if it still runs and waits for it.
 */
export class RdcProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #exited = false;
  #pumps: Promise<void>[];
  #readers: ReadableStreamDefaultReader<Uint8Array>[];
  readonly #line: string;

  constructor(args: string[], options: RdcProcessOptions = {}) {
    const [program, ...rest] = [...(options.command ?? RDC), ...args];
    this.#line = [program, ...rest].join(" ");
    this.child = new Deno.Command(program!, {
      args: rest,
      cwd: ROOT,
      env: options.env,
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child.status.then(() => {
      this.#exited = true;
    });
    this.#readers = [this.child.stdout.getReader(), this.child.stderr.getReader()];
    this.#pumps = [
      pump(this.#readers[0]!, (text) => this.stdout += text),
      pump(this.#readers[1]!, (text) => this.stderr += text),
    ];
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Both outputs, for failure messages. */
  output(): string {
    return `$ ${this.#line}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }

  /** Waits until stdout matches `pattern` and returns the match. */
  async waitStdout(pattern: RegExp, ms = WAIT_MS): Promise<RegExpMatchArray> {
    await poll(() => pattern.test(this.stdout) || this.#exited, ms, () => this.output());
    const match = this.stdout.match(pattern);
    assert.ok(match, `exited before printing ${pattern} on stdout\n${this.output()}`);
    return match;
  }

  /** Waits until stderr matches `pattern` and returns the match. */
  async waitStderr(pattern: RegExp, ms = WAIT_MS): Promise<RegExpMatchArray> {
    await poll(() => pattern.test(this.stderr) || this.#exited, ms, () => this.output());
    const match = this.stderr.match(pattern);
    assert.ok(match, `exited before printing ${pattern} on stderr\n${this.output()}`);
    return match;
  }

  /** Waits for the exit status (and the end of both outputs), bounded by `ms`. */
  async wait(ms = WAIT_MS): Promise<Deno.CommandStatus> {
    const status = await within(this.child.status, ms, `exit of ${this.output()}`);
    await within(Promise.all(this.#pumps), ms, `end of the output of ${this.output()}`);
    return status;
  }

  /** Sends `signal` and waits for the exit status. */
  async stop(signal: Deno.Signal = "SIGTERM", ms = WAIT_MS): Promise<Deno.CommandStatus> {
    if (!this.#exited) this.child.kill(signal);
    return await this.wait(ms);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#exited) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // It exited meanwhile.
      }
    }
    await this.child.status;
    // Grandchildren may hold the pipes open: give them a moment, then stop reading.
    await within(Promise.all(this.#pumps), 2_000, "the end of the outputs").catch(async () => {
      await Promise.all(this.#readers.map((reader) => reader.cancel().catch(() => {})));
      await Promise.all(this.#pumps);
    });
  }
}

async function pump(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  sink: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      sink(decoder.decode(read.value, { stream: true }));
    }
  } catch {
    // The stream was cancelled.
  } finally {
    reader.releaseLock();
  }
}

/** Parses the two lines a oneshot server prints: `rdc-oneshot` and `HOST\tPORT` (or a path). */
export async function oneshotAddress(proc: RdcProcess): Promise<string> {
  const match = await proc.waitStdout(/^rdc-oneshot\n([^\n]*)\n/);
  return match[1]!;
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1. It is drawn below
 * Linux's range of ephemeral ports (32768 and up), so no connection of this
 * or another process takes it before the test's server listens on it.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // Taken: draw another.
    }
  }
  throw new Error("no free loopback port below the ephemeral range");
}

/** Whether a process with this pid is alive (Linux: present in /proc and not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Whether `program` can be run (`program ...args` exits 0). */
export function canRun(program: string, args: string[]): boolean {
  try {
    return new Deno.Command(program, { args, stdin: "null", stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** The command prefix that runs a program in a fresh, private network namespace, if any works. */
export function privateNetns(): string[] | undefined {
  // Bring loopback up inside (needed to connect there), then run the program itself.
  const inside = ["sh", "-c", 'ip link set lo up 2>/dev/null; exec "$0" "$@"'];
  for (const prefix of [["unshare", "--net", "--map-root-user"], ["unshare", "--net"]]) {
    if (canRun(prefix[0]!, [...prefix.slice(1), "true"])) return [...prefix, ...inside];
  }
  return undefined;
}

/** Whether something exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

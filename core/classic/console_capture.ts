/**
 * Capturing this process's console output for `redirectStdio`: while at least
 * one capture is active, `globalThis.console` is a console that hands its
 * output to every active capture instead of printing it.
 *
 * @module
 */

import type * as NodeConsole from "node:console";
import type * as NodeStream from "node:stream";
import { nodeBuiltin } from "../node_builtin.ts";

/** Which console stream a piece of output was written to. */
export type ConsoleStream = "stdout" | "stderr";

/** Receives captured output, already formatted as the console would print it. */
export type ConsoleSink = (stream: ConsoleStream, text: string) => void;

const sinks = new Set<ConsoleSink>();
let previous: Console | undefined;
let capturing: Console | undefined;

/**
 * Sends console output to `sink` until the result is disposed. Captures may
 * overlap (each gets everything); the console is restored when the last ends.
 */
export function captureConsole(sink: ConsoleSink): Disposable {
  capturing ??= makeCapturingConsole();
  if (sinks.size === 0) {
    previous = globalThis.console;
    globalThis.console = capturing;
  }
  sinks.add(sink);
  return {
    [Symbol.dispose]() {
      if (!sinks.delete(sink) || sinks.size > 0) return;
      if (globalThis.console === capturing && previous) globalThis.console = previous;
      previous = undefined;
    },
  };
}

function makeCapturingConsole(): Console {
  // Loaded here, not with the module: see core/node_builtin.ts.
  const { Console } = nodeBuiltin<typeof NodeConsole>("node:console");
  const { Writable } = nodeBuiltin<typeof NodeStream>("node:stream");
  const stream = (name: ConsoleStream) =>
    new Writable({
      write(chunk: Uint8Array | string, _encoding, done) {
        const text = typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
        for (const sink of sinks) sink(name, text);
        done();
      },
    });
  return new Console({ stdout: stream("stdout"), stderr: stream("stderr") }) as Console;
}

/** Text per remote write at most, well inside a frame. */
const MAX_WRITE = 1024 * 1024;
/** Text waiting for the peer at most; more is dropped, and the peer told how much. */
const MAX_QUEUED = 16 * 1024 * 1024;

/**
 * Forwards captured output to a remote writer without flooding it: output is
 * gathered while one remote write is in flight and sent after it, in writes
 * of at most 1 MiB. At most 16 MiB waits; beyond that output is dropped and a
 * line says how much. Contract: `flush()` resolves once everything captured
 * before it was written.
 */
export class OutputForwarder {
  readonly #write: (stream: ConsoleStream, text: string) => unknown;
  #queued: { stream: ConsoleStream; text: string }[] = [];
  #queuedLength = 0;
  #dropped = 0;
  #inFlight: Promise<void> = Promise.resolve();
  #scheduled = false;

  /** `write` is the peer's function; its failures (the peer gone) are ignored. */
  constructor(write: (stream: ConsoleStream, text: string) => unknown) {
    this.#write = write;
  }

  /** A sink for {@linkcode captureConsole}. */
  readonly sink: ConsoleSink = (stream, text) => {
    if (this.#queuedLength + text.length > MAX_QUEUED) {
      this.#dropped += text.length;
      return;
    }
    this.#queuedLength += text.length;
    const last = this.#queued.at(-1);
    if (last?.stream === stream && last.text.length + text.length <= MAX_WRITE) last.text += text;
    else this.#queued.push({ stream, text });
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#inFlight = this.#inFlight.then(() => this.#send());
    }
  };

  /** Resolves once all output captured so far has been written (or failed to). */
  async flush(): Promise<void> {
    await this.#inFlight;
  }

  async #send(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#queued;
    this.#queued = [];
    this.#queuedLength = 0;
    if (this.#dropped > 0) {
      batch.push({
        stream: "stderr",
        text: `[rdc: ${this.#dropped} characters of output dropped]\n`,
      });
      this.#dropped = 0;
    }
    for (const { stream, text } of batch) {
      for (let at = 0; at < text.length; at += MAX_WRITE) {
        try {
          await this.#write(stream, text.slice(at, at + MAX_WRITE));
        } catch {
          // The peer has gone; its output goes with it.
          return;
        }
      }
    }
  }
}

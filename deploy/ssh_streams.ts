/**
 * ssh2 channels as web streams: a remote command (`RemoteProcess`, shaped
 * like `Deno.ChildProcess`) and a forwarded byte stream (`SshStream`, which
 * `connectStream` takes as is).
 *
 * Contract: each object owns its channel. `close()` is idempotent and ends
 * the channel at once; closing `stdin` (or the stream's writable) only sends
 * EOF. A remote command's stdout and stderr share one SSH window, so a
 * caller must read both (or cancel them) or the command stalls.
 *
 * @module
 */

import { type Readable, Writable } from "node:stream";
import type { ByteStreams } from "../core/wire/transport.ts";
import type { Ssh2Channel } from "./ssh2.ts";

/** How a remote command ended. */
export interface RemoteStatus {
  /** The exit code, or null when it was killed or the channel closed without one. */
  code: number | null;
  /** The signal that killed it (`TERM`, `KILL`), or null. */
  signal: string | null;
}

/** A command running on an SSH host (see the module contract). */
export interface RemoteProcess extends AsyncDisposable {
  /** The command's stdin; closing it sends EOF. */
  readonly stdin: WritableStream<Uint8Array>;
  /** The command's stdout. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** The command's stderr. */
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves once the channel has closed. */
  readonly status: Promise<RemoteStatus>;
  /** Closes the channel now (the remote command loses its stdio). Idempotent. */
  close(): void;
}

/** A byte stream through the SSH connection (see the module contract). */
export interface SshStream extends ByteStreams {
  /** Resolves once the channel has closed. */
  readonly closed: Promise<void>;
  /** Closes the channel now. Idempotent. */
  close(): void;
}

/** Wraps an exec channel. */
export function remoteProcess(channel: Ssh2Channel): RemoteProcess {
  let code: number | null = null;
  let signal: string | null = null;
  channel.on("exit", (exitCode: number | null, exitSignal?: string) => {
    code = exitCode ?? null;
    signal = exitSignal ?? null;
  });
  const status = new Promise<RemoteStatus>((resolve) => {
    channel.once("close", () => resolve({ code, signal }));
  });
  const close = closer(channel);
  return {
    stdin: Writable.toWeb(channel) as WritableStream<Uint8Array>,
    stdout: readableOf(channel),
    stderr: readableOf(channel.stderr),
    status,
    close,
    async [Symbol.asyncDispose]() {
      close();
      await status;
    },
  };
}

/** Wraps a forwarding channel. */
export function sshStream(channel: Ssh2Channel): SshStream {
  return {
    readable: readableOf(channel),
    writable: Writable.toWeb(channel) as WritableStream<Uint8Array>,
    closed: new Promise<void>((resolve) => channel.once("close", () => resolve())),
    close: closer(channel),
  };
}

/**
 * The bytes of one side of a channel as a web stream, with backpressure.
 * Unlike `Readable.toWeb`, data or an end arriving after the stream was
 * cancelled is dropped rather than thrown into ssh2's event handlers (where
 * it broke the whole SSH connection); a cancelled side keeps being read, so
 * the window both sides share keeps moving.
 */
function readableOf(source: Readable): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      source.on("data", (chunk: Uint8Array) => {
        if (!open) return;
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 1) <= 0) source.pause();
      });
      source.on("end", () => {
        if (!open) return;
        open = false;
        controller.close();
      });
      source.on("error", (error) => {
        if (!open) return;
        open = false;
        controller.error(error);
      });
    },
    pull() {
      source.resume();
    },
    cancel() {
      open = false;
      source.resume();
    },
  }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength });
}

function closer(channel: Ssh2Channel): () => void {
  let closed = false;
  channel.once("close", () => closed = true);
  return () => {
    if (closed) return;
    closed = true;
    channel.close();
  };
}

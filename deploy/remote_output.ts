/**
 * The output of a deployment's remote process: stdout read line by line
 * while the bootstrap talks, stderr kept for error messages; once the
 * server is up, both pass through to local stderr (the remote console's
 * output, as `connectSubprocess` shows a child's).
 *
 * Contract: owns both streams' readers and reads them to their end (an SSH
 * channel stalls if one of its streams is not read). `nextLine` is called
 * by one caller at a time, and not after `passThrough` or `discard`. Never
 * throws.
 *
 * @module
 */

/** How much of the remote stderr to keep for an error message. */
const STDERR_TAIL = 8 * 1024;

/** See the module contract. */
export class RemoteOutput {
  /** Resolves once both streams have ended. */
  readonly finished: Promise<void>;
  #stderrText = "";
  #passing = false;
  #pending = new Uint8Array(0);
  readonly #stdout: ReadableStreamDefaultReader<Uint8Array>;
  readonly #stdoutDone = Promise.withResolvers<void>();
  readonly #decoder = new TextDecoder();

  /** Starts reading `stderr`; `stdout` waits for `nextLine` or `passThrough`. */
  constructor(stdout: ReadableStream<Uint8Array>, stderr: ReadableStream<Uint8Array>) {
    this.#stdout = stdout.getReader();
    this.finished = Promise.all([this.#pumpStderr(stderr), this.#stdoutDone.promise]).then(
      () => {},
    );
  }

  /** The next stdout line (without its newline), or null at the end of stdout. */
  async nextLine(): Promise<string | null> {
    for (;;) {
      const newline = this.#pending.indexOf(10);
      if (newline >= 0) {
        const line = this.#decoder.decode(this.#pending.subarray(0, newline));
        this.#pending = this.#pending.subarray(newline + 1);
        return line;
      }
      const { value, done } = await this.#read();
      if (done || !value) {
        this.#stdoutDone.resolve();
        return null;
      }
      const joined = new Uint8Array(this.#pending.length + value.length);
      joined.set(this.#pending);
      joined.set(value, this.#pending.length);
      this.#pending = joined;
    }
  }

  /** The last few KiB of stderr so far, trimmed. */
  stderrText(): string {
    return this.#stderrText.trim();
  }

  /** From now on, everything either stream carries goes to local stderr. */
  passThrough(): void {
    this.#passing = true;
    (async () => {
      await writeStderr(this.#pending);
      for (;;) {
        const { value, done } = await this.#read();
        if (done || !value) break;
        await writeStderr(value);
      }
      this.#stdoutDone.resolve();
    })();
  }

  /** Stops reading stdout (when the process is being closed after a failure). */
  discard(): void {
    this.#stdout.cancel().catch(() => {});
    this.#stdoutDone.resolve();
  }

  /** The next stdout chunk; a broken channel reads as its end. */
  async #read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    return await this.#stdout.read().catch(() => ({ value: undefined, done: true as const }));
  }

  async #pumpStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        if (this.#passing) {
          await writeStderr(chunk);
        } else {
          const text = this.#stderrText + decoder.decode(chunk, { stream: true });
          this.#stderrText = text.slice(-STDERR_TAIL);
        }
      }
    } catch {
      // The channel broke: nothing more to read.
    }
  }
}

async function writeStderr(bytes: Uint8Array): Promise<void> {
  try {
    for (let offset = 0; offset < bytes.length;) {
      offset += await Deno.stderr.write(bytes.subarray(offset));
    }
  } catch {
    // Local stderr is closed: the output has nowhere to go.
  }
}

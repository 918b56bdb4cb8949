/**
 * One worker process of a pool server (see `servePool`).
 *
 * @module
 */

import { logLines } from "./isolated.ts";
import { exitStatusText } from "./stdio.ts";

/** How a pool starts one worker. */
export interface WorkerLaunch {
  /** The program and its arguments. */
  readonly command: readonly string[];
  /** Variables added to the worker's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The stdout line by which the worker says it listens; lines before it are
   * logged. Default: its first line, whatever it says.
   */
  readonly readyLine?: string;
}

/** How many of its first lines a worker that failed to start is reported with. */
const REPORTED_LINES = 12;

/**
 * A worker process serving rdc on its own unix socket.
 *
 * Contract: started at construction; `ready` resolves at its ready line
 * on stdout (it listens then), and rejects, with its exit status and the
 * first lines it wrote, if it exits first; every other line on stdout or
 * stderr goes to `log` (what its clients' code prints, say). Its stdin stays
 * open and unwritten while this process lives, so a worker learns of our end
 * even when we are killed. The pool owns `connections` (the count it relays
 * to it); nobody else touches the child.
 */
export class PoolWorker {
  /** The worker process. */
  readonly child: Deno.ChildProcess;
  /** The unix socket it serves on. */
  readonly path: string;
  /** Resolves once the worker listens. */
  readonly ready: Promise<void>;
  /** Connections the pool is relaying to it now. */
  connections = 0;
  /** Whether it has said it listens. */
  listening = false;
  /** Its first lines while it starts, for the error if it fails to. */
  readonly #early: string[] = [];

  /** Starts the worker of `launch`, to serve on `path`; its other output goes to `log`. */
  constructor(launch: WorkerLaunch, path: string, log: (line: string) => void) {
    const [program, ...args] = launch.command;
    this.path = path;
    this.child = new Deno.Command(program!, {
      args,
      env: launch.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logged = (line: string) => {
      if (!this.listening && this.#early.length < REPORTED_LINES) this.#early.push(line);
      log(line);
    };
    void logLines(this.child.stderr, logged);
    this.ready = this.#readyLine(launch.readyLine, logged);
    this.ready.catch(() => {}); // Reported to whoever awaits it.
  }

  /** Resolves at the ready line on stdout, passing the other lines to `log`. */
  async #readyLine(readyLine: string | undefined, log: (line: string) => void): Promise<void> {
    const reader = this.child.stdout.getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      const lines = (text + decoder.decode(chunk.value, { stream: true })).split("\n");
      text = lines.pop()!;
      const at = readyLine === undefined ? (lines.length > 0 ? 0 : -1) : lines.indexOf(readyLine);
      for (const line of at < 0 ? lines : lines.slice(0, at)) log(line);
      if (at < 0) continue;
      this.listening = true;
      reader.releaseLock();
      const rest = [...lines.slice(at + 1), text].join("\n");
      void logLines(this.child.stdout, log, undefined, rest);
      return;
    }
    const status = await this.child.status;
    const said = this.#early.length > 0 ? `; it wrote:\n${this.#early.join("\n")}` : "";
    throw new Error(
      `worker ${this.child.pid} ${exitStatusText(status)} before it listened${said}`,
    );
  }
}

/**
 * One worker process of a pool server (see `servePool`).
 *
 * @module
 */

import { logLines } from "./isolated.ts";

/**
 * A worker process serving rdc on its own unix socket.
 *
 * Contract: started at construction as `command` plus the socket's path;
 * `ready` resolves at the first line it prints on stdout (it listens then),
 * and rejects, with its exit status, if it exits first; every later line on
 * stdout goes to `log` (what its clients' code prints, say). Its stdin stays open
 * and unwritten while this process lives, so a worker learns of our end
 * even when we are killed. The pool owns `connections` (the count it relays
 * to it) and reads its `stderr`; nobody else touches the child.
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

  /** Starts `command` with `path` as its last argument; its later stdout lines go to `log`. */
  constructor(command: readonly string[], path: string, log: (line: string) => void) {
    const [program, ...args] = command;
    this.path = path;
    this.child = new Deno.Command(program!, {
      args: [...args, path],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.ready = this.#firstLine(log);
    this.ready.catch(() => {}); // Reported to whoever awaits it.
  }

  /** Resolves at the first line on stdout, then passes the later lines to `log`. */
  async #firstLine(log: (line: string) => void): Promise<void> {
    const reader = this.child.stdout.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      const end = chunk.value.indexOf(0x0a);
      if (end < 0) continue;
      reader.releaseLock();
      const rest = new TextDecoder().decode(chunk.value.subarray(end + 1));
      void logLines(this.child.stdout, log, undefined, rest);
      return;
    }
    const status = await this.child.status;
    throw new Error(
      `worker ${this.child.pid} ended before it listened (status ${status.code}${
        status.signal ? `, ${status.signal}` : ""
      })`,
    );
  }
}

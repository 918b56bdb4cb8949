/**
 * A server that gives each connection its own process (RPyC's
 * `ForkingServer`): it accepts a socket, starts a child that speaks rdc on its
 * stdio, and relays bytes both ways until either side ends. Clients share
 * nothing, and a client that crashes its process hurts no one else.
 *
 * @module
 */

import { Listening, type ListenOptions } from "./listening.ts";
import { defaultLogger, type Logger } from "./options.ts";
import { exitStatusText, stopChild } from "./stdio.ts";

/** How long children get to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3_000;
/** How long a child's pipes may stay open after it exited. */
const DRAIN_MS = 1_000;

/** Options of {@linkcode serveIsolated}: where to listen, and how to log. */
export interface IsolatedServeOptions extends ListenOptions {
  /** Where log lines go. Default: warnings and errors on stderr. */
  logger?: Logger;
}

/** A running isolated server; `close()` stops it and ends every child. */
export interface IsolatedServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /** The children serving connections now. */
  readonly children: ReadonlySet<Deno.ChildProcess>;
  /** Resolves once the server and all its children have ended. */
  readonly finished: Promise<void>;
  /** Stops listening, ends the children (SIGTERM, then SIGKILL) and waits for them. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves each connection with a fresh child started from `command`, which
 * must speak rdc on its stdin and stdout (`rdc classic --mode stdio`, or
 * `classic.defaultServerCommand()`). Each line the child writes on stderr is
 * logged at level info, naming the child.
 */
export function serveIsolated(
  command: readonly string[],
  options: IsolatedServeOptions,
): IsolatedServer {
  const [program, ...args] = command;
  if (program === undefined) throw new TypeError("serveIsolated needs a command to run");
  const logger = options.logger ?? defaultLogger;
  const children = new Set<Deno.ChildProcess>();
  const listening: Listening = new Listening(options, "serveIsolated", () => {
    // A child that ignores SIGTERM is killed after a grace period.
    for (const child of children) stopChild(child, 0, KILL_GRACE_MS);
  });

  listening.accept(async (conn) => {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer = remote.hostname ? `${remote.hostname}:${remote.port}` : "a unix socket peer";
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      logger("error", `cannot start a child for ${peer}: ${(error as Error).message}`);
      conn.close();
      return;
    }
    children.add(child);
    logger("info", `connection from ${peer}: served by child ${child.pid}`);
    // Either direction ending ends the other: the child's stdout closes when it exits,
    // and the child sees end of input when the client leaves.
    const toChild = conn.readable.pipeTo(child.stdin).catch(() => {});
    const drained = new AbortController();
    const { signal } = drained;
    const toClient = child.stdout.pipeTo(conn.writable, { signal }).catch(() => {});
    const pid = child.pid;
    const toLog = logLines(child.stderr, (line) => logger("info", `child ${pid}: ${line}`), signal);
    const status = await child.status;
    children.delete(child);
    // A process the child left behind may hold its pipes open: stop waiting after a while.
    const timer = setTimeout(() => drained.abort(), DRAIN_MS);
    await Promise.all([toClient, toLog]);
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // The relay closed it already.
    }
    await toChild;
    if (!status.success && !listening.closing) {
      logger("warn", `child ${child.pid} serving ${peer} ${exitStatusText(status)}`);
    } else {
      logger("info", `connection from ${peer} ended`);
    }
  }, logger);

  const close = () => listening.close();
  return {
    addr: listening.listener.addr as Deno.NetAddr | Deno.UnixAddr,
    children,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Calls `log` with each line of `stream`, until it ends or `signal` aborts. */
async function logLines(
  stream: ReadableStream<Uint8Array>,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let rest = "";
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream(), { signal })) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) log(line);
    }
  } catch {
    // The child is gone; what it wrote so far was logged.
  }
  if (rest) log(rest);
}

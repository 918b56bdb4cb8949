/**
 * A server that gives each connection its own process (RPyC's
 * `ForkingServer`): it accepts a socket, starts a child that speaks rdc on its
 * stdio, and relays bytes both ways until either side ends. Clients share
 * nothing, and a client that crashes its process hurts no one else.
 *
 * @module
 */

import { authenticate, type Authenticator } from "./auth.ts";
import { AUTHENTICATION_FAILED, refuse } from "../wire/handshake.ts";
import { Listening, type ListenOptions } from "./listening.ts";
import { Admission, checkMaxConnections } from "./admission.ts";
import { defaultLogger, type Logger } from "../log.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from "../session/connection.ts";
import { exitStatusText, stopChild } from "./stdio.ts";
import type { Transport } from "../wire/transport.ts";
import type { Incoming } from "./incoming.ts";

/** How long children get to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3_000;
/** How long a child's pipes may stay open after it exited. */
const DRAIN_MS = 1_000;

/** Options of {@linkcode serveIsolated}: where to listen, whom to let in, how to log. */
export interface IsolatedServeOptions extends ListenOptions {
  /** Where log lines go. Default: warnings and errors on stderr. */
  logger?: Logger;
  /** Checks each connection before a child is started for it (see `ServeOptions`). */
  authenticator?: Authenticator;
  /** Milliseconds a TLS handshake or the authenticator may take. Default 10 000. */
  handshakeTimeout?: number;
  /**
   * Connections served at once (children, plus clients still being
   * authenticated). A client beyond it is refused before a child is started,
   * with a CLOSE naming the reason, logged at most once a second. Default
   * 64 (each connection costs a process).
   */
  maxConnections?: number;
}

/** The default `maxConnections` of {@linkcode serveIsolated}: each connection costs a process. */
export const DEFAULT_MAX_CHILDREN = 64;

/** A running isolated server; `close()` stops it and ends every child. */
export interface IsolatedServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /** Resolves once listening (see `Server.ready`). */
  readonly ready: Promise<void>;
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
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxConnections = checkMaxConnections(
    options.maxConnections ?? DEFAULT_MAX_CHILDREN,
    "serveIsolated",
  );
  const stop = () => {
    // A child that ignores SIGTERM is killed after a grace period.
    for (const child of children) stopChild(child, 0, KILL_GRACE_MS);
  };
  const listening = new Listening(options, "serveIsolated", logger, handshakeTimeout, stop);
  const admission = new Admission(maxConnections, listening.description, logger);

  listening.accept(async (incoming) => {
    using slot = await admission.admit(incoming);
    if (!slot) return;
    const { transport: conn, peer } = incoming;
    if (!await letIn(incoming, options.authenticator, handshakeTimeout, listening, logger)) return;
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
    const toChild = relayIn(conn, child.stdin);
    const drained = new AbortController();
    const { signal } = drained;
    const toClient = relayOut(child.stdout, conn, signal);
    const pid = child.pid;
    const toLog = logLines(child.stderr, (line) => logger("info", `child ${pid}: ${line}`), signal);
    const status = await child.status;
    children.delete(child);
    // A process the child left behind may hold its pipes open: stop waiting after a while.
    const timer = setTimeout(() => drained.abort(), DRAIN_MS);
    await Promise.all([toClient, toLog]);
    clearTimeout(timer);
    conn.close();
    await toChild;
    if (!status.success && !listening.closing) {
      logger("warn", `child ${child.pid} serving ${peer} ${exitStatusText(status)}`);
    } else {
      logger("info", `connection from ${peer} ended`);
    }
  }, logger);

  const close = () => listening.close();
  return {
    addr: listening.addr,
    ready: listening.ready,
    children,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Runs `authenticator` on a connection that a server hands on to another
 * process (isolated, pool mode). Resolves true to let it in; on a refusal the
 * client is told why (a CLOSE) and the failure logged, unless the server is
 * closing. Never throws.
 */
export async function letIn(
  incoming: Incoming,
  authenticator: Authenticator | undefined,
  handshakeTimeout: number,
  listening: Listening,
  logger: Logger,
): Promise<boolean> {
  try {
    await authenticate(incoming, authenticator, handshakeTimeout, listening.stopping);
    return true;
  } catch (error) {
    await refuse(incoming.transport, AUTHENTICATION_FAILED);
    if (!listening.closing) {
      logger("warn", `connection from ${incoming.peer} failed: ${(error as Error).message}`);
    }
    return false;
  }
}

/**
 * Calls `log` with each line of `stream`, until it ends or `signal` aborts;
 * `start` is text already read from it (the start of its first line).
 */
export async function logLines(
  stream: ReadableStream<Uint8Array>,
  log: (line: string) => void,
  signal?: AbortSignal,
  start = "",
): Promise<void> {
  let rest = start;
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

/** Copies what the client sends into the child's stdin, then closes it. */
async function relayIn(from: Transport, to: WritableStream<Uint8Array>): Promise<void> {
  const writer = to.getWriter();
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
      await writer.write(buffer.slice(0, n));
    }
  } catch {
    // Either end went away: the other learns it from the close below.
  } finally {
    await writer.close().catch(() => {});
  }
}

/** Copies the child's stdout to the client until it ends or `signal` aborts. */
async function relayOut(
  from: ReadableStream<Uint8Array>,
  to: Transport,
  signal: AbortSignal,
): Promise<void> {
  const reader = from.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) await to.write(r.value);
  } catch {
    // The client went away, or the wait was cut short.
  } finally {
    signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}

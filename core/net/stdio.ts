/**
 * rdc over standard streams: serving on this process's own stdin/stdout
 * (inetd and ssh style), and connecting to a child process that does.
 *
 * @module
 */

import type * as NodeConsole from "node:console";
import type NodeProcess from "node:process";
import { nodeBuiltin } from "../node_builtin.ts";
import { startConnection } from "./start.ts";
import { ConnectionClosedError, withContext } from "../errors.ts";
import type { Connection, ConnectionOptions } from "../session/connection.ts";
import type { Service } from "../session/service.ts";
import type { Transport } from "../wire/transport.ts";
import { transportFromStreams } from "./adapters.ts";

/** How long a child that closed its stdout gets to report its exit status. */
const EXIT_STATUS_WAIT_MS = 2_000;
/** How long a child whose connection was closed gets to exit before SIGTERM. */
const EXIT_GRACE_MS = 3_000;

/**
 * Serves `service` on this process's stdin and stdout: the peer is whoever
 * holds the other ends of those pipes (a parent that spawned us, inetd, an ssh
 * exec channel).
 *
 * From then on stdout carries only rdc frames: the console (every method)
 * and `Deno.stdout.write` write to stderr instead, so stray output cannot
 * corrupt the protocol (RPyC's stdio mode does the same). Await `finished` on the result to serve
 * until the peer leaves.
 *
 * @example
 * ```ts
 * import { serveStdio, Service } from "@rdc/rdc";
 * class EchoService extends Service {
 *   exposed_echo(text: string): string { return text; }
 * }
 * // const conn = await serveStdio(EchoService);
 * // await conn.finished;
 * ```
 */
export async function serveStdio(
  service: Service | (new () => Service),
  options: Omit<ConnectionOptions, "service"> = {},
): Promise<Connection> {
  const writable = Deno.stdout.writable;
  keepStdoutForFrames();
  const transport = transportFromStreams({ readable: Deno.stdin.readable, writable }, "stdio");
  return await startConnection(transport, { ...options, service });
}

/**
 * Sends console and direct stdout writes to stderr. Idempotent. The console
 * is replaced, not patched: Deno's console methods print through an inner
 * object that patching does not reach.
 */
function keepStdoutForFrames(): void {
  if (stdoutKept) return;
  stdoutKept = true;
  const { Console } = nodeBuiltin<typeof NodeConsole>("node:console");
  const { stderr } = nodeBuiltin<typeof NodeProcess>("node:process");
  globalThis.console = new Console({ stdout: stderr, stderr });
  Deno.stdout.write = (bytes) => Deno.stderr.write(bytes);
  Deno.stdout.writeSync = (bytes) => Deno.stderr.writeSync(bytes);
}
let stdoutKept = false;

/** Options of {@linkcode connectSubprocess}: the child's environment, plus every connection option. */
export interface SubprocessOptions extends ConnectionOptions {
  /** The child's working directory. Default: ours. */
  cwd?: string;
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
}

/** A connection to a child process, which it owns: closing the connection ends the child. */
export interface SubprocessConnection extends Connection {
  /** The child process; its `status` resolves when it has exited. */
  readonly process: Deno.ChildProcess;
}

/**
 * Starts `cmd` (program and arguments) and speaks rdc with it over its stdin
 * and stdout (RPyC's `connect_subproc`). The child's stderr is passed through
 * to ours. When the child exits, pending calls reject with a
 * `ConnectionClosedError` that gives its exit status; closing the connection
 * closes the child's stdin, and a child still running a few seconds later gets
 * SIGTERM.
 *
 * @throws the runtime's error, naming the program, when it cannot be started.
 * @example
 * ```ts
 * import { connectSubprocess } from "@rdc/rdc";
 * // await using conn = await connectSubprocess(["deno", "run", "server.ts", "--stdio"]);
 * ```
 */
export async function connectSubprocess(
  cmd: readonly string[],
  options: SubprocessOptions = {},
): Promise<SubprocessConnection> {
  const { child, transport } = spawnTransport(cmd, options);
  let connection: Connection;
  try {
    connection = await startConnection(transport, options);
  } catch (error) {
    // No connection, no use for the child: end it rather than leave it behind.
    stopChild(child, 0, EXIT_GRACE_MS);
    await child.status;
    throw error;
  }
  return Object.assign(connection, { process: child }) as SubprocessConnection;
}

/**
 * Starts `cmd` with piped stdin and stdout (stderr passed through) and adapts
 * its stdio as a transport; closing the transport ends the child.
 *
 * @throws the runtime's error, naming the program, when it cannot be started.
 */
export function spawnTransport(
  cmd: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): { child: Deno.ChildProcess; transport: Transport } {
  const [program, ...args] = cmd;
  if (program === undefined) throw new TypeError("a subprocess needs a command to run");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    throw withContext(error, `cannot start '${program}'`);
  }
  const description = `subprocess ${child.pid} (${[program, ...args].join(" ")})`;
  return { child, transport: transportFromChild(child, description) };
}

/**
 * Adapts a child's stdio. At end of stream the read fails with the child's
 * exit status, which is what every pending call then reports.
 */
function transportFromChild(child: Deno.ChildProcess, description: string): Transport {
  const streams = transportFromStreams(
    { readable: child.stdout, writable: child.stdin },
    description,
  );
  let closed = false;
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  // A child that exits while something else holds its stdout open still ends the connection.
  let lingering: ReturnType<typeof setTimeout> | undefined;
  status.then(() => {
    if (!closed) lingering = setTimeout(() => streams.close(), EXIT_STATUS_WAIT_MS);
  });
  /** The child's exit as a connection error, once it has exited (within a short wait). */
  const exitError = async (): Promise<ConnectionClosedError | null> => {
    const timer = Promise.withResolvers<null>();
    const id = setTimeout(() => timer.resolve(null), EXIT_STATUS_WAIT_MS);
    const ended = await Promise.race([status, timer.promise]);
    clearTimeout(id);
    return ended && new ConnectionClosedError(`${description} ${exitStatusText(ended)}`);
  };
  return {
    description,
    async read(into) {
      const count = await streams.read(into);
      if (count !== null || closed) return count;
      throw (await exitError()) ?? count;
    },
    async write(bytes) {
      try {
        await streams.write(bytes);
      } catch (error) {
        // A write to a child that died fails first; say how it died.
        throw (await exitError()) ?? error;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(lingering);
      streams.close();
      if (!exited) stopChild(child, EXIT_GRACE_MS, EXIT_GRACE_MS);
    },
  };
}

/**
 * Sends `child` SIGTERM after `termMs`, and SIGKILL `killMs` later, unless it
 * exits first: how rdc ends a child that does not leave when asked.
 */
export function stopChild(child: Deno.ChildProcess, termMs: number, killMs: number): void {
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // It exited meanwhile.
    }
  };
  const term = setTimeout(() => send("SIGTERM"), termMs);
  const kill = setTimeout(() => send("SIGKILL"), termMs + killMs);
  child.status.then(() => {
    clearTimeout(term);
    clearTimeout(kill);
  });
}

/** "exited with status 3", or "was killed by SIGKILL". */
export function exitStatusText(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with status ${status.code}`;
}

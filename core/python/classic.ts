/**
 * Classic mode against Python: a connection to a Python `rpyc_classic`
 * server (its `SlaveService`), with `modules`, `builtins`, `eval`, `execute`
 * and `namespace` as RPyC's `rpyc.classic.connect` gives them.
 *
 * @module
 */

import {
  type Destination,
  openPython,
  streamDestination,
  tcpDestination,
  tlsDestination,
  unixDestination,
} from "./connect.ts";
import { PythonConnection } from "./connection.ts";
import type { PySession } from "./session.ts";
import type { PythonConnectOptions } from "./options.ts";
import { spawnTransport, stopChild } from "../net/stdio.ts";
import type { TlsClientOptions } from "../net/tls.ts";
import type { ByteStreams } from "../wire/transport.ts";
import { Question, remoteState } from "../session/engine.ts";

/** RPyC's classic port. */
export const CLASSIC_PORT = 18812;

/**
 * The Python program `connectSubprocess` starts by default: a classic
 * server (`SlaveService`) on its stdin and stdout, as `rpyc_classic -m stdio`.
 */
export const STDIO_CLASSIC_SERVER: string = [
  "import os, sys",
  "from rpyc.core.service import SlaveService",
  "from rpyc.utils.factory import connect_pipes",
  "source = os.fdopen(os.dup(0), 'rb', 0)",
  "sink = os.fdopen(os.dup(1), 'wb', 0)",
  "sys.stdin = open(os.devnull)",
  "sys.stdout = sys.stderr",
  "conn = connect_pipes(source, sink, SlaveService)",
  "try:",
  "    conn.serve_all()",
  "except (EOFError, KeyboardInterrupt):",
  "    pass",
].join("\n");

/**
 * A connection to a Python classic server.
 *
 * @example
 * ```ts
 * import { python } from "@rdc/rdc/python";
 * // await using py = await python.classic.connect("127.0.0.1", 18812);
 * // console.log(await py.modules.os.getcwd(), await py.eval("2**100"));
 * ```
 */
export class PythonClassic extends PythonConnection {
  #modules = new Map<string, unknown>();
  /**
   * Python's modules by name, imported remotely on first use and kept:
   * `py.modules.os.getcwd()`, `py.modules["os.path"].join("a", "b")`.
   */
  // deno-lint-ignore no-explicit-any
  readonly modules: Record<string, any>;

  /** Made by `classic.connect*`. */
  constructor(session: PySession, root: unknown) {
    super(session, root);
    this.modules = new Proxy({}, {
      get: (_, name) => typeof name === "string" ? this.#module(name) : undefined,
    });
  }

  /** Python's `builtins` module: `await py.builtins.len(py.eval("[1, 2]"))`. */
  // deno-lint-ignore no-explicit-any
  get builtins(): any {
    return this.modules.builtins;
  }

  /** The server's namespace dict, where `eval` and `execute` run. */
  // deno-lint-ignore no-explicit-any
  get namespace(): any {
    return this.root.namespace;
  }

  /** Evaluates a Python expression remotely: data arrives as data, objects as netrefs. */
  // deno-lint-ignore no-explicit-any
  async eval(code: string): Promise<any> {
    return await this.root.eval(code);
  }

  /** Executes Python statements remotely in the namespace. */
  async execute(code: string): Promise<void> {
    await this.root.execute(code);
  }

  #module(name: string): unknown {
    let module = this.#modules.get(name);
    if (module === undefined) {
      module = this.root.getmodule(name);
      this.#modules.set(name, module);
      const base = remoteState(module)?.base;
      // A failed import is not kept: the next use tries again.
      if (base instanceof Question) base.promise.catch(() => this.#modules.delete(name));
    }
    return module;
  }
}

/** Opens a classic connection to `destination`. */
async function openClassic(
  { open, key }: Destination,
  options: PythonConnectOptions,
): Promise<PythonClassic> {
  const plain = await openPython(open, key, options);
  return new PythonClassic(plain.session, plain.root);
}

/** Connects to a Python classic server over TCP (`rpyc.classic.connect`). */
export function connect(
  host = "127.0.0.1",
  port: number = CLASSIC_PORT,
  options: PythonConnectOptions = {},
): Promise<PythonClassic> {
  return openClassic(tcpDestination(host, port), options);
}

/** Connects to a Python classic server on a unix socket (`rpyc.classic.unix_connect`). */
export function connectUnix(
  path: string,
  options: PythonConnectOptions = {},
): Promise<PythonClassic> {
  return openClassic(unixDestination(path), options);
}

/** Connects to a Python classic server over TLS (`rpyc.classic.ssl_connect`, port 18821). */
export function connectTls(
  host: string,
  port: number,
  options: PythonConnectOptions & TlsClientOptions,
): Promise<PythonClassic> {
  return openClassic(tlsDestination(host, port, options), options);
}

/** Classic over any byte stream pair; pin `version` unless the peer speaks 6.x. */
export function connectStream(
  streams: ByteStreams,
  options: PythonConnectOptions = {},
): Promise<PythonClassic> {
  return openClassic(streamDestination(streams), options);
}

/** Options of {@linkcode connectSubprocess}. */
export interface PythonSubprocessOptions extends PythonConnectOptions {
  /** The child's working directory. @default ours */
  cwd?: string;
  /** Extra environment variables for the child (`PYTHONPATH`, say). @default none */
  env?: Record<string, string>;
}

/** A classic connection to a child process it owns: closing it ends the child. */
export interface PythonSubprocess extends PythonClassic {
  /** The child process. */
  readonly process: Deno.ChildProcess;
}

/**
 * Starts a Python classic server as a child process and speaks RPyC on its
 * stdin and stdout (RPyC's `rpyc_classic -m stdio`). `cmd` defaults to
 * `python3 -c` {@linkcode STDIO_CLASSIC_SERVER}; a given command must serve
 * a `SlaveService` on its stdio.
 */
export async function connectSubprocess(
  cmd: readonly string[] = ["python3", "-c", STDIO_CLASSIC_SERVER],
  options: PythonSubprocessOptions = {},
): Promise<PythonSubprocess> {
  let child: Deno.ChildProcess | null = null;
  const open = () => {
    if (child) stopChild(child, 0, 2_000);
    const spawned = spawnTransport(cmd, options);
    child = spawned.child;
    return Promise.resolve(spawned.transport);
  };
  let classic: PythonClassic;
  try {
    classic = await openClassic({ open, key: null }, options);
  } catch (error) {
    if (child) {
      stopChild(child, 0, 2_000);
      await (child as Deno.ChildProcess).status;
    }
    throw error;
  }
  const process = child! as Deno.ChildProcess;
  classic.onClose(() => stopChild(process, 3_000, 2_000));
  return Object.assign(classic, { process }) as PythonSubprocess;
}

export { PythonClassicService, serve } from "./classic_root.ts";

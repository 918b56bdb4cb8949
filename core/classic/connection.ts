/**
 * The client's view of a classic server: a connection with RPyC's classic
 * members (`modules`, `globals`, `eval`, `execute`, `namespace`, `teleport`,
 * `upload`, `download`, `redirectStdio`, `obtain`).
 *
 * @module
 */

import { obtain } from "../netref/helpers.ts";
import type { Connection, ConnectionStats } from "../session/connection.ts";
import type { CallOptions } from "../session/engine.ts";
import type { ConsoleStream } from "./console_capture.ts";
import { isBuiltinModule } from "./builtin_modules.ts";
import { teleportable } from "./source.ts";
import { checkDownloadChunk, download, type TransferOptions, upload } from "./transfer.ts";

/** Options of {@linkcode ClassicConnection.redirectStdio}. */
export interface RedirectOptions {
  /**
   * Where remote output goes. Default: the same stream (stdout or stderr) of
   * this process.
   */
  write?: (stream: ConsoleStream, text: string) => void;
}

/** An active redirection; disposing it (or `stop()`) ends it. */
export interface ConsoleRedirect extends AsyncDisposable {
  /** Ends the redirection once all output printed before the call has arrived. */
  stop(): Promise<void>;
}

/**
 * A connection to a classic server. Remote values are netrefs typed `any`:
 * every chain of reads and calls is sent as late and as batched as possible
 * (`await conn.modules["node:os"].hostname()` is one round trip).
 *
 * Contract: it owns `connection`; closing either closes both. Members other
 * than `Connection`'s need the peer to serve `ClassicService`.
 */
export class ClassicConnection implements Connection {
  /** The underlying connection. */
  readonly connection: Connection;
  /** The server's process when this end started it (`connectSubprocess`). */
  readonly process: Deno.ChildProcess | undefined;
  // deno-lint-ignore no-explicit-any
  readonly #modules = new Map<string, any>();

  /** Wraps an open connection to a classic server. */
  constructor(connection: Connection, process?: Deno.ChildProcess) {
    this.connection = connection;
    this.process = process;
  }

  /** The server's `ClassicService`. */
  // deno-lint-ignore no-explicit-any
  get root(): any {
    return this.connection.root;
  }

  /**
   * Remote modules by specifier: a remote dynamic `import()` of `node:`
   * builtins, `npm:` and `jsr:` specifiers, URLs, and file paths (relative to
   * the server's working directory). `conn.modules["node:os"].hostname()`.
   *
   * `specifier in conn.modules` must answer at once, so it holds for Node's
   * built-ins (`"node:os" in conn.modules`) and for modules this connection
   * has imported; for any other, try `await conn.modules[specifier]`.
   */
  // deno-lint-ignore no-explicit-any
  get modules(): Record<string, any> {
    return new Proxy(Object.create(null), {
      has: (_, specifier) =>
        typeof specifier === "string" &&
        (isBuiltinModule(specifier) || this.#modules.has(specifier)),
      get: (_, specifier) => {
        // Not a thenable: `await conn.modules` must not import a module named "then".
        if (typeof specifier !== "string" || specifier === "then") return undefined;
        const known = this.#modules.get(specifier);
        if (known) return known;
        const module = this.connection.root.import(specifier);
        // Later lookups reuse the netref instead of asking again.
        module.then((namespace: unknown) => this.#modules.set(specifier, namespace), () => {});
        return module;
      },
    });
  }

  /** The server's `globalThis`: `await conn.globals.Deno.pid`. */
  // deno-lint-ignore no-explicit-any
  get globals(): any {
    return this.connection.root.globals;
  }

  /**
   * This connection's namespace on the server, shared by `eval`, `execute`
   * and teleported functions: `await conn.namespace.x`, `conn.namespace.x = 1`.
   */
  // deno-lint-ignore no-explicit-any
  get namespace(): any {
    return this.connection.root.namespace;
  }

  /**
   * Evaluates `code` on the server, in the namespace, and returns its value
   * (a copy of plain data, a netref otherwise). An expression may use
   * `await`; statements give the value of the last one, as JavaScript's `eval`.
   */
  // deno-lint-ignore no-explicit-any
  eval(code: string): any {
    return this.connection.root.eval(code);
  }

  /**
   * Runs statements on the server, in the namespace (top-level `await`
   * allowed); their top-level declarations stay in the namespace.
   */
  async execute(code: string): Promise<void> {
    await this.connection.root.execute(code);
  }

  /**
   * Ships a function's source to the server and returns the remote function
   * (a netref), RPyC's `teleport_function(func, globals)`. Names the function
   * does not declare are looked up when it runs: in `globals`, then in the
   * server's `globalThis`. `globals` defaults to the namespace; pass a plain
   * object (copied to the server) or a remote object of the server
   * (`await conn.eval("({})")`) to give the function names of its own. A
   * named function is also defined in `globals`, so functions that call each
   * other may be teleported in any order. A function that closes over local
   * variables of this end fails when it runs, with a `ReferenceError` naming
   * the variable.
   *
   * @throws {TypeError} for a native, bound or remote function (a netref).
   */
  // deno-lint-ignore no-explicit-any ban-types
  async teleport(fn: Function, globals?: object): Promise<any> {
    const { source, free } = teleportable(fn);
    return await this.connection.root.teleport(source, free, globals);
  }

  /** Copies a local file or directory tree to the server. See {@linkcode TransferOptions}. */
  async upload(localPath: string, remotePath: string, options?: TransferOptions): Promise<void> {
    await upload(this.connection.root.files, localPath, remotePath, options);
  }

  /** Copies a file or directory tree from the server. See {@linkcode TransferOptions}. */
  async download(remotePath: string, localPath: string, options?: TransferOptions): Promise<void> {
    checkDownloadChunk(options, this.connection.limits.maxMessageSize);
    await download(this.connection.root.files, remotePath, localPath, options);
  }

  /**
   * Shows the server's console output here until the result is disposed
   * (RPyC's `redirected_stdio`). Meanwhile the server prints nothing itself.
   *
   * @example
   * ```ts
   * import { classic } from "@rdc/rdc";
   * await using conn = await classic.connect();
   * {
   *   await using _redirect = await conn.redirectStdio();
   *   await conn.execute("console.log('printed here, not on the server')");
   * }
   * ```
   */
  async redirectStdio(options: RedirectOptions = {}): Promise<ConsoleRedirect> {
    const write = options.write ?? writeLocally;
    const stop: () => Promise<void> = await this.connection.root.redirectConsole(write);
    const end = async () => {
      // A closed connection has ended the redirection already (the server saw it go).
      if (!this.connection.closed) {
        await stop().catch((error) => {
          if (!this.connection.closed) throw error;
        });
      }
    };
    return { stop: end, [Symbol.asyncDispose]: end };
  }

  /** A local deep copy of a remote value (see the top-level `obtain`). */
  obtain<T = unknown>(remote: unknown): Promise<T> {
    return obtain<T>(remote);
  }

  /** The server's service name. */
  get peerService(): string {
    return this.connection.peerService;
  }
  /** Every name the server's service answers to. */
  get peerAliases(): readonly string[] {
    return this.connection.peerAliases;
  }
  /** Null: credentials are what a server learns about its clients. */
  get credentials(): unknown {
    return this.connection.credentials;
  }
  /** The service this end offers the server. */
  get service(): Connection["service"] {
    return this.connection.service;
  }
  /** What the connection is connected to. */
  get description(): string {
    return this.connection.description;
  }
  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.connection.closed;
  }
  /** Resolves once the connection has closed and cleaned up. */
  get finished(): Promise<void> {
    return this.connection.finished;
  }
  /** Why the connection closed, once it has. */
  get closeReason(): Error | null {
    return this.connection.closeReason;
  }
  /** Calls `listener` once when the connection closes. */
  onClose(listener: (reason: Error) => void): Disposable {
    return this.connection.onClose(listener);
  }
  /** Round-trip time of a ping, in milliseconds. */
  ping(options?: CallOptions): Promise<number> {
    return this.connection.ping(options);
  }
  /** Table sizes and counters. */
  stats(): ConnectionStats {
    return this.connection.stats();
  }
  /** The limits this end enforces on what the server sends. */
  get limits(): Connection["limits"] {
    return this.connection.limits;
  }
  /** Closes the connection; a server this end started then exits. */
  async close(reason?: string): Promise<void> {
    await this.connection.close(reason);
    await this.process?.status;
  }
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const encoder = new TextEncoder();

function writeLocally(stream: ConsoleStream, text: string): void {
  const bytes = encoder.encode(text);
  const target = stream === "stderr" ? Deno.stderr : Deno.stdout;
  for (let offset = 0; offset < bytes.length;) offset += target.writeSync(bytes.subarray(offset));
}

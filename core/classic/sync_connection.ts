/**
 * The synchronous client's view of a classic server: RPyC's classic members
 * (`modules`, `globals`, `eval`, `execute`, `namespace`, `teleport`,
 * `upload`, `download`, `obtain`), each blocking until the server answers.
 *
 * @module
 */

import type { ConnectionStats } from "../session/connection.ts";
import type { SyncConnection } from "../sync/connection.ts";
import { RemoteError } from "../errors.ts";
import { isBuiltinModule } from "./builtin_modules.ts";
import { teleportable } from "./source.ts";
import { checkDownloadChunk, downloadSync, type TransferOptions, uploadSync } from "./transfer.ts";

/**
 * A synchronous connection to a classic server: `conn.eval("1+1")` is `2`,
 * `conn.modules["node:os"].hostname()` a string.
 *
 * Contract: it owns `connection`; closing either closes both.
 */
export class SyncClassicConnection implements Disposable {
  /** The synchronous connection underneath. */
  readonly connection: SyncConnection;
  // deno-lint-ignore no-explicit-any
  readonly #modules = new Map<string, any>();

  /** Wraps a synchronous connection to a classic server. */
  constructor(connection: SyncConnection) {
    this.connection = connection;
  }

  /** The server's `ClassicService`, as a synchronous netref. */
  // deno-lint-ignore no-explicit-any
  get root(): any {
    return this.connection.root;
  }

  /**
   * The server's modules, imported on first use (RPyC's `conn.modules`):
   * `conn.modules["node:path"].join("a", "b")`. `specifier in conn.modules`
   * imports it and says whether that worked, as RPyC's `in` does.
   */
  // deno-lint-ignore no-explicit-any
  get modules(): Record<string, any> {
    // deno-lint-ignore no-explicit-any
    const load = (specifier: string): any => {
      let module = this.#modules.get(specifier);
      if (module === undefined) {
        module = this.connection.root.import(specifier);
        this.#modules.set(specifier, module);
      }
      return module;
    };
    return new Proxy(Object.create(null), {
      has: (_, specifier) => {
        if (typeof specifier !== "string") return false;
        if (isBuiltinModule(specifier)) return true;
        try {
          load(specifier);
          return true;
        } catch (error) {
          if (error instanceof RemoteError) return false;
          throw error; // The connection failed: not an answer about the module.
        }
      },
      get: (_, specifier) => typeof specifier === "string" ? load(specifier) : undefined,
    });
  }

  /** The server's `globalThis`. */
  // deno-lint-ignore no-explicit-any
  get globals(): any {
    return this.connection.root.globals;
  }

  /** The connection's namespace on the server, where `execute` and teleported functions run. */
  // deno-lint-ignore no-explicit-any
  get namespace(): any {
    return this.connection.root.namespace;
  }

  /** Evaluates an expression on the server and returns its value (awaited there). */
  // deno-lint-ignore no-explicit-any
  eval(code: string): any {
    return this.connection.root.eval(code);
  }

  /** Runs statements on the server, in the connection's namespace. */
  execute(code: string): void {
    this.connection.root.execute(code);
  }

  /**
   * Sends `fn`'s source to the server and returns the server's copy of it,
   * a synchronous netref (RPyC's `teleport_function(func, globals)`); names
   * it does not declare are looked up when it runs, in `globals` (default:
   * the namespace), then the server's `globalThis`. See
   * `ClassicConnection.teleport`.
   *
   * @throws {TypeError} for a netref, a native or bound function.
   */
  // deno-lint-ignore no-explicit-any ban-types
  teleport(fn: Function, globals?: object): any {
    const { source, free } = teleportable(fn);
    return this.connection.root.teleport(source, free, globals);
  }

  /** Copies a local file or directory tree to the server. */
  upload(localPath: string, remotePath: string, options?: TransferOptions): void {
    uploadSync(this.connection.root.files, localPath, remotePath, options);
  }

  /** Copies a file or directory tree from the server. */
  download(remotePath: string, localPath: string, options?: TransferOptions): void {
    checkDownloadChunk(options, this.connection.limits.maxMessageSize);
    downloadSync(this.connection.root.files, remotePath, localPath, options);
  }

  /** A deep copy of a remote value (RPyC's `classic.obtain`). */
  obtain<T = unknown>(remote: unknown): T {
    return this.connection.obtain<T>(remote);
  }

  /** `fn` (a remote function) as one that returns a promise; see `SyncConnection.async`. */
  async<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<Awaited<R>> {
    return this.connection.async(fn);
  }

  /** `fn` (a remote function) with a timeout of its own; see `SyncConnection.timed`. */
  timed<F extends (...args: never[]) => unknown>(fn: F, ms: number): F {
    return this.connection.timed(fn, ms);
  }

  /** The name of the server's service ("Classic"). */
  get peerService(): string {
    return this.connection.peerService;
  }

  /** What the connection goes to. */
  get description(): string {
    return this.connection.description;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.connection.closed;
  }

  /** Pings the server; returns the round trip in milliseconds. */
  ping(timeout?: number): number {
    return this.connection.ping(timeout);
  }

  /** Table sizes and counters. */
  stats(): ConnectionStats {
    return this.connection.stats();
  }

  /** Closes the connection. Idempotent; never throws. */
  close(reason?: string): void {
    this.connection.close(reason);
  }

  /** Closes the connection (`using conn = classic.connectSync()`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The classic service (RPyC's `SlaveService`): the root a classic server
 * offers. It hands the peer the whole process: module imports, `globalThis`,
 * code evaluation, files. Serve it only with the permissive policy to peers
 * you trust, or over an authenticated transport.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ref } from "../wire/markers.ts";
import type { ByReference } from "../wire/markers.ts";
import type { Connection } from "../session/connection.ts";
import { Service } from "../session/service.ts";
import { captureConsole, type ConsoleStream, OutputForwarder } from "./console_capture.ts";
import { FileAccess } from "./files.ts";
import { Scope } from "./scope.ts";

/**
 * The root object of a classic server; a fresh one (with its own namespace)
 * for each connection. Clients use it through `ClassicConnection`, whose
 * members are built on these.
 */
export class ClassicService extends Service {
  /** The names a classic server answers to. */
  static override aliases: string[] = ["Classic"];

  readonly #scope = new Scope();
  readonly #captures = new Set<Disposable>();
  #connection: Connection | undefined;

  /** File operations for `upload` and `download`. */
  readonly exposed_files: FileAccess = new FileAccess();

  override onConnect(conn: Connection): void {
    this.#connection = conn;
  }

  override async onDisconnect(): Promise<void> {
    for (const capture of this.#captures) capture[Symbol.dispose]();
    this.#captures.clear();
    await this.exposed_files.closeAll();
  }

  /**
   * Imports a module (`node:os`, `npm:…`, a URL, or a file path, relative to
   * this process's working directory) and returns its namespace.
   */
  exposed_import(specifier: string): Promise<unknown> {
    return importModule(moduleUrl(specifier));
  }

  /** This process's `globalThis`. */
  get exposed_globals(): typeof globalThis {
    return globalThis;
  }

  /** This connection's namespace, where `eval` and `execute` keep their names. */
  get exposed_namespace(): ByReference<Record<string, unknown>> {
    return ref(this.#scope.namespace);
  }

  /** The serving end's own connection object (RPyC's `getconn`). */
  get exposed_connection(): Connection | undefined {
    return this.#connection;
  }

  /** Evaluates an expression (or statements) in the namespace; see `Scope.evaluate`. */
  exposed_eval(code: string): Promise<unknown> {
    return this.#scope.evaluate(code);
  }

  /** Runs statements in the namespace; see `Scope.execute`. */
  exposed_execute(code: string): Promise<void> {
    return this.#scope.execute(code);
  }

  /**
   * Compiles a function's source and returns it (RPyC's `teleport_function`).
   * Names it does not declare resolve when it runs, in `globals` (default:
   * this connection's namespace), then in `globalThis`; so a function may
   * call one teleported after it. A named function is also defined in
   * `globals`. `freeNames` are the names the sender saw it use without
   * declaring: should one be defined nowhere when it runs, the error says
   * that a teleported function cannot see the sender's local variables.
   *
   * @throws {TypeError} when `globals` is given and is not an object.
   * @throws {SyntaxError} when `source` is not a function.
   */
  exposed_teleport(
    source: string,
    freeNames: string[] = [],
    globals?: Record<string, unknown>,
  ): (...args: unknown[]) => unknown {
    if (globals !== undefined && (typeof globals !== "object" || globals === null)) {
      throw new TypeError(`a teleported function's globals must be an object, not ${globals}`);
    }
    const names = globals ?? this.#scope.namespace;
    const fn = this.#scope.compileFunction(source, names, freeNames);
    if (fn.name && /^[\p{L}_$][\p{L}\p{N}_$]*$/u.test(fn.name)) names[fn.name] = fn;
    return fn;
  }

  /**
   * Sends this process's console output to `write` until the returned
   * function is called; that function resolves once all output captured
   * before it was delivered.
   */
  exposed_redirectConsole(
    write: (stream: ConsoleStream, text: string) => unknown,
  ): () => Promise<void> {
    const forwarder = new OutputForwarder(write);
    const capture = captureConsole(forwarder.sink);
    this.#captures.add(capture);
    return async () => {
      if (!this.#captures.delete(capture)) return;
      capture[Symbol.dispose]();
      await forwarder.flush();
    };
  }
}

/**
 * `import()` compiled at run time: which module is the peer's choice, so there
 * is nothing for `deno publish` to analyze (a literal `import(x)` here would
 * draw its "unanalyzable dynamic import" warning). Specifiers are absolute.
 */
const importModule = new Function("specifier", "return import(specifier)") as (
  specifier: string,
) => Promise<unknown>;

/** Resolves a file path against the working directory; other specifiers go as they are. */
function moduleUrl(specifier: string): string {
  if (/^\.{1,2}[\\/]/.test(specifier) || isAbsolute(specifier)) {
    return pathToFileURL(resolve(specifier)).href;
  }
  return specifier;
}

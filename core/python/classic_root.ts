/**
 * A classic root for Python clients: what Python's `rpyc.classic.connect`
 * expects of a `SlaveService` (`getmodule`, `eval`, `execute`, `namespace`,
 * `getconn`), answered by this Deno process. Remote code execution by
 * design: serve it to trusted clients only.
 *
 * @module
 */

import { Scope } from "../classic/scope.ts";
import { PERMISSIVE } from "../session/policy.ts";
import { type PythonServeOptions, type PythonServer, serve as servePython } from "./serve.ts";
import type { PythonConnection } from "./connection.ts";

/**
 * What Python's `ModuleNamespace` asks of `importlib.util`: whether a module
 * can be imported (`"node:os" in conn.modules`).
 */
class ModuleFinder {
  /** Truthy when `name` imports. */
  async _find_spec_from_path(name: string): Promise<boolean | null> {
    try {
      await import(name);
      return true;
    } catch {
      return null;
    }
  }
}

/**
 * The classic root a Python client reaches: `conn.modules["node:os"]`
 * imports a Deno module, `conn.builtins` is `globalThis`, `conn.eval` and
 * `conn.execute` run JavaScript in this connection's namespace.
 */
export class PythonClassicService {
  /** The names it registers under (Python's `rpyc_classic` registers SLAVE). */
  static aliases: string[] = ["Slave", "Classic"];
  readonly #scope = new Scope();
  #connection: PythonConnection | undefined;

  /** Remembers the connection for `getconn`. */
  onConnect(conn: PythonConnection): void {
    this.#connection = conn;
  }

  /**
   * A module by name: `builtins` is `globalThis`; anything else is imported
   * (`node:os`, `npm:…`, a URL). A tuple of names is joined with dots, as
   * RPyC's `getmodule` does.
   */
  async exposed_getmodule(name: string | readonly string[]): Promise<unknown> {
    const specifier = typeof name === "string" ? name : name.join(".");
    if (specifier === "builtins") return globalThis;
    if (specifier === "importlib.util") return new ModuleFinder();
    return await import(specifier);
  }

  /** Evaluates JavaScript (an expression, or statements) in the namespace. */
  exposed_eval(code: string): Promise<unknown> {
    return this.#scope.evaluate(code);
  }

  /** Runs JavaScript statements in the namespace. */
  exposed_execute(code: string): Promise<void> {
    return this.#scope.execute(code);
  }

  /** The namespace `eval` and `execute` share. */
  get exposed_namespace(): Record<string, unknown> {
    return this.#scope.namespace;
  }

  /** This end's connection to the Python client (RPyC's `getconn`). */
  exposed_getconn(): PythonConnection | undefined {
    return this.#connection;
  }
}

/**
 * Serves classic mode to Python clients (`rpyc.classic.connect(host,
 * 18812)`), with the permissive policy classic mode has. Default port 18812.
 */
export function serve(options: Partial<PythonServeOptions> = {}): PythonServer {
  return servePython(PythonClassicService, { ...PERMISSIVE, port: 18812, ...options });
}

/**
 * Node built-in modules loaded when first used, not when rdc is imported.
 *
 * Why: Deno builds its `node:` modules (zlib, tls, crypto, console, stream,
 * process…) from JavaScript sources the first time any of them is imported,
 * which costs about 20 ms of CPU at start-up, a third of a deployed server's
 * whole start (`deno task bench:deploy`). A program that never compresses,
 * never speaks TLS and never captures the console should not pay for them.
 *
 * Contract: {@linkcode nodeBuiltin} returns the module as `require` would
 * (the same object on every call); it throws only where the runtime has no
 * Node layer, which no code path reaching it (the Deno entry's network and
 * classic layers) runs on.
 *
 * @module
 */

/** What Deno's global `process` offers for this (Node's `process.getBuiltinModule`). */
interface BuiltinLoader {
  getBuiltinModule(id: string): unknown;
}

/**
 * The Node built-in `id` (`"node:zlib"`), loaded now if it was not yet.
 *
 * @throws {Error} where the runtime has no Node layer (no global `process`).
 */
export function nodeBuiltin<T>(id: string): T {
  const loader = (globalThis as { process?: BuiltinLoader }).process;
  if (typeof loader?.getBuiltinModule !== "function") {
    throw new Error(`${id} is not available in this runtime`);
  }
  return loader.getBuiltinModule(id) as T;
}

/**
 * The modules every Deno process can import: Node's built-ins, under `node:`.
 *
 * @module
 */

import { builtinModules } from "node:module";

const BUILTINS: ReadonlySet<string> = new Set(
  builtinModules.map((name) => name.startsWith("node:") ? name : `node:${name}`),
);

/**
 * Whether `specifier` names a Node built-in (`node:os`): importable on any
 * Deno server, so `specifier in conn.modules` holds without asking it.
 */
export function isBuiltinModule(specifier: string): boolean {
  return BUILTINS.has(specifier);
}

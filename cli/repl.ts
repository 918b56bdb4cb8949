/**
 * Deno's REPL with `conn` bound to a classic connection: what `rdc shell`
 * and `rdc deploy` open.
 *
 * @module
 */

import { types } from "node:util";
import { RemoteError, type RemoteErrorFields } from "../core/errors.ts";

/**
 * Runs `deno repl` (with every permission) after evaluating `setup` then
 * `open`, a JavaScript expression for the connection (a promise of one, or
 * a synchronous one), inside it: the connection is made by the REPL
 * process, which owns it. `what` names the connection in the line printed
 * once it is open (`rdc COMMAND: conn is WHAT to DESCRIPTION`). If `open`
 * fails, the REPL ends with one line (`rdc COMMAND: reason`) and status 1
 * before reading input. Remote errors thrown at the prompt print with their
 * message and stacks (see {@linkcode nativeRemoteErrors}). Resolves with the
 * REPL's exit status.
 */
export async function runClassicRepl(
  command: string,
  setup: string,
  open: string,
  what = "a classic connection",
): Promise<number> {
  const init = [
    `(await import(${JSON.stringify(import.meta.url)})).nativeRemoteErrors();`,
    setup,
    `var conn;`,
    `try { conn = await ${open}; } catch (error) {`,
    `console.error("rdc ${command}: " + error.message); Deno.exit(1); }`,
    `console.log("rdc ${command}: conn is ${what} to " + conn.description);`,
  ].join(" ");
  const repl = new Deno.Command(Deno.execPath(), {
    args: ["repl", "--allow-all", "--quiet", `--eval=${init}`],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await repl.status).code;
}

let installed = false;

/**
 * Makes every remote error this process receives from now on a native
 * `Error` object (with the same prototype, message, stacks and properties),
 * for the REPL. Idempotent.
 *
 * Why: the REPL prints an uncaught value as V8's description of it, which
 * for an error is its stack (`RangeError: message`, then the frames) but
 * for any other object only its class name. `RemoteError.from` builds the
 * errors of registered classes (JavaScript's own among them) with
 * `Object.create(cls.prototype)`, objects that are not native errors, so
 * `conn.eval("null.x")` would print only `Uncaught TypeError`. A remote
 * error that is native already passes unchanged.
 */
export function nativeRemoteErrors(): void {
  if (installed) return;
  installed = true;
  const from = RemoteError.from;
  RemoteError.from = function (fields: RemoteErrorFields): Error {
    const built = from.call(this, fields);
    if (types.isNativeError(built)) return built;
    const error = new Error();
    Object.setPrototypeOf(error, Object.getPrototypeOf(built));
    // Its message, name, stack and remoteStack, and the brand that makes it a RemoteError.
    for (const key of Reflect.ownKeys(built)) {
      const descriptor = Reflect.getOwnPropertyDescriptor(built, key)!;
      // `stack` is V8's accessor, which reads the object it was made for: copy its value.
      if (descriptor.get) {
        Object.defineProperty(error, key, {
          value: Reflect.get(built, key),
          writable: true,
          enumerable: descriptor.enumerable,
          configurable: true,
        });
      } else {
        Object.defineProperty(error, key, descriptor);
      }
    }
    return error;
  };
}

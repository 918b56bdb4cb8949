/**
 * Helpers on netrefs: `timed`, `obtain` and `dispose` (RPyC's `rpyc.timed`,
 * `rpyc.classic.obtain`, and a remote context manager's `__exit__`).
 *
 * @module
 */

import { callWith, perform } from "./proxy.ts";
import { type CallOptions, remoteState } from "../session/engine.ts";
import { Op } from "../wire/messages.ts";
import { runDisposer } from "../session/dispatch.ts";

/**
 * Wraps a remote function so each call uses a timeout (milliseconds) or an
 * `AbortSignal`. A call that runs out of time rejects with `TimeoutError`, an
 * aborted one with the signal's reason; either way the callee's
 * `currentCall().signal` fires and the connection stays usable.
 *
 * @example
 * ```ts
 * import { timed } from "@rdc/rdc";
 * // const result = await timed(conn.root.slowQuery, 500)("select 1");
 * // const ac = new AbortController();
 * // const other = timed(conn.root.slowQuery, { signal: ac.signal })("select 2");
 * ```
 */
export function timed<F extends (...args: never[]) => unknown>(
  fn: F,
  options: number | CallOptions,
): F {
  if (!remoteState(fn)) throw new TypeError("timed() expects a remote function (a netref)");
  const callOptions = typeof options === "number" ? { timeout: options } : options;
  return ((...args: unknown[]) => callWith(fn, args, callOptions)) as unknown as F;
}

/**
 * Pulls a deep copy of a remote value: class instances arrive as plain
 * objects of the members the peer's policy lets us read; netrefs inside stay
 * netrefs. A local value is returned as is.
 */
export async function obtain<T = unknown>(remote: unknown): Promise<T> {
  const state = remoteState(remote);
  if (!state) return remote as T;
  return await perform(Op.Copy, state.engine, state.base, state.path, [], undefined).promise as T;
}

/**
 * Disposes `value` telling its disposer why (RPyC's remote `__exit__` with
 * the exception): for a netref to a remote disposable, the owner's
 * `[Symbol.asyncDispose]` (else `[Symbol.dispose]`) runs with `error` as its
 * argument, and the netref is released. `await using` does the same without
 * an error (the language does not pass one). Resolves once the disposer has
 * run; rejects with what it threw. Works on synchronous netrefs too (the
 * disposer has run when the call returns) and on local disposables.
 *
 * @throws {TypeError} when `value` has neither `Symbol.asyncDispose` nor `Symbol.dispose`.
 * @example
 * ```ts
 * import { dispose } from "@rdc/rdc";
 * // const tx = await conn.root.begin();   // the server's object has [Symbol.asyncDispose]
 * // try {
 * //   await tx.insert(row);
 * // } catch (error) {
 * //   await dispose(tx, error);            // its disposer hears of the failure: rolls back
 * //   throw error;
 * // }
 * // await dispose(tx);                    // commits
 * ```
 */
export async function dispose(value: unknown, error?: unknown): Promise<void> {
  await runDisposer(value, error);
}

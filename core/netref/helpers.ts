/**
 * Helpers on netrefs: `timed`, `obtain`, `dispose` and `iterate` (RPyC's
 * `rpyc.timed`, `rpyc.classic.obtain`, a remote context manager's `__exit__`,
 * and `buffiter`).
 *
 * @module
 */

import { callWith, perform, remoteIterator } from "./proxy.ts";
import type { IterateOptions } from "./iteration.ts";
import { checkWindow } from "../session/iteration.ts";
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

/**
 * Iterates a remote iterable (or async iterable) with its own prefetch
 * window: the remote iterator runs at most `window` items ahead of the loop,
 * and items arrive in batches (256 ahead at first, more only while the loop
 * keeps waiting for items). `for await` on a netref does the same with the
 * connection's `iterationWindow` (default 16 384). With `window: 1` each item
 * costs a round trip and is produced only when the loop asks for it, and
 * values passed to `next(value)` reach a remote generator. A local iterable
 * is iterated as it is.
 *
 * @example
 * ```ts
 * import { iterate } from "@rdc/rdc";
 * // for await (const row of iterate(conn.root.rows(), { window: 1000 })) use(row);
 * // for await (const step of iterate(conn.root.steps(), { window: 1 })) lockStep(step);
 * ```
 *
 * @throws {RangeError} when `window` is not an integer from 1 to 65 536.
 */
export function iterate<T = unknown>(
  remote: AsyncIterable<T> | Iterable<T>,
  options: IterateOptions = {},
): AsyncIterableIterator<T> {
  const state = remoteState(remote);
  if (!state) return toAsync(remote);
  const window = checkWindow(options.window ?? state.engine.iterationWindow, "window");
  return remoteIterator(state, window) as AsyncIterableIterator<T>;
}

async function* toAsync<T>(iterable: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  yield* iterable;
}

/**
 * The one test of "can this be awaited" the wire and the session share.
 *
 * @module
 */

/**
 * Whether `value` has a callable `then`: a promise, any thenable, or a netref
 * of a call's answer (a function proxy). Reads `then` once.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * The TypeScript view of netrefs. Types only; nothing here exists at run time.
 *
 * @module
 */

/** A member name as a peer reaches it: `exposed_add` is reached as `add`. */
export type Unprefixed<K> = K extends `exposed_${infer Name}` ? Name : K;

/** What awaiting a remote value gives: data arrives as data, objects as netrefs. */
export type Resolved<T> = T extends
  string | number | boolean | bigint | null | undefined | Date | Uint8Array | ArrayBuffer ? T
  : T extends (...args: never[]) => unknown ? Remote<T>
  : T extends object ? T & Remote<T>
  : T;

/**
 * A remote value not yet here: awaiting it fetches it (one round trip, or
 * none more if it is the answer to a call); reading members and calling it
 * keep it remote and pipeline.
 */
export type RemotePromise<T> = PromiseLike<Resolved<Awaited<T>>> & Remote<Awaited<T>>;

/**
 * The TypeScript view of a netref to a `T`: every member (with `exposed_`
 * stripped) is reachable as a {@linkcode RemotePromise}; methods return one;
 * `new` works on classes; netrefs are disposable.
 *
 * @example
 * ```ts
 * import type { Remote } from "@rdc/rdc";
 * class Calculator { add(a: number, b: number): number { return a + b; } }
 * declare const calc: Remote<Calculator>;
 * const sum: number = await calc.add(1, 2);
 * ```
 */
export type Remote<T> =
  & (T extends (...args: infer A) => infer R ? (...args: A) => RemotePromise<R> : unknown)
  & (T extends abstract new (...args: infer A) => infer I ? new (...args: A) => RemotePromise<I>
    : unknown)
  & { readonly [K in keyof T as K extends string ? Unprefixed<K> : never]: RemoteMember<T[K]> }
  & Disposable
  & AsyncDisposable;

/** A member as seen through a netref: methods are callable, the rest awaitable. */
export type RemoteMember<V> = V extends (...args: infer A) => infer R
  ? ((...args: A) => RemotePromise<R>) & Remote<V>
  : RemotePromise<V>;

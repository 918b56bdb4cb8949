/**
 * The TypeScript view of netrefs. Types only; nothing here exists at run time.
 *
 * @module
 */

/** A member name as a peer reaches it: `exposed_add` is reached as `add`. */
export type Unprefixed<K> = K extends `exposed_${infer Name}` ? Name : K;

/**
 * What awaiting a remote value gives: data arrives as data, objects as
 * netrefs. An object type with `exposed_` members is a class instance, so a
 * netref; any other may be either (plain data is copied).
 */
export type Resolved<T> = T extends
  string | number | boolean | bigint | null | undefined | Date | Uint8Array | ArrayBuffer ? T
  : T extends (...args: never[]) => unknown ? Remote<T>
  : T extends object ? [ExposedKeys<T>] extends [never] ? T & Remote<T> : Remote<T>
  : T;

/**
 * A remote value not yet here: awaiting it fetches it (one round trip, or
 * none more if it is the answer to a call); reading members and calling it
 * keep it remote and pipeline.
 */
export type RemotePromise<T> = PromiseLike<Resolved<Awaited<T>>> & Remote<Awaited<T>>;

/** The members of `T` named with the `exposed_` prefix. */
export type ExposedKeys<T> = keyof {
  // Remapped keys: a mapped type over an array type would map its items instead.
  [K in keyof T as K extends `exposed_${string}` ? K : never]: 0;
};

/**
 * The names a peer reaches on a `T` under the default (strict) policy, as
 * it writes them: its `exposed_` members without the prefix; or, for a
 * type with no `exposed_` member (plain data, an object of a classic
 * server), its string-named members that do not start with `_` — except a
 * service's lifetime hooks, which are never exposed. Members marked with
 * `@exposed` cannot be seen by the type system: name them with
 * `Remote<T, "a" | "b">`.
 */
export type ExposedNames<T> = [ExposedKeys<T>] extends [never]
  ? Exclude<Extract<keyof T, string>, `_${string}` | "onConnect" | "onDisconnect">
  : Unprefixed<ExposedKeys<T>>;

/**
 * The TypeScript view of a netref to a `T`: the members the peer may reach
 * (`Names`, by default {@linkcode ExposedNames}: `exposed_add` is reached as
 * `add`, and a member that is not exposed does not type-check) are each a
 * {@linkcode RemotePromise}; methods return one; `new` works on classes;
 * netrefs are disposable. With `allowPublicAttrs` on the serving end, or
 * `@exposed` members, pass the reachable names: `Remote<Counter, "count" |
 * "increment">`.
 *
 * @example
 * ```ts
 * import { type Remote, Service } from "@rdc/rdc";
 * class CalculatorService extends Service {
 *   exposed_add(a: number, b: number): number { return a + b; }
 *   secret(): string { return "not exposed"; }
 * }
 * declare const calc: Remote<CalculatorService>;
 * const sum: number = await calc.add(1, 2);
 * // @ts-expect-error: secret is not exposed
 * calc.secret();
 * ```
 */
export type Remote<T, Names extends string = ExposedNames<T>> =
  & (T extends (...args: infer A) => infer R ? (...args: A) => RemotePromise<R> : unknown)
  & (T extends abstract new (...args: infer A) => infer I ? new (...args: A) => RemotePromise<I>
    : unknown)
  & {
    readonly [K in keyof T as K extends string ? Extract<Unprefixed<K>, Names> : never]:
      RemoteMember<T[K]>;
  }
  & Disposable
  & AsyncDisposable;

/** A member as seen through a netref: methods are callable, the rest awaitable. */
export type RemoteMember<V> = V extends (...args: infer A) => infer R
  ? ((...args: A) => RemotePromise<R>) & Remote<V>
  : RemotePromise<V>;

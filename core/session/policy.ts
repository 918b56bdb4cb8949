/**
 * The security policy: which members of a local object a peer may reach.
 *
 * A peer reaches only what it was handed (capabilities); on those objects it
 * reaches only exposed members — names with the `exposed_` prefix (reachable
 * without it, as in RPyC) or members marked with the `@exposed` decorator —
 * unless the connection's policy widens that. `__proto__`, `constructor`,
 * `prototype` and every `Object.prototype` name are never reachable, whatever
 * the policy: a peer that asks for one is hostile and loses its connection.
 *
 * What a function inherits from `Function.prototype` (`call`, `apply`, `bind`,
 * `arguments`, `caller`) is plumbing, not a member: through it a peer could
 * run any function it reaches with any object it holds a netref to as `this`
 * (and so write what `setMember` refuses). `allowPublicAttrs` does not reach
 * it, as RPyC's `allow_public_attrs` does not reach `__call__`-style names;
 * only `allowAllAttrs` (full trust, classic mode) does. A function's own
 * members (a class's static methods, `name`, `length`) follow the usual rules.
 *
 * @module
 */

import { AccessError, peerFault } from "../errors.ts";

/** What a peer may do to the objects this end exports. Strict by default. */
export interface Policy {
  /**
   * Allow members whose names do not start with `_` (RPyC `allow_public_attrs`),
   * except what functions inherit from `Function.prototype` (`call`, `apply`,
   * `bind`, …).
   *
   * @default {false}
   */
  allowPublicAttrs?: boolean;
  /**
   * Allow every member but the always-blocked names (RPyC `allow_all_attrs`),
   * `Function.prototype`'s `call`, `apply` and `bind` included: full trust.
   *
   * @default {false}
   */
  allowAllAttrs?: boolean;
  /**
   * Allow property writes on reachable members (RPyC `allow_setattr`).
   *
   * @default {false}
   */
  allowSetAttr?: boolean;
  /**
   * Allow property deletes on reachable members (RPyC `allow_delattr`).
   *
   * @default {false}
   */
  allowDelAttr?: boolean;
  /**
   * Allow `new` on exported classes.
   *
   * @default {false}
   */
  allowConstruct?: boolean;
  /**
   * The prefix that exposes a member.
   *
   * @default {"exposed_"}
   */
  exposedPrefix?: string;
}

/**
 * The permissive preset of classic mode (RPyC's classic configuration): every
 * member but the always-blocked names is readable, writable and deletable, and
 * classes may be constructed. Use it only between ends that trust each other.
 */
export const PERMISSIVE: Readonly<Policy> = Object.freeze({
  allowAllAttrs: true,
  allowSetAttr: true,
  allowDelAttr: true,
  allowConstruct: true,
});

/** A policy with every field filled in. */
export type ResolvedPolicy = Required<Policy>;

/** Fills in the defaults: everything off (strict), prefix `exposed_`. */
export function resolvePolicy(policy: Policy): ResolvedPolicy {
  return {
    allowPublicAttrs: policy.allowPublicAttrs ?? false,
    allowAllAttrs: policy.allowAllAttrs ?? false,
    allowSetAttr: policy.allowSetAttr ?? false,
    allowDelAttr: policy.allowDelAttr ?? false,
    allowConstruct: policy.allowConstruct ?? false,
    exposedPrefix: policy.exposedPrefix ?? "exposed_",
  };
}

/**
 * Marks root objects (services): their members are never written or deleted
 * remotely. `Service` carries it on its prototype.
 */
export const SERVICE_BRAND: unique symbol = Symbol("rdc.service");

/** Whether `value` is a service (carries {@linkcode SERVICE_BRAND}). */
export function isService(value: unknown): boolean {
  return typeof value === "object" && value !== null && SERVICE_BRAND in value;
}

/** Names no netref ever reaches: prototype plumbing and everything on `Object.prototype`. */
export const BLOCKED_NAMES: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
  ...Object.getOwnPropertyNames(Object.prototype),
]);

/**
 * Throws when a peer names a blocked member: no honest rdc peer sends one
 * (the proxies refuse them locally), so the connection is closed.
 */
export function checkPathSegment(name: string): void {
  if (BLOCKED_NAMES.has(name)) {
    throw peerFault(`peer asked for the blocked member '${name}'`);
  }
}

const exposedMembers = new WeakMap<object, Set<string | symbol>>();
const exposedFunctions = new WeakSet<object>();

/**
 * Marks a class member as reachable by peers. A standard (TC39) decorator for
 * methods, getters, setters, fields and accessors.
 *
 * @example
 * ```ts
 * import { exposed, Service } from "@rdc/rdc";
 * class CalculatorService extends Service {
 *   @exposed add(a: number, b: number): number { return a + b; }
 * }
 * ```
 */
export function exposed(
  value: unknown,
  context: ClassMemberDecoratorContext,
): void {
  if (context.static || context.private) {
    throw new TypeError("@exposed applies to public instance members");
  }
  const name = context.name;
  if (context.kind === "method" || context.kind === "getter" || context.kind === "setter") {
    exposedFunctions.add(value as object);
  }
  context.addInitializer(function (this: unknown) {
    const target = this as object;
    let names = exposedMembers.get(target);
    if (!names) exposedMembers.set(target, names = new Set());
    names.add(name);
  });
}

/**
 * A narrowed view of an object: peers reach only the listed names (and may
 * write only `writable`, default none), whatever the connection's policy —
 * RPyC's `restricted()`. Calls on it run with the original object as `this`.
 */
export class Restricted {
  /** The object behind the view. */
  readonly target: object;
  /** Names a peer may read or call. */
  readonly readable: ReadonlySet<string>;
  /** Names a peer may write. */
  readonly writable: ReadonlySet<string>;

  /** Prefer {@linkcode restricted}. */
  constructor(target: object, readable: Iterable<string>, writable: Iterable<string> = []) {
    this.target = target;
    this.readable = new Set(readable);
    this.writable = new Set(writable);
    for (const name of [...this.readable, ...this.writable]) {
      if (BLOCKED_NAMES.has(name)) throw new TypeError(`'${name}' can never be exposed`);
    }
  }
}

/**
 * Whether the peer may dispose `value`: it has a disposer
 * (`Symbol.asyncDispose` or `Symbol.dispose`) and is neither a service nor
 * a `restricted()` view. Its EXPORT says so, and DISPOSE (or Python's
 * CTXEXIT) runs the disposer; any other target is refused.
 */
export function disposableByPeer(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (isService(value) || value instanceof Restricted) return false;
  return Symbol.asyncDispose in value || Symbol.dispose in value;
}

/**
 * Hands out `target` with only `names` reachable (and `writable` writable).
 *
 * @example
 * ```ts
 * import { restricted } from "@rdc/rdc";
 * const file = { read: () => "data", remove: () => {} };
 * const readOnly = restricted(file, ["read"]); // send this instead of `file`
 * ```
 */
export function restricted(
  target: object,
  names: Iterable<string>,
  writable: Iterable<string> = [],
): Restricted {
  return new Restricted(target, names, writable);
}

/** What a member access needs: the object to read from and the property name there. */
export interface Member {
  /** The object that holds the member (the original behind a {@linkcode Restricted}). */
  holder: object;
  /** The property name on `holder` (after `exposed_` aliasing). */
  name: string;
}

/** Whether `value` is a plain data container, whose own members are always reachable. */
function isPlainData(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === Array.prototype;
}

/**
 * Finds the member `name` of `object` that a peer may reach for `access`.
 *
 * @param isService whether `object` is a service (services are never written).
 * @throws {ProtocolError} for a blocked name.
 * @throws {AccessError} when the policy refuses the access.
 */
export function resolveMember(
  object: unknown,
  name: string,
  access: "read" | "write" | "delete",
  policy: ResolvedPolicy,
  isService: boolean,
): Member {
  checkPathSegment(name);
  if (object instanceof Restricted) {
    const allowed = access === "read" ? object.readable : object.writable;
    if (!allowed.has(name)) throw denied(name, access);
    return { holder: object.target, name };
  }
  if (object === null || object === undefined) {
    throw new TypeError(`cannot read '${name}' of ${object}`);
  }
  const holder = Object(object) as object;
  if (access !== "read") {
    const switchOn = access === "write" ? policy.allowSetAttr : policy.allowDelAttr;
    if (!switchOn || isService) throw denied(name, access);
  }
  if (typeof object !== "object" && typeof object !== "function") {
    // Primitives: their own members only (a string's length and indices).
    if (access === "read" && Object.hasOwn(holder, name)) return { holder, name };
    throw denied(name, access);
  }
  // Plain data (an array or object sent with ref()) shows its own members; its
  // prototype's methods (push, map, …) follow the rules below like any object's.
  if (isPlainData(holder) && (access !== "read" || Object.hasOwn(holder, name))) {
    return { holder, name };
  }
  const prefix = policy.exposedPrefix;
  if (prefix && !name.startsWith(prefix)) {
    const exposedName = prefixed(prefix, name);
    if (exposedName in holder) return { holder, name: exposedName };
  }
  if (policy.allowAllAttrs) return { holder, name };
  // An exposed name that does not exist is refused like any other (RPyC's AttributeError),
  // not read as `undefined` and then called ("is not a function").
  if (prefix && name.startsWith(prefix) && (access !== "read" || name in holder)) {
    return { holder, name };
  }
  if (isDecorated(holder, name)) return { holder, name };
  if (policy.allowPublicAttrs && !name.startsWith("_") && !isFunctionPlumbing(holder, name)) {
    return { holder, name };
  }
  throw denied(name, access);
}

/**
 * Whether `holder` gets `name` from `Function.prototype`: with `call`,
 * `apply` or `bind` a peer would choose the `this` of a function it reaches.
 * A name found earlier on the chain (an own member, a static method) is not.
 */
function isFunctionPlumbing(holder: object, name: string): boolean {
  for (let o: object | null = holder; o !== null; o = Object.getPrototypeOf(o)) {
    if (Object.hasOwn(o, name)) return o === Function.prototype;
  }
  return false;
}

/**
 * `prefix + name`, the same string each time: property names a peer uses
 * repeat, and a string met before is looked up faster.
 */
function prefixed(prefix: string, name: string): string {
  let names = prefixedNames.get(prefix);
  if (!names) prefixedNames.set(prefix, names = new Map());
  let out = names.get(name);
  if (out === undefined) {
    if (names.size >= 4096) names.clear();
    names.set(name, out = prefix + name);
  }
  return out;
}
const prefixedNames = new Map<string, Map<string, string>>();

function isDecorated(holder: object, name: string): boolean {
  if (exposedMembers.get(holder)?.has(name)) return true;
  for (let o: object | null = holder; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (!descriptor) continue;
    const fn = descriptor.value ?? descriptor.get ?? descriptor.set;
    return typeof fn === "function" && exposedFunctions.has(fn);
  }
  return false;
}

function denied(name: string, access: string): AccessError {
  const verb = access === "read" ? "access" : access;
  return new AccessError(`cannot ${verb} '${name}'`);
}

/**
 * The member names a peer may read on `value` under `policy`, as the peer
 * would write them (`exposed_add` gives both `add` and `exposed_add`). Sent
 * with each reference so that `name in netref` can be answered at once.
 * `Function.prototype`'s names are listed under `allowAllAttrs` only, as
 * {@linkcode resolveMember} reaches them under it only.
 */
export function reachableNames(value: object, policy: ResolvedPolicy): string[] {
  if (value instanceof Restricted) return [...value.readable];
  const names = new Set<string>();
  const prefix = policy.exposedPrefix;
  const plain = isPlainData(value);
  const last = policy.allowAllAttrs ? Object.prototype : Function.prototype;
  for (
    let o: object | null = value;
    o !== null && o !== Object.prototype && o !== last;
    o = Object.getPrototypeOf(o)
  ) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (BLOCKED_NAMES.has(name)) continue;
      if (prefix && name.startsWith(prefix) && name.length > prefix.length) {
        names.add(name);
        names.add(name.slice(prefix.length));
      } else if (
        (plain && o === value) || policy.allowAllAttrs ||
        (policy.allowPublicAttrs && !name.startsWith("_")) || isDecorated(value, name)
      ) {
        names.add(name);
      }
    }
  }
  return [...names].sort();
}

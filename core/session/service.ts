/**
 * Services: the root object each end of a connection offers the other.
 *
 * @module
 */

import type { Connection, RootObject } from "./connection.ts";
import { isPlainObject, ObjectRoot } from "./object_root.ts";
import { SERVICE_BRAND } from "./policy.ts";

/** The connection a service's hooks receive. */
export type ServiceConnection = Connection;

/**
 * The root object of one end of a connection (RPyC's `rpyc.Service`).
 *
 * Members reachable by the peer are those named with the `exposed_` prefix
 * (reachable with or without it) or marked with `@exposed`. Pass the class to
 * `serve` to give each connection its own instance, or an instance to share it
 * among all connections. A service's attributes are never written or deleted
 * remotely. A service that faces peers who should not see its file paths
 * and lines is served with `includeLocalStack: false` (see
 * `ConnectionOptions`): its errors then travel without their stacks.
 *
 * @example
 * ```ts
 * import { Service } from "@rdc/rdc";
 * class CalculatorService extends Service {
 *   exposed_add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * ```
 */
export class Service implements RootObject {
  /**
   * Names this service answers to. The first is its name; by default the
   * class name without a `Service` suffix (`CalculatorService` → `Calculator`).
   */
  static aliases?: string[];

  /** Called once the connection is up, before any request of the peer is served. */
  onConnect(_conn: ServiceConnection): void | Promise<void> {}

  /** Called once the connection has closed; must not use the connection. */
  onDisconnect(_conn: ServiceConnection): void | Promise<void> {}
}

Object.defineProperty(Service.prototype, SERVICE_BRAND, { value: true });

/** A service that exposes nothing: the default on the connecting side. */
export class VoidService extends Service {}

/**
 * A function that makes the service of each connection (RPyC's
 * `classpartial`): `() => new MyService(config)`. A server that registers
 * with a registry needs its names before any connection, from `aliases`.
 */
export type ServiceFactory = (() => RootObject) & {
  /** The names the service answers to, its name first. Default: those of what it makes. */
  aliases?: string[];
};

/**
 * What `serve` and the `service` option accept:
 *
 * - a service class: a fresh instance per connection;
 * - a service instance: shared by every connection;
 * - a factory (any function that is not a class — an arrow function, a
 *   plain `function`): called for each connection, it returns the service;
 * - a plain object (Comlink's `expose(obj)`): shared by every connection,
 *   whose own enumerable properties holding functions are the reachable
 *   members — nothing else, and nothing is written. It answers to the name
 *   `Object` and has no lifetime hooks.
 *
 * A class is a function whose `prototype` is a `Service`, or any function
 * written with `class`.
 */
export type ServiceLike =
  | RootObject
  | (new () => RootObject)
  | ServiceFactory
  | Record<string, unknown>;

/**
 * Every name the service answers to, its name first: the class's `aliases`,
 * else its name without a `Service` suffix.
 *
 * @throws {TypeError} for a factory without `aliases`: its names are those of
 *   what it makes, unknown until a connection opens.
 */
export function serviceAliases(service: ServiceLike): string[] {
  if (isFactory(service)) {
    if (service.aliases && service.aliases.length > 0) return [...service.aliases];
    throw new TypeError(
      "a service factory has no names until it makes a service: give it `aliases` " +
        "(Object.assign(() => new MyService(config), { aliases: ['My'] }))",
    );
  }
  if (isPlainObject(service)) return ["Object"];
  const cls = (typeof service === "function" ? service : service.constructor) as typeof Service;
  if (cls.aliases && cls.aliases.length > 0) return [...cls.aliases];
  return [cls.name.replace(/Service$/, "") || cls.name];
}

/**
 * The root that serves one connection, and the names it answers to: a fresh
 * instance for a class or a factory, the shared one otherwise.
 *
 * @throws {TypeError} when `service`, or what a factory returns, is not a
 *   service (a promise, a primitive, an object without the hooks); whatever
 *   the factory or constructor throws.
 */
export function serviceInstance(service: ServiceLike): { root: RootObject; aliases: string[] } {
  if (isFactory(service)) {
    const made = service();
    const root = asRoot(made);
    if (!root) throw new TypeError(`a service factory returned ${describe(made)}, not a service`);
    const aliases = service.aliases?.length ? [...service.aliases] : serviceAliases(made);
    return { root, aliases };
  }
  const root = typeof service === "function"
    ? new (service as new () => RootObject)()
    : asRoot(service);
  if (!root) throw new TypeError(`cannot serve ${describe(service)}: it is not a service`);
  return { root, aliases: serviceAliases(service) };
}

/** Whether `service` is a factory: a function that is not a class. */
function isFactory(service: ServiceLike): service is ServiceFactory {
  if (typeof service !== "function") return false;
  const proto = (service as { prototype?: unknown }).prototype;
  if (typeof proto === "object" && proto !== null && SERVICE_BRAND in proto) return false;
  return !/^class[\s{]/.test(Function.prototype.toString.call(service));
}

/** A service instance as it is, a plain object as its methods' view; null for anything else. */
function asRoot(value: unknown): RootObject | null {
  if (isPlainObject(value)) return new ObjectRoot(value);
  const root = value as Partial<RootObject> | null;
  if (
    typeof root === "object" && root !== null && typeof root.onConnect === "function" &&
    typeof root.onDisconnect === "function"
  ) {
    return root as RootObject;
  }
  return null;
}

function describe(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  // (A plain object is always a root: only class instances and promises get here.)
  return typeof (value as { then?: unknown }).then === "function" ? "a promise" : "an object";
}

/**
 * Services: the root object each end of a connection offers the other.
 *
 * @module
 */

import type { Connection, RootObject } from "./connection.ts";
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
 * remotely.
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

/** A service class, or an instance shared by every connection. */
export type ServiceLike = Service | (new () => Service);

/** Every name the service answers to, its name first. */
export function serviceAliases(service: ServiceLike): string[] {
  const cls = (typeof service === "function" ? service : service.constructor) as typeof Service;
  if (cls.aliases && cls.aliases.length > 0) return [...cls.aliases];
  return [cls.name.replace(/Service$/, "") || cls.name];
}

/** The instance that serves one connection: a fresh one for a class, the shared one otherwise. */
export function serviceInstance(service: ServiceLike): Service {
  return typeof service === "function" ? new service() : service;
}

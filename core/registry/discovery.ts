/**
 * Finding servers by service name (RPyC's `rpyc.utils.factory.discover`,
 * `list_services` and `connect_by_service`).
 *
 * @module
 */

import { sleep } from "../net/backoff.ts";
import { connect } from "../net/connect.ts";
import type { Connection, ConnectionOptions } from "../session/connection.ts";
import { RegistryClient } from "./client.ts";
import type { ServiceDirectory } from "./directory.ts";
import { DiscoveryError } from "./errors.ts";
import type { ServerAddress } from "./messages.ts";

/** Options of {@linkcode discover} and {@linkcode listServices}. */
export interface DiscoveryOptions {
  /**
   * The registry to ask: a {@linkcode RegistryClient}, or an `EtcdRegistrar`.
   * Default: a UDP {@linkcode RegistryClient} that broadcasts to port 18811.
   */
  registrar?: ServiceDirectory;
  /**
   * Milliseconds to keep asking while no server of the name is registered
   * (or the registry does not answer), for a server that registers in the
   * background; the registry is asked again every {@linkcode DISCOVERY_RETRY_MS}.
   * Default 0: ask once.
   * @default {0}
   */
  wait?: number;
  /** Aborting it ends the wait, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** How often {@linkcode discover} asks again while it `wait`s. */
export const DISCOVERY_RETRY_MS = 100;

/**
 * Options of {@linkcode connectByService}: the registry, how long to wait for
 * a server to be registered, and every connection option.
 */
export interface ConnectByServiceOptions extends DiscoveryOptions, ConnectionOptions {}

/**
 * The servers of service `name` (case-insensitive), oldest registration
 * first; with `wait`, the first non-empty answer within that many ms.
 *
 * @throws {DiscoveryError} when none is registered (within `wait`), or the registry cannot be asked.
 * @example
 * ```ts
 * import { discover, RegistryClient } from "@rdc/rdc";
 * const registrar = new RegistryClient({ host: "127.0.0.1" });
 * const servers = await discover("Echo", { registrar, wait: 5_000 });
 * ```
 */
export async function discover(
  name: string,
  options: DiscoveryOptions = {},
): Promise<ServerAddress[]> {
  const registrar = options.registrar ?? new RegistryClient();
  const wait = options.wait ?? 0;
  if (!(wait >= 0 && wait <= 2 ** 31 - 1)) {
    throw new RangeError(`wait must be a number of milliseconds from 0 up, not ${wait}`);
  }
  const deadline = performance.now() + wait;
  for (;;) {
    options.signal?.throwIfAborted();
    let failure: DiscoveryError;
    try {
      const servers = await registrar.discover(name);
      if (servers.length > 0) return servers;
      failure = new DiscoveryError(
        `no server of '${name}' is registered at ${registrar.description}` +
          (wait > 0 ? ` (waited ${wait} ms)` : ""),
      );
    } catch (error) {
      if (!(error instanceof DiscoveryError)) throw error;
      failure = error;
    }
    const left = deadline - performance.now();
    if (left <= 0) throw failure;
    await sleep(Math.min(DISCOVERY_RETRY_MS, left), options.signal);
  }
}

/**
 * The service names (in upper case) that have live servers.
 *
 * @throws {DiscoveryError} when the registry does not allow listing, or cannot be asked.
 */
export async function listServices(options: DiscoveryOptions = {}): Promise<string[]> {
  return await (options.registrar ?? new RegistryClient()).list();
}

/**
 * Connects to a server of service `name`: asks the registry, then tries the
 * servers it names, oldest registration first, until one answers and turns
 * out to serve `name` (unless `expectService` says otherwise).
 *
 * @throws {DiscoveryError} when none is registered, or none of them can be
 * connected to (the message gives each failure; `cause` is an `AggregateError` of them).
 * @example
 * ```ts
 * import { connectByService, RegistryClient } from "@rdc/rdc";
 * const registrar = new RegistryClient({ host: "127.0.0.1" });
 * await using conn = await connectByService("Echo", { registrar });
 * console.log(await conn.root.echo("hi"));
 * ```
 */
export function connectByService(
  name: string,
  options: ConnectByServiceOptions = {},
): Promise<Connection> {
  const { registrar, wait, signal, ...connectionOptions } = options;
  return connectToFirst(
    name,
    { registrar, wait, signal },
    (host, port) => connect(host, port, { expectService: name, ...connectionOptions }),
  );
}

/**
 * Asks the registry of `discovery` for the servers of `name`, then `open`s
 * them one after another, oldest registration first, until one succeeds.
 *
 * @throws {DiscoveryError} when none is registered, or every `open` failed
 * (the message gives each failure; `cause` is an `AggregateError` of them).
 */
export async function connectToFirst<C>(
  name: string,
  discovery: DiscoveryOptions,
  open: (host: string, port: number) => Promise<C>,
): Promise<C> {
  const failures: unknown[] = [];
  for (const { host, port } of await discover(name, discovery)) {
    try {
      return await open(host, port);
    } catch (error) {
      failures.push(error);
    }
  }
  const reasons = failures.map((error) => (error as Error).message).join("; ");
  throw new DiscoveryError(`all servers of '${name}' are down: ${reasons}`, {
    cause: new AggregateError(failures, reasons),
  });
}

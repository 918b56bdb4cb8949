/**
 * Finding servers by service name (RPyC's `rpyc.utils.factory.discover`,
 * `list_services` and `connect_by_service`).
 *
 * @module
 */

import { connect } from "../net/connect.ts";
import type { Connection, ConnectionOptions } from "../session/connection.ts";
import { RegistryClient } from "./client.ts";
import { DiscoveryError } from "./errors.ts";
import type { ServerAddress } from "./messages.ts";

/** Options of {@linkcode discover} and {@linkcode listServices}. */
export interface DiscoveryOptions {
  /** The registry to ask. Default: a UDP {@linkcode RegistryClient} that broadcasts to port 18811. */
  registrar?: RegistryClient;
}

/** Options of {@linkcode connectByService}: the registry, and every connection option. */
export interface ConnectByServiceOptions extends DiscoveryOptions, ConnectionOptions {}

/**
 * The servers of service `name` (case-insensitive), oldest registration first.
 *
 * @throws {DiscoveryError} when none is registered, or the registry cannot be asked.
 * @example
 * ```ts
 * import { discover, RegistryClient } from "@rdc/rdc";
 * const servers = await discover("Echo", { registrar: new RegistryClient({ host: "127.0.0.1" }) });
 * ```
 */
export async function discover(
  name: string,
  options: DiscoveryOptions = {},
): Promise<ServerAddress[]> {
  const registrar = options.registrar ?? new RegistryClient();
  const servers = await registrar.discover(name);
  if (servers.length === 0) {
    throw new DiscoveryError(`no server of '${name}' is registered at ${registrar.description}`);
  }
  return servers;
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
  const { registrar, ...connectionOptions } = options;
  return connectToFirst(
    name,
    registrar,
    (host, port) => connect(host, port, { expectService: name, ...connectionOptions }),
  );
}

/**
 * Asks `registrar` for the servers of `name`, then `open`s them one after
 * another, oldest registration first, until one succeeds.
 *
 * @throws {DiscoveryError} when none is registered, or every `open` failed
 * (the message gives each failure; `cause` is an `AggregateError` of them).
 */
export async function connectToFirst<C>(
  name: string,
  registrar: RegistryClient | undefined,
  open: (host: string, port: number) => Promise<C>,
): Promise<C> {
  const failures: unknown[] = [];
  for (const { host, port } of await discover(name, { registrar })) {
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

/**
 * What discovery asks of a registry.
 *
 * @module
 */

import type { ServerAddress } from "./messages.ts";

/**
 * Where clients find servers by name: {@linkcode RegistryClient} (the UDP or
 * TCP registry) and `EtcdRegistrar` are two.
 *
 * Contract: each call asks the registry afresh; failures reject with a
 * `DiscoveryError` that names the registry.
 */
export interface ServiceDirectory {
  /** Names the registry, for messages. */
  readonly description: string;
  /** The live servers of service `name` (case-insensitive), oldest registration first; may be empty. */
  discover(name: string): Promise<ServerAddress[]>;
  /** The names (in upper case) that have live servers. */
  list(): Promise<string[]>;
}

/**
 * What a registry knows: which servers offer which service names, and when
 * each last registered.
 *
 * @module
 */

import type { ServerAddress } from "./messages.ts";

/** How much one source address may hold in a table. */
export interface SourceLimits {
  /** The most servers (ports) one address may have registered. */
  servers: number;
  /** The most names one address's servers may hold, all together. */
  names: number;
}

/** One server under one name, and when it last registered (ms on the monotonic clock). */
interface Entry extends ServerAddress {
  seen: number;
}

/**
 * The registry's table (RPyC's `RegistryServer.services`).
 *
 * Contract: names are case-insensitive and kept in upper case. A server is
 * its (host, port); registering it again refreshes it. An entry not refreshed
 * within `pruningTimeout` ms is dropped before any answer is given, so
 * `query` and `list` report live servers only. `query` gives the servers of a
 * name least recently refreshed first, as RPyC does. `register` refuses
 * (returns why) what would take one source address past its
 * {@linkcode SourceLimits}, so a flood from one address cannot crowd out
 * the others; refreshing what it holds is always allowed.
 */
export class ServiceTable {
  /** Name → "host port" → entry, each inner map in the order entries were last refreshed. */
  readonly #services = new Map<string, Map<string, Entry>>();
  /** Source address → its servers' ports → the names each holds. */
  readonly #sources = new Map<string, Map<number, Set<string>>>();
  readonly #limits: SourceLimits;
  readonly #pruningTimeout: number;
  readonly #onChange: (change: "added" | "removed", name: string, server: ServerAddress) => void;

  /** `onChange` hears of every server that appears under a name or leaves it. */
  constructor(
    pruningTimeout: number,
    limits: SourceLimits,
    onChange: (change: "added" | "removed", name: string, server: ServerAddress) => void,
  ) {
    this.#pruningTimeout = pruningTimeout;
    this.#limits = limits;
    this.#onChange = onChange;
  }

  /**
   * Records (or refreshes) the server at `host:port` under every one of
   * `names`; or, when that would pass `host`'s limits, changes nothing and
   * returns why.
   */
  register(names: readonly string[], host: string, port: number): string | undefined {
    this.#prune();
    const upper = new Set(names.map((n) => n.toUpperCase()));
    const held = this.#sources.get(host) ?? new Map<number, Set<string>>();
    if (!held.has(port) && held.size >= this.#limits.servers) {
      return `${host} has ${held.size} servers registered, the most one address may have`;
    }
    const heldNames = new Set([...held.values()].flatMap((set) => [...set]));
    const added = [...upper].filter((name) => !heldNames.has(name)).length;
    if (heldNames.size + added > this.#limits.names) {
      return `${host}'s servers would hold ${heldNames.size + added} names, ` +
        `more than the ${this.#limits.names} one address may have`;
    }
    this.#sources.set(host, held);
    const holding = held.get(port) ?? new Set<string>();
    held.set(port, holding);
    const now = performance.now();
    for (const name of upper) {
      holding.add(name);
      let servers = this.#services.get(name);
      if (!servers) this.#services.set(name, servers = new Map());
      const key = `${host} ${port}`;
      const known = servers.delete(key);
      servers.set(key, { host, port, seen: now });
      if (!known) this.#onChange("added", name, { host, port });
    }
    return undefined;
  }

  /** Forgets the server at `host:port` under every name. */
  unregister(host: string, port: number): void {
    const key = `${host} ${port}`;
    for (const [name, servers] of this.#services) {
      if (servers.delete(key)) this.#remove(name, servers, { host, port });
    }
  }

  /** The live servers of `name`, least recently refreshed first. */
  query(name: string): ServerAddress[] {
    this.#prune();
    const servers = this.#services.get(name.toUpperCase()) ?? new Map();
    return [...servers.values()].map(({ host, port }) => ({ host, port }));
  }

  /** Every name that has a live server, in upper case. */
  list(): string[] {
    this.#prune();
    return [...this.#services.keys()];
  }

  /** Drops the entries not refreshed within the pruning timeout. */
  #prune(): void {
    const oldest = performance.now() - this.#pruningTimeout;
    for (const [name, servers] of this.#services) {
      // Entries are in refresh order: the stale ones come first.
      for (const [key, entry] of servers) {
        if (entry.seen >= oldest) break;
        servers.delete(key);
        this.#remove(name, servers, entry);
      }
    }
  }

  /** Reports a removal, and drops a name left without servers (and a source left without names). */
  #remove(name: string, servers: Map<string, Entry>, server: ServerAddress): void {
    if (servers.size === 0) this.#services.delete(name);
    const held = this.#sources.get(server.host);
    const holding = held?.get(server.port);
    holding?.delete(name);
    if (holding?.size === 0) held!.delete(server.port);
    if (held?.size === 0) this.#sources.delete(server.host);
    this.#onChange("removed", name, { host: server.host, port: server.port });
  }
}

/**
 * Service discovery on etcd: servers register as keys under a prefix, each
 * held by a lease, so a server that dies without unregistering disappears
 * when its lease expires.
 *
 * @module
 */

import type { ServiceDirectory } from "./directory.ts";
import { DiscoveryError } from "./errors.ts";
import {
  EtcdGateway,
  fromBase64,
  type GatewayEvent,
  type GatewayKeyValue,
  prefixEnd,
  toBase64,
} from "./etcd_gateway.ts";
import type { ServerAddress } from "./messages.ts";
import type { Registrar } from "./registration.ts";

/** Options of {@linkcode etcdRegistrar}. */
export interface EtcdRegistrarOptions {
  /** An etcd member's client URL, such as `http://127.0.0.1:2379`. */
  url: string;
  /**
   * The prefix of every key: a server of `Echo` on 10.0.0.5:18812 is the key
   * `<prefix>ECHO/10.0.0.5:18812`.
   * @default {"/rdc/services/"}
   */
  prefix?: string;
  /**
   * Seconds a registration outlives its server (the lease's TTL: the UDP
   * registry's pruning timeout). The lease is kept alive every third of it.
   * @default {30}
   */
  ttl?: number;
  /**
   * The address clients should connect to. Default: the address the server
   * binds, or this machine's hostname when it binds a wildcard address.
   */
  host?: string;
  /**
   * Milliseconds to wait for each request to etcd.
   * @default {2000}
   */
  timeout?: number;
}

/** A change {@linkcode EtcdRegistrar.watch} reports: a server came, or went. */
export interface ServiceEvent {
  /** `added` when the server registered, `removed` when it unregistered or its lease expired. */
  type: "added" | "removed";
  /** The server. */
  server: ServerAddress;
}

/** A server's registration: its lease, and what keeps the lease alive. */
interface Held {
  lease: string;
  keys: string[];
  timer: ReturnType<typeof setInterval>;
}

/** The default {@linkcode EtcdRegistrarOptions.prefix}. */
const DEFAULT_PREFIX = "/rdc/services/";

/**
 * A {@linkcode Registrar} and directory on etcd (its v3 JSON gateway).
 *
 * Contract: `register` grants a lease of `ttl` seconds on first use for a
 * port, puts one key per name under it, and keeps it alive from a timer until
 * `unregister(port)` revokes it (which deletes the keys). A keep-alive that
 * finds its lease gone (etcd was unreachable for longer than `ttl`) grants a
 * new one and puts the keys again. Every call rejects with a
 * {@linkcode DiscoveryError} naming etcd's URL when etcd cannot be asked.
 * Service names are case-insensitive, as with the UDP/TCP registry.
 *
 * @example
 * ```ts
 * import { discover, etcdRegistrar } from "@rdc/rdc";
 * const registrar = etcdRegistrar({ url: "http://127.0.0.1:2379" });
 * const servers = await discover("Echo", { registrar, wait: 5_000 });
 * ```
 */
export class EtcdRegistrar implements Registrar, ServiceDirectory {
  /** The prefix of every key. */
  readonly prefix: string;
  /** Seconds a registration outlives its server. */
  readonly ttl: number;
  readonly #gateway: EtcdGateway;
  readonly #host: string | undefined;
  readonly #held = new Map<number, Held>();

  /** A registrar of the etcd `options` name (nothing is sent yet). @throws {TypeError} for a bad URL or TTL. */
  constructor(options: EtcdRegistrarOptions) {
    this.#gateway = new EtcdGateway(options.url, options.timeout ?? 2_000);
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.ttl = options.ttl ?? 30;
    if (!Number.isInteger(this.ttl) || this.ttl < 1) {
      throw new TypeError(`an etcd lease TTL is a whole number of seconds from 1, not ${this.ttl}`);
    }
    this.#host = options.host;
  }

  /** `etcd http://127.0.0.1:2379/rdc/services/`, for log lines. */
  get description(): string {
    return `etcd ${this.#gateway.url}${this.prefix}`;
  }

  /**
   * Registers the server on `port` under `names`, at `options.host`, else at
   * `hostname` (the address it binds; a wildcard one advertises this
   * machine's hostname).
   */
  async register(names: readonly string[], port: number, hostname?: string): Promise<void> {
    const host = this.#host ?? advertisedHost(hostname);
    const value = toBase64(JSON.stringify({ host, port }));
    const keys = names.map((name) => toBase64(`${this.#nameKey(name)}${host}:${port}`));
    let held = this.#held.get(port);
    if (held === undefined) {
      const lease = await this.#grant();
      const timer = setInterval(
        // etcd out of reach: the next tick (or registration) tries again; the lease outlives a few.
        () => this.#keepAlive(port, value).catch(() => {}),
        this.ttl * 1_000 / 3,
      );
      held = { lease, keys, timer };
      this.#held.set(port, held);
    } else if (!await this.#alive(held.lease)) {
      held.lease = await this.#grant();
    }
    held.keys = keys;
    await this.#put(held, value);
  }

  /** Withdraws the server on `port`: revokes its lease, which deletes its keys. */
  async unregister(port: number): Promise<void> {
    const held = this.#held.get(port);
    if (held === undefined) return;
    clearInterval(held.timer);
    this.#held.delete(port);
    try {
      await this.#gateway.call("lease/revoke", { ID: held.lease });
    } catch (error) {
      // A lease that expired already took its keys with it.
      if (!/lease not found/.test((error as Error).message)) throw error;
    }
  }

  /** The live servers of `name` (case-insensitive), oldest registration first; may be empty. */
  async discover(name: string): Promise<ServerAddress[]> {
    return (await this.#range(this.#nameKey(name))).servers;
  }

  /** The names (in upper case) that have live servers. */
  async list(): Promise<string[]> {
    const reply = await this.#gateway.call<{ kvs?: GatewayKeyValue[] }>("kv/range", {
      key: toBase64(this.prefix),
      range_end: prefixEnd(this.prefix),
      keys_only: true,
    });
    const names = (reply.kvs ?? []).map((kv) =>
      fromBase64(kv.key).slice(this.prefix.length).split("/")[0]!
    );
    return [...new Set(names)].sort();
  }

  /**
   * The servers of `name` as they come and go: first an `added` event for
   * each one registered now, then one event per change, until the loop
   * ends (breaking out cancels the watch) or `signal` aborts (rejecting with
   * its reason).
   *
   * @throws {DiscoveryError} when etcd cannot be asked, or ends the watch.
   */
  async *watch(name: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<ServiceEvent> {
    const keyPrefix = this.#nameKey(name);
    const { servers, keys, revision } = await this.#range(keyPrefix);
    const known = new Set(keys);
    for (const server of servers) yield { type: "added", server };
    const cancel = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([options.signal, cancel.signal])
      : cancel.signal;
    const request = {
      create_request: {
        key: toBase64(keyPrefix),
        range_end: prefixEnd(keyPrefix),
        start_revision: String(BigInt(revision) + 1n),
      },
    };
    type Result = { result?: { events?: GatewayEvent[]; canceled?: boolean }; error?: unknown };
    try {
      for await (const message of this.#gateway.stream<Result>("watch", request, signal)) {
        if (message.result?.canceled || message.error !== undefined) {
          throw new DiscoveryError(`etcd at ${this.#gateway.url} cancelled the watch of '${name}'`);
        }
        for (const event of message.result?.events ?? []) {
          const key = fromBase64(event.kv.key);
          if (event.type === "DELETE") {
            if (known.delete(key)) yield { type: "removed", server: addressOfKey(key) };
          } else if (!known.has(key)) {
            known.add(key);
            yield { type: "added", server: addressOfKey(key) };
          }
        }
      }
      options.signal?.throwIfAborted();
      throw new DiscoveryError(`etcd at ${this.#gateway.url} ended the watch of '${name}'`);
    } finally {
      cancel.abort();
    }
  }

  #nameKey(name: string): string {
    return `${this.prefix}${name.toUpperCase()}/`;
  }

  async #range(keyPrefix: string): Promise<
    { servers: ServerAddress[]; keys: string[]; revision: string }
  > {
    const reply = await this.#gateway.call<
      { header: { revision: string }; kvs?: GatewayKeyValue[] }
    >("kv/range", {
      key: toBase64(keyPrefix),
      range_end: prefixEnd(keyPrefix),
      sort_order: "ASCEND",
      sort_target: "CREATE",
    });
    const kvs = reply.kvs ?? [];
    return {
      servers: kvs.map((kv) => addressOfKey(fromBase64(kv.key))),
      keys: kvs.map((kv) => fromBase64(kv.key)),
      revision: reply.header.revision,
    };
  }

  async #grant(): Promise<string> {
    const { ID } = await this.#gateway.call<{ ID: string }>("lease/grant", { TTL: this.ttl });
    return ID;
  }

  /** Whether `lease` still lives; a keep-alive of it if so. */
  async #alive(lease: string): Promise<boolean> {
    const reply = await this.#gateway.call<{ result?: { TTL?: string } }>("lease/keepalive", {
      ID: lease,
    });
    return Number(reply.result?.TTL ?? 0) > 0;
  }

  async #keepAlive(port: number, value: string): Promise<void> {
    const held = this.#held.get(port);
    if (held === undefined || await this.#alive(held.lease)) return;
    const lease = await this.#grant();
    if (this.#held.get(port) !== held) return; // unregistered meanwhile: the lease just expires
    held.lease = lease;
    await this.#put(held, value);
  }

  async #put(held: Held, value: string): Promise<void> {
    await Promise.all(
      held.keys.map((key) => this.#gateway.call("kv/put", { key, value, lease: held.lease })),
    );
  }
}

/**
 * A registrar on the etcd at `options.url`: pass it as `serve`'s `registrar`
 * and as `discover`'s or `connectByService`'s.
 *
 * @throws {TypeError} for a URL that is not http(s), or a TTL that is not a whole number of seconds.
 */
export function etcdRegistrar(options: EtcdRegistrarOptions): EtcdRegistrar {
  return new EtcdRegistrar(options);
}

/** The server a key `<prefix>NAME/host:port` names. */
function addressOfKey(key: string): ServerAddress {
  const address = key.slice(key.lastIndexOf("/") + 1);
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** The address to advertise for a server that binds `hostname`. */
function advertisedHost(hostname: string | undefined): string {
  const bare = (hostname ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
  if (bare === "" || bare === "0.0.0.0" || bare === "::") return Deno.hostname();
  return bare;
}

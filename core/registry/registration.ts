/**
 * A server's registration with a registry: registered on start, refreshed
 * while it runs, withdrawn when it stops (RPyC's `Server._bg_register`).
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { BROADCAST, RegistryClient } from "./client.ts";

/** What a server needs of a registry client; {@linkcode RegistryClient} is one. */
export interface Registrar {
  /** `udp 127.0.0.1:18811`, for log lines. */
  readonly description: string;
  /**
   * Registers the server on `port` under `names`; rejects when the registry
   * does not acknowledge. `hostname` is the address the server binds, when
   * known (a registry that records the request's source address ignores it).
   */
  register(names: readonly string[], port: number, hostname?: string): Promise<void>;
  /** Withdraws the server on `port`. */
  unregister(port: number): Promise<void>;
}

/** RPyC's `REREGISTER_INTERVAL`, in milliseconds. */
export const REREGISTER_INTERVAL = 60_000;
/** How soon a registration that failed is tried again (RPyC retries each second). */
const RETRY_INTERVAL = 1_000;

/** The options of `serve` that announce the server to a registry. */
export interface RegistrationOptions {
  /**
   * The registry to register with (used only when `autoRegister` is on).
   * Default: a UDP {@linkcode RegistryClient} of port 18811 on 127.0.0.1 for
   * a server that listens on loopback, else one that broadcasts (see
   * {@linkcode defaultRegistryHost}).
   */
  registrar?: Registrar;
  /**
   * Whether to register every name of the service while serving. Default:
   * true when a `registrar` is given, else false.
   */
  autoRegister?: boolean;
  /** Milliseconds between registrations (each refreshes the entry). Default 60 000. */
  reregisterInterval?: number;
}

/**
 * The registry host a server registers with when none is named: this
 * machine's loopback for a server that listens on loopback only (nothing
 * elsewhere could reach it, and `rdc registry` binds 127.0.0.1 by default),
 * else `undefined`: a UDP broadcast (RPyC's default), which a registry hears
 * only when it binds a wildcard address (`rdc registry --host 0.0.0.0`).
 *
 * @param hostname the address the server binds. Default `"127.0.0.1"`, as `serve`'s.
 */
export function defaultRegistryHost(hostname = "127.0.0.1"): string | undefined {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "::1") return "::1";
  if (bare === "localhost" || /^127(\.\d{1,3}){3}$/.test(bare)) return "127.0.0.1";
  return undefined;
}

/**
 * The registrar that `options` ask to register with, or `undefined` when
 * they do not ask.
 *
 * @throws {TypeError} when registering is asked of a server on a unix socket (it has no port)
 *   or over WebSocket (the registry's clients connect over TCP).
 */
export function registrarOf(
  options: RegistrationOptions & { hostname?: string; path?: string; ws?: unknown },
): Registrar | undefined {
  if (!(options.autoRegister ?? options.registrar !== undefined)) return undefined;
  if (options.path !== undefined) {
    throw new TypeError(
      "only a TCP server can register with a registry (a unix socket has no port)",
    );
  }
  if (options.ws !== undefined) {
    throw new TypeError(
      "only a TCP server can register with a registry (its clients connect over TCP, not WebSocket)",
    );
  }
  return options.registrar ?? new RegistryClient({ host: defaultRegistryHost(options.hostname) });
}

/**
 * Keeps a server registered under its names.
 *
 * Contract: registers at once, then every `reregisterInterval` ms; a failed
 * attempt is tried again after a second (or the interval, if shorter), so a
 * registry that is down or not yet up costs nothing but those retries. The
 * first failure is logged at info level with what to check (a broadcast that
 * no registry hears is the usual cause), the next ones at debug level.
 * `registered` resolves at the first success and rejects if stopped before
 * it. `stop()` waits for an attempt in flight, then unregisters if any
 * attempt succeeded; it never throws.
 */
export class Registration implements AsyncDisposable {
  readonly #registrar: Registrar;
  readonly #names: readonly string[];
  readonly #port: number;
  readonly #hostname: string | undefined;
  readonly #interval: number;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt: Promise<void> = Promise.resolve();
  #registered = false;
  #failures = 0;
  #stopping: Promise<void> | undefined;
  readonly #firstSuccess = Promise.withResolvers<void>();

  /**
   * Resolves once the registry has acknowledged the first registration;
   * rejects if the registration stops before that.
   */
  get registered(): Promise<void> {
    return this.#firstSuccess.promise;
  }

  /**
   * Starts registering `names` with `registrar` for the server on `port`
   * that binds `options.hostname`.
   */
  constructor(
    registrar: Registrar,
    names: readonly string[],
    port: number,
    options: Pick<RegistrationOptions, "reregisterInterval"> & { hostname?: string },
    logger: Logger,
  ) {
    this.#registrar = registrar;
    this.#names = names;
    this.#port = port;
    this.#hostname = options.hostname;
    this.#interval = options.reregisterInterval ?? REREGISTER_INTERVAL;
    this.#logger = logger;
    // Awaiting `registered` is optional: its rejection must not count as unhandled.
    this.#firstSuccess.promise.catch(() => {});
    this.#attempt = this.#register();
  }

  async #register(): Promise<void> {
    let next = this.#interval;
    try {
      await this.#registrar.register(this.#names, this.#port, this.#hostname);
      if (!this.#registered) {
        this.#logger("info", `registered ${this.#describe()} with ${this.#registrar.description}`);
      }
      this.#registered = true;
      this.#firstSuccess.resolve();
    } catch (error) {
      next = Math.min(RETRY_INTERVAL, this.#interval);
      const reason = `cannot register ${this.#describe()} yet: ${(error as Error).message}`;
      if (this.#failures++ > 0 || this.#registered) this.#logger("debug", reason);
      else this.#logger("info", `${reason} (retrying every ${next} ms)${this.#hint()}`);
    }
    if (this.#stopping === undefined) {
      this.#timer = setTimeout(() => this.#attempt = this.#register(), next);
    }
  }

  /** Stops registering and unregisters; see the class contract. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#attempt;
    this.#firstSuccess.reject(new Error(`the server stopped before it registered`));
    if (!this.#registered) return;
    try {
      await this.#registrar.unregister(this.#port);
      this.#logger("info", `unregistered ${this.#describe()}`);
    } catch (error) {
      this.#logger("warn", `cannot unregister ${this.#describe()}: ${(error as Error).message}`);
    }
  }

  /** Same as `stop()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** What to check when a registration by broadcast is not answered. */
  #hint(): string {
    const registrar = this.#registrar;
    if (!(registrar instanceof RegistryClient && registrar.host === BROADCAST)) return "";
    return "; a registry hears broadcasts only when bound to a wildcard address " +
      "(rdc registry --host 0.0.0.0), else name it (--registry-host, or a registrar)";
  }

  #describe(): string {
    return `${this.#names.join(", ")} on port ${this.#port}`;
  }
}

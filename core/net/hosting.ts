/**
 * Hosting: what a server does with each connection it accepts, whatever
 * carried it (TCP, TLS, a unix socket, a WebSocket): admission under
 * `maxConnections`, the authenticator, the handshake with the budgets the
 * server's connections share, and closing idle ones.
 *
 * @module
 */

import { authenticate, type Authenticator } from "./auth.ts";
import { type ServerBudgets, startConnection } from "./start.ts";
import { Budget } from "../wire/budget.ts";
import { DEFAULT_SERVER_LIMITS, resolveLimits, type ServerLimits } from "../wire/limits.ts";
import {
  type Connection,
  type ConnectionOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
} from "../session/connection.ts";
import { defaultLogger, type Logger } from "../log.ts";
import { AUTHENTICATION_FAILED, refuse } from "../wire/handshake.ts";
import type { Incoming } from "./incoming.ts";
import { Admission, checkMaxConnections } from "./admission.ts";
import { checkIdleTimeout, IdleSweeper } from "./idle.ts";
import type { ServiceLike } from "../session/service.ts";

/** What every server's connections share: the connection options, the budgets, the checks. */
export interface HostOptions extends Omit<ConnectionOptions, "service" | "token">, ServerLimits {
  /**
   * Milliseconds after which a connection with no traffic either way and
   * nothing in flight (no request pending or being served) is closed, and
   * the reason logged (level info). Netrefs the client holds do not keep it
   * open; a `ping()` does. Checked by one timer per server, so a connection
   * goes between `idleTimeout` and 1.5 × `idleTimeout` after its last
   * traffic. Default 0: never.
   */
  idleTimeout?: number;
  /**
   * Checks each connection before the protocol starts (after TLS, if any);
   * what it returns becomes the connection's `credentials`, and a throw
   * refuses the connection (logged; nothing else is disturbed). Without one,
   * the credentials are the client's TLS certificate, or null.
   */
  authenticator?: Authenticator;
  /**
   * Log each connection as it starts and when it ends, at level info
   * (`connection from tcp 127.0.0.1:50123`, `… ended`), as an isolated
   * server does; `rdc classic` turns it on.
   * @default {false}
   */
  logConnections?: boolean;
}

/**
 * One server's connections, from acceptance to their end.
 *
 * Contract: made before the server listens (so bad options fail first),
 * then {@linkcode Hosting.start}ed with the server's name once it does.
 * {@linkcode Hosting.handle} never throws and returns once the connection
 * has ended (or was refused); {@linkcode Hosting.stop} stops the idle timer,
 * cuts off connections still authenticating or in their handshake, closes
 * the others and resolves once they have closed. Once stopping has begun,
 * nothing new is served and failures are not logged.
 */
export class Hosting {
  /** Connections currently open. */
  readonly connections: Set<Connection> = new Set();
  readonly #service: ServiceLike;
  readonly #options: HostOptions;
  readonly #logger: Logger;
  readonly #stopping = new AbortController();
  readonly #handshakeTimeout: number;
  readonly #budgets: ServerBudgets;
  readonly #maxConnections: number;
  readonly #idleTimeout: number;
  readonly #starting = new Set<Incoming>();
  #description = "";
  #admission: Admission | undefined;
  #idle: IdleSweeper | undefined;

  /**
   * Checks `options`; `what` names the caller in errors about them.
   *
   * @throws {RangeError} for a bad limit, `maxConnections` or `idleTimeout`.
   */
  constructor(service: ServiceLike, options: HostOptions, what: string) {
    this.#service = service;
    this.#options = options;
    this.#logger = options.logger ?? defaultLogger;
    this.#handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    resolveLimits(options); // Bad limits fail here, not on each connection.
    this.#budgets = serverBudgets(options);
    this.#maxConnections = checkMaxConnections(
      options.maxConnections ?? DEFAULT_SERVER_LIMITS.maxConnections,
      what,
    );
    this.#idleTimeout = checkIdleTimeout(options.idleTimeout ?? 0, what);
  }

  /** Whether stopping has begun. */
  get stopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Starts serving as `description` (the server's name in log lines: `tcp 127.0.0.1:18812`). */
  start(description: string): void {
    this.#description = description;
    this.#admission = new Admission(this.#maxConnections, description, this.#logger);
    const idleTimeout = this.#idleTimeout;
    if (idleTimeout > 0 && !this.stopping) {
      this.#idle = new IdleSweeper(idleTimeout, this.connections, (connection) => {
        const reason = `idle for ${idleTimeout} ms (idleTimeout)`;
        this.#logger(
          "info",
          `${description}: closing the connection from ${connection.description}: ${reason}`,
        );
        void connection.close(reason);
      });
    }
  }

  /** Serves one accepted connection until it ends; see the class contract. */
  async handle(incoming: Incoming): Promise<void> {
    if (!this.#admission) throw new Error("Hosting.handle before start");
    using slot = await this.#admission.admit(incoming);
    if (!slot) return;
    const { transport, peer } = incoming;
    this.#starting.add(incoming);
    try {
      const credentials = await authenticate(
        incoming,
        this.#options.authenticator,
        this.#handshakeTimeout,
        this.#stopping.signal,
      )
        .catch(async (error) => {
          await refuse(transport, AUTHENTICATION_FAILED);
          throw error;
        });
      const connection = await startConnection(
        transport,
        { ...this.#options, service: this.#service },
        credentials,
        this.#budgets,
      );
      this.#starting.delete(incoming);
      if (this.stopping) return void connection.close();
      this.#idle?.track(connection);
      this.connections.add(connection);
      if (this.#options.logConnections) this.#logger("info", `connection from ${peer}`);
      await connection.finished;
      this.connections.delete(connection);
      if (this.#options.logConnections) this.#logger("info", `connection from ${peer} ended`);
    } catch (error) {
      transport.close();
      if (this.stopping) return;
      this.#logger(
        "warn",
        `${this.#description}: connection from ${peer} failed: ${(error as Error).message}`,
      );
    } finally {
      this.#starting.delete(incoming);
    }
  }

  /** Closes every connection; see the class contract. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("the server is closing"));
    this.#idle?.stop();
    // Connections still authenticating or in their handshake (or onConnect) are cut off too.
    for (const incoming of this.#starting) incoming.transport.close();
    await Promise.all([...this.connections].map((c) => c.close()));
  }
}

/**
 * The budgets all of a server's connections share.
 *
 * @throws {RangeError} naming the option, for a value that is not a positive whole number.
 */
function serverBudgets(options: ServerLimits): ServerBudgets {
  const limit = (key: "maxTotalInboundBytes" | "maxTotalPendingRequests"): number => {
    const value = options[key] ?? DEFAULT_SERVER_LIMITS[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${key} must be a positive whole number, not ${value}`);
    }
    return value;
  };
  return {
    inbound: new Budget(limit("maxTotalInboundBytes"), "bytes held for messages on this server"),
    pending: new Budget(limit("maxTotalPendingRequests"), "requests pending on this server"),
  };
}

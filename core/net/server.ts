/**
 * Servers: accept connections and give each its service.
 *
 * @module
 */

import { authenticate, type Authenticator } from "./auth.ts";
import { type ServerBudgets, startConnection } from "./connect.ts";
import { Budget } from "../wire/budget.ts";
import { DEFAULT_SERVER_LIMITS, resolveLimits, type ServerLimits } from "../wire/limits.ts";
import {
  type Connection,
  type ConnectionOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
} from "../session/connection.ts";
import { defaultLogger } from "../log.ts";
import { AUTHENTICATION_FAILED, refuse } from "../wire/handshake.ts";
import type { Incoming } from "./incoming.ts";
import { Admission, checkMaxConnections } from "./admission.ts";
import { checkIdleTimeout, IdleSweeper } from "./idle.ts";
import { Listening, type ListenOptions } from "./listening.ts";
import { registrarOf, Registration, type RegistrationOptions } from "../registry/registration.ts";
import { type Service, serviceAliases } from "../session/service.ts";

/**
 * Options of {@linkcode serve}: where to listen, how to check clients,
 * whether to register with a registry, plus every connection option.
 */
export interface ServeOptions
  extends
    Omit<ConnectionOptions, "service" | "token">,
    ListenOptions,
    RegistrationOptions,
    ServerLimits {
  /** Serve one client, then close (RPyC's `OneShotServer`). Default false. */
  oneShot?: boolean;
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
}

/**
 * A running server. `close()` stops listening, closes every connection (each
 * runs its service's `onDisconnect`) and resolves when all is done;
 * `finished` resolves at the same point, whatever closed it.
 */
export interface Server extends AsyncDisposable {
  /** The address it listens on (`port` filled in when 0 was asked for). */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /**
   * Resolves once the server listens. TLS servers bind in the background: a
   * failure to bind rejects this (naming the address) and closes the server.
   */
  readonly ready: Promise<void>;
  /** Connections currently open. */
  readonly connections: ReadonlySet<Connection>;
  /** Resolves once the server has closed and every connection with it. */
  readonly finished: Promise<void>;
  /** Closes the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `service` — a class (an instance per connection) or a shared
 * instance — on TCP, TLS or a unix socket.
 *
 * @example
 * ```ts
 * import { serve, Service } from "@rdc/rdc";
 * class EchoService extends Service {
 *   exposed_echo(text: string): string { return text; }
 * }
 * await using server = serve(EchoService, { port: 0 });
 * console.log("listening on", server.addr);
 * ```
 */
export function serve(service: Service | (new () => Service), options: ServeOptions): Server {
  const logger = options.logger ?? defaultLogger;
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  resolveLimits(options); // Bad limits fail here, not on each connection.
  const budgets = serverBudgets(options);
  const maxConnections = checkMaxConnections(
    options.maxConnections ?? DEFAULT_SERVER_LIMITS.maxConnections,
    "serve",
  );
  const idleTimeout = checkIdleTimeout(options.idleTimeout ?? 0, "serve");
  const connections = new Set<Connection>();
  const starting = new Set<Incoming>();
  const registrar = registrarOf(options);
  let registration: Registration | undefined;
  let idle: IdleSweeper | undefined;
  const listening = new Listening(options, "serve", logger, handshakeTimeout, async () => {
    idle?.stop();
    const unregistering = registration?.stop() ?? [];
    // Connections still authenticating or in their handshake (or onConnect) are cut off too.
    for (const incoming of starting) incoming.transport.close();
    await Promise.all([...connections].map((c) => c.close()).concat(unregistering));
  });
  // Registered once listening, withdrawn as closing begins (see the stop callback above).
  listening.ready.then(() => {
    if (!registrar || listening.closing) return;
    const { port } = listening.addr as Deno.NetAddr;
    registration = new Registration(registrar, serviceAliases(service), port, options, logger);
  }, () => {});
  const description = listening.description;
  const admission = new Admission(maxConnections, description, logger);
  if (idleTimeout > 0 && !listening.closing) {
    idle = new IdleSweeper(idleTimeout, connections, (connection) => {
      const reason = `idle for ${idleTimeout} ms (idleTimeout)`;
      logger(
        "info",
        `${description}: closing the connection from ${connection.description}: ${reason}`,
      );
      void connection.close(reason);
    });
  }

  listening.accept(
    async (incoming) => {
      using slot = await admission.admit(incoming);
      if (!slot) return;
      const { transport, peer } = incoming;
      starting.add(incoming);
      try {
        const credentials = await authenticate(
          incoming,
          options.authenticator,
          handshakeTimeout,
          listening.stopping,
        )
          .catch(async (error) => {
            await refuse(transport, AUTHENTICATION_FAILED);
            throw error;
          });
        const connection = await startConnection(
          transport,
          { ...options, service },
          credentials,
          budgets,
        );
        starting.delete(incoming);
        if (listening.closing) return void connection.close();
        idle?.track(connection);
        connections.add(connection);
        await connection.finished;
        connections.delete(connection);
      } catch (error) {
        transport.close();
        if (listening.closing) return;
        logger(
          "warn",
          `${description}: connection from ${peer} failed: ${(error as Error).message}`,
        );
      } finally {
        starting.delete(incoming);
      }
    },
    logger,
    options.oneShot,
  );

  const close = () => listening.close();
  return {
    addr: listening.addr,
    ready: listening.ready,
    connections,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
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

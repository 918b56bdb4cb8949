/**
 * Servers: accept connections and give each its service; and serving one
 * WebSocket upgrade inside an HTTP application.
 *
 * @module
 */

import { type Connection, DEFAULT_HANDSHAKE_TIMEOUT_MS } from "../session/connection.ts";
import { defaultLogger, type Logger } from "../log.ts";
import { Hosting, type HostOptions } from "./hosting.ts";
import { Listening, type ListenOptions } from "./listening.ts";
import { acceptWebSocket } from "./websocket.ts";
import { registrarOf, type RegistrationOptions } from "../registry/registration.ts";
import { serviceAliases, type ServiceLike } from "../session/service.ts";
import { ServerRegistration } from "./server_registration.ts";
import { attendPool, poolSeat } from "./pool_member.ts";
import { servePooled } from "./pool_serve.ts";

/**
 * Options of {@linkcode serve}: where to listen, how to check clients,
 * whether to register with a registry, plus every connection option.
 */
export interface ServeOptions extends HostOptions, ListenOptions, RegistrationOptions {
  /** Serve one client, then close (RPyC's `OneShotServer`). Default false. */
  oneShot?: boolean;
  /**
   * Serve with this many worker processes (pool mode), as Node's `cluster`
   * does: each runs this program again, from its main module
   * (`Deno.mainModule`, which must be a module file: not `deno eval`, the
   * REPL or stdin) with the same arguments, and its own `serve` call then
   * serves the connections this process relays to it, least loaded first.
   * So **the code before `serve` runs in every worker too**; skip what only
   * this process should do with {@linkcode isPoolWorker}. A worker's clients
   * share its globals; a CPU-bound call stalls only the clients of its own
   * worker. A worker that dies is replaced; one that ends before it listens
   * closes the pool (`ready` rejects with what it wrote).
   *
   * Workers run this Deno with this process's permissions, never more: each
   * kind held in full is passed on, one held only for some paths or hosts is
   * not (but reading and writing the workers' socket directory, when this
   * process may), and a worker may read the `RDC_POOL_WORKER` variable that
   * marks it. Deno asks net permission for each unix socket, whose paths
   * here are temporary: a pool needs `--allow-net` in full (a worker then
   * has it too). Runtime flags (`--v8-flags`, `--config`, `--import-map`,
   * `--unstable-*`, `--location`, `--seed`, `--lock`, `--cached-only`, …)
   * are carried over on Linux when this process holds every permission
   * (Deno tells them to no API; its command line needs them all), else not;
   * a `deno.json` (and its import map) is found as here either way, from
   * the same working directory.
   *
   * This process listens (`hostname`, `port`, `path`, `tls`, `ws`,
   * `signal`), authenticates (`authenticator`, `handshakeTimeout`, whose
   * credentials the workers' services do not see), caps the connections of
   * all workers (`maxConnections`), logs (`logConnections`, `logger`; what
   * workers write is logged at info, naming them) and registers with a
   * registry. Each worker applies the other options, for its own connections:
   * the connection options, the other limits and `idleTimeout`. Not with
   * `oneShot`. Here, `connections` stays empty (they live in the workers) and
   * `ready` waits for every worker; in a worker, `serve` returns that
   * worker's server, on its unix socket, at once, and the worker exits once
   * it closes (when this process closes the pool or ends). Do not close it
   * yourself in a worker: `await using` at the top level would, as the
   * module ends.
   * @default {undefined} (no pool: this process serves every connection)
   */
  pool?: number;
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
  /**
   * Resolves once a registry has acknowledged the server's registration
   * (see `registrar`), so clients can find it by name; at once when the
   * server does not register. Rejects if the server closes or fails to bind
   * before that. A registry that is down delays it: bound the wait yourself
   * (`AbortSignal.timeout`, `Promise.race`) if you must.
   */
  readonly registered: Promise<void>;
  /** Connections currently open. */
  readonly connections: ReadonlySet<Connection>;
  /** Resolves once the server has closed and every connection with it. */
  readonly finished: Promise<void>;
  /** Closes the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `service` — a class (an instance per connection), a shared
 * instance, a factory or a plain object (see {@linkcode ServiceLike}) — on
 * TCP, TLS or a unix socket; with `ws`, over WebSocket (an
 * HTTP server on the port, HTTPS with `tls`; `ws.fallback` answers the
 * other requests).
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
export function serve(service: ServiceLike, options: ServeOptions): Server {
  if (options.pool !== undefined) return servePool(service, options.pool, options);
  const logger = options.logger ?? defaultLogger;
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const registration = registrationOf(service, options, logger);
  const hosting = new Hosting(service, options, "serve");
  const listening = new Listening(options, "serve", logger, handshakeTimeout, async () => {
    await Promise.all([hosting.stop(), registration.stop()]);
  });
  registration.start(listening.ready, () => (listening.addr as Deno.NetAddr).port);
  hosting.start(listening.description);
  listening.accept((incoming) => hosting.handle(incoming), logger, options.oneShot);

  const close = () => listening.close();
  return {
    addr: listening.addr,
    ready: listening.ready,
    registered: registration.registered,
    connections: hosting.connections,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * `serve` in pool mode: in the primary, a pool of workers running this
 * program; in a worker, the service served on its unix socket.
 */
function servePool(service: ServiceLike, workers: number, options: ServeOptions): Server {
  if (options.oneShot) throw new TypeError("serve: a pool cannot be oneShot");
  const seat = poolSeat();
  if (seat !== null) {
    const server = serve(service, {
      ...options,
      pool: undefined,
      path: seat.path,
      hostname: undefined,
      port: undefined,
      tls: undefined,
      ws: undefined,
      authenticator: undefined,
      autoRegister: false,
    });
    attendPool(server);
    return server;
  }
  const registration = registrationOf(service, options, options.logger ?? defaultLogger);
  const pool = servePooled({ ...options, workers }, registration);
  return {
    addr: pool.addr,
    ready: pool.ready,
    registered: registration.registered,
    connections: new Set(),
    finished: pool.finished,
    close: pool.close,
    [Symbol.asyncDispose]: pool.close,
  };
}

/** The registration with a registry that `options` ask of a server of `service`. */
function registrationOf(
  service: ServiceLike,
  options: ServeOptions,
  logger: Logger,
): ServerRegistration {
  const registrar = registrarOf(options);
  // Known now, so that a factory without names fails here rather than once listening.
  const aliases = registrar ? serviceAliases(service) : [];
  return new ServerRegistration(registrar, aliases, options, logger);
}

/** Options of {@linkcode serveWebSocket}: the connection's, and how to check the client. */
export interface WebSocketServeOptions
  extends Omit<HostOptions, "maxConnections" | "maxTotalInboundBytes" | "maxTotalPendingRequests"> {
  /**
   * The second argument of the `Deno.serve` handler: the client's address,
   * for log lines and for a `tokenAuthenticator`'s per-address slow-down
   * (without it, every client counts as one address).
   */
  info?: Deno.ServeHandlerInfo;
  /** Aborting it closes the connection. */
  signal?: AbortSignal;
}

/**
 * Serves `service` on one WebSocket upgrade inside your own HTTP server:
 * returns the `Response` for `request` (the upgrade, or 426 for a request
 * that is not one, 400 for a malformed one), and serves the connection once
 * the socket opens, with the authenticator, limits and timeouts of
 * `options`, as `serve` would. Each call serves one connection, with its own
 * budgets; for a connection limit and budgets shared by all of them, let
 * `serve(service, { ws: { path, fallback } })` own the port instead and
 * hand your application the other requests.
 *
 * @throws {RangeError} for a bad limit or `idleTimeout`.
 * @example
 * ```ts
 * import { serveWebSocket, Service } from "@rdc/rdc";
 * class EchoService extends Service {
 *   exposed_echo(text: string): string { return text; }
 * }
 * await using http = Deno.serve({ port: 0, onListen() {} }, (request, info) =>
 *   new URL(request.url).pathname === "/rdc"
 *     ? serveWebSocket(request, EchoService, { info })
 *     : new Response("hello"));
 * // Clients: await connectWebSocket(`ws://127.0.0.1:${http.addr.port}/rdc`)
 * ```
 */
export function serveWebSocket(
  request: Request,
  service: ServiceLike,
  options: WebSocketServeOptions = {},
): Response {
  const url = new URL(request.url);
  const description = `${url.protocol === "https:" ? "wss" : "ws"} ${url.host}${url.pathname}`;
  const hosting = new Hosting(service, options, "serveWebSocket");
  const { response, incoming } = acceptWebSocket(request, options.info);
  incoming.then(async (opened) => {
    if (!opened) return;
    const { signal } = options;
    const stop = () => void hosting.stop();
    signal?.addEventListener("abort", stop, { once: true });
    hosting.start(description);
    if (signal?.aborted) stop();
    try {
      await hosting.handle(opened);
    } finally {
      signal?.removeEventListener("abort", stop);
      await hosting.stop();
    }
  });
  return response;
}

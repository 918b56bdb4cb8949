/**
 * Servers: accept connections and give each its service; and serving one
 * WebSocket upgrade inside an HTTP application.
 *
 * @module
 */

import { type Connection, DEFAULT_HANDSHAKE_TIMEOUT_MS } from "../session/connection.ts";
import { defaultLogger } from "../log.ts";
import { Hosting, type HostOptions } from "./hosting.ts";
import { Listening, type ListenOptions } from "./listening.ts";
import { acceptWebSocket } from "./websocket.ts";
import { registrarOf, Registration, type RegistrationOptions } from "../registry/registration.ts";
import { serviceAliases, type ServiceLike } from "../session/service.ts";

/**
 * Options of {@linkcode serve}: where to listen, how to check clients,
 * whether to register with a registry, plus every connection option.
 */
export interface ServeOptions extends HostOptions, ListenOptions, RegistrationOptions {
  /** Serve one client, then close (RPyC's `OneShotServer`). Default false. */
  oneShot?: boolean;
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
  const logger = options.logger ?? defaultLogger;
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const registrar = registrarOf(options);
  // Known now, so that a factory without names fails here rather than once listening.
  const aliases = registrar ? serviceAliases(service) : [];
  const hosting = new Hosting(service, options, "serve");
  let registration: Registration | undefined;
  const listening = new Listening(options, "serve", logger, handshakeTimeout, async () => {
    await Promise.all([hosting.stop(), registration?.stop()]);
  });
  // Registered once listening, withdrawn as closing begins (see the stop callback above).
  const registered = listening.ready.then(() => {
    if (!registrar) return;
    if (listening.closing) throw new Error("the server closed before it registered");
    const { port } = listening.addr as Deno.NetAddr;
    registration = new Registration(registrar, aliases, port, options, logger);
    return registration.registered;
  });
  registered.catch(() => {}); // Awaiting it is optional.
  hosting.start(listening.description);
  listening.accept((incoming) => hosting.handle(incoming), logger, options.oneShot);

  const close = () => listening.close();
  return {
    addr: listening.addr,
    ready: listening.ready,
    registered,
    connections: hosting.connections,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
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

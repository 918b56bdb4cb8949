/**
 * rdc over WebSocket: the usual byte framing, each write one binary
 * message ({@linkcode transportFromWebSocket}), so an rdc service can share
 * a port with an HTTP application and be reached wherever HTTP goes. A
 * Deno client opens a socket ({@linkcode openWebSocket}, with Deno's TLS
 * options, over `websocket_client.ts`); a server upgrades an
 * HTTP request ({@linkcode acceptWebSocket}), by itself (`serveWebSocket`)
 * or in the listener of `serve({ ws })` ({@linkcode WebSocketListener}).
 *
 * @module
 */

import { withContext } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Transport } from "../wire/transport.ts";
import { type Acceptor, type Incoming, IncomingQueue } from "./incoming.ts";
import type { TlsServerOptions } from "./tls.ts";
import { transportFromWebSocket } from "./websocket_transport.ts";
import { describeUrl, openWebSocketTransport, webSocketTarget } from "./websocket_client.ts";

/**
 * What a WebSocket client trusts and presents, beyond the connection
 * options. The system's certificate store is always trusted, and so are
 * the certificates Deno is given with `--cert` or `DENO_CERT`.
 */
export interface WebSocketClientOptions {
  /** Certificate authorities (PEM) trusted for a wss server's certificate, besides the system's. */
  caCerts?: string[];
  /** A client certificate chain (PEM), for a wss server (or proxy) that asks for one; needs `key`. */
  cert?: string;
  /** The client certificate's private key (PEM). */
  key?: string;
  /**
   * Headers sent with the upgrade request: a cookie or a bearer token the
   * HTTP application in front checks, say (Deno's extension of `WebSocket`).
   */
  headers?: HeadersInit;
}

/** Where `serve({ ws })` takes WebSocket connections, and what it does with other requests. */
export interface WebSocketListenOptions {
  /** The path whose WebSocket upgrades are rdc connections. Default `"/"`. */
  path?: string;
  /**
   * Answers every request for another path: an HTTP application sharing
   * the port (and the server's connection limit and budgets). Default: 404.
   */
  fallback?: Deno.ServeHandler<Deno.NetAddr>;
}

/**
 * Opens a WebSocket to `url` (ws: or wss:) with Deno's extensions (trusted
 * certificates, a client certificate, headers) and waits until it is open.
 *
 * @throws {TypeError} for a URL that is not ws: or wss:, or TLS options on ws:.
 * @throws what {@linkcode openWebSocketTransport} throws.
 */
export async function openWebSocket(
  url: string | URL,
  options: WebSocketClientOptions,
  handshakeTimeout: number,
): Promise<Transport> {
  const target = webSocketTarget(url);
  const { caCerts, cert, key, headers } = options;
  const tls = caCerts !== undefined || cert !== undefined || key !== undefined;
  if (tls && target.protocol !== "wss:") {
    throw new TypeError(`caCerts, cert and key apply to wss:// URLs, not ${describeUrl(target)}`);
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError("a client certificate needs both cert and key");
  }
  const client = tls
    ? Deno.createHttpClient(
      cert !== undefined && key !== undefined ? { caCerts, cert, key } : { caCerts },
    )
    : undefined;
  try {
    return await openWebSocketTransport(
      target,
      handshakeTimeout,
      (target) => new WebSocket(target, { headers, ...(client ? { client } : {}) }),
    );
  } finally {
    // The open socket no longer needs its client (its TLS settings were used).
    client?.close();
  }
}

/**
 * Upgrades `request` to a WebSocket carrying rdc. The `response` must be
 * returned to the HTTP server; `incoming` resolves once the socket is open
 * (with the peer from `info`, when given), or with null if it never opens.
 * A request that is not a WebSocket upgrade is answered 426 (Upgrade
 * Required), a malformed upgrade 400, each with a one-line body saying so;
 * `incoming` is then null.
 */
export function acceptWebSocket(
  request: Request,
  info?: Deno.ServeHandlerInfo,
): { response: Response; incoming: Promise<Incoming | null> } {
  const refused = (status: number, text: string, headers: Record<string, string> = {}) => ({
    response: new Response(`${text}\n`, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    }),
    incoming: Promise.resolve(null),
  });
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return refused(
      426,
      "426 Upgrade Required: this is an rdc endpoint; connect with a WebSocket (rdc's connectWebSocket)",
      { upgrade: "websocket", connection: "Upgrade" },
    );
  }
  // Read before upgrading: the request (and its connection's address) is gone after.
  const scheme = new URL(request.url).protocol === "https:" ? "wss" : "ws";
  const addr = info?.remoteAddr;
  let upgrade: Deno.WebSocketUpgrade;
  try {
    upgrade = Deno.upgradeWebSocket(request);
  } catch (error) {
    return refused(
      400,
      `400 Bad Request: not a valid WebSocket upgrade: ${(error as Error).message}`,
    );
  }
  const { socket, response } = upgrade;
  const remoteHost = addr && "hostname" in addr ? addr.hostname : null;
  const peer = addr && "hostname" in addr
    ? `${scheme} ${remoteHost!.includes(":") ? `[${remoteHost}]` : remoteHost}:${addr.port}`
    : `${scheme} client`;
  const transport = transportFromWebSocket(socket, peer);
  const incoming = new Promise<Incoming | null>((resolve) => {
    socket.addEventListener("open", () => {
      resolve({ transport, peer, remoteHost, certificate: null });
    }, { once: true });
    socket.addEventListener("close", () => resolve(null), { once: true });
  });
  return { response, incoming };
}

/**
 * The listener of `serve({ ws })`: a `Deno.serve` HTTP server (HTTPS with
 * `tls`) whose WebSocket upgrades at one path are the connections, queued
 * for {@linkcode WebSocketListener.accept}; other paths go to `fallback`.
 */
export class WebSocketListener implements Acceptor {
  /** `ws 127.0.0.1:8000/rdc` (or `wss …`), for logs. */
  readonly description: string;
  readonly ready: Promise<void> = Promise.resolve();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #incoming = new IncomingQueue();

  private constructor(
    listen: (handler: Deno.ServeHandler<Deno.NetAddr>) => Deno.HttpServer<Deno.NetAddr>,
    path: string,
    scheme: string,
    fallback: Deno.ServeHandler<Deno.NetAddr> | undefined,
  ) {
    this.#server = listen((request, info) => {
      if (new URL(request.url).pathname !== path) {
        return fallback?.(request, info) ??
          new Response("404 Not Found\n", {
            status: 404,
            headers: { "content-type": "text/plain; charset=utf-8" },
          });
      }
      if (this.#incoming.closed) {
        return new Response("503 Service Unavailable: the server is closing\n", {
          status: 503,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }
      const { response, incoming } = acceptWebSocket(request, info);
      incoming.then((opened) => opened && this.#incoming.admit(opened));
      return response;
    });
    const { hostname, port } = this.#server.addr;
    this.description = `${scheme} ${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}` +
      path;
  }

  /**
   * Listens on `hostname:port` (0 picks a free port), with TLS when `tls`
   * is given. Errors of `fallback` are logged and answered 500.
   *
   * @throws {TypeError} when `tls` asks for client certificates (`Deno.serve`
   *   cannot), or `ws.path` does not start with "/"; the runtime's error,
   *   naming the address, when it cannot listen.
   */
  static listen(
    hostname: string,
    port: number,
    ws: WebSocketListenOptions,
    tls: TlsServerOptions | undefined,
    logger: Logger,
  ): WebSocketListener {
    const path = ws.path ?? "/";
    if (!path.startsWith("/")) throw new TypeError(`ws.path must start with "/", not "${path}"`);
    if (tls?.ca !== undefined || tls?.requireClientCert) {
      throw new TypeError(
        "client certificates (tls.ca) are not available over WebSocket: the HTTP server cannot " +
          "ask for them (use an authenticator, or TLS without ws)",
      );
    }
    const scheme = tls ? "wss" : "ws";
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    let listener: WebSocketListener | undefined;
    const description = () => listener?.description ?? `${scheme} ${host}:${port}${path}`;
    const listen = (handler: Deno.ServeHandler<Deno.NetAddr>) => {
      try {
        return Deno.serve({
          hostname,
          port,
          ...(tls ? { cert: tls.cert, key: tls.key } : {}),
          onListen: () => {},
          onError: (error) => {
            logger("error", `${description()}: a request failed: ${error}`);
            return new Response("500 Internal Server Error\n", { status: 500 });
          },
        }, handler);
      } catch (error) {
        throw withContext(error, `cannot listen on ${scheme} ${host}:${port}`);
      }
    };
    return listener = new WebSocketListener(listen, path, scheme, ws.fallback);
  }

  /** The address listened on (its port filled in when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** The next opened connection; null once closed. */
  accept(): Promise<Incoming | null> {
    return this.#incoming.accept();
  }

  /** Takes no more connections (upgrades are answered 503); queued ones are closed. Idempotent. */
  close(): void {
    this.#incoming.close();
  }

  /** Shuts the HTTP server down (after the server's connections have ended). */
  async finish(): Promise<void> {
    this.close();
    await this.#server.shutdown();
  }
}

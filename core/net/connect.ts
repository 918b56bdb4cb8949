/**
 * Opening connections: over TCP, TLS, a unix socket, a WebSocket, or any
 * byte stream.
 *
 * @module
 */

import type { TlsClientOptions } from "./tls.ts";
import {
  type Connection,
  type ConnectionOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
} from "../session/connection.ts";
import type { ByteStreams } from "../wire/transport.ts";
import { transportFromStreams } from "./adapters.ts";
import { openEndpoint } from "./endpoints.ts";
import { openWebSocket, type WebSocketClientOptions } from "./websocket.ts";
import { startConnection } from "./start.ts";
// Registers the compression codecs of node:zlib (the browser entry never reaches this file).
import "./codecs.ts";

/**
 * Connects to an rdc server over TCP (TCP_NODELAY on).
 *
 * @throws the runtime's connection error, with a message that names the address.
 * @example
 * ```ts
 * import { connect } from "@rdc/rdc";
 * await using conn = await connect("127.0.0.1", 18861);
 * console.log(await conn.root.add(1, 2));
 * ```
 */
export async function connect(
  host: string,
  port: number,
  options: ConnectionOptions = {},
): Promise<Connection> {
  return await startConnection(await openEndpoint({ kind: "tcp", host, port }), options);
}

/**
 * Connects to an rdc server over TLS. The server's certificate must chain to
 * a trusted authority (the system's, plus `caCerts`) and name `hostname`
 * (default: `host`); `cert` and `key` present a client certificate.
 *
 * @throws the TLS error (untrusted, expired or misnamed certificate, refused
 *   client certificate), naming the address.
 * @example
 * ```ts
 * import { connectTls } from "@rdc/rdc";
 * // await using conn = await connectTls("db.example", 18821, {
 * //   caCerts: [await Deno.readTextFile("ca.pem")],
 * //   cert: await Deno.readTextFile("client.pem"),
 * //   key: await Deno.readTextFile("client.key"),
 * // });
 * ```
 */
export async function connectTls(
  host: string,
  port: number,
  options: ConnectionOptions & TlsClientOptions = {},
): Promise<Connection> {
  const transport = await openEndpoint({
    kind: "tls",
    host,
    port,
    tls: options,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
  });
  return await startConnection(transport, options);
}

/** Connects to an rdc server listening on a unix socket at `path`. */
export async function connectUnix(
  path: string,
  options: ConnectionOptions = {},
): Promise<Connection> {
  return await startConnection(await openEndpoint({ kind: "unix", path }), options);
}

/**
 * Connects to an rdc server over a WebSocket (`ws://` or `wss://`): a
 * server made with `serve(service, { ws })`, or a `Deno.serve` application
 * that answers this URL with `serveWebSocket`. Everything else is as over
 * TCP: `token` for a `tokenAuthenticator` server, limits, timeouts.
 *
 * For wss, the server's certificate must chain to the system's trust store,
 * to a certificate given to Deno with `--cert` or `DENO_CERT`, or to one of
 * `caCerts`; and it must name the URL's host.
 *
 * @throws {TypeError} for a URL that is not ws: or wss:.
 * @throws an `Error` naming the URL when the socket cannot be opened (refused,
 *   not a WebSocket endpoint, an untrusted certificate), and what `connect`
 *   throws once it is open (a refused token, a refused connection).
 * @example
 * ```ts
 * import { connectWebSocket } from "@rdc/rdc";
 * // await using conn = await connectWebSocket("wss://example.com/rdc", { token: "secret" });
 * // console.log(await conn.root.add(1, 2));
 * ```
 */
export async function connectWebSocket(
  url: string | URL,
  options: ConnectionOptions & WebSocketClientOptions = {},
): Promise<Connection> {
  const transport = await openWebSocket(
    url,
    options,
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
  );
  return await startConnection(transport, options);
}

/**
 * Runs rdc over any pair of byte streams: a child's stdio, a web socket's
 * streams, an in-memory pipe. Both ends may use this.
 */
export async function connectStream(
  streams: ByteStreams,
  options: ConnectionOptions & { description?: string } = {},
): Promise<Connection> {
  return await startConnection(
    transportFromStreams(streams, options.description ?? "stream"),
    options,
  );
}

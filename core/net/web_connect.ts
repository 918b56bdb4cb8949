/**
 * Opening a WebSocket connection with nothing but the web's `WebSocket`: the
 * browser entry's `connectWebSocket` (web.ts). Deno's, with TLS options and
 * headers, is in connect.ts.
 *
 * @module
 */

import {
  type Connection,
  type ConnectionOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
} from "../session/connection.ts";
import { startConnection } from "./start.ts";
import { openWebSocketTransport, webSocketTarget } from "./websocket_client.ts";

/**
 * Connects to an rdc server over a WebSocket from a browser (or any runtime
 * with the web's `WebSocket`): a server made with `serve(service, { ws })`,
 * or a `Deno.serve` application that answers this URL with
 * `serveWebSocket`. On a page, a relative URL (`"/rdc"`) means the page's
 * own server, over wss when the page came over https. Everything else is as
 * over TCP: `token` for a `tokenAuthenticator` server, limits, timeouts,
 * callbacks.
 *
 * For wss, the browser checks the server's certificate as it does for the
 * page: there are no TLS options.
 *
 * @throws {TypeError} for a URL that is not ws: or wss: (or relative, where there is no page).
 * @throws an `Error` naming the URL when the socket cannot be opened (refused,
 *   not a WebSocket endpoint, an untrusted certificate), and what `connect`
 *   throws once it is open (a refused token, a refused connection).
 * @example
 * ```ts ignore
 * import { connectWebSocket } from "@rdc/rdc/web";
 * await using conn = await connectWebSocket("/rdc");
 * console.log(await conn.root.add(1, 2));
 * ```
 */
export async function connectWebSocket(
  url: string | URL,
  options: ConnectionOptions = {},
): Promise<Connection> {
  const transport = await openWebSocketTransport(
    webSocketTarget(url),
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
  );
  return await startConnection(transport, options);
}

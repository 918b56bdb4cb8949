/**
 * The client's side of rdc over WebSocket with nothing but the web's
 * `WebSocket`: checking the URL and waiting for the socket to open. Deno's
 * client (websocket.ts) adds its TLS options on top; the browser entry
 * (web.ts) uses this as it is.
 *
 * @module
 */

import { withContext } from "../errors.ts";
import type { Transport } from "../wire/transport.ts";
import { transportFromWebSocket } from "./websocket_transport.ts";

/** `ws://host:port/path` of `url`, without credentials, query or fragment: safe for logs. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * `url` as a URL, once checked to be ws: or wss:. Where there is a page (a
 * browser, or Deno run with `--location`), a relative URL such as `/rdc` is
 * resolved against the page's address, http becoming ws and https wss.
 *
 * @throws {TypeError} for a URL that is not ws: or wss: (or not a URL).
 */
export function webSocketTarget(url: string | URL): URL {
  const page = (globalThis as { location?: { href: string } }).location;
  const target = new URL(url, page?.href.replace(/^http/, "ws"));
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    throw new TypeError(`a WebSocket URL starts with ws:// or wss://, not ${target.protocol}//`);
  }
  return target;
}

/**
 * Opens a WebSocket to `target` with `create` and waits until it is open;
 * the socket is listened to from the start, so nothing the server sends
 * right after opening is missed.
 *
 * @throws an `Error` naming the URL when the socket cannot be opened (refused,
 *   not a WebSocket endpoint, an untrusted certificate) or is not open within
 *   `handshakeTimeout` ms.
 */
export async function openWebSocketTransport(
  target: URL,
  handshakeTimeout: number,
  create: (target: URL) => WebSocket = (target) => new WebSocket(target),
): Promise<Transport> {
  const shown = describeUrl(target);
  let socket: WebSocket;
  try {
    socket = create(target);
  } catch (error) {
    throw withContext(error, `cannot connect to ${shown}`);
  }
  const transport = transportFromWebSocket(socket, shown);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let problem = "";
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", (event) => {
        problem = (event as ErrorEvent).message ?? "";
      }, { once: true });
      socket.addEventListener("close", (event) => {
        const why = problem || `closed before opening (code ${event.code})`;
        reject(new Error(`cannot connect to ${shown}: ${why}`));
      }, { once: true });
      timer = setTimeout(() => {
        reject(new Error(`cannot connect to ${shown}: not open within ${handshakeTimeout} ms`));
        transport.close();
      }, handshakeTimeout);
    });
  } finally {
    clearTimeout(timer);
  }
  return transport;
}

/**
 * rdc in the browser (`@rdc/rdc/web`): the client side of the core for a
 * web page or a Worker (a browser's, or Deno's), with nothing that needs
 * Deno or Node. Remote objects, pipelining, callbacks, services, errors and
 * timeouts are those of `@rdc/rdc`; the carriers are the web's: a WebSocket
 * to a Deno server, a `MessagePort`, a `Worker`. Servers, TCP, TLS options,
 * subprocesses, the registry, the synchronous and classic modes stay in
 * `@rdc/rdc`.
 *
 * Bundle it for a page with `deno bundle --platform browser`.
 *
 * ```ts ignore
 * import { connectWebSocket } from "@rdc/rdc/web";
 *
 * // A Deno server answers /rdc with serveWebSocket (or serve({ ws })).
 * await using conn = await connectWebSocket("/rdc");
 * console.log(await conn.root.add(1, 2)); // 3
 * ```
 *
 * @module
 */

export { connectWebSocket } from "./core/net/web_connect.ts";
export * from "./core/portable.ts";

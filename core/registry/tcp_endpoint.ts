/**
 * The registry over TCP: one request and its reply per connection, each a
 * frame, within a deadline (a client that sends nothing cannot hold a
 * connection open; RPyC issue #99).
 *
 * @module
 */

import { withContext } from "../errors.ts";
import type { Logger } from "../options.ts";
import type { Endpoint, RequestHandler } from "./endpoint.ts";
import { closeQuietly, deadline, readFrame, writeFrame } from "./tcp_frames.ts";

/** How long a client may take to send its request. */
const REQUEST_TIMEOUT_MS = 3_000;
/** How long to wait before accepting again after accepting failed (out of descriptors, say). */
const ACCEPT_RETRY_MS = 100;

/**
 * Listens on `hostname:port` and answers the request of each connection
 * through `handler`.
 *
 * @throws the runtime's error when listening fails, naming the address.
 */
export function listenTcp(
  hostname: string,
  port: number,
  handler: RequestHandler,
  logger: Logger,
): Endpoint {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (error) {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    throw withContext(error, `cannot listen on tcp ${host}:${port}`);
  }
  const open = new Set<Deno.Conn>();
  const handling = new Set<Promise<void>>();
  let closing = false;

  const answer = async (conn: Deno.Conn) => {
    const host = (conn.remoteAddr as Deno.NetAddr).hostname;
    using timer = deadline(REQUEST_TIMEOUT_MS, () => closeQuietly(conn));
    try {
      const reply = handler.respond(await readFrame(conn), host);
      if (reply !== undefined) await writeFrame(conn, reply);
    } catch (error) {
      if (closing) return;
      const reason = timer.expired
        ? `no complete request within ${REQUEST_TIMEOUT_MS} ms`
        : (error as Error).message;
      handler.ignore(host, reason);
    } finally {
      open.delete(conn);
      closeQuietly(conn);
    }
  };

  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing) return;
        logger("error", `registry: accept failed (retrying): ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      open.add(conn);
      const handled = answer(conn);
      handling.add(handled);
      handled.finally(() => handling.delete(handled));
    }
  })();

  return {
    addr: listener.addr,
    async close() {
      closing = true;
      closeQuietly(listener);
      for (const conn of open) closeQuietly(conn);
      await Promise.all([accepting, ...handling]);
    },
  };
}

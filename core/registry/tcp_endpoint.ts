/**
 * The registry over TCP: one request and its reply per connection, each a
 * frame, within a deadline (a client that sends nothing cannot hold a
 * connection open; RPyC issue #99).
 *
 * @module
 */

import { Listening } from "../net/listening.ts";
import type { Logger } from "../log.ts";
import type { Transport } from "../wire/transport.ts";
import type { Endpoint, RequestHandler } from "./endpoint.ts";
import { deadline, readFrame, writeFrame } from "./tcp_frames.ts";

/** How long a client may take to send its request. */
const REQUEST_TIMEOUT_MS = 3_000;

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
  const open = new Set<Transport>();
  // Closing ends the requests in progress (each is bounded by its deadline anyway).
  const listening = new Listening(
    { hostname, port },
    "the registry",
    logger,
    REQUEST_TIMEOUT_MS,
    () => {
      for (const transport of open) transport.close();
    },
  );

  listening.accept(async ({ transport, remoteHost }) => {
    const host = remoteHost ?? "unknown";
    open.add(transport);
    using timer = deadline(REQUEST_TIMEOUT_MS, () => transport.close());
    try {
      const reply = handler.respond(await readFrame(transport), host, true);
      if (reply !== undefined) await writeFrame(transport, reply);
    } catch (error) {
      if (listening.closing) return;
      const reason = timer.expired
        ? `no complete request within ${REQUEST_TIMEOUT_MS} ms`
        : (error as Error).message;
      handler.ignore(host, reason);
    } finally {
      open.delete(transport);
      transport.close();
    }
  }, logger);

  return {
    addr: listening.addr as Deno.NetAddr,
    close: () => listening.close(),
  };
}

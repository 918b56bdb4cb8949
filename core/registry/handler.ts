/**
 * What the registry answers: each request applied to its table, and what
 * cannot be read logged and dropped.
 *
 * @module
 */

import { type Logger, ThrottledLog } from "../log.ts";
import type { RequestHandler } from "./endpoint.ts";
import { encodeMessage, parseRequest, type Reply, type Request } from "./messages.ts";
import { ServiceTable } from "./table.ts";

/**
 * The registry's request handler over a fresh table.
 *
 * Contract: a valid request gets the reply core/registry/PROTOCOL.md gives
 * it; anything else gets none and a warning (throttled to a line a second).
 * Servers that appear or leave are logged at info.
 */
export function registryHandler(
  pruningTimeout: number,
  allowListing: boolean,
  logger: Logger,
): RequestHandler {
  const table = new ServiceTable(pruningTimeout, (change, name, { host, port }) => {
    logger("info", `${change} ${name} at ${host.includes(":") ? `[${host}]` : host}:${port}`);
  });
  const ignored = new ThrottledLog(logger);

  const answer = (request: Request, host: string): Reply => {
    switch (request.command) {
      case "REGISTER":
        table.register(request.names, host, request.port);
        return { ok: true };
      case "UNREGISTER":
        table.unregister(host, request.port);
        return { ok: true };
      case "QUERY":
        return { servers: table.query(request.name) };
      case "LIST":
        return allowListing ? { names: table.list() } : { error: "listing is not allowed" };
      default:
        request satisfies never;
        throw new TypeError("unknown command");
    }
  };

  const ignore = (host: string, reason: string) => {
    ignored.warn(`ignored a request from ${host}: ${reason}`);
  };
  return {
    respond(bytes, host) {
      let request: Request;
      try {
        request = parseRequest(bytes);
      } catch (error) {
        ignore(host, (error as Error).message);
        return undefined;
      }
      return encodeMessage(request.id, answer(request, host));
    },
    ignore,
  };
}

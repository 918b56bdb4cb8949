/**
 * What the registry answers: each request applied to its table, and what
 * cannot be read logged and dropped.
 *
 * @module
 */

import { type Logger, ThrottledLog } from "../log.ts";
import type { RequestHandler } from "./endpoint.ts";
import {
  AMPLIFICATION_FACTOR,
  encodeMessage,
  MAX_MESSAGE_SIZE,
  parseRequest,
  type Reply,
  type Request,
} from "./messages.ts";
import type { SignatureCheck } from "./signature.ts";
import { ServiceTable, type SourceLimits } from "./table.ts";

/** What {@linkcode registryHandler} needs to know. */
export interface HandlerSettings {
  pruningTimeout: number;
  allowListing: boolean;
  /** Checks REGISTER and UNREGISTER when the registry has a secret. */
  signatures: SignatureCheck | undefined;
  limits: SourceLimits;
  logger: Logger;
}

/**
 * The registry's request handler over a fresh table.
 *
 * Contract: a valid request gets the reply core/registry/PROTOCOL.md gives
 * it; anything else gets none and a warning (throttled to a line a second),
 * and so does a refused registration (it is answered with an `error`). A
 * reply to an unverified source (a UDP datagram's address may be forged)
 * is at most {@linkcode AMPLIFICATION_FACTOR} times its request's size:
 * a larger one is replaced by `truncated`. Servers that appear or leave are
 * logged at info.
 */
export function registryHandler(settings: HandlerSettings): RequestHandler {
  const { logger, signatures } = settings;
  const table = new ServiceTable(settings.pruningTimeout, settings.limits, (change, name, s) => {
    logger(
      "info",
      `${change} ${name} at ${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}`,
    );
  });
  const ignored = new ThrottledLog(logger);
  const refusals = new ThrottledLog(logger);

  const refuse = (request: Request, host: string, reason: string): Reply => {
    refusals.warn(`refused ${request.command} from ${host}: ${reason}`);
    return { error: reason };
  };

  const answer = (request: Request, host: string): Reply => {
    switch (request.command) {
      case "REGISTER": {
        const refusal = signatures?.check(request, host) ??
          table.register(request.names, host, request.port);
        return refusal === undefined ? { ok: true } : refuse(request, host, refusal);
      }
      case "UNREGISTER": {
        const refusal = signatures?.check(request, host);
        if (refusal !== undefined) return refuse(request, host, refusal);
        table.unregister(host, request.port);
        return { ok: true };
      }
      case "QUERY":
        return { servers: table.query(request.name) };
      case "LIST":
        return settings.allowListing
          ? { names: table.list() }
          : { error: "listing is not allowed" };
      default:
        request satisfies never;
        throw new TypeError("unknown command");
    }
  };

  const ignore = (host: string, reason: string) => {
    ignored.warn(`ignored a request from ${host}: ${reason}`);
  };
  return {
    respond(bytes, host, verified) {
      let request: Request;
      try {
        request = parseRequest(bytes);
      } catch (error) {
        ignore(host, (error as Error).message);
        return undefined;
      }
      const reply = answer(request, host);
      if (verified) return fitted(request.id, reply);
      const encoded = encodeMessage(request.id, reply);
      const limit = Math.min(AMPLIFICATION_FACTOR * bytes.length, MAX_MESSAGE_SIZE);
      return encoded.length <= limit ? encoded : encodeMessage(request.id, { truncated: true });
    },
    ignore,
  };
}

/**
 * `reply` encoded in one message: a `QUERY`'s answer too large for any
 * (thousands of servers under one name) keeps the servers that fit, oldest
 * first; a `LIST`'s keeps the names that fit.
 */
function fitted(id: number, reply: Reply): Uint8Array {
  let encoded = encodeMessage(id, reply);
  let shorter = reply;
  while (encoded.length > MAX_MESSAGE_SIZE) {
    const keep = (items: unknown[]) => Math.floor(items.length * MAX_MESSAGE_SIZE / encoded.length);
    if ("servers" in shorter) {
      shorter = { servers: shorter.servers.slice(0, keep(shorter.servers)) };
    } else if ("names" in shorter) shorter = { names: shorter.names.slice(0, keep(shorter.names)) };
    else throw new TypeError("a short reply cannot outgrow a message");
    encoded = encodeMessage(id, shorter);
  }
  return encoded;
}

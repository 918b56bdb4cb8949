/**
 * The channel of a connection over a byte stream, opened once the token (if
 * any) is accepted: what the `connect*` functions, servers and the
 * synchronous mode's I/O worker all build on an open transport. Only web
 * APIs: the browser entry (web.ts) reaches this file.
 *
 * @module
 */

import { presentToken } from "./token.ts";
import { Budget } from "../wire/budget.ts";
import { ByteFrameChannel } from "../wire/framing.ts";
import type { ResolvedLimits } from "../wire/limits.ts";
import type { Transport } from "../wire/transport.ts";

/**
 * The channel over an open transport, once the token (if any) is accepted.
 * Closes the transport if that fails.
 *
 * @throws {AuthenticationError} when the server refuses the token.
 */
export async function openChannel(
  transport: Transport,
  limits: ResolvedLimits,
  token: string | undefined,
  sharedInbound?: Budget,
): Promise<ByteFrameChannel> {
  try {
    if (token !== undefined) await presentToken(transport, token);
  } catch (error) {
    transport.close();
    throw error;
  }
  const inbound = new Budget(
    limits.maxInboundBytes,
    "bytes held for messages from this peer",
    sharedInbound,
  );
  return new ByteFrameChannel(transport, { inbound, drainTimeout: limits.drainTimeout });
}

/**
 * Starting a connection over an open transport or channel, whatever opened
 * it: the handshake, then the service's `onConnect`. Every `connect*` and
 * `serve*` function of every carrier ends here. Only web APIs: the browser
 * entry (web.ts) reaches this file.
 *
 * @module
 */

import { Session } from "../session/session.ts";
import type { Budget } from "../wire/budget.ts";
import type { ReadableFrameChannel } from "../wire/channel.ts";
import { type ResolvedLimits, resolveLimits } from "../wire/limits.ts";
import { makeProxy } from "../netref/proxy.ts";
import type { Connection, ConnectionOptions } from "../session/connection.ts";
import { serviceInstance, VoidService } from "../session/service.ts";
import type { Transport } from "../wire/transport.ts";
import { openChannel } from "./byte_channel.ts";

/** Budgets a server shares among its connections. */
export interface ServerBudgets {
  /** Bytes of partly received messages, across every connection. */
  inbound: Budget;
  /** Requests being served and answers kept, across every connection. */
  pending: Budget;
}

/**
 * Starts a connection over an open transport: handshake, then the service's
 * `onConnect`. Closes the transport if that fails. A server passes the
 * budgets its connections share.
 */
export async function startConnection(
  transport: Transport,
  options: ConnectionOptions = {},
  credentials: unknown = null,
  shared?: ServerBudgets,
): Promise<Connection> {
  let limits: ResolvedLimits;
  try {
    limits = resolveLimits(options);
  } catch (error) {
    transport.close();
    throw error;
  }
  const channel = await openChannel(transport, limits, options.token, shared?.inbound);
  return await startSession(channel, limits, options, credentials, shared?.pending);
}

/**
 * Starts a connection over an open channel (of any carrier): handshake, then
 * the service's `onConnect`. The channel is closed if that fails. A server
 * passes the pending-request budget its connections share.
 */
export async function startSession(
  channel: ReadableFrameChannel,
  limits: ResolvedLimits,
  options: ConnectionOptions,
  credentials: unknown = null,
  serverPending?: Budget,
): Promise<Connection> {
  let made: ReturnType<typeof serviceInstance>;
  try {
    made = serviceInstance(options.service ?? VoidService);
  } catch (error) {
    channel.close(); // A factory that failed: this connection has no service to offer.
    throw error;
  }
  const { root, aliases } = made;
  const connection = new Session({
    channel,
    service: root,
    makeProxy,
    options,
    limits,
    credentials,
    serverPending,
  });
  await connection.start(options, aliases);
  return connection;
}

/**
 * Opening connections: over TCP, a unix socket, or any byte stream.
 *
 * @module
 */

import { Session } from "./connection.ts";
import { withContext } from "./errors.ts";
import { makeProxy } from "./proxy.ts";
import type { Connection, ConnectionOptions } from "./options.ts";
import { serviceAliases, serviceInstance, VoidService } from "./service.ts";
import {
  type ByteStreams,
  type Transport,
  transportFromConn,
  transportFromStreams,
} from "./transport.ts";

/**
 * Starts a connection over an open transport: handshake, then the service's
 * `onConnect`. Closes the transport if that fails.
 */
export async function startConnection(
  transport: Transport,
  options: ConnectionOptions = {},
): Promise<Connection> {
  const service = options.service ?? VoidService;
  const connection = new Session(transport, serviceInstance(service), makeProxy, options);
  await connection.start(options, serviceAliases(service));
  return connection;
}

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
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const conn = await withAddress(address, () => Deno.connect({ hostname: host, port }));
  return await startConnection(transportFromConn(conn, `tcp ${address}`), options);
}

/** Connects to an rdc server listening on a unix socket at `path`. */
export async function connectUnix(
  path: string,
  options: ConnectionOptions = {},
): Promise<Connection> {
  const conn = await withAddress(path, () => Deno.connect({ transport: "unix", path }));
  return await startConnection(transportFromConn(conn, `unix ${path}`), options);
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

/** Runs `open`, rethrowing a failure with the address in its message. */
async function withAddress<T>(address: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    throw withContext(error, `cannot connect to ${address}`);
  }
}

/**
 * Where a client connection goes, as plain data ({@linkcode Endpoint}), and
 * opening its transport (`byte_channel.ts` then opens the channel over it).
 * The `connect*` functions and the synchronous mode's I/O worker (which
 * receives endpoints by message) both open connections through here.
 *
 * @module
 */

import { openTls, type TlsClientOptions } from "./tls.ts";
import { spawnTransport } from "./stdio.ts";
import { transportFromConn } from "./adapters.ts";
import type { Transport } from "../wire/transport.ts";
import { withContext } from "../errors.ts";

/** A client connection's destination. Structured-cloneable. */
export type Endpoint =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | {
    kind: "tls";
    host: string;
    port: number;
    tls: TlsClientOptions;
    /** Milliseconds the TLS handshake may take. */
    handshakeTimeout: number;
  }
  | {
    kind: "subprocess";
    /** The program and its arguments. */
    cmd: readonly string[];
    cwd?: string;
    env?: Record<string, string>;
  };

/**
 * Opens the transport to `endpoint`.
 *
 * @throws the runtime's or TLS's error, with the address (or program) in its message.
 */
export async function openEndpoint(endpoint: Endpoint): Promise<Transport> {
  switch (endpoint.kind) {
    case "tcp": {
      const { host, port } = endpoint;
      const address = hostPort(host, port);
      const conn = await withAddress(address, () => Deno.connect({ hostname: host, port }));
      return transportFromConn(conn, `tcp ${address}`);
    }
    case "unix": {
      const { path } = endpoint;
      const conn = await withAddress(path, () => Deno.connect({ transport: "unix", path }));
      return transportFromConn(conn, `unix ${path}`);
    }
    case "tls":
      return await openTls(endpoint.host, endpoint.port, endpoint.tls, endpoint.handshakeTimeout);
    case "subprocess":
      return spawnTransport(endpoint.cmd, endpoint).transport;
    default:
      endpoint satisfies never;
      throw new TypeError(`unknown endpoint ${JSON.stringify(endpoint)}`);
  }
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Runs `open`, rethrowing a failure with the address in its message. */
async function withAddress<T>(address: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    throw withContext(error, `cannot connect to ${address}`);
  }
}

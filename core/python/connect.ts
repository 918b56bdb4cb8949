/**
 * Connecting to a Python RPyC server: over TCP, a unix socket, TLS (RPyC's
 * `ssl_connect`) or any byte stream, with the envelope version pinned or
 * found out.
 *
 * @module
 */

import { PySession, WireVersionError } from "./session.ts";
import { PythonConnection } from "./connection.ts";
import type { WireVersion } from "./envelope.ts";
import { type PythonConnectOptions, resolvePythonOptions } from "./options.ts";
import { hostPort, openEndpoint } from "../net/endpoints.ts";
import { transportFromStreams } from "../net/adapters.ts";
import type { TlsClientOptions } from "../net/tls.ts";
import type { ByteStreams, Transport } from "../wire/transport.ts";
import { ConnectionClosedError, ProtocolError, TimeoutError } from "../errors.ts";

/** Envelope versions found by `"auto"`, per address, for this process. */
const detected = new Map<string, WireVersion>();

/** Opens a fresh transport to the same peer (a probe may need a second one). */
export type TransportOpener = () => Promise<Transport>;

/**
 * Opens a connection over transports from `open`: GETROOT is the first
 * request (and, in `"auto"` mode, the probe of the envelope). `key` names
 * the address for the cache of detected versions (null: no cache).
 *
 * @throws {WireVersionError} when a pinned version is not the server's.
 * @throws {ProtocolError} when the server gives no answer (a `bind_threads`
 * server, or not RPyC at all).
 */
export async function openPython(
  open: TransportOpener,
  key: string | null,
  options: PythonConnectOptions,
): Promise<PythonConnection> {
  resolvePythonOptions(options); // Bad options fail here, before anything is opened.
  const pinned = options.version ?? "auto";
  let version: WireVersion = pinned === "auto" ? (key && detected.get(key)) || 6 : pinned;
  const waitMs = options.handshakeTimeout ?? 10_000;
  for (let attempt = 0;; attempt++) {
    const session = new PySession(await open(), version, options);
    session.start();
    try {
      const root = await session.fetchRoot({ timeout: waitMs });
      if (key) detected.set(key, version);
      const connection = new PythonConnection(session, root);
      await runOnConnect(session.rootObject, connection);
      return connection;
    } catch (error) {
      await session.close();
      const reason = session.closeReason;
      const retry = pinned === "auto" && attempt === 0;
      if (reason instanceof WireVersionError) {
        if (retry) {
          version = reason.peerVersion;
          continue;
        }
        throw reason;
      }
      // A peer fault (a bind_threads server, say) says what is wrong better than the closing.
      if (reason instanceof ProtocolError) throw reason;
      if (retry && error instanceof ConnectionClosedError) {
        // A 5.x server may hang up on a 6.x frame without a word: try 5.x once.
        version = version === 6 ? 5 : 6;
        continue;
      }
      if (error instanceof TimeoutError) {
        throw new ProtocolError(
          `${session.description} gave no answer within ${waitMs} ms: it is not an RPyC ` +
            "server, or it runs with bind_threads (RPYC_BIND_THREADS=true), which rdc does not speak",
          { cause: error },
        );
      }
      throw error;
    }
  }
}

async function runOnConnect(root: object, connection: PythonConnection): Promise<void> {
  const hook = (root as { onConnect?: (conn: PythonConnection) => unknown }).onConnect;
  if (typeof hook === "function") await hook.call(root, connection);
}

/** Where a connection goes: how to open a transport there, and the key of its cached version. */
export interface Destination {
  /** Opens a fresh transport. */
  open: TransportOpener;
  /** The address, for the cache of detected versions (null: none). */
  key: string | null;
}

/** A TCP destination. */
export function tcpDestination(host: string, port: number): Destination {
  const endpoint = { kind: "tcp", host, port } as const;
  return { open: () => openEndpoint(endpoint), key: `tcp ${hostPort(host, port)}` };
}

/** A unix socket destination. */
export function unixDestination(path: string): Destination {
  return { open: () => openEndpoint({ kind: "unix", path }), key: `unix ${path}` };
}

/** A TLS destination. */
export function tlsDestination(
  host: string,
  port: number,
  options: PythonConnectOptions & TlsClientOptions,
): Destination {
  const { caCerts, cert, key, hostname } = options;
  const endpoint = {
    kind: "tls",
    host,
    port,
    tls: { caCerts, cert, key, hostname },
    handshakeTimeout: options.handshakeTimeout ?? 10_000,
  } as const;
  return { open: () => openEndpoint(endpoint), key: `tls ${hostPort(host, port)}` };
}

/** The destination of one byte stream pair, which cannot be opened twice. */
export function streamDestination(streams: ByteStreams): Destination {
  let used = false;
  const open = () => {
    if (used) {
      return Promise.reject(
        new ProtocolError("the peer speaks RPyC 5.x: pass { version: 5 } to connectStream"),
      );
    }
    used = true;
    return Promise.resolve(transportFromStreams(streams, "stream"));
  };
  return { open, key: null };
}

/**
 * Connects to a Python RPyC server over TCP (`rpyc.connect(host, port)`).
 *
 * @example
 * ```ts
 * import { python } from "@rdc/rdc/python";
 * // await using conn = await python.connect("127.0.0.1", 18861);
 * // console.log(await conn.root.add(2, 3));
 * ```
 * @throws the runtime's error, with the address, when the server cannot be reached.
 */
export function connect(
  host: string,
  port: number,
  options: PythonConnectOptions = {},
): Promise<PythonConnection> {
  const { open, key } = tcpDestination(host, port);
  return openPython(open, key, options);
}

/** Connects to a Python RPyC server on a unix socket (`rpyc.unix_connect(path)`). */
export function connectUnix(
  path: string,
  options: PythonConnectOptions = {},
): Promise<PythonConnection> {
  const { open, key } = unixDestination(path);
  return openPython(open, key, options);
}

/**
 * Connects to a Python RPyC server over TLS (`rpyc.ssl_connect`): `caCerts`
 * to trust its certificate, `cert` and `key` for a client certificate.
 */
export function connectTls(
  host: string,
  port: number,
  options: PythonConnectOptions & TlsClientOptions,
): Promise<PythonConnection> {
  const { open, key } = tlsDestination(host, port, options);
  return openPython(open, key, options);
}

/**
 * Speaks RPyC over any byte stream pair. There is only one stream, so
 * `"auto"` cannot reconnect: pin `version` unless the peer speaks 6.x.
 */
export function connectStream(
  streams: ByteStreams,
  options: PythonConnectOptions = {},
): Promise<PythonConnection> {
  const { open, key } = streamDestination(streams);
  return openPython(open, key, options);
}

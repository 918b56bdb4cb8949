/**
 * Opening synchronous connections: over TCP, TLS, a unix socket, or a
 * child's stdio. The I/O worker opens the transport; the handshake runs
 * here, blocking.
 *
 * @module
 */

import type { Endpoint } from "../net/endpoints.ts";
import type { TlsClientOptions } from "../net/tls.ts";
import {
  type ConnectionOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
} from "../session/connection.ts";
import { serviceInstance, VoidService } from "../session/service.ts";
import { Session } from "../session/session.ts";
import { resolveLimits } from "../wire/limits.ts";
import { peerFault } from "../errors.ts";
import { syncDriver, waitUntil } from "./driver.ts";
import { IoWorker } from "./io_worker.ts";
import { makeSyncProxy } from "./proxy.ts";
import { SharedChannel } from "./shared_channel.ts";
import { SyncConnection } from "./connection.ts";

/** Options of the synchronous connections: every connection option, and the pipes' size. */
export interface SyncConnectionOptions extends ConnectionOptions {
  /**
   * Bytes of each shared-memory pipe between this thread and the I/O worker
   * (a power of two from 4 KiB). Larger messages go through in pieces.
   *
   * @default {1 MiB}
   */
  pipeSize?: number;
}

/**
 * Connects to an rdc server over TCP, synchronously: every use of the
 * connection's netrefs blocks until the answer arrives.
 *
 * @throws the connection error (naming the address), `AuthenticationError`,
 *   `ProtocolError` for a peer that is not rdc or not the expected service,
 *   and an `Error` where the platform lacks `SharedArrayBuffer` or a blocking
 *   `Atomics.wait`.
 * @example
 * ```ts ignore
 * import { connectSync } from "@rdc/rdc";
 * using conn = connectSync("127.0.0.1", 18861);
 * console.log(conn.root.add(1, 2)); // 3, no await
 * ```
 */
export function connectSync(
  host: string,
  port: number,
  options: SyncConnectionOptions = {},
): SyncConnection {
  return openSync({ kind: "tcp", host, port }, options);
}

/** {@linkcode connectSync} over TLS; see `connectTls` for the TLS options. */
export function connectTlsSync(
  host: string,
  port: number,
  options: SyncConnectionOptions & TlsClientOptions = {},
): SyncConnection {
  const { caCerts, cert, key, hostname } = options;
  return openSync({
    kind: "tls",
    host,
    port,
    tls: { caCerts, cert, key, hostname },
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
  }, options);
}

/** {@linkcode connectSync} to a server on a unix socket. */
export function connectUnixSync(path: string, options: SyncConnectionOptions = {}): SyncConnection {
  return openSync({ kind: "unix", path }, options);
}

/** Options of {@linkcode connectSubprocessSync}. */
export interface SubprocessSyncOptions extends SyncConnectionOptions {
  /**
   * The child's working directory.
   *
   * @default {Deno.cwd()}
   */
  cwd?: string;
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
}

/**
 * Starts `cmd` and speaks rdc with it over its stdio, synchronously
 * (`connectSubprocess`'s synchronous sibling). Closing the connection ends
 * the child.
 */
export function connectSubprocessSync(
  cmd: readonly string[],
  options: SubprocessSyncOptions = {},
): SyncConnection {
  if (cmd.length === 0) throw new TypeError("a subprocess needs a command to run");
  return openSync(
    { kind: "subprocess", cmd: [...cmd], cwd: options.cwd, env: options.env },
    options,
  );
}

/**
 * Opens a synchronous connection to `endpoint`: the worker (the process's,
 * unless given) connects, then the handshake runs here, blocking.
 */
export function openSync(
  endpoint: Endpoint,
  options: SyncConnectionOptions,
  worker: IoWorker = IoWorker.get(),
): SyncConnection {
  const limits = resolveLimits(options);
  const channel = new SharedChannel(worker, {
    endpoint,
    limits,
    token: options.token,
    pipeSize: options.pipeSize,
  });
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const deadline = performance.now() + handshakeTimeout;
  let connection: SyncConnection;
  let session: Session;
  try {
    if (!waitUntil(worker, () => channel.ended || channel.opened, handshakeTimeout)) {
      throw peerFault(`no connection to ${channel.description} within ${handshakeTimeout} ms`);
    }
    // Made once open: the session takes the channel's description, which now names the peer.
    const { root, aliases } = serviceInstance(options.service ?? VoidService);
    session = new Session({
      channel,
      service: root,
      makeProxy: makeSyncProxy,
      options,
      limits,
      credentials: null,
      driver: syncDriver,
    });
    connection = new SyncConnection(
      session,
      channel,
      worker,
      options.timeout ?? DEFAULT_TIMEOUT_MS,
    );
    session.startDriven(options, aliases, () => {
      const left = Math.max(1, deadline - performance.now());
      const arrived = () => channel.pending || channel.ended;
      if (!waitUntil(worker, arrived, left)) {
        throw peerFault(`no handshake from ${channel.description} within ${handshakeTimeout} ms`);
      }
      const message = channel.takeMessage();
      if (message === null && channel.endError) throw channel.endError;
      return message;
    });
  } catch (error) {
    channel.close();
    throw error;
  }
  channel.attach({
    message: (message) => session.handle(message),
    ended: (error) => session.ended(error),
  });
  return connection;
}

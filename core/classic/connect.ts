/**
 * Opening classic connections and serving classic mode.
 *
 * @module
 */

import {
  connect as connectTcp,
  connectStream as connectOverStream,
  connectTls as connectOverTls,
  connectUnix as connectToUnix,
  connectWebSocket as connectOverWebSocket,
} from "../net/connect.ts";
import type { Connection, ConnectionOptions } from "../session/connection.ts";
import { PERMISSIVE } from "../session/policy.ts";
import { serve as serveService, type ServeOptions, type Server } from "../net/server.ts";
import {
  connectSubprocess as spawnAndConnect,
  serveStdio as serveOnStdio,
  type SubprocessOptions,
} from "../net/stdio.ts";
import type { TlsClientOptions } from "../net/tls.ts";
import type { WebSocketClientOptions } from "../net/websocket.ts";
import type { ByteStreams } from "../wire/transport.ts";
import { ClassicConnection } from "./connection.ts";
import {
  connectSubprocessSync as spawnAndConnectSync,
  connectSync as connectTcpSync,
  connectTlsSync as connectOverTlsSync,
  connectUnixSync as connectToUnixSync,
  type SubprocessSyncOptions,
  type SyncConnectionOptions,
} from "../sync/connect.ts";
import { SyncClassicConnection } from "./sync_connection.ts";
import { permissionFlags } from "../net/permission_flags.ts";
import { ClassicService } from "./service.ts";

/** RPyC's classic port. */
export const DEFAULT_PORT = 18812;
/** RPyC's classic port over TLS. */
export const DEFAULT_TLS_PORT = 18821;

/** Classic mode's connection defaults: the permissive policy, and a peer that must be classic. */
function classicOptions<T extends ConnectionOptions>(options: T | undefined): T {
  return { ...PERMISSIVE, expectService: "Classic", ...options } as T;
}

/**
 * Connects to a classic server over TCP (RPyC's `classic.connect`).
 *
 * @example
 * ```ts
 * import { classic } from "@rdc/rdc";
 * await using conn = await classic.connect("127.0.0.1", 18812);
 * console.log(await conn.modules["node:os"].hostname());
 * ```
 *
 * @param [host="127.0.0.1"] The server's host name or address.
 * @param [port=18812] The server's port.
 * @param options The connection's options; classic mode adds the permissive
 *   policy and expects a classic server.
 */
export async function connect(
  host?: string,
  port?: number,
  options?: ConnectionOptions,
): Promise<ClassicConnection> {
  return new ClassicConnection(
    await connectTcp(host ?? "127.0.0.1", port ?? DEFAULT_PORT, classicOptions(options)),
  );
}

/**
 * Connects to a classic server over TLS (RPyC's `classic.ssl_connect`), on
 * port 18821 by default; see the top-level `connectTls` for the options.
 *
 * @param [host="127.0.0.1"] The server's host name or address.
 * @param [port=18821] The server's port.
 * @param options The connection's options; classic mode adds the permissive
 *   policy and expects a classic server.
 */
export async function connectTls(
  host?: string,
  port?: number,
  options?: ConnectionOptions & TlsClientOptions,
): Promise<ClassicConnection> {
  return new ClassicConnection(
    await connectOverTls(host ?? "127.0.0.1", port ?? DEFAULT_TLS_PORT, classicOptions(options)),
  );
}

/** Connects to a classic server on a unix socket. */
export async function connectUnix(
  path: string,
  options: ConnectionOptions = {},
): Promise<ClassicConnection> {
  return new ClassicConnection(await connectToUnix(path, classicOptions(options)));
}

/**
 * Connects to a classic server over a WebSocket (`rdc classic --ws PATH`, or
 * `classic.serve({ ws })`); see the top-level `connectWebSocket` for the
 * options.
 *
 * @example
 * ```ts
 * import { classic } from "@rdc/rdc";
 * // await using conn = await classic.connectWebSocket("ws://127.0.0.1:18812/rdc");
 * // console.log(await conn.eval("1 + 1"));
 * ```
 */
export async function connectWebSocket(
  url: string | URL,
  options: ConnectionOptions & WebSocketClientOptions = {},
): Promise<ClassicConnection> {
  return new ClassicConnection(await connectOverWebSocket(url, classicOptions(options)));
}

/** Runs a classic connection over any pair of byte streams. */
export async function connectStream(
  streams: ByteStreams,
  options: ConnectionOptions & { description?: string } = {},
): Promise<ClassicConnection> {
  return new ClassicConnection(await connectOverStream(streams, classicOptions(options)));
}

/**
 * Connects to a classic server over TCP, synchronously (the synchronous
 * mode: no `await`, every use blocks until the server answers).
 *
 * @example
 * ```ts ignore
 * import { classic } from "@rdc/rdc";
 * using conn = classic.connectSync("127.0.0.1", 18812);
 * console.log(conn.modules["node:os"].hostname(), conn.eval("1 + 1"));
 * ```
 *
 * @param [host="127.0.0.1"] The server's host name or address.
 * @param [port=18812] The server's port.
 * @param options The connection's options; classic mode adds the permissive
 *   policy and expects a classic server.
 */
export function connectSync(
  host?: string,
  port?: number,
  options?: SyncConnectionOptions,
): SyncClassicConnection {
  return new SyncClassicConnection(
    connectTcpSync(host ?? "127.0.0.1", port ?? DEFAULT_PORT, classicOptions(options)),
  );
}

/**
 * {@linkcode connectSync} over TLS, on port 18821 by default.
 *
 * @param [host="127.0.0.1"] The server's host name or address.
 * @param [port=18821] The server's port.
 * @param options The connection's options; classic mode adds the permissive
 *   policy and expects a classic server.
 */
export function connectTlsSync(
  host?: string,
  port?: number,
  options?: SyncConnectionOptions & TlsClientOptions,
): SyncClassicConnection {
  return new SyncClassicConnection(
    connectOverTlsSync(host ?? "127.0.0.1", port ?? DEFAULT_TLS_PORT, classicOptions(options)),
  );
}

/** {@linkcode connectSync} to a classic server on a unix socket. */
export function connectUnixSync(
  path: string,
  options: SyncConnectionOptions = {},
): SyncClassicConnection {
  return new SyncClassicConnection(connectToUnixSync(path, classicOptions(options)));
}

/**
 * {@linkcode connectSubprocess}, synchronously: starts a classic server on
 * the child's stdio (by default this Deno running rdc's own) and connects.
 */
export function connectSubprocessSync(
  cmd: readonly string[] = defaultServerCommand(),
  options: SubprocessSyncOptions = {},
): SyncClassicConnection {
  return new SyncClassicConnection(spawnAndConnectSync(cmd, classicOptions(options)));
}

/**
 * Starts a classic server as a child process speaking on its stdio and
 * connects to it (RPyC's `classic.connect_subproc`). With no command, the
 * child is this Deno running rdc's own stdio server with this process's
 * permissions (see {@linkcode defaultServerCommand}); a command of your own
 * must speak classic rdc on its stdio (for instance `rdc classic --mode
 * stdio`). Closing the connection ends the child.
 */
export async function connectSubprocess(
  cmd: readonly string[] = defaultServerCommand(),
  options: SubprocessOptions = {},
): Promise<ClassicConnection> {
  const connection = await spawnAndConnect(cmd, classicOptions(options));
  return new ClassicConnection(connection, connection.process);
}

/**
 * The command of a local classic server on stdio: this Deno running
 * `server_main.ts`, never with more permissions than this process has. Each
 * permission this process holds in full is passed on (`--allow-all` when it
 * holds them all); one granted only for some paths or hosts is not, since
 * Deno does not tell which, so the child goes without it.
 */
export function defaultServerCommand(): string[] {
  const entry = new URL("./server_main.ts", import.meta.url).href;
  return [Deno.execPath(), "run", ...permissionFlags(), "--no-prompt", "--quiet", entry];
}

/**
 * Serves classic mode (RPyC's `rpyc_classic`) on TCP, a unix socket or a
 * WebSocket (`ws`), with the permissive policy: each connection gets its
 * own `ClassicService` and namespace. The default port is 18812 and the default address loopback.
 */
export function serve(options: ServeOptions = {}): Server {
  return serveService(ClassicService, {
    ...PERMISSIVE,
    ...options,
    port: options.path === undefined
      ? options.port ?? (options.tls ? DEFAULT_TLS_PORT : DEFAULT_PORT)
      : undefined,
  });
}

/** Serves classic mode on this process's stdin and stdout (see the top-level `serveStdio`). */
export async function serveStdio(
  options: Omit<ConnectionOptions, "service"> = {},
): Promise<Connection> {
  return await serveOnStdio(ClassicService, { ...PERMISSIVE, ...options });
}

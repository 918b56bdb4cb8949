/**
 * rdc — Remote Deno Call: transparent, symmetric remote objects for Deno, in
 * the manner of Python's RPyC.
 *
 * ```ts
 * import { connect, serve, Service } from "@rdc/rdc";
 *
 * class CalculatorService extends Service {
 *   exposed_add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 *
 * await using server = serve(CalculatorService, { port: 0 });
 * await using conn = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port);
 * console.log(await conn.root.add(1, 2)); // 3
 * ```
 *
 * @module
 */

export * from "./core/portable.ts";
export {
  connect,
  connectStream,
  connectTls,
  connectUnix,
  connectWebSocket,
} from "./core/net/connect.ts";
export type { WebSocketClientOptions, WebSocketListenOptions } from "./core/net/websocket.ts";
export type { PeerCertificate, TlsClientOptions, TlsServerOptions } from "./core/net/tls.ts";
export type { Incoming } from "./core/net/incoming.ts";
export {
  type Authenticator,
  tokenAuthenticator,
  type TokenAuthenticatorOptions,
} from "./core/net/auth.ts";
export type { BackoffOptions } from "./core/net/backoff.ts";
export { DEFAULT_SERVER_LIMITS, type ServerLimits } from "./core/wire/limits.ts";
export {
  serve,
  type ServeOptions,
  type Server,
  serveWebSocket,
  type WebSocketServeOptions,
} from "./core/net/server.ts";
export type { HostOptions } from "./core/net/hosting.ts";
export type { ListenOptions } from "./core/net/listening.ts";
export {
  type IsolatedServeOptions,
  type IsolatedServer,
  serveIsolated,
} from "./core/net/isolated.ts";
export { type PoolServeOptions, type PoolServer, servePool } from "./core/net/pool.ts";
export { isPoolWorker } from "./core/net/pool_member.ts";
export {
  connectSubprocess,
  serveStdio,
  type SubprocessConnection,
  type SubprocessOptions,
} from "./core/net/stdio.ts";
export type { ByteStreams, Transport } from "./core/wire/transport.ts";
export {
  DEFAULT_PRUNING_TIMEOUT,
  type RegistryServer,
  type RegistryServerOptions,
  serveRegistry,
} from "./core/registry/server.ts";
export { RegistryClient, type RegistryClientOptions } from "./core/registry/client.ts";
export {
  connectByService,
  type ConnectByServiceOptions,
  discover,
  DISCOVERY_RETRY_MS,
  type DiscoveryOptions,
  listServices,
} from "./core/registry/discovery.ts";
export { DiscoveryError } from "./core/registry/errors.ts";
export type { ServiceDirectory } from "./core/registry/directory.ts";
export type { Secret } from "./core/registry/signature.ts";
export {
  EtcdRegistrar,
  etcdRegistrar,
  type EtcdRegistrarOptions,
  type ServiceEvent,
} from "./core/registry/etcd_registrar.ts";
export { REGISTRY_PORT, type RegistryMode, type ServerAddress } from "./core/registry/messages.ts";
export {
  defaultRegistryHost,
  type Registrar,
  type RegistrationOptions,
  REREGISTER_INTERVAL,
} from "./core/registry/registration.ts";
export * from "./core/sync/mod.ts";
export * as classic from "./core/classic/mod.ts";

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
export {
  type Connection,
  type ConnectionOptions,
  type ConnectionStats,
  type RootObject,
} from "./core/session/connection.ts";
export { defaultLogger, type Logger } from "./core/log.ts";
export {
  DEFAULT_LIMITS,
  DEFAULT_SERVER_LIMITS,
  type Limits,
  type ResolvedLimits,
  type ServerLimits,
} from "./core/wire/limits.ts";
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
export {
  connectInProcess,
  connectMessagePort,
  connectWorker,
  type InProcessOptions,
  type MessagePortLike,
  type MessagePortOptions,
  serveMessagePort,
  serveParent,
  type WorkerConnectionOptions,
} from "./core/net/message_port.ts";
export type { MessageEndpoint } from "./core/wire/message_channel.ts";
export {
  connectSubprocess,
  serveStdio,
  type SubprocessConnection,
  type SubprocessOptions,
} from "./core/net/stdio.ts";
export {
  Service,
  type ServiceConnection,
  type ServiceLike,
  VoidService,
} from "./core/session/service.ts";
export { exposed, PERMISSIVE, type Policy, Restricted, restricted } from "./core/session/policy.ts";
export { ByReference, ByValue, byValue, ref, transfer, Transferred } from "./core/wire/markers.ts";
export type { CopyFilter } from "./core/wire/values.ts";
export { deleteMember, hasMember, isRemote, setMember } from "./core/netref/proxy.ts";
export { iterate, obtain, timed } from "./core/netref/helpers.ts";
export type { IterateOptions } from "./core/netref/iteration.ts";
export { type CallContext, currentCall } from "./core/session/dispatch.ts";
export type { CallOptions } from "./core/session/engine.ts";
export type {
  Remote,
  RemoteMember,
  RemotePromise,
  Resolved,
  Unprefixed,
} from "./core/netref/types.ts";
export type { ByteStreams, Transport } from "./core/wire/transport.ts";
export {
  AccessError,
  AuthenticationError,
  ConnectionClosedError,
  type ErrorClass,
  LimitError,
  ProtocolError,
  registerErrorClass,
  RemoteError,
  type RemoteErrorFields,
  TimeoutError,
} from "./core/errors.ts";
export { PROTOCOL_VERSION } from "./core/wire/messages.ts";
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
  type DiscoveryOptions,
  listServices,
} from "./core/registry/discovery.ts";
export { DiscoveryError } from "./core/registry/errors.ts";
export { REGISTRY_PORT, type RegistryMode, type ServerAddress } from "./core/registry/messages.ts";
export {
  type Registrar,
  type RegistrationOptions,
  REREGISTER_INTERVAL,
} from "./core/registry/registration.ts";
export * from "./core/sync/mod.ts";
export * as classic from "./core/classic/mod.ts";

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

export { connect, connectStream, connectTls, connectUnix } from "./core/connect.ts";
export type { Incoming, PeerCertificate, TlsClientOptions, TlsServerOptions } from "./core/tls.ts";
export { type Authenticator, tokenAuthenticator } from "./core/auth.ts";
export {
  type Connection,
  type ConnectionOptions,
  type ConnectionStats,
  defaultLogger,
  type Limits,
  type Logger,
  type RootObject,
} from "./core/options.ts";
export { serve, type ServeOptions, type Server } from "./core/server.ts";
export type { ListenOptions } from "./core/listening.ts";
export { type IsolatedServeOptions, type IsolatedServer, serveIsolated } from "./core/isolated.ts";
export {
  connectSubprocess,
  serveStdio,
  type SubprocessConnection,
  type SubprocessOptions,
} from "./core/stdio.ts";
export { Service, type ServiceConnection, type ServiceLike, VoidService } from "./core/service.ts";
export { exposed, PERMISSIVE, type Policy, Restricted, restricted } from "./core/policy.ts";
export { ByReference, ByValue, byValue, ref } from "./core/markers.ts";
export { deleteMember, hasMember, isRemote, setMember } from "./core/proxy.ts";
export { obtain, timed } from "./core/helpers.ts";
export { type CallContext, currentCall } from "./core/dispatch.ts";
export type { CallOptions } from "./core/question.ts";
export type { Remote, RemoteMember, RemotePromise, Resolved, Unprefixed } from "./core/types.ts";
export type { ByteStreams, Transport } from "./core/transport.ts";
export {
  AccessError,
  AuthenticationError,
  ConnectionClosedError,
  type ErrorClass,
  ProtocolError,
  registerErrorClass,
  RemoteError,
  type RemoteErrorFields,
  TimeoutError,
} from "./core/errors.ts";
export { PROTOCOL_VERSION } from "./core/wire.ts";
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
export * as classic from "./core/classic/mod.ts";

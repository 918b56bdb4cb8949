/**
 * Everything `@rdc/rdc/python` offers, gathered: also importable as the
 * `python` namespace (`python.connect`, `python.classic.connect`,
 * `python.item`, …).
 *
 * @module
 */

export { connect, connectStream, connectTls, connectUnix } from "./connect.ts";
export { type PythonServeOptions, type PythonServer, serve, serviceNames } from "./serve.ts";
export { connectByService, type PythonConnectByServiceOptions } from "./discovery.ts";
export * as classic from "./classic.ts";
export type { PythonClassic, PythonSubprocess, PythonSubprocessOptions } from "./classic.ts";
export { PythonConnection } from "./connection.ts";
export type { PythonConnectOptions, PythonOptions } from "./options.ts";
export { type PythonStats, WireVersionError } from "./session.ts";
export type { PyChannelCounters } from "./channel.ts";
export type { WireVersion } from "./envelope.ts";
export { isPythonError, PythonError } from "./vinegar.ts";
export {
  bool,
  compare,
  type Comparison,
  contains,
  delItem,
  dir,
  eq,
  getattr,
  hash,
  item,
  len,
  obtain,
  op,
  type Operator,
  repr,
  setItem,
  str,
  typeName,
} from "./helpers.ts";
export {
  Complex,
  ELLIPSIS,
  float,
  Kwargs,
  kwargs,
  NOT_IMPLEMENTED,
  PyFloat,
  Slice,
  Tuple,
  tuple,
} from "./values.ts";
export { ByReference, ref } from "../wire/markers.ts";
export { ProtocolError, RemoteError } from "../errors.ts";
export type { TlsClientOptions, TlsServerOptions } from "../net/tls.ts";
export type { WebSocketListenOptions } from "../net/websocket.ts";
export type { ByteStreams } from "../wire/transport.ts";
export type { ListenOptions } from "../net/listening.ts";
export type { CallOptions } from "../session/engine.ts";
export type { Policy } from "../session/policy.ts";
export type { Logger } from "../log.ts";
export { RegistryClient, type RegistryClientOptions } from "../registry/client.ts";
export type { Registrar, RegistrationOptions } from "../registry/registration.ts";
export type { RegistryMode, ServerAddress } from "../registry/messages.ts";
export { DiscoveryError } from "../registry/errors.ts";
export type { DiscoveryOptions } from "../registry/discovery.ts";
export { DEFAULT_SERVER_LIMITS, type ServerLimits } from "../wire/limits.ts";
export type { ServiceDirectory } from "../registry/directory.ts";
export type { Secret } from "../registry/signature.ts";

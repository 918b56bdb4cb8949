/**
 * rdc in the browser (`@rdc/rdc/web`): the client side of the core for a
 * web page or a Worker (a browser's, or Deno's), with nothing that needs
 * Deno or Node. Remote objects, pipelining, callbacks, services, errors and
 * timeouts are those of `@rdc/rdc`; the carriers are the web's: a WebSocket
 * to a Deno server, a `MessagePort`, a `Worker`. Servers, TCP, TLS options,
 * subprocesses, the registry, the synchronous and classic modes stay in
 * `@rdc/rdc`.
 *
 * Bundle it for a page with `deno bundle --platform browser`.
 *
 * ```ts ignore
 * import { connectWebSocket } from "@rdc/rdc/web";
 *
 * // A Deno server answers /rdc with serveWebSocket (or serve({ ws })).
 * await using conn = await connectWebSocket("/rdc");
 * console.log(await conn.root.add(1, 2)); // 3
 * ```
 *
 * @module
 */

export { connectWebSocket } from "./core/net/web_connect.ts";
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
  type Connection,
  type ConnectionOptions,
  type ConnectionStats,
  type RootObject,
} from "./core/session/connection.ts";
export { defaultLogger, type Logger } from "./core/log.ts";
export { DEFAULT_LIMITS, type Limits, type ResolvedLimits } from "./core/wire/limits.ts";
export {
  Service,
  type ServiceConnection,
  type ServiceLike,
  VoidService,
} from "./core/session/service.ts";
export { exposed, PERMISSIVE, type Policy, Restricted, restricted } from "./core/session/policy.ts";
export { ByReference, ByValue, byValue, ref } from "./core/wire/markers.ts";
export type { CopyFilter } from "./core/wire/values.ts";
export { deleteMember, hasMember, isRemote, setMember } from "./core/netref/proxy.ts";
export { obtain, timed } from "./core/netref/helpers.ts";
export { type CallContext, currentCall } from "./core/session/dispatch.ts";
export type { CallOptions } from "./core/session/engine.ts";
export type {
  Remote,
  RemoteMember,
  RemotePromise,
  Resolved,
  Unprefixed,
} from "./core/netref/types.ts";
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

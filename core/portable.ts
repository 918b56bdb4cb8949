/**
 * The API that needs neither Deno nor Node: what both package entries
 * export (mod.ts and web.ts re-export all of it). Connections over message
 * carriers, the connection's face and options, services and policies,
 * netrefs and their helpers, errors, limits. Whatever is added here reaches
 * the browser too, and tests/browser_test.ts checks that it still needs
 * nothing of Deno's.
 *
 * @module
 */

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
} from "./net/message_port.ts";
export type { MessageEndpoint } from "./wire/message_channel.ts";
export type { BeforeClose } from "./session/before_close.ts";
export {
  type Connection,
  type ConnectionOptions,
  type ConnectionStats,
  type RootObject,
} from "./session/connection.ts";
export { defaultLogger, type Logger } from "./log.ts";
export { DEFAULT_LIMITS, type Limits, type ResolvedLimits } from "./wire/limits.ts";
export {
  Service,
  type ServiceConnection,
  type ServiceFactory,
  type ServiceLike,
  VoidService,
} from "./session/service.ts";
export { exposed, PERMISSIVE, type Policy, Restricted, restricted } from "./session/policy.ts";
export { ByReference, ByValue, byValue, ref } from "./wire/markers.ts";
export type { CopyFilter } from "./wire/values.ts";
export { deleteMember, hasMember, isRemote, setMember } from "./netref/proxy.ts";
export { dispose, obtain, timed } from "./netref/helpers.ts";
export { type CallContext, currentCall, type CurrentCallOptions } from "./session/dispatch.ts";
export type { CallOptions } from "./session/engine.ts";
export type {
  ExposedKeys,
  ExposedNames,
  Remote,
  RemoteMember,
  RemotePromise,
  Resolved,
  Unprefixed,
} from "./netref/types.ts";
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
} from "./errors.ts";
export { PROTOCOL_VERSION } from "./wire/messages.ts";

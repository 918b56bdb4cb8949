/**
 * The errors rdc raises, and the registry that lets error classes keep
 * `instanceof` across a connection.
 *
 * @module
 */

import { captureStack } from "./platform.ts";

const REMOTE_BRAND: unique symbol = Symbol("rdc.remoteError");

/**
 * A value thrown on the other end of a connection, as seen here.
 *
 * It carries the remote `name`, `message`, `cause` and own properties, and the
 * remote stack in {@linkcode RemoteError.remoteStack}; `stack` shows the remote
 * frames followed by the local ones. When the remote class was registered on
 * both ends with {@linkcode registerErrorClass} (or is one of JavaScript's
 * built-in error classes), the error is also an instance of that class:
 * `err instanceof TypeError && err instanceof RemoteError` both hold.
 */
export class RemoteError extends Error {
  /** The stack as the remote end printed it. */
  declare remoteStack: string;

  /**
   * Creates a remote error by hand; the connection builds them with
   * {@linkcode RemoteError.from}.
   */
  constructor(name: string, message: string, remoteStack = "", options?: ErrorOptions) {
    super(message, options);
    brand(this, name, remoteStack);
  }

  /** True for every error that crossed a connection, whatever its prototype. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && REMOTE_BRAND in value;
  }

  /**
   * Builds the local view of a remote error: an object whose prototype is the
   * registered class for `className` (or `name`), else `RemoteError`'s.
   */
  static from(fields: RemoteErrorFields): Error {
    const cls = errorClasses.get(fields.className) ?? errorClasses.get(fields.name);
    // A native error of the class, made without running its constructor (which may
    // want arguments or do things): what inspectors and REPLs print as an error.
    const error: Error = cls
      ? Reflect.construct(Error, [fields.message], cls)
      : new RemoteError(fields.name, fields.message, fields.stack);
    if (cls) {
      captureStack(error, RemoteError.from);
      brand(error, fields.name, fields.stack);
    }
    completeRemoteError(error, fields.hasCause, fields.cause, fields.props);
    return error;
  }
}

/**
 * Gives a remote error its `cause` and own properties. Separate from
 * {@linkcode RemoteError.from} so that a cause may refer back to the error.
 */
export function completeRemoteError(
  error: Error,
  hasCause: boolean,
  cause: unknown,
  props: Record<string, unknown>,
): void {
  if (hasCause) {
    Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true });
  }
  for (const [key, value] of Object.entries(props)) {
    if (RESERVED_ERROR_KEYS.has(key)) continue;
    if (key === "errors" && Array.isArray(value)) {
      // As an AggregateError holds it: own, not enumerable.
      Object.defineProperty(error, key, { value, writable: true, configurable: true });
    } else {
      (error as unknown as Record<string, unknown>)[key] = value;
    }
  }
}

/** What travels for a thrown `Error`; see core/PROTOCOL.md, "Error". */
export interface RemoteErrorFields {
  /** The constructor's name, used to find a registered class. */
  className: string;
  /** The error's `name` property. */
  name: string;
  /** The error's `message`. */
  message: string;
  /** The remote `stack` string. */
  stack: string;
  /** Whether the error had an own `cause`. */
  hasCause: boolean;
  /** The unboxed `cause`, when `hasCause`. */
  cause: unknown;
  /**
   * Own enumerable properties other than name, message, stack and cause,
   * and an `AggregateError`'s `errors`.
   */
  props: Record<string, unknown>;
}

const RESERVED_ERROR_KEYS = new Set(["name", "message", "stack", "cause", "remoteStack"]);

function brand(error: Error, name: string, remoteStack: string): void {
  Object.defineProperty(error, REMOTE_BRAND, { value: true });
  Object.defineProperty(error, "remoteStack", {
    value: remoteStack,
    writable: true,
    configurable: true,
  });
  if (error.name !== name) {
    Object.defineProperty(error, "name", { value: name, writable: true, configurable: true });
  }
  setStack(error, error.stack ?? "");
}

const frames = (stack: string): string[] =>
  stack.split("\n").filter((l) => l.startsWith("    at "));

/** `stack` = the header, the remote frames, a marker, then the frames of `localStack`. */
function setStack(error: Error, localStack: string): void {
  error.stack = [
    `${error.name}: ${error.message}`,
    ...frames((error as RemoteError).remoteStack ?? ""),
    "    at <rdc: remote call>",
    ...frames(localStack),
  ].join("\n");
}

/**
 * Gives a remote error the local stack of the code awaiting it. Called in a
 * reaction of the promise the caller awaits, where V8's async stack traces
 * reach the caller's `async` frames (the read loop that built the error does
 * not). Rethrows `error`; anything that is not a remote error passes unchanged.
 */
export function rethrowWithCallerStack(error: unknown): never {
  if (error instanceof Error && REMOTE_BRAND in error) {
    const here: { stack?: string } = {};
    captureStack(here, rethrowWithCallerStack);
    setStack(error, here.stack ?? "");
  }
  throw error;
}

/** Any error class (a constructor of `Error`s). */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

const errorClasses = new Map<string, ErrorClass>();
for (
  const cls of [
    Error,
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
    AggregateError,
  ]
) {
  errorClasses.set(cls.name, cls);
}

/**
 * Registers an error class so that errors of that class thrown remotely
 * arrive as instances of it. Register it on both ends, under the same name
 * (default: the class name). Registering the same class twice is harmless.
 *
 * @example
 * ```ts
 * import { registerErrorClass } from "@rdc/rdc";
 * class QuotaError extends Error {}
 * registerErrorClass(QuotaError);
 * ```
 */
export function registerErrorClass(cls: ErrorClass, name: string = cls.name): void {
  errorClasses.set(name, cls);
}

/**
 * A call that did not finish within its timeout. The connection stays usable;
 * the callee was told to abandon the call (its `AbortSignal` fired).
 */
export class TimeoutError extends Error {
  /** Creates a timeout error naming what timed out and after how long. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * The connection closed (by either end, or because the transport failed)
 * before the operation could complete. `cause` holds the reason, when known.
 */
export class ConnectionClosedError extends Error {
  /** Creates the error; `cause` is why the connection closed. */
  constructor(message = "connection closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * The peer broke the protocol: a bad handshake, a malformed or oversize frame,
 * an unknown reference, a breached limit. The connection that saw it is closed;
 * other connections are unaffected.
 */
export class ProtocolError extends Error {
  /** Creates a protocol error; the message names what was wrong. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

const peerFaults = new WeakSet<Error>();

/**
 * A {@linkcode ProtocolError} raised by rdc itself because the peer broke the
 * protocol (as opposed to one that user code threw): the connection that saw
 * it is closed.
 */
export function peerFault(message: string, options?: ErrorOptions): ProtocolError {
  const error = new ProtocolError(message, options);
  peerFaults.add(error);
  return error;
}

/** Whether `error` came from {@linkcode peerFault}. */
export function isPeerFault(error: unknown): error is ProtocolError {
  return error instanceof Error && peerFaults.has(error);
}

/**
 * A remote attribute access that the callee's security policy refused
 * (RPyC's `AttributeError: cannot access 'name'`). Travels as a remote error
 * named `AccessError`.
 */
export class AccessError extends Error {
  /** Creates the error for the refused member name. */
  constructor(message: string) {
    super(message);
    this.name = "AccessError";
  }
}
registerErrorClass(AccessError);

/**
 * A limit stopped one operation, and only that one: a value larger than the
 * peer accepts (its `maxMessageSize`, `maxElements`, `maxDepth`,
 * `maxBigIntBytes`), or a budget that is full (pending requests, exports,
 * imports). Nothing was sent, or the peer refused the request; the
 * connection stays open. Travels as a remote error named `LimitError`.
 */
export class LimitError extends Error {
  /** Creates the error; the message names the limit and the figures. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LimitError";
  }
}
registerErrorClass(LimitError);
registerErrorClass(TimeoutError);
registerErrorClass(ConnectionClosedError);
registerErrorClass(ProtocolError);

/** An authenticator refused a connection, or a server refused ours. */
export class AuthenticationError extends Error {
  /** `message` says what was refused and why. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthenticationError";
  }
}

/**
 * `error` with `context` in front of its message (`cannot connect to
 * host:1: Connection refused`), as an error of the same class so that
 * `instanceof Deno.errors.ConnectionRefused` still holds. Non-errors pass as
 * they are.
 */
export function withContext(error: unknown, context: string): unknown {
  if (!(error instanceof Error)) return error;
  const Same = error.constructor as new (message: string, options?: ErrorOptions) => Error;
  return new Same(`${context}: ${error.message}`, { cause: error });
}

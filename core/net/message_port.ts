/**
 * Connections over message carriers: any `MessagePort`, a `Worker` and the
 * worker's side of it, and a connection in the same process. Messages travel
 * whole, by structured clone, with their large byte arrays transferred
 * (`wire/message_channel.ts`); everything above the channel (services,
 * policies, callbacks, pipelining, timeouts) is as over TCP.
 *
 * A carrier does not tell when its far end goes away, so each end says so:
 * an end that closes posts an end marker (see core/PROTOCOL.md, "Messages
 * (message carriers)"). Beyond that, what each function watches is in its
 * documentation: a `Worker`'s `error` event, its `terminate()`, and on the
 * worker's side its `close()` and `unload`.
 *
 * @module
 */

import { defaultLogger } from "../log.ts";
import { ConnectionClosedError } from "../errors.ts";
import type { Connection, ConnectionOptions } from "../session/connection.ts";
import type { ServiceLike } from "../session/service.ts";
import { Budget } from "../wire/budget.ts";
import { type ResolvedLimits, resolveLimits } from "../wire/limits.ts";
import { type MessageEndpoint, PostMessageChannel } from "../wire/message_channel.ts";
import { startSession } from "./start.ts";

/** A `MessagePort`, or anything with its methods: `close()` is called when the connection ends. */
export interface MessagePortLike extends MessageEndpoint {
  /** Closes the port; called once when the connection closes. */
  close?(): void;
}

/** Options of the connections over a message carrier: a connection's, but no `token`. */
export interface MessagePortOptions extends Omit<ConnectionOptions, "token"> {
  /** What the carrier leads to, for logs and errors. Default: `message port`, `worker`, `parent`. */
  description?: string;
}

/** Options of {@linkcode connectWorker}. */
export interface WorkerConnectionOptions extends MessagePortOptions {
  /**
   * Terminate the worker when the connection closes, from either end.
   * Default true: the connection owns the worker (a live worker keeps the
   * process running). With false, the worker is left as it is.
   */
  terminate?: boolean;
}

/** Options of {@linkcode connectInProcess}. */
export interface InProcessOptions extends MessagePortOptions {
  /** Options of the serving end (its policy, limits, logger, …). Default: none. */
  serverOptions?: Omit<MessagePortOptions, "service">;
}

/**
 * Opens a connection over `endpoint`; `onClose` runs once when its channel
 * closes (or at once, if the options are refused).
 */
async function connectCarrier(
  endpoint: MessageEndpoint,
  options: MessagePortOptions,
  description: string,
  onClose: () => void,
  watch?: (channel: PostMessageChannel) => void,
): Promise<Connection> {
  let limits: ResolvedLimits;
  try {
    limits = resolveLimits(options);
  } catch (error) {
    onClose();
    throw error;
  }
  const inbound = new Budget(limits.maxInboundBytes, "bytes held for messages from this peer");
  const channel = new PostMessageChannel(endpoint, { inbound, description, onClose });
  watch?.(channel);
  return await startSession(channel, limits, options);
}

/**
 * Runs rdc over a `MessagePort` (or any object with its `postMessage`,
 * `addEventListener`, `removeEventListener` and optional `start` and
 * `close`): one end of a `MessageChannel`, a `BroadcastChannel`-like bridge,
 * a port sent to a worker. The other end runs {@linkcode serveMessagePort}
 * or `connectMessagePort` itself (both ends are peers). The port belongs to
 * the connection from now on: it is closed when the connection closes.
 *
 * Detected: an orderly close of the other end (its end marker), a message
 * that cannot be deserialized (`messageerror`). A port whose far end dies
 * without closing (a worker that held it is terminated) says nothing: calls
 * then fail by their timeout.
 *
 * @throws {ProtocolError} when the other end is not an rdc peer or breaks the protocol.
 * @throws {RangeError} for limits out of range (the port is closed).
 * @example
 * ```ts
 * import { connectMessagePort, serveMessagePort, Service } from "@rdc/rdc";
 * class Greeter extends Service {
 *   exposed_hello(name: string): string {
 *     return `hello, ${name}`;
 *   }
 * }
 * const { port1, port2 } = new MessageChannel();
 * const serving = serveMessagePort(port2, Greeter);
 * await using conn = await connectMessagePort(port1);
 * console.log(await conn.root.hello("port")); // hello, port
 * await serving;
 * ```
 */
export async function connectMessagePort(
  port: MessagePortLike,
  options: MessagePortOptions = {},
): Promise<Connection> {
  return await connectCarrier(
    port,
    options,
    options.description ?? "message port",
    () => port.close?.(),
  );
}

/**
 * Serves `service` over a `MessagePort` (see {@linkcode connectMessagePort}):
 * resolves with the serving end's connection once the handshake is done.
 *
 * @throws as {@linkcode connectMessagePort}.
 */
export async function serveMessagePort(
  port: MessagePortLike,
  service: ServiceLike,
  options: Omit<MessagePortOptions, "service"> = {},
): Promise<Connection> {
  return await connectMessagePort(port, { ...options, service });
}

/**
 * Connects to a module `Worker` whose module serves with
 * {@linkcode serveParent}: rdc between this thread and the worker, messages
 * posted whole and large byte arrays transferred. The worker is dedicated to
 * the connection: its messages are all rdc's.
 *
 * What ends the connection, and pending calls then reject with
 * `ConnectionClosedError` at once:
 * - either end's `close()` (an end marker is posted);
 * - an uncaught error or unhandled rejection in the worker, and a worker
 *   module that fails to load: the worker's `error` event, which the
 *   connection handles (`preventDefault`, so the error does not end this
 *   process too) while it is open;
 * - `worker.terminate()`, which the connection watches while it is open;
 * - the worker calling `close()` or `Deno.exit()` (its side posts the end marker).
 *
 * Unless `terminate: false`, the worker is terminated when the connection
 * closes, from either end (a live worker keeps the process running).
 *
 * @throws {ProtocolError} when the worker does not serve rdc within `handshakeTimeout`.
 * @throws {ConnectionClosedError} when the worker fails before the handshake.
 * @example
 * ```ts ignore
 * import { connectWorker } from "@rdc/rdc";
 * const worker = new Worker(new URL("./worker_service.ts", import.meta.url), { type: "module" });
 * await using conn = await connectWorker(worker);
 * console.log(await conn.root.fib(30));
 * ```
 */
export async function connectWorker(
  worker: Worker,
  options: WorkerConnectionOptions = {},
): Promise<Connection> {
  const own = Object.getOwnPropertyDescriptor(worker, "terminate");
  const terminateWorker = worker.terminate.bind(worker);
  let channel: PostMessageChannel | null = null;
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    channel?.fail(new ConnectionClosedError(`the worker failed: ${event.message}`));
  };
  worker.addEventListener("error", onError);
  return await connectCarrier(
    worker,
    options,
    options.description ?? "worker",
    () => {
      worker.removeEventListener("error", onError);
      if (own) Object.defineProperty(worker, "terminate", own);
      else delete (worker as { terminate?: unknown }).terminate;
      if (options.terminate ?? true) terminateWorker();
    },
    (opened) => {
      channel = opened;
      // Terminating posts nothing and fires nothing: watch the method itself.
      worker.terminate = () => {
        terminateWorker();
        opened.fail(new ConnectionClosedError("the worker was terminated"));
      };
    },
  );
}

/** The parts of a worker's global scope that {@linkcode serveParent} uses. */
interface WorkerScope extends MessageEndpoint {
  close(): void;
}

/**
 * Serves `service` to the thread that started this worker (call it in the
 * module of a `new Worker(url, { type: "module" })`); the parent connects
 * with {@linkcode connectWorker}. Resolves with this end's connection once
 * the handshake is done.
 *
 * The worker's `close()` and `Deno.exit()` tell the parent (the end marker
 * is posted first), so its pending calls fail at once.
 *
 * @throws {TypeError} outside a worker.
 * @throws {ProtocolError} when the parent does not connect within `handshakeTimeout`.
 * @example
 * ```ts ignore
 * // worker_service.ts
 * import { serveParent, Service } from "@rdc/rdc";
 * class MathService extends Service {
 *   exposed_fib(n: number): number {
 *     return n < 2 ? n : this.exposed_fib(n - 1) + this.exposed_fib(n - 2);
 *   }
 * }
 * await serveParent(MathService);
 * ```
 */
export async function serveParent(
  service: ServiceLike,
  options: Omit<MessagePortOptions, "service"> = {},
): Promise<Connection> {
  const scope = globalThis as unknown as WorkerScope;
  if (typeof scope.postMessage !== "function" || typeof scope.close !== "function") {
    throw new TypeError(
      "serveParent runs inside a Worker: start one with " +
        'new Worker(new URL("./module.ts", import.meta.url), { type: "module" })',
    );
  }
  const own = Object.getOwnPropertyDescriptor(scope, "close");
  const closeWorker = scope.close.bind(scope);
  let channel: PostMessageChannel | null = null;
  const onUnload = () => channel?.close();
  globalThis.addEventListener("unload", onUnload);
  return await connectCarrier(
    scope,
    { ...options, service },
    options.description ?? "parent",
    () => {
      globalThis.removeEventListener("unload", onUnload);
      if (own) Object.defineProperty(scope, "close", own);
      else delete (scope as { close?: unknown }).close;
    },
    (opened) => {
      channel = opened;
      // Closing posts nothing and fires nothing: tell the parent first.
      scope.close = () => {
        opened.close();
        closeWorker();
      };
    },
  );
}

/**
 * A connection to `service` served in this same process (RPyC's
 * `connect_thread`), through a `MessageChannel`: the same isolation of
 * policies and references as a remote peer, no socket. Closing the
 * connection closes the serving end too. `serverOptions` configure the
 * serving end.
 *
 * @throws {RangeError} for limits out of range, on either end.
 * @example
 * ```ts
 * import { connectInProcess, Service } from "@rdc/rdc";
 * class CalculatorService extends Service {
 *   exposed_add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * await using conn = await connectInProcess(CalculatorService);
 * console.log(await conn.root.add(1, 2)); // 3
 * ```
 */
export async function connectInProcess(
  service: ServiceLike,
  options: InProcessOptions = {},
): Promise<Connection> {
  const { serverOptions = {}, ...clientOptions } = options;
  // Both ends' options are checked before either starts waiting for the other.
  resolveLimits(clientOptions);
  resolveLimits(serverOptions);
  const { port1, port2 } = new MessageChannel();
  const serving = serveMessagePort(port2, service, {
    description: "in-process client",
    ...serverOptions,
  });
  serving.catch((error) => {
    const logger = serverOptions.logger ?? defaultLogger;
    logger("warn", `in-process server: the connection failed: ${(error as Error).message}`);
  });
  return await connectMessagePort(port1, { description: "in-process server", ...clientOptions });
}

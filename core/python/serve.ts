/**
 * Serving Deno objects to Python clients: `python.serve(service, {port})`
 * answers Python's `rpyc.connect` (and `rpyc.classic.connect`, given a
 * classic root) on TCP, TLS or a unix socket. Each client's envelope (5.x
 * or 6.x) is read from its first frame.
 *
 * @module
 */

import { PySession } from "./session.ts";
import { PythonConnection } from "./connection.ts";
import { type PythonOptions, resolvePythonOptions } from "./options.ts";
import { Listening, type ListenOptions } from "../net/listening.ts";
import type { Incoming } from "../net/incoming.ts";
import { defaultLogger } from "../log.ts";
import { TOO_MANY_CONNECTIONS } from "../net/admission.ts";
import { Budget } from "../wire/budget.ts";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "../wire/limits.ts";
import { registrarOf, Registration, type RegistrationOptions } from "../registry/registration.ts";

/**
 * The names a service registers under: its class's static `aliases`, else
 * the class name without a `Service` suffix (RPyC's rule; registries compare
 * names case-insensitively).
 */
export function serviceNames(service: object | (new () => object)): string[] {
  const cls = (typeof service === "function" ? service : service.constructor) as {
    name: string;
    aliases?: string[];
  };
  if (cls.aliases && cls.aliases.length > 0) return [...cls.aliases];
  return [cls.name.replace(/Service$/, "") || cls.name];
}

/**
 * Options of {@linkcode serve}: where to listen, registration (with a
 * Python `rpyc_registry`, give a `RegistryClient` with `protocol: "rpyc"`),
 * and every connection option.
 */
export interface PythonServeOptions
  extends
    PythonOptions,
    Omit<ListenOptions, "ws">,
    RegistrationOptions,
    Pick<ServerLimits, "maxConnections" | "maxTotalInboundBytes"> {
  /** Milliseconds a TLS handshake may take. @default 10000 */
  handshakeTimeout?: number;
}

/** A running server for Python clients. `await using` closes it. */
export interface PythonServer extends AsyncDisposable {
  /** The address it listens on (`addr.port` when port 0 was asked for). */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /** Resolves once listening. */
  readonly ready: Promise<void>;
  /** The Python clients connected now. */
  readonly connections: ReadonlySet<PythonConnection>;
  /** Resolves once closed and every connection has ended. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes every connection, resolves once done. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `service` to Python clients. A class gets an instance per
 * connection (its `onConnect(conn)` and `onDisconnect(conn)` are called with
 * the {@linkcode PythonConnection}); an object is shared. Python reaches what
 * rdc's policy lets it: `exposed_` members (as RPyC), more with
 * `allowPublicAttrs` or `allowAllAttrs`. Calls into the Python client are
 * served when the client is in a request to Deno or runs a
 * `BgServingThread` (RPyC's serving model).
 *
 * @example
 * ```ts
 * import { python } from "@rdc/rdc/python";
 * class CalcService { exposed_add(a: number, b: number) { return a + b; } }
 * await using server = python.serve(CalcService, { port: 0 });
 * // Python: rpyc.connect("127.0.0.1", port).root.add(1, 2) == 3
 * ```
 * @throws {RangeError} for options that cannot work (`maxInboundBytes` below a frame).
 * @throws {TypeError} without a port or a path, as `serve` does.
 */
export function serve(
  service: object | (new () => object),
  options: PythonServeOptions,
): PythonServer {
  resolvePythonOptions(options); // Bad options fail here, not once per client.
  const logger = options.logger ?? defaultLogger;
  const connections = new Set<PythonConnection>();
  const registrar = registrarOf(options);
  const maxConnections = options.maxConnections ?? DEFAULT_SERVER_LIMITS.maxConnections;
  const inbound = new Budget(
    options.maxTotalInboundBytes ?? DEFAULT_SERVER_LIMITS.maxTotalInboundBytes,
    "bytes held for frames from this server's clients",
  );
  let registration: Registration | undefined;
  const listening = new Listening(
    options,
    "python.serve",
    logger,
    options.handshakeTimeout ?? 10_000,
    async () => {
      await Promise.all([
        registration?.stop(),
        ...[...connections].map((c) => c.close("the server is closing")),
      ]);
    },
  );
  listening.ready.then(() => {
    if (!registrar || listening.closing) return;
    const { port } = listening.addr as Deno.NetAddr;
    registration = new Registration(registrar, serviceNames(service), port, options, logger);
  }, () => {});
  const handle = async (incoming: Incoming): Promise<void> => {
    if (connections.size >= maxConnections) {
      logger("warn", `refused ${incoming.peer}: ${TOO_MANY_CONNECTIONS} (${maxConnections})`);
      incoming.transport.close();
      return;
    }
    const session = new PySession(incoming.transport, "detect", { ...options, service }, inbound);
    const connection = new PythonConnection(session);
    connections.add(connection);
    session.start();
    try {
      const hook = (session.rootObject as { onConnect?: (c: PythonConnection) => unknown })
        .onConnect;
      if (typeof hook === "function") await hook.call(session.rootObject, connection);
    } catch (error) {
      logger("warn", `onConnect failed for ${incoming.peer}: ${error}`);
      await connection.close("onConnect failed");
    }
    await session.finished;
    connections.delete(connection);
  };
  listening.accept(handle, logger);
  const close = () => listening.close();
  return {
    addr: listening.addr,
    ready: listening.ready,
    connections,
    finished: listening.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

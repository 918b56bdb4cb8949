/**
 * The registry server (RPyC's `UDPRegistryServer` and `TCPRegistryServer`):
 * servers register their service names with it, clients ask it who serves a
 * name. core/registry/PROTOCOL.md specifies what it answers.
 *
 * @module
 */

import { defaultLogger, type Logger } from "../log.ts";
import type { Endpoint, RequestHandler } from "./endpoint.ts";
import { registryHandler } from "./handler.ts";
import { checkMode, REGISTRY_PORT, type RegistryMode } from "./messages.ts";
import { type Secret, SignatureCheck } from "./signature.ts";
import { listenTcp } from "./tcp_endpoint.ts";
import { listenUdp } from "./udp_endpoint.ts";

/** RPyC's pruning timeout: a server that has not registered for this long is dropped. */
export const DEFAULT_PRUNING_TIMEOUT = 240_000;

/** Options of {@linkcode serveRegistry}. */
export interface RegistryServerOptions {
  /** `"UDP"` (datagrams; clients may broadcast) or `"TCP"`. Default `"UDP"`. */
  mode?: RegistryMode;
  /**
   * Address to listen on. Default `"127.0.0.1"`, which serves this machine
   * only. To serve a network, and to hear UDP broadcasts, listen on
   * `"0.0.0.0"`: anyone who reaches it can then register servers and query.
   */
  hostname?: string;
  /** Port to listen on; 0 picks a free one (see `addr`). Default 18811. */
  port?: number;
  /** Milliseconds after which a server that has not registered again is dropped. Default 240 000. */
  pruningTimeout?: number;
  /** Whether `LIST` is answered (it tells anyone every service name). Default false. */
  allowListing?: boolean;
  /**
   * A shared secret: when set, only REGISTER and UNREGISTER requests signed
   * with it (a {@linkcode RegistryClient} given the same `secret`) are
   * accepted. Queries stay open to all. Default: none (anyone who reaches
   * the registry may register and unregister, as with RPyC's).
   */
  secret?: Secret;
  /**
   * The most servers (ports) one source address may have registered.
   * @default {32}
   */
  maxServersPerSource?: number;
  /**
   * The most service names one source address's servers may hold together.
   * @default {128}
   */
  maxNamesPerSource?: number;
  /** Where log lines go: registrations at info, ignored requests at warn. Default: stderr. */
  logger?: Logger;
  /** Aborting it closes the registry. */
  signal?: AbortSignal;
}

/** The default of {@linkcode RegistryServerOptions.maxServersPerSource}. */
const MAX_SERVERS_PER_SOURCE = 32;
/** The default of {@linkcode RegistryServerOptions.maxNamesPerSource}. */
const MAX_NAMES_PER_SOURCE = 128;
/** How many times a UDP registry on port 0 tries for a port free for TCP too. */
const PORT_ATTEMPTS = 5;

/** A running registry; `close()` stops it. */
export interface RegistryServer extends AsyncDisposable {
  /** How it is reached. */
  readonly mode: RegistryMode;
  /** Where it listens (`port` filled in when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Resolves once it has closed. */
  readonly finished: Promise<void>;
  /** Stops listening. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a registry.
 *
 * Malformed requests are ignored (no reply) and logged, at most a line a
 * second however many arrive. A UDP registry also answers over TCP on the
 * same port: a client whose reply did not fit a datagram (see
 * core/registry/PROTOCOL.md, "Abuse") asks again there.
 *
 * @throws {TypeError} for an unknown mode or a pruning timeout that is not positive;
 * the runtime's error, naming the address, when listening fails.
 * @example
 * ```ts
 * import { serveRegistry } from "@rdc/rdc";
 * await using registry = await serveRegistry({ mode: "UDP", port: 0, allowListing: true });
 * console.log("registry on", registry.addr);
 * ```
 */
export async function serveRegistry(options: RegistryServerOptions = {}): Promise<RegistryServer> {
  const mode = checkMode(options.mode ?? "UDP");
  const pruningTimeout = options.pruningTimeout ?? DEFAULT_PRUNING_TIMEOUT;
  if (!(pruningTimeout > 0)) {
    throw new TypeError(`the pruning timeout must be positive, got ${pruningTimeout}`);
  }
  const logger = options.logger ?? defaultLogger;
  const handler = registryHandler({
    pruningTimeout,
    allowListing: options.allowListing ?? false,
    signatures: options.secret === undefined ? undefined : new SignatureCheck(options.secret),
    limits: {
      servers: options.maxServersPerSource ?? MAX_SERVERS_PER_SOURCE,
      names: options.maxNamesPerSource ?? MAX_NAMES_PER_SOURCE,
    },
    logger,
  });
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? REGISTRY_PORT;
  const endpoint = await listen(mode, hostname, port, handler, logger);
  const finished = Promise.withResolvers<void>();
  let closing: Promise<void> | undefined;
  const close = () => {
    options.signal?.removeEventListener("abort", close);
    closing ??= endpoint.close().finally(finished.resolve);
    return closing;
  };
  options.signal?.addEventListener("abort", close, { once: true });
  if (options.signal?.aborted) void close();
  return {
    mode,
    addr: endpoint.addr,
    finished: finished.promise,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Starts the endpoint of `mode`. */
async function listen(
  mode: RegistryMode,
  hostname: string,
  port: number,
  handler: RequestHandler,
  logger: Logger,
): Promise<Endpoint> {
  switch (mode) {
    case "UDP":
      for (let attempt = 1;; attempt++) {
        const udp = await listenUdp(hostname, port, handler, logger);
        try {
          const tcp = listenTcp(hostname, udp.addr.port, handler, logger);
          return {
            addr: udp.addr,
            close: async () => void await Promise.all([udp, tcp].map((e) => e.close())),
          };
        } catch (error) {
          await udp.close();
          // Port 0 gave a UDP port whose TCP twin is taken: draw another.
          if (port !== 0 || attempt === PORT_ATTEMPTS) throw error;
        }
      }
    case "TCP":
      return listenTcp(hostname, port, handler, logger);
    default:
      mode satisfies never;
      throw new TypeError(`unknown registry mode '${mode}'`);
  }
}

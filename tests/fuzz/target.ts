/**
 * The server under test and its honest client, started and stopped as one
 * {@linkcode Target}: replaced as a whole after a failure.
 *
 * @module
 */

import { connect, type Connection, type Logger, serve, type Server } from "../../mod.ts";
import { CHECK_TIMEOUT_MS } from "./checks.ts";
import { FUZZ_INBOUND_BUDGET, FUZZ_LIMITS, FUZZ_PENDING_BUDGET } from "./limits.ts";
import { countingLogger } from "./log.ts";
import { fuzzService, ServiceProbe } from "./service.ts";

/** Milliseconds closing the server may take at the end (or before a restart). */
const CLOSE_TIMEOUT_MS = 10_000;

/** The server under test and its honest client: replaced as a whole after a failure. */
export class Target {
  /** What the service counts. */
  readonly probe: ServiceProbe;
  readonly server: Server;
  readonly client: Connection;
  readonly port: number;
  /** The server's side of the honest client's connection. */
  readonly honest: readonly Connection[];
  /** The server closed by itself. */
  closed = false;

  private constructor(probe: ServiceProbe, server: Server, client: Connection) {
    this.probe = probe;
    this.server = server;
    this.client = client;
    this.port = (server.addr as Deno.NetAddr).port;
    this.honest = [...server.connections];
    server.finished.then(() => this.closed = true);
  }

  /** Serves the fuzz service on a free loopback port, and connects the honest client. */
  static async start(log: Logger): Promise<Target> {
    const probe = new ServiceProbe();
    const server = serve(fuzzService(probe), {
      ...FUZZ_LIMITS,
      maxTotalInboundBytes: FUZZ_INBOUND_BUDGET,
      maxTotalPendingRequests: FUZZ_PENDING_BUDGET,
      hostname: "127.0.0.1",
      port: 0,
      logger: log,
    });
    await server.ready;
    const port = (server.addr as Deno.NetAddr).port;
    const client = await connect("127.0.0.1", port, {
      logger: countingLogger(),
      timeout: CHECK_TIMEOUT_MS + 5_000,
    });
    // The server counts a connection once its side of the handshake is done: wait for it.
    for (let waited = 0; server.connections.size === 0 && waited < 5_000; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return new Target(probe, server, client);
  }

  /** Closes the client and the server; returns what went wrong, if anything. */
  async stop(): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closing = (async () => {
      await this.client.close();
      await this.server.close();
      return null;
    })();
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`closing the server took more than ${CLOSE_TIMEOUT_MS} ms`),
        CLOSE_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([closing, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

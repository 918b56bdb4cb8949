/**
 * Shared test helpers: a server and a client over real loopback TCP, a
 * collecting logger, raw frame I/O for hostile-peer tests, polling, and
 * catching a rejection. The raw peer itself is in _raw_peer.ts.
 */

import assert from "node:assert/strict";
import { Encoder } from "@msgpack/msgpack";
import {
  connect,
  type Connection,
  type ConnectionOptions,
  type Logger,
  serve,
  type ServeOptions,
  type Server,
  Service,
} from "../mod.ts";

/** A server on a free loopback port and one client connected to it. */
export interface Pair extends AsyncDisposable {
  server: Server;
  client: Connection;
  port: number;
  /** The server side of the client's connection. */
  serverConn(): Connection;
}

/** Starts `service` on a free port and connects one client; dispose closes both. */
export async function pair(
  service: Service | (new () => Service),
  serverOptions: Omit<ServeOptions, "port"> = {},
  clientOptions: ConnectionOptions = {},
): Promise<Pair> {
  const server = serve(service, { logger: quietLogger(), ...serverOptions, port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const client = await connect("127.0.0.1", port, { logger: quietLogger(), ...clientOptions });
  await waitFor(() => server.connections.size > 0);
  return {
    server,
    client,
    port,
    serverConn: () => [...server.connections][0],
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

/** A logger that keeps lines for assertions instead of printing them. */
export function quietLogger(lines: string[] = []): Logger & { lines: string[] } {
  const logger = ((level: string, message: string) => {
    lines.push(`${level}: ${message}`);
  }) as Logger & { lines: string[] };
  logger.lines = lines;
  return logger;
}

/** Polls `predicate` every few milliseconds until it holds (fails after `timeoutMs`). */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Encodes one raw message as a whole frame (core/PROTOCOL.md, "Frames"): a
 * 4-byte big-endian length whose top bit (the chunk bit) is clear, then the
 * body. `shapeTable`, if given, is an encoded shape table that goes first in
 * the body (its keys are integers, which @msgpack/msgpack does not write).
 */
export function rawFrame(message: unknown, shapeTable?: Uint8Array): Uint8Array {
  const encoded = new Encoder().encode(message);
  const table = shapeTable ?? new Uint8Array(0);
  const length = table.length + encoded.length;
  if (length > 0x7fffffff) throw new RangeError(`a whole frame cannot hold ${length} bytes`);
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length);
  out.set(table, 4);
  out.set(encoded, 4 + table.length);
  return out;
}

/** Writes all of `bytes` to a raw socket. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Awaits `value` and returns what it rejected with; fails if it fulfilled. */
export async function rejection(value: unknown): Promise<unknown> {
  try {
    await value;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

/** A service class that records each connection's credentials and hands them out. */
function whoAmI(): { service: new () => Service; seen: unknown[] } {
  const seen: unknown[] = [];
  class WhoAmIService extends Service {
    #conn: Connection | undefined;
    override onConnect(conn: Connection): void {
      this.#conn = conn;
      seen.push(conn.credentials);
    }
    exposed_credentials(): unknown {
      return this.#conn!.credentials;
    }
    exposed_add(a: number, b: number): number {
      return a + b;
    }
  }
  return { service: WhoAmIService, seen };
}

/** A server of {@linkcode whoAmI} on a free loopback port, its log kept; listening once returned. */
export async function whoAmIServer(options: Partial<ServeOptions>): Promise<
  {
    server: Server;
    port: number;
    log: Logger & { lines: string[] };
    seen: unknown[];
  } & AsyncDisposable
> {
  const log = quietLogger();
  const { service, seen } = whoAmI();
  const server = serve(service, { port: 0, logger: log, ...options });
  await server.ready;
  return {
    server,
    port: (server.addr as Deno.NetAddr).port,
    log,
    seen,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** Waits until a log line matches `pattern`; returns it. */
export async function logged(log: { lines: string[] }, pattern: RegExp): Promise<string> {
  await waitFor(() => log.lines.some((line) => pattern.test(line)), 5_000, `a log line ${pattern}`)
    .catch(() => assert.fail(`no log line matches ${pattern}:\n${log.lines.join("\n")}`));
  return log.lines.find((line) => pattern.test(line))!;
}

/** Whether `file` exists. */
export function fileExists(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}

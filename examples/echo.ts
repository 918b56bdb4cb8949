/**
 * Echo: RPyC's "hello world". The server offers an `EchoService` whose one
 * exposed method sends back what it gets; the client calls it through
 * `conn.root`.
 *
 * Run it all in one process (a server on a free loopback port, then the client):
 *
 * ```sh
 * deno run --allow-net examples/echo.ts
 * ```
 *
 * Or in two terminals:
 *
 * ```sh
 * deno run --allow-net examples/echo.ts --serve 18861        # terminal 1 (0 = any free port)
 * deno run --allow-net examples/echo.ts --connect 127.0.0.1:18861 hi there   # terminal 2
 * ```
 *
 * @module
 */

import { connect, type Connection, serve, Service } from "../mod.ts";
import { parseCommandLine, serveUntilInterrupted } from "./_cli.ts";

/** The server's root object. Only `exposed_` members are reachable by clients. */
export class EchoService extends Service {
  override onConnect(): void {
    console.log("server: a client connected");
  }

  override onDisconnect(): void {
    console.log("server: the client went away");
  }

  /** Reached by clients as `conn.root.echo(...)`. */
  exposed_echo<T>(value: T): T {
    return value;
  }
}

/** The client side: a few echoes of different kinds of data. */
export async function runClient(conn: Connection, messages: string[]): Promise<void> {
  console.log(`client: connected to the ${conn.peerService} service (${conn.description})`);
  for (const text of messages) {
    console.log(
      `client: echo(${JSON.stringify(text)}) -> ${JSON.stringify(await conn.root.echo(text))}`,
    );
  }
  // Plain data travels by value, so what comes back is a copy with the same content.
  const record = { id: 7, tags: ["a", "b"], when: new Date(0) };
  const copy = await conn.root.echo(record);
  console.log(
    `client: echo(record) -> ${Deno.inspect(copy, { compact: true, breakLength: Infinity })}`,
  );
  console.log(`client: a copy, not the same object: ${copy !== record}`);
  console.log(`client: ping round trip ${(await conn.ping()).toFixed(2)} ms`);
}

const USAGE = "usage: echo.ts                           server and client in one process\n" +
  "       echo.ts --serve [port] [--host h] server only (port 0 picks a free one)\n" +
  "       echo.ts --connect host:port [text...]  client only";

async function main(): Promise<void> {
  const command = parseCommandLine(USAGE);
  if (command.mode === "serve") {
    const server = serve(EchoService, { hostname: command.hostname, port: command.port });
    await serveUntilInterrupted(server, "echo server");
    return;
  }

  const messages = command.args.length > 0 ? command.args : ["hello", "rdc"];
  if (command.mode === "connect") {
    await using conn = await connect(command.host, command.port);
    await runClient(conn, messages);
    return;
  }

  // Default: both ends in this process, over real loopback TCP.
  await using server = serve(EchoService, { port: 0 });
  const { port } = server.addr as Deno.NetAddr;
  {
    await using conn = await connect("127.0.0.1", port);
    await runClient(conn, messages);
  } // the connection closes here, before the server does
  await server.close();
  console.log("done");
}

if (import.meta.main) await main();

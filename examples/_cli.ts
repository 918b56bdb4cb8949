/**
 * The command line the examples share. Each example runs in one of three modes:
 *
 * ```sh
 * deno run --allow-net examples/echo.ts                          # "local": server and client in one process
 * deno run --allow-net examples/echo.ts --serve 18861            # "serve": server only (0 = any free port)
 * deno run --allow-net examples/echo.ts --connect 127.0.0.1:18861   # "connect": client only
 * ```
 *
 * `--host h` picks the address the server listens on (127.0.0.1 by default).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Server } from "../mod.ts";

/** The port `--serve` listens on when none is given. */
export const DEFAULT_PORT = 18861;

/** What the command line asked for. `args` are the words left over, for the example's own use. */
export type Command =
  | { mode: "local"; args: string[] }
  | { mode: "serve"; hostname: string; port: number; args: string[] }
  | { mode: "connect"; host: string; port: number; args: string[] };

/**
 * Reads `Deno.args`. With `usage`, `--help` (or `-h`) prints it and exits;
 * without, `--help` is an unknown option like any other.
 */
export function parseCommandLine(usage?: string): Command {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "boolean" }, // --serve [port]: the port is the first positional
      host: { type: "string", default: "127.0.0.1" },
      connect: { type: "string" }, // --connect host:port
      // --help exists only for an example that has a usage text to print
      ...(usage === undefined ? {} : { help: { type: "boolean", short: "h" } as const }),
    },
    allowPositionals: true,
  });
  if (usage !== undefined && values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  if (values.serve) {
    const [port, ...args] = positionals;
    return {
      mode: "serve",
      hostname: values.host,
      port: port === undefined ? DEFAULT_PORT : Number(port),
      args,
    };
  }
  if (values.connect) {
    return { mode: "connect", ...parseAddress(values.connect), args: positionals };
  }
  return { mode: "local", args: positionals };
}

/** Parses "host:port" or "[::1]:port". */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) throw new Error(`expected host:port, got '${address}'`);
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * Runs `server` until it closes: prints "`name` listening on host:port" (scripts
 * and tests/examples_test.ts read the port from that line), and lets Ctrl-C
 * close it cleanly, so each connection's `onDisconnect` runs.
 */
export async function serveUntilInterrupted(server: Server, name: string): Promise<void> {
  const { hostname, port } = server.addr as Deno.NetAddr;
  console.log(`${name} listening on ${hostname}:${port}`);
  const stop = () => void server.close();
  Deno.addSignalListener("SIGINT", stop);
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop); // a listener would keep the process alive
  console.log("server: closed");
}

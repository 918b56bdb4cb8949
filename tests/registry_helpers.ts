/**
 * Helpers for the registry's tests: a registry on a free loopback port with
 * a client that talks to it directly (tests never broadcast), and a port
 * nothing listens on.
 */

import dgram from "node:dgram";
import {
  RegistryClient,
  type RegistryMode,
  type RegistryServer,
  type RegistryServerOptions,
  serveRegistry,
} from "../mod.ts";
import { quietLogger } from "./_helpers.ts";

/** Both registry modes, for tests that run under each. */
export const MODES: readonly RegistryMode[] = ["UDP", "TCP"];

/** A registry on loopback, a client of it, and the registry's log lines. */
export interface TestRegistry extends AsyncDisposable {
  registry: RegistryServer;
  client: RegistryClient;
  port: number;
  lines: string[];
}

/** Starts a `mode` registry on a free loopback port; dispose closes it. */
export async function startRegistry(
  mode: RegistryMode,
  options: Omit<RegistryServerOptions, "mode" | "port"> = {},
): Promise<TestRegistry> {
  const logger = quietLogger();
  const registry = await serveRegistry({ logger, ...options, mode, port: 0 });
  const port = registry.addr.port;
  return {
    registry,
    client: registryClient(mode, port),
    port,
    lines: logger.lines,
    [Symbol.asyncDispose]: () => registry.close(),
  };
}

/** A client of the `mode` registry on 127.0.0.1:`port`, with a short timeout. */
export function registryClient(mode: RegistryMode, port: number): RegistryClient {
  return new RegistryClient({ mode, host: "127.0.0.1", port, timeout: 500 });
}

/**
 * A loopback port that was free a moment ago for `mode`'s transport (for
 * UDP, for TCP too: a UDP registry also listens on TCP). It is drawn below
 * Linux's range of ephemeral ports (32768 and up), so no connection of this
 * or another process takes it while a test waits before listening on it.
 */
export async function freeRegistryPort(mode: RegistryMode): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await isFree(port, mode)) return port;
  }
  throw new Error("no free loopback port below the ephemeral range");
}

async function isFree(port: number, mode: RegistryMode): Promise<boolean> {
  let listener: Deno.Listener | undefined;
  const socket = dgram.createSocket("udp4");
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    if (mode === "UDP") {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, "127.0.0.1", resolve);
      });
    }
    return true;
  } catch {
    return false;
  } finally {
    listener?.close();
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // Never bound.
      }
    });
  }
}

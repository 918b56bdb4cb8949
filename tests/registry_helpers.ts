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
import { freePort } from "./_cli.ts";
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
 * A loopback port that was free a moment ago for `mode`'s transport: TCP
 * (see {@linkcode freePort}), and for UDP, UDP as well (a UDP registry also
 * listens on TCP).
 */
export async function freeRegistryPort(mode: RegistryMode): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = freePort();
    if (mode === "TCP" || await isFreeForUdp(port)) return port;
  }
  throw new Error("no loopback port free for both TCP and UDP");
}

async function isFreeForUdp(port: number): Promise<boolean> {
  const socket = dgram.createSocket("udp4");
  const bound = await new Promise<boolean>((resolve) => {
    socket.once("error", () => resolve(false));
    socket.bind(port, "127.0.0.1", () => resolve(true));
  });
  await new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // Closed already by its failed bind.
    }
  });
  return bound;
}

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

/** A loopback port that was free a moment ago for `mode`'s transport. */
export async function freeRegistryPort(mode: RegistryMode): Promise<number> {
  switch (mode) {
    case "TCP": {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = listener.addr.port;
      listener.close();
      return port;
    }
    case "UDP": {
      const socket = dgram.createSocket("udp4");
      await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
      const port = socket.address().port;
      await new Promise<void>((resolve) => socket.close(resolve));
      return port;
    }
    default:
      mode satisfies never;
      throw new TypeError(`unknown mode ${mode}`);
  }
}

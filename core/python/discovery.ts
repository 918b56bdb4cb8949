/**
 * Finding Python RPyC servers by service name through a registry (RPyC's
 * `rpyc.connect_by_service`).
 *
 * @module
 */

import { connect } from "./connect.ts";
import type { PythonConnection } from "./connection.ts";
import type { PythonConnectOptions } from "./options.ts";
import { connectToFirst, type DiscoveryOptions } from "../registry/discovery.ts";

/**
 * Options of {@linkcode connectByService}: the registry to ask (for Python's
 * `rpyc_registry`, a `RegistryClient` with `protocol: "rpyc"`; default: a
 * UDP broadcast in rdc's protocol), how long to wait, and every connection
 * option.
 */
export interface PythonConnectByServiceOptions extends PythonConnectOptions, DiscoveryOptions {}

/**
 * Connects to a Python RPyC server of service `name`: asks the registry,
 * then tries the servers it names, oldest registration first, until one
 * answers.
 *
 * @throws {DiscoveryError} when none is registered or none can be reached.
 * @example
 * ```ts
 * import { python } from "@rdc/rdc/python";
 * import { RegistryClient } from "@rdc/rdc";
 * const registrar = new RegistryClient({ host: "127.0.0.1", protocol: "rpyc" });
 * // await using conn = await python.connectByService("CALC", { registrar });
 * ```
 */
export function connectByService(
  name: string,
  options: PythonConnectByServiceOptions = {},
): Promise<PythonConnection> {
  const { registrar, wait, signal, ...connectOptions } = options;
  return connectToFirst(
    name,
    { registrar, wait, signal },
    (host, port) => connect(host, port, connectOptions),
  );
}

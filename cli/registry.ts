/**
 * `rdc registry`: a registry server (RPyC's `rpyc_registry`), and the
 * `--register` flags of the commands that serve.
 *
 * @module
 */

import { RegistryClient } from "../core/registry/client.ts";
import { etcdRegistrar } from "../core/registry/etcd_registrar.ts";
import { REGISTRY_MODES, REGISTRY_PORT, type RegistryMode } from "../core/registry/messages.ts";
import { serveRegistry } from "../core/registry/server.ts";
import { defaultRegistryHost, type Registrar } from "../core/registry/registration.ts";
import {
  bindAddress,
  IPV6_FLAG,
  isLoopback,
  openLog,
  parseFlags,
  parsePort,
  parseSeconds,
  stopSignal,
  UsageError,
} from "./args.ts";

/** RPyC's pruning timeout, in seconds. */
const DEFAULT_TIMEOUT_S = 240;

/** The help text of `rdc registry`. */
export const REGISTRY_HELP = `Usage: rdc registry [options]

Runs a registry: servers started with --register (or serve(service,
{ registrar })) announce their service names to it, and clients find them by
name (discover, connectByService).

Options:
  -m, --mode MODE        UDP | TCP (default UDP); a UDP registry also answers over TCP
                         on its port, for replies too large for a datagram
      --host HOST        address to bind (default 127.0.0.1: this machine only). Bind
                         0.0.0.0 to serve a network and to hear UDP broadcasts (where
                         servers register by default); anyone who reaches it can then
                         register servers and ask for them
  -6, --ipv6             bind IPv6 loopback (::1) by default
  -p, --port PORT        port (default ${REGISTRY_PORT}; 0 picks a free one)
  -t, --timeout SECONDS  forget a server that has not registered again for this long
                         (default ${DEFAULT_TIMEOUT_S}; servers register every 60 s)
  -l, --listing          answer requests for the list of every service name
      --secret-file FILE accept only registrations signed with the secret in FILE
                         (its text, trimmed); servers need the same secret
                         (--registry-secret-file, or RegistryClient({ secret }))
      --logfile FILE     append log lines to FILE (default stderr)
  -q, --quiet            log errors only
  -h, --help             show this help
`;

/** Runs `rdc registry`; resolves with the exit status once the registry has stopped. */
export async function runRegistry(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    mode: { type: "string", short: "m" },
    host: { type: "string" },
    ...IPV6_FLAG,
    port: { type: "string", short: "p" },
    timeout: { type: "string", short: "t" },
    listing: { type: "boolean", short: "l" },
    "secret-file": { type: "string" },
    logfile: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(REGISTRY_HELP);
    return 0;
  }
  const mode = parseMode(values.mode ?? "UDP", "--mode");
  const port = values.port === undefined ? REGISTRY_PORT : parsePort(values.port);
  const timeout = values.timeout === undefined
    ? DEFAULT_TIMEOUT_S
    : parseSeconds(values.timeout, "--timeout");

  using logging = openLog("registry", values.logfile, values.quiet ?? false);
  using stop = stopSignal();
  const registry = await serveRegistry({
    mode,
    hostname: bindAddress(values.host, values.ipv6, { ipv4: "127.0.0.1", ipv6: "::1" }),
    port,
    pruningTimeout: timeout * 1_000,
    allowListing: values.listing ?? false,
    ...(values["secret-file"] === undefined
      ? {}
      : { secret: await readSecret(values["secret-file"], "--secret-file") }),
    logger: logging.log,
    signal: stop.signal,
  });
  const { hostname, port: bound } = registry.addr;
  const listing = values.listing ? "on" : "off";
  const signed = values["secret-file"] === undefined ? "" : ", signed registrations only";
  logging.log(
    "info",
    `serving the ${mode} registry on ${hostname.includes(":") ? `[${hostname}]` : hostname}:` +
      `${bound} (pruning after ${timeout} s, listing ${listing}${signed})`,
  );
  if (isLoopback(hostname)) {
    logging.log(
      "info",
      "bound to loopback: servers on this machine register here by default; other machines " +
        "and UDP broadcasts cannot reach it (--host 0.0.0.0 serves a network)",
    );
  }
  await registry.finished;
  logging.log("info", "stopped");
  return 0;
}

/** The flags of a serving command that register it, as `parseFlags` options. */
export const REGISTER_FLAGS = {
  register: { type: "boolean" },
  "registry-type": { type: "string" },
  "registry-host": { type: "string" },
  "registry-port": { type: "string" },
  "registry-secret-file": { type: "string" },
} as const;

/** The help lines of {@linkcode REGISTER_FLAGS}. */
export const REGISTER_HELP =
  `      --register         register with a registry while serving (see 'rdc registry')
      --registry-type T  UDP | TCP | ETCD (default UDP)
      --registry-host H  the registry's address (UDP default: 127.0.0.1 for a server on
                         loopback, where 'rdc registry' listens by default; else
                         255.255.255.255, a broadcast. Required for TCP). For ETCD, an
                         etcd client URL (required), such as http://127.0.0.1:2379
      --registry-port P  the registry's port (default ${REGISTRY_PORT}; not for ETCD)
      --registry-secret-file FILE
                         sign registrations with the registry's secret (its --secret-file)
`;

/**
 * The registrar the `--register` flags ask for, or `undefined` without
 * `--register`. `tcpServer` says whether the command serves on a TCP port
 * (only such a server can register), `serverHost` the address it binds (which
 * picks the default registry host, see `defaultRegistryHost`).
 *
 * @throws {UsageError} for a bad type or port, TCP or ETCD without a host, a `--registry-*`
 * flag without `--register`, or `--register` on a server without a port.
 */
export async function registrarFromFlags(
  values: {
    register?: boolean;
    "registry-type"?: string;
    "registry-host"?: string;
    "registry-port"?: string;
    "registry-secret-file"?: string;
  },
  tcpServer: boolean,
  serverHost: string,
): Promise<Registrar | undefined> {
  if (!values.register) {
    const stray =
      (["registry-type", "registry-host", "registry-port", "registry-secret-file"] as const)
        .find((flag) => values[flag] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --register`);
    return undefined;
  }
  if (!tcpServer) throw new UsageError("--register needs a TCP server (not stdio, --unix or --ws)");
  const host = values["registry-host"];
  if (values["registry-type"]?.toUpperCase() === "ETCD") {
    if (host === undefined) throw new UsageError("--registry-type etcd needs --registry-host URL");
    for (const flag of ["registry-port", "registry-secret-file"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to etcd`);
    }
    try {
      return etcdRegistrar({ url: host });
    } catch (error) {
      throw new UsageError(`invalid --registry-host: ${(error as Error).message}`);
    }
  }
  const mode = parseMode(values["registry-type"] ?? "UDP", "--registry-type");
  if (mode === "TCP" && host === undefined) {
    throw new UsageError("--registry-type TCP needs --registry-host");
  }
  const port = values["registry-port"] === undefined
    ? REGISTRY_PORT
    : parsePort(values["registry-port"], "--registry-port");
  const secretFile = values["registry-secret-file"];
  return new RegistryClient({
    mode,
    host: host ?? defaultRegistryHost(serverHost),
    port,
    ...(secretFile === undefined
      ? {}
      : { secret: await readSecret(secretFile, "--registry-secret-file") }),
  });
}

/** The secret in `file` (its text, trimmed). @throws {UsageError} when it cannot be read or is empty. */
async function readSecret(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(error as Error).message}`);
  }
  if (text.trim() === "") throw new UsageError(`${flag} ${file} is empty`);
  return text.trim();
}

/** A registry mode from a flag's text, in any case. @throws {UsageError} for anything else. */
function parseMode(text: string, flag: string): RegistryMode {
  const mode = text.toUpperCase() as RegistryMode;
  if (!REGISTRY_MODES.includes(mode)) {
    throw new UsageError(`invalid ${flag} '${text}': expected UDP or TCP`);
  }
  return mode;
}

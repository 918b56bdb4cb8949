/**
 * `rdc classic`: a classic server (RPyC's `rpyc_classic`).
 *
 * @module
 */

import * as classic from "../core/classic/mod.ts";
import { python } from "../core/python/mod.ts";
import { tokenAuthenticator } from "../core/net/auth.ts";
import { DEFAULT_MAX_CHILDREN, serveIsolated } from "../core/net/isolated.ts";
import { DEFAULT_SERVER_LIMITS } from "../core/wire/limits.ts";
import { Registration } from "../core/registry/registration.ts";
import { serviceAliases } from "../core/session/service.ts";
import type { TlsServerOptions } from "../core/net/tls.ts";
import {
  bindAddress,
  IPV6_FLAG,
  isLoopback,
  openLog,
  parseFlags,
  parsePort,
  parsePositiveInteger,
  parseSeconds,
  stopSignal,
  UsageError,
} from "./args.ts";
import { REGISTER_FLAGS, REGISTER_HELP, registrarFromFlags } from "./registry.ts";

/** The help text of `rdc classic`. */
export const CLASSIC_HELP = `Usage: rdc classic [options]

Serves classic mode: every client gets the whole process (modules, globals,
eval, execute, files). It is remote code execution by design: serve it on
loopback, or to trusted clients only.

Options:
      --host HOST        address to bind (default 127.0.0.1, or ::1 with --ipv6)
  -6, --ipv6             bind IPv6 loopback (::1) by default
  -p, --port PORT        TCP port (default ${classic.DEFAULT_PORT}, or ${classic.DEFAULT_TLS_PORT} with TLS; 0 picks a free one)
  -m, --mode MODE        concurrent | oneshot | stdio | isolated | pool (default concurrent)
                           concurrent  all clients in this process (RPyC's name: threaded)
                           oneshot     print "rdc-oneshot" and HOST<TAB>PORT, serve one client
                           stdio       serve one peer on stdin/stdout (inetd, ssh)
                           isolated    each connection in its own child process (RPyC's
                                       name: forking)
                           pool        connections spread over --workers processes, each
                                       serving many (a busy client stalls only its worker's)
      --workers N        processes of --mode pool (default: one per core, here ${navigator.hardwareConcurrency})
      --unix PATH        listen on a unix socket instead of TCP
      --ws PATH          serve over WebSocket: an HTTP server on --host/--port whose WebSocket
                         upgrades at PATH are the connections (classic.connectWebSocket(
                         "ws://HOST:PORT/PATH"); wss with --ssl-keyfile/--ssl-certfile)
      --rpyc             speak Python RPyC's own protocol (5.x and 6.x) instead of rdc's, for
                         Python's rpyc.classic.connect (concurrent mode; TCP, TLS or --unix)
      --logfile FILE     append log lines to FILE (default stderr)
  -q, --quiet            log errors only
      --ssl-keyfile FILE   serve TLS with this private key (PEM; needs --ssl-certfile)
      --ssl-certfile FILE  the server's certificate chain (PEM; needs --ssl-keyfile)
      --ssl-cafile FILE    require client certificates signed by these CAs (PEM)
      --auth-token-file FILE
                         require clients to present the secret in FILE (classic.connect(…,
                         { token }))
      --insecure-remote  allow binding a non-loopback address without TLS or a token
      --max-connections N
                         refuse clients beyond N at once, before their handshake (concurrent:
                         default ${DEFAULT_SERVER_LIMITS.maxConnections}; isolated: children, default ${DEFAULT_MAX_CHILDREN})
      --idle-timeout SECONDS
                         close a connection with no traffic and no call in flight for this
                         long (concurrent and oneshot; default 0: never)
${REGISTER_HELP}  -h, --help             show this help
`;

const MODES = ["concurrent", "oneshot", "stdio", "isolated", "pool"] as const;
type Mode = typeof MODES[number];
/** RPyC's names of the modes (`rpyc_classic -m threaded|forking`). */
const MODE_ALIASES: Readonly<Record<string, Mode>> = {
  threaded: "concurrent",
  forking: "isolated",
};

/** Runs `rdc classic`; resolves with the exit status once the server has stopped. */
export async function runClassic(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    host: { type: "string" },
    ...IPV6_FLAG,
    port: { type: "string", short: "p" },
    mode: { type: "string", short: "m" },
    unix: { type: "string" },
    ws: { type: "string" },
    rpyc: { type: "boolean" },
    logfile: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    "ssl-keyfile": { type: "string" },
    "ssl-certfile": { type: "string" },
    "ssl-cafile": { type: "string" },
    "auth-token-file": { type: "string" },
    "insecure-remote": { type: "boolean" },
    "max-connections": { type: "string" },
    "idle-timeout": { type: "string" },
    workers: { type: "string" },
    ...REGISTER_FLAGS,
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CLASSIC_HELP);
    return 0;
  }
  const named = (values.mode ?? "concurrent").toLowerCase();
  const mode = (MODE_ALIASES[named] ?? named) as Mode;
  if (!MODES.includes(mode)) {
    throw new UsageError(
      `invalid --mode '${values.mode}': expected one of ${MODES.join(", ")} ` +
        `(or ${Object.keys(MODE_ALIASES).join(", ")})`,
    );
  }
  const tls = tlsOptions(values["ssl-keyfile"], values["ssl-certfile"], values["ssl-cafile"]);
  const token = values["auth-token-file"] === undefined
    ? undefined
    : readFlagFile("--auth-token-file", values["auth-token-file"]).trim();
  if (token === "") throw new UsageError("--auth-token-file holds no secret");
  const port = values.port === undefined
    ? (tls ? classic.DEFAULT_TLS_PORT : classic.DEFAULT_PORT)
    : parsePort(values.port);
  const hostname = bindAddress(values.host, values.ipv6, { ipv4: "127.0.0.1", ipv6: "::1" });
  const where = [values.host, values.ipv6 || undefined, values.port];
  if (values.unix !== undefined && where.some((v) => v !== undefined)) {
    throw new UsageError("--unix cannot be combined with --host, --ipv6 or --port");
  }
  if (mode === "stdio" && [...where, values.unix].some((v) => v !== undefined)) {
    throw new UsageError(
      "--mode stdio serves on stdin/stdout: drop --host, --ipv6, --port and --unix",
    );
  }
  if (mode === "stdio" && (tls || token)) {
    throw new UsageError("--mode stdio serves on stdin/stdout: TLS and tokens do not apply");
  }
  if (values.unix !== undefined && tls) {
    throw new UsageError("TLS needs TCP: --ssl-* cannot be combined with --unix");
  }
  const ws = values.ws;
  if (ws !== undefined) {
    if (values.unix !== undefined) throw new UsageError("--ws cannot be combined with --unix");
    if (mode === "stdio") throw new UsageError("--mode stdio serves on stdin/stdout: drop --ws");
    if (!ws.startsWith("/")) throw new UsageError(`invalid --ws '${ws}': a path starts with /`);
    if (values["ssl-cafile"] !== undefined) {
      throw new UsageError(
        "--ssl-cafile cannot be combined with --ws: client certificates are not available " +
          "over WebSocket (use --auth-token-file)",
      );
    }
  }
  const maxConnections = values["max-connections"] === undefined
    ? undefined
    : parsePositiveInteger(values["max-connections"], "--max-connections");
  if (maxConnections !== undefined && (mode === "stdio" || mode === "oneshot")) {
    throw new UsageError(`--max-connections does not apply to --mode ${mode} (one client)`);
  }
  const idleSeconds = values["idle-timeout"] === undefined
    ? undefined
    : parseSeconds(values["idle-timeout"], "--idle-timeout", true);
  if (idleSeconds !== undefined && (mode === "stdio" || mode === "isolated" || mode === "pool")) {
    throw new UsageError(
      `--idle-timeout applies to --mode concurrent and oneshot, not ${mode}`,
    );
  }
  if (values.rpyc && (mode !== "concurrent" || ws !== undefined || token !== undefined)) {
    throw new UsageError(
      "--rpyc serves Python clients in concurrent mode over TCP, TLS or --unix: " +
        "drop --mode, --ws and --auth-token-file",
    );
  }
  if (values.workers !== undefined && mode !== "pool") {
    throw new UsageError(`--workers applies to --mode pool, not ${mode}`);
  }
  const workers = values.workers === undefined
    ? undefined
    : parsePositiveInteger(values.workers, "--workers");
  const listening = mode !== "stdio" && values.unix === undefined;
  const registrar = await registrarFromFlags(values, listening && ws === undefined, hostname);
  // TLS or a token keeps strangers out; without either, only loopback is safe.
  const guarded = tls !== undefined || token !== undefined;
  if (listening && !isLoopback(hostname) && !guarded && !values["insecure-remote"]) {
    throw new UsageError(
      `refusing to serve classic mode on ${hostname} without TLS or a token: anyone who reaches ` +
        "it can run any code as this user (pass --insecure-remote to do it anyway)",
    );
  }

  using logging = openLog("classic", values.logfile, values.quiet ?? false);
  const log = logging.log;
  if (listening && !isLoopback(hostname) && !guarded) {
    log(
      "warn",
      `serving classic mode on ${hostname} without TLS: anyone who can reach port ${port} ` +
        "can run any code as this user",
    );
  }
  using stop = stopSignal();

  if (mode === "stdio") {
    const conn = await classic.serveStdio({ logger: log });
    stop.signal.addEventListener("abort", () => conn.close(), { once: true });
    await conn.finished;
    return 0;
  }
  const address = values.unix !== undefined
    ? { path: values.unix }
    : { hostname, port, tls, ws: ws === undefined ? undefined : { path: ws } };
  const common = {
    ...address,
    authenticator: token === undefined ? undefined : tokenAuthenticator(token),
    signal: stop.signal,
    logger: log,
    maxConnections,
  };
  let server;
  if (values.rpyc) {
    server = python.classic.serve({
      ...(values.unix !== undefined ? { path: values.unix } : { hostname, port, tls }),
      signal: stop.signal,
      logger: log,
    });
  } else {
    switch (mode) {
      case "isolated":
        server = serveIsolated(classic.defaultServerCommand(), common);
        break;
      case "pool":
        server = classic.servePool({ ...common, workers, logConnections: true });
        break;
      case "concurrent":
      case "oneshot":
        server = classic.serve({
          ...common,
          oneShot: mode === "oneshot",
          logConnections: true,
          registrar,
          idleTimeout: idleSeconds === undefined ? undefined : idleSeconds * 1_000,
        });
        break;
      default:
        mode satisfies never;
        throw new UsageError(`invalid --mode '${mode}'`);
    }
  }
  try {
    await server.ready;
  } catch (error) {
    await server.close();
    throw error;
  }
  const addr = server.addr;
  const shown = "port" in addr ? `${addr.hostname}\t${addr.port}` : addr.path;
  if (mode === "oneshot") {
    // The two lines a parent reads to find the server (RPyC prints "rpyc-oneshot").
    await writeStdout(`rdc-oneshot\n${shown}\n`);
  }
  const hostPort = "port" in addr
    ? `${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`
    : addr.path;
  const readable = ws === undefined ? hostPort : `${tls ? "wss" : "ws"}://${hostPort}${ws}`;
  log("info", `serving ${values.rpyc ? "RPyC classic" : mode} on ${readable}`);
  // An isolated or pool server runs no service of its own here: its classic names are registered
  // for it.
  await using _registration = (mode === "isolated" || mode === "pool") && registrar &&
      "port" in addr
    ? new Registration(registrar, serviceAliases(classic.ClassicService), addr.port, {
      hostname,
    }, log)
    : undefined;
  await server.finished;
  log("info", "stopped");
  return 0;
}

/** The TLS options from the --ssl-* flags, read from their files; undefined without TLS. */
function tlsOptions(
  keyfile: string | undefined,
  certfile: string | undefined,
  cafile: string | undefined,
): TlsServerOptions | undefined {
  if (keyfile === undefined && certfile === undefined) {
    if (cafile !== undefined) {
      throw new UsageError("--ssl-cafile needs --ssl-keyfile and --ssl-certfile");
    }
    return undefined;
  }
  if (keyfile === undefined) throw new UsageError("--ssl-certfile needs --ssl-keyfile");
  if (certfile === undefined) throw new UsageError("--ssl-keyfile needs --ssl-certfile");
  return {
    key: readFlagFile("--ssl-keyfile", keyfile),
    cert: readFlagFile("--ssl-certfile", certfile),
    ca: cafile === undefined ? undefined : readFlagFile("--ssl-cafile", cafile),
  };
}

/** A flag's file, read as text. @throws {UsageError} naming the flag when it cannot be read. */
function readFlagFile(flag: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${flag} '${path}': ${(error as Error).message}`);
  }
}

async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let offset = 0; offset < bytes.length;) {
    offset += await Deno.stdout.write(bytes.subarray(offset));
  }
}

/**
 * `rdc classic`: a classic server (RPyC's `rpyc_classic`).
 *
 * @module
 */

import * as classic from "../core/classic/mod.ts";
import { serveIsolated } from "../core/isolated.ts";
import { isLoopback, openLog, parseFlags, parsePort, stopSignal, UsageError } from "./args.ts";

/** The help text of `rdc classic`. */
export const CLASSIC_HELP = `Usage: rdc classic [options]

Serves classic mode: every client gets the whole process (modules, globals,
eval, execute, files). It is remote code execution by design: serve it on
loopback, or to trusted clients only.

Options:
      --host HOST        address to bind (default 127.0.0.1)
  -p, --port PORT        TCP port (default ${classic.DEFAULT_PORT}; 0 picks a free one)
  -m, --mode MODE        concurrent | oneshot | stdio | isolated (default concurrent)
                           concurrent  all clients in this process
                           oneshot     print "rdc-oneshot" and HOST<TAB>PORT, serve one client
                           stdio       serve one peer on stdin/stdout (inetd, ssh)
                           isolated    each connection in its own child process
      --unix PATH        listen on a unix socket instead of TCP
      --logfile FILE     append log lines to FILE (default stderr)
  -q, --quiet            log errors only
      --insecure-remote  allow binding a non-loopback address without TLS
  -h, --help             show this help
`;

const MODES = ["concurrent", "oneshot", "stdio", "isolated"] as const;
type Mode = typeof MODES[number];

/** Runs `rdc classic`; resolves with the exit status once the server has stopped. */
export async function runClassic(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string", short: "p" },
    mode: { type: "string", short: "m" },
    unix: { type: "string" },
    logfile: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    "insecure-remote": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CLASSIC_HELP);
    return 0;
  }
  const mode = (values.mode ?? "concurrent").toLowerCase() as Mode;
  if (!MODES.includes(mode)) {
    throw new UsageError(`invalid --mode '${values.mode}': expected one of ${MODES.join(", ")}`);
  }
  const port = values.port === undefined ? classic.DEFAULT_PORT : parsePort(values.port);
  const hostname = values.host ?? "127.0.0.1";
  if (values.unix !== undefined && (values.host !== undefined || values.port !== undefined)) {
    throw new UsageError("--unix cannot be combined with --host or --port");
  }
  if (mode === "stdio" && [values.host, values.port, values.unix].some((v) => v !== undefined)) {
    throw new UsageError("--mode stdio serves on stdin/stdout: drop --host, --port and --unix");
  }
  const listening = mode !== "stdio" && values.unix === undefined;
  if (listening && !isLoopback(hostname) && !values["insecure-remote"]) {
    throw new UsageError(
      `refusing to serve classic mode on ${hostname} without TLS: anyone who reaches it can run ` +
        "any code as this user (pass --insecure-remote to do it anyway)",
    );
  }

  using logging = openLog("classic", values.logfile, values.quiet ?? false);
  const log = logging.log;
  if (listening && !isLoopback(hostname)) {
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
  const where = values.unix !== undefined ? { path: values.unix } : { hostname, port };
  const server = mode === "isolated"
    ? serveIsolated(classic.defaultServerCommand(), { ...where, signal: stop.signal, logger: log })
    : classic.serve({ ...where, oneShot: mode === "oneshot", signal: stop.signal, logger: log });
  const addr = server.addr;
  const shown = "port" in addr ? `${addr.hostname}\t${addr.port}` : addr.path;
  if (mode === "oneshot") {
    // The two lines a parent reads to find the server (RPyC prints "rpyc-oneshot").
    await writeStdout(`rdc-oneshot\n${shown}\n`);
  }
  const readable = "port" in addr
    ? `${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`
    : addr.path;
  log("info", `serving ${mode} on ${readable}`);
  await server.finished;
  log("info", "stopped");
  return 0;
}

async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let offset = 0; offset < bytes.length;) {
    offset += await Deno.stdout.write(bytes.subarray(offset));
  }
}

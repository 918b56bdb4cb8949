/**
 * `rdc shell`: Deno's REPL with `conn` bound to a classic connection, async
 * or (`--sync`) synchronous.
 *
 * @module
 */

import { parseFlags, parsePort, UsageError } from "./args.ts";
import { runClassicRepl } from "./repl.ts";

/** The help text of `rdc shell`. */
export const SHELL_HELP = `Usage: rdc shell [HOST[:PORT]] [options]

Starts Deno's REPL with \`conn\` bound to a classic connection: to HOST:PORT
(default port 18812), to a unix socket, or, with neither, to a classic server
started as a local subprocess. Try: await conn.modules["node:os"].hostname()

With --sync, \`conn\` is a synchronous classic connection: no await, each use
of it and of its netrefs blocks until the server answers (30 s at most).
Try: conn.modules["node:os"].hostname(), conn.eval("1 + 1")

Options:
      --unix PATH   connect to a unix socket instead
      --sync        a synchronous connection (while a call waits, this REPL's
                    event loop is frozen: callbacks the server calls meanwhile
                    must return values, not promises)
  -h, --help        show this help
`;

/** Runs `rdc shell`; resolves with the REPL's exit status. */
export async function runShell(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    unix: { type: "string" },
    sync: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) {
    console.log(SHELL_HELP);
    return 0;
  }
  const [target] = positionals;
  if (target !== undefined && values.unix !== undefined) {
    throw new UsageError("give either HOST[:PORT] or --unix, not both");
  }
  const classicUrl = new URL("../core/classic/mod.ts", import.meta.url).href;
  const address = target === undefined ? undefined : parseTarget(target);
  // connectSync, connectUnixSync and connectSubprocessSync return the connection itself.
  const sync = values.sync ? "Sync" : "";
  const open = values.unix !== undefined
    ? `classic.connectUnix${sync}(${JSON.stringify(values.unix)})`
    : address
    ? `classic.connect${sync}(${address.map((v) => JSON.stringify(v)).join(", ")})`
    : `classic.connectSubprocess${sync}()`;
  // One connection, made inside the REPL (a one-shot server serves only one).
  const setup = `const classic = await import(${JSON.stringify(classicUrl)});`;
  const what = values.sync ? "a synchronous classic connection" : "a classic connection";
  return await runClassicRepl("shell", setup, open, what);
}

/** HOST, HOST:PORT, [IPV6] or [IPV6]:PORT. */
function parseTarget(target: string): [string, number] {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::([^:]*))?$/.exec(target);
  if (!match) throw new UsageError(`invalid address '${target}': expected HOST[:PORT]`);
  const host = match[1] ?? match[2]!;
  return [host, match[3] === undefined ? 18812 : parsePort(match[3], "port")];
}

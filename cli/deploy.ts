/**
 * `rdc deploy`: a classic server deployed to an SSH host (nothing installed
 * there beforehand), then code evaluated there or Deno's REPL with a
 * connection to it.
 *
 * @module
 */

import type { ClassicConnection } from "../core/classic/mod.ts";
import { parseDestination } from "../deploy/destination.ts";
import { KNOWN_HOSTS_MODES, type KnownHostsMode } from "../deploy/host_key_check.ts";
import {
  DeployedServer,
  HostKeyError,
  MultiServerDeployment,
  SshMachine,
  type SshMachineOptions,
} from "../deploy/mod.ts";
import { isRemote } from "../core/netref/proxy.ts";
import { parseFlags, parsePositiveInteger, UsageError } from "./args.ts";
import { runClassicRepl } from "./repl.ts";

/** The help text of `rdc deploy`. */
export const DEPLOY_HELP = `Usage: rdc deploy USER@HOST[:PORT]... [options]

Deploys a classic server to HOST over SSH, with nothing to install there:
the server (and a Deno runtime for HOST, when it has no deno) is uploaded once
and cached in ~/.cache/rdc on HOST. Then evaluates CODE there (in the
server) and prints its value, or opens Deno's REPL here with \`conn\` bound
to a classic connection to it. HOST may be an alias of ~/.ssh/config
(HostName, User, Port, IdentityFile, ProxyJump); ssh-agent ($SSH_AUTH_SOCK)
is used when it runs. No port is opened on HOST:
connections travel inside the SSH connection. Try:
  rdc deploy me@build-01 --eval 'Deno.hostname()'

Several hosts need --eval: each is deployed to (--concurrency at a time,
one progress line per host on a terminal) and CODE runs on each; one line
per host is printed, in the order given: "HOST: VALUE" on stdout, or
"HOST: error: MESSAGE" on stderr (exit 1 if any host failed).

Options:
  -i, --identity FILE     the private key to log in with
                          (default: IdentityFile of ~/.ssh/config, else ~/.ssh/id_*)
      --known-hosts MODE  enforce | accept-new | ignore (default enforce: the host
                          key must be in ~/.ssh/known_hosts)
  -e, --eval CODE         evaluate CODE on HOST (as conn.eval does: an expression,
                          which may use await, or statements) and print its value
                          (unless undefined) as console.log would, instead of
                          opening the REPL; a remote error is printed, exit 1
  -c, --concurrency N     hosts deployed to at once (default 32)
  -h, --help              show this help
`;

/** Runs `rdc deploy`; resolves with the exit status. */
export async function runDeploy(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    identity: { type: "string", short: "i" },
    "known-hosts": { type: "string" },
    eval: { type: "string", short: "e" },
    concurrency: { type: "string", short: "c" },
    help: { type: "boolean", short: "h" },
  }, Infinity);
  if (values.help) {
    console.log(DEPLOY_HELP);
    return 0;
  }
  const [target] = positionals;
  if (target === undefined) throw new UsageError("missing USER@HOST[:PORT]");
  for (const destination of positionals) {
    try {
      parseDestination(destination);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  if (positionals.length > 1 && values.eval === undefined) {
    throw new UsageError("several hosts need --eval CODE (the REPL takes one host)");
  }
  const concurrency = values.concurrency === undefined
    ? undefined
    : parsePositiveInteger(values.concurrency, "--concurrency");
  const mode = values["known-hosts"] ?? "enforce";
  if (!KNOWN_HOSTS_MODES.includes(mode as KnownHostsMode)) {
    throw new UsageError(
      `invalid --known-hosts '${mode}': expected one of ${KNOWN_HOSTS_MODES.join(", ")}`,
    );
  }
  const machineOptions = (host: string): SshMachineOptions => ({
    host,
    knownHosts: mode as KnownHostsMode,
    ...(values.identity === undefined ? {} : { identity: values.identity }),
  });
  if (positionals.length > 1) {
    return await evalOnFleet(positionals.map(machineOptions), values.eval!, concurrency);
  }
  const options = machineOptions(target);
  if (values.eval === undefined) {
    const setup = `const { deployClassic } = await import(${JSON.stringify(import.meta.url)});`;
    return await runClassicRepl(
      "deploy",
      setup,
      `(await deployClassic(${JSON.stringify(options)})).conn`,
    );
  }
  await using session = await deployClassic(options);
  const shown = await evalShown(session.conn, values.eval);
  if (shown !== undefined) console.log(shown);
  return 0;
}

/**
 * Evaluates `code` on `conn`'s host: the value to print, `undefined` for
 * none. An object stays on the host (a netref): the host inspects it, as its
 * REPL would show it.
 */
async function evalShown(conn: ClassicConnection, code: string): Promise<unknown> {
  const value = await conn.eval(code);
  return isRemote(value) ? await conn.globals.Deno.inspect(value) : value;
}

/** Deploys to every host, evaluates `code` on each, prints one line per host; the exit status. */
async function evalOnFleet(
  hosts: SshMachineOptions[],
  code: string,
  concurrency: number | undefined,
): Promise<number> {
  await using fleet = await MultiServerDeployment.start(hosts, { concurrency });
  const outcomes = await Promise.all(fleet.results.map(async (result) => {
    if (result.status === "rejected") return { ok: false, text: namingFlag(result.error).message };
    try {
      return { ok: true, shown: await evalShown(await result.server.classicConnect(), code) };
    } catch (error) {
      return { ok: false, text: (error as Error).message };
    }
  }));
  outcomes.forEach((outcome, index) => {
    const host = fleet.results[index]!.host;
    if (!outcome.ok) console.error(`${host}: error: ${outcome.text}`);
    else if (outcome.shown !== undefined) console.log(`${host}:`, outcome.shown);
    else console.log(`${host}: (no value)`);
  });
  return outcomes.every((outcome) => outcome.ok) ? 0 : 1;
}

/** `error`, or for a `HostKeyError` the same naming this command's `--known-hosts` flag. */
function namingFlag(error: Error): Error {
  if (!(error instanceof HostKeyError)) return error;
  return new HostKeyError(error.problem, { ...error, acceptNew: "--known-hosts accept-new" });
}

/** A classic connection to a server deployed for one command; disposing it ends everything. */
export interface DeployedSession extends AsyncDisposable {
  /** The connection. */
  readonly conn: ClassicConnection;
}

/**
 * Connects to the host, deploys classic mode and opens one connection (for
 * the REPL too). A `HostKeyError` names the command's `--known-hosts` flag.
 */
export async function deployClassic(options: SshMachineOptions): Promise<DeployedSession> {
  let machine: SshMachine;
  try {
    machine = await SshMachine.connect(options);
  } catch (error) {
    throw namingFlag(error as Error);
  }
  let server: DeployedServer | undefined;
  try {
    server = await DeployedServer.start(machine);
    const deployed = server;
    return {
      conn: await deployed.classicConnect(),
      async [Symbol.asyncDispose]() {
        await deployed.close();
        await machine.close();
      },
    };
  } catch (error) {
    await server?.close();
    await machine.close();
    throw error;
  }
}

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
import { DeployedServer, HostKeyError, SshMachine, type SshMachineOptions } from "../deploy/mod.ts";
import { isRemote } from "../core/netref/proxy.ts";
import { parseFlags, UsageError } from "./args.ts";
import { runClassicRepl } from "./repl.ts";

/** The help text of `rdc deploy`. */
export const DEPLOY_HELP = `Usage: rdc deploy USER@HOST[:PORT] [options]

Deploys a classic server to HOST over SSH, with nothing to install there:
the server (and this Deno runtime, when HOST has no deno) is uploaded once
and cached in ~/.cache/rdc on HOST. Then evaluates CODE there (in the
server) and prints its value, or opens Deno's REPL here with \`conn\` bound
to a classic connection to it. HOST may be an alias of ~/.ssh/config
(HostName, User, Port, IdentityFile, ProxyJump); ssh-agent ($SSH_AUTH_SOCK)
is used when it runs. No port is opened on HOST:
connections travel inside the SSH connection. Try:
  rdc deploy me@build-01 --eval 'Deno.hostname()'

Options:
  -i, --identity FILE     the private key to log in with
                          (default: IdentityFile of ~/.ssh/config, else ~/.ssh/id_*)
      --known-hosts MODE  enforce | accept-new | ignore (default enforce: the host
                          key must be in ~/.ssh/known_hosts)
  -e, --eval CODE         evaluate CODE on HOST (as conn.eval does: an expression,
                          which may use await, or statements) and print its value
                          (unless undefined) as console.log would, instead of
                          opening the REPL; a remote error is printed, exit 1
  -h, --help              show this help
`;

/** Runs `rdc deploy`; resolves with the exit status. */
export async function runDeploy(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    identity: { type: "string", short: "i" },
    "known-hosts": { type: "string" },
    eval: { type: "string", short: "e" },
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) {
    console.log(DEPLOY_HELP);
    return 0;
  }
  const [target] = positionals;
  if (target === undefined) throw new UsageError("missing USER@HOST[:PORT]");
  try {
    parseDestination(target);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const mode = values["known-hosts"] ?? "enforce";
  if (!KNOWN_HOSTS_MODES.includes(mode as KnownHostsMode)) {
    throw new UsageError(
      `invalid --known-hosts '${mode}': expected one of ${KNOWN_HOSTS_MODES.join(", ")}`,
    );
  }
  const options: SshMachineOptions = { host: target, knownHosts: mode as KnownHostsMode };
  if (values.identity !== undefined) options.identity = values.identity;
  if (values.eval === undefined) {
    const setup = `const { deployClassic } = await import(${JSON.stringify(import.meta.url)});`;
    return await runClassicRepl(
      "deploy",
      setup,
      `(await deployClassic(${JSON.stringify(options)})).conn`,
    );
  }
  await using session = await deployClassic(options);
  const value = await session.conn.eval(values.eval);
  // An object stays on HOST (a netref): HOST inspects it, as its REPL would show it.
  const shown = isRemote(value) ? await session.conn.globals.Deno.inspect(value) : value;
  if (value !== undefined) console.log(shown);
  return 0;
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
    if (!(error instanceof HostKeyError)) throw error;
    throw new HostKeyError(error.problem, { ...error, acceptNew: "--known-hosts accept-new" });
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

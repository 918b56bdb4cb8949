/**
 * The `rdc` command: `rdc classic` (a classic server), `rdc shell` (a REPL on
 * a classic connection), `rdc registry` (a registry of services), `rdc deploy`
 * (classic mode on an SSH host).
 *
 * ```sh
 * deno run -A cli/main.ts classic --port 18812
 * deno run -A cli/main.ts shell 127.0.0.1:18812
 * ```
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { UsageError } from "./args.ts";
import { runClassic } from "./classic.ts";
import { runDeploy } from "./deploy.ts";
import { runRegistry } from "./registry.ts";
import { runShell } from "./shell.ts";

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  classic: runClassic,
  deploy: runDeploy,
  registry: runRegistry,
  shell: runShell,
};

/** The help text of `rdc`. */
export const HELP = `Usage: rdc <command> [options]

Commands:
  classic   serve classic mode (a remote Deno process for trusted clients)
  shell     a Deno REPL with \`conn\` bound to a classic connection
  deploy    deploy classic mode to an SSH host (nothing to install there), then eval or a REPL
  registry  a registry where servers announce their services and clients find them

Run 'rdc <command> --help' for a command's options.
`;

/**
 * Runs the `rdc` command with `argv` (without the program name) and resolves
 * with the exit status: 0 on success, 2 for a usage mistake (after printing
 * a one-line reason), 1 for any other failure.
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-V") {
    console.log(`rdc ${denoJson.version}`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) return usage(undefined, `unknown command '${command}'`);
  try {
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) return usage(command, error.message);
    console.error(`rdc ${command}: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
}

function usage(command: string | undefined, reason: string): number {
  const name = command ? `rdc ${command}` : "rdc";
  console.error(`${name}: ${reason} (see '${name} --help')`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

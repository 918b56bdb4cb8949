/**
 * The flags of this Deno's command line that shape how a program runs (V8
 * flags, configuration, import map, unstable features, …), for a pool
 * worker that runs the same program.
 *
 * @module
 */

/**
 * The `deno run` flags carried over, each with whether its value may come as
 * the next argument (`--config deno.json`) rather than after `=`; and every
 * `--unstable…` flag.
 */
const CARRIED: ReadonlyMap<string, boolean> = new Map([
  ["--v8-flags", false],
  ["--config", true],
  ["-c", true],
  ["--no-config", false],
  ["--import-map", true],
  ["--location", true],
  ["--seed", true],
  ["--lock", false],
  ["--no-lock", false],
  ["--cached-only", false],
  ["--node-modules-dir", false],
  ["--no-remote", false],
  ["--no-npm", false],
]);

/**
 * The runtime flags this process was started with (see `CARRIED`), or none
 * when they cannot be known: Deno tells them to no API, and its own command
 * line (`/proc/self/cmdline`, on Linux) may be read only with every
 * permission. Call it only when this process holds them all, lest Deno
 * prompt for them.
 */
export function runtimeFlags(): string[] {
  if (Deno.build.os !== "linux") return [];
  let line: string[];
  try {
    line = Deno.readTextFileSync("/proc/self/cmdline").split("\0").slice(0, -1);
  } catch {
    return [];
  }
  // deno, [run], flags…, the main module, then the program's arguments.
  const flags = line.slice(1, line.length - Deno.args.length - 1);
  const carried: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    const [name] = flag.split("=", 1);
    const valueNext = CARRIED.get(name!);
    if (valueNext === undefined && !name!.startsWith("--unstable")) continue;
    carried.push(flag);
    if (valueNext && !flag.includes("=") && i + 1 < flags.length) carried.push(flags[++i]!);
  }
  return carried;
}

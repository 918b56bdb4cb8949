/**
 * Deno's official build for another platform, fetched through npm (the
 * registry carries one package per platform, `@deno/linux-arm64-glibc` and
 * the like) with the local `npm` and `tar`.
 *
 * @module
 */

import { join } from "node:path";
import type { RuntimePlatform } from "./platforms.ts";

/**
 * Fetches Deno `version` for `platform` with `npm pack` into `dir` and
 * unpacks its executable there; its path.
 *
 * @throws {Error} saying what failed: no `npm` or `tar`, or what npm said.
 */
export async function fetchNpmRuntime(
  platform: RuntimePlatform,
  version: string,
  dir: string,
): Promise<string> {
  const spec = `${platform.npmPackage}@${version}`;
  const packed = await run("npm", ["pack", spec, "--pack-destination", dir, "--silent"], spec);
  const tarball = join(dir, packed.trim().split("\n").at(-1)!);
  await run("tar", ["-xzf", tarball, "-C", dir, "package/deno"], spec);
  await Deno.remove(tarball);
  return join(dir, "package", "deno");
}

async function run(program: string, args: string[], spec: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, { args, stdin: "null" }).output();
  } catch (error) {
    throw new Error(
      `cannot fetch ${spec}: ${program} does not run here (${(error as Error).message})`,
    );
  }
  const text = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `cannot fetch ${spec}: ${program} failed: ${text.decode(output.stderr).trim()}`,
    );
  }
  return text.decode(output.stdout);
}

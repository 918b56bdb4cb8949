/**
 * The Deno runtime shipped to a host that has none: which build a host
 * needs (judged by `uname -sm`), and its gzip-compressed copy, made once
 * per version and platform and kept in the local cache. The local platform
 * gets this process's own executable; another gets Deno's official build of
 * the same version, fetched through npm.
 *
 * @module
 */

import { exists } from "./files.ts";
import { localCacheDir, writeAtomically } from "./local_cache.ts";
import { fetchNpmRuntime } from "./npm_runtime.ts";
import { platformOf, type RuntimePlatform } from "./platforms.ts";

/** This process's Deno, seen as something to ship. */
export interface LocalRuntime {
  /** `2.9.6`. */
  version: string;
  /** Deno's target triple (`x86_64-unknown-linux-gnu`). */
  target: string;
  /** The executable. */
  executable: string;
}

/** This process's runtime. */
export function localRuntime(): LocalRuntime {
  return { version: Deno.version.deno, target: Deno.build.target, executable: Deno.execPath() };
}

/**
 * Where a runtime for a host whose `uname -s` and `uname -m` are `os` and
 * `arch` comes from: this process's executable (`local`), an npm package of
 * Deno's official build (`npm`), or nowhere (`undefined`: no build for it).
 */
export function runtimeSource(
  os: string,
  arch: string,
): { kind: "local" | "npm"; platform: RuntimePlatform } | undefined {
  const platform = platformOf(os, arch);
  if (platform === undefined) return undefined;
  return { kind: platform.target === Deno.build.target ? "local" : "npm", platform };
}

const compressing = new Map<string, Promise<string>>();

/**
 * The gzip-compressed runtime for `platform` (made on first use, ~2 s for
 * ~100 MB, plus the npm download for another platform; then reused from the
 * local cache as `deno-<version>-<target>.gz`): its path.
 *
 * @throws {Error} when another platform's build cannot be fetched (no npm, no such version).
 */
export function compressedRuntime(platform: RuntimePlatform): Promise<string> {
  const { target } = platform;
  let made = compressing.get(target);
  if (made === undefined) {
    made = compress(platform);
    compressing.set(target, made);
    made.catch(() => compressing.delete(target));
  }
  return made;
}

async function compress(platform: RuntimePlatform): Promise<string> {
  const local = localRuntime();
  const file = localCacheDir("runtime", `deno-${local.version}-${platform.target}.gz`);
  if (await exists(file)) return file;
  const work = platform.target === local.target ? undefined : await Deno.makeTempDir();
  try {
    const executable = work === undefined
      ? local.executable
      : await fetchNpmRuntime(platform, local.version, work);
    await writeAtomically(file, async (temporary) => {
      using source = await Deno.open(executable);
      using target = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
      await source.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(target.writable);
    });
    return file;
  } finally {
    if (work !== undefined) await Deno.remove(work, { recursive: true });
  }
}

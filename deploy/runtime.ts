/**
 * The local Deno runtime, as shipped to a host that has none: which hosts it
 * runs on (judged by `uname -sm`), its name in the remote cache, and its
 * gzip-compressed copy, made once and kept in the local cache.
 *
 * @module
 */

import { exists } from "./files.ts";
import { localCacheDir, writeAtomically } from "./local_cache.ts";

/** This process's Deno, seen as something to ship. */
export interface LocalRuntime {
  /** `2.9.6`. */
  version: string;
  /** Deno's target triple (`x86_64-unknown-linux-gnu`). */
  target: string;
  /** The executable. */
  executable: string;
  /** Its file name in the remote cache: `deno-<version>-<target>`. */
  remoteName: string;
  /** What `uname -s` and `uname -m` print where it runs: `Linux x86_64`. */
  platform: string;
}

/** `uname -s` for each OS Deno builds for (Windows has no uname: nothing matches it). */
const UNAME_OS: Record<string, string> = {
  linux: "Linux",
  darwin: "Darwin",
  freebsd: "FreeBSD",
  netbsd: "NetBSD",
  openbsd: "OpenBSD",
};

/** `uname -m` for each architecture, as Linux and macOS spell it. */
const UNAME_ARCH: Record<string, readonly string[]> = {
  x86_64: ["x86_64", "amd64"],
  aarch64: ["aarch64", "arm64"],
};

/** This process's runtime. */
export function localRuntime(): LocalRuntime {
  const { os, arch, target } = Deno.build;
  return {
    version: Deno.version.deno,
    target,
    executable: Deno.execPath(),
    remoteName: `deno-${Deno.version.deno}-${target}`,
    platform: `${UNAME_OS[os] ?? os} ${arch}`,
  };
}

/** Whether the local runtime runs on a host whose `uname -s` and `uname -m` are `os` and `arch`. */
export function runtimeRunsOn(os: string, arch: string): boolean {
  return UNAME_OS[Deno.build.os] === os && (UNAME_ARCH[Deno.build.arch] ?? []).includes(arch);
}

let compressing: Promise<string> | undefined;

/**
 * The gzip-compressed runtime (made on first use, ~2 s for ~100 MB, then
 * reused from the local cache): its path.
 */
export function compressedRuntime(): Promise<string> {
  compressing ??= (async () => {
    const runtime = localRuntime();
    const file = localCacheDir("runtime", `${runtime.remoteName}.gz`);
    if (await exists(file)) return file;
    await writeAtomically(file, async (temporary) => {
      using source = await Deno.open(runtime.executable);
      using target = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
      await source.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(target.writable);
    });
    return file;
  })();
  compressing.catch(() => compressing = undefined);
  return compressing;
}

/**
 * rdc's local cache directory (`$XDG_CACHE_HOME/rdc`, else `~/.cache/rdc`):
 * server bundles and the compressed Deno runtime, each written once,
 * atomically, and reused by every deployment from this machine.
 *
 * @module
 */

import { userInfo } from "node:os";
import { basename, dirname, join } from "node:path";

/** The local cache directory, or `sub` inside it. */
export function localCacheDir(...sub: string[]): string {
  const base = Deno.env.get("XDG_CACHE_HOME") || join(
    Deno.env.get("HOME") ?? userInfo().homedir,
    ".cache",
  );
  return join(base, "rdc", ...sub);
}

/**
 * Creates `file` by letting `write` fill a temporary file beside it, then
 * renaming it into place, so readers never see a partial file (and two
 * processes writing the same entry both end with a whole one).
 */
export async function writeAtomically(
  file: string,
  write: (temporary: string) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Hidden, unique, and with the final extension (deno bundle picks its format from it).
  const temporary = join(dirname(file), `.${crypto.randomUUID()}.${basename(file)}`);
  try {
    await write(temporary);
    await Deno.rename(temporary, file);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

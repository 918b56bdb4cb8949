/**
 * Shared helpers of the classic-mode tests: temporary directories, child
 * scripts that import rdc by absolute URL, a classic server child whose stderr
 * goes to a file, and random file contents.
 */

import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { classic, type SubprocessOptions } from "../mod.ts";

/** rdc's mod.ts, for child scripts written to temporary directories. */
export const MOD_URL: string = new URL("../mod.ts", import.meta.url).href;
/** rdc's deno.json: a child script outside the repository needs it for rdc's own imports. */
export const CONFIG_PATH: string = fromFileUrl(new URL("../deno.json", import.meta.url));
/** The default stdio classic server, as a file path. */
export const SERVER_MAIN_PATH: string = fromFileUrl(
  new URL("../core/classic/server_main.ts", import.meta.url),
);

/** A temporary directory, removed with everything in it on dispose. */
export interface TempDir extends AsyncDisposable {
  path: string;
}

/** Makes a temporary directory (its real path, so it compares equal to a remote `Deno.cwd()`). */
export async function tempDir(prefix = "rdc-classic-test-"): Promise<TempDir> {
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix }));
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Writes `source` to `dir/name` and returns the command that runs it with rdc's config. */
export async function scriptCommand(dir: string, name: string, source: string): Promise<string[]> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, source);
  return [Deno.execPath(), "run", "--allow-all", "--quiet", "--config", CONFIG_PATH, path];
}

/** Runs a command to completion and returns its exit code and decoded output. */
export async function runToEnd(
  cmd: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [program, ...args] = cmd;
  const output = await new Deno.Command(program!, { args, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Wraps `cmd` in `sh` so the child's stderr is appended to `stderrFile`
 * instead of ours: tests can check what a stdio server printed itself.
 */
export function withStderrTo(stderrFile: string, cmd: readonly string[]): {
  cmd: string[];
  options: SubprocessOptions;
} {
  return {
    cmd: ["sh", "-c", 'exec "$@" 2>>"$RDC_TEST_STDERR"', "sh", ...cmd],
    options: { env: { RDC_TEST_STDERR: stderrFile } },
  };
}

/** Starts the default classic stdio server with its stderr going to `stderrFile`. */
export function classicChildWithStderr(
  stderrFile: string,
  options: SubprocessOptions = {},
): Promise<classic.ClassicConnection> {
  const wrapped = withStderrTo(stderrFile, classic.defaultServerCommand());
  return classic.connectSubprocess(wrapped.cmd, {
    ...options,
    env: { ...options.env, ...wrapped.options.env },
  });
}

/** Writes a file with exact permission bits (whatever the umask). */
export async function writeFile(path: string, bytes: Uint8Array, mode = 0o644): Promise<void> {
  await Deno.writeFile(path, bytes);
  await Deno.chmod(path, mode);
}

/** `length` random bytes (getRandomValues fills at most 64 KiB at a time). */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65536)));
  }
  return bytes;
}

/** SHA-256 of `bytes`, in hex. */
export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One entry of a tree snapshot: kind, permission bits, and a file's size and hash. */
export interface TreeEntry {
  kind: "file" | "directory";
  mode: string;
  size?: number;
  sha256?: string;
}

/** Every path under `root` (relative, sorted) with what a copy must keep. */
export async function snapshotTree(root: string): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const info = await Deno.stat(path);
      const mode = (info.mode! & 0o7777).toString(8);
      if (info.isDirectory) {
        out[rel] = { kind: "directory", mode };
        await walk(path, rel);
      } else {
        const bytes = await Deno.readFile(path);
        out[rel] = { kind: "file", mode, size: bytes.length, sha256: await sha256(bytes) };
      }
    }
  };
  await walk(root, "");
  return out;
}

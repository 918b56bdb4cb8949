/**
 * The server bundle: one `.mjs` file, made by `deno bundle` from a small
 * entry that runs `serveDeployed` on the service module, and cached locally
 * under a key of its sources (see `source_key.ts`), so only the first
 * deployment of a given version of the code pays for bundling.
 *
 * Contract: `serverBundle` may be called concurrently (one build per key in
 * a process, and concurrent processes each write a whole file); when the
 * module does not bundle it throws an `Error` carrying `deno bundle`'s output.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exists, readTextIfPresent } from "./files.ts";
import { localCacheDir, writeAtomically } from "./local_cache.ts";
import { sourceKey } from "./source_key.ts";

/** A bundle ready to upload. */
export interface Bundle {
  /** The file's bytes. */
  bytes: Uint8Array;
  /** Their hex SHA-256: the name of the file on the remote host. */
  sha256: string;
}

/** The default module: classic mode. */
export const CLASSIC_MODULE: URL = new URL("./classic_service.ts", import.meta.url);
const REMOTE_SERVER = new URL("./remote_server.ts", import.meta.url);

const builds = new Map<string, Promise<Bundle>>();

/**
 * The bundle serving `module` (see `DeployableModule`). `config` is the
 * deno.json to resolve imports with; default: the nearest one above the
 * module (for a file module), else none.
 */
export async function serverBundle(module: URL, config?: string): Promise<Bundle> {
  const entry = [
    `import { serveDeployed } from ${JSON.stringify(REMOTE_SERVER.href)};`,
    `import * as deployed from ${JSON.stringify(module.href)};`,
    `await serveDeployed(deployed);`,
    "",
  ].join("\n");
  const configFile = config ?? await nearestConfig(module);
  const configTexts = configFile === undefined ? [] : await Promise.all(
    [configFile, join(dirname(configFile), "deno.lock")].map(async (file) =>
      await readTextIfPresent(file) ?? ""
    ),
  );
  const key = await sourceKey([module, REMOTE_SERVER], [entry, ...configTexts]);
  let build = builds.get(key);
  if (!build) {
    build = loadOrBuild(key, entry, configFile);
    builds.set(key, build);
    build.catch(() => builds.delete(key));
  }
  return await build;
}

async function loadOrBuild(key: string, entry: string, config: string | undefined) {
  const file = localCacheDir("bundles", `${key}.mjs`);
  if (!(await exists(file))) await writeAtomically(file, (output) => bundle(entry, config, output));
  const bytes = await Deno.readFile(file);
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Runs `deno bundle` on `entry` (source text) into `output`. */
async function bundle(entry: string, config: string | undefined, output: string): Promise<void> {
  const entryFile = await Deno.makeTempFile({ prefix: "rdc_entry_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(entryFile, entry);
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=deno",
        "--minify",
        "--keep-names", // Service names come from class names.
        ...(config === undefined ? [] : [`--config=${config}`]),
        `--output=${output}`,
        entryFile,
      ],
      cwd: config === undefined ? undefined : dirname(config),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr).trim()}`);
    }
  } finally {
    await Deno.remove(entryFile);
  }
}

/** The deno.json or deno.jsonc nearest above a file module. */
async function nearestConfig(module: URL): Promise<string | undefined> {
  if (module.protocol !== "file:") return undefined;
  for (let dir = dirname(fileURLToPath(module));; dir = dirname(dir)) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      if (await exists(join(dir, name))) return join(dir, name);
    }
    if (dirname(dir) === dir) return undefined;
  }
}

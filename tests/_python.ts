/**
 * Real Python RPyC peers for the interop tests: RPyC 5.3 (Debian's
 * python3-rpyc) and 6.0.2 (the vendored tree, by PYTHONPATH). A version that
 * is missing fails its tests under CI=true and skips them otherwise.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { fileExists } from "./_helpers.ts";

/** The interpreter the tests drive (Debian's, where python3-rpyc installs). */
export const PYTHON = "/usr/bin/python3";
/**
 * Where RPyC 6.0.2 is vendored: RDC_RPYC6_PATH, else `shared/vendor/` beside
 * this checkout, else the workplace's own copy (a clone made elsewhere on the
 * same machine still finds it).
 */
export const RPYC6_PATH = Deno.env.get("RDC_RPYC6_PATH") ??
  [
    fromFileUrl(new URL("../../shared/vendor/rpyc-6.0.2", import.meta.url)),
    "/work/shared/vendor/rpyc-6.0.2",
  ].find((path) => fileExists(`${path}/rpyc/__init__.py`)) ??
  fromFileUrl(new URL("../../shared/vendor/rpyc-6.0.2", import.meta.url));
const IN_CI = Deno.env.get("CI") === "true";

/** One RPyC version to test against. */
export interface RpycVersion {
  /** `5.3` or `6.0.2`. */
  name: string;
  /** The envelope it speaks. */
  wire: 5 | 6;
  /** The environment that selects it. */
  env: Record<string, string>;
  /** Why it cannot run here, or null when it can. */
  missing: string | null;
}

function probe(name: string, env: Record<string, string>): string | null {
  try {
    const out = new Deno.Command(PYTHON, {
      args: ["-c", "import rpyc; print(rpyc.__version__)"],
      env,
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const version = new TextDecoder().decode(out.stdout).trim();
    if (out.success && version.startsWith(name)) return null;
    return `${PYTHON} imports RPyC ${version || "(none)"}, not ${name}`;
  } catch {
    return `${PYTHON} is not installed`;
  }
}

/** Both versions, with what each lacks here. */
export const VERSIONS: readonly RpycVersion[] = [
  { name: "5.3", wire: 5, env: {}, missing: probe("5.3", {}) },
  {
    name: "6.0.2",
    wire: 6,
    env: { PYTHONPATH: RPYC6_PATH },
    missing: probe("6.0.2", { PYTHONPATH: RPYC6_PATH }),
  },
];

const warned = new Set<string>();

/** A test per RPyC version; see the module doc for a missing one. */
export function pythonTest(
  name: string,
  fn: (t: Deno.TestContext, version: RpycVersion) => Promise<void>,
): void {
  for (const version of VERSIONS) {
    if (version.missing && !IN_CI && !warned.has(version.name)) {
      warned.add(version.name);
      console.warn(
        `python interop tests: RPyC ${version.name} unavailable (${version.missing}): skipping. ` +
          "apt-get install python3-rpyc (5.3); RDC_RPYC6_PATH=<rpyc-6.0.2 tree> (6.0.2)",
      );
    }
    Deno.test({
      name: `${name} (RPyC ${version.name})`,
      ignore: version.missing !== null && !IN_CI,
      async fn(t) {
        assert.equal(version.missing, null, `RPyC ${version.name} is required (CI=true)`);
        await fn(t, version);
      },
    });
  }
}

/** A Python helper process that printed its ports; `stop` closes its stdin and waits. */
export interface PythonProcess extends AsyncDisposable {
  /** The ports it printed, in order. */
  ports: number[];
  /** Ends it and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts `script` (a file under tests/python/) under `version`; resolves
 * once it printed its ports on one line.
 */
export async function startPython(
  version: RpycVersion,
  script: string,
  args: string[] = [],
): Promise<PythonProcess> {
  const path = fromFileUrl(new URL(`./python/${script}`, import.meta.url));
  const child = new Deno.Command(PYTHON, {
    args: [path, ...args],
    env: version.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${script} exited before printing its ports`);
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const stop = async () => {
    await child.stdin.close().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    await child.status;
  };
  return { ports: line.trim().split(" ").map(Number), stop, [Symbol.asyncDispose]: stop };
}

/** A running tests/python/peer.py: three servers. */
export interface PythonPeer extends PythonProcess {
  /** The port of the classic server (SlaveService). */
  classic: number;
  /** The port of the plain service (default config). */
  service: number;
  /** The port of the same service with allow_public_attrs. */
  public: number;
}

/** Starts tests/python/peer.py under `version` (`bindThreads` sets RPYC_BIND_THREADS). */
export async function startPeer(version: RpycVersion, bindThreads = false): Promise<PythonPeer> {
  const peer = await startPython(version, "peer.py", bindThreads ? ["bind_threads"] : []);
  const [classic, service, pub] = peer.ports;
  return { ...peer, classic, service, public: pub };
}

/** Runs a Python program (`-c code`) under `version`; resolves with its stdout, failing on an error exit. */
export async function runPython(version: RpycVersion, code: string): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", code],
    env: version.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`python failed:\n${stdout}\n${new TextDecoder().decode(out.stderr)}`);
  }
  return stdout;
}

/**
 * A throw-away etcd (Debian's `etcd-server`) for the etcd registrar's tests:
 * one member on free loopback ports (client and peer) with a temporary data
 * directory, killed and removed when disposed.
 *
 * etcd missing: {@linkcode etcdTest} fails the test under `CI=true` (.ci/run
 * installs it) and skips it with a message otherwise.
 */

import assert from "node:assert/strict";
import { freePort, poll, WAIT_MS } from "./_cli.ts";

/** Where Debian's `etcd-server` puts etcd. */
const ETCD = "/usr/bin/etcd";
const IN_CI = Deno.env.get("CI") === "true";

/** A running etcd. */
export interface TestEtcd extends AsyncDisposable {
  /** Its client URL, `http://127.0.0.1:PORT`. */
  url: string;
}

function haveEtcd(): boolean {
  try {
    return Deno.statSync(ETCD).isFile;
  } catch {
    return false;
  }
}

/** Starts etcd and waits until it answers; disposing it kills it and removes its data. */
export async function startEtcd(): Promise<TestEtcd> {
  const dir = await Deno.makeTempDir({ prefix: "rdc-etcd-" });
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const child = new Deno.Command(ETCD, {
    args: [
      "--name=test",
      `--data-dir=${dir}/data`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=test=${peer}`,
      "--log-level=error",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const dispose = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited already.
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await poll(
      async () => {
        try {
          const response = await fetch(`${client}/health`);
          return (await response.json() as { health?: string }).health === "true";
        } catch {
          return false;
        }
      },
      WAIT_MS,
      () => `etcd at ${client} to answer`,
    );
  } catch (error) {
    await dispose();
    throw error;
  }
  return { url: client, [Symbol.asyncDispose]: dispose };
}

/**
 * A test with an etcd of its own: fails without etcd under CI, is skipped
 * with a message elsewhere.
 */
export function etcdTest(name: string, fn: (etcd: TestEtcd) => Promise<void>): void {
  const present = haveEtcd();
  if (!present && !IN_CI) {
    console.warn(`${name}: ${ETCD} is missing (apt-get install etcd-server): skipping`);
  }
  Deno.test({
    name,
    ignore: !present && !IN_CI,
    fn: async () => {
      assert.ok(present, `the etcd tests need ${ETCD} (CI=true): apt-get install etcd-server`);
      await using etcd = await startEtcd();
      await fn(etcd);
    },
  });
}

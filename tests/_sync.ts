/**
 * Helpers of the synchronous-mode tests: the test server in a child process.
 */

import { fileURLToPath as fromFileUrl } from "node:url";

const SERVER = new URL("./_sync_server.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);

/** A running `_sync_server.ts`: its addresses; disposing it ends it. */
export interface SyncServer extends AsyncDisposable {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** A classic server's TCP port on 127.0.0.1. */
  classicPort: number;
  /** The TLS port, when TLS was asked for. */
  tlsPort?: number;
  /** The child process. */
  child: Deno.ChildProcess;
}

/** Starts the test server with `options` (see `_sync_server.ts`). */
export async function startSyncServer(
  options: { unix?: string; tls?: { cert: string; key: string }; token?: string } = {},
): Promise<SyncServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", `--config=${fromFileUrl(CONFIG)}`, fromFileUrl(SERVER)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(options) + "\n"));
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the sync test server exited before it listened");
    text += value;
  }
  reader.releaseLock();
  const addresses = JSON.parse(text.slice(0, text.indexOf("\n")));
  return {
    ...addresses,
    child,
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      await child.stdout.cancel().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

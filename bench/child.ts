/**
 * Starts `server.ts` as a separate Deno process and learns its ports.
 *
 * @module
 */

/** A running server process. Closing it ends its stdin and waits for it to exit. */
export interface BenchServer extends AsyncDisposable {
  /** The rdc server's port on 127.0.0.1. */
  readonly rdcPort: number;
  /** The raw ping-pong server's port on 127.0.0.1. */
  readonly rawPort: number;
  /** The rdc server over WebSocket (`serve({ ws })`, path `/rdc`): its port on 127.0.0.1. */
  readonly wsPort: number;
  /** The raw WebSocket echo endpoint's port on 127.0.0.1. */
  readonly rawWsPort: number;
  /** The process id, for diagnostics. */
  readonly pid: number;
  /** Stops the server and waits for the process; resolves with its exit code. */
  close(): Promise<number>;
}

const SERVER = new URL("./server.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);

/**
 * Spawns the server process. `denoFlags` go before the script (for example
 * `--cpu-prof`, `--cpu-prof-dir=…`).
 *
 * @throws when the process exits or stays silent for 20 s before printing its ports.
 */
export async function startServer(denoFlags: string[] = []): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `--config=${CONFIG.pathname}`, ...denoFlags, SERVER.pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => child.kill(), 20_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`bench server exited early (${(await child.status).code})`);
      text += value;
    }
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout in the background so the server never blocks on it.
  const drain = (async () => {
    while (!(await reader.read()).done) { /* nothing else is expected */ }
  })();
  const ports = JSON.parse(text.slice(0, text.indexOf("\n"))) as Record<string, number>;
  let closing: Promise<number> | null = null;
  const close = () =>
    closing ??= (async () => {
      await child.stdin.close();
      const status = await child.status;
      await drain;
      return status.code;
    })();
  return {
    rdcPort: ports.rdc,
    rawPort: ports.raw,
    wsPort: ports.ws,
    rawWsPort: ports.rawWs,
    pid: child.pid,
    close,
    [Symbol.asyncDispose]: async () => void await close(),
  };
}

/**
 * Scenario 12: another client's ping while one client's call keeps the
 * server's CPU busy, on a concurrent classic server and on a pool of two
 * workers (`rdc classic -m concurrent|pool`, each a process of its own).
 * Each figure is the ping's time as a ratio to the same server's idle ping,
 * measured in the same repeat; the repeats alternate the two servers, and
 * the medians are reported. Goal: the pool's ratio at most a tenth of the
 * concurrent server's.
 *
 * @module
 */

import { classic } from "../mod.ts";

type ClassicConnection = classic.ClassicConnection;
import type { Single } from "./report.ts";
import { median, ratios, round } from "./stats.ts";

const MODES = ["concurrent", "pool"] as const;
type Mode = typeof MODES[number];

/** A classic server of `mode` in a child process, and a client pair. */
async function start(
  mode: Mode,
): Promise<AsyncDisposable & { a: ClassicConnection; b: ClassicConnection }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../cli/main.ts", import.meta.url).pathname,
      "classic",
      "-q",
      "-m",
      mode,
      ...(mode === "pool" ? ["--workers", "2"] : []),
      "-p",
      `${port}`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const quiet = () => {};
  for (let attempt = 0;; attempt++) {
    try {
      const a = await classic.connect("127.0.0.1", port, { logger: quiet });
      const b = await classic.connect("127.0.0.1", port, { logger: quiet });
      return {
        a,
        b,
        async [Symbol.asyncDispose]() {
          await a.close();
          await b.close();
          child.kill("SIGTERM");
          await child.status;
        },
      };
    } catch (error) {
      if (attempt > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Milliseconds of one ping on `conn`. */
async function pingMs(conn: ClassicConnection): Promise<number> {
  const start = performance.now();
  await conn.ping();
  return performance.now() - start;
}

/** One repeat on `mode`: the idle ping's median, and the ping during a `busyMs` busy call. */
async function measure(mode: Mode, busyMs: number): Promise<{ idle: number; busy: number }> {
  await using pair = await start(mode);
  const idle: number[] = [];
  for (let i = 0; i < 21; i++) idle.push(await pingMs(pair.b));
  const busy = pair.a.eval(
    `(() => { const end = Date.now() + ${busyMs}; while (Date.now() < end); })()`,
  );
  await new Promise((resolve) => setTimeout(resolve, busyMs / 5)); // The loop has begun.
  const during = await pingMs(pair.b);
  await busy;
  return { idle: median(idle), busy: during };
}

/** Scenario 12, `repeats` times, alternating the servers; see the module's doc. */
export async function busyPings(busyMs: number, repeats: number): Promise<Single> {
  const results: Record<Mode, { idle: number[]; busy: number[] }> = {
    concurrent: { idle: [], busy: [] },
    pool: { idle: [], busy: [] },
  };
  for (let i = 0; i < repeats; i++) {
    for (const mode of i % 2 === 0 ? MODES : [...MODES].reverse()) {
      const { idle, busy } = await measure(mode, busyMs);
      results[mode].idle.push(idle);
      results[mode].busy.push(busy);
    }
  }
  const ratio = (mode: Mode) => median(ratios(results[mode].busy, results[mode].idle));
  const shown = (mode: Mode) =>
    `${mode} ${round(median(results[mode].busy))} ms (${round(ratio(mode))}× idle)`;
  return {
    peer: "rdc",
    scenario: `12 ping during a ${busyMs} ms busy call`,
    figures: `${shown("concurrent")}; ${shown("pool")} of 2`,
    met: ratio("pool") <= ratio("concurrent") / 10,
  };
}

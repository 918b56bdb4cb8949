/**
 * The timing loop of the "ping under a big pull" scenario: pings back to
 * back on one connection for as long as a pull runs on another.
 *
 * @module
 */

import type { PullResult } from "./peer.ts";
import { median } from "./stats.ts";

/**
 * Starts pinging with `ping` (each awaited before the next), then starts
 * `pull`; once the pull settles, lets the ping in flight finish and stops.
 * The last ping may end after the pull; it counts, since it was sent while
 * the pull ran. Returns the pull's time and the pings' worst, median and
 * count, each round trip as the caller saw it (event-loop delays included).
 *
 * @throws what `pull` or a ping throws (the pings stop either way).
 */
export async function pingWhile(
  ping: () => Promise<unknown>,
  pull: () => Promise<void>,
): Promise<PullResult> {
  const pings: number[] = [];
  let pulling = true;
  const pinger = (async () => {
    while (pulling) {
      const start = performance.now();
      await ping();
      pings.push(performance.now() - start);
    }
  })();
  const start = performance.now();
  let pullMs: number;
  try {
    await pull();
    pullMs = performance.now() - start;
  } finally {
    pulling = false;
    // A failed pull is the error to report, not the pings it broke.
    await pinger.catch(() => {});
  }
  await pinger;
  return {
    worstPingMs: Math.max(...pings),
    medianPingMs: median(pings),
    pullMs,
    pings: pings.length,
  };
}

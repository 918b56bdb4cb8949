/**
 * A client for profiling rdc's hot path: warms up, then makes `--calls`
 * (default 20 000) sequential `await root.add(1, 2)` calls against the bench
 * server process, and closes.
 *
 * ```sh
 * deno run --allow-all --cpu-prof --cpu-prof-dir=/tmp/rdc-prof bench/profile.ts \
 *   --server-prof=/tmp/rdc-prof-server
 * deno run --allow-read bench/cpuprofile.ts /tmp/rdc-prof/*.cpuprofile
 * ```
 *
 * `--server-prof DIR` profiles the server process too (its profile lands in
 * DIR when it exits). `--raw` profiles the raw ping-pong baseline instead,
 * with the same byte counts as an rdc call, for comparison. `--ws` does all
 * of it over a loopback WebSocket (`serve({ ws })`, and the server's raw
 * WebSocket echo) instead of TCP.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect, connectWebSocket } from "../mod.ts";
import { startServer } from "./child.ts";
import { RawClient } from "./raw.ts";
import { wire } from "./scenarios.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    calls: { type: "string", default: "20000" },
    "server-prof": { type: "string" },
    raw: { type: "boolean", default: false },
    ws: { type: "boolean", default: false },
  },
});
const calls = Number(flags.calls);
const serverFlags = flags["server-prof"]
  ? ["--cpu-prof", `--cpu-prof-dir=${flags["server-prof"]}`]
  : [];

await using server = await startServer(serverFlags);
await using conn = flags.ws
  ? await connectWebSocket(`ws://127.0.0.1:${server.wsPort}/rdc`)
  : await connect("127.0.0.1", server.rdcPort);
const root = conn.root;
for (let i = 0; i < 2000; i++) await root.add(1, 2);
let op: () => Promise<unknown> = () => root.add(1, 2);
let close = () => {};
if (flags.raw) {
  const { bytesOut, bytesIn } = await wire(conn, op);
  if (flags.ws) {
    const echo = await openEcho(server.rawWsPort, Math.round(bytesOut));
    op = echo.roundTrip;
    close = echo.close;
  } else {
    const raw = await RawClient.open(server.rawPort, bytesOut, bytesIn);
    op = () => raw.roundTrip();
    close = () => raw.close();
  }
  for (let i = 0; i < 2000; i++) await op();
}
const start = performance.now();
for (let i = 0; i < calls; i++) await op();
const us = ((performance.now() - start) * 1000) / calls;
close();
console.log(
  `${calls} sequential ${flags.raw ? "raw round trips" : "calls"}, ${us.toFixed(1)} µs each ` +
    `(profiling overhead included)`,
);

/** A WebSocket to the server's raw echo endpoint: each round trip sends `size` bytes and awaits the echo. */
async function openEcho(
  port: number,
  size: number,
): Promise<{ roundTrip: () => Promise<void>; close: () => void }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`raw WebSocket to port ${port} failed`));
  });
  const message = new Uint8Array(size).fill(0xa5);
  let echoed: (() => void) | null = null;
  socket.onmessage = () => echoed?.();
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        echoed = resolve;
        socket.send(message);
      }),
    close: () => socket.close(),
  };
}

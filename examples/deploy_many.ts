/**
 * Zero-deploy to several hosts at once: RPyC's `MultiServerDeployment`, but
 * in parallel. Each host gets a classic server; the example asks them all
 * for their host name and load, then runs one function everywhere. A host
 * that fails is reported and left out.
 *
 * ```sh
 * deno run -A examples/deploy_many.ts me@node-1 me@node-2:2222 node-3
 * ```
 *
 * Hosts are `[user@]host[:port]` or ~/.ssh/config aliases; their keys must
 * be in ~/.ssh/known_hosts. ssh-agent is used when SSH_AUTH_SOCK is set.
 *
 * @module
 */

import { MultiServerDeployment } from "../deploy/mod.ts";

if (Deno.args.length === 0) {
  console.error("usage: deploy_many.ts HOST...");
  Deno.exit(2);
}

const started = performance.now();
await using cluster = await MultiServerDeployment.start(Deno.args);
console.log(
  `deployed to ${cluster.servers.length} of ${Deno.args.length} hosts in ` +
    `${Math.round(performance.now() - started)} ms`,
);

for (const { host, error } of cluster.failures) console.error(`${host}: ${error.message}`);

const conns = await cluster.classicConnectAll();
const deployed = cluster.results.filter((result) => result.status === "fulfilled");
const reports = await Promise.all(conns.map(async (conn, index) => {
  const os = conn.modules["node:os"];
  const [name, load, pid] = await Promise.all([os.hostname(), os.loadavg(), conn.globals.Deno.pid]);
  return `${deployed[index]!.host}: ${name}, pid ${pid}, load ${load[0]}`;
}));
for (const report of reports) console.log(report);

// The same function, shipped by source and run on every host.
const uptimes = await Promise.all(
  conns.map(async (conn) => await (await conn.teleport(() => Deno.osUptime()))()),
);
console.log(`uptimes (s): ${uptimes.join(", ")}`);

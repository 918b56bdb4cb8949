/**
 * Zero-deploy to one host: connect over SSH, deploy a classic server (nothing
 * to install there beforehand), use the remote process, and deploy a second,
 * restricted server that may read only /etc. RPyC's
 * `DeployedServer(SshMachine(host))`, plus a permission set RPyC cannot offer.
 *
 * ```sh
 * deno run -A examples/deploy_single.ts me@build-01:2222
 * deno run -A examples/deploy_single.ts box -i ~/.ssh/deploy_key --known-hosts accept-new
 * ```
 *
 * The host may be an alias of ~/.ssh/config; its key must be in
 * ~/.ssh/known_hosts (or pass `--known-hosts accept-new`). ssh-agent is used
 * when SSH_AUTH_SOCK is set.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DeployedServer, type KnownHostsMode, SshMachine } from "../deploy/mod.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    identity: { type: "string", short: "i" },
    "known-hosts": { type: "string", default: "enforce" },
  },
  allowPositionals: true,
});
const [host] = positionals;
if (host === undefined) {
  console.error("usage: deploy_single.ts USER@HOST[:PORT] [-i KEY] [--known-hosts MODE]");
  Deno.exit(2);
}

await using machine = await SshMachine.connect({
  host,
  identity: values.identity,
  knownHosts: values["known-hosts"] as KnownHostsMode,
});
console.log(
  `connected to ${machine.destination}: ${(await machine.exec("uname -sr")).stdout.trim()}`,
);

{
  await using server = await DeployedServer.start(machine);
  console.log(
    `deployed (${server.uploaded.length ? `uploaded: ${server.uploaded.join(", ")}` : "cached"})`,
  );
  const conn = await server.classicConnect();
  const os = conn.modules["node:os"];
  console.log(
    `remote pid ${await conn.globals.Deno.pid} on ${await os.hostname()}, local pid ${Deno.pid}`,
  );
  const cpus = await conn.teleport(() => navigator.hardwareConcurrency);
  console.log(`remote cpus: ${await cpus()}, load: ${(await os.loadavg()).join(" ")}`);
}

{
  // Deno permissions bound what the deployed process may do, whatever the client sends it.
  await using server = await DeployedServer.start(machine, { permissions: ["--allow-read=/etc"] });
  const conn = await server.classicConnect();
  const entries = await conn.eval("[...Deno.readDirSync('/etc')].length");
  console.log(`restricted: /etc has ${entries} entries`);
  try {
    await conn.eval("Deno.readDirSync('/tmp')");
  } catch (error) {
    console.log(`restricted: reading /tmp fails: ${(error as Error).name}`);
  }
}

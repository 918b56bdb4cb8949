/**
 * examples/registry.ts, run as a user runs it (a real subprocess, network
 * permission only): it must exit 0 and show both servers found, one stopped,
 * and the client sent to the other.
 */

import assert from "node:assert/strict";
import { RdcProcess } from "./_cli.ts";

Deno.test("examples/registry.ts: discovers two servers, connects by name, fails over", async () => {
  await using run = new RdcProcess(["run", "--allow-net", "examples/registry.ts"], {
    command: [Deno.execPath()],
  });
  const status = await run.wait();
  assert.equal(status.code, 0, run.output());
  const lines = run.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^registry: udp 127\.0\.0\.1:\d+$/, run.output());
  assert.match(lines[1]!, /^found 2 Greeter servers: \d+, \d+$/, run.output());
  assert.equal(lines[2], "services listed: GREETER", run.output());
  const first = lines[3]!.match(/^hello client, from (server [AB])$/)?.[1];
  assert.ok(first, run.output());
  const other = first === "server A" ? "server B" : "server A";
  assert.equal(lines[4], `${first} stopped; 1 left`, run.output());
  assert.equal(lines[5], `hello client, from ${other}`, run.output());
  assert.equal(lines[6], "done", run.output());
});

/**
 * README's samples that claim an output, run as they are written: each
 * block is taken from README.md, its `@rdc/rdc` import pointed at this
 * checkout and its port at a free one, run in a subprocess, and what it
 * prints compared with the `// …` comment of each `console.log` line.
 */

import assert from "node:assert/strict";
import { freePort } from "./_cli.ts";

const README = new URL("../README.md", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url).href;

/** The first TypeScript block after `heading`. */
async function blockAfter(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(README);
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has no heading ${heading}`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(match, `no TypeScript block after ${heading}`);
  return match[1];
}

/** The outputs a block claims: the comment after each `console.log(…);`, quotes dropped. */
function claimedOutputs(block: string): string[] {
  return [...block.matchAll(/^\s*console\.log\(.*\);\s*\/\/ (.*)$/gm)]
    .map((m) => m[1].trim().replace(/^"(.*)"$/, "$1"));
}

/** Runs `block` against this checkout on a free port; returns its printed lines. */
async function run(block: string): Promise<string[]> {
  const port = freePort();
  const source = block.replaceAll('"@rdc/rdc"', JSON.stringify(MOD)).replaceAll("18861", `${port}`);
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, source);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, `the sample failed:\n${text}\n${new TextDecoder().decode(stderr)}`);
    return text.trimEnd().split("\n");
  } finally {
    await Deno.remove(file);
  }
}

for (
  const heading of [
    "## Services",
    "### Netrefs",
    "## Synchronous mode",
    "## Transports",
    "### WebSocket",
    "## Bulk data",
  ]
) {
  Deno.test(`README: the sample under "${heading}" prints what it says`, async () => {
    const block = await blockAfter(heading);
    const claimed = claimedOutputs(block);
    assert.ok(claimed.length > 0, "the block claims no output");
    assert.deepEqual(await run(block), claimed);
  });
}

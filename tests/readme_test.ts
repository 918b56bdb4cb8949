/**
 * README can never drift from the code:
 *
 * - every TypeScript block of README.md and every JSDoc example of the
 *   package type-checks (`deno check --doc-only`, `--doc`);
 * - every TypeScript block runs, as it is written, in a subprocess against
 *   this checkout (its `@rdc/rdc` import pointed here, port 18861 moved to a
 *   free one, 18811 to a registry started for it; a block importing
 *   `@rdc/rdc/python` runs once per RPyC version against a Python classic
 *   server on port 18812), and prints what the `// …`
 *   comment of each `console.log` line claims. A block that cannot run alone
 *   says why in a `<!-- not run: REASON -->` line right above it; a block
 *   under `<!-- file: NAME … -->` is written as NAME beside the next block
 *   that runs.
 */

import assert from "node:assert/strict";
import { freePort } from "./_cli.ts";
import { serveRegistry } from "../mod.ts";
import { quietLogger } from "./_helpers.ts";
import { pythonTest, startPeer } from "./_python.ts";

const ROOT = new URL("..", import.meta.url);
const README = new URL("README.md", ROOT);
const MOD = new URL("mod.ts", ROOT).href;
const PYTHON_MOD = new URL("core/python/mod.ts", ROOT).href;
const PYTHON_IMPORT = '"@rdc/rdc/python"';
/** How many times a registry sample runs: registering raced discovery once. */
const REGISTRY_RUNS = 3;

/** A TypeScript block of README and what the line above it says about it. */
interface Block {
  /** `line N, under "## Heading"`. */
  where: string;
  source: string;
  /** Set by `<!-- not run: REASON -->`. */
  notRun?: string;
  /** Set by `<!-- file: NAME … -->`. */
  file?: string;
}

/** Every TypeScript block of README, in order. */
function readmeBlocks(readme: string): Block[] {
  const blocks: Block[] = [];
  let heading = "(top)";
  const lines = readme.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{1,6} /.test(line)) heading = line;
    if (line.trim() !== "```ts") continue;
    const indent = line.indexOf("```");
    const start = i;
    const body: string[] = [];
    for (i++; lines[i]!.trim() !== "```"; i++) body.push(lines[i]!.slice(indent));
    const above = lines.slice(Math.max(0, start - 2), start).join("\n");
    blocks.push({
      where: `line ${start + 1}, under "${heading}"`,
      source: body.join("\n") + "\n",
      notRun: /<!-- not run: (.+?) -->/.exec(above)?.[1],
      file: /<!-- file: (\S+)/.exec(above)?.[1],
    });
  }
  return blocks;
}

/** The outputs a block claims: the comment after each `console.log(…);`, quotes dropped. */
function claimedOutputs(block: string): string[] {
  return [...block.matchAll(/^\s*console\.log\(.*\);\s*\/\/ (.*)$/gm)]
    .map((m) => m[1]!.trim().replace(/^"(.*)"$/, "$1"));
}

/** Runs `block` against this checkout in a fresh directory holding `files`; returns its lines. */
async function run(block: string, files: Map<string, string>, ports: Map<string, number>) {
  const here = (source: string) => {
    let text = source.replaceAll('"@rdc/rdc"', JSON.stringify(MOD))
      .replaceAll(PYTHON_IMPORT, JSON.stringify(PYTHON_MOD));
    for (const [from, to] of ports) text = text.replaceAll(from, `${to}`);
    return text;
  };
  const dir = await Deno.makeTempDir({ prefix: "rdc-readme-" });
  try {
    for (const [name, source] of files) await Deno.writeTextFile(`${dir}/${name}`, here(source));
    await Deno.writeTextFile(`${dir}/main.ts`, here(block));
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "main.ts"],
      cwd: dir,
      env: { RDC_TOKEN: "a README secret", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, `the sample failed:\n${text}\n${new TextDecoder().decode(stderr)}`);
    return text === "" ? [] : text.trimEnd().split("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const blocks = readmeBlocks(await Deno.readTextFile(README));

Deno.test("README: every TypeScript block runs or says why not", () => {
  assert.ok(blocks.length >= 15, `only ${blocks.length} blocks found`);
  for (const block of blocks) {
    if (block.notRun !== undefined) assert.ok(block.notRun.length > 10, block.where);
  }
});

let files = new Map<string, string>();
for (const block of blocks) {
  if (block.file !== undefined) {
    files.set(block.file, block.source);
    continue;
  }
  if (block.notRun !== undefined) continue;
  const beside = files;
  files = new Map();
  if (block.source.includes(PYTHON_IMPORT)) {
    pythonTest(
      `README: the sample at ${block.where} runs and prints what it says`,
      async (_, v) => {
        await using peer = await startPeer(v);
        const ports = new Map([["18812", peer.classic]]);
        assert.deepEqual(await run(block.source, beside, ports), claimedOutputs(block.source));
      },
    );
    continue;
  }
  Deno.test(`README: the sample at ${block.where} runs and prints what it says`, async () => {
    const claimed = claimedOutputs(block.source);
    const runs = block.source.includes("18811") ? REGISTRY_RUNS : 1;
    for (let i = 0; i < runs; i++) {
      await using registry = block.source.includes("18811")
        ? await serveRegistry({ port: 0, logger: quietLogger() })
        : undefined;
      const ports = new Map([["18861", freePort()]]);
      if (registry) ports.set("18811", registry.addr.port);
      const printed = await run(block.source, beside, ports);
      if (claimed.length > 0) assert.deepEqual(printed, claimed, `run ${i + 1}`);
    }
  });
}

/** Runs `deno check` with `args` from the repository's root; fails with its output. */
async function denoCheck(...args: string[]): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(
    code,
    0,
    `deno check ${args.join(" ")}:\n${decoder.decode(stdout)}${decoder.decode(stderr)}`,
  );
}

Deno.test("README's TypeScript blocks type-check (deno check --doc-only README.md)", async () => {
  await denoCheck("--doc-only", "README.md");
});

Deno.test("every JSDoc example of the package type-checks (deno check --doc)", async () => {
  await denoCheck("--doc", "mod.ts", "web.ts", "core/", "cli/", "deploy/");
});

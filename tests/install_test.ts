/**
 * What a user's own project sees when it depends on rdc as README's
 * "Install" section says, offline: the package's files copied into
 * `vendor/rdc` of a fresh project, mapped by its deno.json, and imported by
 * the package's names (`@rdc/rdc`, `@rdc/rdc/deploy`) from a real `deno run`;
 * and what it sees importing the package by URL (from a git host, say: here
 * a loopback HTTP server of this checkout), where no deno.json of rdc's
 * applies.
 */

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

/** The files `deno publish` ships (deno.json's publish.include), copied to `dir`. */
async function copyPackage(dir: string): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const entry of config.publish.include as string[]) {
    const { code, stderr } = await new Deno.Command("cp", {
      args: ["-r", new URL(entry, ROOT).pathname, `${dir}/`],
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  }
}

/** The import map README's "Install" section shows, from its json block. */
async function readmeImportMap(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const install = readme.slice(readme.indexOf("\n## Install\n"));
  const match = /```json\n([\s\S]*?)```/.exec(install);
  assert.ok(match, "README's Install section has no json block");
  return match[1]!;
}

/** Serves this checkout's files over HTTP on loopback, as TypeScript. */
function serveCheckout(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    try {
      const text = await Deno.readTextFile(new URL(`.${path}`, ROOT));
      return new Response(text, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/**
 * A program that imports rdc's core from `core` (and `extra` lines before
 * it) and prints `1 + 2` computed by a service, then `also`.
 */
function calculatorProgram(core: string, extra = "", also = ""): string {
  return `${extra}import { connectInProcess, Service } from "${core}";
class CalculatorService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }
}
await using conn = await connectInProcess(CalculatorService);
console.log(await conn.root.add(1, 2)${also});
`;
}

/** `deno run -A main.ts` in `dir` with `source` as main.ts. */
async function runIn(dir: string, source: string) {
  await Deno.writeTextFile(`${dir}/main.ts`, source);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("a fresh project with a vendored copy and README's import map uses rdc and its deploy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rdc-install-" });
  try {
    await Deno.mkdir(`${dir}/vendor/rdc`, { recursive: true });
    await copyPackage(`${dir}/vendor/rdc`);
    await Deno.writeTextFile(`${dir}/deno.json`, await readmeImportMap());

    // The core needs no npm package at all: nothing is installed, so nothing is locked.
    const core = await runIn(dir, calculatorProgram("@rdc/rdc"));
    assert.equal(core.code, 0, core.stderr);
    assert.equal(core.stdout, "3\n", core.stderr);
    const locked = await Deno.readTextFile(`${dir}/deno.lock`).catch(() => "");
    assert.ok(!locked.includes("ssh2"), `a program that does not deploy locked ssh2:\n${locked}`);

    // Zero-deploy brings its one npm package along, with no entry in the project's map.
    const deploy = await runIn(
      dir,
      `import { SshMachine } from "@rdc/rdc/deploy";
console.log(typeof SshMachine.connect);
`,
    );
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.equal(deploy.stdout, "function\n", deploy.stderr);
    assert.doesNotMatch(deploy.stderr, /not a dependency/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a project importing rdc and its deploy by URL needs no import map", async () => {
  await using http = serveCheckout();
  const base = `http://127.0.0.1:${http.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "rdc-url-" });
  try {
    const run = await runIn(
      dir,
      calculatorProgram(
        `${base}/mod.ts`,
        `import { SshMachine } from "${base}/deploy/mod.ts";\n`,
        ", typeof SshMachine.connect",
      ),
    );
    assert.doesNotMatch(run.stderr, /not a dependency/);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "3 function\n", run.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

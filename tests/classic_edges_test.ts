/**
 * Edge cases of classic mode, the stdio and isolated servers and the rdc
 * command, each once a defect: crafted remote listings, odd chunk sizes,
 * symlink cycles, floods of console output, children that ignore signals or
 * leave processes behind, permissions, and JavaScript corners of the
 * namespace (`let x;`, `typeof (x)`, declarations in `eval`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { classic, PERMISSIVE, serve, TimeoutError } from "../mod.ts";
import { quietLogger, rejection } from "./_helpers.ts";
import { MOD_URL, scriptCommand, tempDir } from "./_classic.ts";
import { oneshotAddress, RdcProcess, within } from "./_cli.ts";

type Conn = classic.ClassicConnection;

/** A classic server in this process and one client, both closed on dispose. */
async function inProcess(
  options: Parameters<typeof classic.connect>[2] = {},
): Promise<{ conn: Conn } & AsyncDisposable> {
  const server = classic.serve({ port: 0, logger: quietLogger() });
  const conn = await classic.connect("127.0.0.1", (server.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
    ...options,
  });
  return {
    conn,
    async [Symbol.asyncDispose]() {
      await conn.close();
      await server.close();
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

// --- the namespace scope: eval and execute ---------------------------------------------------

Deno.test("classic edge: typeof(NAME) with parentheses is 'undefined' for a name defined nowhere", async () => {
  await using s = await inProcess();
  assert.equal(await s.conn.eval("typeof nowhereDefined"), "undefined"); // works today
  // `typeof(x)` is common (legacy browser checks); guardTypeof only rewrites `typeof NAME`.
  assert.equal(await s.conn.eval("typeof(nowhereDefined)"), "undefined");
  assert.equal(await s.conn.eval("typeof (nowhereDefined) === 'undefined'"), true);
});

Deno.test("classic edge: a top-level `let x;` without an initializer defines x (as undefined)", async () => {
  await using s = await inProcess();
  // Plain JavaScript: `let total; total === undefined` is true.
  await s.conn.execute("let total;\nif (total === undefined) total = 0;\ntotal += 5");
  assert.equal(await s.conn.eval("total"), 5);
  assert.equal(await s.conn.eval("let later; later"), undefined);
  assert.equal(await s.conn.eval("typeof later"), "undefined");
  assert.equal(await s.conn.eval("'later' in globalThis"), false);
});

Deno.test("classic edge: global EventTarget functions work when called bare from classic code", async () => {
  await using s = await inProcess();
  // In a script, `addEventListener(...)` is called with `this` = globalThis; inside
  // `with (scope)` it is called with the scope proxy as `this` and fails the brand check.
  const heard = await s.conn.eval(`(() => {
    let count = 0;
    const handler = () => { count++; };
    addEventListener("rdc-review-event", handler);
    dispatchEvent(new Event("rdc-review-event"));
    removeEventListener("rdc-review-event", handler);
    return count;
  })()`);
  assert.equal(heard, 1);
});

Deno.test("classic edge: eval of a function or class declaration defines its name, as eval does", async () => {
  await using s = await inProcess();
  // JavaScript's eval("function f() {}") declares f; here it is taken as an expression.
  await s.conn.eval("function declaredByEval() { return 7; }");
  assert.equal(await s.conn.eval("typeof declaredByEval"), "function");
  await s.conn.eval("class DeclaredByEval {}");
  assert.equal(await s.conn.eval("typeof DeclaredByEval"), "function");
});

Deno.test("classic edge: assigning to undefined does not redefine undefined for the namespace", async () => {
  await using s = await inProcess();
  // Sloppy JavaScript ignores this (undefined is a read-only global); here it lands in the
  // namespace and every later `x === undefined` of this connection sees 5.
  await s.conn.execute("undefined = 5");
  assert.equal(await s.conn.eval("undefined"), undefined);
  assert.equal(await s.conn.eval("let unset; unset === undefined"), true);
});

// --- ClassicConnection ------------------------------------------------------------------------

Deno.test("classic edge: conn.modules is not a thenable (awaiting it must not hang)", async () => {
  await using s = await inProcess();
  const modules = s.conn.modules;
  // `then` is read by every await / Promise.resolve / async return: it must not be
  // taken for a module specifier (today it imports 'then' remotely and calls it).
  assert.equal(typeof (modules as { then?: unknown }).then, "undefined");
  const settled = await within(
    (async () => {
      const value = await modules; // e.g. `return conn.modules` from an async function
      return value === modules;
    })(),
    5_000,
    "await conn.modules",
  ).catch((error) => error as Error);
  assert.equal(settled, true, `await conn.modules: ${settled}`);
});

Deno.test("classic edge: a redirect can still be stopped (no throw) after its connection closed", async () => {
  await using s = await inProcess();
  const redirect = await s.conn.redirectStdio({ write: () => {} });
  await s.conn.close();
  // The redirect ended with the connection; `await using` of it must not throw then.
  await redirect.stop();
  await redirect[Symbol.asyncDispose]();
});

Deno.test("classic edge: a burst of console output larger than one frame does not kill the connection", async () => {
  // The client accepts frames of 4 MiB; 12 lines of 1 MiB arrive in writes that fit.
  await using s = await inProcess({ maxFrameSize: 4 << 20 });
  let received = 0;
  const redirect = await s.conn.redirectStdio({
    write: (_stream, text) => void (received += text.length),
  });
  const line = 1 << 20;
  const error = await rejection(
    s.conn.execute(`const l = "x".repeat(${line}); for (let i = 0; i < 12; i++) console.log(l);`),
  ).catch(() => undefined);
  assert.equal(error, undefined, `execute failed: ${error}; closed: ${s.conn.closeReason}`);
  assert.equal(s.conn.closed, false, `closed: ${s.conn.closeReason?.message}`);
  await redirect.stop();
  assert.equal(received, 12 * (line + 1));
});

Deno.test("classic edge: a flood of console output is capped, said so, and the connection lives", async () => {
  await using s = await inProcess();
  let received = 0;
  let notice = "";
  const redirect = await s.conn.redirectStdio({
    write: (_stream, text) => {
      received += text.length;
      if (text.includes("[rdc:")) notice = text;
    },
  });
  await s.conn.execute(
    `const l = "x".repeat(${1 << 20}); for (let i = 0; i < 40; i++) console.log(l);`,
  );
  await redirect.stop();
  assert.equal(s.conn.closed, false);
  assert.ok(received < 40 * ((1 << 20) + 1), "everything arrived: nothing was capped");
  assert.match(notice, /\[rdc: \d+ characters of output dropped\]/);
  assert.equal(await s.conn.eval("1 + 1"), 2);
});

// --- upload / download -----------------------------------------------------------------------

/** A file service that lists a crafted name, as a hostile or broken server could. */
class CraftedFiles extends classic.FileAccess {
  constructor(readonly payload: string, readonly names: string[]) {
    super();
  }
  override stat(path: string): Promise<classic.PathInfo> {
    return Promise.resolve(
      path === "/crafted"
        ? { kind: "directory", mode: 0o755, size: 0, identity: null }
        : { kind: "file", mode: 0o644, size: 5, identity: null },
    );
  }
  override list(): Promise<classic.DirectoryEntry[]> {
    return Promise.resolve(this.names.map((name) => ({ name, kind: "file" as const })));
  }
  override async openRead(): Promise<classic.FileChannel> {
    return new classic.FileChannel(await Deno.open(this.payload));
  }
}

Deno.test("classic edge: download never writes outside the target for crafted remote names", async () => {
  await using dir = await tempDir();
  const payload = join(dir.path, "payload.txt");
  await Deno.writeTextFile(payload, "pwned");
  const names = ["../escaped.txt", "sub/../../escaped2.txt", "..", "."];
  class CraftedService extends classic.ClassicService {
    override readonly exposed_files: classic.FileAccess = new CraftedFiles(payload, names);
  }
  await using server = serve(CraftedService, { ...PERMISSIVE, port: 0, logger: quietLogger() });
  await using conn = await classic.connect("127.0.0.1", (server.addr as Deno.NetAddr).port);
  const inbox = join(dir.path, "inbox");
  await Deno.mkdir(inbox);
  await conn.download("/crafted", join(inbox, "target")).catch(() => {}); // refusing is fine
  assert.equal(await exists(join(inbox, "escaped.txt")), false, "wrote ../escaped.txt");
  assert.equal(await exists(join(inbox, "escaped2.txt")), false, "wrote sub/../../escaped2.txt");
  assert.equal((await Deno.stat(join(inbox, "target")).catch(() => null))?.isFile ?? false, false);
});

Deno.test("classic edge: download does not create set-uid files from modes the remote end reports", async () => {
  await using dir = await tempDir();
  const payload = join(dir.path, "payload.sh");
  await Deno.writeTextFile(payload, "#!/bin/sh\nid\n");
  class SetuidFiles extends CraftedFiles {
    override stat(): Promise<classic.PathInfo> {
      return Promise.resolve({ kind: "file", mode: 0o4777, size: 13, identity: null });
    }
  }
  class SetuidService extends classic.ClassicService {
    override readonly exposed_files: classic.FileAccess = new SetuidFiles(payload, []);
  }
  await using server = serve(SetuidService, { ...PERMISSIVE, port: 0, logger: quietLogger() });
  await using conn = await classic.connect("127.0.0.1", (server.addr as Deno.NetAddr).port);
  const target = join(dir.path, "tool");
  await conn.download("/anything", target);
  const mode = (await Deno.stat(target)).mode! & 0o7777;
  // cp, tar (as a user) and RPyC drop set-uid/set-gid: a server must not mint them here.
  assert.equal(mode & 0o6000, 0, `downloaded with mode ${mode.toString(8)}`);
});

Deno.test("classic edge: a directory copy does not follow a symlink cycle", async () => {
  await using dir = await tempDir();
  await using s = await inProcess();
  const source = join(dir.path, "src");
  await Deno.mkdir(source);
  await Deno.writeTextFile(join(source, "a.txt"), "a");
  await Deno.symlink(".", join(source, "loop")); // loop -> the directory itself
  const target = join(dir.path, "dst");
  // Either refused or copied without following the cycle; today it copies ~40 nested
  // levels (until ELOOP), and two such links make it 2^40 copies: a hang.
  await s.conn.upload(source, target).catch(() => {});
  assert.equal(await exists(join(target, "loop", "loop")), false, "followed loop -> . again");
});

Deno.test("classic edge: a fractional chunkSize does not spin forever", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "f.bin");
  await Deno.writeFile(file, new Uint8Array(16).fill(7));
  // The server's read loop asks for 1.5 bytes, gets a 1-byte buffer and then reads 0 bytes
  // forever; upload spins the same way in this process (so it is not run here).
  await using conn = await classic.connectSubprocess(undefined, { timeout: 2_000 });
  const copy = join(dir.path, "copy.bin");
  const error = await rejection(conn.download(file, copy, { chunkSize: 1.5 })).catch(() => null);
  // A spinning server never reads its stdin again: end it here rather than after SIGTERM.
  if (error instanceof TimeoutError) conn.process!.kill("SIGKILL");
  assert.ok(!(error instanceof TimeoutError), "download hung on chunkSize 1.5 (timed out)");
  if (error === null) assert.deepEqual(await Deno.readFile(copy), await Deno.readFile(file));
  else assert.ok(error instanceof RangeError, `got ${error}`);
});

Deno.test("classic edge: a chunkSize above this end's message limit fails clearly, not by disconnecting", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "f.bin");
  await Deno.writeFile(file, new Uint8Array(2 << 20).fill(1));
  await using s = await inProcess({ maxMessageSize: 1 << 20 });
  const error = await rejection(
    s.conn.download(file, join(dir.path, "copy.bin"), { chunkSize: 2 << 20 }),
  ).catch(() => null);
  assert.equal(s.conn.closed, false, `the connection was lost: ${s.conn.closeReason?.message}`);
  assert.ok(error instanceof RangeError, `got ${error}`);
  assert.match((error as Error).message, /maxMessageSize/);
});

Deno.test("classic edge: a client that disconnects mid-transfer leaves no open file on the server", async () => {
  await using dir = await tempDir();
  const socket = join(dir.path, "classic.sock");
  const file = join(dir.path, "big.bin");
  await Deno.writeFile(file, new Uint8Array(4096));
  await using proc = new RdcProcess(["classic", "--unix", socket]);
  await proc.waitStderr(/serving concurrent on/);
  {
    const first = await classic.connectUnix(socket);
    const channel = await first.root.files.openRead(file); // as download does
    assert.ok(channel);
    await first.close(); // cut off before channel.close()
  }
  await using second = await classic.connectUnix(socket);
  const isOpen = `[...Deno.readDirSync("/proc/self/fd")].some((e) => {
    try { return Deno.readLinkSync("/proc/self/fd/" + e.name) === ${JSON.stringify(file)}; }
    catch { return false; }
  })`;
  let open = true;
  for (let i = 0; i < 50 && open; i++) {
    open = await second.eval(isOpen);
    if (open) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(open, false, "the server still holds the file the departed client opened");
  await second.close();
  assert.equal((await proc.stop()).code, 0, proc.output());
});

// --- servers and the rdc command -------------------------------------------------------------

Deno.test("classic edge: rdc shell works against a oneshot server (its probe takes the only shot)", async () => {
  await using server = new RdcProcess(["classic", "-m", "oneshot", "-p", "0"]);
  const [host, port] = (await oneshotAddress(server)).split("\t");
  await using shell = new RdcProcess(["shell", `${host}:${port}`], { stdin: "piped" });
  const writer = shell.child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode('console.log("RESULT", await conn.eval("40 + 2"))\n'),
  );
  await writer.close();
  await shell.wait();
  assert.match(shell.stdout, /RESULT 42/, shell.output());
});

Deno.test("classic edge: isolated server stops on SIGTERM even if a child left a process holding its pipes", async () => {
  await using proc = new RdcProcess(["classic", "-m", "isolated", "-p", "0"]);
  const [, port] = await proc.waitStderr(/serving isolated on 127\.0\.0\.1:(\d+)/);
  let grandchild = 0;
  {
    await using conn = await classic.connect("127.0.0.1", Number(port));
    // A background process started by classic code inherits the child's stdout/stderr.
    grandchild = await conn.eval("new Deno.Command('sleep', { args: ['30'] }).spawn().pid");
  }
  try {
    const stopped = await proc.stop("SIGTERM", 6_000).catch((error) => error as Error);
    assert.ok(!(stopped instanceof Error), `SIGTERM did not stop it: ${Deno.inspect(stopped)}`);
    assert.equal((stopped as Deno.CommandStatus).code, 0, proc.output());
  } finally {
    try {
      Deno.kill(grandchild, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
});

Deno.test("classic edge: isolated children do not get more permissions than the server process", async () => {
  // The operator narrowed the server (no --allow-write); each client's child gets --allow-all.
  const narrow = [Deno.execPath(), "run", "--allow-net", "--allow-run", "--no-prompt"];
  await using proc = new RdcProcess(["cli/main.ts", "classic", "-m", "isolated", "-p", "0"], {
    command: narrow,
  });
  const [, port] = await proc.waitStderr(/serving isolated on 127\.0\.0\.1:(\d+)/);
  {
    await using conn = await classic.connect("127.0.0.1", Number(port));
    const write = await conn.eval("Deno.permissions.querySync({ name: 'write' }).state");
    assert.notEqual(write, "granted", "a client of a server without --allow-write may write");
  }
  assert.equal((await proc.stop()).code, 0, proc.output());
});

Deno.test("classic edge: closing a subprocess connection ends a child that ignores SIGTERM", async () => {
  await using dir = await tempDir();
  const cmd = await scriptCommand(
    dir.path,
    "stubborn.ts",
    `import { classic } from ${JSON.stringify(MOD_URL)};
Deno.addSignalListener("SIGTERM", () => {});
setInterval(() => {}, 1000); // outlives its peer
await classic.serveStdio();
`,
  );
  const conn = await classic.connectSubprocess(cmd);
  assert.equal(await conn.eval("1 + 1"), 2);
  const closed = await within(conn.close(), 8_000, "conn.close()").catch((error) => error as Error);
  if (closed instanceof Error) {
    conn.process!.kill("SIGKILL");
    await conn.process!.status;
  }
  assert.ok(!(closed instanceof Error), `close() hangs: ${closed}`);
});

Deno.test("classic edge: classic.serve({ port: undefined }) uses the default port, as documented", async () => {
  // `classic.serve({ port: flags.port })` with the flag unset: the spread replaces the default.
  let server: ReturnType<typeof classic.serve> | undefined;
  try {
    server = classic.serve({ port: undefined, logger: quietLogger() });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return; // 18812 is busy here: nothing to check
    assert.fail(`classic.serve({ port: undefined }) threw: ${error}`);
  }
  try {
    assert.equal((server.addr as Deno.NetAddr).port, classic.DEFAULT_PORT);
  } finally {
    await server.close();
  }
});

// --- docs ------------------------------------------------------------------------------------

Deno.test("classic edge: README's License section is the license, not a stray table row", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const license = readme.slice(readme.indexOf("## License") + "## License".length).trim();
  assert.equal(license, "MIT", "a row of the classic-members table (`rdc`) ended up here");
  const classicTable = readme.slice(readme.indexOf("## Classic mode"), readme.indexOf("Ways to"));
  assert.match(classicTable, /\| `rdc`/, "the `rdc` helpers row belongs in the classic table");
});

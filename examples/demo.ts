/**
 * rdc's main job in one run (`deno task demo`): start a classic server as a
 * separate process, connect to it, and drive it as if it were local.
 *
 * ```sh
 * deno run --allow-all examples/demo.ts
 * ```
 *
 * Steps: the remote process (pid, hostname); a remote module call;
 * `execute` and `eval` in the connection's namespace; `teleport`; a callback
 * from the server; console output redirected here; upload and download of a
 * directory tree; a remote error with its remote stack; the connection's
 * statistics.
 *
 * @module
 */

import { classic, RemoteError } from "../mod.ts";

function step(title: string): void {
  console.log(`\n== ${title}`);
}
function show(label: string, value: unknown): void {
  const text = typeof value === "string" ? value : Deno.inspect(value, { colors: false });
  console.log(`  ${label.padEnd(44)} ${text}`);
}

/**
 * Starts `rdc classic --mode oneshot --port 0` and reads where it listens
 * from the two lines it prints.
 */
async function startServer(): Promise<{ server: Deno.ChildProcess; host: string; port: number }> {
  const main = new URL("../cli/main.ts", import.meta.url).href;
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, "classic", "--mode", "oneshot", "--port", "0", "--quiet"],
    stdout: "piped",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (text.split("\n").length < 3) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server ended before saying where it listens: ${text}`);
    text += value;
  }
  reader.releaseLock();
  server.stdout.cancel().catch(() => {});
  const [banner, address] = text.split("\n");
  if (banner !== "rdc-oneshot") throw new Error(`unexpected banner '${banner}'`);
  const [host, port] = address!.split("\t");
  return { server, host: host!, port: Number(port) };
}

const { server, host, port } = await startServer();
console.log(`rdc demo: started "rdc classic --mode oneshot", listening on ${host}:${port}`);
const conn = await classic.connect(host, port);
console.log(`rdc demo: connected to the "${conn.peerService}" service at ${conn.description}`);

step("1. The remote process");
show("our pid", Deno.pid);
show("await conn.globals.Deno.pid", await conn.globals.Deno.pid);
show('await conn.modules["node:os"].hostname()', await conn.modules["node:os"].hostname());

step("2. A remote module call (one round trip for the whole chain)");
show(
  'conn.modules["node:path"].posix.join("a", "b")',
  await conn.modules["node:path"].posix.join("a", "b"),
);
show('conn.modules["node:os"].cpus().length', await conn.modules["node:os"].cpus().length);

step("3. execute and eval share the connection's namespace");
await conn.execute(`
  let visits = 0;
  function greet(name) {
    visits++;
    return "hello " + name + " from pid " + Deno.pid;
  }
`);
show("await conn.eval(\"greet('rdc')\")", await conn.eval("greet('rdc')"));
show("await conn.namespace.visits", await conn.namespace.visits);
show('await conn.eval("visits * 10")', await conn.eval("visits * 10"));

step("4. teleport: ship a self-contained function and run it there");
const sumOfSquares = await conn.teleport(function sumOfSquares(n: number) {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += i * i;
  return { sum, pid: Deno.pid };
});
show("await sumOfSquares(1000)", await sumOfSquares(1000));
show('await conn.eval("sumOfSquares(3).sum")', await conn.eval("sumOfSquares(3).sum"));
// Names are looked up there when the function runs: a local variable of ours is not.
const secret = 42;
const leaky = await conn.teleport(() => secret + 1);
try {
  await leaky();
} catch (error) {
  show("teleport(() => secret + 1)()", `fails: ${(error as Error).message.split(":")[0]}`);
}

step("5. A callback: the server calls a function of ours");
const countdown = await conn.eval(`async (n, report) => {
  for (let i = n; i > 0; i--) await report(i, Deno.pid);
  return "lift-off";
}`);
const heard: string[] = [];
const result = await countdown(3, (i: number, pid: number) => {
  heard.push(`${i} (from pid ${pid})`);
});
show("the client heard", heard.join(", "));
show("await countdown(3, report)", result);

step("6. The server's console, redirected here");
{
  await using _redirect = await conn.redirectStdio({
    write: (stream, text) => show(`server ${stream} says`, text.trimEnd()),
  });
  await conn.execute(`console.log("hello from the server, pid", Deno.pid)`);
  await conn.execute(`console.error("and a warning on its stderr")`);
}

step("7. upload and download a directory tree");
const local = await Deno.makeTempDir({ prefix: "rdc-demo-" });
try {
  await Deno.mkdir(`${local}/tree/nested`, { recursive: true });
  await Deno.writeTextFile(`${local}/tree/hello.txt`, "hello, remote world\n");
  const blob = crypto.getRandomValues(new Uint8Array(65536)).map((b, i) => b ^ i);
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => blob[i % blob.length]!);
  await Deno.writeFile(`${local}/tree/nested/blob.bin`, big);
  await Deno.writeTextFile(`${local}/tree/run.sh`, "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await Deno.chmod(`${local}/tree/run.sh`, 0o755);
  const remoteDir: string = await conn.eval(`Deno.makeTempDir({ prefix: "rdc-demo-remote-" })`);
  await conn.upload(`${local}/tree`, `${remoteDir}/tree`);
  show("uploaded to", `${remoteDir}/tree`);
  const listing = await conn.eval(
    `Array.from(Deno.readDirSync(${JSON.stringify(`${remoteDir}/tree`)}),
    (e) => e.name).sort()`,
  );
  show("remote listing", listing);
  await conn.download(`${remoteDir}/tree`, `${local}/back`);
  const same = (await Deno.readFile(`${local}/back/nested/blob.bin`)).every((b, i) => b === big[i]);
  show("downloaded 3 MiB blob is identical", same);
  show("run.sh mode kept", ((await Deno.stat(`${local}/back/run.sh`)).mode! & 0o777).toString(8));
  await conn.globals.Deno.remove(remoteDir, { recursive: true });
} finally {
  await Deno.remove(local, { recursive: true });
}

step("8. A remote error, with its remote stack");
await conn.execute(`function explode(what) { throw new RangeError("cannot " + what); }`);
try {
  await conn.eval(`explode("divide by zero")`);
} catch (error) {
  const remote = error as RemoteError;
  show("error", `${remote.name}: ${remote.message}`);
  show(
    "instanceof RangeError / RemoteError",
    `${remote instanceof RangeError} / ${remote instanceof RemoteError}`,
  );
  console.log("  remote stack:");
  for (const line of remote.remoteStack.split("\n").slice(0, 3)) console.log(`    ${line}`);
}

step("9. The connection");
const stats = conn.stats();
show("frames sent / received", `${stats.framesSent} / ${stats.framesReceived}`);
show("netrefs held / objects exported", `${stats.imports} / ${stats.exports}`);
show("ping (ms)", (await conn.ping()).toFixed(2));
await conn.close();
const status = await server.status;
show("server exited with status", status.code);
console.log("\ndemo finished");

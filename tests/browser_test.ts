/**
 * rdc in a real browser: the web entry (`@rdc/rdc/web`, web.ts) reaches no
 * `node:` module and no `Deno.*` API (its import graph, a type check against
 * the browser's libraries only, the text of its bundle); bundled with
 * `deno bundle --platform browser`, it runs in headless Chromium on a page
 * served here, whose script calls a Deno service over WebSocket (calls,
 * pipelining, a callback the server calls, a remote error, a timeout, a
 * token), and runs rdc to a Worker of its own and in-process; a page that
 * came over https reaches its server over wss by a relative URL; hostile peers
 * of a page (servers, a Worker, garbage the page sends) end only their own
 * connection. The example (examples/browser/) runs as a user runs it, and
 * its page is checked in Chromium too.
 *
 * Needs Debian's `chromium` (see tests/_chromium.ts).
 */

import assert from "node:assert/strict";
import { type Connection, serveWebSocket, Service, tokenAuthenticator } from "../mod.ts";
import type * as Web from "../web.ts";
import { bundleForBrowser } from "../examples/browser/serve.ts";
import { certificates, type KeyPair } from "./_certs.ts";
import { Chromium, chromiumTest } from "./_chromium.ts";
import { logged, quietLogger } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);
const WEB_ENTRY = new URL("web.ts", ROOT);

/** Runs `deno ...args` in the repository's root; fails with its output unless it succeeds. */
async function deno(args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.ok(success, `deno ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(stderr)}`);
  return text;
}

Deno.test("the web entry reaches neither node: modules nor Deno's API", async (t) => {
  await t.step("its import graph holds our files and no node: or npm module", async () => {
    const graph = JSON.parse(await deno(["info", "--json", WEB_ENTRY.pathname])) as {
      modules: { specifier: string }[];
    };
    const specifiers = graph.modules.map((m) => m.specifier);
    assert.ok(specifiers.length > 10, `a graph this small is not the core: ${specifiers}`);
    const foreign = specifiers.filter((s) => !s.startsWith(ROOT.href));
    assert.deepEqual(foreign, [], "modules the web entry must not reach");
  });

  await t.step("it type-checks against the browser's libraries, without Deno's", async () => {
    const dir = await Deno.makeTempDir({ prefix: "rdc-web-check-" });
    try {
      const { imports } = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
      const config = `${dir}/deno.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          imports,
          compilerOptions: { lib: ["dom", "dom.iterable", "dom.asynciterable", "esnext"] },
        }),
      );
      await deno(["check", "--quiet", `--config=${config}`, WEB_ENTRY.pathname]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("its browser bundle names no node: module and no Deno API", async () => {
    const bundle = await bundleForBrowser(WEB_ENTRY);
    assert.doesNotMatch(bundle, /["']node:/);
    assert.doesNotMatch(bundle, /\brequire\(/);
    // The one "Deno." is the name of the symbol Deno's console inspects, which is only a string.
    const uses = bundle.replaceAll('Symbol.for("Deno.customInspect")', "").match(/Deno\.\w+/g);
    assert.equal(uses, null, `the bundle uses Deno's API: ${uses}`);
  });
});

// --- a page that uses the web entry ---------------------------------------------------------------

/** What the page's script may call on the test's server. */
class PageService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }
  /** Calls the page's `onTick` for `from`, …, 1 and sums what it returns. */
  async exposed_countdown(
    from: number,
    onTick: (n: number) => number | Promise<number>,
  ): Promise<number> {
    let sum = 0;
    for (let n = from; n > 0; n--) sum += await onTick(n);
    return sum;
  }
  exposed_fail(message: string): void {
    throw new TypeError(message);
  }
  exposed_never(): Promise<void> {
    return new Promise(() => {});
  }
  exposed_adder(base: number): (n: number) => number {
    return (n) => base + n;
  }
}

/** The page's side of the test, run in Chromium: self-contained (it is sent as source). */
async function pageScript(rdc: typeof Web) {
  const conn = await rdc.connectWebSocket("/rdc");
  try {
    const api = conn.root as Web.Remote<PageService>;
    const sum = await api.add(2, 3);
    const ticks: number[] = [];
    const countdown = await api.countdown(3, (n: number) => {
      ticks.push(n);
      return n * 10;
    });
    // A call on the unawaited result of another: pipelined.
    const pipelined = await api.adder(10)(5);
    const remoteError = await api.fail("bad input").then(
      () => null,
      (error: Error) => ({
        name: error.name,
        message: error.message,
        isTypeError: error instanceof TypeError,
        remote: error instanceof rdc.RemoteError || "remoteStack" in error,
      }),
    );
    const timeout = await rdc.timed(api.never, 100)().then(
      () => null,
      (error: Error) => ({ name: error.name, isTimeoutError: error instanceof rdc.TimeoutError }),
    );
    const afterTimeout = await api.add(1, 1);

    // A server that asks for a token: the right one, then a wrong one.
    const authed = await rdc.connectWebSocket("/secure", { token: "page-secret" });
    const withToken = await authed.root.add(20, 22);
    await authed.close();
    const wrongToken = await rdc.connectWebSocket("/secure", { token: "guess" }).then(
      () => null,
      (error: Error) => error instanceof rdc.AuthenticationError && error.name,
    );

    // A Worker of the page's own, serving with serveParent.
    const worker = new Worker("/worker.js", { type: "module" });
    const workerConn = await rdc.connectWorker(worker);
    const doubled = await workerConn.root.double(21);
    await workerConn.close();

    // A service in the page itself, over a MessageChannel.
    class Local extends rdc.Service {
      exposed_greet(name: string): string {
        return `hello, ${name}`;
      }
    }
    const local = await rdc.connectInProcess(Local);
    const greeting = await local.root.greet("page");
    await local.close();

    return {
      sum,
      ticks,
      countdown,
      pipelined,
      remoteError,
      timeout,
      afterTimeout,
      withToken,
      wrongToken,
      doubled,
      greeting,
      description: conn.description,
    };
  } finally {
    await conn.close();
  }
}

/** The page's Worker: it serves a doubler to the page. */
const WORKER_SCRIPT = `
import { serveParent, Service } from "/rdc.js";
class Doubler extends Service {
  exposed_double(n) { return 2 * n; }
}
await serveParent(Doubler);
`;

/** A Worker of the page's that posts what no rdc peer would. */
const GARBAGE_WORKER_SCRIPT = `
postMessage(42);
postMessage({ hello: "I am not rdc" });
`;

/** The page: it loads the bundle and leaves it on `globalThis.rdc` for the test to use. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>rdc test page</title></head>
<body><script type="module">
import * as rdc from "/rdc.js";
globalThis.rdc = rdc;
</script></body></html>`;

/** What the hostile WebSocket servers of the page's server send, by path. */
const HOSTILE_SERVERS: Record<string, string | Uint8Array<ArrayBuffer>> = {
  "/text": "hello, is this JSON-RPC?",
  // A frame header announcing 4 GiB.
  "/garbage": new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
};

/** Upgrades `request` to a WebSocket that sends `message` once open, and nothing else. */
function hostileUpgrade(request: Request, message: string | Uint8Array<ArrayBuffer>): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onopen = () => socket.send(message);
  return response;
}

/** A test server: the page, the bundle, the worker's script, and {@linkcode PageService} at /rdc. */
async function pageServer(seen: Connection[], tls?: KeyPair) {
  const bundle = await bundleForBrowser(WEB_ENTRY);
  const logger = quietLogger();
  class Recording extends PageService {
    override onConnect(conn: Connection): void {
      seen.push(conn);
    }
  }
  const secure = tokenAuthenticator("page-secret");
  const files: Record<string, [string, string]> = {
    "/": [PAGE, "text/html; charset=utf-8"],
    "/rdc.js": [bundle, "text/javascript"],
    "/worker.js": [WORKER_SCRIPT, "text/javascript"],
    "/garbage_worker.js": [GARBAGE_WORKER_SCRIPT, "text/javascript"],
  };
  const listen = { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls };
  const server = Deno.serve(listen, (request, info) => {
    const path = new URL(request.url).pathname;
    if (path === "/rdc") return serveWebSocket(request, Recording, { info, logger });
    if (path === "/secure") {
      return serveWebSocket(request, PageService, { info, logger, authenticator: secure });
    }
    if (path in HOSTILE_SERVERS) return hostileUpgrade(request, HOSTILE_SERVERS[path]);
    const file = files[path];
    if (!file) return new Response("404 Not Found\n", { status: 404 });
    return new Response(file[0], { headers: { "content-type": file[1] } });
  });
  const scheme = tls ? "https" : "http";
  return { server, url: `${scheme}://127.0.0.1:${server.addr.port}/`, logger };
}

/**
 * Serves the test page (over https with `tls`), opens it in Chromium and
 * runs `script` there with the bundle's exports; returns what it returned,
 * with the connections the server saw, its log and its port.
 */
async function runInPage<T>(script: (rdc: typeof Web) => Promise<T>, tls?: KeyPair) {
  const seen: Connection[] = [];
  const { server, url, logger } = await pageServer(seen, tls);
  try {
    // The test's certificate authority is not the browser's: it is told to accept the server's.
    await using browser = await Chromium.open(url, tls ? ["--ignore-certificate-errors"] : []);
    await browser.waitFor("globalThis.rdc !== undefined", "load the bundle");
    const results = await browser.evaluate<T>(`(${script})(globalThis.rdc)`);
    return { results, seen, logger, port: server.addr.port };
  } finally {
    await server.shutdown();
  }
}

chromiumTest(
  "a page in Chromium calls a Deno service over WebSocket with @rdc/rdc/web",
  async () => {
    const { results, seen, port } = await runInPage(pageScript);
    assert.equal(results.sum, 5);
    assert.deepEqual(results.ticks, [3, 2, 1]);
    assert.equal(results.countdown, 60);
    assert.equal(results.pipelined, 15);
    assert.deepEqual(results.remoteError, {
      name: "TypeError",
      message: "bad input",
      isTypeError: true,
      remote: true,
    });
    assert.deepEqual(results.timeout, { name: "TimeoutError", isTimeoutError: true });
    assert.equal(results.afterTimeout, 2);
    assert.equal(results.withToken, 42);
    assert.equal(results.wrongToken, "AuthenticationError");
    assert.equal(results.doubled, 42);
    assert.equal(results.greeting, "hello, page");
    assert.equal(results.description, `ws://127.0.0.1:${port}/rdc`);
    // The server's side: one connection, from the browser's address.
    assert.equal(seen.length, 1);
    assert.match(seen[0].description, /^ws 127\.0\.0\.1:\d+$/);
  },
);

/** A page's script that connects by a relative URL and tells where it went. */
async function relativeUrlScript(rdc: typeof Web) {
  const conn = await rdc.connectWebSocket("/rdc");
  try {
    return { description: conn.description, sum: await conn.root.add(2, 2) };
  } finally {
    await conn.close();
  }
}

chromiumTest("a page that came over https reaches /rdc over wss", async () => {
  const { server } = await certificates();
  const { results, seen, port } = await runInPage(relativeUrlScript, server);
  assert.deepEqual(results, { description: `wss://127.0.0.1:${port}/rdc`, sum: 4 });
  assert.match(seen[0].description, /^wss 127\.0\.0\.1:\d+$/);
});

/** The page's side of the hostile test: every attack, then the honest connection again. */
async function hostilePageScript(rdc: typeof Web) {
  const honest = await rdc.connectWebSocket("/rdc");
  const failure = (error: Error) => ({
    name: error.name,
    message: error.message,
    isProtocolError: error instanceof rdc.ProtocolError,
  });
  try {
    const before = await honest.root.add(1, 2);
    const text = await rdc.connectWebSocket("/text").then(() => null, failure);
    const garbage = await rdc.connectWebSocket("/garbage").then(() => null, failure);
    const worker = new Worker("/garbage_worker.js", { type: "module" });
    const garbageWorker = await rdc.connectWorker(worker).then(() => null, failure);

    // The page sends garbage to the server: the server closes that socket.
    const raw = new WebSocket(new URL("/rdc", location.href.replace(/^http/, "ws")));
    raw.binaryType = "arraybuffer";
    await new Promise((resolve) => raw.onopen = resolve);
    const closed = new Promise<number>((resolve) => raw.onclose = (event) => resolve(event.code));
    raw.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    const sentGarbageClosed = typeof await closed === "number";

    const after = await honest.root.add(20, 22);
    return { before, text, garbage, garbageWorker, sentGarbageClosed, after };
  } finally {
    await honest.close();
  }
}

chromiumTest("hostile peers of a page in Chromium end only their own connection", async () => {
  const { results, seen, logger } = await runInPage(hostilePageScript);
  assert.equal(results.before, 3);
  assert.ok(results.text?.isProtocolError, JSON.stringify(results.text));
  assert.match(results.text.message, /sent a text message: rdc over WebSocket uses binary/);
  assert.ok(results.garbage?.isProtocolError, JSON.stringify(results.garbage));
  assert.match(results.garbage.message, /exceeds the limit/);
  assert.ok(results.garbageWorker?.isProtocolError, JSON.stringify(results.garbageWorker));
  assert.match(results.garbageWorker.message, /not an rdc message/);
  assert.ok(results.sentGarbageClosed);
  await logged(logger, /exceeds the limit/);
  assert.equal(results.after, 42);
  // The honest connection was the server's only rdc connection: the garbage never got that far.
  assert.equal(seen.length, 1);
});

chromiumTest(
  "the example page (examples/browser/serve.ts, run as a user runs it) works in Chromium",
  async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "examples/browser/serve.ts", "0"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
      const first = (await lines.next()).value ?? "";
      const url = first.match(/^open (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
      assert.ok(url, `the example printed ${JSON.stringify(first)}, not the page's address`);
      await using browser = await Chromium.open(url);
      const status = await browser.waitFor<string>(
        `document.body?.dataset.status !== "running" && document.body?.dataset.status`,
        "finish its demo",
      );
      const log = await browser.evaluate<string>(`document.getElementById("log").textContent`);
      assert.equal(status, "done", log);
      assert.equal(
        log,
        [
          "2 + 3 = 5",
          "tick 3",
          "tick 2",
          "tick 1",
          "liftoff",
          "the server threw RangeError: cannot divide 1 by zero",
          "",
        ].join("\n"),
      );
      await lines.return?.();
    } finally {
      child.kill();
      await child.status;
    }
  },
);

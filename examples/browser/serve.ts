/**
 * rdc in a web page: one Deno server on one port serves the page
 * (index.html), the page's script bundled for the browser (page.ts, which
 * imports `@rdc/rdc/web`) and an rdc service at /rdc over WebSocket. The
 * page calls the service, passes a callback the server calls back, and
 * reads a remote error; what it does shows on the page.
 *
 * ```sh
 * deno run --allow-all examples/browser/serve.ts       # then open http://127.0.0.1:8000/
 * deno run --allow-all examples/browser/serve.ts 9000  # another port
 * ```
 *
 * The bundle is what `deno bundle --platform browser page.ts` prints,
 * made once at start-up.
 *
 * @module
 */

import { serveWebSocket, Service } from "../../mod.ts";

/** What the page may call. */
export class DemoService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }

  /** Counts down from `from`, calling the page's `onTick` at each step (a callback). */
  async exposed_countdown(from: number, onTick: (n: number) => unknown): Promise<string> {
    for (let n = from; n > 0; n--) await onTick(n);
    return "liftoff";
  }

  exposed_divide(a: number, b: number): number {
    if (b === 0) throw new RangeError(`cannot divide ${a} by zero`);
    return a / b;
  }
}

const HERE = new URL(".", import.meta.url);

/**
 * `entry` bundled for browsers by `deno bundle --platform browser`, as
 * JavaScript text.
 *
 * @throws an `Error` with deno's output when bundling fails.
 */
export async function bundleForBrowser(entry: URL): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "--quiet", entry.pathname],
    cwd: new URL("../../", HERE).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`deno bundle ${entry.pathname} failed:\n${new TextDecoder().decode(stderr)}`);
  }
  return new TextDecoder().decode(stdout);
}

/** Where {@linkcode serveDemo} listens. */
export interface DemoOptions {
  /** Default `"127.0.0.1"`. */
  hostname?: string;
  /** 0 picks a free port. Default 8000. */
  port?: number;
}

/**
 * Serves the demo: `/` the page, `/page.js` its bundled script, `/rdc` the
 * {@linkcode DemoService} over WebSocket; everything else is 404.
 */
export async function serveDemo(options: DemoOptions = {}): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const [page, script] = await Promise.all([
    Deno.readTextFile(new URL("index.html", HERE)),
    bundleForBrowser(new URL("page.ts", HERE)),
  ]);
  const { hostname = "127.0.0.1", port = 8000 } = options;
  return Deno.serve({ hostname, port, onListen() {} }, (request, info) => {
    switch (new URL(request.url).pathname) {
      case "/":
        return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
      case "/page.js":
        return new Response(script, { headers: { "content-type": "text/javascript" } });
      case "/rdc":
        return serveWebSocket(request, DemoService, { info });
      default:
        return new Response("404 Not Found\n", { status: 404 });
    }
  });
}

if (import.meta.main) {
  const server = await serveDemo({ port: Number(Deno.args[0] ?? 8000) });
  console.log(`open http://${server.addr.hostname}:${server.addr.port}/ (Ctrl-C stops)`);
}

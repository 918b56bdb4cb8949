/**
 * A real headless Chromium (Debian's `chromium`) for the browser tests,
 * driven over the DevTools protocol: it opens one page and evaluates
 * expressions in it, awaiting their promises and returning their values.
 *
 * Chromium missing: {@linkcode chromiumTest} fails the test under `CI=true`
 * (.ci/run installs it) and skips it with a message otherwise.
 */

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

const IN_CI = Deno.env.get("CI") === "true";

/** Whether the browser is installed. */
function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/**
 * A test that needs Chromium: fails without it under CI, is skipped with a
 * message elsewhere.
 */
export function chromiumTest(name: string, fn: () => Promise<void>): void {
  const present = haveChromium();
  if (!present && !IN_CI) {
    console.warn(`${name}: ${CHROMIUM_PATH} is missing (apt-get install chromium): skipping`);
  }
  Deno.test({
    name,
    ignore: !present && !IN_CI,
    fn: async () => {
      if (!present) {
        throw new Error(
          `the browser tests need ${CHROMIUM_PATH} (CI=true): apt-get install chromium`,
        );
      }
      await fn();
    },
  });
}

/** How long the browser may take to start and to answer. */
const BROWSER_TIMEOUT_MS = 20_000;

/** What Chromium said on stderr lately (it says much): kept for failure messages. */
class Tail {
  #text = "";
  add(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-4_000);
  }
  toString(): string {
    return this.#text;
  }
}

/** A page as the browser's DevTools endpoint lists it. */
interface PageTarget {
  type: string;
  url: string;
  webSocketDebuggerUrl: string;
}

/** A DevTools protocol reply. */
interface Reply {
  id: number;
  result?: {
    result?: { value?: unknown };
    exceptionDetails?: { text: string; exception?: { description?: string } };
  };
  error?: { message: string };
}

/**
 * A headless Chromium showing one page. Owns the browser process and its
 * throw-away profile directory: `[Symbol.asyncDispose]` kills the one and
 * removes the other.
 */
export class Chromium implements AsyncDisposable {
  readonly #process: Deno.ChildProcess;
  readonly #profile: string;
  readonly #stderr: Tail;
  #devtools: WebSocket | null = null;
  #nextId = 1;
  readonly #waiting = new Map<number, (reply: Reply) => void>();

  private constructor(process: Deno.ChildProcess, profile: string, stderr: Tail) {
    this.#process = process;
    this.#profile = profile;
    this.#stderr = stderr;
  }

  /**
   * Starts the browser on `url`, with `flags` besides the usual headless
   * ones, and connects to that page's DevTools endpoint.
   */
  static async open(url: string, flags: string[] = []): Promise<Chromium> {
    const profile = await Deno.makeTempDir({ prefix: "rdc-chromium-" });
    const process = new Deno.Command(CHROMIUM_PATH, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        ...flags,
        url,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Tail();
    process.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => stderr.add(chunk) }),
    ).catch(() => {});
    const browser = new Chromium(process, profile, stderr);
    try {
      await browser.#connect(url);
    } catch (error) {
      await browser[Symbol.asyncDispose]();
      throw error;
    }
    return browser;
  }

  /**
   * Evaluates `expression` in the page and returns its value (awaited when
   * it is a promise, copied as JSON).
   *
   * @throws an `Error` with the page's exception when the expression throws.
   */
  async evaluate<T>(expression: string): Promise<T> {
    const reply = await this.#send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (reply.error) throw new Error(`DevTools: ${reply.error.message}`);
    const details = reply.result?.exceptionDetails;
    if (details) {
      throw new Error(`the page threw: ${details.exception?.description ?? details.text}`);
    }
    return reply.result?.result?.value as T;
  }

  /** Waits until `expression` is truthy in the page, and returns its value. */
  async waitFor<T>(expression: string, what: string): Promise<T> {
    const deadline = Date.now() + BROWSER_TIMEOUT_MS;
    for (;;) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`the page did not ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#devtools?.close();
    // SIGTERM lets the browser end its helper processes itself; SIGKILL if it lingers.
    const signal = (name: Deno.Signal) => {
      try {
        this.#process.kill(name);
      } catch {
        // Already gone.
      }
    };
    signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lingering = new Promise((resolve) => timer = setTimeout(resolve, 3_000, true));
    if (await Promise.race([this.#process.status, lingering]) === true) signal("SIGKILL");
    clearTimeout(timer);
    await this.#process.status;
    // Its helper processes may still be writing there for a moment after it is gone.
    for (let attempt = 1;; attempt++) {
      try {
        return await Deno.remove(this.#profile, { recursive: true });
      } catch (error) {
        if (attempt === 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }

  /** Finds the browser's DevTools port, then the page showing `url`, and opens its socket. */
  async #connect(url: string): Promise<void> {
    const deadline = Date.now() + BROWSER_TIMEOUT_MS;
    const fail = (what: string) =>
      new Error(`chromium ${what}; its stderr ends with:\n${this.#stderr}`);
    let port = 0;
    while (port === 0) {
      const text = await Deno.readTextFile(`${this.#profile}/DevToolsActivePort`).catch(() => "");
      port = Number(text.split("\n")[0]) || 0;
      if (port !== 0) break;
      if (Date.now() > deadline) throw fail("did not open its DevTools port");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    let target: PageTarget | undefined;
    while (!target) {
      const targets: PageTarget[] = await (await fetch(`http://127.0.0.1:${port}/json/list`))
        .json();
      target = targets.find((t) => t.type === "page" && t.url.startsWith(url));
      if (target) break;
      if (Date.now() > deadline) throw fail(`showed no page at ${url}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(fail("refused its DevTools socket"));
    });
    socket.onmessage = (event) => {
      const reply = JSON.parse(event.data) as Reply;
      this.#waiting.get(reply.id)?.(reply);
      this.#waiting.delete(reply.id);
    };
    socket.onclose = () => {
      for (const resolve of this.#waiting.values()) {
        resolve({ id: 0, error: { message: "the DevTools socket closed" } });
      }
      this.#waiting.clear();
    };
    this.#devtools = socket;
  }

  #send(method: string, params: Record<string, unknown>): Promise<Reply> {
    const id = this.#nextId++;
    const replied = new Promise<Reply>((resolve) => this.#waiting.set(id, resolve));
    this.#devtools!.send(JSON.stringify({ id, method, params }));
    return replied;
  }
}

/**
 * rdc over WebSocket, over real sockets: `connectWebSocket` to `serve({ws})`
 * (calls, callbacks, errors, a value of several MiB crossing many messages),
 * a `Deno.serve` application sharing its port with `serveWebSocket`, wss
 * with a certificate made here (trusted through `caCerts`, or through
 * `DENO_CERT` in a child process), tokens, the server's limits and idle
 * timeout, `rdc classic --ws` with `classic.connectWebSocket` (isolated
 * mode too), hostile peers (garbage, a text message, a flood while nothing
 * reads, a peer that stops reading), and closing either end.
 */

import assert from "node:assert/strict";
import {
  AuthenticationError,
  type Authenticator,
  classic,
  type Connection,
  ConnectionClosedError,
  connectWebSocket,
  ProtocolError,
  serve,
  type ServeOptions,
  type Server,
  serveWebSocket,
  Service,
  tokenAuthenticator,
} from "../mod.ts";
import { certificates, writeCertFiles } from "./_certs.ts";
import { logged, quietLogger, rawFrame, rejection, waitFor, writeAll } from "./_helpers.ts";
import { hello, OP, request } from "./_raw_peer.ts";
import { RdcProcess, runRdc } from "./_cli.ts";
import { MOD_URL, runToEnd, scriptCommand, tempDir } from "./_classic.ts";

const MiB = 1024 * 1024;

// --- helpers ----------------------------------------------------------------------------------

/** What each test's service records of its connections. */
interface Seen {
  connections: Connection[];
  /** How the server's own call to a client callback ended, once it did. */
  callbackOutcome?: unknown;
}

/** A service for these tests; `seen` records its connections. */
function wsService(seen: Seen = { connections: [] }): new () => Service {
  return class WsService extends Service {
    override onConnect(conn: Connection): void {
      seen.connections.push(conn);
    }
    exposed_add(a: number, b: number): number {
      return a + b;
    }
    exposed_echo<T>(value: T): T {
      return value;
    }
    async exposed_twice(f: (n: number) => Promise<number>, n: number): Promise<number> {
      return await f(await f(n));
    }
    exposed_fail(message: string): never {
      throw new TypeError(message);
    }
    exposed_never(): Promise<never> {
      return new Promise(() => {});
    }
    async exposed_callAndWait(f: () => Promise<unknown>): Promise<void> {
      try {
        seen.callbackOutcome = await f();
      } catch (error) {
        seen.callbackOutcome = error;
      }
    }
    exposed_zeros(size: number): Uint8Array {
      return new Uint8Array(size);
    }
    exposed_credentials(): unknown {
      return seen.connections.at(-1)?.credentials;
    }
  };
}

/** A `serve({ws})` server of {@linkcode wsService} at /rdc on a free loopback port. */
function wsServer(options: Partial<ServeOptions> = {}, seen: Seen = { connections: [] }): {
  server: Server;
  port: number;
  url: string;
  log: ReturnType<typeof quietLogger>;
  seen: Seen;
} & AsyncDisposable {
  const log = quietLogger();
  const server = serve(wsService(seen), {
    port: 0,
    ws: { path: "/rdc" },
    logger: log,
    ...options,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const scheme = options.tls ? "wss" : "ws";
  const host = options.tls ? "localhost" : "127.0.0.1";
  return {
    server,
    port,
    url: `${scheme}://${host}:${port}/rdc`,
    log,
    seen,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** Connects to `url` with a client that keeps its log to itself. */
function dial(url: string, options: Parameters<typeof connectWebSocket>[1] = {}) {
  return connectWebSocket(url, { logger: quietLogger(), ...options });
}

/** `count` bytes that differ from one another (so a misplaced chunk shows). */
function pattern(count: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i++) bytes[i] = (i * 7 + (i >>> 12)) & 0xff;
  return bytes;
}

/** The SHA-256 of `bytes`, hex. */
async function digest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Fetches `url` and reads the whole answer (so nothing is left open). */
async function get(url: string): Promise<{ status: number; text: string; upgrade: string | null }> {
  const response = await fetch(url);
  return {
    status: response.status,
    text: await response.text(),
    upgrade: response.headers.get("upgrade"),
  };
}

/** A raw WebSocket (the platform's) to `url`, open, with what it receives and how it closed. */
async function rawSocket(url: string): Promise<{
  socket: WebSocket;
  received: (ArrayBuffer | string)[];
  closed: Promise<CloseEvent>;
}> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const received: (ArrayBuffer | string)[] = [];
  socket.onmessage = (event) => received.push(event.data);
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`cannot open ${url}`));
  });
  return { socket, received, closed };
}

/** Resolves with `promise`, or fails after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Checks an honest client still gets right answers. */
async function assertWorks(conn: Connection, what: string): Promise<void> {
  assert.equal(conn.closed, false, `${what} was closed`);
  assert.equal(await conn.root.add(20, 22), 42, what);
  assert.deepEqual(await conn.root.echo({ what, n: [1, 2] }), { what, n: [1, 2] }, what);
}

// --- connectWebSocket and serve({ws}) ---------------------------------------------------------

Deno.test("connectWebSocket to serve({ws}): calls, callbacks, errors, and 6 MiB across many messages", async () => {
  await using t = wsServer();
  await using conn = await dial(t.url);
  assert.equal(conn.description, t.url);
  assert.equal(conn.peerService, "Ws");
  assert.equal(await conn.root.add(1, 2), 3);
  // A callback: the server calls the client back while the client's call waits.
  assert.equal(await conn.root.twice((n: number) => n * 3, 2), 18);
  const error = await rejection(conn.root.fail("bad input"));
  assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
  assert.match((error as Error).message, /bad input/);

  const big = pattern(6 * MiB + 12_345);
  const before = conn.stats();
  const back = await conn.root.echo(big) as Uint8Array<ArrayBuffer>;
  const after = conn.stats();
  assert.equal(back.length, big.length);
  assert.equal(await digest(back), await digest(big));
  // Chunks of at most 1 MiB each way: every one is a frame, and at least one WebSocket message.
  assert.ok(after.framesSent - before.framesSent >= 7, `frames sent: ${Deno.inspect(after)}`);
  assert.ok(after.framesReceived - before.framesReceived >= 7, `received: ${Deno.inspect(after)}`);

  // The server's side: a connection from this client, by its address, with no credentials.
  const served = t.seen.connections[0]!;
  assert.match(served.description, /^ws 127\.0\.0\.1:\d+$/);
  assert.equal(served.credentials, null);
  assert.equal(t.server.connections.size, 1);
  assert.match(String(t.server.addr.transport), /tcp/);
});

Deno.test("serve({ws}): a plain request at the path gets 426, other paths 404 or the fallback", async () => {
  await using t = wsServer();
  const plain = await get(`http://127.0.0.1:${t.port}/rdc`);
  assert.equal(plain.status, 426);
  assert.equal(plain.upgrade, "websocket");
  assert.match(plain.text, /rdc endpoint; connect with a WebSocket/);
  assert.equal((await get(`http://127.0.0.1:${t.port}/other`)).status, 404);
  await using conn = await dial(t.url);
  await assertWorks(conn, "a client after the plain requests");

  // With a fallback, the server's port serves an HTTP application too.
  await using app = wsServer({
    ws: { path: "/rdc", fallback: (req) => new Response(`app: ${new URL(req.url).pathname}`) },
  });
  const page = await get(`http://127.0.0.1:${app.port}/index.html`);
  assert.deepEqual([page.status, page.text], [200, "app: /index.html"]);
  await using appConn = await dial(app.url);
  await assertWorks(appConn, "a client of the server with a fallback");
});

Deno.test("serve({ws}): a URL on another path is refused with a clear error", async () => {
  await using t = wsServer();
  const error = await rejection(dial(`ws://127.0.0.1:${t.port}/elsewhere`));
  assert.match((error as Error).message, /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/elsewhere/);
  const bad = await rejection(dial(`http://127.0.0.1:${t.port}/rdc`));
  assert.ok(bad instanceof TypeError);
  assert.match(bad.message, /ws:\/\/ or wss:\/\//);
});

Deno.test("serve({ws}) refuses a unix socket, client certificates and a registry, naming them", async () => {
  assert.throws(
    () => serve(wsService(), { path: "/tmp/rdc-ws-never.sock", ws: {} }),
    /ws needs TCP/,
  );
  const c = await certificates();
  assert.throws(
    () =>
      serve(wsService(), {
        port: 0,
        ws: {},
        tls: { cert: c.server.cert, key: c.server.key, ca: c.ca },
      }),
    /client certificates \(tls\.ca\) are not available over WebSocket/,
  );
  assert.throws(() => serve(wsService(), { port: 0, ws: { path: "rdc" } }), /must start with "\/"/);
  assert.throws(
    () => serve(wsService(), { port: 0, ws: {}, autoRegister: true }),
    /only a TCP server can register with a registry/,
  );
});

// --- sharing a port: Deno.serve and serveWebSocket ---------------------------------------------

Deno.test("a Deno.serve application shares its port with serveWebSocket", async () => {
  const log = quietLogger();
  const seen: Seen = { connections: [] };
  const Ws = wsService(seen);
  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/rdc") return serveWebSocket(request, Ws, { info, logger: log });
      if (pathname === "/hello") return new Response("hello from the app");
      return new Response("not here", { status: 404 });
    },
  );
  const base = `127.0.0.1:${http.addr.port}`;
  assert.deepEqual(await get(`http://${base}/hello`), {
    status: 200,
    text: "hello from the app",
    upgrade: null,
  });
  await using conn = await dial(`ws://${base}/rdc`);
  await assertWorks(conn, "the client sharing the port");
  assert.equal(await conn.root.twice((n: number) => n + 1, 1), 3);
  // The HTTP routes still answer while the rdc connection is open.
  assert.equal((await get(`http://${base}/hello`)).text, "hello from the app");
  const plain = await get(`http://${base}/rdc`);
  assert.equal(plain.status, 426);
  assert.match(plain.text, /connect with a WebSocket/);
  // The served connection knows the client's address (from `info`).
  assert.match(seen.connections[0]!.description, /^ws 127\.0\.0\.1:\d+$/);
  // A second client is served too, each on its own.
  await using second = await dial(`ws://${base}/rdc`);
  await assertWorks(second, "a second client");
  await conn.close();
  await waitFor(() => seen.connections[0]!.closed, 5_000, "the server's side to close");
  await assertWorks(second, "the second client after the first left");
});

Deno.test("serveWebSocket: an authenticator and a signal, as serve has them", async () => {
  const secret = `ws-${crypto.randomUUID()}`;
  const log = quietLogger();
  const seen: Seen = { connections: [] };
  const Ws = wsService(seen);
  const stop = new AbortController();
  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) =>
      serveWebSocket(request, Ws, {
        info,
        logger: log,
        authenticator: tokenAuthenticator(secret),
        signal: stop.signal,
      }),
  );
  const url = `ws://127.0.0.1:${http.addr.port}/`;
  await using conn = await dial(url, { token: secret });
  assert.deepEqual(await conn.root.credentials(), { token: true });
  const wrong = await rejection(dial(url, { token: "nope" }));
  assert.ok(wrong instanceof AuthenticationError, `got ${wrong}`);
  await logged(log, /connection from ws 127\.0\.0\.1:\d+ failed: .*wrong token/);
  // Aborting the signal closes the connections it served.
  const pending = conn.root.never();
  stop.abort();
  const closed = await within(rejection(pending), 5_000, "the pending call to reject");
  assert.ok(closed instanceof ConnectionClosedError, `got ${closed}`);
});

// --- wss ----------------------------------------------------------------------------------------

Deno.test("wss: serve({ws, tls}) with a certificate made here, trusted through caCerts", async () => {
  const c = await certificates();
  await using t = wsServer({ tls: { cert: c.server.cert, key: c.server.key } });
  assert.match(t.url, /^wss:\/\/localhost:\d+\/rdc$/);
  await using conn = await dial(t.url, { caCerts: [c.ca] });
  await assertWorks(conn, "a wss client");
  assert.equal(await conn.root.twice((n: number) => 2 * n, 5), 20);
  const big = pattern(3 * MiB);
  assert.equal(
    await digest(await conn.root.echo(big) as Uint8Array<ArrayBuffer>),
    await digest(big),
  );
  assert.match(t.seen.connections[0]!.description, /^wss 127\.0\.0\.1:\d+$/);
  // Plain HTTPS to the path says what it is.
  const client = Deno.createHttpClient({ caCerts: [c.ca] });
  try {
    const response = await fetch(`https://localhost:${t.port}/rdc`, { client });
    assert.equal(response.status, 426);
    await response.body?.cancel();
  } finally {
    client.close();
  }
  // Without trusting the CA, the certificate is refused, and the error says so.
  const untrusted = await rejection(dial(t.url));
  assert.match(
    (untrusted as Error).message,
    /cannot connect to wss:\/\/localhost:\d+\/rdc: .*certificate/i,
  );
  // caCerts on a ws:// URL is a mistake.
  await assert.rejects(dial(`ws://127.0.0.1:${t.port}/rdc`, { caCerts: [c.ca] }), TypeError);
  await assertWorks(conn, "the wss client after a refused one");
});

Deno.test("wss: a client in a child process trusts the certificate through DENO_CERT", async () => {
  const c = await certificates();
  await using t = wsServer({ tls: { cert: c.server.cert, key: c.server.key } });
  await using dir = await tempDir("rdc-ws-cert-");
  const cmd = await scriptCommand(
    dir.path,
    "client.ts",
    `import { connectWebSocket } from ${JSON.stringify(MOD_URL)};
await using conn = await connectWebSocket(${JSON.stringify(t.url)});
console.log(await conn.root.add(40, 2));
`,
  );
  await writeCertFiles({ "ca.pem": c.ca }, async (paths) => {
    const [program, ...args] = cmd;
    const output = await new Deno.Command(program!, {
      args,
      env: { DENO_CERT: paths["ca.pem"]! },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "42");
  });
  // The same child without DENO_CERT fails, naming the certificate.
  const refused = await runToEnd(cmd);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /certificate/i);
});

// --- tokens and the server's limits -------------------------------------------------------------

Deno.test("serve({ws}) with tokenAuthenticator: the right token gets in, a wrong or missing one is refused", async () => {
  const secret = `ws-${crypto.randomUUID()}`;
  await using t = wsServer({ authenticator: tokenAuthenticator(secret) });
  await using conn = await dial(t.url, { token: secret });
  assert.deepEqual(await conn.root.credentials(), { token: true });
  const wrong = await rejection(dial(t.url, { token: "guess" }));
  assert.ok(wrong instanceof AuthenticationError, `expected AuthenticationError, got ${wrong}`);
  const missing = await rejection(dial(t.url, { handshakeTimeout: 5_000 }));
  assert.ok(missing instanceof AuthenticationError, `expected AuthenticationError, got ${missing}`);
  await logged(t.log, /wrong token/);
  await logged(t.log, /sent no token/);
  assert.ok(!t.log.lines.join("\n").includes(secret), "the log holds the secret");
  await assertWorks(conn, "the client with the right token");
});

Deno.test("serve({ws}): maxConnections refuses the client beyond it, as on TCP", async () => {
  await using t = wsServer({ maxConnections: 1 });
  await using first = await dial(t.url);
  const refused = await rejection(dial(t.url));
  assert.ok(refused instanceof ProtocolError, `got ${refused}`);
  assert.match((refused as Error).message, /too many connections/);
  await assertWorks(first, "the first client");
  await first.close();
  await waitFor(() => t.server.connections.size === 0, 5_000, "the first to go");
  await using next = await dial(t.url);
  await assertWorks(next, "a client once there was room");
});

Deno.test("serve({ws}): idleTimeout closes an idle connection", async () => {
  await using t = wsServer({ idleTimeout: 200 });
  await using conn = await dial(t.url);
  assert.equal(await conn.root.add(1, 1), 2);
  await within(conn.finished, 5_000, "the idle connection to close");
  await logged(t.log, /idle for 200 ms \(idleTimeout\)/);
});

// --- closing --------------------------------------------------------------------------------------

Deno.test("closing the server rejects a pending call with ConnectionClosedError, promptly", async () => {
  await using t = wsServer();
  const conn = await dial(t.url);
  const pending = conn.root.never();
  await waitFor(() => t.server.connections.size === 1);
  const started = performance.now();
  const closing = t.server.close();
  const error = await within(rejection(pending), 3_000, "the pending call to reject");
  assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
  assert.ok(performance.now() - started < 2_000, "the rejection took long");
  await closing;
  await conn.finished;
});

Deno.test("closing the client ends the server's side: its call to a client callback rejects", async () => {
  await using t = wsServer();
  const conn = await dial(t.url);
  const hanging = conn.root.callAndWait(() => new Promise(() => {}));
  await waitFor(() => t.seen.connections.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await conn.close();
  assert.ok(await rejection(hanging) instanceof ConnectionClosedError);
  await waitFor(() => t.seen.callbackOutcome !== undefined, 3_000, "the server's call to end");
  assert.ok(
    t.seen.callbackOutcome instanceof ConnectionClosedError,
    `the server's call ended with ${t.seen.callbackOutcome}`,
  );
  await waitFor(() => t.server.connections.size === 0, 3_000, "the server's side to close");
});

// --- hostile peers --------------------------------------------------------------------------------

Deno.test("hostile WebSocket peers: garbage and a text message close only their own connection", async () => {
  await using t = wsServer();
  await using honest = await dial(t.url);
  await assertWorks(honest, "the honest client");

  // Garbage binary: a frame header announcing 2 GiB, before the handshake.
  const garbage = await rawSocket(t.url);
  garbage.socket.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  garbage.socket.send(new Uint8Array(1000).fill(0xab));
  await within(garbage.closed, 5_000, "the garbage peer to be closed");
  await logged(t.log, /exceeds the limit/);
  await assertWorks(honest, "the honest client after the garbage");

  // A text message, after a proper handshake: the server's side closes with 1003 and a reason.
  const texter = await rawSocket(t.url);
  texter.socket.send(rawFrame(hello("Raw")));
  await waitFor(() => t.server.connections.size === 2, 5_000, "the raw peer's handshake");
  texter.socket.send("hello, is this JSON-RPC?");
  const closed = await within(texter.closed, 5_000, "the text peer to be closed");
  assert.equal(closed.code, 1003);
  assert.match(closed.reason, /text message/);
  await logged(t.log, /sent a text message: rdc over WebSocket uses binary messages/);
  await waitFor(() => t.server.connections.size === 1, 5_000, "the text peer's connection to go");

  await assertWorks(honest, "the honest client after the text message");
  await using after = await dial(t.url);
  await assertWorks(after, "a client connected after");
});

Deno.test("a peer that floods while nothing reads is cut off at the read-ahead bound", async () => {
  let stall = false;
  const release = Promise.withResolvers<void>();
  // The authenticator reads nothing from a flooding peer until told: its bytes can only queue.
  const gate: Authenticator = async () => {
    if (stall) await release.promise;
    return null;
  };
  await using t = wsServer({ authenticator: gate });
  await using honest = await dial(t.url);
  stall = true;
  const flood = await rawSocket(t.url);
  const chunk = new Uint8Array(MiB);
  for (let i = 0; i < 17; i++) flood.socket.send(chunk);
  const closed = await within(flood.closed, 10_000, "the flooding peer to be cut off");
  assert.equal(closed.code, 1009, `closed with ${closed.code} ${closed.reason}`);
  assert.match(closed.reason, /ahead of what was read/);
  release.resolve();
  await logged(t.log, /sent more than 16777216 bytes ahead of what was read/);
  await assertWorks(honest, "the honest client");
});

/** A WebSocket client over a raw TCP socket: it writes what it is told and reads nothing after the upgrade. */
async function nonReadingSocket(port: number, path: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(
    conn,
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  // Reads the 101 answer only (the server's first message may come with it: it is left unread).
  const buffer = new Uint8Array(1);
  let head = "";
  while (!head.endsWith("\r\n\r\n")) {
    if (await conn.read(buffer) === null) throw new Error(`no upgrade: ${head}`);
    head += String.fromCharCode(buffer[0]!);
  }
  assert.match(head, /^HTTP\/1\.1 101/);
  return conn;
}

/** One masked binary WebSocket frame (clients must mask). */
function clientFrame(payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const out = new Uint8Array(2 + extra + 4 + length);
  const view = new DataView(out.buffer);
  out[0] = 0x82;
  if (extra === 0) out[1] = 0x80 | length;
  else if (extra === 2) {
    out[1] = 0x80 | 126;
    view.setUint16(2, length);
  } else {
    out[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(length));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, 2 + extra);
  for (let i = 0; i < length; i++) out[2 + extra + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

Deno.test("a peer that stops reading stalls the server's writes (no unbounded queue): drainTimeout closes it", async () => {
  await using t = wsServer({ drainTimeout: 1_000 });
  await using honest = await dial(t.url);
  const conn = await nonReadingSocket(t.port, "/rdc");
  try {
    await writeAll(conn, clientFrame(rawFrame(hello("Raw"))));
    // Asks for 64 MiB, then reads none of it.
    await writeAll(conn, clientFrame(rawFrame(request(0, OP.CALL, 0, ["zeros"], [64 * MiB]))));
    await logged(t.log, /read nothing for 1000 ms \(drainTimeout\)/);
    await waitFor(() => t.server.connections.size === 1, 5_000, "the stalled connection to go");
    await assertWorks(honest, "the honest client");
  } finally {
    conn.close();
  }
});

// --- rdc classic --ws -----------------------------------------------------------------------------

Deno.test("rdc classic --ws PATH: classic.connectWebSocket drives it", async () => {
  await using proc = new RdcProcess(["classic", "--ws", "/rdc", "-p", "0"]);
  const [, url] = await proc.waitStderr(/serving concurrent on (ws:\/\/127\.0\.0\.1:\d+\/rdc)/);
  await using conn = await classic.connectWebSocket(url!, { logger: quietLogger() });
  assert.equal(await conn.eval("1 + 1"), 2);
  assert.equal(await conn.globals.Deno.pid, proc.child.pid);
  await conn.execute("let hits = 0; function hit() { return ++hits; }");
  assert.equal(await conn.eval("hit() + hit()"), 3);
  const square = await conn.teleport((n: number) => n * n);
  assert.equal(await square(12), 144);
  // The same port answers plain HTTP with a clear refusal.
  const port = new URL(url!).port;
  assert.equal((await get(`http://127.0.0.1:${port}/rdc`)).status, 426);
  await conn.close();
  const status = await proc.stop();
  assert.equal(status.code, 0, proc.output());
});

Deno.test("rdc classic --ws PATH -m isolated: each WebSocket client gets its own process", async () => {
  await using proc = new RdcProcess(["classic", "--ws", "/rdc", "-p", "0", "-m", "isolated"]);
  const [, url] = await proc.waitStderr(/serving isolated on (ws:\/\/127\.0\.0\.1:\d+\/rdc)/);
  await using a = await classic.connectWebSocket(url!, { logger: quietLogger() });
  await using b = await classic.connectWebSocket(url!, { logger: quietLogger() });
  const pids = [await a.globals.Deno.pid, await b.globals.Deno.pid, proc.child.pid];
  assert.equal(new Set(pids).size, 3, `pids ${pids}`);
  // 3 MiB through the relay to the child and back.
  const big = pattern(3 * MiB);
  const back = await a.eval("(bytes) => bytes")(big) as Uint8Array<ArrayBuffer>;
  assert.equal(await digest(back), await digest(big));
  await a.close();
  await b.close();
  assert.equal((await proc.stop()).code, 0, proc.output());
});

Deno.test("rdc classic --ws: mistakes are usage errors; --help lists it", async () => {
  const help = await runRdc("classic", "--help");
  assert.match(help.stdout, /--ws PATH/);
  for (
    const [args, reason] of [
      [["--ws", "rdc"], /a path starts with \//],
      [["--ws", "/rdc", "--unix", "/tmp/rdc-ws.sock"], /--ws cannot be combined with --unix/],
      [["--ws", "/rdc", "-m", "stdio"], /stdin\/stdout/],
      [
        ["--ws", "/rdc", "--register"],
        /--register needs a TCP server \(not stdio, --unix or --ws\)/,
      ],
    ] as const
  ) {
    const result = await runRdc("classic", ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, reason);
  }
});

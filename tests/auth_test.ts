/**
 * Authenticators: `serve(service, {authenticator})` on the raw connection
 * before the protocol, its result as `conn.credentials`, refusals that close
 * one connection only, a bounded wait; `tokenAuthenticator` with `connect`,
 * `classic.connect` and TLS; and `rdc classic --auth-token-file`, the
 * `--ssl-*` usage errors, and non-loopback binds guarded by TLS or a token
 * (wildcard binds only inside a private network namespace).
 */

import assert from "node:assert/strict";
import {
  AuthenticationError,
  type Authenticator,
  classic,
  connect,
  type Connection,
  ConnectionClosedError,
  connectStream,
  connectTls,
  type Incoming,
  tokenAuthenticator,
} from "../mod.ts";
import { presentToken } from "../core/net/token.ts";
import { certificates, NAMES, writeCertFiles } from "./_certs.ts";
import { logged, quietLogger, rejection, waitFor, whoAmIServer, writeAll } from "./_helpers.ts";
import { canRun, oneshotAddress, privateNetns, RDC, RdcProcess, runRdc, within } from "./_cli.ts";

// --- helpers ----------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads bytes up to a newline from a raw transport, one at a time (so nothing more is taken). */
async function readLine(incoming: Incoming): Promise<string> {
  const byte = new Uint8Array(1);
  const bytes: number[] = [];
  while (bytes.length < 200) {
    if (await incoming.transport.read(byte) === null) throw new Error("the client hung up");
    if (byte[0] === 0x0a) return decoder.decode(new Uint8Array(bytes));
    bytes.push(byte[0]!);
  }
  throw new Error("line too long");
}

/**
 * Opens a raw TCP connection, says `user NAME`, reads the server's one-line
 * answer, then speaks rdc on the same socket.
 */
async function connectAs(
  port: number,
  name: string,
): Promise<{ conn: Connection; answer: string }> {
  const socket = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(socket, encoder.encode(`user ${name}\n`));
    const buffer = new Uint8Array(64);
    let answer = "";
    while (!answer.endsWith("\n")) {
      const n = await socket.read(buffer.subarray(0, 1)); // byte by byte: the HELLO follows
      if (n === null) throw new ConnectionClosedError("the server hung up");
      answer += decoder.decode(buffer.subarray(0, n));
    }
    const conn = await connectStream(socket, { logger: quietLogger(), description: "raw" });
    return { conn, answer: answer.trimEnd() };
  } catch (error) {
    try {
      socket.close();
    } catch {
      // Closed by the failed connection already.
    }
    throw error;
  }
}

/** An authenticator speaking the `user NAME` preamble; refuses mallory. */
function userAuthenticator(calls: Incoming[] = []): Authenticator {
  return async (incoming) => {
    calls.push(incoming);
    const line = await readLine(incoming);
    const name = /^user (\w+)$/.exec(line)?.[1];
    if (!name) throw new Error(`bad preamble`);
    if (name === "mallory") throw new Error(`${name} is not welcome`);
    await incoming.transport.write(encoder.encode(`welcome ${name}\n`));
    return { user: name, peer: incoming.peer };
  };
}

const PEER = String.raw`127\.0\.0\.1:\d+`;

// --- authenticators ---------------------------------------------------------------------------

Deno.test("an authenticator reads and writes the raw connection before the protocol; its result is conn.credentials", async () => {
  const calls: Incoming[] = [];
  await using t = await whoAmIServer({ authenticator: userAuthenticator(calls) });
  const { conn, answer } = await connectAs(t.port, "alice");
  await using _ = conn;
  // What the authenticator wrote came before the server's HELLO.
  assert.equal(answer, "welcome alice");
  assert.equal(await conn.root.add(1, 2), 3);
  const credentials = await conn.root.credentials() as { user: string; peer: string };
  assert.equal(credentials.user, "alice");
  assert.deepEqual(t.seen, [credentials], "onConnect saw the credentials first");
  // What it was given: the transport, who connected (over TCP: no certificate).
  assert.equal(calls.length, 1);
  const [incoming] = calls;
  assert.match(incoming!.peer, new RegExp(`^tcp ${PEER}$`));
  assert.equal(credentials.peer, incoming!.peer);
  assert.equal(incoming!.transport.description, incoming!.peer);
  assert.equal(incoming!.certificate, null);
});

Deno.test("over TLS, an authenticator gets the verified client certificate and maps it to a user", async () => {
  const c = await certificates();
  const authenticator: Authenticator = ({ certificate, peer }) => {
    assert.match(peer, new RegExp(`^tls ${PEER}$`));
    const cn = /(?:^|, )CN=([^,]+)/.exec(certificate?.subject ?? "")?.[1];
    if (cn !== NAMES.client) throw new Error(`unknown user ${cn}`);
    return { user: cn, fingerprint: certificate!.fingerprint };
  };
  await using t = await whoAmIServer({
    tls: { cert: c.server.cert, key: c.server.key, ca: [c.ca, c.rogueCa] },
    authenticator,
  });
  {
    await using conn = await connectTls("127.0.0.1", t.port, {
      caCerts: [c.ca],
      ...c.client,
      logger: quietLogger(),
    });
    const credentials = await conn.root.credentials() as { user: string; fingerprint: string };
    assert.equal(credentials.user, NAMES.client);
    assert.match(credentials.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  }
  // The rogue client passes TLS (its root is listed) but not the authenticator.
  await rejection(connectTls("127.0.0.1", t.port, {
    caCerts: [c.ca],
    ...c.rogueClient,
    logger: quietLogger(),
  }));
  await logged(t.log, /refused by the authenticator: unknown user mallory/);
  assert.equal(t.seen.length, 1);
});

Deno.test("an authenticator's refusal is logged and closes that connection only", async () => {
  await using t = await whoAmIServer({ authenticator: userAuthenticator() });
  const first = await connectAs(t.port, "alice");
  await using _first = first.conn;
  const refused = await rejection(connectAs(t.port, "mallory"));
  assert.ok(refused instanceof ConnectionClosedError, `${refused}`);
  const line = await logged(t.log, /refused by the authenticator/);
  assert.match(line, /^warn: /);
  assert.match(
    line,
    new RegExp(
      `connection from tcp ${PEER} failed: refused by the authenticator: mallory is not welcome`,
    ),
  );
  // The connection already open goes on, and new ones are let in.
  assert.equal(await first.conn.root.add(2, 2), 4);
  const second = await connectAs(t.port, "bob");
  await using _second = second.conn;
  assert.equal((await second.conn.root.credentials()).user, "bob");
  assert.deepEqual(t.seen.map((c) => (c as { user: string }).user), ["alice", "bob"]);
  assert.equal(t.server.connections.size, 2);
});

Deno.test("an authenticator that never returns is cut off after handshakeTimeout; others are served meanwhile", async () => {
  const stuck = Promise.withResolvers<unknown>();
  let calls = 0;
  const authenticator: Authenticator = () => ++calls === 1 ? stuck.promise : { user: "next" };
  await using t = await whoAmIServer({ authenticator, handshakeTimeout: 300 });
  try {
    // The first client waits far longer than the server's bound on its own side.
    const first = connect("127.0.0.1", t.port, { logger: quietLogger(), handshakeTimeout: 20_000 });
    await waitFor(() => calls === 1, 5_000, "the first authentication");
    {
      await using other = await connect("127.0.0.1", t.port, { logger: quietLogger() });
      assert.deepEqual(await other.root.credentials(), { user: "next" });
    }
    // Closed by the server (with or without a word), not given up by the client.
    const error = await rejection(first);
    assert.ok(
      error instanceof ConnectionClosedError || error instanceof AuthenticationError,
      `${error}`,
    );
    await logged(t.log, /refused by the authenticator: authentication took longer than 300 ms/);
    assert.deepEqual(t.seen, [{ user: "next" }]);
  } finally {
    stuck.resolve({ user: "late" });
  }
  // Resolving late lets nobody in.
  await waitFor(() => t.server.connections.size === 0, 5_000, "the other connection to close");
  assert.deepEqual(t.seen, [{ user: "next" }]);
});

// --- tokenAuthenticator -----------------------------------------------------------------------

Deno.test("tokenAuthenticator: the right token works with connect and classic.connect", async () => {
  const secret = `s3cret-${crypto.randomUUID()}`;
  {
    await using t = await whoAmIServer({ authenticator: tokenAuthenticator(secret) });
    await using conn = await connect("127.0.0.1", t.port, { token: secret, logger: quietLogger() });
    assert.equal(await conn.root.add(20, 22), 42);
    assert.deepEqual(await conn.root.credentials(), { token: true });
    assert.deepEqual(t.seen, [{ token: true }]);
  }
  {
    await using server = classic.serve({
      port: 0,
      authenticator: tokenAuthenticator(secret),
      logger: quietLogger(),
    });
    const { port } = server.addr as Deno.NetAddr;
    await using conn = await classic.connect("127.0.0.1", port, {
      token: secret,
      logger: quietLogger(),
    });
    assert.equal(await conn.eval("6 * 7"), 42);
    assert.deepEqual(await conn.root.connection.credentials, { token: true });
  }
});

Deno.test("tokenAuthenticator: a wrong token is refused with AuthenticationError; the log keeps the secret out", async () => {
  const secret = `s3cret-${crypto.randomUUID()}`;
  await using t = await whoAmIServer({ authenticator: tokenAuthenticator(secret) });
  // Wrong in content, a prefix of it, and the secret with something more.
  for (const token of ["not-the-secret", secret.slice(0, -1), `${secret}x`]) {
    const error = await rejection(
      connect("127.0.0.1", t.port, { token, logger: quietLogger() }),
    );
    assert.ok(error instanceof AuthenticationError, `${error}`);
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${t.port} refused the token`));
    assert.ok(!error.message.includes(secret.slice(0, -1)), "the client's error holds the token");
  }
  await waitFor(() => t.log.lines.length === 3, 5_000, "three log lines");
  for (const line of t.log.lines) {
    assert.match(line, new RegExp(`connection from tcp ${PEER} failed: .*wrong token`));
    assert.ok(!line.includes(secret.slice(0, 8)), `the log holds the secret: ${line}`);
  }
  assert.deepEqual(t.seen, []);
  // A client with the right one still gets in.
  await using conn = await connect("127.0.0.1", t.port, { token: secret, logger: quietLogger() });
  assert.equal(await conn.root.add(1, 1), 2);
});

Deno.test("tokenAuthenticator: a missing token is refused with AuthenticationError", async () => {
  const secret = `s3cret-${crypto.randomUUID()}`;
  await using t = await whoAmIServer({ authenticator: tokenAuthenticator(secret) });
  const error = await rejection(
    connect("127.0.0.1", t.port, { logger: quietLogger(), handshakeTimeout: 5_000 }),
  );
  const line = await logged(t.log, /refused by the authenticator: the client sent no token/);
  assert.ok(!line.includes(secret), line);
  assert.deepEqual(t.seen, []);
  assert.ok(
    error instanceof AuthenticationError,
    `expected an AuthenticationError, got ${(error as Error).name}: ${(error as Error).message}`,
  );
});

Deno.test("tokenAuthenticator: a client that sends nothing is cut off after handshakeTimeout", async () => {
  await using t = await whoAmIServer({
    authenticator: tokenAuthenticator("secret"),
    handshakeTimeout: 300,
  });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  try {
    // The server may say a word before it closes; what matters is that it closes.
    const buffer = new Uint8Array(256);
    let total = 0;
    let read: number | null;
    while ((read = await within(raw.read(buffer).catch(() => null), 5_000, "a close")) !== null) {
      total += read;
      assert.ok(total < 4096, "the server keeps writing");
    }
    await logged(t.log, /authentication took longer than 300 ms/);
  } finally {
    raw.close();
  }
});

Deno.test("a token presented to a server without an authenticator is refused with AuthenticationError", async () => {
  await using t = await whoAmIServer({});
  const error = await rejection(
    connect("127.0.0.1", t.port, { token: "anything", logger: quietLogger() }),
  );
  assert.ok(error instanceof AuthenticationError, `${error}`);
  await logged(t.log, /not an rdc peer/);
});

Deno.test("tokenAuthenticator with TLS and client certificates: all three must pass", async () => {
  const c = await certificates();
  const secret = crypto.randomUUID();
  await using t = await whoAmIServer({
    tls: { cert: c.server.cert, key: c.server.key, ca: c.ca },
    authenticator: tokenAuthenticator(secret),
  });
  const base = { caCerts: [c.ca], logger: quietLogger() };
  {
    await using conn = await connectTls("127.0.0.1", t.port, {
      ...base,
      ...c.client,
      token: secret,
    });
    assert.equal(await conn.root.add(3, 4), 7);
    assert.deepEqual(await conn.root.credentials(), { token: true });
  }
  const wrongToken = await rejection(
    connectTls("127.0.0.1", t.port, { ...base, ...c.client, token: "wrong" }),
  );
  assert.ok(wrongToken instanceof AuthenticationError, `${wrongToken}`);
  assert.match(wrongToken.message, new RegExp(`^tls 127\\.0\\.0\\.1:${t.port} refused the token`));
  // The right token without a client certificate never gets as far as the token.
  await rejection(connectTls("127.0.0.1", t.port, { ...base, token: secret }));
  await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
  assert.ok(!t.log.lines.join("\n").includes(secret), "the secret was logged");
  assert.equal(t.seen.length, 1);
});

Deno.test("tokenAuthenticator refuses an empty or oversized secret; presentToken an oversized token", async () => {
  assert.throws(() => tokenAuthenticator(""), RangeError);
  assert.throws(() => tokenAuthenticator("x".repeat(4097)), RangeError);
  tokenAuthenticator("x".repeat(4096));
  const transport = {
    description: "nowhere",
    read: () => Promise.resolve(null),
    write: () => Promise.reject(new Error("not to be written")),
    close() {},
  };
  await assert.rejects(presentToken(transport, "x".repeat(4097)), RangeError);
});

// --- rdc classic --auth-token-file ------------------------------------------------------------

Deno.test("rdc classic --auth-token-file: the token is required and never logged", async () => {
  const secret = `cli-${crypto.randomUUID()}`;
  await writeCertFiles({ token: `${secret}\n` }, async (paths) => {
    await using proc = new RdcProcess(["classic", "--auth-token-file", paths.token!, "-p", "0"]);
    const port = Number((await proc.waitStderr(/serving concurrent on 127\.0\.0\.1:(\d+)/))[1]);
    {
      // The file's trailing newline is not part of the secret.
      await using conn = await classic.connect("127.0.0.1", port, {
        token: secret,
        logger: quietLogger(),
      });
      assert.equal(await conn.eval("6 * 7"), 42);
      assert.deepEqual(await conn.root.connection.credentials, { token: true });
    }
    const wrong = await rejection(
      classic.connect("127.0.0.1", port, { token: `${secret}\n`, logger: quietLogger() }),
    );
    assert.ok(wrong instanceof AuthenticationError, `${wrong}`);
    await rejection(classic.connect("127.0.0.1", port, { logger: quietLogger() }));
    await proc.waitStderr(/wrong token(.|\n)*sent no token/);
    assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
    assert.ok(!proc.stderr.includes(secret), `the secret is in the log:\n${proc.output()}`);
    assert.equal(proc.stdout, "");
  });
});

// --- usage errors -----------------------------------------------------------------------------

/** Runs `rdc ...args` and checks: exit 2, nothing on stdout, one stderr line matching each pattern. */
async function expectUsageError(args: string[], patterns: RegExp[]): Promise<void> {
  const { code, stdout, stderr } = await runRdc(...args);
  const shown = `rdc ${args.join(" ")}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 2, `exit status ${code}, expected 2: ${shown}`);
  assert.equal(stdout, "", `printed on stdout: ${shown}`);
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected exactly one line on stderr: ${shown}`);
  for (const pattern of patterns) assert.match(lines[0]!, pattern, shown);
}

Deno.test("rdc classic --ssl-* and --auth-token-file usage errors: exit 2, one line", async () => {
  const c = await certificates();
  const files = { "server.pem": c.server.cert, "server.key": c.server.key, "ca.pem": c.ca };
  await writeCertFiles({ ...files, empty: "\n  \n", token: "t0ken\n" }, async (p, dir) => {
    const key = ["--ssl-keyfile", p["server.key"]!];
    const cert = ["--ssl-certfile", p["server.pem"]!];
    const missing = `${dir}/no-such-file.pem`;
    const cases: [string, string[], RegExp[]][] = [
      ["a keyfile without a certfile", key, [/--ssl-keyfile needs --ssl-certfile/]],
      ["a certfile without a keyfile", cert, [/--ssl-certfile needs --ssl-keyfile/]],
      ["a cafile alone", ["--ssl-cafile", p["ca.pem"]!], [/--ssl-cafile needs/]],
      ["an unreadable keyfile", ["--ssl-keyfile", missing, ...cert], [/--ssl-keyfile/, /no-such/]],
      ["an unreadable certfile", [...key, "--ssl-certfile", missing], [/--ssl-certfile/]],
      ["an unreadable cafile", [...key, ...cert, "--ssl-cafile", missing], [/--ssl-cafile/]],
      ["a directory as certfile", [...key, "--ssl-certfile", dir], [/--ssl-certfile/]],
      ["an unreadable token file", ["--auth-token-file", missing], [/--auth-token-file/]],
      ["an empty token file", ["--auth-token-file", p.empty!], [/--auth-token-file/, /no secret/]],
      ["TLS with --unix", [...key, ...cert, "--unix", `${dir}/s`], [/TLS/, /--unix/]],
      ["TLS with --mode stdio", [...key, ...cert, "-m", "stdio"], [/stdio/, /TLS/]],
      ["a token with --mode stdio", ["--auth-token-file", p.token!, "-m", "stdio"], [/stdio/]],
    ];
    const failures = await Promise.allSettled(cases.map(async ([what, args, patterns]) => {
      try {
        await expectUsageError(["classic", ...args], patterns);
      } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}`);
      }
    }));
    const messages = failures.flatMap((f) => f.status === "rejected" ? [f.reason.message] : []);
    assert.deepEqual(messages, []);
  });
});

// --- non-loopback binds guarded by TLS or a token ---------------------------------------------

Deno.test("rdc classic: with TLS or a token, a non-loopback --host passes the guard (an address this host lacks)", async () => {
  // 192.0.2.1 (TEST-NET-1) is not ours, so the bind fails after the guard let it through:
  // exit 1 naming the address, not the usage error that asks for --insecure-remote.
  const local = Deno.networkInterfaces().some((nic) => nic.address === "192.0.2.1");
  if (local) {
    console.warn("auth_test: 192.0.2.1 is a local address here: skipping");
    return;
  }
  const c = await certificates();
  const files = { "server.pem": c.server.cert, "server.key": c.server.key, token: "t0ken\n" };
  await writeCertFiles(files, async (p) => {
    const tls = ["--ssl-keyfile", p["server.key"]!, "--ssl-certfile", p["server.pem"]!];
    const guards = [["TLS", tls], ["a token", ["--auth-token-file", p.token!]]] as const;
    const failures: string[] = [];
    for (const [what, flags] of guards) {
      for (const port of ["0", "18999"]) {
        const args = ["classic", ...flags, "--host", "192.0.2.1", "-p", port];
        const { code, stdout, stderr } = await runRdc(...args);
        const shown = `${what}, -p ${port}: exit ${code}: ${stderr.trimEnd()}`;
        if (code !== 1 || stdout !== "" || stderr.trimEnd().split("\n").length !== 1) {
          failures.push(`expected exit 1 and one line: ${shown}`);
        } else if (/--insecure-remote/.test(stderr)) {
          failures.push(`the guard refused it: ${shown}`);
        } else if (
          !new RegExp(`cannot listen on ${what === "TLS" ? "tls" : "tcp"} 192\\.0\\.2\\.1:${port}`)
            .test(stderr)
        ) {
          failures.push(`the error does not name the address: ${shown}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});

const NETNS = privateNetns();
if (NETNS === undefined) {
  console.warn(
    "auth_test: skipping the wildcard binds with TLS or a token: no private network namespace " +
      "(unshare --net failed); they are never tried on the real network",
  );
}

/**
 * Runs `rdc classic --host 0.0.0.0 -m oneshot -p 0 ...flags` in a private
 * network namespace: it must serve without --insecure-remote and without a
 * warning. As root, a client run inside that namespace by `client(port)`'s
 * script must print 42, and the server then exits by itself.
 */
async function wildcardServes(flags: string[], client: (port: number) => string): Promise<void> {
  await using proc = new RdcProcess(
    ["classic", "--host", "0.0.0.0", ...flags, "-m", "oneshot", "-p", "0"],
    { command: [...NETNS!, ...RDC] },
  );
  const match = /^0\.0\.0\.0\t(\d+)$/.exec(await oneshotAddress(proc));
  assert.ok(match, proc.output());
  const port = Number(match[1]);
  await proc.waitStderr(/serving oneshot on 0\.0\.0\.0:\d+/);
  assert.doesNotMatch(proc.stderr, /warn/, proc.output());
  const netns = (pid: number | "self") => Deno.readLinkSync(`/proc/${pid}/ns/net`);
  assert.notEqual(netns(proc.child.pid), netns("self"), "the wildcard server is on our network");
  if (Deno.uid() === 0 && canRun("nsenter", ["--version"])) {
    await using user = new RdcProcess(["eval", client(port)], {
      command: ["nsenter", `--net=/proc/${proc.child.pid}/ns/net`, "--", Deno.execPath()],
    });
    assert.equal((await user.wait()).code, 0, user.output());
    assert.equal(user.stdout, "42\n", user.output());
    assert.equal((await proc.wait()).code, 0, proc.output());
  } else {
    assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
  }
}

const CLASSIC_URL = new URL("../core/classic/mod.ts", import.meta.url).href;

Deno.test({
  name: "rdc classic --host 0.0.0.0 with TLS needs no --insecure-remote (private netns only)",
  ignore: NETNS === undefined,
  async fn() {
    const c = await certificates();
    const files = { "server.pem": c.server.cert, "server.key": c.server.key, "ca.pem": c.ca };
    await writeCertFiles(files, async (p) => {
      await wildcardServes(
        ["--ssl-keyfile", p["server.key"]!, "--ssl-certfile", p["server.pem"]!],
        (port) =>
          `const classic = await import(${JSON.stringify(CLASSIC_URL)});
          const ca = await Deno.readTextFile(${JSON.stringify(p["ca.pem"])});
          const conn = await classic.connectTls("127.0.0.1", ${port}, { caCerts: [ca] });
          console.log(await conn.eval("6 * 7"));
          await conn.close();`,
      );
    });
  },
});

Deno.test({
  name: "rdc classic --host 0.0.0.0 with a token needs no --insecure-remote (private netns only)",
  ignore: NETNS === undefined,
  async fn() {
    const secret = crypto.randomUUID();
    await writeCertFiles({ token: secret }, async (p) => {
      await wildcardServes(
        ["--auth-token-file", p.token!],
        (port) =>
          `const classic = await import(${JSON.stringify(CLASSIC_URL)});
          const conn = await classic.connect("127.0.0.1", ${port}, { token: ${
            JSON.stringify(secret)
          } });
          console.log(await conn.eval("6 * 7"));
          await conn.close();`,
      );
    });
  },
});

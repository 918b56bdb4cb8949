/**
 * TLS: `serve({tls})`, `connectTls`, `classic.connectTls`, client
 * certificates and the credentials they become, RPyC's `test_ssl` matrix,
 * hardening (plain TCP on either side, expired certificates, a stalled
 * handshake), `serveIsolated` over TLS, `rdc classic --ssl-*` as a
 * subprocess, and examples/tls_classic.ts.
 *
 * Certificates are made once for this file by tests/_certs.ts (see its
 * layout); nothing is left on disk.
 */

import assert from "node:assert/strict";
import {
  AuthenticationError,
  classic,
  connect,
  type ConnectionOptions,
  connectTls,
  type PeerCertificate,
  serveIsolated,
  type ServeOptions,
  type TlsClientOptions,
  type TlsServerOptions,
  tokenAuthenticator,
} from "../mod.ts";
import { certificates, type Certs, NAMES, writeCertFiles } from "./_certs.ts";
import { logged, quietLogger, rejection, waitFor, whoAmIServer } from "./_helpers.ts";
import { oneshotAddress, RdcProcess, runRdc, WAIT_MS, within } from "./_cli.ts";

// --- helpers ----------------------------------------------------------------------------------

/** A TLS server of {@linkcode whoAmI} on a free loopback port, with its log kept. */
function tlsServer(tls: TlsServerOptions | undefined, options: Partial<ServeOptions> = {}) {
  return whoAmIServer({ tls, ...options });
}

/** The server's own certificate, asking no client certificate. */
function serverOnly(c: Certs): TlsServerOptions {
  return { cert: c.server.cert, key: c.server.key };
}

/** The server's certificate, requiring client certificates from the trusted root. */
function mutual(c: Certs, extra: Partial<TlsServerOptions> = {}): TlsServerOptions {
  return { cert: c.server.cert, key: c.server.key, ca: c.ca, ...extra };
}

/** Connects over TLS to 127.0.0.1:port with a client that keeps its log to itself. */
function dial(port: number, options: TlsClientOptions & ConnectionOptions = {}) {
  return connectTls("127.0.0.1", port, { logger: quietLogger(), ...options });
}

/** Connects, checks a call works and the credentials the server holds, and closes. */
async function expectAccepted(
  port: number,
  options: TlsClientOptions,
): Promise<unknown> {
  await using conn = await dial(port, options);
  assert.equal(await conn.root.add(2, 3), 5);
  assert.equal(conn.credentials, null, "a client's credentials are null");
  return await conn.root.credentials();
}

/** Connects and expects a refusal; returns the error. */
async function expectRefused(port: number, options: TlsClientOptions): Promise<Error> {
  const error = await rejection(dial(port, { handshakeTimeout: 5_000, ...options }));
  assert.ok(error instanceof Error, `expected an Error, got ${error}`);
  return error;
}

/** The SHA-256 fingerprint of a PEM certificate (the first of a chain), as node:tls writes it. */
async function fingerprintOf(pem: string): Promise<string> {
  const body = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem)![1]!;
  const der = Uint8Array.from(atob(body.replace(/\s+/g, "")), (ch) => ch.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** Checks `credentials` describe the certificate `pem`, with this subject and issuer CN. */
async function expectCertificate(
  credentials: unknown,
  pem: string,
  subjectCn: string,
  issuerCn: string,
): Promise<void> {
  const cert = credentials as PeerCertificate;
  assert.ok(cert && typeof cert === "object", `expected a certificate, got ${credentials}`);
  assert.match(cert.subject, new RegExp(`(^|, )CN=${subjectCn}(,|$)`));
  assert.match(cert.subject, /O=rdc tests/);
  assert.match(cert.issuer, new RegExp(`(^|, )CN=${issuerCn}(,|$)`));
  assert.equal(cert.fingerprint, await fingerprintOf(pem));
  assert.match(cert.serialNumber, /^[0-9A-F]+$/i);
  assert.ok(cert.validFrom && cert.validTo, "validity dates missing");
}

/** A peer address as the server logs it. */
const PEER = String.raw`127\.0\.0\.1:\d+`;

// --- serve({tls}), connectTls, classic.connectTls, credentials --------------------------------

Deno.test("serve({tls}) + connectTls: the chain verifies to the root; the client certificate is conn.credentials", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c));
  const fromMethod = await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
  await expectCertificate(fromMethod, c.client.cert, NAMES.client, NAMES.ca);
  // onConnect saw the same credentials, before any request.
  assert.equal(t.seen.length, 1);
  assert.deepEqual(t.seen[0], fromMethod);
  assert.deepEqual(t.log.lines, []);
});

Deno.test("classic.connectTls: conn.root.connection.credentials is the client certificate", async () => {
  const c = await certificates();
  await using server = classic.serve({ port: 0, tls: mutual(c), logger: quietLogger() });
  await server.ready;
  const { port } = server.addr as Deno.NetAddr;
  await using conn = await classic.connectTls("127.0.0.1", port, {
    caCerts: [c.ca],
    ...c.client,
    logger: quietLogger(),
  });
  assert.equal(await conn.eval("6 * 7"), 42);
  const credentials = await conn.root.connection.credentials;
  await expectCertificate(credentials, c.client.cert, NAMES.client, NAMES.ca);
  await waitFor(() => server.connections.size === 1, 5_000, "the server's connection");
  const [serverSide] = server.connections;
  assert.deepEqual(serverSide!.credentials, credentials);
});

Deno.test("classic.serve({tls}) listens on 18821 by default, where classic.connectTls() goes", async () => {
  const c = await certificates();
  try {
    Deno.listen({ hostname: "127.0.0.1", port: classic.DEFAULT_TLS_PORT }).close();
  } catch {
    console.warn(`tls_test: port ${classic.DEFAULT_TLS_PORT} is busy: skipping the default port`);
    return;
  }
  assert.equal(classic.DEFAULT_TLS_PORT, 18821);
  await using server = classic.serve({ tls: serverOnly(c), logger: quietLogger() });
  await server.ready;
  assert.equal((server.addr as Deno.NetAddr).port, 18821);
  await using conn = await classic.connectTls(undefined, undefined, {
    caCerts: [c.ca],
    logger: quietLogger(),
  });
  assert.equal(await conn.eval("1 + 2"), 3);
  assert.equal(await conn.root.connection.credentials, null, "no CA: no client certificate");
});

// --- RPyC's test_ssl matrix -------------------------------------------------------------------

Deno.test("a client certificate signed by an untrusted intermediate is refused, naming the unknown CA", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c));
  const error = await expectRefused(t.port, { caCerts: [c.ca], ...c.rogueClient });
  const line = await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
  assert.deepEqual(t.seen, [], "the service saw the refused client");
  // The server goes on: a good client still gets in.
  await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
  // Both ends should say why: RPyC's test looks for "unknown ca" in the client's error.
  const namesTheCa = /unknown ca|rdc Rogue Intermediate CA/i;
  const missing = [
    ...namesTheCa.test(line) ? [] : [`the server's log line: ${line}`],
    ...namesTheCa.test(error.message)
      ? []
      : [`the client's error: ${error.name}: ${error.message}`],
  ];
  assert.deepEqual(missing, [], `these do not name the unknown CA:\n${missing.join("\n")}`);
});

Deno.test("an X.509 v1 client certificate is refused saying v3 is required, not 'unknown CA'", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c));
  const error = await expectRefused(t.port, { caCerts: [c.ca], ...c.v1Client });
  const line = await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
  for (const [who, text] of [["the server's log", line], ["the client's error", error.message]]) {
    assert.match(text!, /X\.509 v1/, `${who}: ${text}`);
    assert.match(text!, /v3 is required/, `${who}: ${text}`);
    assert.doesNotMatch(text!, /unknown CA/i, `${who}: ${text}`);
  }
  await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
});

Deno.test("a missing client certificate is refused when one is required (the default with a CA)", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c));
  const error = await expectRefused(t.port, { caCerts: [c.ca] });
  assert.match(error.message, /certificate/i, `${error.name}: ${error.message}`);
  const line = await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
  assert.match(line, /certificate/i);
  assert.deepEqual(t.seen, []);
  await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
  // connectTls promises errors that name the address, a refused client certificate included.
  assert.ok(
    error.message.includes(`127.0.0.1:${t.port}`),
    `the client's error does not name the address: ${error.name}: ${error.message}`,
  );
});

Deno.test("requireClientCert: false with a CA: no certificate is let in, a good one verified, a bad one refused", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c, { requireClientCert: false }));
  assert.equal(await expectAccepted(t.port, { caCerts: [c.ca] }), null);
  const good = await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
  await expectCertificate(good, c.client.cert, NAMES.client, NAMES.ca);
  for (const bad of [c.rogueClient, c.expiredClient]) {
    t.log.lines.length = 0;
    await expectRefused(t.port, { caCerts: [c.ca], ...bad });
    const line = await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
    assert.match(line, /client certificate .* refused/);
  }
  assert.deepEqual(t.seen, [null, good], "only the two admitted clients reached the service");
});

Deno.test("no CA configured: clients without a certificate are accepted, credentials null", async () => {
  const c = await certificates();
  await using t = await tlsServer(serverOnly(c));
  assert.equal(await expectAccepted(t.port, { caCerts: [c.ca] }), null);
  // A certificate offered to a server that asked for none is neither checked nor reported.
  assert.equal(await expectAccepted(t.port, { caCerts: [c.ca], ...c.rogueClient }), null);
  assert.deepEqual(t.log.lines, []);
});

Deno.test("tls.ca may list several CAs: trusting the rogue root too lets its client in", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c, { ca: [c.ca, c.rogueCa] }));
  const credentials = await expectAccepted(t.port, { caCerts: [c.ca], ...c.rogueClient });
  await expectCertificate(
    credentials,
    c.rogueClient.cert,
    NAMES.rogueClient,
    NAMES.rogueIntermediate,
  );
  await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
});

Deno.test("the client refuses a server certificate it does not trust", async () => {
  const c = await certificates();
  // Signed by the rogue intermediate, while the client trusts our root only.
  {
    await using t = await tlsServer({ cert: c.rogueServer.cert, key: c.rogueServer.key });
    const error = await expectRefused(t.port, { caCerts: [c.ca] });
    assert.match(
      error.message,
      new RegExp(`^TLS connection to 127\\.0\\.0\\.1:${t.port} failed: `),
    );
    assert.match(error.message, /issuer|certificate/i);
    assert.deepEqual(t.seen, []);
  }
  // Our own chain, but the client trusts the system's authorities only.
  {
    await using t = await tlsServer(serverOnly(c));
    const error = await expectRefused(t.port, {});
    assert.match(
      error.message,
      new RegExp(`^TLS connection to 127\\.0\\.0\\.1:${t.port} failed: `),
    );
    assert.deepEqual(t.seen, []);
    // The same server, once the root is trusted.
    assert.equal(await expectAccepted(t.port, { caCerts: [c.ca] }), null);
  }
});

Deno.test("the client refuses a server certificate for another hostname (hostname option)", async () => {
  const c = await certificates();
  await using t = await tlsServer(serverOnly(c));
  // The certificate names localhost and 127.0.0.1: connecting to 127.0.0.1 passes, as localhost too.
  await expectAccepted(t.port, { caCerts: [c.ca] });
  await expectAccepted(t.port, { caCerts: [c.ca], hostname: "localhost" });
  const error = await expectRefused(t.port, { caCerts: [c.ca], hostname: "rdc.example" });
  assert.match(error.message, /rdc\.example/);
  assert.match(error.message, /altnames/);
  assert.equal(t.seen.length, 2, "only the two clients that accepted the name were served");
  // One plain statement: the address, then the reason, once.
  assert.match(
    error.message,
    new RegExp(`^TLS connection to 127\\.0\\.0\\.1:${t.port} failed: `),
    `the message should start with the address: ${error.message}`,
  );
  assert.equal(error.message.split("does not match").length, 2, `repeated: ${error.message}`);
});

Deno.test("the hostname option may be an IP address: the certificate's IP passes, another is refused", async () => {
  const c = await certificates();
  await using t = await tlsServer(serverOnly(c));
  const outcome = await expectAccepted(t.port, { caCerts: [c.ca], hostname: "127.0.0.1" })
    .then(() => "accepted", (error) => `refused: ${error.name}: ${error.message}`);
  assert.equal(outcome, "accepted", "hostname 127.0.0.1, which the certificate names");
  const error = await expectRefused(t.port, { caCerts: [c.ca], hostname: "127.0.0.2" });
  assert.match(error.message, /127\.0\.0\.2/);
  assert.match(error.message, /altnames/, `${error.name}: ${error.message}`);
});

Deno.test("classic.connectTls with a hostname the server certificate lacks is refused", async () => {
  const c = await certificates();
  await using server = classic.serve({ port: 0, tls: serverOnly(c), logger: quietLogger() });
  await server.ready;
  const { port } = server.addr as Deno.NetAddr;
  const error = await rejection(classic.connectTls("127.0.0.1", port, {
    caCerts: [c.ca],
    hostname: "rdc.example",
    logger: quietLogger(),
  }));
  assert.match((error as Error).message, /rdc\.example/);
  assert.equal(server.connections.size, 0);
});

// --- hardening --------------------------------------------------------------------------------

Deno.test("a TLS client speaking to a plain TCP server gets a TLS error; the server goes on", async () => {
  const c = await certificates();
  await using t = await tlsServer(undefined);
  const error = await expectRefused(t.port, { caCerts: [c.ca] });
  assert.match(error.message, new RegExp(`^TLS connection to 127\\.0\\.0\\.1:${t.port} failed: `));
  await logged(t.log, /not an rdc peer/);
  await using plain = await connect("127.0.0.1", t.port, { logger: quietLogger() });
  assert.equal(await plain.root.add(1, 1), 2);
});

Deno.test("a plain client speaking to a TLS server: a clear error, the failure logged, TLS clients still served", async () => {
  const c = await certificates();
  await using t = await tlsServer(serverOnly(c));
  const error = await rejection(
    connect("127.0.0.1", t.port, { logger: quietLogger(), handshakeTimeout: 5_000 }),
  );
  assert.match((error as Error).message, new RegExp(`127\\.0\\.0\\.1:${t.port}.*not an rdc peer`));
  await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
  assert.equal(await expectAccepted(t.port, { caCerts: [c.ca] }), null);
  assert.equal(t.seen.length, 1);
});

Deno.test("an expired server certificate is refused by the client", async () => {
  const c = await certificates();
  await using t = await tlsServer({ cert: c.expiredServer.cert, key: c.expiredServer.key });
  // Signed by the root the client trusts, for the right name: only its dates are wrong.
  const error = await expectRefused(t.port, { caCerts: [c.ca] });
  assert.match(error.message, new RegExp(`^TLS connection to 127\\.0\\.0\\.1:${t.port} failed: `));
  assert.deepEqual(t.seen, []);
});

Deno.test("an expired client certificate is refused by the server, which goes on serving", async () => {
  const c = await certificates();
  await using t = await tlsServer(mutual(c));
  await expectRefused(t.port, { caCerts: [c.ca], ...c.expiredClient });
  await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed`));
  assert.deepEqual(t.seen, []);
  await expectAccepted(t.port, { caCerts: [c.ca], ...c.client });
});

Deno.test("a stalled TLS handshake is cut off after handshakeTimeout; others are served meanwhile", async () => {
  const c = await certificates();
  await using t = await tlsServer(serverOnly(c), { handshakeTimeout: 300 });
  // A raw TCP connection that never says anything.
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  try {
    const closed = raw.read(new Uint8Array(64)).catch(() => null);
    assert.equal(await expectAccepted(t.port, { caCerts: [c.ca] }), null);
    await logged(t.log, new RegExp(`TLS handshake with ${PEER} failed: .*timeout`, "i"));
    // The server must also let go of the socket (bounded wait, not a duration check).
    const end = await within(closed, 5_000, "the server to close the stalled connection")
      .catch((error) => error as Error);
    assert.equal(end, null, `the stalled socket is still open: ${end}`);
    assert.equal(await expectAccepted(t.port, { caCerts: [c.ca] }), null);
  } finally {
    raw.close();
  }
});

// --- serveIsolated over TLS -------------------------------------------------------------------

Deno.test("serveIsolated({tls, authenticator}): a TLS client with a certificate and the token reaches a child", async () => {
  const c = await certificates();
  const secret = crypto.randomUUID();
  const log = quietLogger();
  await using server = serveIsolated(classic.defaultServerCommand(), {
    port: 0,
    tls: mutual(c),
    authenticator: tokenAuthenticator(secret),
    logger: log,
  });
  await server.ready;
  const { port } = server.addr as Deno.NetAddr;
  const options = { caCerts: [c.ca], ...c.client, logger: quietLogger() };
  {
    await using conn = await classic.connectTls("127.0.0.1", port, { ...options, token: secret });
    const pid = await conn.eval("Deno.pid");
    assert.notEqual(pid, Deno.pid);
    assert.deepEqual([...server.children].map((child) => child.pid), [pid]);
  }
  // The wrong token, and no client certificate: refused before any child starts.
  const wrong = await rejection(classic.connectTls("127.0.0.1", port, { ...options, token: "no" }));
  assert.ok(wrong instanceof AuthenticationError, `${wrong}`);
  await logged(log, /refused by the authenticator: wrong token/);
  const noCert = await rejection(classic.connectTls("127.0.0.1", port, {
    caCerts: [c.ca],
    token: secret,
    logger: quietLogger(),
  }));
  assert.ok(noCert instanceof Error);
  await logged(log, new RegExp(`TLS handshake with ${PEER} failed`));
  assert.ok(!log.lines.join("\n").includes(secret), "the secret was logged");
  await waitFor(() => server.children.size === 0, WAIT_MS, "the child to exit");
});

// --- rdc classic --ssl-* ----------------------------------------------------------------------

/** Parses "HOST\tPORT" as a oneshot server prints it. */
function hostPort(line: string): [string, number] {
  const match = /^([^\t]+)\t(\d+)$/.exec(line);
  assert.ok(match, `expected HOST<TAB>PORT, got ${JSON.stringify(line)}`);
  return [match[1]!, Number(match[2])];
}

Deno.test("rdc classic --help: the TLS and token flags, and port 18821", async () => {
  const { code, stdout } = await runRdc("classic", "--help");
  assert.equal(code, 0);
  for (const text of ["--ssl-keyfile", "--ssl-certfile", "--ssl-cafile", "--auth-token-file"]) {
    assert.ok(stdout.includes(text), `--help lacks ${text}`);
  }
  assert.match(stdout, /18821 with TLS/);
});

Deno.test("rdc classic --ssl-keyfile --ssl-certfile -m oneshot -p 0: serves one TLS client", async () => {
  const c = await certificates();
  const files = { "server.pem": c.server.cert, "server.key": c.server.key };
  await writeCertFiles(files, async (paths) => {
    const args = ["--ssl-keyfile", paths["server.key"]!, "--ssl-certfile", paths["server.pem"]!];
    await using proc = new RdcProcess(["classic", ...args, "-m", "oneshot", "-p", "0"]);
    const [host, port] = hostPort(await oneshotAddress(proc));
    assert.equal(host, "127.0.0.1");
    {
      await using conn = await classic.connectTls(host, port, {
        caCerts: [c.ca],
        logger: quietLogger(),
      });
      assert.equal(await conn.eval("6 * 7"), 42);
      assert.equal(await conn.globals.Deno.pid, proc.child.pid);
    }
    assert.equal((await proc.wait()).code, 0, proc.output());
    assert.match(proc.stderr, new RegExp(`serving oneshot on 127\\.0\\.0\\.1:${port}`));
  });
});

Deno.test("rdc classic with TLS and no -p listens on 18821 (when it is free)", async () => {
  const c = await certificates();
  try {
    Deno.listen({ hostname: "127.0.0.1", port: 18821 }).close();
  } catch {
    console.warn("tls_test: port 18821 is busy: skipping rdc classic's default TLS port");
    return;
  }
  const files = { "server.pem": c.server.cert, "server.key": c.server.key };
  await writeCertFiles(files, async (paths) => {
    const args = ["--ssl-keyfile", paths["server.key"]!, "--ssl-certfile", paths["server.pem"]!];
    await using proc = new RdcProcess(["classic", ...args, "-m", "oneshot"]);
    assert.deepEqual(hostPort(await oneshotAddress(proc)), ["127.0.0.1", 18821]);
    {
      await using conn = await classic.connectTls(undefined, undefined, {
        caCerts: [c.ca],
        logger: quietLogger(),
      });
      assert.equal(await conn.eval("1 + 1"), 2);
    }
    assert.equal((await proc.wait()).code, 0, proc.output());
  });
});

Deno.test("rdc classic --ssl-cafile: a client certificate from the CA is required", async () => {
  const c = await certificates();
  const files = { "server.pem": c.server.cert, "server.key": c.server.key, "ca.pem": c.ca };
  await writeCertFiles(files, async (paths) => {
    await using proc = new RdcProcess([
      "classic",
      "--ssl-keyfile",
      paths["server.key"]!,
      "--ssl-certfile",
      paths["server.pem"]!,
      "--ssl-cafile",
      paths["ca.pem"]!,
      "-p",
      "0",
    ]);
    const port = Number((await proc.waitStderr(/serving concurrent on 127\.0\.0\.1:(\d+)/))[1]);
    const base = { caCerts: [c.ca], logger: quietLogger() };
    {
      await using conn = await classic.connectTls("127.0.0.1", port, { ...base, ...c.client });
      const credentials = await conn.root.connection.credentials;
      await expectCertificate(credentials, c.client.cert, NAMES.client, NAMES.ca);
    }
    for (const bad of [{}, c.rogueClient]) {
      await rejection(classic.connectTls("127.0.0.1", port, { ...base, ...bad }));
    }
    await proc.waitStderr(new RegExp(`TLS handshake with ${PEER} failed(.|\\n)*${PEER} failed`));
    // Still serving.
    {
      await using conn = await classic.connectTls("127.0.0.1", port, { ...base, ...c.client });
      assert.equal(await conn.eval("2 + 2"), 4);
    }
    assert.equal((await proc.stop("SIGTERM")).code, 0, proc.output());
  });
});

// --- examples/tls_classic.ts ------------------------------------------------------------------

/** Runs `deno run <permissions> examples/tls_classic.ts ...args` to completion. */
async function runExample(permissions: string[], args: string[] = []) {
  await using proc = new RdcProcess([...permissions, "examples/tls_classic.ts", ...args], {
    command: [Deno.execPath(), "run"],
  });
  const status = await proc.wait();
  assert.equal(status.code, 0, proc.output());
  return proc.stdout;
}

/** Checks what examples/tls_classic.ts prints. */
function expectExampleOutput(stdout: string, subject: RegExp, issuer: RegExp): void {
  const lines = [
    /server: classic mode over TLS on 127\.0\.0\.1:\d+, client certificates required/,
    /client: 6 \* 7 = 42/,
    new RegExp(`server: the client's certificate subject: .*${subject.source}`),
    new RegExp(`server: issued by: .*${issuer.source}`),
    /server: SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/,
    new RegExp(`client: the server knows me as: .*${subject.source}`),
    /client without a certificate: refused/,
  ];
  for (const line of lines) assert.match(stdout, line);
}

Deno.test("examples/tls_classic.ts makes its certificates with openssl and runs (documented permissions)", async () => {
  const stdout = await runExample([
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-run=openssl",
  ]);
  assert.match(stdout, /making a CA/);
  expectExampleOutput(stdout, /CN=rdc example client/, /CN=rdc example CA/);
});

Deno.test("examples/tls_classic.ts with certificates given on the command line", async () => {
  const c = await certificates();
  const files = {
    "ca.pem": c.ca,
    "server.pem": c.server.cert,
    "server.key": c.server.key,
    "client.pem": c.client.cert,
    "client.key": c.client.key,
  };
  await writeCertFiles(files, async (paths) => {
    const stdout = await runExample(["--allow-net", "--allow-read"], [
      "--ca",
      paths["ca.pem"]!,
      "--server-cert",
      paths["server.pem"]!,
      "--server-key",
      paths["server.key"]!,
      "--client-cert",
      paths["client.pem"]!,
      "--client-key",
      paths["client.key"]!,
    ]);
    assert.match(stdout, /using the certificates given/);
    expectExampleOutput(stdout, new RegExp(`CN=${NAMES.client}`), new RegExp(`CN=${NAMES.ca}`));
  });
});

/**
 * Classic mode over TLS with client certificates: the safe way to hand a
 * process to a remote client (RPyC's `rpyc_classic --ssl-keyfile
 * --ssl-certfile --ssl-cafile` and `classic.ssl_connect`).
 *
 * It starts a TLS classic server on a free loopback port that requires a
 * client certificate signed by the CA, connects with `classic.connectTls`
 * presenting one, prints what the server knows about the client (the
 * verified certificate is the connection's `credentials`), and shows that a
 * client without a certificate is turned away.
 *
 * Run it with throw-away certificates it makes itself with `openssl` (a CA,
 * a server certificate for localhost and 127.0.0.1, a client certificate; in
 * a temporary directory removed at the end):
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write --allow-run=openssl examples/tls_classic.ts
 * ```
 *
 * Or with certificates of your own (PEM files; the server certificate must
 * name `--server-name`, localhost by default, and the client certificate
 * must be signed by the CA):
 *
 * ```sh
 * deno run --allow-net --allow-read examples/tls_classic.ts \
 *   --ca ca.pem --server-cert server.pem --server-key server.key \
 *   --client-cert client.pem --client-key client.key [--server-name localhost]
 * ```
 *
 * The same server from the command line, and a client for it:
 *
 * ```sh
 * deno task rdc classic --ssl-keyfile server.key --ssl-certfile server.pem --ssl-cafile ca.pem
 * # then: await classic.connectTls("localhost", 18821, { caCerts: [ca], cert, key })
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { classic, type PeerCertificate } from "../mod.ts";

const USAGE = `usage: tls_classic.ts                     make certificates with openssl and run
       tls_classic.ts --ca FILE --server-cert FILE --server-key FILE \\
                      --client-cert FILE --client-key FILE [--server-name NAME]`;

/** What the example needs: a CA, the server's pair and the client's pair (PEM text). */
interface Material {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Runs `openssl ...args` in `dir`; throws with what it printed when it fails. */
function openssl(dir: string, ...args: string[]): void {
  const { success, stderr } = new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" })
    .outputSync();
  if (!success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Makes a CA, a server certificate for localhost/127.0.0.1 and a client
 * certificate, X.509 v3 with the extensions TLS libraries insist on.
 */
async function makeCertificates(): Promise<Material> {
  const dir = await Deno.makeTempDir({ prefix: "rdc-example-tls-" });
  try {
    // One file for openssl req (the [req] sections) and the v3 extensions of each certificate.
    await Deno.writeTextFile(
      `${dir}/openssl.cnf`,
      `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
`,
    );
    const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    const config = ["-config", "openssl.cnf"];
    // The CA: self-signed, valid for a day.
    openssl(
      dir,
      "req",
      "-x509",
      ...newKey,
      ...config,
      "-extensions",
      "ca",
      "-days",
      "1",
      "-subj",
      "/CN=rdc example CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    // The server and the client: a key and a request each, signed by the CA.
    for (const [name, subject] of [["server", "localhost"], ["client", "rdc example client"]]) {
      openssl(
        dir,
        "req",
        "-new",
        ...newKey,
        ...config,
        "-subj",
        `/CN=${subject}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      );
      openssl(
        dir,
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "openssl.cnf",
        "-extensions",
        name,
        "-out",
        `${name}.pem`,
      );
    }
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    return {
      ca: await read("ca.pem"),
      serverCert: await read("server.pem"),
      serverKey: await read("server.key"),
      clientCert: await read("client.pem"),
      clientKey: await read("client.key"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads the certificates named on the command line, or makes some. */
async function material(): Promise<{ material: Material; serverName: string }> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ca: { type: "string" },
      "server-cert": { type: "string" },
      "server-key": { type: "string" },
      "client-cert": { type: "string" },
      "client-key": { type: "string" },
      "server-name": { type: "string", default: "localhost" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const files = [values.ca, values["server-cert"], values["server-key"], values["client-cert"]];
  const given = [...files, values["client-key"]].filter((file) => file !== undefined);
  if (given.length === 0) {
    console.log("making a CA, a server and a client certificate with openssl");
    return { material: await makeCertificates(), serverName: values["server-name"] };
  }
  if (given.length !== 5) {
    console.error(`give all five certificate files or none\n${USAGE}`);
    Deno.exit(2);
  }
  const read = (path: string | undefined) => Deno.readTextFile(path!);
  console.log("using the certificates given");
  return {
    material: {
      ca: await read(values.ca),
      serverCert: await read(values["server-cert"]),
      serverKey: await read(values["server-key"]),
      clientCert: await read(values["client-cert"]),
      clientKey: await read(values["client-key"]),
    },
    serverName: values["server-name"],
  };
}

const { material: pem, serverName } = await material();

// The server: classic mode over TLS, client certificates signed by the CA required
// (giving `ca` asks for them; `requireClientCert` defaults to true then).
await using server = classic.serve({
  port: 0,
  tls: { cert: pem.serverCert, key: pem.serverKey, ca: pem.ca },
  logger: (level, message) => {
    if (level === "warn" || level === "error") console.log(`server log: ${message}`);
  },
});
await server.ready;
const { port } = server.addr as Deno.NetAddr;
console.log(`server: classic mode over TLS on 127.0.0.1:${port}, client certificates required`);

// The client: trusts the CA for the server's certificate and presents its own.
{
  await using conn = await classic.connectTls("127.0.0.1", port, {
    caCerts: [pem.ca],
    cert: pem.clientCert,
    key: pem.clientKey,
    hostname: serverName,
  });
  console.log(`client: 6 * 7 = ${await conn.eval("6 * 7")} (evaluated by the server)`);
  // A classic client can ask what the server knows of it (RPyC's `conn.root.getconn()`).
  const remote = await conn.root.connection.credentials;
  console.log(`client: the server knows me as: ${remote.subject}`);

  // The server side of this connection: its credentials are the verified certificate.
  const [serverSide] = server.connections;
  const seen = serverSide!.credentials as PeerCertificate;
  console.log(`server: the client's certificate subject: ${seen.subject}`);
  console.log(`server: issued by: ${seen.issuer}`);
  console.log(`server: SHA-256 fingerprint: ${seen.fingerprint}`);
}

// A client without a certificate does not get in.
try {
  await using conn = await classic.connectTls("127.0.0.1", port, {
    caCerts: [pem.ca],
    hostname: serverName,
    logger: () => {},
  });
  await conn.eval("1");
  console.log("client without a certificate: let in (unexpected!)");
  Deno.exitCode = 1;
} catch (error) {
  console.log(`client without a certificate: refused (${(error as Error).message})`);
}

/**
 * Throw-away X.509 v3 certificates for the TLS tests, made with `openssl`.
 *
 * Every certificate is signed with `openssl ca` (roots with `-selfsign`),
 * which sets validity dates with `-startdate`/`-enddate` on any OpenSSL
 * version (`-not_before`/`-not_after` of `openssl req`/`x509` only exist
 * from 3.4 on), so expired certificates need no faked clock. Every one
 * carries v3 extensions (basicConstraints, keyUsage, extendedKeyUsage for
 * leaves, subjectAltName for servers): rustls refuses v1 certificates; the
 * one v1 client certificate is there to check how that refusal reads.
 * Keys are EC P-256 (quick to make).
 *
 * The layout (each trust anchor is a self-signed root):
 *
 * ```
 * rdc Test Root CA                        trusted by clients and servers (`ca`)
 * ├── rdc Test Intermediate CA            CA:true, pathlen:0
 * │   └── server (CN=localhost)           DNS:localhost, IP:127.0.0.1; presented with the
 * │                                       intermediate (`serverChain`), so the client must
 * │                                       build the chain up to the root it trusts
 * ├── client (CN=alice)                   clientAuth, signed by the root directly
 * ├── expired server (CN=localhost)       valid 2020-01-01 … 2021-01-01
 * ├── expired client (CN=old-alice)       valid 2020-01-01 … 2021-01-01
 * └── v1 client (CN=old-bob)              X.509 v1: no extensions at all
 *
 * rdc Rogue Root CA                       trusted by nobody
 * └── rdc Rogue Intermediate CA           the "untrusted intermediate"
 *     ├── rogue client (CN=mallory)       presented with the rogue intermediate
 *     └── rogue server (CN=localhost)     DNS:localhost, IP:127.0.0.1, presented with it too
 * ```
 *
 * {@linkcode certificates} makes them once per test module, reads them into
 * memory and removes its temporary directory at once, so nothing is left
 * behind whichever tests run; {@linkcode writeCertFiles} writes some of them
 * back to files for the tests that need paths (the `rdc` command).
 */

/** One certificate (its chain, PEM) and its private key (PEM). */
export interface KeyPair {
  /** The certificate followed by any intermediate the peer needs to verify it. */
  cert: string;
  /** The private key. */
  key: string;
}

/** Everything {@linkcode certificates} makes. */
export interface Certs {
  /** The trusted root CA's certificate (PEM). */
  ca: string;
  /** The trusted intermediate CA's certificate (PEM). */
  intermediate: string;
  /** The untrusted root's certificate (PEM), for tests that trust it on purpose. */
  rogueCa: string;
  /** The server: leaf for localhost/127.0.0.1, then the intermediate. */
  server: KeyPair;
  /** A client certificate signed by the trusted root. */
  client: KeyPair;
  /** A client certificate signed by the untrusted intermediate (chain included). */
  rogueClient: KeyPair;
  /** A server certificate for localhost signed by the untrusted intermediate (chain included). */
  rogueServer: KeyPair;
  /** A server certificate for localhost, signed by the trusted root, expired in 2021. */
  expiredServer: KeyPair;
  /** A client certificate signed by the trusted root, expired in 2021. */
  expiredClient: KeyPair;
  /** A client certificate signed by the trusted root, X.509 version 1 (no extensions). */
  v1Client: KeyPair;
}

/** Subject names, for assertions. */
export const NAMES = {
  ca: "rdc Test Root CA",
  intermediate: "rdc Test Intermediate CA",
  rogueCa: "rdc Rogue Root CA",
  rogueIntermediate: "rdc Rogue Intermediate CA",
  client: "alice",
  rogueClient: "mallory",
  expiredClient: "old-alice",
  v1Client: "old-bob",
} as const;

let made: Promise<Certs> | undefined;

/** The certificates, made on first use (once per test module). */
export function certificates(): Promise<Certs> {
  return made ??= make();
}

/** Runs `openssl ...args` in `cwd`; throws with its stderr when it fails. */
function openssl(cwd: string, ...args: string[]): void {
  const { success, stderr } = new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!success) {
    throw new Error(`openssl ${args.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/** A minimal `openssl ca` configuration: a shared database, random serials, any subject. */
const CA_CONFIG = `
[ca]
default_ca = test_ca

[test_ca]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
rand_serial = yes
unique_subject = no
default_md = sha256
policy = any_subject
copy_extensions = none
email_in_dn = no

[any_subject]
commonName = supplied
organizationName = optional
`;

/** The v3 extension sections used when signing. */
const EXTENSIONS = `
[root]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[intermediate]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** Validity of the current certificates: from yesterday for ten years (clock skew is harmless). */
const CURRENT = {
  start: asn1Time(Date.now() - 86_400_000),
  end: asn1Time(Date.now() + 3650 * 86_400_000),
};
/** Validity of the expired ones. */
const EXPIRED = { start: "20200101000000Z", end: "20210101000000Z" };

/** `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` take. */
function asn1Time(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

/** The extension sections of `EXTENSIONS`. */
type Section = "root" | "intermediate" | "server" | "client";

/**
 * Makes `name.key` (EC P-256) and `name.pem`, signed by the CA whose files
 * are `issuer.pem`/`issuer.key` (null: self-signed). With no `extensions`
 * section, `openssl ca` makes an X.509 v1 certificate.
 */
function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: Section | null,
  issuer: string | null,
  validity: { start: string; end: string },
): void {
  openssl(
    dir,
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${subject}/O=rdc tests`,
  );
  openssl(
    dir,
    "ca",
    "-batch",
    "-notext",
    "-config",
    "ca.cnf",
    ...(extensions === null ? [] : ["-extfile", "extensions.cnf", "-extensions", extensions]),
    "-startdate",
    validity.start,
    "-enddate",
    validity.end,
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.pem`,
    ...(issuer === null
      ? ["-selfsign", "-keyfile", `${name}.key`]
      : ["-cert", `${issuer}.pem`, "-keyfile", `${issuer}.key`]),
  );
}

async function make(): Promise<Certs> {
  const dir = await Deno.makeTempDir({ prefix: "rdc-test-certs-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.cnf`, CA_CONFIG);
    await Deno.writeTextFile(`${dir}/extensions.cnf`, EXTENSIONS);
    await Deno.writeTextFile(`${dir}/index.txt`, "");
    await Deno.mkdir(`${dir}/issued`);
    const plan: [string, string, Section | null, string | null, typeof CURRENT][] = [
      ["ca", NAMES.ca, "root", null, CURRENT],
      ["intermediate", NAMES.intermediate, "intermediate", "ca", CURRENT],
      ["server", "localhost", "server", "intermediate", CURRENT],
      ["client", NAMES.client, "client", "ca", CURRENT],
      ["expired-server", "localhost", "server", "ca", EXPIRED],
      ["expired-client", NAMES.expiredClient, "client", "ca", EXPIRED],
      ["v1-client", NAMES.v1Client, null, "ca", CURRENT],
      ["rogue-ca", NAMES.rogueCa, "root", null, CURRENT],
      ["rogue-intermediate", NAMES.rogueIntermediate, "intermediate", "rogue-ca", CURRENT],
      ["rogue-client", NAMES.rogueClient, "client", "rogue-intermediate", CURRENT],
      ["rogue-server", "localhost", "server", "rogue-intermediate", CURRENT],
    ];
    for (const [name, subject, extensions, issuer, validity] of plan) {
      issue(dir, name, subject, extensions, issuer, validity);
    }
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    const pair = async (name: string, ...chain: string[]): Promise<KeyPair> => ({
      cert: (await Promise.all([name, ...chain].map((n) => read(`${n}.pem`)))).join(""),
      key: await read(`${name}.key`),
    });
    return {
      ca: await read("ca.pem"),
      intermediate: await read("intermediate.pem"),
      rogueCa: await read("rogue-ca.pem"),
      server: await pair("server", "intermediate"),
      client: await pair("client"),
      rogueClient: await pair("rogue-client", "rogue-intermediate"),
      rogueServer: await pair("rogue-server", "rogue-intermediate"),
      expiredServer: await pair("expired-server"),
      expiredClient: await pair("expired-client"),
      v1Client: await pair("v1-client"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Writes `files` (name → PEM text) into a new temporary directory and runs
 * `use(paths)`, removing the directory afterwards whatever happens.
 */
export async function writeCertFiles<T>(
  files: Record<string, string>,
  use: (paths: Record<string, string>, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rdc-test-certs-" });
  try {
    const paths: Record<string, string> = {};
    for (const [name, text] of Object.entries(files)) {
      paths[name] = `${dir}/${name}`;
      await Deno.writeTextFile(paths[name], text, { mode: 0o600 });
    }
    return await use(paths, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

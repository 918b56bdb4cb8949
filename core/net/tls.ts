/**
 * TLS for rdc: connecting over TLS, listening with TLS (client certificates
 * included), and the peer certificate a server sees.
 *
 * Both ends use `node:tls`: `Deno.listenTls` cannot ask for client
 * certificates, and `node:tls` gives one code path, one set of error
 * messages and a handshake timeout on both sides.
 *
 * @module
 */

import type * as tls from "node:tls";
import { nodeBuiltin } from "../node_builtin.ts";
import { withContext } from "../errors.ts";
import { refusalFrame } from "../wire/handshake.ts";
import type { Transport } from "../wire/transport.ts";
import { type Incoming, IncomingQueue } from "./incoming.ts";
import { transportFromNodeSocket } from "./adapters.ts";

/** What a TLS server needs: its certificate, and whom to ask for one. */
export interface TlsServerOptions {
  /** The server's certificate chain, PEM. */
  cert: string;
  /** The server's private key, PEM. */
  key: string;
  /**
   * Certificate authorities (PEM) whose client certificates are accepted.
   * Given, clients are asked for a certificate; not given, they are not.
   */
  ca?: string | string[];
  /**
   * Refuse a client without a certificate. Default: true when `ca` is given
   * (RPyC's `CERT_REQUIRED`); without `ca` there is nothing to check against.
   */
  requireClientCert?: boolean;
}

/** Options of {@linkcode openTls}: what the client trusts and presents. */
export interface TlsClientOptions {
  /**
   * Certificate authorities (PEM) trusted for the server's certificate, in
   * addition to the system's. Default: the system's only.
   */
  caCerts?: string[];
  /** A client certificate chain (PEM), for servers that ask for one. */
  cert?: string;
  /** The client certificate's private key (PEM). */
  key?: string;
  /** The name the server's certificate must carry. Default: the host connected to. */
  hostname?: string;
}

/** The verified certificate a TLS client presented: a connection's credentials. */
export interface PeerCertificate {
  /** Its subject, in the certificate's order: `O=Example, CN=alice`. */
  subject: string;
  /** Its issuer, in the same form. */
  issuer: string;
  /** The SHA-256 fingerprint, colon-separated hex. */
  fingerprint: string;
  /** The serial number, hex. */
  serialNumber: string;
  /** Start of validity (as the certificate states it). */
  validFrom: string;
  /** End of validity. */
  validTo: string;
}

/**
 * Opens a TLS connection to `host:port` and completes the handshake.
 *
 * @throws the TLS error (an untrusted or expired certificate, a name that does
 * not match, a refused client certificate), with the address in its message.
 */
export async function openTls(
  host: string,
  port: number,
  options: TlsClientOptions,
  handshakeTimeout: number,
): Promise<Transport> {
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const socket = nodeTls().connect({
    host,
    port,
    // SNI carries names only, never addresses (node:tls refuses one).
    servername: /^[\d.]+$|:/.test(options.hostname ?? host) ? undefined : options.hostname ?? host,
    ca: options.caCerts,
    cert: options.cert,
    key: options.key,
    checkServerIdentity: (_, cert) => nodeTls().checkServerIdentity(options.hostname ?? host, cert),
  });
  socket.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no TLS handshake within ${handshakeTimeout} ms`)),
        handshakeTimeout,
      );
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    socket.destroy();
    // A plain Error: node's TLS error classes prefix their own text when constructed again.
    throw new Error(`TLS connection to ${address} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return transportFromNodeSocket(socket, `tls ${address}`);
}

/**
 * A TLS listener: a `node:tls` server whose handshaken connections are
 * queued for {@linkcode TlsListener.accept}. Handshake failures (no or a bad
 * client certificate, plain TCP, a stalled handshake) are reported through
 * `onRefused` and touch nothing else.
 */
export class TlsListener {
  /** The address it listens on (known at once, though binding finishes later). */
  readonly addr: Deno.NetAddr;
  /** Resolves once listening; rejects, naming the address, if it cannot bind. */
  readonly ready: Promise<void>;
  readonly #server: tls.Server;
  readonly #incoming = new IncomingQueue();

  private constructor(server: tls.Server, addr: Deno.NetAddr, ready: Promise<void>) {
    this.#server = server;
    this.addr = addr;
    this.ready = ready;
  }

  /**
   * Listens on `hostname:port`; port 0 picks a free one now, so `addr` is
   * known at once (`node:tls` binds asynchronously: see `ready`).
   */
  static listen(
    hostname: string,
    port: number,
    options: TlsServerOptions,
    handshakeTimeout: number,
    onRefused: (peer: string, reason: string) => void,
  ): TlsListener {
    const askForCertificate = options.ca !== undefined;
    const required = askForCertificate && (options.requireClientCert ?? true);
    const server = nodeTls().createServer({
      cert: options.cert,
      key: options.key,
      ca: options.ca,
      requestCert: askForCertificate,
      // Checked in #admit: refusing here would drop the reason, for the client and the log.
      rejectUnauthorized: false,
      handshakeTimeout,
    });
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    let chosen = port;
    try {
      if (port === 0) chosen = freePort(hostname);
    } catch (error) {
      throw withContext(error, `cannot listen on tls ${host}:${port}`);
    }
    const ready = new Promise<void>((resolve, reject) => {
      const failed = (error: Error) =>
        reject(withContext(error, `cannot listen on tls ${host}:${chosen}`));
      server.once("error", failed);
      server.listen(chosen, hostname, () => {
        server.off("error", failed);
        resolve();
      });
    });
    ready.catch(() => {}); // Reported to whoever awaits `ready`; the server closes itself.
    const listener = new TlsListener(server, { transport: "tcp", hostname, port: chosen }, ready);
    server.on("secureConnection", (socket) => listener.#admit(socket, required, onRefused));
    server.on("tlsClientError", (error, socket) => {
      onRefused(peerOf(socket), error.message);
      socket.destroy(); // A stalled handshake is reported here, socket still open.
    });
    return listener;
  }

  /** The next handshaken connection; null once closed. */
  accept(): Promise<Incoming | null> {
    return this.#incoming.accept();
  }

  /** Stops listening; queued connections are closed. Idempotent. */
  close(): void {
    if (this.#incoming.closed) return;
    this.#server.close();
    this.#incoming.close();
  }

  #admit(
    socket: tls.TLSSocket,
    required: boolean,
    onRefused: (peer: string, reason: string) => void,
  ): void {
    const peer = peerOf(socket);
    const presented = socket.getPeerCertificate();
    const hasCertificate = presented !== null && Object.keys(presented).length > 0;
    let refusal: string | undefined;
    if (required && !hasCertificate) {
      refusal = "a client certificate is required, and none was presented";
    } else if (hasCertificate && !socket.authorized) {
      // A certificate that is there must verify, required or not.
      const cert = describeCertificate(presented);
      const version = x509Version(presented.raw);
      const expired = Date.parse(cert.validTo) < Date.now() ? `, expired ${cert.validTo}` : "";
      // The verifier (rustls, under node:tls) refuses v1 and v2 certificates outright, and
      // reports it as a signature it could not verify: say what is really wrong.
      refusal = version !== undefined && version < 3
        ? `client certificate ${cert.subject} from ${cert.issuer} refused: it is an X.509 ` +
          `v${version} certificate, and v3 is required (reissue it with extensions)`
        : `client certificate ${cert.subject} from ${cert.issuer}${expired} refused ` +
          `(${socket.authorizationError}): unknown CA or invalid certificate`;
    }
    if (refusal !== undefined) {
      onRefused(peer, refusal);
      // The client waits for a HELLO: a CLOSE in its place tells it why.
      socket.end(refusalFrame(refusal));
      Deno.unrefTimer(setTimeout(() => socket.destroy(), 1_000));
      return;
    }
    if (this.#incoming.closed) return void socket.destroy();
    socket.setNoDelay(true);
    const incoming: Incoming = {
      transport: transportFromNodeSocket(socket, `tls ${peer}`),
      peer: `tls ${peer}`,
      remoteHost: socket.remoteAddress ?? null,
      certificate: hasCertificate ? describeCertificate(presented) : null,
    };
    this.#incoming.admit(incoming);
  }
}

/** A port free on `hostname` right now, found by binding port 0 and letting go. */
function freePort(hostname: string): number {
  const probe = Deno.listen({ hostname, port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

interface SocketAddress {
  remoteAddress?: string;
  remotePort?: number;
  /** The TCP socket under a TLS one (what is left of the address after a failed handshake). */
  _parent?: SocketAddress;
}

function peerOf(socket: SocketAddress): string {
  const known = socket.remoteAddress ? socket : socket._parent ?? socket;
  const host = known.remoteAddress ?? "an unknown address";
  return `${host.includes(":") ? `[${host}]` : host}:${known.remotePort ?? "?"}`;
}

/**
 * The X.509 version (1, 2 or 3) of a DER certificate, from the optional
 * `[0] version` field that opens its TBSCertificate (absent: v1); undefined
 * when the bytes do not start as a certificate does.
 */
function x509Version(der: Uint8Array | undefined): number | undefined {
  if (der === undefined) return undefined;
  /** The offset of the contents of the DER element at `at`, if it has tag `tag`. */
  const enter = (at: number, tag: number): number | undefined => {
    if (der[at] !== tag || at + 1 >= der.length) return undefined;
    const first = der[at + 1]!;
    return first < 0x80 ? at + 2 : at + 2 + (first & 0x7f);
  };
  const tbs = enter(0, 0x30);
  const body = tbs === undefined ? undefined : enter(tbs, 0x30);
  if (body === undefined) return undefined;
  const version = enter(body, 0xa0);
  if (version === undefined) return 1;
  const integer = enter(version, 0x02);
  return integer === undefined || der[version + 1] !== 1 ? undefined : der[integer]! + 1;
}

function describeCertificate(cert: tls.PeerCertificate): PeerCertificate {
  const name = (fields: Record<string, unknown>) =>
    Object.entries(fields ?? {}).map(([k, v]) => `${k}=${v}`).join(", ");
  return {
    subject: name(cert.subject as unknown as Record<string, unknown>),
    issuer: name(cert.issuer as unknown as Record<string, unknown>),
    fingerprint: cert.fingerprint256,
    serialNumber: cert.serialNumber,
    validFrom: cert.valid_from,
    validTo: cert.valid_to,
  };
}

/** `node:tls`, loaded by the first TLS connection or listener (see core/node_builtin.ts). */
function nodeTls(): typeof tls {
  return nodeBuiltin<typeof tls>("node:tls");
}

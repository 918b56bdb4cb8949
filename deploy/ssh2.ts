/**
 * The typed face of `npm:ssh2`, the only module that imports it: the subset
 * of its client API rdc uses, with the settings Deno needs (see
 * `ssh2Algorithms`). ssh2 ships no types of its own.
 *
 * @module
 */

// Named in full here, not in deno.json's imports: the package then works when imported by path
// or from a vendored copy without an import map entry, and programs that never deploy never
// install ssh2 (nor see Deno's notice about its skipped native build scripts).
// deno-lint-ignore no-import-prefix
import ssh2 from "npm:ssh2@1.17.0";
import type { Buffer } from "node:buffer";
import type { Duplex, Readable } from "node:stream";

/** A session or forwarding channel: a Node duplex stream (stdin/stdout for exec). */
export interface Ssh2Channel extends Duplex {
  /** The remote command's stderr (exec channels). */
  readonly stderr: Readable;
  /** Closes the channel outright (CHANNEL_CLOSE), whatever the remote does. */
  close(): void;
}

/** A key as ssh2 parses it. */
export interface Ssh2Key {
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, … */
  readonly type: string;
  /** Whether it holds the private half. */
  isPrivateKey(): boolean;
  /** The public key blob (SSH wire format). */
  getPublicSSH(): Buffer;
  /** Signs `data`; an Error when the runtime cannot. */
  sign(data: Buffer): Buffer | Error;
}

/** One authentication attempt, as `authHandler` hands it to ssh2. */
export type Ssh2AuthStep =
  | { type: "publickey"; username: string; key: Ssh2Key }
  | { type: "agent"; username: string; agent: string }
  | { type: "password"; username: string; password: string }
  | {
    type: "keyboard-interactive";
    username: string;
    prompt: (
      name: string,
      instructions: string,
      lang: string,
      prompts: { prompt: string; echo?: boolean }[],
      finish: (answers: string[]) => void,
    ) => void;
  };

/**
 * Picks the next attempt: `methodsLeft` is what the server still accepts
 * (null before its first answer); `next(false)` gives up.
 */
export type Ssh2AuthHandler = (
  methodsLeft: string[] | null,
  partialSuccess: boolean | null,
  next: (step: Ssh2AuthStep | false) => void,
) => void;

/** What `Client.connect` takes (the part rdc uses). */
export interface Ssh2ConnectConfig {
  host?: string;
  port?: number;
  /** A ready-made stream to the server (a channel through a jump host). */
  sock?: Duplex;
  username: string;
  authHandler: Ssh2AuthHandler;
  /** Synchronous verdict on the server's host key blob. */
  hostVerifier: (key: Buffer) => boolean;
  algorithms: Record<string, string[] | { remove: string[] }>;
  keepaliveInterval: number;
  keepaliveCountMax: number;
  readyTimeout: number;
}

/** An ssh2 error: `level` says where it arose (`client-socket`, `client-authentication`, …). */
export interface Ssh2Error extends Error {
  level?: string;
  code?: string;
}

/** ssh2's `Client` (the part rdc uses). */
export interface Ssh2Client {
  on(event: "ready" | "close" | "end", listener: () => void): this;
  on(event: "error", listener: (error: Ssh2Error) => void): this;
  once(event: "close", listener: () => void): this;
  connect(config: Ssh2ConnectConfig): this;
  exec(command: string, callback: (error: Error | undefined, channel: Ssh2Channel) => void): this;
  forwardOut(
    srcIP: string,
    srcPort: number,
    dstIP: string,
    dstPort: number,
    callback: (error: Error | undefined, channel: Ssh2Channel) => void,
  ): this;
  openssh_forwardOutStreamLocal(
    socketPath: string,
    callback: (error: Error | undefined, channel: Ssh2Channel) => void,
  ): this;
  setNoDelay(noDelay: boolean): this;
  end(): this;
  destroy(): this;
}

/**
 * Destroys the client's socket even when it is half-closed: ssh2's own
 * `destroy()` skips a socket it already ended, which then lingers until the
 * peer closes its side.
 */
export function destroySsh2Client(client: Ssh2Client): void {
  client.destroy();
  (client as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
}

/** Creates an ssh2 client. */
export function newSsh2Client(): Ssh2Client {
  return new ssh2.Client() as Ssh2Client;
}

/** Parses a private or public key (OpenSSH, PEM, PPK), decrypting it with `passphrase`. */
export function parseSsh2Key(data: Buffer, passphrase?: string): Ssh2Key | Error {
  const parsed = ssh2.utils.parseKey(data, passphrase) as Ssh2Key | Ssh2Key[] | Error;
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/** Ciphers fastest-first under Deno (chacha20 and CTR beat GCM there; `aes192-cbc` is missing). */
const CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-ctr",
  "aes256-ctr",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
];

/**
 * Algorithm preferences for ssh2 under Deno: no `ecdh-sha2-nistp521` (Deno
 * lacks the curve), no compression (ssh2's zlib reaches into Node
 * internals), ciphers fastest-first, and `serverHostKey` exactly as given
 * (ssh2's `prepend` would not reorder its defaults). A connection `nested`
 * in a jump host's channel gets no chacha20-poly1305: ssh2's JS version
 * keeps its nonce in module state, which the outer connection's encryption
 * overwrites midway, and the packets arrive corrupt.
 */
export function ssh2Algorithms(
  serverHostKey: string[],
  nested: boolean,
): Record<string, string[] | { remove: string[] }> {
  return {
    kex: { remove: ["ecdh-sha2-nistp521"] },
    cipher: nested ? CIPHERS.filter((cipher) => !cipher.startsWith("chacha")) : CIPHERS,
    compress: ["none"],
    serverHostKey,
  };
}

/** ssh2's host key algorithms, most preferred first (ed25519 and RSA-SHA2 ahead of the rest). */
export const HOST_KEY_ALGORITHMS: readonly string[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

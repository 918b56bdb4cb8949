/**
 * Identity files (private keys): loading, decrypting, and checking that the
 * runtime can sign with them before the server is asked.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { SshAuthenticationError } from "./errors.ts";
import { fingerprint } from "./known_hosts.ts";
import { parseSsh2Key, type Ssh2Key } from "./ssh2.ts";

/** A private key ready to authenticate with. */
export interface Identity {
  /** The file it came from. */
  file: string;
  /** The parsed (decrypted) key. */
  key: Ssh2Key;
  /** `ssh-ed25519 SHA256:…`, for messages. */
  label: string;
}

/** The identities that loaded, and why the others did not. */
export interface LoadedIdentities {
  /** Keys to offer, in order. */
  identities: Identity[];
  /** One line per default key file that was skipped, for the failure message. */
  skipped: string[];
}

/**
 * Loads `files`. Files the user named (`explicit`) must load: a missing
 * file, an encrypted key without its passphrase, a wrong passphrase or a key
 * this runtime cannot sign with is an error. Default files (~/.ssh/id_*)
 * that are missing are ignored, and unusable ones skipped with a note, as
 * OpenSSH does without a terminal to prompt on.
 *
 * @throws {SshAuthenticationError} for an explicit file that cannot be used.
 */
export async function loadIdentities(
  files: readonly string[],
  explicit: boolean,
  passphrase: string | undefined,
  destination: string,
): Promise<LoadedIdentities> {
  const loaded: LoadedIdentities = { identities: [], skipped: [] };
  for (const file of files) {
    let data: Uint8Array;
    try {
      data = await Deno.readFile(file);
    } catch (error) {
      if (!explicit && error instanceof Deno.errors.NotFound) continue;
      throw new SshAuthenticationError(
        destination,
        `cannot read identity file ${file}: ${(error as Error).message}`,
      );
    }
    const problem = (reason: string) => {
      if (explicit) {
        throw new SshAuthenticationError(destination, `identity file ${file} ${reason}`);
      }
      loaded.skipped.push(`${file} ${reason}`);
    };
    const key = parseSsh2Key(Buffer.from(data), passphrase);
    if (key instanceof Error) {
      problem(keyProblem(key.message, passphrase));
      continue;
    }
    if (!key.isPrivateKey()) {
      problem("holds no private key");
      continue;
    }
    const signature = key.sign(Buffer.from("rdc"));
    if (signature instanceof Error) {
      problem(
        `(${key.type}) cannot sign under Deno (${signature.message}): load it into ssh-agent instead`,
      );
      continue;
    }
    const label = `${key.type} ${fingerprint(key.getPublicSSH())}`;
    loaded.identities.push({ file, key, label });
  }
  return loaded;
}

/** What a key parse failure means for the user. */
function keyProblem(message: string, passphrase: string | undefined): string {
  if (/no passphrase given/i.test(message)) return "is encrypted and no passphrase was given";
  if (/bad passphrase|integrity check failed/i.test(message)) {
    return passphrase === undefined ? "is encrypted" : "does not open with the given passphrase";
  }
  return `cannot be parsed (${message}; legacy encrypted PEM keys are not supported: ` +
    "convert with ssh-keygen -p -o)";
}

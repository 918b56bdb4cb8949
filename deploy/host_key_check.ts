/**
 * Host key checking against known_hosts files, OpenSSH style.
 *
 * Contract: one `HostKeyCheck` serves one connection attempt. `verify` is
 * ssh2's synchronous host verifier; it never throws, and on refusal keeps
 * the reason in `failure` for the caller to throw once ssh2 gives up. In
 * `accept-new` mode it appends an unknown host's key to the first file
 * (creating it and its directory, mode 0700); nothing else writes.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { dirname } from "node:path";
import { HostKeyError } from "./errors.ts";
import { readTextIfPresent } from "./files.ts";
import {
  entryMatches,
  fingerprint,
  keyTypeOf,
  type KnownHostEntry,
  knownHostsLine,
  parseKnownHosts,
} from "./known_hosts.ts";
import { HOST_KEY_ALGORITHMS } from "./ssh2.ts";

/**
 * What to do with the server's host key:
 * - `enforce` (the default): only keys in known_hosts are accepted;
 * - `accept-new`: an unknown host's key is added to the first known_hosts
 *   file and accepted, a changed key is still refused (trust on first use);
 * - `ignore`: any key is accepted (tests, throw-away hosts only).
 */
export type KnownHostsMode = "enforce" | "accept-new" | "ignore";

/** The modes, for validating user input. */
export const KNOWN_HOSTS_MODES: readonly KnownHostsMode[] = ["enforce", "accept-new", "ignore"];

/** Checks one server's host key against known_hosts (see the module contract). */
export class HostKeyCheck {
  /** Why `verify` refused, once it has. */
  failure: HostKeyError | undefined;
  readonly #entries: KnownHostEntry[];

  private constructor(
    readonly mode: KnownHostsMode,
    /** The host as known_hosts names it. */
    readonly name: string,
    readonly files: readonly string[],
    entries: KnownHostEntry[],
  ) {
    this.#entries = entries;
  }

  /** Reads `files` (missing ones count as empty) for the entries naming `name`. */
  static async load(
    mode: KnownHostsMode,
    name: string,
    files: readonly string[],
  ): Promise<HostKeyCheck> {
    const entries: KnownHostEntry[] = [];
    if (mode !== "ignore") {
      for (const file of files) {
        const text = await readTextIfPresent(file) ?? "";
        entries.push(
          ...parseKnownHosts(text, file).filter((entry) =>
            entry.marker !== "cert-authority" && entryMatches(entry, name)
          ),
        );
      }
    }
    return new HostKeyCheck(mode, name, files, entries);
  }

  /**
   * Host key algorithms to offer, those of the known keys first, so that a
   * server with several keys presents one we can check (as OpenSSH does).
   */
  algorithms(): string[] {
    const known = new Set(
      this.#entries.filter((entry) => !entry.marker).flatMap((entry) =>
        entry.keyType === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [entry.keyType]
      ),
    );
    return [
      ...HOST_KEY_ALGORITHMS.filter((a) => known.has(a)),
      ...HOST_KEY_ALGORITHMS.filter((a) => !known.has(a)),
    ];
  }

  /** ssh2's verifier: whether to accept the key `blob`. */
  verify(blob: Uint8Array): boolean {
    if (this.mode === "ignore") return true;
    const key = Buffer.from(blob).toString("base64");
    const fields = {
      host: this.name,
      keyType: keyTypeOf(blob),
      fingerprint: fingerprint(blob),
      knownHostsFile: this.files[0] ?? "~/.ssh/known_hosts",
    };
    const revoked = this.#entries.find((entry) => entry.marker === "revoked" && entry.key === key);
    if (revoked) {
      this.failure = new HostKeyError("revoked", { ...fields, entry: revoked.where });
      return false;
    }
    const plain = this.#entries.filter((entry) => !entry.marker);
    if (plain.some((entry) => entry.key === key)) return true;
    if (plain.length > 0) {
      this.failure = new HostKeyError("changed", { ...fields, entry: plain[0]!.where });
      return false;
    }
    if (this.mode === "enforce") {
      this.failure = new HostKeyError("unknown", fields);
      return false;
    }
    this.#remember(blob);
    return true;
  }

  /** Appends the key to the first known_hosts file (accept-new). */
  #remember(blob: Uint8Array): void {
    const file = this.files[0];
    if (file === undefined) return;
    Deno.mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      // A new file.
    }
    const separator = text === "" || text.endsWith("\n") ? "" : "\n";
    Deno.writeTextFileSync(file, `${separator}${knownHostsLine(this.name, blob)}\n`, {
      append: true,
      mode: 0o600,
    });
  }
}

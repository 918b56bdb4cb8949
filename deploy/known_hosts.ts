/**
 * OpenSSH `known_hosts` files: parsing, matching a host against an entry
 * (plain patterns with `*`, `?` and `!`, `[host]:port`, and hashed
 * `|1|salt|hmac` names), key fingerprints, and the line that records a new key.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { globMatches } from "./ssh_config.ts";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** `@revoked` or `@cert-authority` lines; absent for plain ones. */
  marker?: "revoked" | "cert-authority";
  /** The host field: patterns separated by commas, or one hashed name. */
  hosts: string;
  /** The key type (`ssh-ed25519`). */
  keyType: string;
  /** The key blob, base64 as in the file. */
  key: string;
  /** `file:line`, for messages. */
  where: string;
}

/** The entries of known_hosts `text`, read from `file`; malformed lines are skipped. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0]!.startsWith("#")) continue;
    const marker = fields[0] === "@revoked"
      ? "revoked"
      : fields[0] === "@cert-authority"
      ? "cert-authority"
      : undefined;
    const [hosts, keyType, key] = marker ? fields.slice(1) : fields;
    if (hosts === undefined || keyType === undefined || key === undefined) continue;
    const entry: KnownHostEntry = { hosts, keyType, key, where: `${file}:${index + 1}` };
    if (marker) entry.marker = marker;
    entries.push(entry);
  }
  return entries;
}

/** How known_hosts names a server: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether `entry`'s host field names `name` (a {@linkcode knownHostName}). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.startsWith("|1|")) {
    const [salt, hash] = entry.hosts.slice(3).split("|");
    if (!salt || !hash) return false;
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
  }
  let matched = false;
  for (const pattern of entry.hosts.split(",")) {
    const negated = pattern.startsWith("!");
    if (!globMatches(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type a key blob starts with (its first SSH string). */
export function keyTypeOf(blob: Uint8Array): string {
  const length = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  return new TextDecoder().decode(blob.subarray(4, 4 + length));
}

/** The line that records `blob` as the key of `name`. */
export function knownHostsLine(name: string, blob: Uint8Array): string {
  return `${name} ${keyTypeOf(blob)} ${Buffer.from(blob).toString("base64")}`;
}

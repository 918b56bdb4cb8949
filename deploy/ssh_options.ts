/**
 * The options of an SSH connection, and how they are completed from
 * `~/.ssh/config` and OpenSSH's defaults. Explicit options win over the
 * destination string, which wins over the configuration.
 *
 * @module
 */

import { userInfo } from "node:os";
import { join } from "node:path";
import { formatDestination, parseDestination } from "./destination.ts";
import { readTextIfPresent } from "./files.ts";
import type { KnownHostsMode } from "./host_key_check.ts";
import { expandPath, sshConfigFor, type SshHostConfig } from "./ssh_config.ts";

/** Options of `SshMachine.connect`; every field but `host` is optional. */
export interface SshMachineOptions {
  /** `[user@]host[:port]`, where host may be a `~/.ssh/config` alias. */
  host: string;
  /** The port. Default: the destination's, then `Port` in ~/.ssh/config, then 22. */
  port?: number;
  /** The remote user. Default: the destination's, then `User`, then the local user. */
  user?: string;
  /**
   * Private key file(s) to authenticate with; each must be usable. Default:
   * `IdentityFile` entries of ~/.ssh/config, else `~/.ssh/id_rsa`,
   * `~/.ssh/id_ecdsa` and `~/.ssh/id_ed25519` — whichever exist and open.
   */
  identity?: string | readonly string[];
  /** The passphrase of encrypted identity files. */
  passphrase?: string;
  /** A password, tried after the keys (also answers keyboard-interactive prompts). */
  password?: string;
  /** An ssh-agent socket, or false for none. Default: `$SSH_AUTH_SOCK`. */
  agent?: string | false;
  /** Host key policy. Default `"enforce"`. */
  knownHosts?: KnownHostsMode;
  /**
   * known_hosts files; `accept-new` adds to the first. Default:
   * `~/.ssh/known_hosts`, `~/.ssh/known_hosts2`, `/etc/ssh/ssh_known_hosts`,
   * `/etc/ssh/ssh_known_hosts2`.
   */
  knownHostsFiles?: readonly string[];
  /** The OpenSSH client configuration to read, or false for none. Default `~/.ssh/config`. */
  sshConfig?: string | false;
  /**
   * Jump hosts (`[user@]host[:port]`, comma-separated, first hop first), or
   * false for none. Default: `ProxyJump` in ~/.ssh/config. Each hop is
   * configured from ~/.ssh/config and the defaults, with this connection's
   * host key policy, known_hosts files, agent and passphrase (never its
   * password or identity).
   */
  jump?: string | false;
  /** Milliseconds between keepalive probes; 0 turns them off. Default 15 000. */
  keepaliveInterval?: number;
  /** Unanswered probes before the connection is declared dead. Default 3. */
  keepaliveCountMax?: number;
  /** Milliseconds allowed for the TCP connection and SSH handshake. Default 20 000. */
  readyTimeout?: number;
}

/** Options with every default filled in. */
export interface ResolvedSshOptions {
  /** `user@host:port`, for messages. */
  destination: string;
  /** The real host name. */
  hostName: string;
  /** The port. */
  port: number;
  /** The remote user. */
  user: string;
  /** Identity files to try. */
  identityFiles: string[];
  /** Whether the user named them (then each must be usable). */
  explicitIdentities: boolean;
  /** See {@linkcode SshMachineOptions}. */
  passphrase?: string;
  /** See {@linkcode SshMachineOptions}. */
  password?: string;
  /** The agent socket, if any. */
  agent?: string;
  /** See {@linkcode SshMachineOptions}. */
  knownHosts: KnownHostsMode;
  /** See {@linkcode SshMachineOptions}. */
  knownHostsFiles: readonly string[];
  /** The configuration file read, or false. */
  sshConfig: string | false;
  /** Jump hosts, if any. */
  jump?: string;
  /** See {@linkcode SshMachineOptions}. */
  keepaliveInterval: number;
  /** See {@linkcode SshMachineOptions}. */
  keepaliveCountMax: number;
  /** See {@linkcode SshMachineOptions}. */
  readyTimeout: number;
}

/** OpenSSH's default identity files, in the order it tries them (the kinds ssh2 supports). */
const DEFAULT_IDENTITIES = ["id_rsa", "id_ecdsa", "id_ed25519"];

/**
 * Completes `options` from the configuration and the defaults.
 *
 * @throws {TypeError} for a malformed destination or configuration.
 */
export async function resolveSshOptions(
  options: string | SshMachineOptions,
): Promise<ResolvedSshOptions> {
  const given = typeof options === "string" ? { host: options } : options;
  const parsed = parseDestination(given.host);
  const home = Deno.env.get("HOME") ?? userInfo().homedir;
  const sshConfig = given.sshConfig ?? join(home, ".ssh", "config");
  const config = sshConfig === false
    ? { identityFiles: [] }
    : await readSshConfig(sshConfig, parsed.host);
  const hostName = config.hostName ?? parsed.host;
  const port = given.port ?? parsed.port ?? config.port ?? 22;
  const localUser = userInfo().username;
  const user = given.user ?? parsed.user ?? config.user ?? localUser;
  const tokens = { home, localUser, user, host: hostName, port };
  const explicit = given.identity !== undefined;
  const identityFiles = explicit
    ? [given.identity!].flat()
    : config.identityFiles.length > 0
    ? config.identityFiles
    : DEFAULT_IDENTITIES.map((name) => join("~", ".ssh", name));
  const agent = given.agent === false ? undefined : given.agent ?? Deno.env.get("SSH_AUTH_SOCK");
  const jump = given.jump === false ? undefined : given.jump ?? config.proxyJump;
  return {
    destination: formatDestination(user, hostName, port),
    hostName,
    port,
    user,
    identityFiles: identityFiles.map((file) => expandPath(file, tokens)),
    explicitIdentities: explicit,
    passphrase: given.passphrase,
    password: given.password,
    agent: agent || undefined,
    knownHosts: given.knownHosts ?? "enforce",
    knownHostsFiles: given.knownHostsFiles ?? [
      join(home, ".ssh", "known_hosts"),
      join(home, ".ssh", "known_hosts2"),
      "/etc/ssh/ssh_known_hosts",
      "/etc/ssh/ssh_known_hosts2",
    ],
    sshConfig,
    jump,
    keepaliveInterval: given.keepaliveInterval ?? 15_000,
    keepaliveCountMax: given.keepaliveCountMax ?? 3,
    readyTimeout: given.readyTimeout ?? 20_000,
  };
}

/** What `file` configures for `host`; a missing file configures nothing. */
async function readSshConfig(file: string, host: string): Promise<SshHostConfig> {
  const text = await readTextIfPresent(file);
  return text === undefined ? { identityFiles: [] } : sshConfigFor(text, host, file);
}

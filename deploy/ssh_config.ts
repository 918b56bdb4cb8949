/**
 * A reader of OpenSSH client configuration (`~/.ssh/config`) for the
 * keywords rdc honours: `HostName`, `User`, `Port`, `IdentityFile` and
 * `ProxyJump`, in `Host` blocks with patterns (`*`, `?`, `!negation`).
 *
 * As in OpenSSH, the first value obtained for a keyword wins, and every
 * matching `IdentityFile` is kept, in order. `Match` blocks are skipped
 * (except `Match all`), as are `Include` and other keywords.
 *
 * @module
 */

/** What the configuration says about one host. */
export interface SshHostConfig {
  /** The real host name to connect to (`%h` expanded). */
  hostName?: string;
  /** The user to log in as. */
  user?: string;
  /** The port. */
  port?: number;
  /** Identity files, unexpanded (`~`, `%d`, `%u`, `%r`, `%h`, `%p` left for the caller). */
  identityFiles: string[];
  /** Jump hosts, `[user@]host[:port]` separated by commas; absent for `none`. */
  proxyJump?: string;
}

/**
 * What `text` (the contents of `file`) configures for `host`, the name the
 * user typed.
 *
 * @throws {TypeError} naming the file and line of a malformed `Port`.
 */
export function sshConfigFor(text: string, host: string, file = "ssh config"): SshHostConfig {
  const found: SshHostConfig = { identityFiles: [] };
  let jump: string | undefined;
  let applies = true;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1]!.toLowerCase();
    const args = splitArguments(match[2]!);
    if (keyword === "host") {
      applies = hostMatches(args, host);
      continue;
    }
    if (keyword === "match") {
      applies = args.length === 1 && args[0]!.toLowerCase() === "all";
      continue;
    }
    const value = args[0];
    if (!applies || value === undefined) continue;
    switch (keyword) {
      case "hostname":
        found.hostName ??= value.replaceAll("%h", host).replaceAll("%%", "%");
        break;
      case "user":
        found.user ??= value;
        break;
      case "port":
        found.port ??= parseConfigPort(value, `${file}:${index + 1}`);
        break;
      case "identityfile":
        found.identityFiles.push(value);
        break;
      case "proxyjump":
        jump ??= value;
        break;
    }
  }
  if (jump !== undefined && jump.toLowerCase() !== "none") found.proxyJump = jump;
  return found;
}

/** The arguments of a line: separated by spaces, double quotes grouping. */
function splitArguments(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Whether a `Host` line's patterns select `host`: one positive match and no negated one. */
function hostMatches(patterns: string[], host: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    if (!globMatches(negated ? pattern.slice(1) : pattern, host)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** OpenSSH's pattern match: `*` any run, `?` one character, case-insensitive. */
export function globMatches(pattern: string, text: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${source}$`, "i").test(text);
}

function parseConfigPort(value: string, where: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new TypeError(`${where}: invalid Port '${value}'`);
  return port;
}

/** The values of OpenSSH's `%` tokens that identity file names may use. */
export interface PathTokens {
  /** `%d` and `~`: the local home directory. */
  home: string;
  /** `%u`: the local user. */
  localUser: string;
  /** `%r`: the remote user. */
  user: string;
  /** `%h`: the remote host name. */
  host: string;
  /** `%p`: the remote port. */
  port: number;
}

/** Expands `~` and the `%` tokens of a file name. */
export function expandPath(path: string, tokens: PathTokens): string {
  const values: Record<string, string> = {
    "%": "%",
    d: tokens.home,
    h: tokens.host,
    p: String(tokens.port),
    r: tokens.user,
    u: tokens.localUser,
  };
  const expanded = path.replace(/%([%dhpru])/g, (_, token: string) => values[token]!);
  return expanded === "~" || expanded.startsWith("~/") ? tokens.home + expanded.slice(1) : expanded;
}

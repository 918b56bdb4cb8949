/**
 * The one remote command of a deployment: a POSIX `sh` script that, in a
 * single SSH exec, prepares the cache, reports what is missing, receives it,
 * and runs the server.
 *
 * What it does, in order:
 * 1. `umask 077`; creates `$HOME/.cache/rdc` if missing and sets its mode
 *    to 0700. A warm start forks as few programs as it can (`uname` twice,
 *    `chmod`, deno): on a fleet each fork is paid on every host.
 * 2. Finds deno: `denoPath`, else `deno` on PATH, else `~/.deno/bin/deno`,
 *    else a runtime rdc shipped before (`deno-<version>-<target>` in the cache).
 * 3. Prints `RDC1 STATUS <uname -s> <uname -m> [bundle] [runtime]`: the
 *    platform and what is missing (nothing, on a warm cache).
 * 4. For each missing item prints `RDC1 SEND <item>` and reads a decimal
 *    size line, then that many bytes: the bundle (stored as
 *    `<sha256>.mjs`) or the gzip-compressed runtime (unpacked, checked
 *    with `--version`). Each goes to a temporary file renamed into place,
 *    so a broken upload leaves no partial file. The launcher sends nothing
 *    else on stdin, so `head -c` cannot read past an item.
 * 5. Runs `deno run … <sha256>.mjs <session>.sock` as a child, not with
 *    `exec`, so that the shell outlives it and its EXIT trap removes the
 *    socket and any temporary file whatever ended the server.
 *
 * @module
 */

import { MARKER } from "./remote_protocol.ts";
import { targetCase } from "./platforms.ts";

/** What the script needs to know. */
export interface BootstrapPlan {
  /** The bundle's hex SHA-256. */
  bundleSha256: string;
  /** A random name for this server's socket. */
  session: string;
  /** The remote deno to use, if the user named one. */
  denoPath?: string;
  /** The Deno version to ship: a shipped runtime is `deno-<version>-<target>` in the remote cache. */
  denoVersion: string;
  /** Deno permission flags for the server. */
  permissions: readonly string[];
}

/** The exec command: `/bin/sh -c '<script>'` (whatever the user's login shell). */
export function bootstrapCommand(plan: BootstrapPlan): string {
  const grants = socketGrants(plan.permissions);
  const flags = [
    ...plan.permissions.map(quote),
    ...(grants.read ? ['--allow-read="$s"'] : []),
    ...(grants.write ? ['--allow-write="$s"'] : []),
    ...(grants.net ? ['--allow-net="unix:$s"'] : []),
  ].join(" ");
  const fail = (code: number, message: string) => `{ echo "rdc: ${message}" >&2; exit ${code}; }`;
  const script = [
    "umask 077",
    'd="$HOME/.cache/rdc"',
    `b="$d/${plan.bundleSha256}.mjs"`,
    `s="$d/${plan.session}.sock"`,
    `p="$d/.${plan.session}.part"`,
    'u="$(uname -s) $(uname -m)"',
    targetCase(),
    `r="$d/deno-${plan.denoVersion}-$t"`,
    `trap 'rm -f "$s" "$p"' EXIT`,
    "trap 'exit 129' HUP",
    "trap 'exit 130' INT",
    "trap 'exit 143' TERM",
    `{ [ -d "$d" ] || mkdir -p "$d"; } && chmod 700 "$d" || ${fail(90, "cannot create $d")}`,
    `x=${quote(plan.denoPath ?? "")}`,
    'if [ -z "$x" ]; then x=$(command -v deno 2>/dev/null) || x=; fi',
    'if [ -z "$x" ] && [ -x "$HOME/.deno/bin/deno" ]; then x="$HOME/.deno/bin/deno"; fi',
    'if [ -z "$x" ] && [ -x "$r" ]; then x="$r"; fi',
    `if [ -n "$x" ] && [ ! -x "$x" ]; then ${fail(94, "$x is not an executable deno")}; fi`,
    "n=",
    '[ -f "$b" ] || n=bundle',
    '[ -n "$x" ] || n="$n runtime"',
    `echo "${MARKER} STATUS $u $n"`,
    "for i in $n; do " + [
      `echo "${MARKER} SEND $i"`,
      `read -r z || ${fail(91, "the launcher went away")}`,
      "case $i in " + [
        `bundle) head -c "$z" > "$p" && [ "$(wc -c < "$p")" -eq "$z" ] && mv -f "$p" "$b" ` +
        `|| ${fail(92, "the upload of the server bundle failed")} ;;`,
        `runtime) head -c "$z" | gzip -dc > "$p" && chmod 700 "$p" && "$p" --version > /dev/null ` +
        `&& mv -f "$p" "$r" || ${fail(93, "the shipped deno does not run here")}; x="$r" ;;`,
      ].join(" ") + " esac",
    ].join("; ") + "; done",
    `"$x" run --no-config --no-lock --no-prompt --quiet ${flags} "$b" "$s"`,
  ].join("; ");
  return `/bin/sh -c ${quote(script)}`;
}

/**
 * Which grants the server's socket needs on top of `permissions`: Deno
 * wants read, write and net (`unix:PATH`) access to listen on a unix socket,
 * unless the flags already grant them in full. (Adding a path to a full
 * grant would narrow it: Deno takes `--allow-read --allow-read=X` as read on
 * X only.)
 */
export function socketGrants(
  permissions: readonly string[],
): { read: boolean; write: boolean; net: boolean } {
  const has = (...flags: string[]) => permissions.some((flag) => flags.includes(flag));
  const all = has("-A", "--allow-all");
  return {
    read: !all && !has("-R", "--allow-read"),
    write: !all && !has("-W", "--allow-write"),
    net: !all && !has("-N", "--allow-net"),
  };
}

/** Quotes `text` for sh. */
export function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

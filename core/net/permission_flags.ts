/**
 * The `--allow-…` flags that give a child Deno no more than this process
 * holds: what `defaultServerCommand` and pool workers run with.
 *
 * @module
 */

/** Every kind of permission Deno asks for. */
const PERMISSIONS = ["read", "write", "net", "env", "run", "sys", "ffi", "import"] as const;

/** A permission kind that a child may get for a few paths when this process lacks it in full. */
export type ScopedPermission = "read" | "write";

/**
 * `--allow-…` flags for the permissions this process holds in full
 * (`--allow-all` when it holds them all). One granted only for some paths
 * or hosts, or granted but for some (`--deny-…`), is not passed on, since
 * Deno does not tell which, except for the paths in `scoped`: each is
 * passed on when this process may use it, so a child never gets more than
 * this process has.
 *
 * @param scoped per kind, the paths the child needs.
 */
export function permissionFlags(
  scoped: Partial<Record<ScopedPermission, readonly string[]>> = {},
): string[] {
  const held = PERMISSIONS.filter((name) => {
    // Partial: granted, but with exceptions (`--deny-…`), which Deno does not tell.
    const { state, partial } = Deno.permissions.querySync({ name });
    return state === "granted" && !partial;
  });
  if (held.length === PERMISSIONS.length) return ["--allow-all"];
  const flags = held.map((name) => `--allow-${name}`);
  for (const name of ["read", "write"] as const) {
    if (held.includes(name)) continue;
    const paths = (scoped[name] ?? []).filter((path) =>
      Deno.permissions.querySync({ name, path }).state === "granted"
    );
    if (paths.length > 0) flags.push(`--allow-${name}=${paths.join(",")}`);
  }
  return flags;
}

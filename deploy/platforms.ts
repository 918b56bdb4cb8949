/**
 * The platforms rdc can ship a Deno runtime to: how `uname -sm` names each,
 * Deno's target triple for it, and the npm package of Deno's official build
 * for it.
 *
 * @module
 */

/** One platform Deno builds for that has `uname`. */
export interface RuntimePlatform {
  /** What `uname -s` prints there. */
  os: string;
  /** What `uname -m` may print there. */
  arches: readonly string[];
  /** Deno's target triple (`Deno.build.target` of a Deno built for it). */
  target: string;
  /** The npm package holding Deno's official build for it (its file `package/deno`). */
  npmPackage: string;
}

/** Every platform a runtime can be shipped to (glibc Linux and macOS, x86-64 and ARM64). */
export const RUNTIME_PLATFORMS: readonly RuntimePlatform[] = [
  {
    os: "Linux",
    arches: ["x86_64", "amd64"],
    target: "x86_64-unknown-linux-gnu",
    npmPackage: "@deno/linux-x64-glibc",
  },
  {
    os: "Linux",
    arches: ["aarch64", "arm64"],
    target: "aarch64-unknown-linux-gnu",
    npmPackage: "@deno/linux-arm64-glibc",
  },
  {
    os: "Darwin",
    arches: ["x86_64"],
    target: "x86_64-apple-darwin",
    npmPackage: "@deno/darwin-x64",
  },
  {
    os: "Darwin",
    arches: ["arm64", "aarch64"],
    target: "aarch64-apple-darwin",
    npmPackage: "@deno/darwin-arm64",
  },
];

/** The platform whose `uname -s` and `uname -m` are `os` and `arch`, if rdc can ship to it. */
export function platformOf(os: string, arch: string): RuntimePlatform | undefined {
  return RUNTIME_PLATFORMS.find((p) => p.os === os && p.arches.includes(arch));
}

/**
 * A `sh` statement that sets `t` to the target triple of the host it runs
 * on (`unknown` elsewhere), from {@linkcode RUNTIME_PLATFORMS} and `$u`
 * (which must hold `"$(uname -s) $(uname -m)"`, asked once per deployment):
 * the remote cache names a shipped runtime by it.
 */
export function targetCase(): string {
  const arms = RUNTIME_PLATFORMS.map((p) =>
    `${p.arches.map((arch) => `'${p.os} ${arch}'`).join("|")}) t=${p.target} ;;`
  );
  return `case "$u" in ${arms.join(" ")} *) t=unknown ;; esac`;
}

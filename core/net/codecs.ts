/**
 * Registers the compression algorithms this runtime offers a connection
 * (imported for that effect by the Deno entry's connecting and serving
 * modules), best first:
 * zstd (when `node:zlib` has it) and raw deflate, both from `node:zlib`,
 * synchronous (core/wire/compression.ts, the seam they plug into, must not
 * wait). Measured on a 1 MB repetitive string: zstd 0.45 ms to 125 bytes,
 * deflate 0.55 ms to 6 425 bytes; the web `CompressionStream` takes 6 ms for
 * deflate, being asynchronous.
 *
 * `node:zlib` itself is loaded by the first compression or decompression
 * (see core/node_builtin.ts): a connection that compresses nothing costs no
 * start-up time for it. Only whether zstd is there needs it earlier, on a
 * Deno older than the one known to have it.
 *
 * @module
 */

import type * as Zlib from "node:zlib";
import { nodeBuiltin } from "../node_builtin.ts";
import { type Codec, registerCodecs } from "../wire/compression.ts";

/** `node:zlib`, loaded on first use. */
function zlib(): typeof Zlib {
  return nodeBuiltin<typeof Zlib>("node:zlib");
}

/**
 * The first Deno release known to have zstd in `node:zlib` (added by
 * denoland/deno#32025, February 2026; checked on this release): from it
 * on, zstd is offered without loading `node:zlib` to look.
 */
const ZSTD_KNOWN_FROM = [2, 9, 6];

/** Whether this runtime's `node:zlib` has zstd. */
function hasZstd(): boolean {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  if (atLeast(deno?.version?.deno ?? "", ZSTD_KNOWN_FROM)) return true;
  const { zstdCompressSync, zstdDecompressSync } = zlib() as Partial<typeof Zlib>;
  return typeof zstdCompressSync === "function" && typeof zstdDecompressSync === "function";
}

/** Whether the release `version` (`2.9.6`) is `minimum` or later; false for what does not parse. */
function atLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split(/[.+-]/).map(Number);
  for (const [i, wanted] of minimum.entries()) {
    const part = parts[i] ?? Number.NaN;
    if (part !== wanted) return part > wanted;
  }
  return true;
}

/** zstd at its default level. */
const zstd: Codec = {
  name: "zstd",
  compress: (bytes) => zlib().zstdCompressSync(bytes),
  decompress: (bytes, size) => zlib().zstdDecompressSync(bytes, { maxOutputLength: size }),
};

/** Raw deflate (RFC 1951) at its default level. */
const deflate: Codec = {
  name: "deflate",
  compress: (bytes) => zlib().deflateRawSync(bytes),
  decompress: (bytes, size) => zlib().inflateRawSync(bytes, { maxOutputLength: size }),
};

registerCodecs(hasZstd() ? [zstd, deflate] : [deflate]);

/**
 * A fingerprint of what a bundle is built from, computed without running
 * Deno: the local files of the module graph (found by following static
 * imports), the configuration and lock files that resolve bare specifiers,
 * and the Deno version. It lets a warm deployment skip `deno bundle`
 * (a subprocess costing more than the whole SSH start-up).
 *
 * The import scan is textual, so it may follow a specifier quoted in a
 * comment (harmless: a missing file counts as missing) but not a computed
 * `import(x)`, which `deno bundle` does not follow either.
 *
 * @module
 */

import { createHash } from "node:crypto";

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'\n]+)["']/g;

/** Hex SHA-256 over `extra` texts and the graph reachable from `roots`. */
export async function sourceKey(roots: readonly URL[], extra: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const text of [Deno.version.deno, ...extra]) hash.update(`${text}\0`);
  const seen = new Set<string>();
  const queue = [...roots];
  for (let url = queue.shift(); url; url = queue.shift()) {
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    hash.update(`${url.href}\0`);
    if (url.protocol !== "file:") continue; // Remote modules are named by URL alone.
    let text: string;
    try {
      text = await Deno.readTextFile(url);
    } catch {
      hash.update("missing\0");
      continue;
    }
    hash.update(`${text}\0`);
    for (const [, specifier] of text.matchAll(SPECIFIER)) {
      if (/^(\.{0,2}\/|file:)/.test(specifier!)) queue.push(new URL(specifier!, url));
      else hash.update(`${specifier}\0`); // npm:, jsr:, node: and bare names: config-resolved.
    }
  }
  return hash.digest("hex");
}

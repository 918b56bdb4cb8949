/**
 * Short descriptions of values and bytes, for the steps a mutation records
 * (what `--show` and `--trace` print, and what a failure names).
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { AnyKeyMap, Raw } from "./tree.ts";

/** A short description of a value, for a mutation's steps. */
export function describeValue(value: unknown): string {
  if (value instanceof Raw) {
    return `raw ${hex(value.bytes.subarray(0, 12))}${value.bytes.length > 12 ? "…" : ""}`;
  }
  if (value instanceof ExtData) return `ext ${value.type}/${value.data.length}`;
  if (value instanceof AnyKeyMap) return `map{${value.entries.length}}`;
  if (value instanceof Uint8Array) return `bin ${value.length}`;
  if (typeof value === "string") {
    return JSON.stringify(value.length > 20 ? value.slice(0, 20) + "…" : value);
  }
  if (Array.isArray(value)) return `[${value.length}]`;
  if (typeof value === "object" && value !== null) return "{…}";
  return String(value);
}

/** Bytes in hex. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** JSON.stringify's replacer for messages holding binary and extension values. */
export function replacer(_key: string, value: unknown): unknown {
  if (
    value instanceof ExtData || value instanceof Raw || value instanceof Uint8Array ||
    value instanceof AnyKeyMap
  ) {
    return describeValue(value);
  }
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}

/**
 * Values to put where they do not belong: integers at the edges, awkward
 * strings, MessagePack headers that lie, nesting past the depth limit,
 * extensions with lying payloads, impossible targets and paths, and tagged
 * containers that are malformed.
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { concat, EXT, tag, u32 } from "../_raw_peer.ts";
import type { Rng } from "./rng.ts";
import { AnyKeyMap, Raw } from "./tree.ts";

/** Integers at the edges: of MessagePack's formats, of 32 bits, of safe integers, of rdc's numbers. */
// deno-fmt-ignore
export const INTS = [
  0, 1, -1, 2, 7, 8, 11, 12, 23, 24, 127, 128, 255, 256, 0x7fff, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000, 2 ** 53 - 1,
  -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 32) - 1, -(2 ** 53) + 1,
];

/** Names the policy must refuse or treat with care, and strings of awkward encodings. */
// deno-fmt-ignore
export const STRINGS = [
  "", "__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty",
  "__defineGetter__", "then", "call", "apply", "bind", "arguments", "caller", "_private",
  "exposed_echo", "echo", "hang", "make", "onConnect", "onDisconnect", "config", "size",
  "x".repeat(300), "\u0000", "\ud800", "ünï€😀", "rdc",
];

/** A value of a random kind: what a field that expects something else gets. */
export function anyValue(rng: Rng): unknown {
  switch (rng.int(12)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
    case 3:
      return rng.pick(INTS);
    case 4:
      return rng.pick([1.5, NaN, Infinity, -Infinity, -0.0, 1e300, 2 ** 53 + 2]);
    case 5:
      return rng.pick(STRINGS);
    case 6:
      return rng.bytes(rng.pick([0, 1, 5, 300]));
    case 7:
      return rng.pick([[], [null], [1, 2, 3], ["a", "b"], [[[]]]]);
    case 8:
      return rng.pick([{}, { a: 1 }, { then: 1 }, { size: "3" }]);
    case 9:
      return forgeExt(rng);
    case 10:
      return tag(rng.pick([20, 21, 22, 23, 24, 30, 127]));
    default:
      return lyingRaw(rng);
  }
}

/** Headers that declare more than is there, and bytes that are not MessagePack. */
export function lyingRaw(rng: Rng): Raw {
  const lies: (() => number[] | Uint8Array)[] = [
    () => [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4 294 967 295 items
    () => [0xdd, 0x00, 0x01, 0x00, 0x00, 0xc0], // array32 of 65 536 items, one present
    () => [0xdc, 0xff, 0xff], // array16
    () => [0x9f, 0xc0], // fixarray of 15, one present
    () => [0xdf, 0x7f, 0xff, 0xff, 0xff], // map32
    () => [0xde, 0xff, 0xff, 0xa1, 0x61], // map16
    () => [0x8f], // fixmap of 15, none present
    () => [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
    () => [0xdb, 0x00, 0x10, 0x00, 0x00, 0x61], // str32 of 1 MiB, one byte present
    () => [0xd9, 0xff, 0x61, 0x62], // str8 of 255, two present
    () => [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GiB
    () => [0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00], // bin32 of 2 GiB
    () => [0xc5, 0xff, 0xff], // bin16
    () => [0xc9, 0xff, 0xff, 0xff, 0xff, 0x0a], // ext32 of 4 GiB, type attachment
    () => [0xc9, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00], // ext32 of 256 bytes, type export
    () => [0xc8, 0xff, 0xff, 0x05], // ext16, type back reference
    () => [0xc7, 0xff, 0x03, 0x00], // ext8 bigint, 255 declared
    () => [0xc1], // never used in MessagePack
    () => [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint64 beyond 2^53
    () => [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], // int64 minimum
    () => [0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0], // uint64 of exactly 2^53
    () => [0xca, 0x7f, 0xc0, 0x00, 0x00], // float32 NaN
    () => [0xa4, 0xff, 0xfe, 0xc0, 0x80], // a string that is not UTF-8
    () => [0xa3, 0xed, 0xa0, 0x80], // an encoded surrogate
    () => [0xd4, 0x05, 0x00], // fixext1 back reference
    () => [0xd6, 0x07, 0x00, 0x00, 0x00, 0x00], // fixext4 import of the root
    () => [], // nothing: the container holds one item less than it says
    () => [0xc0, 0xc0], // one item more than it says
    () => concat(new Uint8Array([0xdb]), u32(rng.range(1, 70_000)), rng.bytes(rng.int(8))),
    () => concat(new Uint8Array([0xdd]), u32(rng.u32()), rng.bytes(rng.int(8))),
  ];
  return new Raw(rng.pick(lies)());
}

/** Nesting deeper (or exactly as deep) as the server's maxDepth (256), of several kinds. */
export function deepRaw(rng: Rng): { raw: Raw; what: string } {
  const depth = rng.pick([255, 256, 257, 258, 300, 1_000, 10_000, 30_000]);
  const kind = rng.pick(["array", "map", "set", "error", "lazy-map"]);
  const unit: number[] = {
    array: [0x91],
    map: [0x81, 0xa1, 0x61],
    set: [0x92, 0xc7, 0x00, EXT.TAG_SET],
    // [tag22, className, name, message, stack, hasCause=true, cause=…, props={}]: the cause nests.
    error: [0x98, 0xc7, 0x00, EXT.TAG_ERROR, 0xa1, 0x45, 0xa1, 0x45, 0xa0, 0xa0, 0xc3],
    "lazy-map": [0x93, 0xc7, 0x00, EXT.TAG_MAP, 0xa1, 0x6b],
  }[kind]!;
  const tail = kind === "error" ? [0x80] : [];
  const bytes = new Uint8Array(unit.length * depth + 1 + tail.length * depth);
  for (let i = 0; i < depth; i++) bytes.set(unit, i * unit.length);
  bytes[unit.length * depth] = 0xc0;
  for (let i = 0; i < tail.length * depth; i++) bytes[unit.length * depth + 1 + i] = tail[0];
  return { raw: new Raw(bytes), what: `${kind}×${depth}` };
}

/** An extension of a type rdc knows, with a payload that lies. */
export function forgeExt(rng: Rng): ExtData {
  // deno-fmt-ignore
  const type = rng.pick([
    EXT.UNDEFINED, EXT.NEGATIVE_ZERO, EXT.BIGINT, EXT.DATE, EXT.BACKREF, EXT.EXPORT, EXT.IMPORT,
    EXT.TYPED_ARRAY, EXT.ARRAY_BUFFER, EXT.ATTACHMENT, 0, 11, 19, 24, 64, 126, -1, -2, -128,
  ]);
  const id = () => rng.pick([0, 1, 2, 3, 100, 0x7fffffff, 0xffffffff, rng.u32()]);
  let data: Uint8Array;
  switch (type) {
    case EXT.UNDEFINED:
    case EXT.NEGATIVE_ZERO:
      data = rng.bytes(rng.range(1, 3));
      break;
    case EXT.BIGINT:
      data = rng.pick([
        new Uint8Array(0),
        new Uint8Array([2, 1]),
        new Uint8Array([0]),
        concat(new Uint8Array([1]), rng.bytes(rng.pick([1, 8, 4_000, 40_000]))),
      ]);
      break;
    case EXT.DATE:
      data = rng.pick([rng.bytes(7), rng.bytes(9), new Uint8Array([0x7f, 0xf8, 0, 0, 0, 0, 0, 0])]);
      break;
    case EXT.BACKREF:
      data = rng.chance(0.8)
        ? u32(rng.pick([0, 1, 2, 5, 1000, 0xffffffff]))
        : rng.bytes(rng.pick([0, 3, 5]));
      break;
    case EXT.EXPORT: {
      const name = rng.pick([
        new Uint8Array(0),
        rng.bytes(10),
        new Uint8Array(200).fill(0x61),
        new Uint8Array([0xff, 0xfe]),
      ]);
      data = concat(
        new Uint8Array([rng.pick([0, 1, 2, 3, 255])]),
        u32(id()),
        u32(rng.pick([0, 1, 7, 0xfffffffe, 0xffffffff, rng.u32()])),
        name,
      );
      if (rng.chance(0.2)) data = data.subarray(0, rng.int(9));
      break;
    }
    case EXT.IMPORT:
      data = rng.chance(0.8) ? u32(id()) : rng.bytes(rng.pick([0, 3, 5]));
      break;
    case EXT.TYPED_ARRAY:
      data = concat(
        new Uint8Array([rng.pick([0, 1, 3, 8, 9, 11, 12, 13, 255])]),
        rng.bytes(rng.pick([0, 1, 3, 7, 8, 64])),
      );
      break;
    case EXT.ARRAY_BUFFER:
      data = rng.bytes(rng.pick([0, 1, 100]));
      break;
    case EXT.ATTACHMENT:
      data = concat(
        u32(rng.pick([0, 1, 2, 0xffffffff])),
        new Uint8Array([rng.pick([0, 1, 3, 8, 12, 13, 255])]),
      );
      if (rng.chance(0.2)) data = data.subarray(0, rng.int(5));
      break;
    default:
      data = rng.bytes(rng.pick([0, 1, 4, 8, 16, 17]));
  }
  return new ExtData(type, data);
}

/** Targets a REQUEST or a lazy path may name, the honest and the impossible. */
// deno-fmt-ignore
export const TARGETS = [
  0, 1, 2, 3, 5, 99_999, 0xffffffff, 0x100000000, -1, -2, -3, -100, -(2 ** 32), -(2 ** 32) - 1,
  1.5, "0", null,
];

/** Paths of the service's members, of blocked names, of what lies behind them. */
// deno-fmt-ignore
const PATHS: unknown[][] = [
  [], ["echo"], ["config"], ["config", "size"], ["config", "nested", "deep", "0"], ["make"],
  ["hang"], ["range"], ["fail"], ["call"], ["later"], ["size"], ["exposed_echo"], ["onConnect"],
  ["onDisconnect"], ["__proto__"], ["constructor"], ["prototype"], ["echo", "call"],
  ["echo", "bind"], ["echo", "name"], ["echo", "length"], ["config", "__proto__"],
  ["config", "size", "toFixed"], ["config", "nested", "constructor", "constructor"],
  ["toString"], ["then"], ["_x"], ["no_such"], [1], [null], [["config"]],
];

/**
 * One of {@linkcode PATHS}, copied: later mutators change trees in place, and
 * a shared path changed would change every later mutation (and could make a cycle).
 */
export function pickPath(rng: Rng): unknown[] {
  return structuredClone(rng.pick(PATHS));
}

/** A lazy path `[tag23, target, ...path]`, usually with something wrong. */
export function lazyPath(rng: Rng): unknown[] {
  const path = rng.chance(0.7) ? pickPath(rng) : [rng.pick(STRINGS)];
  switch (rng.int(5)) {
    case 0:
      return [tag(EXT.TAG_PATH)];
    case 1:
      return [tag(EXT.TAG_PATH), rng.pick(["0", null, 1.5, [], tag(EXT.TAG_PATH)])];
    default:
      return [tag(EXT.TAG_PATH), rng.pick(TARGETS), ...path];
  }
}

/** A tagged container (Map, Set, Error, lazy path) that is malformed, or in a bad place. */
export function badTagged(rng: Rng): { value: unknown; what: string } {
  switch (rng.int(9)) {
    case 0:
      return { value: [tag(EXT.TAG_MAP), "odd"], what: "map-odd" };
    case 1:
      return { value: [tag(EXT.TAG_MAP), lazyPath(rng), 1], what: "map-lazy-key" };
    case 2:
      return { value: [tag(EXT.TAG_MAP), tag(EXT.TAG_SET), 1], what: "map-tag-key" };
    case 3:
      return {
        value: [tag(EXT.TAG_SET), ...Array.from({ length: 50 }, () => 1)],
        what: "set-dups",
      };
    case 4: {
      const count = rng.range(1, 10);
      const fields = ["Error", "Error", "message", "stack", true, null, {}, "extra", 1].slice(
        0,
        count - 1,
      );
      return { value: [tag(EXT.TAG_ERROR), ...fields], what: `error-${count}` };
    }
    case 5:
      return {
        value: [
          tag(EXT.TAG_ERROR),
          anyValue(rng),
          "E",
          "m",
          "s",
          anyValue(rng),
          null,
          anyValue(rng),
        ],
        what: "error-types",
      };
    case 6:
      return {
        value: [
          tag(EXT.TAG_ERROR),
          "E",
          "E",
          "m",
          "s",
          false,
          null,
          new AnyKeyMap([["__proto__", 1]]),
        ],
        what: "error-proto-prop",
      };
    case 7:
      return { value: [tag(rng.pick([24, 25, 30, 64, 127])), 1, 2], what: "unknown-tag" };
    default:
      return { value: [tag(EXT.TAG_SET), tag(EXT.TAG_MAP)], what: "tag-as-item" };
  }
}

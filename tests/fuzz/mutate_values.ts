/**
 * Mutators of values inside a message body: values of the wrong type,
 * lying headers, deep nesting, many elements, forged and altered
 * extensions, misplaced tags, lazy paths, odd map keys, back references,
 * values taken from other messages, shape tables that lie, and values after
 * the message.
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { concat, EXT, MSG, tag, u32 } from "../_raw_peer.ts";
import { arraysOf, bodyMutator, extSlots, pickSlot } from "./body_mutator.ts";
import type { Corpus } from "./corpus.ts";
import { describeValue, replacer } from "./describe.ts";
import { wholeFrame } from "./frames.ts";
import type { Mutator } from "./mutator.ts";
import type { Rng } from "./rng.ts";
import { AnyKeyMap, type Body, decodeBody, encodeTree, header, Raw, slotsOf } from "./tree.ts";
import { anyValue, badTagged, deepRaw, forgeExt, lazyPath, lyingRaw } from "./values.ts";

/** A shape table that lies: bad shape numbers, lists that are not lists of strings, many lists. */
function badShapeTable(rng: Rng): { table: AnyKeyMap; what: string } {
  switch (rng.int(5)) {
    case 0: {
      const shape = rng.pick([-1, 0xffffffff, 0x100000000, 1.5, "0", null, 2 ** 53 - 1]);
      return { table: new AnyKeyMap([[shape, ["echo"]]]), what: `shape ${String(shape)}` };
    }
    case 1: {
      const list = rng.pick<unknown>([
        "x",
        null,
        [1],
        [null],
        [["a"]],
        new Array(500).fill("__proto__"),
        lyingRaw(rng),
      ]);
      return {
        table: new AnyKeyMap([[rng.range(0, 3), list]]),
        what: `list ${describeValue(list)}`,
      };
    }
    case 2: {
      const count = rng.pick([100, 5_000, 14_000]);
      return {
        table: new AnyKeyMap(
          Array.from({ length: count }, (_, i) => [i, []] as [unknown, unknown]),
        ),
        what: `${count} lists`,
      };
    }
    case 3:
      return {
        table: new AnyKeyMap([[0, ["a"]], [0, ["b"]], [
          1,
          Array.from({ length: 3_000 }, (_, i) => `m${i}`),
        ]]),
        what: "redefined",
      };
    default:
      return { table: new AnyKeyMap([]), what: "empty" };
  }
}

/** A decoded body from anywhere in the corpus, either way. */
function foreignBody(corpus: Corpus, rng: Rng): Body | null {
  const scenario = rng.pick(corpus.scenarios);
  const pool = rng.chance(0.5) ? scenario.toClient : scenario.toServer.map((t) => t.frame);
  const whole = pool.filter((frame) => !frame.chunk);
  return whole.length === 0 ? null : decodeBody(rng.pick(whole).payload);
}

/** Mutators that put a value where it does not belong, in a message or its shape table. */
export const VALUE_MUTATORS: readonly Mutator[] = [
  bodyMutator("wrong-type", 8, (body, rng) => {
    const slot = pickSlot(body, rng);
    const value = anyValue(rng);
    slot.set(value);
    return describeValue(value);
  }),
  bodyMutator("lying-header", 6, (body, rng) => {
    const raw = lyingRaw(rng);
    pickSlot(body, rng).set(raw);
    return describeValue(raw);
  }),
  bodyMutator("deep-nesting", 3, (body, rng) => {
    const { raw, what } = deepRaw(rng);
    pickSlot(body, rng).set(raw);
    return what;
  }),
  bodyMutator("many-elements", 2, (body, rng) => {
    const count = rng.pick([16, 1_000, 20_000, 60_000]);
    const value = rng.chance(0.5)
      ? new Raw(concat(header("array", count), new Uint8Array(count).fill(0xc0)))
      : new Raw(
        concat(
          header("map", Math.floor(count / 3)),
          ...Array.from(
            { length: Math.floor(count / 3) },
            (_, i) => new Uint8Array([0xa1, 0x41 + (i % 26), 0xc0]),
          ),
        ),
      );
    pickSlot(body, rng).set(value);
    return `${count}`;
  }),
  bodyMutator("forge-ext", 6, (body, rng) => {
    const ext = forgeExt(rng);
    pickSlot(body, rng).set(ext);
    return describeValue(ext);
  }),
  bodyMutator("mutate-ext", 5, (body, rng) => {
    const slots = extSlots(body);
    if (slots.length === 0) return null;
    const slot = rng.pick(slots);
    const ext = slot.get() as ExtData;
    const data = new Uint8Array(ext.data as Uint8Array);
    switch (rng.int(5)) {
      case 0:
        slot.set(
          new ExtData(
            rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 24, 127, -1, -128]),
            data,
          ),
        );
        return `type ${ext.type}→${(slot.get() as ExtData).type}`;
      case 1:
        slot.set(
          new ExtData(ext.type, data.subarray(0, Math.max(0, data.length - rng.range(1, 4)))),
        );
        return `ext ${ext.type} shortened`;
      case 2:
        slot.set(new ExtData(ext.type, concat(data, rng.bytes(rng.pick([1, 4, 300])))));
        return `ext ${ext.type} lengthened`;
      case 3: {
        if (data.length === 0) return null;
        data[rng.int(data.length)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
        slot.set(new ExtData(ext.type, data));
        return `ext ${ext.type} byte`;
      }
      default: {
        if (data.length < 5) return null;
        data.set(u32(rng.pick([0, 1, 0xffffffff, rng.u32()])), ext.type === EXT.EXPORT ? 1 : 0);
        slot.set(new ExtData(ext.type, data));
        return `ext ${ext.type} number`;
      }
    }
  }),
  bodyMutator("misplaced-tag", 4, (body, rng) => {
    const arrays = arraysOf(body);
    const t = tag(rng.pick([20, 21, 22, 23, 24, 31, 127]));
    if (arrays.length === 0 || rng.chance(0.3)) {
      pickSlot(body, rng).set(t);
      return `bare tag ${t.type}`;
    }
    const array = rng.pick(arrays);
    array.splice(rng.range(Math.min(1, array.length), array.length), 0, t);
    return `tag ${t.type} inside`;
  }),
  bodyMutator("lazy-path", 5, (body, rng) => {
    const lazy = lazyPath(rng);
    pickSlot(body, rng).set(lazy);
    return JSON.stringify(lazy.slice(1), replacer).slice(0, 60);
  }),
  bodyMutator("bad-tagged", 4, (body, rng) => {
    const { value, what } = badTagged(rng);
    pickSlot(body, rng).set(value);
    return what;
  }),
  bodyMutator("odd-keys", 3, (body, rng) => {
    const key = rng.pick<unknown>([
      "__proto__",
      1,
      null,
      -1,
      tag(EXT.TAG_MAP),
      [1],
      new Uint8Array(2),
      1.5,
      true,
    ]);
    const map = new AnyKeyMap([[key, anyValue(rng)], ["ok", 1]]);
    pickSlot(body, rng).set(map);
    return `key ${describeValue(key)}`;
  }),
  bodyMutator("back-reference", 3, (body, rng) => {
    const index = rng.pick([0, 1, 2, 3, 10, 1_000, 0xffffffff]);
    const ext = new ExtData(EXT.BACKREF, u32(index));
    pickSlot(body, rng).set(rng.chance(0.3) ? new AnyKeyMap([[ext, 1]]) : ext);
    return `#${index}`;
  }),
  bodyMutator("duplicate-subtree", 3, (body, rng) => {
    const slots = slotsOf(body);
    if (slots.length < 2) return null;
    const from = rng.pick(slots).get();
    // A copy of its bytes, not the node: a node moved under itself would make a cycle.
    rng.pick(slots).set(new Raw(encodeTree(from)));
    return describeValue(from);
  }),
  bodyMutator("foreign-value", 3, (body, rng, { corpus }) => {
    const donor = foreignBody(corpus, rng);
    if (!donor) return null;
    const value = rng.pick(slotsOf(donor)).get();
    pickSlot(body, rng).set(value);
    return describeValue(value);
  }),
  bodyMutator("shape-table", 4, (body, rng) => {
    const { table, what } = badShapeTable(rng);
    if (body.table && rng.chance(0.5)) body.table.entries.push(...table.entries);
    else body.table = table;
    return what;
  }),
  bodyMutator("trailing", 2, (body, rng) => {
    if (rng.chance(0.5)) body.rest.push(anyValue(rng));
    else body.rest.push(body.table ?? new AnyKeyMap([[0, ["x"]]]));
    return "";
  }),
  {
    name: "shape-flood",
    weight: 1,
    apply(draft) {
      // More member lists than a peer may describe (65 536), over several messages.
      let shape = 0;
      for (let m = 0; m < 6; m++) {
        const table = new AnyKeyMap(
          Array.from({ length: 12_000 }, () => [shape++, []] as [unknown, unknown]),
        );
        draft.frames.push({
          frame: wholeFrame(concat(encodeTree(table), encodeTree([MSG.FINISH, []]))),
          after: 0,
        });
      }
      return `${shape} lists`;
    },
  },
];

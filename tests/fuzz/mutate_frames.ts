/**
 * Mutators of frames as bytes: bits flipped, bytes set, cut, added and
 * taken out, headers that lie, the chunk bit changed; and of the traffic as
 * a whole: frames duplicated, swapped, dropped, shuffled, taken from other
 * connections, repeated, garbage between them, and the bytes sent a few at a
 * time.
 *
 * @module
 */

import { CHUNK_BIT, concat } from "../_raw_peer.ts";
import { type Frame, wholeFrame } from "./frames.ts";
import type { Mutator } from "./mutator.ts";
import type { Rng } from "./rng.ts";

/** The big-endian uint32 `bytes` start with. */
function readU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

/** A mutator of one frame's bytes. */
function frameMutator(
  name: string,
  weight: number,
  change: (frame: Frame, rng: Rng) => string | null,
): Mutator {
  return {
    name,
    weight,
    apply({ rng, frames }) {
      if (frames.length === 0) return null;
      const i = rng.int(frames.length);
      const frame = { ...frames[i].frame };
      const did = change(frame, rng);
      if (did === null) return null;
      frames[i] = { frame, after: frames[i].after };
      return `frame ${i} ${did}`;
    },
  };
}

/** Mutators of frames and their bytes, and of the order and timing of the traffic. */
export const FRAME_MUTATORS: readonly Mutator[] = [
  frameMutator("bit-flip", 6, (frame, rng) => {
    if (frame.payload.length === 0) return null;
    const payload = frame.payload.slice();
    const flips = rng.range(1, 4);
    for (let i = 0; i < flips; i++) payload[rng.int(payload.length)] ^= 1 << rng.int(8);
    frame.payload = payload;
    return `${flips}`;
  }),
  frameMutator("byte-set", 4, (frame, rng) => {
    if (frame.payload.length === 0) return null;
    const payload = frame.payload.slice();
    const at = rng.int(Math.min(payload.length, rng.chance(0.7) ? 16 : payload.length));
    payload[at] = rng.pick([
      0x00,
      0xff,
      0x7f,
      0x80,
      0xc1,
      0xdd,
      0xdf,
      0xdb,
      0xc9,
      0xc7,
      0x90,
      0x9f,
    ]);
    frame.payload = payload;
    return `@${at}=${payload[at].toString(16)}`;
  }),
  frameMutator("truncate", 4, (frame, rng) => {
    if (frame.payload.length === 0) return null;
    const cut = rng.int(frame.payload.length);
    frame.payload = frame.payload.slice(0, cut);
    return `to ${cut}`;
  }),
  frameMutator("extend", 2, (frame, rng) => {
    frame.payload = concat(
      frame.payload,
      rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : new Uint8Array([0xc0]),
    );
    return "";
  }),
  frameMutator("insert-bytes", 2, (frame, rng) => {
    const at = rng.int(frame.payload.length + 1);
    frame.payload = concat(
      frame.payload.subarray(0, at),
      rng.bytes(rng.range(1, 8)),
      frame.payload.subarray(at),
    );
    return `@${at}`;
  }),
  frameMutator("delete-bytes", 2, (frame, rng) => {
    if (frame.payload.length < 2) return null;
    const at = rng.int(frame.payload.length - 1);
    const count = rng.range(1, Math.min(16, frame.payload.length - at));
    frame.payload = concat(frame.payload.subarray(0, at), frame.payload.subarray(at + count));
    return `@${at}-${count}`;
  }),
  frameMutator("header-lie", 5, (frame, rng) => {
    const length = frame.payload.length;
    const lie = rng.pick([
      0,
      1,
      3,
      4,
      5,
      length - 1,
      length + 1,
      length + 7,
      16_384,
      65_532,
      65_536,
      65_537,
      0x7fffffff,
    ]);
    frame.header = (Math.max(0, lie) | (rng.chance(0.2) !== frame.chunk ? CHUNK_BIT : 0)) >>> 0;
    return `${frame.header.toString(16)} for ${length}`;
  }),
  frameMutator("chunk-bit", 3, (frame) => {
    frame.chunk = !frame.chunk;
    return frame.chunk ? "set" : "cleared";
  }),
  {
    name: "duplicate-frame",
    weight: 3,
    apply({ rng, frames }) {
      if (frames.length === 0) return null;
      const i = rng.int(frames.length);
      frames.splice(rng.range(i, frames.length), 0, {
        frame: { ...frames[i].frame },
        after: frames[i].after,
      });
      return `${i}`;
    },
  },
  {
    name: "swap-frames",
    weight: 3,
    apply({ rng, frames }) {
      if (frames.length < 2) return null;
      const i = rng.int(frames.length), j = rng.int(frames.length);
      [frames[i].frame, frames[j].frame] = [frames[j].frame, frames[i].frame];
      return `${i}↔${j}`;
    },
  },
  {
    name: "drop-frame",
    weight: 2,
    apply({ rng, frames }) {
      if (frames.length === 0) return null;
      const i = rng.int(frames.length);
      frames.splice(i, 1);
      return `${i}`;
    },
  },
  {
    name: "shuffle-frames",
    weight: 1,
    apply({ rng, frames }) {
      for (let i = frames.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [frames[i].frame, frames[j].frame] = [frames[j].frame, frames[i].frame];
      }
      return "";
    },
  },
  {
    name: "foreign-frame",
    weight: 3,
    apply({ rng, corpus, frames }) {
      const donor = rng.pick(corpus.scenarios);
      const pool = rng.chance(0.5) ? donor.toClient : donor.toServer.map((t) => t.frame);
      if (pool.length === 0) return null;
      const frame = rng.pick(pool);
      const at = rng.int(frames.length + 1);
      frames.splice(at, 0, { frame: { ...frame }, after: 0 });
      return `${donor.name} at ${at}`;
    },
  },
  {
    name: "repeat-traffic",
    weight: 2,
    apply({ rng, frames }) {
      const times = rng.range(2, 4);
      const once = frames.map((t) => ({ frame: { ...t.frame }, after: t.after }));
      for (let i = 1; i < times; i++) frames.push(...once.map((t) => ({ ...t, after: 0 })));
      return `×${times}`;
    },
  },
  {
    name: "garbage",
    weight: 3,
    apply({ rng, frames }) {
      const bytes = rng.bytes(rng.pick([1, 3, 4, 5, 64, 4096]));
      // Either a frame of garbage, or garbage where a frame header should be.
      const frame: Frame = bytes.length >= 4 && rng.chance(0.5)
        ? { chunk: false, payload: bytes.subarray(4), header: readU32(bytes) }
        : wholeFrame(bytes);
      const at = rng.int(frames.length + 1);
      frames.splice(at, 0, { frame, after: 0 });
      return `${bytes.length} bytes at ${at}`;
    },
  },
  {
    name: "empty-frame",
    weight: 1,
    apply({ rng, frames }) {
      const frame: Frame = { chunk: rng.chance(0.5), payload: new Uint8Array(0) };
      frames.splice(rng.int(frames.length + 1), 0, { frame, after: 0 });
      return frame.chunk ? "chunk" : "whole";
    },
  },
  {
    name: "trickle",
    weight: 1,
    apply(draft) {
      if (draft.trickle) return null;
      draft.trickle = true;
      return "";
    },
  },
];

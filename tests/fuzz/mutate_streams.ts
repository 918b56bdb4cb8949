/**
 * Mutators of streams: streamed bodies and their attachments changed, a
 * whole message sent as a stream, and chunk frames that lie about their
 * stream, flags or prologue, aborts, too many streams, and announcements of
 * more than is sent.
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { concat, EXT, FLAG, u32 } from "../_raw_peer.ts";
import { type BodyChange, extSlots, pickSlot, withBody } from "./body_mutator.ts";
import { type Chunk, chunkMessage, chunkPayload, type Frame, parseChunk } from "./frames.ts";
import { FRAME_LIMIT, MAX_MESSAGE, MiB } from "./limits.ts";
import type { Mutator } from "./mutator.ts";
import type { Rng } from "./rng.ts";
import { anyValue, forgeExt, lyingRaw } from "./values.ts";

/** Changes a streamed body may get: the value mutators that matter most where attachments are. */
const STREAM_BODY_CHANGES: BodyChange[] = [
  (body, rng) => {
    pickSlot(body, rng).set(anyValue(rng));
    return "wrong type";
  },
  (body, rng) => {
    pickSlot(body, rng).set(lyingRaw(rng));
    return "lying header";
  },
  (body, rng) => {
    pickSlot(body, rng).set(forgeExt(rng));
    return "forged ext";
  },
  (body, rng) => {
    const slots = extSlots(body);
    if (slots.length === 0) return null;
    const slot = rng.pick(slots);
    const ext = slot.get() as ExtData;
    const data = new Uint8Array(ext.data as Uint8Array);
    if (data.length >= 4) data.set(u32(rng.pick([1, 2, 0xffffffff])), 0);
    if (data.length >= 5 && rng.chance(0.5)) data[4] = rng.pick([1, 3, 12, 13, 255]);
    slot.set(new ExtData(ext.type, data));
    return `ext ${ext.type} retargeted`;
  },
];

/** A mutator of one chunk frame's header, flags or prologue. */
function chunkMutator(
  name: string,
  weight: number,
  change: (chunk: Chunk, rng: Rng) => string | null,
): Mutator {
  return {
    name,
    weight,
    apply({ rng, frames }) {
      const chunks = frames.map((t, i) => ({ t, i })).filter(({ t }) =>
        t.frame.chunk && t.frame.header === undefined
      );
      if (chunks.length === 0) return null;
      const { t, i } = rng.pick(chunks);
      const chunk = parseChunk(t.frame.payload);
      if (!chunk) return null;
      const did = change(chunk, rng);
      if (did === null) return null;
      frames[i] = { frame: { chunk: true, payload: chunkPayload(chunk) }, after: t.after };
      return `frame ${i} ${did}`;
    },
  };
}

/** Mutators of streamed messages and of chunk frames. */
export const STREAM_MUTATORS: readonly Mutator[] = [
  // ---- streams: bodies and attachments
  {
    name: "stream-body",
    weight: 3,
    apply(draft) {
      return withBody(draft, (body, rng, context) => {
        return rng.pick(STREAM_BODY_CHANGES)(body, rng, context);
      }, true);
    },
  },
  {
    name: "attachments-lie",
    weight: 3,
    apply(draft) {
      return withBody(draft, (body, rng, { attachments }) => {
        switch (rng.int(5)) {
          case 0:
            if (attachments.length === 0) return null;
            attachments.pop();
            return "one attachment less";
          case 1:
            attachments.push(rng.bytes(rng.pick([0, 1, 7, 70_000])));
            return "an unnamed attachment";
          case 2:
            if (attachments.length === 0) return null;
            attachments[0] = attachments[0].subarray(
              0,
              Math.max(0, attachments[0].length - rng.pick([1, 3, 1000])),
            );
            return "attachment shortened";
          case 3: {
            const ext = new ExtData(
              EXT.ATTACHMENT,
              concat(
                u32(rng.pick([0, 1, 7, 0xffffffff])),
                new Uint8Array([rng.pick([0, 1, 3, 8, 11, 12, 255])]),
              ),
            );
            pickSlot(body, rng).set(ext);
            return "ext 10 placed";
          }
          default: {
            const refs = extSlots(body).filter((s) => (s.get() as ExtData).type === EXT.ATTACHMENT);
            if (refs.length === 0) return null;
            const again = refs[0].get();
            pickSlot(body, rng).set(again);
            return "ext 10 twice";
          }
        }
      });
    },
  },
  {
    name: "whole-as-stream",
    weight: 2,
    apply(draft) {
      const { rng, frames } = draft;
      const whole = frames.filter((t) => !t.frame.chunk);
      if (whole.length === 0) return null;
      const t = rng.pick(whole);
      const at = frames.indexOf(t);
      const stream = rng.pick([0, 1, 63, 64, 0xffffffff]);
      const chunks = chunkMessage(
        stream,
        t.frame.payload,
        rng.chance(0.3) ? [rng.bytes(10)] : [],
        rng.pick([16, 40, FRAME_LIMIT - 4]),
      );
      frames.splice(at, 1, ...chunks.map((frame) => ({ frame, after: t.after })));
      return `stream ${stream}, ${chunks.length} chunks`;
    },
  },

  // ---- chunks
  chunkMutator("chunk-stream-id", 3, (chunk, rng) => {
    chunk.stream = rng.pick([0, 1, 2, 64, 65, 0xffffffff, rng.u32()]);
    return `id ${chunk.stream}`;
  }),
  chunkMutator("chunk-flags", 3, (chunk, rng) => {
    const flags = rng.pick([0, 1, 2, 3, 4, 8, 0x80, 0xff]);
    if ((flags & FLAG.FIRST) && chunk.bodyLength === undefined) {
      chunk.bodyLength = chunk.data.length;
      chunk.sizes = [];
    }
    if (!(flags & FLAG.FIRST)) {
      chunk.bodyLength = undefined;
      chunk.sizes = undefined;
    }
    chunk.flags = flags;
    return `flags ${flags}`;
  }),
  chunkMutator("prologue-lie", 4, (chunk, rng) => {
    if (chunk.bodyLength === undefined) return null;
    if (rng.chance(0.5)) {
      chunk.bodyLength = rng.pick([
        0,
        1,
        chunk.bodyLength - 1,
        chunk.bodyLength + 1,
        0x7fffffff,
        0xffffffff,
        MAX_MESSAGE - 1,
        MAX_MESSAGE,
        MAX_MESSAGE + 1,
      ]);
      return `body ${chunk.bodyLength}`;
    }
    const sizes = chunk.sizes!;
    switch (rng.int(3)) {
      case 0:
        sizes.push(rng.pick([0, 1, 100, 0xffffffff]));
        return "one size more";
      case 1:
        if (sizes.length === 0) return null;
        sizes[rng.int(sizes.length)] = rng.pick([0, 1, 0xffffffff, MAX_MESSAGE - 1000, 512 * MiB]);
        return "size lies";
      default:
        sizes.length = 0;
        return "no sizes";
    }
  }),
  {
    name: "abort",
    weight: 2,
    apply(draft) {
      const { rng, frames } = draft;
      const stream = rng.pick([0, 1, 5, 0xffffffff]);
      const data = rng.chance(0.3) ? rng.bytes(rng.range(1, 10)) : new Uint8Array(0);
      const frame: Frame = {
        chunk: true,
        payload: chunkPayload({ stream, flags: FLAG.ABORT, data }),
      };
      const at = rng.int(frames.length + 1);
      frames.splice(at, 0, { frame, after: at < frames.length ? frames[at].after : 0 });
      return `stream ${stream} at ${at}${data.length ? " with data" : ""}`;
    },
  },
  {
    name: "many-streams",
    weight: 1,
    apply(draft) {
      // More open streams than allowed (64), each announcing a little and sending nothing.
      const count = draft.rng.pick([64, 65, 100]);
      for (let stream = 0; stream < count; stream++) {
        const payload = chunkPayload({
          stream,
          flags: FLAG.FIRST,
          bodyLength: 10,
          sizes: [],
          data: new Uint8Array(0),
        });
        draft.frames.push({ frame: { chunk: true, payload }, after: 0 });
      }
      return `${count}`;
    },
  },
  {
    name: "big-announce",
    weight: 2,
    apply(draft) {
      // A stream announcing a large message and carrying almost none of it: the server
      // may take room for it, but must give it back when the peer goes.
      const { rng } = draft;
      const body = rng.pick([
        MiB,
        MAX_MESSAGE / 2,
        MAX_MESSAGE - 100,
        MAX_MESSAGE,
        MAX_MESSAGE + 1,
        1024 * MiB,
      ]);
      const sizes = rng.chance(0.5) ? [] : [rng.pick([100, MiB, MAX_MESSAGE])];
      const payload = chunkPayload({
        stream: rng.int(3),
        flags: FLAG.FIRST,
        bodyLength: body,
        sizes,
        data: rng.bytes(rng.int(100)),
      });
      draft.frames.splice(rng.int(draft.frames.length + 1), 0, {
        frame: { chunk: true, payload },
        after: 0,
      });
      return `${body}+${sizes.join("+") || 0}`;
    },
  },
];

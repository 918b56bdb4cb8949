/**
 * Mutators that change one message body: {@linkcode withBody} decodes one
 * message of a draft (a whole frame, or a stream put back together), lets a
 * change mutate its tree, and puts the result back in its place.
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import type { Corpus } from "./corpus.ts";
import { describeValue } from "./describe.ts";
import { chunkMessage, collectStreams, wholeFrame } from "./frames.ts";
import type { Draft, Mutator } from "./mutator.ts";
import type { Rng } from "./rng.ts";
import { type Body, decodeBody, encodeBody, type Slot, slotsOf } from "./tree.ts";

/** A random slot, favouring the message's own fields (where the fixed-field checks are). */
export function pickSlot(body: Body, rng: Rng): Slot {
  const message = body.message;
  if (Array.isArray(message) && message.length > 0 && rng.chance(0.3)) {
    const i = rng.int(message.length);
    return { get: () => message[i], set: (v) => (message[i] = v) };
  }
  return rng.pick(slotsOf(body));
}

/** Every extension in `body`, with the slot that holds it. */
export function extSlots(body: Body): Slot[] {
  return slotsOf(body).filter((slot) => slot.get() instanceof ExtData);
}

/** Every array in `body` (plain or tagged). */
export function arraysOf(body: Body): unknown[][] {
  return slotsOf(body).map((slot) => slot.get()).filter(Array.isArray) as unknown[][];
}

/**
 * Decodes one message of the draft (a whole frame, or a stream put back
 * together), lets `change` mutate it, and puts the result back in its place.
 */
export function withBody(draft: Draft, change: BodyChange, onlyStreams = false): string | null {
  const { rng, frames } = draft;
  const streams = collectStreams(frames.map((t) => t.frame));
  const useStream = streams.length > 0 && (onlyStreams || rng.chance(0.25));
  if (useStream) {
    const stream = rng.pick(streams);
    const body = decodeBody(stream.body);
    if (!body) return null;
    const attachments = [...stream.attachments];
    const did = change(body, rng, { attachments, corpus: draft.corpus });
    if (did === null) return null;
    const encoded = encodeIfShallow(body);
    if (!encoded) return null;
    const chunks = chunkMessage(stream.stream, encoded, attachments);
    const after = frames[stream.frames[0]].after;
    const keep = frames.filter((_, i) => !stream.frames.includes(i));
    // No chunk of the stream comes before its first: the new chunks go where it was.
    keep.splice(stream.frames[0], 0, ...chunks.map((frame) => ({ frame, after })));
    frames.length = 0;
    frames.push(...keep);
    return `stream ${stream.stream}: ${did}`;
  }
  if (onlyStreams) return null;
  const whole = frames.map((t, i) => ({ t, i })).filter(({ t }) =>
    !t.frame.chunk && t.frame.header === undefined
  );
  if (whole.length === 0) return null;
  const { t, i } = rng.pick(whole);
  const body = decodeBody(t.frame.payload);
  if (!body) return null;
  const did = change(body, rng, { attachments: [], corpus: draft.corpus });
  if (did === null) return null;
  const encoded = encodeIfShallow(body);
  if (!encoded) return null;
  t.frame = wholeFrame(encoded);
  return `frame ${i}: ${did}`;
}

/**
 * Encodes `body`, or returns null when it is nested too deep for the
 * encoder's recursion: a body an earlier mutator made deep (with a
 * {@linkcode Raw} nesting), decoded again, is left as it is.
 */
function encodeIfShallow(body: Body): Uint8Array | null {
  try {
    return encodeBody(body);
  } catch (error) {
    if (error instanceof RangeError || /too deep/i.test(String(error))) return null;
    throw error;
  }
}

/** What a body mutation may use besides the body: a stream's attachments, the corpus. */
export interface BodyContext {
  /** The attachments of a streamed message (changes are sent); empty for a whole frame. */
  attachments: Uint8Array[];
  /** The corpus, for values taken from other messages. */
  corpus: Corpus;
}

/** Changes one decoded body; returns what it did, or null when it does not apply. */
export type BodyChange = (body: Body, rng: Rng, context: BodyContext) => string | null;

/** A mutator that changes one message body. */
export function bodyMutator(name: string, weight: number, change: BodyChange): Mutator {
  return { name, weight, apply: (draft) => withBody(draft, change) };
}

/** A mutator that changes one field of one kind of message. */
export function fieldMutator(
  name: string,
  weight: number,
  types: readonly number[],
  field: number,
  values: (rng: Rng) => unknown,
): Mutator {
  return bodyMutator(name, weight, (body, rng) => {
    const message = body.message;
    if (
      !Array.isArray(message) || !types.includes(message[0] as number) || message.length <= field
    ) {
      return null;
    }
    const value = values(rng);
    message[field] = value;
    return describeValue(value);
  });
}

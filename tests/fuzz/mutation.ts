/**
 * Mutations: {@linkcode makeMutation} takes a scenario's traffic and applies
 * one to three mutators, drawn by weight from the generator of the mutation's
 * index and seed, so that the same corpus, seed and index always give the
 * same bytes.
 *
 * @module
 */

import type { Corpus, TrafficFrame } from "./corpus.ts";
import { type Frame, wholeFrame } from "./frames.ts";
import { helloMessage, messageFrame } from "./messages.ts";
import { FRAME_MUTATORS } from "./mutate_frames.ts";
import { HELLO_MUTATORS } from "./mutate_hello.ts";
import { MESSAGE_MUTATORS } from "./mutate_messages.ts";
import { STREAM_MUTATORS } from "./mutate_streams.ts";
import { VALUE_MUTATORS } from "./mutate_values.ts";
import type { Draft, Mutator } from "./mutator.ts";
import { mutationRng } from "./rng.ts";
import { decodeBody, encodeBody } from "./tree.ts";

/** A mutated exchange: what the raw peer sends, and how it was made. */
export interface Mutation {
  /** Its number under the seed. */
  index: number;
  /** The scenario it started from. */
  scenario: string;
  /** The mutators applied, each with what it did. */
  steps: string[];
  /** The mutators' names alone, for statistics. */
  mutators: string[];
  /** What goes before the traffic: normally one HELLO frame. */
  hello: Frame[];
  /** The traffic, in order. */
  frames: TrafficFrame[];
  /** Send the bytes in tiny writes, to exercise partial reads. */
  trickle: boolean;
}

/** The mutators, weighted by how much ground each covers (in this order: the seed draws from it). */
const MUTATORS: readonly Mutator[] = [
  ...MESSAGE_MUTATORS,
  ...VALUE_MUTATORS,
  ...STREAM_MUTATORS,
  ...FRAME_MUTATORS,
  ...HELLO_MUTATORS,
];

/**
 * A scenario's traffic as recorded (`reencode` false), or with every whole
 * message decoded and encoded again by @msgpack/msgpack: a replay of either
 * must be served like the original, which shows that the replay machinery
 * and the independent codec speak the protocol (so that what a mutation
 * breaks is what it meant to).
 */
export function unmutated(corpus: Corpus, scenario: string, reencode: boolean): Mutation {
  const found = corpus.scenarios.find((s) => s.name === scenario);
  if (!found) throw new RangeError(`no scenario ${scenario}`);
  const frames = found.toServer.map(({ frame, after }) => {
    const body = reencode && !frame.chunk ? decodeBody(frame.payload) : null;
    return { frame: body ? wholeFrame(encodeBody(body)) : frame, after };
  });
  return {
    index: -1,
    scenario,
    steps: [reencode ? "re-encoded" : "as recorded"],
    mutators: [],
    hello: [messageFrame(helloMessage())],
    frames,
    trickle: false,
  };
}

/**
 * Builds mutation `index` of `seed`: a scenario's traffic with one to three
 * mutators applied. Deterministic: the same corpus, seed and index give the
 * same bytes.
 */
export function makeMutation(corpus: Corpus, seed: number, index: number): Mutation {
  const rng = mutationRng(seed, index);
  const scenario = rng.pick(corpus.scenarios);
  const draft: Draft = {
    rng,
    corpus,
    hello: [messageFrame(helloMessage())],
    frames: scenario.toServer.map((t) => ({ frame: { ...t.frame }, after: t.after })),
    trickle: false,
  };
  const count = rng.chance(0.7) ? 1 : rng.chance(0.7) ? 2 : 3;
  const steps: string[] = [];
  const mutators: string[] = [];
  for (let attempts = 0; steps.length < count && attempts < 20; attempts++) {
    const mutator = rng.weighted(MUTATORS);
    let did: string | null;
    try {
      did = mutator.apply(draft);
    } catch (error) {
      // A bug of the fuzzer's own, not of rdc: say where, so it can be fixed.
      const before = steps.length > 0 ? ` after ${steps.join("; ")}` : "";
      const where = `mutation #${index} of seed ${seed}${before}`;
      throw new Error(`mutator ${mutator.name} failed on ${where}`, { cause: error });
    }
    if (did === null) continue;
    steps.push(did ? `${mutator.name}(${did})` : mutator.name);
    mutators.push(mutator.name);
  }
  return {
    index,
    scenario: scenario.name,
    steps,
    mutators,
    hello: draft.hello,
    frames: draft.frames,
    trickle: draft.trickle,
  };
}

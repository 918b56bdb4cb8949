/**
 * What a mutator is: a named, weighted way of breaking a draft of traffic.
 *
 * @module
 */

import type { Corpus, TrafficFrame } from "./corpus.ts";
import type { Frame } from "./frames.ts";
import type { Rng } from "./rng.ts";

/** What a mutator works on. */
export interface Draft {
  rng: Rng;
  corpus: Corpus;
  hello: Frame[];
  frames: TrafficFrame[];
  trickle: boolean;
}

/** One way of breaking traffic: returns what it did, or null when it does not apply. */
export interface Mutator {
  name: string;
  weight: number;
  apply(draft: Draft): string | null;
}

/**
 * Seeded random numbers for the wire fuzzer: {@linkcode Rng}, a mulberry32
 * generator, and {@linkcode mutationRng}, which gives mutation `i` of seed `s`
 * a generator of its own, so that one mutation can be rebuilt and replayed
 * alone, whatever ran before it.
 *
 * @module
 */

/**
 * A small deterministic pseudo-random generator (mulberry32): the same seed
 * always yields the same sequence, on every platform.
 */
export class Rng {
  #state: number;

  /** A generator seeded with the low 32 bits of `seed`. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A uniformly random unsigned 32-bit integer. */
  u32(): number {
    return (this.next() * 4294967296) >>> 0;
  }

  /** `count` random bytes. */
  bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.int(256);
    return out;
  }

  /** One of `items`, each as likely as its `weight`. */
  weighted<T extends { weight: number }>(items: readonly T[]): T {
    let total = 0;
    for (const item of items) total += item.weight;
    let left = this.next() * total;
    for (const item of items) {
      left -= item.weight;
      if (left < 0) return item;
    }
    return items[items.length - 1];
  }
}

/**
 * The generator of mutation `index` under `seed`: hashed from both, so that
 * neighbouring mutations are unrelated and any one can be rebuilt alone.
 */
export function mutationRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return new Rng(h);
}

/**
 * Slowing down guessers: after a failed attempt (a wrong token), further
 * attempts from the same client address wait, longer after each failure.
 *
 * @module
 */

/** How failed attempts slow down the next ones from the same address. */
export interface BackoffOptions {
  /** Milliseconds the next attempt waits after the first failure; doubles with each further one. Default 100. */
  baseMs?: number;
  /** The longest wait, in milliseconds. Default 5 000 (or `baseMs`, if larger). */
  maxMs?: number;
  /** An address with no failure for this many milliseconds starts afresh. Default 60 000. */
  forgetMs?: number;
  /**
   * Addresses remembered at once. Past it, the one seen least recently (and
   * not being served) is forgotten. Default 4 096.
   */
  maxTracked?: number;
}

/** A client address's record. */
interface Bucket {
  failures: number;
  /** When (`performance.now()`) the next attempt may be answered. */
  readyAt: number;
  lastFailure: number;
  /** Whether an attempt holds the address's turn. */
  busy: boolean;
  /** Attempts waiting for the turn, oldest first. */
  waiters: (() => void)[];
}

/** What the holder of a turn reports once it knows the outcome; each ends the turn. */
export interface Turn {
  /** The attempt failed: the address waits longer next time. */
  failed(): void;
  /** The attempt succeeded: the address starts afresh. */
  succeeded(): void;
  /** The attempt ended without an outcome (the client left): nothing changes. */
  abandoned(): void;
}

/**
 * Per-address backoff with one turn per address.
 *
 * Contract: attempts from one address are answered one at a time, in
 * arrival order, so opening connections in parallel gains a guesser nothing.
 * After `n` failures in a row the next attempt waits until
 * `min(maxMs, baseMs · 2^(n-1))` after the last one; the wait depends on the
 * address's history only, never on what the attempt carries. Memory: at most
 * `maxTracked` idle addresses, plus one per attempt waiting or being served.
 */
export class AddressBackoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #forgetMs: number;
  readonly #maxTracked: number;
  /** Least recently seen first (a Map keeps insertion order; a visit re-inserts). */
  readonly #buckets = new Map<string, Bucket>();

  /** @throws {RangeError} naming the option that is not a number in range. */
  constructor(options: BackoffOptions = {}) {
    this.#baseMs = checked("baseMs", options.baseMs ?? 100, 0);
    this.#maxMs = checked("maxMs", options.maxMs ?? Math.max(5_000, this.#baseMs), this.#baseMs);
    this.#forgetMs = checked("forgetMs", options.forgetMs ?? 60_000, 0);
    this.#maxTracked = checked("maxTracked", options.maxTracked ?? 4_096, 1);
    if (!Number.isInteger(this.#maxTracked)) {
      throw new RangeError(`backoff.maxTracked must be an integer, got ${this.#maxTracked}`);
    }
  }

  /** Addresses remembered now (for tests and stats). */
  get tracked(): number {
    return this.#buckets.size;
  }

  /**
   * Milliseconds an attempt from `address` would wait now for its backoff (0
   * for none), not counting the attempts queued ahead of it.
   */
  waitOf(address: string): number {
    const bucket = this.#buckets.get(address);
    if (!bucket || this.#stale(bucket)) return 0;
    return Math.max(0, bucket.readyAt - performance.now());
  }

  /**
   * Waits for `address`'s turn and its backoff, then hands the turn over.
   *
   * @throws the signal's reason when it aborts first (the turn passes on).
   */
  async turn(address: string, signal: AbortSignal): Promise<Turn> {
    signal.throwIfAborted();
    const bucket = this.#visit(address);
    if (bucket.busy) await queue(bucket, signal);
    else bucket.busy = true;
    try {
      signal.throwIfAborted();
      const wait = bucket.readyAt - performance.now();
      if (wait > 0) await sleep(wait, signal);
    } catch (error) {
      this.#release(address, bucket);
      throw error;
    }
    let done = false;
    const end = (update: () => void) => () => {
      if (done) return;
      done = true;
      update();
      this.#release(address, bucket);
    };
    return {
      failed: end(() => {
        const now = performance.now();
        bucket.failures = Math.min(bucket.failures + 1, 64);
        bucket.lastFailure = now;
        bucket.readyAt = now + Math.min(this.#maxMs, this.#baseMs * 2 ** (bucket.failures - 1));
      }),
      succeeded: end(() => {
        bucket.failures = 0;
        bucket.readyAt = 0;
      }),
      abandoned: end(() => {}),
    };
  }

  /** The address's bucket, moved to the most recently seen end; forgets stale ones. */
  #visit(address: string): Bucket {
    let bucket = this.#buckets.get(address);
    if (bucket) {
      this.#buckets.delete(address);
      if (!bucket.busy && this.#stale(bucket)) {
        bucket.failures = 0;
        bucket.readyAt = 0;
      }
    } else {
      bucket = { failures: 0, readyAt: 0, lastFailure: -Infinity, busy: false, waiters: [] };
      this.#evict();
    }
    this.#buckets.set(address, bucket);
    return bucket;
  }

  /** Whether `bucket`'s last failure is old enough to be forgotten. */
  #stale(bucket: Bucket): boolean {
    return performance.now() - bucket.lastFailure >= this.#forgetMs;
  }

  /** Makes room for one more address: forgets the least recently seen idle ones. */
  #evict(): void {
    for (const [address, bucket] of this.#buckets) {
      if (this.#buckets.size < this.#maxTracked) return;
      if (!bucket.busy) this.#buckets.delete(address);
    }
  }

  /** Passes the turn to the next waiter; an address with nothing to remember is dropped. */
  #release(address: string, bucket: Bucket): void {
    const next = bucket.waiters.shift();
    if (next) return next();
    bucket.busy = false;
    if (bucket.failures === 0 && this.#buckets.get(address) === bucket) {
      this.#buckets.delete(address);
    }
  }
}

/** Waits in `bucket`'s queue until handed the turn; leaves the queue if `signal` aborts. */
function queue(bucket: Bucket, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const handOver = () => {
      signal.removeEventListener("abort", leave);
      resolve();
    };
    const leave = () => {
      const index = bucket.waiters.indexOf(handOver);
      if (index >= 0) bucket.waiters.splice(index, 1);
      reject(signal.reason);
    };
    bucket.waiters.push(handOver);
    signal.addEventListener("abort", leave, { once: true });
  });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", stop);
      resolve();
    }, ms);
    signal?.addEventListener("abort", stop, { once: true });
  });
}

/** `value` if it is a number from `min` up (finite); else a RangeError naming `name`. */
function checked(name: string, value: number, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`backoff.${name} must be a finite number from ${min} up, got ${value}`);
  }
  return value;
}

/**
 * The bucket a client address counts against: IPv4 addresses as they are
 * (IPv4-mapped IPv6 ones too), IPv6 addresses by their /64 (one host or
 * site's share, which a single attacker can cycle through), and every unix
 * socket client (`null`) as one.
 */
export function addressKey(host: string | null): string {
  if (host === null) return "unix";
  const bare = host.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "").toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped) return mapped[1]!;
  if (!bare.includes(":")) return bare;
  return ipv6Prefix(bare) ?? bare;
}

/** The first four groups of an IPv6 address, as `a:b:c:d::/64`; null if it does not parse. */
function ipv6Prefix(address: string): string | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groups = (text: string | undefined) => {
    if (!text) return [];
    const parts = text.split(":");
    // An embedded IPv4 address (…:1.2.3.4) fills the last two groups.
    if (parts[parts.length - 1]!.includes(".")) parts.splice(-1, 1, "0", "0");
    return parts;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill("0"), ...tail];
  if (!all.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return `${all.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(":")}::/64`;
}

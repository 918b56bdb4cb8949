/**
 * Budgets: counted resources (bytes held, requests served) with a limit, for
 * one connection and, through a parent, for a whole server.
 *
 * @module
 */

interface Waiter {
  amount: number;
  budget: Budget;
  resolve: () => void;
  reject: (reason: Error) => void;
}

/**
 * An amount that may be taken up to a limit and given back. A budget may
 * have a parent (a server's, shared by its connections): taking from it
 * takes from both, and succeeds only if both have room.
 *
 * Contract: every successful take is matched by one `give` of the same
 * amount (the taker owns it until then). `take` waits, first come first
 * served across every budget under the same root, so a large request is never
 * starved by a stream of small ones; `tryTake` never waits. Nothing here
 * throws but the range check of a request no budget can ever hold.
 */
export class Budget {
  /** What is taken now. */
  used = 0;
  /** The most that may be taken at once. */
  readonly limit: number;
  /** A budget shared with others (a server's), or null. */
  readonly parent: Budget | null;
  /** What the budget counts, for errors: "inbound bytes of this server". */
  readonly name: string;
  /** Waiters of every budget under this root, oldest first (kept on the root only). */
  #waiters: Waiter[] = [];
  readonly #top: Budget;

  /** A budget of `limit`, inside `parent` when given. */
  constructor(limit: number, name: string, parent: Budget | null = null) {
    this.limit = limit;
    this.name = name;
    this.parent = parent;
    this.#top = parent ? parent.#top : this;
  }

  #fits(amount: number): boolean {
    return this.used + amount <= this.limit && (this.parent === null || this.parent.#fits(amount));
  }

  #add(amount: number): void {
    this.used += amount;
    if (this.parent) this.parent.#add(amount);
  }

  /** The most that could ever be taken at once here: the smallest limit up to the root. */
  get capacity(): number {
    return this.parent ? Math.min(this.limit, this.parent.capacity) : this.limit;
  }

  /**
   * The first budget on the way to the root that could never hold `amount`,
   * or null when every one could (given back what others hold).
   */
  tooSmallFor(amount: number): Budget | null {
    if (amount > this.limit) return this;
    return this.parent?.tooSmallFor(amount) ?? null;
  }

  /** Takes `amount` if there is room now, in this budget and its parents; else takes nothing. */
  tryTake(amount: number): boolean {
    if (!this.#fits(amount) || this.#top.#waiters.length > 0) return false;
    this.#add(amount);
    return true;
  }

  /**
   * Takes `amount`, waiting for room when there is none: resolves once taken.
   * Returns null when it was taken at once (no promise to await).
   *
   * @throws {RangeError} when some budget could never hold `amount`.
   */
  take(amount: number): Promise<void> | null {
    const small = this.tooSmallFor(amount);
    if (small) {
      throw new RangeError(`${amount} exceeds the whole budget of ${small.name} (${small.limit})`);
    }
    if (this.tryTake(amount)) return null;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#top.#waiters.push({ amount, budget: this, resolve, reject });
    return promise;
  }

  /**
   * Takes `amount` now, past the limit if need be: for a taker that must not
   * wait (it holds room that only going on would free). Keep it small.
   */
  force(amount: number): void {
    this.#add(amount);
  }

  /** Gives back `amount` taken earlier, and lets waiters in that now fit. */
  give(amount: number): void {
    this.#subtract(amount);
    if (this.#top.#waiters.length > 0) this.#top.#wake();
  }

  #subtract(amount: number): void {
    this.used -= amount;
    if (this.parent) this.parent.#subtract(amount);
  }

  /** Grants waiters in order while the oldest fits. */
  #wake(): void {
    const waiters = this.#waiters;
    while (waiters.length > 0 && waiters[0].budget.#fits(waiters[0].amount)) {
      const waiter = waiters.shift()!;
      waiter.budget.#add(waiter.amount);
      waiter.resolve();
    }
  }

  /**
   * Gives up the waits of this budget (its connection closed): their
   * promises reject, and others behind them may now go first.
   */
  abandonWaiters(): void {
    const top = this.#top;
    const mine = top.#waiters.filter((waiter) => waiter.budget === this);
    top.#waiters = top.#waiters.filter((waiter) => waiter.budget !== this);
    for (const waiter of mine) waiter.reject(new Error(`${this.name}: the wait was given up`));
    top.#wake();
  }
}

/**
 * The import table: the peer's objects this end holds netrefs to.
 *
 * @module
 */

import type { RefKindCode } from "../wire/messages.ts";

/**
 * One imported reference. Owned by its connection's {@linkcode ImportTable};
 * proxies point at it. `count` is how many times the peer sent it since it
 * was last released: the number handed back on release.
 */
export class ImportEntry {
  /** The peer's export id. */
  readonly id: number;
  /** What the peer said it is. */
  readonly kind: RefKindCode;
  /** The peer's name for its class or function, for display. */
  readonly name: string;
  /** The members the peer said we may reach on it (answers `name in netref`); null if unsaid. */
  members: ReadonlySet<string> | null;
  /** Whether the peer said it is disposable: disposing its netref runs its disposer there. */
  disposable = false;
  /** References received and not yet released. */
  count = 0;
  /** Set once released (disposed, collected, or the connection closed). */
  released = false;
  /** The current proxy, weakly. */
  proxy: WeakRef<object> | null = null;
  /** Bumped each time a new proxy is made, so a stale finalizer is ignored. */
  generation = 0;

  /** Made by {@linkcode ImportTable.obtain}. */
  constructor(id: number, kind: RefKindCode, name: string, members: ReadonlySet<string> | null) {
    this.id = id;
    this.kind = kind;
    this.name = name;
    this.members = members;
  }
}

interface Collected {
  entry: ImportEntry;
  generation: number;
}

/**
 * Imports of one connection, with garbage collection as a safety net.
 *
 * Contract: `obtain` returns the live proxy for an id (making one if none is
 * alive) and counts one more reference. A proxy is released exactly once: by
 * `release` (dispose) or, failing that, when it is garbage collected; either
 * way `onRelease(id, count)` hears of it, and the connection sends the counts
 * back in batches.
 */
export class ImportTable {
  #entries = new Map<number, ImportEntry>();
  #onRelease: (id: number, count: number) => void;
  #registry = new FinalizationRegistry<Collected>(({ entry, generation }) => {
    if (entry.generation === generation && !entry.released) this.release(entry);
  });

  /** `onRelease` is told of each released reference and its count. */
  constructor(onRelease: (id: number, count: number) => void) {
    this.#onRelease = onRelease;
  }

  /** Live imports. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether export `id` of the peer is imported now. */
  has(id: number): boolean {
    return this.#entries.has(id);
  }

  /** The entry of the peer's export `id`, if it is imported now. */
  entry(id: number): ImportEntry | undefined {
    return this.#entries.get(id);
  }

  /**
   * The proxy for the peer's export `id`, counting one more reference.
   * `makeProxy` builds a new proxy when none is alive.
   */
  obtain(
    id: number,
    kind: RefKindCode,
    name: string,
    members: ReadonlySet<string> | null,
    makeProxy: (entry: ImportEntry) => object,
    collectable = true,
    disposable = false,
  ): object {
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = new ImportEntry(id, kind, name, members);
      this.#entries.set(id, entry);
    }
    entry.members = members; // The newest list wins: members may have come or gone.
    entry.disposable = disposable; // So does the newest word on its disposer.
    entry.count++;
    const alive = entry.proxy?.deref();
    if (alive) return alive;
    const proxy = makeProxy(entry);
    entry.proxy = new WeakRef(proxy);
    entry.generation++;
    if (collectable) {
      this.#registry.register(proxy, { entry, generation: entry.generation }, entry);
    }
    return proxy;
  }

  /** Releases an import now (dispose). Idempotent. */
  release(entry: ImportEntry): void {
    if (entry.released) return;
    entry.released = true;
    this.#registry.unregister(entry);
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
    this.#onRelease(entry.id, entry.count);
  }

  /**
   * Takes back one reference that arrived in a message nobody will see (a
   * refused message, an answer nobody waits for): with `tell`, the peer
   * hears of it as a release of 1. An entry left with no reference is
   * forgotten.
   */
  giveBack(entry: ImportEntry, tell: boolean): void {
    if (entry.released) return;
    entry.count--;
    if (tell) this.#onRelease(entry.id, 1);
    if (entry.count > 0) return;
    entry.released = true;
    this.#registry.unregister(entry);
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
  }

  /** Forgets every import without telling the peer (the connection is gone). */
  clear(): void {
    for (const entry of this.#entries.values()) {
      entry.released = true;
      this.#registry.unregister(entry);
    }
    this.#entries.clear();
  }
}

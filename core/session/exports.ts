/**
 * The export table: local objects a peer holds references to.
 *
 * @module
 */

import { peerFault } from "../errors.ts";

interface ExportEntry {
  value: object;
  count: number;
}

/**
 * Refcounted exports of one connection (RPyC's `_local_objects`).
 *
 * Contract: `add` counts one more reference the peer holds (each time the
 * object is sent); the peer gives them back with `release(id, count)`. An
 * object keeps one id while it is exported; ids are never reused. Id 0 is the
 * service root, held for the connection's life.
 */
export class ExportTable {
  #byId = new Map<number, ExportEntry>();
  #byValue = new Map<object, number>();
  #nextId = 1;

  /** Starts with `root` as export 0. */
  constructor(root: object) {
    this.#byId.set(0, { value: root, count: Infinity });
    this.#byValue.set(root, 0);
  }

  /** Live exports, the root included. */
  get size(): number {
    return this.#byId.size;
  }

  /** Whether `value` is exported now. */
  has(value: object): boolean {
    return this.#byValue.has(value);
  }

  /** The id of `value` while it is exported. */
  idOf(value: object): number | undefined {
    return this.#byValue.get(value);
  }

  /** Exports `value` once more; returns its id. */
  add(value: object): number {
    const known = this.#byValue.get(value);
    if (known !== undefined) {
      this.#byId.get(known)!.count++;
      return known;
    }
    const id = this.#nextId++;
    this.#byId.set(id, { value, count: 1 });
    this.#byValue.set(value, id);
    return id;
  }

  /**
   * The object behind export `id`.
   *
   * @throws {ProtocolError} for an id that is not exported.
   */
  get(id: number): object {
    const entry = this.#byId.get(id);
    if (!entry) throw peerFault(`unknown reference #${id}`);
    return entry.value;
  }

  /**
   * Gives back `count` references to export `id`; the export goes when none is left.
   *
   * @throws {ProtocolError} for an unknown id or more references than were sent.
   */
  release(id: number, count: number): void {
    const entry = this.#byId.get(id);
    if (!entry || id === 0) throw peerFault(`release of unknown reference #${id}`);
    if (count > entry.count) {
      throw peerFault(`release of ${count} references to #${id}, which has ${entry.count}`);
    }
    entry.count -= count;
    if (entry.count === 0) {
      this.#byId.delete(id);
      this.#byValue.delete(entry.value);
    }
  }

  /** Drops every export but the root. */
  clear(): void {
    const root = this.#byId.get(0)!;
    this.#byId.clear();
    this.#byValue.clear();
    this.#byId.set(0, root);
    this.#byValue.set(root.value, 0);
  }
}

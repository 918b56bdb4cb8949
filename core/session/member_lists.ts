/**
 * Member lists ("shapes"): which members of an exported object the peer may
 * reach, sent with references so that `name in netref` needs no round trip
 * (core/PROTOCOL.md, "References" and "Shape tables").
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import { NO_SHAPE } from "../wire/values.ts";

/** How many distinct lists (classes, roughly) one end describes to the other. */
export const MAX_MEMBER_LISTS = 65536;

/** Names one list may hold; an object with more (a large array sent with `ref()`) goes without a list. */
export const MAX_LIST_NAMES = 10_000;

/** Names all of one connection's lists may hold together. */
export const MAX_TOTAL_NAMES = 1_000_000;

/** One list this end numbered. */
export interface SentList {
  /** Its number. */
  readonly shape: number;
  /** Whether a message describing it is in line, so the peer knows it before anything sent later. */
  confirmed: boolean;
}

/**
 * Both directions of one connection's member lists.
 *
 * Contract: equal lists get one number per connection, from 0 up, never
 * reused. A list is described (in a message's shape table) in every message
 * that uses it until one of them is in line — confirmed —, because messages
 * may overtake each other in transit; describing a list again is harmless.
 */
export class MemberLists {
  #sent = new Map<string, SentList>();
  #nextShape = 0;
  #sentNames = 0;
  #received = new Map<number, ReadonlySet<string>>();
  #receivedNames = 0;

  /**
   * The number for `members`, calling `describe` when the peer may not know
   * it yet. A list of more than {@linkcode MAX_LIST_NAMES} names, or past
   * {@linkcode MAX_MEMBER_LISTS} lists or {@linkcode MAX_TOTAL_NAMES} names,
   * is not sent: the reference goes without one ({@linkcode NO_SHAPE}).
   */
  outgoing(members: string[], describe: (list: SentList, members: string[]) => void): number {
    if (members.length > MAX_LIST_NAMES) return NO_SHAPE;
    const key = members.join("\0");
    let list = this.#sent.get(key);
    if (!list) {
      const full = this.#nextShape >= MAX_MEMBER_LISTS ||
        this.#sentNames + members.length > MAX_TOTAL_NAMES;
      if (full) return NO_SHAPE;
      list = { shape: this.#nextShape++, confirmed: false };
      this.#sentNames += members.length;
      this.#sent.set(key, list);
    }
    if (!list.confirmed) describe(list, members);
    return list.shape;
  }

  /**
   * Records a list the peer described (in a message's shape table).
   *
   * @throws {ProtocolError} for a list of more than {@linkcode MAX_LIST_NAMES}
   *   names, or past {@linkcode MAX_MEMBER_LISTS} lists or
   *   {@linkcode MAX_TOTAL_NAMES} names.
   */
  define(shape: number, members: readonly string[]): void {
    if (members.length > MAX_LIST_NAMES) {
      throw peerFault(`a member list of ${members.length} names (at most ${MAX_LIST_NAMES})`);
    }
    const known = this.#received.get(shape);
    if (this.#received.size >= MAX_MEMBER_LISTS && !known) {
      throw peerFault(`peer described more than ${MAX_MEMBER_LISTS} member lists`);
    }
    const list = new Set(members);
    const names = this.#receivedNames - (known?.size ?? 0) + list.size;
    if (names > MAX_TOTAL_NAMES) {
      throw peerFault(`peer described more than ${MAX_TOTAL_NAMES} member names in all`);
    }
    this.#receivedNames = names;
    this.#received.set(shape, list);
  }

  /**
   * The list an incoming reference names; null for one sent without a list.
   *
   * @throws {ProtocolError} for a number never described.
   */
  incoming(shape: number): ReadonlySet<string> | null {
    if (shape === NO_SHAPE) return null;
    const known = this.#received.get(shape);
    if (!known) throw peerFault(`reference with unknown member list #${shape}`);
    return known;
  }
}

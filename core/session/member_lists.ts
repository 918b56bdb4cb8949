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
  #received = new Map<number, ReadonlySet<string>>();

  /**
   * The number for `members`, calling `describe` when the peer may not know
   * it yet. Past {@linkcode MAX_MEMBER_LISTS} lists, references go without
   * one ({@linkcode NO_SHAPE}).
   */
  outgoing(members: string[], describe: (list: SentList, members: string[]) => void): number {
    const key = members.join("\0");
    let list = this.#sent.get(key);
    if (!list) {
      if (this.#nextShape >= MAX_MEMBER_LISTS) return NO_SHAPE;
      list = { shape: this.#nextShape++, confirmed: false };
      this.#sent.set(key, list);
    }
    if (!list.confirmed) describe(list, members);
    return list.shape;
  }

  /**
   * Records a list the peer described (in a message's shape table).
   *
   * @throws {ProtocolError} past {@linkcode MAX_MEMBER_LISTS} lists.
   */
  define(shape: number, members: readonly string[]): void {
    if (this.#received.size >= MAX_MEMBER_LISTS && !this.#received.has(shape)) {
      throw peerFault(`peer described more than ${MAX_MEMBER_LISTS} member lists`);
    }
    this.#received.set(shape, new Set(members));
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

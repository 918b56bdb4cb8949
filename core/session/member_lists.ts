/**
 * Member lists ("shapes"): which members of an exported object the peer may
 * reach, sent with each reference so that `name in netref` needs no round
 * trip (core/PROTOCOL.md, "References").
 *
 * @module
 */

import { peerFault } from "../errors.ts";

/** How many distinct lists (classes, roughly) one end describes to the other. */
export const MAX_MEMBER_LISTS = 65536;

/** The shape number of a reference sent without a list (the sender's table is full). */
export const NO_MEMBER_LIST = 0xffffffff;

/**
 * Both directions of one connection's member lists.
 *
 * Contract: equal lists get one number per connection, from 0 up; a list
 * travels once, with the first reference that uses its number.
 */
export class MemberLists {
  #sent = new Map<string, number>();
  #received = new Map<number, ReadonlySet<string>>();

  /**
   * The number for `members`, and the list itself when this is the number's
   * first use. Past {@linkcode MAX_MEMBER_LISTS} lists, references go without
   * one ({@linkcode NO_MEMBER_LIST}). `isNew` says whether the list was added
   * now (see {@linkcode MemberLists.forget}).
   */
  outgoing(members: string[]): { shape: number; members: string[] | null; key: string | null } {
    const key = members.join("\0");
    const known = this.#sent.get(key);
    if (known !== undefined) return { shape: known, members: null, key: null };
    if (this.#sent.size >= MAX_MEMBER_LISTS) {
      return { shape: NO_MEMBER_LIST, members: null, key: null };
    }
    const shape = this.#sent.size;
    this.#sent.set(key, shape);
    return { shape, members, key };
  }

  /** Takes back lists added by a message that was never sent (their `key`s, newest last). */
  forget(keys: readonly string[]): void {
    for (const key of keys) this.#sent.delete(key);
  }

  /**
   * The list an incoming reference names, recording it when it comes along;
   * null for a reference sent without one.
   *
   * @throws {ProtocolError} for a number never described, or too many lists.
   */
  incoming(shape: number, members: string[] | null): ReadonlySet<string> | null {
    if (shape === NO_MEMBER_LIST) return null;
    if (members === null) {
      const known = this.#received.get(shape);
      if (!known) throw peerFault(`reference with unknown member list #${shape}`);
      return known;
    }
    if (this.#received.size >= MAX_MEMBER_LISTS && !this.#received.has(shape)) {
      throw peerFault(`peer sent more than ${MAX_MEMBER_LISTS} member lists`);
    }
    const list = new Set(members);
    this.#received.set(shape, list);
    return list;
  }
}

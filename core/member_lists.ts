/**
 * Member lists ("shapes"): which members of an exported object the peer may
 * reach, sent with each reference so that `name in netref` needs no round
 * trip (core/PROTOCOL.md, "References").
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** How many distinct lists (classes, roughly) a peer may describe. */
export const MAX_MEMBER_LISTS = 65536;

/**
 * Both directions of one connection's member lists.
 *
 * Contract: equal lists get one number per connection, from 0 up; a list
 * travels once, with the first reference that uses its number.
 */
export class MemberLists {
  #sent = new Map<string, number>();
  #received = new Map<number, ReadonlySet<string>>();

  /** The number for `members`, and the list itself when this is the number's first use. */
  outgoing(members: string[]): { shape: number; members: string[] | null } {
    const key = members.join("\0");
    const known = this.#sent.get(key);
    if (known !== undefined) return { shape: known, members: null };
    const shape = this.#sent.size;
    this.#sent.set(key, shape);
    return { shape, members };
  }

  /**
   * The list an incoming reference names, recording it when it comes along.
   *
   * @throws {ProtocolError} for a number never described, or too many lists.
   */
  incoming(shape: number, members: string[] | null): ReadonlySet<string> {
    if (members === null) {
      const known = this.#received.get(shape);
      if (!known) throw new ProtocolError(`reference with unknown member list #${shape}`);
      return known;
    }
    if (this.#received.size >= MAX_MEMBER_LISTS && !this.#received.has(shape)) {
      throw new ProtocolError(`peer sent more than ${MAX_MEMBER_LISTS} member lists`);
    }
    const list = new Set(members);
    this.#received.set(shape, list);
    return list;
  }
}

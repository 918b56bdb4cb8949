/**
 * Whole messages the raw peer sends of its own: its HELLO, and the sentinel
 * PING whose answer shows that a connection still serves after the mutated
 * traffic.
 *
 * @module
 */

import { hello, MSG, OP } from "../_raw_peer.ts";
import { type Frame, wholeFrame } from "./frames.ts";
import { encodeTree } from "./tree.ts";

/** The request number of the PING sent after every mutation: its answer proves the connection lives. */
export const SENTINEL_SEQ = 4_000_000_123;

/** A frame holding `message` (a tree), whole. */
export function messageFrame(message: unknown): Frame {
  return wholeFrame(encodeTree(message));
}

/** The raw peer's HELLO, announcing the protocol's default limits. */
export function helloMessage(): unknown[] {
  return hello("Fuzzer");
}

/** The PING whose answer shows the connection still serves after the mutated traffic. */
export function sentinelFrame(): Frame {
  return messageFrame([MSG.REQUEST, SENTINEL_SEQ, OP.PING, 0, [], [], ["fuzz-sentinel"]]);
}

/**
 * RPyC's messages: the constants of `rpyc.core.consts` and the two
 * envelopes a message travels in.
 *
 * ```
 * 5.x payload := brine((msg, seq, body))        starts 0x12 (a 3-tuple)
 * 6.x payload := msg:uint8 | brine((seq, body))  starts 0x01, 0x02 or 0x03
 * body: REQUEST (handler, boxed args) · REPLY boxed result · EXCEPTION vinegar or 1
 * ```
 *
 * @module
 */

import { peerFault } from "../errors.ts";
import { type BrineOptions, decodeBrine, encodeBrine } from "./brine.ts";

/** The message kinds. */
export const Msg = { Request: 1, Reply: 2, Exception: 3 } as const;
/** One of {@linkcode Msg}. */
export type MsgCode = typeof Msg[keyof typeof Msg];

/** How a boxed value says what it is. */
export const Label = { Value: 1, Tuple: 2, LocalRef: 3, RemoteRef: 4 } as const;

/** The request handlers (RPyC's `HANDLE_*`). */
export const Handle = {
  Ping: 1,
  Close: 2,
  GetRoot: 3,
  GetAttr: 4,
  DelAttr: 5,
  SetAttr: 6,
  Call: 7,
  CallAttr: 8,
  Repr: 9,
  Str: 10,
  Cmp: 11,
  Hash: 12,
  Dir: 13,
  Pickle: 14,
  Del: 15,
  Inspect: 16,
  BuffIter: 17,
  OldSlicing: 18,
  CtxExit: 19,
  InstanceCheck: 20,
} as const;
/** One of {@linkcode Handle}. */
export type HandleCode = typeof Handle[keyof typeof Handle];

/** The EXCEPTION body that means StopIteration. */
export const EXC_STOP_ITERATION = 1;

/** Which envelope a peer speaks: RPyC 4.1–5.x, or 6.x. */
export type WireVersion = 5 | 6;

/** One decoded message. */
export interface PyMessage {
  /** Its kind. */
  msg: MsgCode;
  /** The sequence number of the request it is or answers. */
  seq: number;
  /** The body, still boxed (for a request: `(handler, args)`). */
  body: unknown;
}

/** Encodes a message in `version`'s envelope. */
export function encodeMessage(
  version: WireVersion,
  msg: MsgCode,
  seq: number,
  body: unknown,
): Uint8Array {
  if (version === 5) return encodeBrine([msg, seq, body]);
  const rest = encodeBrine([seq, body]);
  const out = new Uint8Array(rest.length + 1);
  out[0] = msg;
  out.set(rest, 1);
  return out;
}

/**
 * The version a payload's first byte shows.
 *
 * @throws {ProtocolError} for a `bind_threads` peer (its payloads start with
 * thread ids, 0x00) and for anything that is not RPyC.
 */
export function detectVersion(firstByte: number): WireVersion {
  if (firstByte === 0x12) return 5;
  if (firstByte >= Msg.Request && firstByte <= Msg.Exception) return 6;
  if (firstByte === 0x00) {
    throw peerFault(
      "rpyc: the peer runs with bind_threads (RPYC_BIND_THREADS=true), which rdc does not speak; " +
        "run it without bind_threads",
    );
  }
  throw peerFault(
    `rpyc: a payload starting 0x${firstByte.toString(16).padStart(2, "0")} is not an RPyC message`,
  );
}

/**
 * Decodes a payload in `version`'s envelope.
 *
 * @throws {ProtocolError} for bad brine, the other version's envelope, or a
 * shape that is not a message.
 */
export function decodeMessage(
  version: WireVersion,
  payload: Uint8Array,
  options: BrineOptions,
): PyMessage {
  if (payload.length === 0) throw peerFault("rpyc: an empty payload");
  if (detectVersion(payload[0]) !== version) {
    throw peerFault(`rpyc: the peer switched envelopes (expected RPyC ${version}.x)`);
  }
  let msg: unknown, seq: unknown, body: unknown;
  if (version === 5) {
    const whole = decodeBrine(payload, options);
    if (!Array.isArray(whole) || whole.length !== 3) throw peerFault("rpyc: not a message tuple");
    [msg, seq, body] = whole;
  } else {
    msg = payload[0];
    const rest = decodeBrine(payload.subarray(1), options);
    if (!Array.isArray(rest) || rest.length !== 2) throw peerFault("rpyc: not a message tuple");
    [seq, body] = rest;
  }
  if (msg !== Msg.Request && msg !== Msg.Reply && msg !== Msg.Exception) {
    throw peerFault(`rpyc: unknown message type ${String(msg)}`);
  }
  if (typeof seq !== "number" && typeof seq !== "bigint") {
    throw peerFault("rpyc: a message without a sequence number");
  }
  return { msg, seq: Number(seq), body };
}

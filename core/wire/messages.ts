/**
 * The wire vocabulary: message types, operations and extension types, with
 * shape checks for every incoming message. core/PROTOCOL.md describes each one;
 * keep the two in step.
 *
 * @module
 */

import { peerFault } from "../errors.ts";

/** The protocol version this build speaks; exchanged in the handshake. */
export const PROTOCOL_VERSION = 1;

/** The first element of every handshake, so a stranger on the port is recognised at once. */
export const PROTOCOL_MAGIC = "rdc";

/** Message types: the first element of every message array. */
export const Msg = {
  Hello: 0,
  Request: 1,
  Reply: 2,
  Throw: 3,
  Release: 4,
  Cancel: 5,
  Finish: 6,
  Close: 7,
} as const;
/** One of {@linkcode Msg}. */
export type MsgType = typeof Msg[keyof typeof Msg];

/** Operations a REQUEST asks for. */
export const Op = {
  Get: 0,
  Call: 1,
  New: 2,
  Set: 3,
  Delete: 4,
  Has: 5,
  Iter: 6,
  Next: 7,
  Return: 8,
  Await: 9,
  Ping: 10,
  Copy: 11,
} as const;
/** One of {@linkcode Op}. */
export type OpCode = typeof Op[keyof typeof Op];

const OP_NAMES: readonly string[] = Object.keys(Op);

/** MessagePack extension types used inside boxed values. */
export const Ext = {
  Undefined: 1,
  NegativeZero: 2,
  BigInt: 3,
  Date: 4,
  BackRef: 5,
  Export: 6,
  Import: 7,
  TypedArray: 8,
  ArrayBuffer: 9,
  Attachment: 10,
  // Tags: an array whose first element is one of these is a tagged container.
  TagMap: 20,
  TagSet: 21,
  TagError: 22,
  TagPath: 23,
} as const;

/** What an exported reference is, so the importer can shape its proxy. */
export const RefKind = { Object: 0, Function: 1, Promise: 2 } as const;
/** One of {@linkcode RefKind}. */
export type RefKindCode = typeof RefKind[keyof typeof RefKind];

/**
 * A REQUEST target: a non-negative number is one of the receiver's exports;
 * a negative number `-(seq + 1)` is the answer to the sender's request `seq`.
 */
export type Target = number;

/** Encodes "the answer to my request `seq`" as a target. */
export function questionTarget(seq: number): Target {
  return -seq - 1;
}

/** `[Hello, magic, version, serviceName, aliases, rootMembers]` */
export type HelloMessage = [typeof Msg.Hello, string, number, string, string[], string[]];
/** `[Request, seq, op, target, path, args, finished?]` */
export type RequestMessage = [
  typeof Msg.Request,
  number,
  OpCode,
  Target,
  string[],
  unknown[],
  number[]?,
];
/** `[Reply, seq, value]` */
export type ReplyMessage = [typeof Msg.Reply, number, unknown];
/** `[Throw, seq, thrown]` */
export type ThrowMessage = [typeof Msg.Throw, number, unknown];
/** `[Release, ids, counts]` */
export type ReleaseMessage = [typeof Msg.Release, number[], number[]];
/** `[Cancel, seq]` */
export type CancelMessage = [typeof Msg.Cancel, number];
/** `[Finish, seqs]` */
export type FinishMessage = [typeof Msg.Finish, number[]];
/** `[Close, reason]` */
export type CloseMessage = [typeof Msg.Close, string];

/** Every message, as it sits in the decoded array. */
export type Message =
  | HelloMessage
  | RequestMessage
  | ReplyMessage
  | ThrowMessage
  | ReleaseMessage
  | CancelMessage
  | FinishMessage
  | CloseMessage;

const isSeq = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isStringList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((k) => typeof k === "string");
const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isSeq);

/**
 * Checks the shape of a decoded message and returns it typed. Values inside
 * (args, results) are checked later, by unboxing.
 *
 * @throws {ProtocolError} naming the message and the field that is wrong.
 */
export function checkMessage(raw: unknown): Message {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw peerFault("malformed message: expected a non-empty array");
  }
  const kind = raw[0] as MsgType;
  const fail = (what: string): never => {
    throw peerFault(`malformed ${msgName(kind)} message: ${what}`);
  };
  switch (kind) {
    case Msg.Hello:
      if (raw[1] !== PROTOCOL_MAGIC) fail("not an rdc handshake");
      if (!isSeq(raw[2])) fail("bad version");
      if (typeof raw[3] !== "string") fail("bad service name");
      if (!isStringList(raw[4])) fail("bad aliases");
      if (!isStringList(raw[5])) fail("bad root member list");
      return raw as HelloMessage;
    case Msg.Request:
      if (raw.length < 6 || raw.length > 7) fail(`expected 6 or 7 fields, got ${raw.length}`);
      if (!isSeq(raw[1])) fail("bad sequence number");
      if (typeof raw[2] !== "number" || !(raw[2] in OP_NAMES)) fail(`unknown operation ${raw[2]}`);
      if (!Number.isInteger(raw[3]) || Math.abs(raw[3]) > 0xffffffff) fail("bad target");
      if (!isStringList(raw[4])) fail("path must be an array of strings");
      if (!Array.isArray(raw[5])) fail("args must be an array");
      if (raw.length === 7 && !isIdList(raw[6])) fail("bad finished list");
      return raw as RequestMessage;
    case Msg.Reply:
    case Msg.Throw:
      if (raw.length !== 3 || !isSeq(raw[1])) fail("expected [type, seq, value]");
      return raw as ReplyMessage | ThrowMessage;
    case Msg.Release:
      if (!isIdList(raw[1]) || !isIdList(raw[2]) || raw[1].length !== raw[2].length) {
        fail("expected [type, ids, counts] of equal length");
      }
      return raw as ReleaseMessage;
    case Msg.Cancel:
      if (!isSeq(raw[1])) fail("bad sequence number");
      return raw as CancelMessage;
    case Msg.Finish:
      if (!isIdList(raw[1])) fail("bad sequence list");
      return raw as FinishMessage;
    case Msg.Close:
      if (typeof raw[1] !== "string") fail("bad reason");
      return raw as CloseMessage;
    default:
      kind satisfies never;
      throw peerFault(`unknown message type ${String(raw[0])}`);
  }
}

const MSG_NAMES: readonly string[] = Object.keys(Msg);

/** The name of a message type, for errors and logs. */
export function msgName(type: number): string {
  return MSG_NAMES[type] ?? `#${type}`;
}

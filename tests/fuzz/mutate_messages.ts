/**
 * Mutators of messages: each fixed field of a message given a value it must
 * not have, messages forged whole with honest shapes and dubious contents,
 * requests that pipeline on what cannot be, floods of requests, a second
 * HELLO.
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { concat, EXT, MSG, OP, tag, u32 } from "../_raw_peer.ts";
import { bodyMutator, fieldMutator } from "./body_mutator.ts";
import { describeValue, replacer } from "./describe.ts";
import { messageFrame, SENTINEL_SEQ } from "./messages.ts";
import type { Mutator } from "./mutator.ts";
import type { Rng } from "./rng.ts";
import { anyValue, forgeExt, INTS, lazyPath, pickPath, STRINGS, TARGETS } from "./values.ts";

const REQ = [MSG.REQUEST];
const ANSWERS = [MSG.REPLY, MSG.THROW];
const SEQ_MESSAGES = [MSG.REQUEST, MSG.REPLY, MSG.THROW, MSG.CANCEL];

/** Request numbers: taken already, the largest, beyond 32 bits, negative. */
// deno-fmt-ignore
const SEQS = [0, 1, 2, 3, 5, 40, 0xfffffffe, 0xffffffff, 0x100000000, -1, -(2 ** 31), 2 ** 53 - 1];

/** A request number, or something of the wrong type in its place. */
const seqValue = (rng: Rng): unknown => rng.chance(0.7) ? rng.pick(SEQS) : anyValue(rng);

/** Messages built from scratch with honest shapes and dubious contents. */
function forgeMessage(rng: Rng): unknown[] {
  const seq = rng.chance(0.6) ? rng.range(0, 60) : rng.pick(INTS);
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2: {
      const args = rng.pick<() => unknown[]>([
        () => [],
        () => [rng.pick(INTS)],
        () => [lazyPath(rng)],
        () => [forgeExt(rng)],
        () => [
          new ExtData(
            EXT.EXPORT,
            concat(new Uint8Array([rng.int(3)]), u32(rng.range(1, 5)), u32(0xffffffff)),
          ),
        ],
        () => [anyValue(rng), anyValue(rng)],
        () => [Array.from({ length: rng.range(16, 3_000) }, (_, i) => i)],
      ])();
      return [MSG.REQUEST, seq, rng.range(0, 11), rng.pick(TARGETS), pickPath(rng), [], args];
    }
    case 3:
      return [rng.pick(ANSWERS), seq, anyValue(rng)];
    case 4: {
      const id = rng.pick([0, 1, 2, 3, 0xffffffff]);
      return [MSG.RELEASE, [id], [rng.pick([0, 1, 2, 1000, 0xffffffff])]];
    }
    case 5:
      return [MSG.CANCEL, rng.pick([seq, 0xffffffff, SENTINEL_SEQ])];
    case 6:
      return [MSG.FINISH, Array.from({ length: rng.pick([1, 10, 5_000]) }, () => rng.pick(INTS))];
    default:
      return [MSG.CLOSE, rng.pick(["bye", "", "x".repeat(10_000)])];
  }
}

/** A request whose target is its own answer, or one not yet asked: pipelining on what cannot be. */
function selfPipelined(rng: Rng): unknown[] {
  const seq = rng.range(0, 50);
  const target = rng.pick([-(seq + 1), -(seq + 2), -(seq + 1000)]);
  const args = rng.chance(0.5) ? [] : [[tag(EXT.TAG_PATH), -(seq + 1)]];
  return [
    MSG.REQUEST,
    seq,
    rng.pick([OP.GET, OP.CALL, OP.AWAIT, OP.ITER]),
    rng.chance(0.5) ? target : 0,
    [],
    [],
    args,
  ];
}

/** Mutators of message fields, and messages forged whole. */
export const MESSAGE_MUTATORS: readonly Mutator[] = [
  fieldMutator(
    "msg-type",
    3,
    [0, 1, 2, 3, 4, 5, 6, 7],
    0,
    (rng) =>
      rng.chance(0.7) ? rng.pick([8, 9, 100, 255, -1, 0, 1, 2, 3, 4, 5, 6, 7]) : anyValue(rng),
  ),
  bodyMutator("field-count", 3, (body, rng) => {
    const message = body.message;
    if (!Array.isArray(message)) return null;
    switch (rng.int(4)) {
      case 0:
        message.pop();
        return "dropped last";
      case 1:
        message.push(anyValue(rng));
        return "extra field";
      case 2:
        message.splice(1, message.length);
        return "type only";
      default:
        body.message = rng.pick<unknown>([[], {}, 1, "msg", null, [message]]);
        return `message is ${describeValue(body.message)}`;
    }
  }),
  fieldMutator("seq", 4, SEQ_MESSAGES, 1, seqValue),
  fieldMutator(
    "op",
    3,
    REQ,
    2,
    (rng) => rng.chance(0.6) ? rng.pick([12, 13, 99, 255, -1, 2 ** 31]) : rng.range(0, 11),
  ),
  fieldMutator("target", 4, REQ, 3, (rng) => rng.pick(TARGETS)),
  fieldMutator("path", 4, REQ, 4, (rng) =>
    rng.chance(0.7) ? pickPath(rng) : rng.pick<unknown>([
      [rng.pick(STRINGS)],
      ["config", rng.pick(STRINGS)],
      Array.from({ length: 2_000 }, () => "config"),
      "echo",
      null,
      {},
    ])),
  fieldMutator("finished", 3, REQ, 5, (rng) =>
    rng.pick<unknown>([
      [0xffffffff],
      [-1],
      [1.5],
      ["0"],
      [null],
      Array.from({ length: rng.pick([16, 1_000, 10_000]) }, (_, i) => i),
      Array.from({ length: 100 }, () => SENTINEL_SEQ),
      null,
      {},
    ])),
  fieldMutator("args", 4, REQ, 6, (rng) =>
    rng.pick<unknown>([
      null,
      1,
      "args",
      {},
      [lazyPath(rng)],
      [anyValue(rng)],
      [anyValue(rng), anyValue(rng), anyValue(rng)],
      [tag(EXT.TAG_MAP)],
      [tag(EXT.TAG_PATH), 0, "config"],
      new ExtData(EXT.UNDEFINED, new Uint8Array(0)),
    ])),
  fieldMutator("answer-value", 2, ANSWERS, 2, anyValue),
  bodyMutator("release", 3, (body, rng) => {
    const message = body.message;
    if (!Array.isArray(message) || message[0] !== MSG.RELEASE) return null;
    const ids = rng.pick<unknown>([[0], [0xffffffff], [1, 1], [1, 2, 3], [], [-1], ["1"], null]);
    const counts = rng.pick<unknown>([
      [1],
      [0],
      [2],
      [1000],
      [0xffffffff],
      [-1],
      [1, 1],
      [],
      [1.5],
      null,
    ]);
    message[1] = ids;
    message[2] = counts;
    return `${describeValue(ids)} ${describeValue(counts)}`;
  }),
  fieldMutator("close-reason", 1, [MSG.CLOSE], 1, anyValue),
  {
    name: "forged-message",
    weight: 8,
    apply(draft) {
      const message = forgeMessage(draft.rng);
      const at = draft.rng.int(draft.frames.length + 1);
      draft.frames.splice(at, 0, { frame: messageFrame(message), after: 0 });
      return `${JSON.stringify(message, replacer).slice(0, 80)} at ${at}`;
    },
  },
  {
    name: "self-pipelined",
    weight: 2,
    apply(draft) {
      const message = selfPipelined(draft.rng);
      draft.frames.push({ frame: messageFrame(message), after: 0 });
      return JSON.stringify(message, replacer);
    },
  },
  {
    name: "request-flood",
    weight: 1,
    apply(draft) {
      // A flood of calls, then a close. Small enough that the raw peers at once stay under the
      // server's pending budget: the honest client's calls are never refused by design.
      const count = draft.rng.pick([100, 200, 400]);
      const op = draft.rng.pick([OP.CALL, OP.PING, OP.GET]);
      const path = op === OP.CALL ? ["hang"] : op === OP.GET ? ["config"] : [];
      const frames = Array.from({ length: count }, (_, i) => ({
        frame: messageFrame([MSG.REQUEST, 1_000 + i, op, 0, path, [], op === OP.PING ? [i] : []]),
        after: 0,
      }));
      draft.frames.push(...frames);
      return `${count} × op ${op}`;
    },
  },
  {
    name: "second-hello",
    weight: 1,
    apply(draft) {
      if (draft.hello.length === 0) return null;
      const at = draft.rng.int(draft.frames.length + 1);
      draft.frames.splice(at, 0, { frame: draft.hello[0], after: 0 });
      return `at ${at}`;
    },
  },
];

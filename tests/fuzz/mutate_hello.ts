/**
 * Mutators of the handshake: the HELLO's version, magic, limits and other
 * fields changed, its bytes flipped, or something else sent in its place.
 *
 * @module
 */

import { DEFAULT_LIMITS, MSG, OP } from "../_raw_peer.ts";
import { describeValue } from "./describe.ts";
import { chunkMessage } from "./frames.ts";
import { helloMessage, messageFrame } from "./messages.ts";
import type { Mutator } from "./mutator.ts";
import type { Rng } from "./rng.ts";
import { AnyKeyMap } from "./tree.ts";
import { anyValue } from "./values.ts";

/** A mutator of the HELLO message. */
function helloMutator(
  name: string,
  weight: number,
  change: (hello: unknown[], rng: Rng) => string,
): Mutator {
  return {
    name,
    weight,
    apply(draft) {
      const hello = helloMessage() as unknown[];
      const did = change(hello, draft.rng);
      draft.hello = [messageFrame(hello)];
      return did;
    },
  };
}

/** Mutators of the handshake. */
export const HELLO_MUTATORS: readonly Mutator[] = [
  helloMutator("hello-version", 2, (hello, rng) => {
    hello[2] = rng.pick([1, 3, 0, 0xffffffff, -1, "2", null, 2.5]);
    if (hello[2] === 1 && rng.chance(0.5)) hello.pop(); // a version-1 HELLO had six fields
    return describeValue(hello[2]);
  }),
  helloMutator("hello-magic", 1, (hello, rng) => {
    hello[1] = rng.pick(["RDC", "rdc\u0000", "", 5, null, "rpyc"]);
    return describeValue(hello[1]);
  }),
  helloMutator("hello-limits", 3, (hello, rng) => {
    const limits = { ...DEFAULT_LIMITS } as Record<string, unknown>;
    const name = rng.pick(Object.keys(DEFAULT_LIMITS));
    switch (rng.int(4)) {
      case 0:
        delete limits[name];
        return `no ${name}`;
      case 1:
        limits[name] = rng.pick([0, -1, 1.5, "1", null, 2 ** 53, 2 ** 60, []]);
        return `${name}=${describeValue(limits[name])}`;
      case 2:
        hello[6] = rng.pick<unknown>([null, [], "limits", new AnyKeyMap([[1, 1]])]);
        return `limits ${describeValue(hello[6])}`;
      default:
        limits.extra = 1;
        hello[6] = limits;
        return "extra limit";
    }
  }),
  helloMutator("hello-tiny-limits", 4, (hello, rng) => {
    // Around the floors a peer may announce (below them it is refused at the handshake,
    // at them every answer the server builds must still fit, or fail cleanly).
    const choices: Record<string, number[]> = {
      maxMessageSize: [1, 65_535, 65_536, 65_537, 70_000],
      maxFrameSize: [1, 65_535, 65_536, 65_537],
      maxDepth: [1, 3, 4, 5, 6],
      maxElements: [1, 63, 64, 65, 100],
      maxBigIntBytes: [1, 7, 8, 9],
    };
    const limits = { ...DEFAULT_LIMITS } as Record<string, number>;
    for (const name of Object.keys(choices)) {
      if (rng.chance(0.4)) limits[name] = rng.pick(choices[name]);
    }
    hello[6] = limits;
    return Object.entries(limits).filter(([name, value]) =>
      value !== (DEFAULT_LIMITS as Record<string, number>)[name]
    )
      .map(([name, value]) => `${name}=${value}`).join(" ");
  }),
  helloMutator("hello-fields", 2, (hello, rng) => {
    switch (rng.int(4)) {
      case 0:
        hello[3] = anyValue(rng);
        return `service ${describeValue(hello[3])}`;
      case 1:
        hello[4] = rng.pick<unknown>([
          [],
          [1],
          null,
          Array.from({ length: 1_500 }, (_, i) => `alias${i}`),
        ]);
        return `aliases ${describeValue(hello[4])}`;
      case 2:
        hello[5] = rng.pick<unknown>([[1], null, Array.from({ length: 1_500 }, (_, i) => `m${i}`), [
          "__proto__",
          "constructor",
        ]]);
        return `members ${describeValue(hello[5])}`;
      default:
        hello.push(anyValue(rng));
        return "extra field";
    }
  }),
  {
    name: "hello-replaced",
    weight: 2,
    apply(draft) {
      const { rng } = draft;
      switch (rng.int(6)) {
        case 0:
          draft.hello = [];
          return "no hello";
        case 1:
          draft.hello = [messageFrame([MSG.CLOSE, "refused"])];
          return "close";
        case 2:
          draft.hello = [messageFrame([MSG.REQUEST, 0, OP.PING, 0, [], [], [1]])];
          return "request";
        case 3:
          draft.hello = chunkMessage(0, draft.hello[0].payload, []);
          return "as a stream";
        case 4:
          draft.hello = [messageFrame(helloMessage()), messageFrame(helloMessage())];
          return "twice";
        default:
          draft.hello = [
            messageFrame([
              ...helloMessage().slice(0, 4),
              Array.from({ length: 2_000 }, (_, i) => `a${i}`),
              [],
              DEFAULT_LIMITS,
            ]),
          ];
          return "oversize";
      }
    },
  },
  {
    name: "hello-bytes",
    weight: 2,
    apply(draft) {
      const { rng } = draft;
      if (draft.hello.length === 0) return null;
      const payload = draft.hello[0].payload.slice();
      const flips = rng.range(1, 3);
      for (let i = 0; i < flips; i++) payload[rng.int(payload.length)] ^= 1 << rng.int(8);
      draft.hello = [{ ...draft.hello[0], payload }];
      return `${flips} flips`;
    },
  },
];

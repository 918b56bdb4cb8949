/**
 * The checks the runner makes around each batch of mutations: the honest
 * client's rounds (every kind of value, a callback, an attachment, a
 * pipelined call, each answer compared with what it must be); the inbound
 * and pending-requests budgets filled exactly, which works only if none of
 * either leaked; no raw connection, nor a call of its, outliving its peer;
 * and no built-in prototype changed.
 *
 * @module
 */

import { deepStrictEqual } from "node:assert/strict";
import { type Connection, timed } from "../../mod.ts";
import { describeError, FuzzFailure } from "./failure.ts";
import { FUZZ_INBOUND_BUDGET, FUZZ_PENDING_BUDGET } from "./limits.ts";
import type { Mutation } from "./mutation.ts";
import { BUDGET_HANG } from "./service.ts";
import type { Target } from "./target.ts";

/** Milliseconds a check of the honest client may wait for an answer before it counts as lost. */
export const CHECK_TIMEOUT_MS = 10_000;

/** The value the honest client echoes in check `round`: every kind of value, different each time. */
export function honestProbe(round: number): unknown {
  return {
    round,
    negativeZero: -0,
    big: 2n ** 70n + BigInt(round),
    text: `ünï€😀 ${round}`,
    map: new Map<unknown, unknown>([[round, "n"], ["k", [1, { x: round }]]]),
    set: new Set([round, "a"]),
    date: new Date(round * 1000),
    nothing: undefined,
    floats: new Float64Array([round, 0.5]),
    bytes: new Uint8Array([1, 2, round & 0xff]),
    nested: [[[{ deep: round }]]],
    nan: NaN,
  };
}

/**
 * One round of the honest client's checks: an echo of every kind of value, a
 * callback round trip, an attachment (which needs room in the server's
 * inbound budget) and a pipelined call, each answer compared with what it
 * must be.
 *
 * @throws {FuzzFailure} naming the check that went wrong.
 */
export async function honestCheck(client: Connection, round: number): Promise<void> {
  const root = client.root;
  const check = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      throw new FuzzFailure(`honest client, round ${round}, ${what}: ${error}`);
    }
  };
  await check("echo", async () => {
    const probe = honestProbe(round);
    deepStrictEqual(await root.echo(probe), probe);
  });
  await check("callback", async () => {
    deepStrictEqual(await root.call((x: number) => x * 2 + 1, round), round * 2 + 1);
  });
  await check("attachment", async () => {
    deepStrictEqual(
      await root.size(new Uint8Array(70_000 + (round % 1000))),
      70_000 + (round % 1000),
    );
  });
  await check("pipelined", async () => {
    deepStrictEqual(await root.make(round).add(1), round + 1);
  });
}

/**
 * Sends a message as large as the server's whole inbound budget, less 1 KiB:
 * it is answered only if every byte of the budget came back once the raw
 * peers left (nothing leaked, nothing left waiting).
 *
 * @throws {FuzzFailure} when no answer comes within `timeoutMs`.
 */
export async function budgetCheck(client: Connection, timeoutMs: number): Promise<void> {
  const size = FUZZ_INBOUND_BUDGET - 1024;
  try {
    deepStrictEqual(await timed(client.root.size, timeoutMs)(new Uint8Array(size)), size);
  } catch (error) {
    throw new FuzzFailure(
      `the server's inbound budget did not come back whole: a message of ${size} bytes ` +
        `(the budget less 1 KiB) got no answer: ${error}`,
    );
  }
}

/**
 * Fills the server's pending-requests budget exactly: as many hanging calls
 * as it holds less one, then an echo, which is refused if any unit of the
 * budget leaked. The hanging calls are cancelled after.
 *
 * @throws {FuzzFailure} when the echo is refused or gets no answer within `timeoutMs`.
 */
export async function pendingCheck(client: Connection, timeoutMs: number): Promise<void> {
  const root = client.root;
  const cancel = new AbortController();
  const hang = timed(root.hang, { signal: cancel.signal });
  const hanging = Array.from(
    { length: FUZZ_PENDING_BUDGET - 1 },
    () => hang(BUDGET_HANG).catch(() => {}),
  );
  try {
    // Requests are read in order: when the echo is served, every hang holds its unit.
    deepStrictEqual(await timed(root.echo, timeoutMs)("last unit"), "last unit");
  } catch (error) {
    throw new FuzzFailure(
      `the server's pending-requests budget did not come back whole: with ` +
        `${FUZZ_PENDING_BUDGET - 1} calls pending, one more got: ${error}`,
    );
  } finally {
    cancel.abort();
    await Promise.all(hanging);
  }
}

/**
 * The checks that need the server to itself: the whole inbound budget and
 * the whole pending-requests budget must be free; with a round number, an
 * honest round first. Returns what failed.
 */
export async function quietChecks(target: Target, round: number | null): Promise<string[]> {
  try {
    if (round !== null) await honestCheck(target.client, round);
    await budgetCheck(target.client, CHECK_TIMEOUT_MS);
    await pendingCheck(target.client, CHECK_TIMEOUT_MS);
    return [];
  } catch (error) {
    return [error instanceof FuzzFailure ? error.message : describeError(error)];
  }
}

/** The built-in prototypes a `__proto__` key or path would pollute, and their own names now. */
const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype] as const;
const PRISTINE = PROTOTYPES.map((proto) => Reflect.ownKeys(proto).length);

/** What a peer added to a built-in prototype, if anything. */
export function pollution(): string | null {
  const grown = PROTOTYPES.findIndex((proto, i) => Reflect.ownKeys(proto).length !== PRISTINE[i]);
  if (grown < 0) return null;
  const name = ["Object", "Array", "Function"][grown];
  return `${name}.prototype was changed: it has ${
    Reflect.ownKeys(PROTOTYPES[grown]).length
  } own keys, ${PRISTINE[grown]} before`;
}

/**
 * Once every raw peer has gone, the server must hold no connection but the
 * honest one (within `graceMs`: closing takes a turn or two), and no call of
 * theirs may still hang. Returns what is wrong, naming the mutations, or null.
 */
export async function leakCheck(
  target: Target,
  graceMs: number,
  byPort: ReadonlyMap<number, Mutation>,
): Promise<string | null> {
  const { server, honest, probe } = target;
  const deadline = performance.now() + graceMs;
  const strays = () => [...server.connections].filter((c) => !honest.includes(c));
  while ((strays().length > 0 || probe.hanging.size > 0) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The server names a connection by the peer's address: the port tells which mutation it was.
  const culprit = (description: string) => {
    const mutation = byPort.get(Number(description.split(":").pop()));
    return mutation
      ? `mutation #${mutation.index} (${mutation.scenario}: ${mutation.steps.join("; ")})`
      : description;
  };
  const left = strays();
  if (left.length > 0) {
    const open = left.filter((c) => !c.closed);
    const detail = left.slice(0, 5).map((c) =>
      `${culprit(c.description)}, ${c.closed ? "closing" : "open"}, ${JSON.stringify(c.stats())}`
    );
    return `${left.length} raw connections outlived their peers by ${graceMs} ms ` +
      `(${open.length} not even closing): ${detail.join(" | ")}`;
  }
  if (probe.hanging.size > 0) {
    const detail = [...new Set(probe.hanging.values())].slice(0, 5).map(culprit);
    return `${probe.hanging.size} calls of hang outlived their connections: ${detail.join(" | ")}`;
  }
  return null;
}

/**
 * Batched remote iteration over real TCP connections: items arrive in
 * batches within the credit window (round trips counted in frames), the
 * credit grows only for a loop that keeps waiting, a batch of large items
 * ends early, and the semantics stay those of one NEXT per item: `break`
 * runs the remote `finally`, errors arrive at their item, an infinite
 * generator is not drained, side effects run no further ahead than the
 * window, lock-step passes values to `next`.
 */

import assert from "node:assert/strict";
import { iterate, RemoteError, Service } from "../mod.ts";
import { PrefetchingIterator } from "../core/netref/iteration.ts";
import { pair, rejection, waitFor } from "./_helpers.ts";
import { exportedId, hello, OP, RawPeer, request, thrownError } from "./_raw_peer.ts";

/** What the producer did, seen by the test (the service runs in this process). */
interface Seen {
  produced: number;
  finallyRan: boolean;
  received: unknown[];
}

function iterationService(seen: Seen) {
  return class IterationService extends Service {
    *exposed_range(n: number): Generator<number> {
      for (let i = 0; i < n; i++) yield i;
    }
    *exposed_megabytes(): Generator<string> {
      const text = "x".repeat(1024 * 1024);
      for (;;) {
        seen.produced++;
        yield text;
      }
    }
    async *exposed_counting(): AsyncGenerator<number> {
      try {
        for (let i = 0;; i++) {
          seen.produced++;
          yield i;
        }
      } finally {
        seen.finallyRan = true;
      }
    }
    *exposed_failingAt(n: number): Generator<number> {
      for (let i = 0; i < n; i++) yield i;
      throw new RangeError(`item ${n} failed`);
    }
    *exposed_echoing(): Generator<number, string, unknown> {
      for (let i = 0; i < 3; i++) seen.received.push(yield i);
      return "finished";
    }
    exposed_produced(): number {
      return seen.produced;
    }
  };
}

function freshSeen(): Seen {
  return { produced: 0, finallyRan: false, received: [] };
}

Deno.test("iteration: 10 000 items arrive in a handful of round trips", async () => {
  await using p = await pair(iterationService(freshSeen()));
  const before = p.client.stats().framesSent;
  const items = await Array.fromAsync(p.client.root.range(10_000));
  const requests = p.client.stats().framesSent - before;
  assert.equal(items.length, 10_000);
  assert.ok(items.every((item, i) => item === i), "the items, in order");
  // A CALL, an ITER, then BATCHes of 256, 128, 896, 3 200 and the rest: the loop keeps
  // waiting, so the credit quadruples each time, up to the window (16 384). (The bound leaves
  // room for a wait or two a loaded machine may not show.)
  assert.ok(requests <= 16, `${requests} requests, not 10 000 (nor 80 at a fixed 256)`);
  await waitFor(() => p.serverConn().stats().exports === 1, 2000, "the iterator's release");
});

Deno.test("iteration: window 1 is lock-step, one round trip per item", async () => {
  await using p = await pair(iterationService(freshSeen()), {}, { iterationWindow: 1 });
  const before = p.client.stats().framesSent;
  assert.deepEqual(await Array.fromAsync(p.client.root.range(20)), [...Array(20).keys()]);
  assert.ok(p.client.stats().framesSent - before >= 21, "a NEXT per item and one for the end");
});

Deno.test("iteration: break runs the remote finally; an infinite generator is not drained", async () => {
  const seen = freshSeen();
  await using p = await pair(iterationService(seen));
  const taken: number[] = [];
  for await (const item of p.client.root.counting()) {
    taken.push(item);
    if (taken.length === 3) break;
  }
  assert.deepEqual(taken, [0, 1, 2]);
  await waitFor(() => seen.finallyRan, 5000, "the generator's finally");
  assert.ok(seen.produced <= 3 + 256, `produced ${seen.produced}: no more than the window ahead`);
  await waitFor(() => p.serverConn().stats().exports === 1, 2000, "the iterator's release");
});

Deno.test("iteration: side effects run at most the window ahead of the loop", async () => {
  const seen = freshSeen();
  await using p = await pair(iterationService(seen));
  const window = 8;
  let taken = 0;
  for await (const _ of iterate(p.client.root.counting(), { window })) {
    taken++;
    // A round trip after the item: batches asked for meanwhile have had time to run.
    const produced = await p.client.root.produced();
    assert.ok(produced <= taken + window, `after ${taken} items ${produced} were produced`);
    if (taken === 40) break;
  }
  await waitFor(() => seen.finallyRan, 5000, "the generator's finally");
  assert.ok(seen.produced <= 40 + window, `produced ${seen.produced}`);
});

Deno.test("iteration: a loop that works on each item keeps the producer 256 ahead at most", async () => {
  const seen = freshSeen();
  await using p = await pair(iterationService(seen));
  let taken = 0;
  for await (const _ of p.client.root.counting()) {
    taken++;
    // A round trip per item: each batch arrives long before the loop needs it.
    const produced = await p.client.root.produced();
    assert.ok(produced <= taken + 256, `after ${taken} items ${produced} were produced`);
    if (taken === 600) break;
  }
  await waitFor(() => seen.finallyRan, 5000, "the generator's finally");
  assert.ok(seen.produced <= 600 + 256, `produced ${seen.produced}`);
});

Deno.test("iteration: a batch of large items ends at 4 MiB, whatever the window", async () => {
  const seen = freshSeen();
  await using p = await pair(iterationService(seen));
  for await (const text of iterate<string>(p.client.root.megabytes(), { window: 1000 })) {
    assert.equal(text.length, 1024 * 1024);
    break;
  }
  await waitFor(() => p.serverConn().stats().exports === 1, 2000, "the iterator's release");
  // Its first batch of 4 items and, at most, the next two asked for meanwhile (not 256).
  assert.ok(seen.produced <= 12, `produced ${seen.produced} items of 1 MiB`);
});

Deno.test("iteration: an error arrives at the item where it happened", async () => {
  await using p = await pair(iterationService(freshSeen()));
  for (const window of [1, 4, 256]) {
    const taken: number[] = [];
    const error = await rejection((async () => {
      for await (const item of iterate<number>(p.client.root.failingAt(10), { window })) {
        taken.push(item);
      }
    })());
    assert.deepEqual(taken, [...Array(10).keys()], `window ${window}: every item before it`);
    assert.ok(error instanceof RemoteError, `window ${window}: ${error}`);
    assert.equal((error as RemoteError).name, "RangeError");
    assert.match((error as Error).message, /item 10 failed/);
  }
  // The first step failing: at once.
  const first = await rejection(Array.fromAsync(p.client.root.failingAt(0)));
  assert.match((first as Error).message, /item 0 failed/);
  await waitFor(() => p.serverConn().stats().exports === 1, 2000, "the iterators' release");
});

Deno.test("iteration: lock-step passes values to next; prefetching refuses them", async () => {
  const seen = freshSeen();
  await using p = await pair(iterationService(seen));
  const lockStep = iterate(p.client.root.echoing(), { window: 1 });
  assert.deepEqual(await lockStep.next(), { done: false, value: 0 });
  assert.deepEqual(await lockStep.next("a"), { done: false, value: 1 });
  assert.deepEqual(await lockStep.next("b"), { done: false, value: 2 });
  assert.deepEqual(await lockStep.next("c"), { done: true, value: "finished" });
  assert.deepEqual(seen.received, ["a", "b", "c"]);

  const prefetching = iterate(p.client.root.echoing(), { window: 2 });
  assert.deepEqual(await prefetching.next(), { done: false, value: 0 });
  const refusal = await rejection(prefetching.next("x"));
  assert.ok(refusal instanceof TypeError);
  assert.match(refusal.message, /window 1/);
  assert.deepEqual(await prefetching.return!(), { done: true, value: undefined });
});

Deno.test("iteration: the return value arrives with the end", async () => {
  await using p = await pair(iterationService(freshSeen()));
  const it = iterate(p.client.root.echoing());
  const steps = [await it.next(), await it.next(), await it.next(), await it.next()];
  assert.deepEqual(steps.map((s) => s.value), [0, 1, 2, "finished"]);
  assert.equal(steps[3].done, true);
  assert.deepEqual(await it.next(), { done: true, value: "finished" }, "and stays done");
});

Deno.test("iteration: windows out of range are refused clearly", async () => {
  await using p = await pair(iterationService(freshSeen()));
  assert.throws(() => iterate(p.client.root.range(3), { window: 0 }), RangeError);
  assert.throws(() => iterate(p.client.root.range(3), { window: 65_537 }), /1 to 65536/);
  await assert.rejects(
    pair(iterationService(freshSeen()), {}, { iterationWindow: 2.5 }),
    /iterationWindow must be an integer/,
  );
  // A local iterable is iterated as it is.
  assert.deepEqual(await Array.fromAsync(iterate([1, 2])), [1, 2]);
});

Deno.test("iteration: a raw peer's BATCH on what no ITER opened, or for a bad count, is refused", async () => {
  await using p = await pair(iterationService(freshSeen()));
  const peer = await RawPeer.connect(p.port);
  try {
    await peer.next(); // The server's HELLO.
    await peer.send(hello());
    // On the root: no iterator of ours.
    await peer.send(request(0, OP.BATCH, 0, [], [10]));
    const refused = thrownError(await peer.next());
    assert.equal(refused.name, "AccessError");
    assert.match(
      refused.message,
      /BATCH work only on an iterator opened by ITER or a ReadableStream handed over/,
    );
    // An iterator opened by ITER (pipelined on the CALL's answer), asked for too much, then right.
    await peer.send(request(1, OP.CALL, 0, ["range"], [3]));
    await peer.send(request(2, OP.ITER, -2, [], []));
    await peer.send(request(3, OP.BATCH, -3, [], [100_000]));
    const replies = [await peer.next(), await peer.next(), await peer.next()];
    const tooMany = replies.find((m) => m[1] === 3)!;
    assert.match(thrownError(tooMany).message, /a batch asks for 1 to 65536 items, not 100000/);
    const iterator = exportedId(replies.find((m) => m[1] === 2)![2]);
    await peer.send(request(4, OP.BATCH, iterator, [], [10]));
    const [type, seq, [items, done]] = await peer.next() as [number, number, unknown[]];
    assert.deepEqual([type, seq, items, done], [2, 4, [0, 1, 2], true], "the items and the end");
    // WRITE on what is no WritableStream: a TypeError, the connection goes on.
    await peer.send(request(5, OP.WRITE, 0, [], ["x", 0]));
    assert.match(thrownError(await peer.next()).message, /only on a WritableStream/);
    await peer.send(request(6, OP.PING, 0, [], ["still here"]));
    assert.deepEqual(await peer.next(), [2, 6, "still here"]);
  } finally {
    peer.close();
  }
});

Deno.test("iteration: a producer's malformed or oversized batch ends the loop with a clear error", async () => {
  const answers: [unknown, RegExp][] = [
    [{ items: [1] }, /the peer's answer to BATCH is not \[items, done, returned\]/],
    [[[...Array(300).keys()], false, undefined], /the peer answered a BATCH of 256 with 300 items/],
  ];
  for (const [answer, expected] of answers) {
    let released = 0;
    const iterator = new PrefetchingIterator({
      step: () => Promise.resolve(answer),
      release: () => void released++,
    }, 256);
    const error = await rejection(Array.fromAsync(iterator));
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, expected);
    assert.equal(released, 1, "the remote iterator is let go");
  }
});

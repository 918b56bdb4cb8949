/**
 * Timeouts and cancellation over real loopback TCP: the connection's default
 * `timeout`, `timed(fn, ms)`, `timed(fn, {signal})`, the callee's
 * `currentCall().signal`, a usable connection afterwards, and late replies.
 */

import assert from "node:assert/strict";
import { connect, currentCall, Service, timed, TimeoutError } from "../mod.ts";
import { pair, quietLogger, rejection, waitFor } from "./_helpers.ts";
import { EOF, hello, MSG, RawPeer } from "./_raw_peer.ts";

interface CalleeState {
  started: number;
  finished: number;
  aborted: number;
  reasons: unknown[];
  lateFinished: number;
}

function newState(): CalleeState {
  return { started: 0, finished: 0, aborted: 0, reasons: [], lateFinished: 0 };
}

/** Resolves after `ms`, or rejects with the signal's reason (clearing the timer). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

function timeoutService(state: CalleeState) {
  return class TimeoutService extends Service {
    async exposed_slow(ms: number): Promise<string> {
      const { signal } = currentCall(); // read synchronously, before the first await
      state.started++;
      try {
        await sleep(ms, signal);
      } catch (error) {
        state.aborted++;
        state.reasons.push(error);
        throw error;
      }
      state.finished++;
      return "done";
    }
    async exposed_ignoring(ms: number): Promise<string> {
      await sleep(ms);
      state.lateFinished++;
      return "late";
    }
    exposed_add(a: number, b: number): number {
      return a + b;
    }
  };
}

Deno.test("timeout: the connection's default timeout", async (t) => {
  const state = newState();
  await using p = await pair(timeoutService(state), {}, { timeout: 50 });
  const root = p.client.root;

  await t.step("a slow call times out and the callee's signal fires", async () => {
    const error = await rejection(root.slow(10_000));
    assert.ok(error instanceof TimeoutError, `got ${error}`);
    assert.equal((error as Error).name, "TimeoutError");
    assert.match((error as Error).message, /50 ms/);
    await waitFor(() => state.aborted === 1, 5000, "the callee's signal");
    assert.equal((state.reasons[0] as Error).name, "AbortError");
    assert.equal(state.finished, 0);
  });
  await t.step("the connection stays usable", async () => {
    assert.equal(await root.add(2, 3), 5);
    assert.equal(await root.slow(1), "done", "a call within the timeout succeeds");
    assert.equal(p.client.closed, false);
    assert.equal(p.client.stats().pendingRequests, 0);
    await waitFor(() => p.serverConn().stats().servingRequests === 0);
  });
  await t.step("every request has its own timer", async () => {
    const results = await Promise.allSettled([root.slow(10_000), root.add(1, 1), root.slow(1)]);
    assert.equal(results[0].status, "rejected");
    assert.ok((results[0] as PromiseRejectedResult).reason instanceof TimeoutError);
    assert.deepEqual(results.slice(1).map((r) => (r as PromiseFulfilledResult<unknown>).value), [
      2,
      "done",
    ]);
    await waitFor(() => state.aborted === 2, 5000, "the second abort");
  });
});

Deno.test("timeout: timeout 0 waits as long as it takes", async () => {
  const state = newState();
  await using p = await pair(timeoutService(state), {}, { timeout: 0 });
  assert.equal(await p.client.root.slow(120), "done");
  assert.equal(state.aborted, 0);
});

Deno.test("timeout: timed(fn, ms)", async (t) => {
  const state = newState();
  await using p = await pair(timeoutService(state)); // default timeout: 30 s
  const root = p.client.root;

  await t.step("times out one call", async () => {
    const error = await rejection(timed(root.slow, 40)(10_000));
    assert.ok(error instanceof TimeoutError, `got ${error}`);
    await waitFor(() => state.aborted === 1, 5000, "the callee's signal");
    assert.equal(await root.add(1, 2), 3);
  });
  await t.step("a generous per-call timeout lets the call finish", async () => {
    assert.equal(await timed(root.slow, 5_000)(5), "done");
    const slowFor = timed(root.slow, 5_000);
    assert.deepEqual(await Promise.all([slowFor(1), slowFor(2)]), ["done", "done"]);
  });
  await t.step("timed() needs a netref", () => {
    assert.throws(() => timed(() => 1, 10), TypeError);
  });

  await t.step("a per-call timeout overrides the connection's", async () => {
    const state2 = newState();
    await using q = await pair(timeoutService(state2), {}, { timeout: 30 });
    assert.equal(await timed(q.client.root.slow, 0)(100), "done", "0 = no timeout");
    assert.equal(await timed(q.client.root.slow, 5_000)(100), "done");
    assert.ok(await rejection(q.client.root.slow(100)) instanceof TimeoutError);
    await waitFor(() => state2.aborted === 1);
  });
});

Deno.test("timeout: timed(fn, {signal}) with an AbortController", async (t) => {
  const state = newState();
  await using p = await pair(timeoutService(state));
  const root = p.client.root;

  await t.step("abort() rejects with an AbortError and cancels the callee", async () => {
    const controller = new AbortController();
    const call = rejection(timed(root.slow, { signal: controller.signal })(10_000));
    await waitFor(() => state.started === 1, 5000, "the call to start");
    controller.abort();
    const error = await call;
    assert.ok(error instanceof DOMException, `got ${error}`);
    assert.equal((error as DOMException).name, "AbortError");
    assert.equal(error, controller.signal.reason);
    await waitFor(() => state.aborted === 1, 5000, "the callee's signal");
    assert.equal(await root.add(4, 4), 8);
  });
  await t.step("abort(reason) rejects with that reason", async () => {
    const controller = new AbortController();
    const reason = new Error("the user gave up");
    const call = rejection(timed(root.slow, { signal: controller.signal })(10_000));
    await waitFor(() => state.started === 2);
    controller.abort(reason);
    assert.equal(await call, reason);
    await waitFor(() => state.aborted === 2);
  });
  await t.step("an already aborted signal sends nothing", async () => {
    const controller = new AbortController();
    controller.abort();
    const before = p.client.stats().framesSent;
    const error = await rejection(timed(root.slow, { signal: controller.signal })(10_000));
    assert.equal((error as DOMException).name, "AbortError");
    assert.equal(p.client.stats().framesSent, before);
    assert.equal(state.started, 2);
  });
  await t.step("a signal that never fires changes nothing", async () => {
    const controller = new AbortController();
    assert.equal(await timed(root.slow, { signal: controller.signal })(1), "done");
    controller.abort(); // after the fact: harmless
    assert.equal(await root.add(0, 1), 1);
  });
  await t.step("a timeout and a signal together", async () => {
    const controller = new AbortController();
    const error = await rejection(
      timed(root.slow, { signal: controller.signal, timeout: 30 })(10_000),
    );
    assert.ok(error instanceof TimeoutError);
    await waitFor(() => state.aborted === 3);
  });
});

Deno.test("timeout: a late reply from the callee is ignored", async () => {
  const state = newState();
  const logger = quietLogger();
  await using p = await pair(timeoutService(state), { logger }, {
    timeout: 30,
    logger,
  });
  const root = p.client.root;
  // The callee ignores its signal and finishes well after the caller gave up.
  assert.ok(await rejection(root.ignoring(150)) instanceof TimeoutError);
  await waitFor(() => state.lateFinished === 1, 5000, "the callee to finish late");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(p.client.closed, false);
  assert.equal(p.serverConn().closed, false);
  assert.equal(await root.add(20, 22), 42);
  assert.deepEqual(logger.lines.filter((l) => /^(warn|error)/.test(l)), []);
});

/**
 * A raw rdc peer that answers `fast` at once and `slow` after `lateMs`, ignoring
 * CANCEL: its late reply does reach the caller.
 */
function rawLatePeer(lateMs: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: unknown[][] = [];
  let lateSent = 0;
  let peer: RawPeer | undefined;
  const timers = new Set<Promise<void>>();
  const done = (async () => {
    peer = new RawPeer(await listener.accept());
    await peer.send(hello("Late"));
    try {
      while (true) {
        const message = await peer.readMessage(Infinity);
        if (message === EOF) break;
        received.push(message);
        if (message[0] !== MSG.REQUEST) continue; // only REQUESTs are answered
        const [, seq, , , path, , args] = message as [
          number,
          number,
          number,
          number,
          string[],
          number[],
          unknown[],
        ];
        if (path[0] === "slow") {
          const late = sleep(lateMs).then(() => peer!.send([MSG.REPLY, seq, "late"])).then(() => {
            lateSent++;
          }, () => {});
          timers.add(late);
        } else {
          await peer.send([MSG.REPLY, seq, `fast ${args[0]}`]);
        }
      }
    } catch {
      // The socket was closed under the read.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    lateSent: () => lateSent,
    async close() {
      await Promise.all(timers);
      peer?.close();
      listener.close();
      await done;
    },
  };
}

Deno.test("timeout: a reply arriving after the timeout does not settle anything", async () => {
  const peer = rawLatePeer(100);
  const logger = quietLogger();
  const client = await connect("127.0.0.1", peer.port, { timeout: 30, logger });
  try {
    const root = client.root;
    assert.equal(await root.fast(1), "fast 1");
    const error = await rejection(root.slow());
    assert.ok(error instanceof TimeoutError, `got ${error}`);
    // The caller told the callee (a CANCEL for that request).
    await waitFor(() => peer.received.some((m) => m[0] === MSG.CANCEL), 5000, "a CANCEL");
    const received = client.stats().framesReceived;
    await waitFor(() => peer.lateSent() === 1, 5000, "the late reply to be sent");
    await waitFor(() => client.stats().framesReceived > received, 5000, "the late reply");
    // The late answer was dropped: the connection is fine and the next call gets its own.
    assert.equal(client.closed, false);
    assert.equal(client.stats().pendingRequests, 0);
    assert.equal(await root.fast(2), "fast 2");
    assert.deepEqual(logger.lines.filter((l) => /^(warn|error)/.test(l)), []);
  } finally {
    await client.close();
    await peer.close();
  }
});

/**
 * Lifetime of references over real loopback TCP: refcounted export tables on
 * both ends, release by `using` / `Symbol.dispose` / `Symbol.asyncDispose`,
 * release by garbage collection, and what closing a connection frees.
 *
 * Run with `--v8-flags=--expose-gc` (the test task does) so `gc()` exists.
 */

import assert from "node:assert/strict";
import { ConnectionClosedError, currentCall, isRemote, Service } from "../mod.ts";
import { pair, rejection, waitFor } from "./_helpers.ts";

class Thing {
  constructor(readonly id: number) {}
  exposed_describe(): string {
    return `thing ${this.id}`;
  }
}

function lifetimeService(state: { held?: unknown; aborted: number }) {
  const shared = new Thing(0);
  return class LifetimeService extends Service {
    #next = 1;
    exposed_make(): Thing {
      return new Thing(this.#next++);
    }
    exposed_shared(): Thing {
      return shared;
    }
    exposed_describeIt(thing: Thing): Promise<string> | string {
      return (thing as unknown as { describe(): Promise<string> }).describe();
    }
    exposed_hold(value: unknown): void {
      state.held = value;
    }
    async exposed_callHeld(...args: unknown[]): Promise<unknown> {
      return await (state.held as (...a: unknown[]) => unknown)(...args);
    }
    exposed_dropHeld(): void {
      (state.held as Disposable)[Symbol.dispose]();
      state.held = undefined;
    }
    exposed_wait(): Promise<never> {
      const { signal } = currentCall();
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => {
          state.aborted++;
          reject(signal.reason);
        }, { once: true });
      });
    }
  };
}

function newState(): { held?: unknown; aborted: number } {
  return { aborted: 0 };
}

Deno.test("lifetime: export tables count references on both ends", async () => {
  const state = newState();
  await using p = await pair(lifetimeService(state));
  const server = p.serverConn();
  const root = p.client.root;
  assert.equal(server.stats().exports, 1, "only the root is exported at first");
  assert.equal(p.client.stats().exports, 1);
  assert.equal(p.client.stats().imports, 1, "the client imports the server's root");

  const a = await root.shared();
  const b = await root.shared();
  assert.equal(a, b, "the same object arrives as the same netref");
  assert.equal(server.stats().exports, 2, "one export, counted twice");
  assert.equal(p.client.stats().imports, 2);
  a[Symbol.dispose]();
  assert.equal(p.client.stats().imports, 1, "disposing releases every count of the import");
  await waitFor(() => server.stats().exports === 1, 5000, "the server to drop the export");

  // A release racing with a new send of the same object keeps the object exported.
  const c = await root.shared();
  c[Symbol.dispose]();
  const d = await root.shared(); // sent again before the server hears of the release
  assert.notEqual(c, d, "a disposed netref is not revived");
  assert.equal(await d.describe(), "thing 0");
  await new Promise((r) => setTimeout(r, 30)); // the release of `c` arrives meanwhile
  assert.equal(server.stats().exports, 2, "still exported: `d` holds it");
  assert.equal(await d.describe(), "thing 0");
  d[Symbol.dispose]();
  await waitFor(() => server.stats().exports === 1, 5000, "the last release");

  // The other direction: the client exports what it passes by reference.
  const callback = (x: number) => x * 3;
  await root.hold(callback);
  assert.equal(p.client.stats().exports, 2);
  assert.equal(server.stats().imports, 2);
  await root.hold(callback); // the same function again: one export, two counts
  assert.equal(p.client.stats().exports, 2);
  assert.equal(await root.callHeld(5), 15);
  await root.dropHeld();
  await waitFor(() => p.client.stats().exports === 1, 5000, "the client's export to go");
  assert.equal(server.stats().imports, 1);
});

Deno.test("lifetime: using, Symbol.dispose and Symbol.asyncDispose release netrefs", async (t) => {
  await using p = await pair(lifetimeService(newState()));
  const server = p.serverConn();
  const root = p.client.root;

  await t.step("using", async () => {
    {
      using thing = await root.make();
      assert.ok(isRemote(thing));
      assert.match(await thing.describe(), /^thing \d+$/);
      assert.equal(server.stats().exports, 2);
    }
    await waitFor(() => server.stats().exports === 1, 5000, "release after `using`");
    assert.equal(p.client.stats().imports, 1);
  });

  await t.step("await using", async () => {
    {
      await using thing = await root.make();
      assert.match(await thing.describe(), /^thing \d+$/);
      assert.equal(server.stats().exports, 2);
    }
    await waitFor(() => server.stats().exports === 1, 5000, "release after `await using`");
  });

  await t.step("explicit calls, and disposing an answer not yet here", async () => {
    const one = await root.make();
    const two = await root.make();
    assert.equal(server.stats().exports, 3);
    one[Symbol.dispose]();
    await two[Symbol.asyncDispose]();
    await waitFor(() => server.stats().exports === 1, 5000, "explicit release");
    // Disposing the answer proxy of a call releases the netref it resolves to.
    const answer = root.make();
    answer[Symbol.dispose]();
    await answer;
    await waitFor(() => server.stats().exports === 1, 5000, "release of a disposed answer");
    // Disposing twice is harmless.
    one[Symbol.dispose]();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.client.closed, false);
    assert.equal(server.closed, false);
  });

  await t.step("the root is never released", async () => {
    root[Symbol.dispose]();
    assert.equal(await root.shared().describe(), "thing 0");
  });
});

Deno.test("lifetime: use after dispose fails clearly", async () => {
  await using p = await pair(lifetimeService(newState()));
  const root = p.client.root;
  const thing = await root.make();
  thing[Symbol.dispose]();
  const callError = await rejection(thing.describe());
  assert.ok(callError instanceof ReferenceError, `got ${callError}`);
  assert.match((callError as Error).message, /released|disposed/);
  assert.match((callError as Error).message, /Thing/, "the message names the netref");
  const readError = await rejection(thing.id);
  assert.ok(readError instanceof ReferenceError, `got ${readError}`);
  const argError = await rejection(root.describeIt(thing));
  assert.ok(argError instanceof ReferenceError, `got ${argError}`);
  assert.match((argError as Error).message, /released|disposed/);
  // Nothing else suffered.
  assert.equal(await root.make().describe(), "thing 2");
  assert.equal(p.client.closed, false);
});

Deno.test("lifetime: garbage-collected netrefs are released (10 000 of them)", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run with --v8-flags=--expose-gc");
  await using p = await pair(lifetimeService(newState()));
  const server = p.serverConn();
  const root = p.client.root;
  const start = server.stats().exports;
  const total = 10_000;
  const batch = 500;
  let peak = start;
  for (let made = 0; made < total; made += batch) {
    // Each call makes a new object on the server; the netrefs are dropped at once.
    await Promise.all(Array.from({ length: batch }, () => Promise.resolve(root.make())));
    peak = Math.max(peak, server.stats().exports);
  }
  assert.ok(peak > start + batch, `the server exported the objects (peak ${peak})`);
  for (let i = 0; i < 200 && server.stats().exports > start; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(
    server.stats().exports,
    start,
    "every collected netref was released; the export table is back to its start",
  );
  assert.equal(p.client.stats().imports, 1, "only the root is left imported");
  assert.equal(await root.make().describe(), `thing ${total + 1}`, "still usable");
});

Deno.test("lifetime: closing a connection frees both tables and rejects pending calls", async (t) => {
  await t.step("the client closes", async () => {
    const state = newState();
    await using p = await pair(lifetimeService(state));
    const server = p.serverConn();
    const root = p.client.root;
    const kept = [await root.make(), await root.make()];
    await root.hold(() => "a callback the server holds");
    assert.equal(server.stats().exports, 3);
    assert.equal(p.client.stats().exports, 2);
    const pending = [root.wait(), root.wait()].map(rejection);
    await waitFor(() => server.stats().servingRequests === 2);

    await p.client.close();
    for (const error of await Promise.all(pending)) {
      assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
    }
    // Calls after close fail the same way.
    assert.ok(await rejection(kept[0].describe()) instanceof ConnectionClosedError);
    assert.ok(await rejection(root.make()) instanceof ConnectionClosedError);
    const clientStats = p.client.stats();
    assert.equal(clientStats.exports, 1, "only the root entry is left");
    assert.equal(clientStats.imports, 0);
    assert.equal(clientStats.pendingRequests, 0);
    await server.finished;
    const serverStats = server.stats();
    assert.equal(serverStats.exports, 1);
    assert.equal(serverStats.imports, 0);
    assert.equal(serverStats.answers, 0);
    // The server's calls in progress were told to stop.
    assert.equal(state.aborted, 2);
  });

  await t.step("the server end closes", async () => {
    const state = newState();
    await using p = await pair(lifetimeService(state));
    const server = p.serverConn();
    const root = p.client.root;
    await root.make();
    const pending = rejection(root.wait());
    await waitFor(() => server.stats().servingRequests === 1);
    await server.close();
    const error = await pending;
    assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
    await p.client.finished;
    assert.equal(p.client.closed, true);
    assert.equal(p.client.stats().imports, 0);
    assert.equal(p.client.stats().pendingRequests, 0);
    assert.equal(server.stats().exports, 1);
    assert.equal(state.aborted, 1);
  });
});

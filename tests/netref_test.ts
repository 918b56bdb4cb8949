/**
 * Netrefs over real loopback TCP: property reads, writes, deletes, `in`,
 * calls, `new`, `this`, iteration, display, and the round-trip budget of
 * chains and pipelined calls (frame counts, and timing through a delay proxy).
 */

import assert from "node:assert/strict";
import {
  AccessError,
  connect,
  deleteMember,
  hasMember,
  isRemote,
  ref,
  RemoteError,
  serve,
  Service,
  setMember,
} from "../mod.ts";
import { pair, quietLogger, rejection, waitFor, writeAll } from "./_helpers.ts";

// ---- fixtures ------------------------------------------------------------------------------

class Counter {
  count = 0;
  increment(by = 1): number {
    this.count += by;
    return this.count;
  }
  self(): Counter {
    return this;
  }
}

class Leaf {
  value = "leaf";
  shout(suffix: string): string {
    return this.value.toUpperCase() + suffix;
  }
}

class Branch {
  left: Branch | Leaf;
  right: Branch | Leaf;
  constructor(depth: number) {
    this.left = depth > 0 ? new Branch(depth - 1) : new Leaf();
    this.right = depth > 0 ? new Branch(depth - 1) : new Leaf();
  }
}

class Box {
  value: unknown = 1;
  extra: unknown = "removable";
}

class Point {
  x: number;
  y: number;
  constructor(x: number, y: number) {
    this.x = x;
    this.y = y;
  }
  norm2(): number {
    return this.x * this.x + this.y * this.y;
  }
}

/** Links of a chain for pipelining: a() → B, B.b() → C, C.c() → string. */
class ChainC {
  c(): string {
    return "end of chain";
  }
}
class ChainB {
  b(): ChainC {
    return new ChainC();
  }
}

/** What the server saw, shared by the service instances of one test. */
interface Observed {
  effects: number[];
  syncFinally: boolean;
  asyncFinally: boolean;
}

function netrefService(observed: Observed) {
  return class NetrefService extends Service {
    exposed_counter = new Counter();
    exposed_tree = new Branch(2);
    exposed_box = new Box();
    exposed_config = { db: { host: "db.local", port: 5432, tags: ["a", "b"] } };
    exposed_items = [10, 20, 30];
    exposed_Point = Point;
    exposed_secretless = 1;
    _private = "hidden";

    exposed_add(a: number, b: number): number {
      return a + b;
    }
    exposed_makeCounter(): Counter {
      return new Counter();
    }
    exposed_a(): ChainB {
      return new ChainB();
    }
    exposed_tally = {
      hits: 0,
      hit(n = 1): number {
        this.hits += n;
        return this.hits;
      },
    };
    exposed_sharedTally(): unknown {
      return ref(this.exposed_tally);
    }
    exposed_hitsOf(tally: { hits: number }): number {
      return tally.hits;
    }
    exposed_sideEffect(n: number): void {
      observed.effects.push(n);
    }
    *exposed_countTo(n: number): Generator<number> {
      try {
        for (let i = 1; i <= n; i++) yield i;
      } finally {
        observed.syncFinally = true;
      }
    }
    async *exposed_ticks(n: number): AsyncGenerator<string> {
      try {
        for (let i = 0; i < n; i++) {
          await new Promise((r) => setTimeout(r, 1));
          yield `tick ${i}`;
        }
      } finally {
        observed.asyncFinally = true;
      }
    }
  };
}

function observed(): Observed {
  return { effects: [], syncFinally: false, asyncFinally: false };
}

// ---- property access -----------------------------------------------------------------------

Deno.test("netref: property reads, nested chains, plain data and class instances", async () => {
  await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
  const root = p.client.root;
  assert.equal(await root.secretless, 1);
  assert.equal(await root.config.db.host, "db.local");
  assert.equal(await root.config.db.port, 5432);
  assert.deepEqual(await root.config.db.tags, ["a", "b"]);
  assert.equal(await root.config.db.tags[1], "b");
  assert.deepEqual(await root.config, { db: { host: "db.local", port: 5432, tags: ["a", "b"] } });
  // A chain through class instances (by reference) on the server.
  assert.equal(await root.tree.left.right.left.value, "leaf");
  const tree = await root.tree;
  assert.ok(isRemote(tree));
  assert.equal(await tree.right.right.right.value, "leaf");
  const leaf = await root.tree.left.left.left;
  assert.ok(isRemote(leaf));
  assert.equal(await leaf.value, "leaf");
  assert.equal(await leaf.shout("!"), "LEAF!");
  // Exposed members are also reachable under their full name.
  assert.equal(await root.exposed_add(2, 3), 5);
});

Deno.test("netref: unexposed members are refused with AccessError", async () => {
  await using p = await pair(netrefService(observed()));
  const root = p.client.root;
  const error = await rejection(root._private);
  assert.ok(error instanceof AccessError, `got ${error}`);
  assert.ok(error instanceof RemoteError);
  assert.match((error as Error).message, /_private/);
  // Strict policy: public members of a returned instance are not reachable either.
  const counter = await root.makeCounter();
  assert.ok(await rejection(counter.count) instanceof AccessError);
  // The connection still works.
  assert.equal(await root.add(1, 1), 2);
});

Deno.test("netref: setMember/deleteMember/hasMember with allowSetAttr/allowDelAttr", async () => {
  await using p = await pair(netrefService(observed()), {
    allowPublicAttrs: true,
    allowSetAttr: true,
    allowDelAttr: true,
  });
  const root = p.client.root;
  assert.equal(await root.box.value, 1);
  await setMember(root.box, "value", { nested: [1, 2] });
  assert.deepEqual(await root.box.value, { nested: [1, 2] });
  // Through an awaited netref too.
  const box = await root.box;
  await setMember(box, "value", "via netref");
  assert.equal(await root.box.value, "via netref");
  // Assignment syntax sends a SET without a way to wait; the next read sees it (ordered).
  box.value = 99;
  assert.equal(await box.value, 99);

  assert.equal(await hasMember(box, "extra"), true);
  assert.equal(await deleteMember(box, "extra"), true);
  assert.equal(await hasMember(box, "extra"), false);
  assert.equal(await box.extra, undefined);
  // `delete` syntax also works, without waiting.
  delete box.value;
  assert.equal(await hasMember(box, "value"), false);

  // hasMember on the service: exposed names with or without the prefix, not private ones.
  assert.equal(await hasMember(root, "add"), true);
  assert.equal(await hasMember(root, "exposed_add"), true);
  assert.equal(await hasMember(root, "_private"), false);
  assert.equal(await hasMember(root, "nothingHere"), false);
  assert.equal(await hasMember(root.config.db, "host"), true);

  // A service's own attributes are never written or deleted remotely.
  assert.ok(await rejection(setMember(root, "secretless", 2)) instanceof AccessError);
  assert.ok(await rejection(deleteMember(root, "secretless")) instanceof AccessError);
  assert.equal(await root.secretless, 1);
  // Blocked names are refused locally.
  await assert.rejects(setMember(box, "__proto__", {}), TypeError);
  await assert.rejects(hasMember(box, "constructor"), TypeError);
  // The `in` operator answers from the member list the reference arrived with (a snapshot)...
  const fresh = await root.box;
  assert.equal("extra" in fresh, false, "deleted before this reference was sent");
  assert.equal("add" in root && "exposed_add" in root, true);
  assert.equal("_private" in root, false);
  // ...and cannot answer for a value not yet fetched: it says what to use instead.
  assert.throws(() => "value" in root.box, /hasMember/);
});

Deno.test("netref: writes and deletes are refused without allowSetAttr/allowDelAttr", async () => {
  await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
  const root = p.client.root;
  const setError = await rejection(setMember(root.box, "value", 2));
  assert.ok(setError instanceof AccessError, `got ${setError}`);
  assert.match((setError as Error).message, /value/);
  assert.ok(await rejection(deleteMember(root.box, "extra")) instanceof AccessError);
  assert.equal(await root.box.value, 1);
  assert.equal(await root.box.extra, "removable");
});

// ---- calls, this, new ----------------------------------------------------------------------

Deno.test("netref: calls keep the right `this`", async () => {
  await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
  const root = p.client.root;
  assert.equal(await root.counter.increment(), 1);
  assert.equal(await root.counter.increment(5), 6);
  assert.equal(await root.counter.count, 6);
  // A method read off a netref and called detached still runs on its object.
  const counter = await root.counter;
  const increment = counter.increment;
  assert.equal(await increment(), 7);
  // Calls on an awaited netref, and on the answer of a call.
  const fresh = await root.makeCounter();
  assert.equal(await fresh.increment(2), 2);
  assert.equal(await fresh.increment(2), 4);
  assert.equal(await root.counter.count, 7, "the fresh counter is another object");
  // An object that comes back is the same netref (identity kept).
  assert.equal(await fresh.self(), fresh);
  // Calling something that is not a function fails clearly.
  const error = await rejection(root.counter.count());
  assert.ok(error instanceof TypeError, `got ${error}`);
  assert.match((error as Error).message, /not a function/);
});

Deno.test("netref: `new` on a remote class needs allowConstruct", async (t) => {
  await t.step("allowed", async () => {
    await using p = await pair(netrefService(observed()), {
      allowPublicAttrs: true,
      allowConstruct: true,
    });
    const root = p.client.root;
    const point = await new root.Point(3, 4);
    assert.ok(isRemote(point));
    assert.match(String(point), /^\[Remote Point #\d+\]$/);
    assert.equal(await point.x, 3);
    assert.equal(await point.norm2(), 25);
    // `new` on an un-awaited class read, and a call pipelined on the new object.
    assert.equal(await new root.Point(1, 2).norm2(), 5);
  });
  await t.step("refused by default", async () => {
    await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
    const error = await rejection(new p.client.root.Point(1, 2));
    assert.ok(error instanceof AccessError, `got ${error}`);
    assert.equal(await p.client.root.add(2, 2), 4);
  });
});

Deno.test("netref: a call runs even if nobody awaits it", async () => {
  const seen = observed();
  await using p = await pair(netrefService(seen));
  p.client.root.sideEffect(1);
  p.client.root.sideEffect(2);
  await waitFor(() => seen.effects.length === 2, 5000, "the un-awaited calls");
  assert.deepEqual(seen.effects, [1, 2]);
  // Property reads, by contrast, are lazy: nothing is sent until awaited.
  const before = p.client.stats().framesSent;
  const lazy = p.client.root.config.db.host;
  assert.equal(p.client.stats().framesSent, before);
  assert.equal(await lazy, "db.local");
});

// ---- iteration -----------------------------------------------------------------------------

/** Collects what `for await` yields; after `limit` items it breaks out (which calls `return`). */
async function collect<T>(iterable: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length >= limit) break;
  }
  return items;
}

Deno.test("netref: for await over remote sync iterables and async generators", async (t) => {
  const seen = observed();
  await using p = await pair(netrefService(seen), { allowPublicAttrs: true });
  const root = p.client.root;

  await t.step("a remote array", async () => {
    assert.deepEqual(await collect(root.items), [10, 20, 30]);
  });
  await t.step("a remote sync generator, to the end", async () => {
    assert.deepEqual(await collect(root.countTo(4)), [1, 2, 3, 4]);
    assert.equal(seen.syncFinally, true);
  });
  await t.step("a remote sync generator, early break calls return", async () => {
    seen.syncFinally = false;
    assert.deepEqual(await collect(root.countTo(100), 2), [1, 2]);
    await waitFor(() => seen.syncFinally, 5000, "the generator's finally");
  });
  await t.step("a remote async generator, to the end", async () => {
    assert.deepEqual(await collect(root.ticks(3)), ["tick 0", "tick 1", "tick 2"]);
    assert.equal(seen.asyncFinally, true);
  });
  await t.step("a remote async generator, early break calls return", async () => {
    seen.asyncFinally = false;
    assert.deepEqual(await collect(root.ticks(1000), 2), ["tick 0", "tick 1"]);
    await waitFor(() => seen.asyncFinally, 5000, "the async generator's finally");
  });
  await t.step("the iterators are released afterwards", async () => {
    // Only the root stays exported: every remote iterator was disposed when done.
    await waitFor(() => p.serverConn().stats().exports === 1, 2000, "iterator release");
  });
  await t.step("iterating a non-iterable fails clearly", async () => {
    const error = await rejection((async () => {
      for await (const _ of root.counter) { /* never */ }
    })());
    assert.ok(error instanceof TypeError, `got ${error}`);
    assert.match((error as Error).message, /not iterable/);
  });
});

// ---- identity and display ------------------------------------------------------------------

Deno.test("netref: isRemote, String and Deno.inspect", async () => {
  await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
  const root = p.client.root;
  assert.equal(isRemote(root), true);
  assert.equal(isRemote(root.counter), true, "a lazy read is remote");
  assert.equal(isRemote(root.add(1, 2)), true, "an answer not yet here is remote");
  assert.equal(isRemote(await root.add(1, 2)), false, "data arrives as data");
  assert.equal(isRemote({}), false);
  assert.equal(isRemote(() => {}), false);
  assert.equal(isRemote(null), false);
  assert.equal(isRemote("[Remote Counter #1]"), false);

  // A bare netref is not thenable: awaiting it gives itself.
  assert.equal(await root, root);
  const counter = await root.counter;
  assert.equal(await counter, counter);

  assert.equal(String(root), "[Remote Netref #0]");
  assert.equal(`${root}`, "[Remote Netref #0]");
  assert.equal(Deno.inspect(root), "[Remote Netref #0]");
  assert.match(String(counter), /^\[Remote Counter #[1-9]\d*\]$/);
  assert.equal(Deno.inspect(counter), String(counter));
  assert.equal(Deno.inspect({ counter }), `{ counter: ${String(counter)} }`);
  const add = await root.add;
  assert.match(String(add), /^\[Remote function exposed_add #\d+\]$/);
  assert.match(String(root.config.db), /^\[Remote Netref #0.*config.*db\]$/);
  assert.match(String(root.makeCounter()), /^\[Remote answer #\d+\]$/);
  assert.equal(Object.prototype.toString.call(root), "[object Remote]");
  assert.throws(() => JSON.stringify({ root }), { name: "TypeError", message: /obtain/ });
});

// ---- round trips ---------------------------------------------------------------------------

Deno.test("netref: a chain of reads ending in a call is one request", async () => {
  await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
  const root = p.client.root;
  await root.add(0, 0); // warm up

  let before = p.client.stats();
  const called = root.tree.left.right.left.shout("?");
  assert.equal(p.client.stats().framesSent - before.framesSent, 1, "one REQUEST for the chain");
  assert.equal(await called, "LEAF?");
  assert.equal(p.client.stats().framesReceived - before.framesReceived, 1, "one reply");

  before = p.client.stats();
  const read = root.config.db.tags[0];
  assert.equal(p.client.stats().framesSent, before.framesSent, "reads are lazy");
  assert.equal(await read, "a");
  assert.equal(p.client.stats().framesSent - before.framesSent, 1, "one GET for the chain");
  assert.equal(p.client.stats().framesReceived - before.framesReceived, 1);
  // Awaiting the same lazy read again sends nothing more.
  assert.equal(await read, "a");
  assert.equal(p.client.stats().framesSent - before.framesSent, 1);
});

Deno.test("netref: dependent calls are pipelined (frame counts)", async () => {
  await using p = await pair(netrefService(observed()), { allowPublicAttrs: true });
  const root = p.client.root;
  await root.add(0, 0); // warm up
  await new Promise((r) => setTimeout(r, 20)); // let housekeeping (FINISH) go out

  const before = p.client.stats();
  const serverBefore = p.serverConn().stats();
  const result = root.a().b().c();
  const after = p.client.stats();
  // All three requests left before any answer could come back.
  assert.equal(after.framesSent - before.framesSent, 3, "three requests, sent at once");
  assert.equal(after.framesReceived, before.framesReceived, "nothing received in between");
  assert.equal(after.pendingRequests, 3);
  assert.equal(await result, "end of chain");
  await waitFor(() => p.client.stats().pendingRequests === 0);
  assert.equal(p.client.stats().framesReceived - before.framesReceived, 3, "three replies");
  assert.equal(p.serverConn().stats().framesReceived - serverBefore.framesReceived, 3);

  // An error early in the pipeline reaches the end of it.
  const broken = root.add(1, 2).b().c();
  const error = await rejection(broken);
  assert.ok(error instanceof Error, `got ${error}`);
  assert.equal(await root.a().b().c(), "end of chain", "the connection is still fine");
});

Deno.test("netref: calls pipelined on an answer sent with ref() reach the object", async () => {
  await using p = await pair(netrefService(observed()));
  const root = p.client.root;
  // Awaited first: a netref to the server's plain object, which sees later changes.
  const tally = await root.sharedTally();
  assert.ok(isRemote(tally));
  assert.equal(await tally.hit(), 1);
  assert.equal(await tally.hits, 1);
  assert.deepEqual((await root.tally).hits, 1);
  // Pipelined: the call goes out before the answer is here, with the answer as its target.
  assert.equal(await root.sharedTally().hit(2), 3);
  assert.equal(await root.sharedTally().hits, 3);
  // Used as an argument before it arrives (a lazy path resolved on the server).
  assert.equal(await root.hitsOf(root.sharedTally()), 3);
});

/** A TCP proxy on loopback that delays every chunk, in both directions, by `delayMs`. */
function delayProxy(targetPort: number, delayMs: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const pumps: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const inbound of listener) {
        const outbound = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
        inbound.setNoDelay(true);
        outbound.setNoDelay(true);
        conns.push(inbound, outbound);
        pumps.push(pump(inbound, outbound, delayMs), pump(outbound, inbound, delayMs));
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await Promise.allSettled(pumps);
    },
  };
}

/** Forwards `from` → `to`, each chunk `delayMs` after it arrived, in order. */
async function pump(from: Deno.Conn, to: Deno.Conn, delayMs: number): Promise<void> {
  const queue: { due: number; bytes: Uint8Array }[] = [];
  const signal = { wake: null as (() => void) | null };
  let ended = false;
  const writer = (async () => {
    while (true) {
      const item = queue.shift();
      if (!item) {
        if (ended) break;
        await new Promise<void>((resolve) => (signal.wake = resolve));
        continue;
      }
      const wait = item.due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        await writeAll(to, item.bytes);
      } catch {
        break;
      }
    }
  })();
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      queue.push({ due: performance.now() + delayMs, bytes: buffer.slice(0, n) });
      signal.wake?.();
      signal.wake = null;
    }
  } catch {
    // Closed.
  }
  ended = true;
  signal.wake?.();
  await writer;
}

Deno.test("netref: pipelined calls save round trips over a slow link", async () => {
  const server = serve(netrefService(observed()), {
    port: 0,
    allowPublicAttrs: true,
    logger: quietLogger(),
  });
  const proxy = delayProxy((server.addr as Deno.NetAddr).port, 50);
  const client = await connect("127.0.0.1", proxy.port, { logger: quietLogger() });
  try {
    const root = client.root;
    const time = async (run: () => Promise<unknown>) => {
      const started = performance.now();
      await run();
      return performance.now() - started;
    };
    // One round trip, measured in this run (median of three).
    const singles = [];
    for (let i = 0; i < 3; i++) singles.push(await time(() => root.add(i, i)));
    const roundTrip = singles.sort((a, b) => a - b)[1];

    const pipelined = await time(async () => {
      assert.equal(await root.a().b().c(), "end of chain");
    });
    const sequential = await time(async () => {
      const b = await root.a();
      const c = await b.b();
      assert.equal(await c.c(), "end of chain");
    });
    const ratios = `round trip ${roundTrip.toFixed(1)} ms, pipelined ${
      pipelined.toFixed(1)
    } ms, sequential ${sequential.toFixed(1)} ms`;
    assert.ok(pipelined < 1.6 * roundTrip, `pipelined should take ~1 round trip: ${ratios}`);
    assert.ok(sequential >= 2.5 * roundTrip, `sequential should take ~3 round trips: ${ratios}`);
    assert.ok(sequential > 2 * pipelined, ratios);
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

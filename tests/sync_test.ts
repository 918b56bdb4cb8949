/**
 * The synchronous mode over real sockets and a server in a child process:
 * the API, transparency of plain synchronous code, callbacks while blocked,
 * and failures.
 */

import assert from "node:assert/strict";
import {
  AccessError,
  ConnectionClosedError,
  connectSync,
  ProtocolError,
  TimeoutError,
} from "../mod.ts";
import { Money, Point, Settings, Temperature } from "./_sync_server.ts";
import { startSyncServer } from "./_sync.ts";

Deno.test("sync: calls return values, not promises", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const sum = conn.root.add(1, 2);
  assert.equal(sum, 3);
  assert.equal(conn.peerService, "SyncTest");
  assert.equal(typeof conn.ping(), "number");
});

/** Plain synchronous code, written for local objects. */
function summarize(settings: Settings): string[] {
  const out: string[] = [];
  if (settings.enabled) out.push("enabled");
  else out.push("disabled");
  out.push(`retries=${settings.retries || 3}`);
  out.push(`keys=${Object.keys(settings).join(",")}`);
  const forIn: string[] = [];
  for (const key in settings) forIn.push(key);
  out.push(`for-in=${forIn.join(",")}`);
  out.push(`own=${Reflect.ownKeys(settings).join(",")}`);
  let total = 0;
  for (const item of settings.items) total += item;
  out.push(`total=${total}`, `spread=${[...settings.items].join("+")}`);
  out.push(`length=${settings.items.length}`, `first=${settings.items[0]}`);
  out.push(`isArray=${Array.isArray(settings.items)}`);
  out.push(`has name=${"name" in settings}`, `has nope=${"nope" in settings}`);
  out.push(`json=${JSON.stringify(settings)}`);
  out.push(`entries=${Object.entries(settings).length}`);
  return out;
}

function asJson(price: Money, url: URL): string {
  return JSON.stringify({ price, url, list: [price] });
}

function usePoint(P: typeof Point, temperature: Temperature): string[] {
  const p = new P(3, 4);
  return [
    `norm=${p.norm()}`,
    `string=${String(p)}`,
    `template=${p}`,
    `instanceof=${p instanceof P}`,
    `number=${+temperature}`,
    `plus=${temperature.celsius + 1}`,
    `temperature=${temperature}`,
  ];
}

Deno.test("sync: plain synchronous code gives the same results on a netref as on the object", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  const local = new Settings();
  assert.deepEqual(summarize(root.settings), summarize(local));
  assert.deepEqual(usePoint(root.Point, root.temperature), usePoint(Point, new Temperature(21.5)));
  assert.equal(
    asJson(root.price, root.url),
    asJson(new Money(5, "EUR"), new URL("https://example.com/x")),
  );
  assert.equal(typeof root.settings, "object");
  assert.equal(typeof root.add, "function");
  assert.equal(root.settings.nope, undefined);
});

Deno.test("sync: writes and deletes happen at the statement, and refusals throw there", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const settings = conn.root.settings;
  settings.retries = 5;
  assert.equal(settings.retries, 5);
  settings.extra = "x";
  assert.equal("extra" in settings, true);
  assert.equal(delete settings.extra, true);
  assert.equal("extra" in settings, false);
  assert.throws(() => Object.freeze(settings), TypeError);
  const readOnly = conn.root.readOnly;
  assert.equal(readOnly.enabled, false);
  assert.throws(() => {
    readOnly.enabled = true; // refused by the server, at this statement
  }, (e: Error) => e instanceof AccessError && /cannot write 'enabled'/.test(e.message));
  assert.equal(readOnly.enabled, false);
  assert.throws(() => {
    conn.root.constructor = 1; // never reachable through a netref
  }, TypeError);
});

Deno.test("sync: identity: one proxy per remote object, local objects come back as themselves", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  assert.equal(root.settings, root.settings);
  assert.equal(root.same(root.settings), root.settings);
  const mine = new (class Mine {})();
  assert.equal(root.same(mine), mine);
  root.keep(mine);
  assert.equal(root.kept, mine);
});

Deno.test("sync: iteration: generators stream, break runs the remote finally, infinite ones are not drained", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  assert.deepEqual([...root.squares(5)], [0, 1, 4, 9, 16]);
  const before = root.finallyRan;
  const taken: number[] = [];
  for (const n of root.forever()) {
    if (n === 3) break;
    taken.push(n);
  }
  assert.deepEqual(taken, [0, 1, 2]);
  assert.equal(root.finallyRan, before + 1);
});

Deno.test("sync: iteration comes in batches that grow while the loop only collects", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const squares = conn.root.squares;
  const before = conn.stats().framesSent;
  const items = [...squares(10_000)] as number[];
  const requests = conn.stats().framesSent - before;
  assert.equal(items.length, 10_000);
  assert.ok(items.every((item, i) => item === i * i), "the items, in order");
  // A CALL, an ITER, then BATCHes of 256, 1 024, 4 096 and the rest (a loaded machine may
  // need a batch or two more): not 10 001 NEXTs.
  assert.ok(requests <= 16, `${requests} requests`);
});

Deno.test("sync: a loop that works on each item keeps the producer one batch of 256 ahead", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  let taken = 0;
  for (const _ of root.counting()) {
    taken++;
    // A round trip per item: each batch takes far longer to use than to fetch.
    const produced = root.produced as number;
    assert.ok(produced <= taken + 255, `after ${taken} items ${produced} were produced`);
    if (taken === 600) break;
  }
  assert.ok(root.produced <= 600 + 255, `produced ${root.produced}`);
});

Deno.test("sync: with an iterationWindow of 1 each item is produced when the loop asks", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port, { iterationWindow: 1 });
  const root = conn.root;
  let taken = 0;
  for (const _ of root.counting()) {
    taken++;
    assert.equal(root.produced, taken);
    if (taken === 20) break;
  }
});

Deno.test("sync: a ReadableStream handed over is iterated, none of it pushed past the reader", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  assert.deepEqual([...root.numbers(100)], Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...root.numbers(0)], []);
});

Deno.test("sync: the server calls back into the client while a call blocks, ten levels deep", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const root = conn.root;
  assert.equal(root.callMe((v: number) => v * 10, 4), 41);
  const depths: number[] = [];
  let depth = 0;
  const down = (n: number): string => {
    depth++;
    depths.push(depth);
    try {
      return root.nest(n, down);
    } finally {
      depth--;
    }
  };
  assert.equal(down(10), "s10>s9>s8>s7>s6>s5>s4>s3>s2>s1>bottom");
  assert.deepEqual(depths, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

Deno.test("sync: a callback on another connection is served while one connection blocks", async () => {
  await using server = await startSyncServer();
  using first = connectSync("127.0.0.1", server.port);
  using second = connectSync("127.0.0.1", server.port);
  const seen: string[] = [];
  // The first connection's callback makes a call on the second, which calls back in turn.
  const result = first.root.callMe((x: number) => {
    seen.push("first callback");
    return second.root.callMe((y: number) => {
      seen.push("second callback");
      return y * 2;
    }, x);
  }, 5);
  assert.equal(result, 12);
  assert.deepEqual(seen, ["first callback", "second callback"]);
});

Deno.test("sync: a callback that returns a promise while blocked fails, saying why and what to do", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const error = (() => {
    try {
      conn.root.callMe(async (x: number) => await Promise.resolve(x), 1);
    } catch (e) {
      return e as Error;
    }
  })();
  assert.ok(error, "the call threw");
  assert.match(error.message, /returned a promise while this thread is blocked/);
  assert.match(error.message, /conn\.async/);
  assert.equal(conn.root.add(2, 2), 4, "the connection still works");
});

Deno.test("sync: conn.async overlaps calls, and its callbacks may be async", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const sleep = conn.async(conn.root.sleep);
  const results = await Promise.all([sleep(150), sleep(150), sleep(150)]);
  assert.deepEqual(results, ["slept", "slept", "slept"]);
  assert.ok(conn.root.mostRunning >= 2, `at most ${conn.root.mostRunning} ran at once`);
  const callMe = conn.async(conn.root.callMe);
  assert.equal(await callMe(async (x: number) => await Promise.resolve(x * 3), 2), 7);
});

Deno.test("sync: remote errors throw at the call, with the remote type and message", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  assert.throws(() => conn.root.fail(), (e: Error) => {
    assert.ok(e instanceof TypeError, `${e.constructor.name}`);
    assert.match(e.message, /boom from server/);
    return true;
  });
});

Deno.test("sync: a per-call timeout throws TimeoutError, drops the late reply, keeps the connection", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  const hang = conn.timed(conn.root.hang, 200);
  assert.throws(() => hang(), TimeoutError);
  const sleep = conn.timed(conn.root.sleep, 50);
  assert.throws(() => sleep(300), TimeoutError);
  assert.equal(conn.root.add(1, 1), 2);
  // The late "slept" arrives during this call and is dropped.
  assert.equal(conn.root.sleep(400), "slept");
  assert.equal(conn.stats().pendingRequests, 0);
});

Deno.test("sync: the server dying rejects the blocked call with ConnectionClosedError", async () => {
  await using server = await startSyncServer();
  using conn = connectSync("127.0.0.1", server.port);
  conn.root.die(3);
  assert.throws(() => conn.root.hang(), ConnectionClosedError);
  assert.equal(conn.closed, true);
  assert.throws(() => conn.root.add(1, 2), ConnectionClosedError);
});

Deno.test("sync: connecting to nothing fails with the runtime's error, naming the address", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  assert.throws(
    () => connectSync("127.0.0.1", port),
    (e: Error) => e instanceof Deno.errors.ConnectionRefused && e.message.includes(`${port}`),
  );
});

Deno.test("sync: a peer that is not rdc is refused", async () => {
  // A "server" that greets with garbage, in a child: this thread blocks while connecting.
  const garbage = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
       console.log(l.addr.port);
       const c = await l.accept();
       await c.write(new TextEncoder().encode("\\x00\\x00\\x00\\x05HTTP/"));
       await new Promise((r) => setTimeout(r, 3000));`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = garbage.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const garbagePort = Number((await reader.read()).value);
  try {
    assert.throws(
      () => connectSync("127.0.0.1", garbagePort, { handshakeTimeout: 2000 }),
      (e: Error) => e instanceof ProtocolError && /not an rdc peer/.test(e.message),
    );
  } finally {
    garbage.kill();
    await reader.cancel();
    await garbage.status;
  }
});

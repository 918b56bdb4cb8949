/**
 * The message layer, through the library over real loopback sockets: values
 * of any size travel in chunks and interleave with small messages, limits are
 * announced and refuse one call (never the connection), budgets refuse or
 * slow a peer down, a peer that stops reading is cut off, and large values
 * are worked on in slices while other clients are served.
 *
 * Nothing here times anything: where fairness is the point, the tests check
 * the order in which things finish.
 */

import assert from "node:assert/strict";
import {
  connect,
  currentCall,
  LimitError,
  obtain,
  ref,
  serve,
  Service,
  timed,
  TimeoutError,
} from "../mod.ts";
import { pair, quietLogger, rawFrame, rejection, waitFor, writeAll } from "./_helpers.ts";
import { concat, hello } from "./_raw_peer.ts";

const MiB = 1024 * 1024;

class Thing {
  constructor(readonly n: number) {}
  exposed_n(): number {
    return this.n;
  }
}

class BulkService extends Service {
  static calls = 0;
  static bytesServed = 0;
  exposed_echo(value: unknown): unknown {
    BulkService.calls++;
    return value;
  }
  exposed_bytes(size: number): Uint8Array {
    BulkService.bytesServed++;
    return new Uint8Array(size).fill(7);
  }
  exposed_length(bytes: Uint8Array): number {
    return bytes.length;
  }
  exposed_rows(count: number): { id: number; name: string; tags: string[] }[] {
    return Array.from({ length: count }, (_, id) => ({ id, name: `row ${id}`, tags: ["a", "b"] }));
  }
  exposed_make(n: number): Thing {
    return new Thing(n);
  }
  exposed_count(...callbacks: unknown[]): number {
    return callbacks.length;
  }
  exposed_hang(): Promise<string> {
    const { signal } = currentCall();
    return new Promise((resolve) => {
      if (signal.aborted) return resolve("aborted");
      signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
  }
}

Deno.test("message layer: a value larger than a frame travels in chunks and round-trips", async () => {
  await using p = await pair(BulkService);
  const rows = Array.from({ length: 120_000 }, (_, i) => ({ i, s: `v${i}` }));
  const before = p.client.stats().framesSent;
  const back = await p.client.root.echo(rows) as typeof rows;
  assert.equal(back.length, rows.length);
  assert.deepEqual(back[119_999], { i: 119_999, s: "v119999" });
  assert.ok(
    p.client.stats().framesSent - before > 1,
    "a body of more than 2 MiB cannot travel in one frame",
  );
});

Deno.test("message layer: a byte array beyond the old 64 MiB frame limit round-trips", async () => {
  await using p = await pair(BulkService);
  const bytes = new Uint8Array(70 * MiB);
  bytes[0] = 1;
  bytes[bytes.length - 1] = 2;
  const back = await p.client.root.echo(bytes) as Uint8Array;
  assert.equal(back.length, bytes.length);
  assert.equal(back[0], 1);
  assert.equal(back[back.length - 1], 2);
  assert.equal(await p.client.root.length(new Uint8Array(3)), 3, "the connection goes on");
});

Deno.test("message layer: a small call overtakes a large value in transit on the same connection", async () => {
  await using p = await pair(BulkService);
  const order: string[] = [];
  const big = p.client.root.echo(new Uint8Array(64 * MiB)).then(() => order.push("big"));
  // The big request is being copied and sent in chunks; these go between its chunks.
  const small = Promise.all([
    p.client.ping().then(() => order.push("ping")),
    p.client.root.echo("hi").then(() => order.push("small")),
  ]);
  await Promise.all([big, small]);
  assert.deepEqual(order.slice(-1), ["big"], `the big value finishes last: ${order}`);
});

Deno.test("message layer: a call beyond the peer's maxMessageSize fails alone", async (t) => {
  await using p = await pair(BulkService, { maxMessageSize: 2 * MiB }, { maxMessageSize: 3 * MiB });

  await t.step("an argument: refused before anything is sent", async () => {
    const calls = BulkService.calls;
    const sent = p.client.stats().bytesSent;
    const error = await rejection(p.client.root.echo(new Uint8Array(2 * MiB + 1)));
    assert.ok(error instanceof LimitError, String(error));
    assert.match((error as Error).message, /maxMessageSize/);
    assert.equal(BulkService.calls, calls, "the server never ran it");
    assert.ok(p.client.stats().bytesSent - sent < 1024, "nothing of it went on the wire");
  });

  await t.step("a result: the caller gets a LimitError, the connection stays", async () => {
    const error = await rejection(p.client.root.bytes(3 * MiB + 1));
    assert.ok(error instanceof LimitError, String(error));
    assert.match((error as Error).message, /maxMessageSize/);
    assert.equal((await p.client.root.bytes(MiB) as Uint8Array).length, MiB);
  });

  assert.equal(p.client.closed, false);
  assert.equal(await p.client.root.echo("still here"), "still here");
});

Deno.test("message layer: nesting, element and bigint limits are announced and refuse one call", async (t) => {
  await using p = await pair(BulkService, { maxDepth: 8, maxElements: 1000, maxBigIntBytes: 64 });
  await t.step("elements", async () => {
    const error = await rejection(p.client.root.echo(new Array(1001).fill(0)));
    assert.ok(error instanceof LimitError, String(error));
    assert.match((error as Error).message, /maxElements/);
  });
  await t.step("a bigint", async () => {
    const error = await rejection(p.client.root.echo(2n ** 1024n));
    assert.ok(error instanceof LimitError, String(error));
    assert.match((error as Error).message, /maxBigIntBytes/);
    assert.equal(await p.client.root.echo(2n ** 500n), 2n ** 500n);
  });
  await t.step("nesting", async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 12; i++) deep = [deep];
    const error = await rejection(p.client.root.echo(deep));
    assert.ok(error instanceof TypeError, String(error));
  });
  assert.equal(await p.client.root.echo([1, [2]]).then(JSON.stringify), "[1,[2]]");
});

Deno.test("message layer: a peer's pending requests past its budget are refused, not cut off", async () => {
  await using p = await pair(BulkService, { maxPendingRequests: 2 });
  const hanging = [timed(p.client.root.hang, 5_000)(), timed(p.client.root.hang, 5_000)()];
  await waitFor(() => p.serverConn().stats().servingRequests === 2);
  const error = await rejection(p.client.root.echo(1));
  assert.ok(error instanceof LimitError, String(error));
  assert.match((error as Error).message, /requests pending on this connection/);
  assert.equal(p.client.closed, false);
  await p.client.close();
  await Promise.allSettled(hanging);
});

Deno.test("message layer: a server's pending requests are bounded across its connections", async () => {
  await using server = serve(BulkService, {
    port: 0,
    logger: quietLogger(),
    maxTotalPendingRequests: 3,
  });
  const port = (server.addr as Deno.NetAddr).port;
  await using a = await connect("127.0.0.1", port, { logger: quietLogger() });
  await using b = await connect("127.0.0.1", port, { logger: quietLogger() });
  const hanging = [a.root.hang(), a.root.hang(), b.root.hang()];
  await waitFor(() =>
    [...server.connections].reduce((n, c) => n + c.stats().servingRequests, 0) === 3
  );
  const error = await rejection(b.root.echo(1));
  assert.ok(error instanceof LimitError, String(error));
  assert.match((error as Error).message, /requests pending on this server/);
  await a.close();
  // The budget came back with a's connection: b is served again.
  await waitFor(async () => (await b.root.echo(2).catch(() => 0)) === 2);
  await b.close();
  await Promise.allSettled(hanging);
});

Deno.test("message layer: exports and imports past their budgets refuse one message", async (t) => {
  await t.step(
    "maxExports: a result that would export too much fails; exports stay bounded",
    async () => {
      await using p = await pair(BulkService, { maxExports: 3 });
      const held = [await p.client.root.make(1), await p.client.root.make(2)];
      const error = await rejection(p.client.root.make(3));
      assert.ok(error instanceof LimitError, String(error));
      assert.match((error as Error).message, /maxExports/);
      assert.equal(p.serverConn().stats().exports, 3, "the root and two objects");
      for (const thing of held) thing[Symbol.dispose]();
      await waitFor(() => p.serverConn().stats().exports === 1);
      assert.equal(await (await p.client.root.make(4)).n(), 4);
    },
  );

  await t.step(
    "maxImports: a request bringing too many netrefs is refused, its references given back",
    async () => {
      await using p = await pair(BulkService, { maxImports: 3 });
      const callbacks = [1, 2, 3, 4, 5].map((n) => () => n);
      const error = await rejection(p.client.root.count(...callbacks));
      assert.ok(error instanceof LimitError, String(error));
      assert.match((error as Error).message, /maxImports/);
      // Everything the refused request exported comes back to the client.
      await waitFor(() => p.client.stats().exports === 1, 2_000, "the releases");
      assert.equal(await p.client.root.count(() => 1, () => 2), 2);
    },
  );
});

Deno.test("message layer: a request given up while still in transit never runs", async () => {
  await using p = await pair(BulkService);
  const calls = BulkService.calls;
  const exports = p.client.stats().exports;
  const payload = { bytes: new Uint8Array(64 * MiB), callback: () => 1 };
  const error = await rejection(timed(p.client.root.echo, 1)(payload));
  assert.ok(error instanceof TimeoutError, String(error));
  assert.equal(await p.client.root.echo("after"), "after");
  assert.equal(BulkService.calls, calls + 1, "only the call after it ran");
  // Taken back at once when the timeout stopped it in transit; when a slow machine fires the
  // timer only after its last byte left, the CANCEL stops it on the server, which gives the
  // callback back with its next RELEASE.
  await waitFor(() => p.client.stats().exports === exports, 2_000, "its export back");
});

Deno.test("message layer: a request pipelined on one still in transit waits for it", async () => {
  await using p = await pair(BulkService);
  const big = p.client.root.echo({ bytes: new Uint8Array(32 * MiB), tag: "x" });
  const tag = await big.tag; // pipelined: a GET on the answer of a request still being sent
  assert.equal(tag, "x");
  assert.equal(((await big) as { bytes: Uint8Array }).bytes.length, 32 * MiB);
});

Deno.test("message layer: member lists stay right when messages overtake each other", async () => {
  await using p = await pair(BulkService);
  // The big reply describes Thing's list; the small one after it may arrive first.
  const big = p.client.root.echo({ bytes: new Uint8Array(16 * MiB), thing: ref(new Thing(1)) });
  const small = await p.client.root.make(2);
  assert.ok("n" in small, "the small reply's netref knows its members");
  const { thing } = await big as { thing: Thing };
  assert.ok("n" in thing);
});

Deno.test("message layer: obtain copies only what the peer's policy lets it read, under its own name", async (t) => {
  class Account {
    name = "alice";
    secret = "hunter2";
    exposed_label = "visible";
    exposed_secret(): string {
      return "the method, not the field";
    }
  }
  class VaultService extends Service {
    exposed_account = new Account();
    secret = "the service's own";
    exposed_self(): VaultService {
      return this;
    }
  }
  await using p = await pair(VaultService);
  await t.step("a strict server leaks no field an exposed_ method shares a name with", async () => {
    const copy = await obtain(p.client.root.account) as Record<string, unknown>;
    assert.deepEqual(copy, { exposed_label: "visible" });
  });
  await t.step("a service's own fields stay private", async () => {
    const copy = await obtain(p.client.root.self()) as Record<string, unknown>;
    assert.equal(copy.secret, undefined);
  });
  await t.step("the same holds for a malicious server reading the client's objects", async () => {
    const seen: unknown[] = [];
    class SpyService extends Service {
      async exposed_steal(remote: unknown): Promise<void> {
        seen.push(await obtain(remote));
      }
    }
    await using spy = await pair(SpyService);
    await spy.client.root.steal(ref(new Account()));
    assert.deepEqual(seen, [{ exposed_label: "visible" }]);
  });
});

Deno.test("message layer: a large value is worked on in slices while others are served", async () => {
  await using server = serve(BulkService, { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using pulling = await connect("127.0.0.1", port, { logger: quietLogger() });
  await using pinging = await connect("127.0.0.1", port, { logger: quietLogger() });
  let pulled = false;
  const pull = pulling.root.rows(400_000).then(() => (pulled = true));
  // Pings on the other connection complete while the rows are boxed, sent and unboxed.
  let pingsDuringPull = 0;
  while (!pulled) {
    await pinging.ping();
    if (!pulled) pingsDuringPull++;
  }
  await pull;
  assert.ok(pingsDuringPull >= 5, `${pingsDuringPull} pings answered during the pull`);
});

Deno.test("message layer: a peer that stops reading is slowed, then cut off; others go on", async () => {
  const logger = quietLogger();
  await using server = serve(BulkService, {
    port: 0,
    logger,
    maxOutboundBytes: 4 * MiB,
    drainTimeout: 1_000,
  });
  const port = (server.addr as Deno.NetAddr).port;
  await using honest = await connect("127.0.0.1", port, { logger: quietLogger() });
  const served = BulkService.bytesServed;
  const others = new Set(server.connections);
  // A raw client asks for 256 results of 1 MiB and never reads a byte.
  const greedy = await Deno.connect({ hostname: "127.0.0.1", port });
  const requests = [hello()];
  for (let seq = 0; seq < 256; seq++) requests.push([1, seq, 1, 0, ["bytes"], [], [MiB]]);
  await writeAll(greedy, concat(...requests.map((message) => rawFrame(message))));
  let mostBuffered = 0;
  await waitFor(
    () => {
      const conn = [...server.connections].find((c) => !others.has(c));
      if (conn) mostBuffered = Math.max(mostBuffered, conn.stats().bufferedOutbound);
      return logger.lines.some((line) => /drainTimeout/.test(line));
    },
    10_000,
    "the greedy client to be cut off",
  );
  const count = BulkService.bytesServed - served;
  assert.ok(count < 64, `it stopped reading the greedy client's requests after ${count}`);
  assert.ok(mostBuffered <= 5 * MiB + 64 * 1024, `at most ${mostBuffered} bytes queued`);
  assert.equal(await honest.root.echo("ok"), "ok");
  greedy.close();
});

Deno.test("message layer: limits below what any message needs are refused when set", () => {
  for (
    const [key, value] of [
      ["maxMessageSize", 1024],
      ["maxFrameSize", 1024],
      ["maxDepth", 2],
      ["maxElements", 8],
      ["maxBigIntBytes", 4],
    ] as const
  ) {
    assert.throws(
      () => serve(BulkService, { port: 0, [key]: value }),
      (e: Error) => e instanceof RangeError && e.message.includes(`${key} must be at least`),
    );
  }
  assert.throws(
    () => serve(BulkService, { port: 0, maxInboundBytes: MiB, maxMessageSize: 2 * MiB }),
    /maxInboundBytes \(1048576\) must be at least maxMessageSize/,
  );
});

Deno.test("message layer: peers holding the server's inbound budget with half-sent messages are cut off", async () => {
  const logger = quietLogger();
  await using server = serve(BulkService, {
    port: 0,
    logger,
    maxMessageSize: 4 * MiB,
    maxTotalInboundBytes: 8 * MiB,
    drainTimeout: 1_000,
  });
  const port = (server.addr as Deno.NetAddr).port;
  // Two raw peers each announce a 4 MiB message, send a byte of it, and stop.
  const tricklers = await Promise.all([0, 1].map(async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, rawFrame(hello()));
    await writeAll(conn, firstChunk(0, 4 * MiB, new Uint8Array(1)));
    return conn;
  }));
  await using honest = await connect("127.0.0.1", port, { logger: quietLogger() });
  // Small calls need no room: they go on.
  assert.equal(await honest.root.echo("small"), "small");
  // A big upload waits for room, which comes once the stalled peers are cut off.
  assert.equal(await honest.root.length(new Uint8Array(3 * MiB)), 3 * MiB);
  assert.ok(
    logger.lines.filter((line) => /in the middle of a message \(drainTimeout\)/.test(line))
      .length >= 1,
    logger.lines.join("\n"),
  );
  for (const conn of tricklers) conn.close();
});

Deno.test("message layer: a huge Map from one client is decoded in slices; others are served", async () => {
  await using server = serve(BulkService, { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using sending = await connect("127.0.0.1", port, { logger: quietLogger() });
  await using pinging = await connect("127.0.0.1", port, { logger: quietLogger() });
  const map = new Map<number, string>();
  for (let i = 0; i < 600_000; i++) map.set(i, "x");
  let done = false;
  const echo = sending.root.length(map).then(() => (done = true)).catch(() => (done = true));
  let pings = 0;
  while (!done) {
    await pinging.ping();
    if (!done) pings++;
  }
  await echo;
  assert.ok(pings >= 5, `${pings} pings answered while the map was boxed, sent and unboxed`);
});

Deno.test("message layer: an idle connection costs the server little memory", async () => {
  const script = `
    import { serve, Service } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    class S extends Service { exposed_add(a, b) { return a + b; } }
    const server = serve(S, { port: 0, maxConnections: 2000 });
    console.log((server.addr).port);
    for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
      globalThis.gc?.();
      console.log(Deno.memoryUsage().rss, server.connections.size);
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  let pending = "";
  const nextLine = async (): Promise<string> => {
    while (!pending.includes("\n")) pending += (await lines.read()).value ?? "";
    const [line, ...rest] = pending.split("\n");
    pending = rest.join("\n");
    return line;
  };
  const rss = async (): Promise<[number, number]> => {
    await writer.write(new TextEncoder().encode("\n"));
    const [bytes, count] = (await nextLine()).split(" ").map(Number);
    return [bytes, count];
  };
  const port = Number(await nextLine());
  const [before] = await rss();
  const count = 400;
  const conns: Awaited<ReturnType<typeof connect>>[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await connect("127.0.0.1", port, { logger: quietLogger() });
    await conn.root.add(1, 2);
    conns.push(conn);
  }
  const [after, open] = await rss();
  assert.equal(open, count);
  const perConnection = (after - before) / count;
  assert.ok(
    perConnection < 128 * 1024,
    `${Math.round(perConnection / 1024)} KiB per idle connection`,
  );
  await Promise.all(conns.map((c) => c.close()));
  await writer.close();
  child.kill();
  await child.status;
});

/** The first chunk of stream `id`: a body of `bodyLength` bytes, `data` of it in this frame. */
function firstChunk(id: number, bodyLength: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 5 + 6 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (0x80000000 | (5 + 6 + data.length)) >>> 0);
  view.setUint32(4, id);
  out[8] = 0x01; // FIRST
  view.setUint32(9, bodyLength);
  view.setUint16(13, 0); // no attachments
  out.set(data, 15);
  return out;
}

Deno.test("message layer: a request pipelined on one given up in transit fails with the same reason", async () => {
  await using p = await pair(BulkService);
  // Answers the server keeps until the client says FINISH: they ride on the next request.
  for (let i = 0; i < 3; i++) await p.client.root.echo(i);
  const big = timed(p.client.root.echo, 1)({ bytes: new Uint8Array(64 * MiB) });
  const pipelined = big.bytes.length;
  const first = await rejection(big);
  const second = await rejection(pipelined);
  assert.ok(first instanceof TimeoutError, String(first));
  assert.equal(second, first, "the pipelined request fails with its base's reason");
  // The FINISHes the given-up request carried still reach the server.
  assert.equal(await p.client.root.echo("after"), "after");
  await waitFor(
    () => p.serverConn().stats().answers === 0,
    2_000,
    "the server to forget every answer",
  );
});

Deno.test("message layer: a body of several blocks, with a long string in pieces, round-trips", async () => {
  await using p = await pair(BulkService);
  // Over 1 MiB the writer keeps blocks instead of copying, and a string over a
  // million characters is written in pieces whose length goes in its header last.
  const text = "héllo wörld 🌍 ".repeat(300_000);
  const list = Array.from({ length: 300_000 }, (_, i) => i * 1.5);
  const back = await p.client.root.echo({ text, list }) as { text: string; list: number[] };
  assert.equal(back.text, text);
  assert.equal(back.list.length, list.length);
  assert.equal(back.list[299_999], 449_998.5);
});

Deno.test("message layer: requests read after a connection closed take no budget it would not give back", async () => {
  const budget = 4;
  await using server = serve(BulkService, {
    port: 0,
    logger: quietLogger(),
    maxTotalPendingRequests: budget,
  });
  const port = (server.addr as Deno.NetAddr).port;
  // A request on an answer not yet asked fails a moment later (a protocol error);
  // the requests right behind it are already read when the connection closes.
  const raw = await Deno.connect({ hostname: "127.0.0.1", port });
  const traffic = [hello(), [1, 5, 9, -8, [], [], []]];
  for (let seq = 0; seq < 5; seq++) traffic.push([1, seq, 1, 0, ["echo"], [], [seq]]);
  await writeAll(raw, concat(...traffic.map((message) => rawFrame(message))));
  await waitFor(() => server.connections.size === 0, 5_000, "the raw connection to close");
  raw.close();
  // Every unit came back: as many hanging calls as the budget holds are all taken.
  await using client = await connect("127.0.0.1", port, { logger: quietLogger() });
  const hanging = Array.from({ length: budget }, () => timed(client.root.hang, 2_000)());
  await waitFor(
    () => [...server.connections][0]?.stats().servingRequests === budget,
    2_000,
    `${budget} calls served at once`,
  );
  await client.close();
  await Promise.allSettled(hanging);
});

Deno.test("message layer: large messages both ways at once fit an inbound budget of less than two", async () => {
  // Found by the fuzzer: with chunks of two messages interleaved, each held
  // room for itself and waited for the rest, which only the other could free.
  const limits = { maxMessageSize: 2 * MiB, maxInboundBytes: 2 * MiB };
  await using server = serve(BulkService, { port: 0, logger: quietLogger(), ...limits });
  const port = (server.addr as Deno.NetAddr).port;
  await using client = await connect("127.0.0.1", port, { logger: quietLogger(), ...limits });
  const size = 1.5 * MiB;
  const uploads = [1, 2, 3].map(() => timed(client.root.length, 10_000)(new Uint8Array(size)));
  assert.deepEqual(await Promise.all(uploads), [size, size, size]);
  const downloads = [1, 2, 3].map(() => timed(client.root.bytes, 10_000)(size));
  for (const bytes of await Promise.all(downloads)) {
    assert.equal((bytes as Uint8Array).length, size);
  }
});

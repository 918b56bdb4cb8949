/**
 * Gaps: behaviours the other suites do not pin down, over real loopback
 * sockets. The "robustness:" tests each pin one defect a review of core/ found
 * (races, leaks, unhandled rejections, policy holes), now fixed.
 */

import assert from "node:assert/strict";
import { ExtData } from "@msgpack/msgpack";
import {
  AccessError,
  connect,
  type Connection,
  ConnectionClosedError,
  currentCall,
  deleteMember,
  hasMember,
  isRemote,
  obtain,
  ProtocolError,
  ref,
  RemoteError,
  serve,
  Service,
  setMember,
  timed,
  TimeoutError,
} from "../mod.ts";
import { pair, quietLogger, rejection, waitFor } from "./_helpers.ts";
import {
  EOF,
  exportedId,
  exportExt,
  hello,
  MSG,
  OP,
  RawPeer,
  request,
  shapeTable,
  tag,
  thrownError,
} from "./_raw_peer.ts";

// ---- fixtures ------------------------------------------------------------------------------

class Leaf {
  exposed_kind = "leaf";
}

let widgetsMade = 0;

/** An instance with a long member list, a child, and a `next` that is NOT exposed. */
class Widget {
  readonly id = ++widgetsMade;
  exposed_child = new Leaf();
  exposed_aVeryLongMemberNameThatMakesTheMemberListBig = 1;
  exposed_anotherQuiteLongMemberNameForTheMemberList = 2;
  exposed_yetAnotherLongMemberNameToPadTheMemberList = 3;
  nextCalls = 0;
  exposed_take(x: unknown): unknown {
    return x;
  }
  exposed_label(): string {
    return `widget ${this.id}`;
  }
  /** Not exposed: no peer may call it under the strict policy. */
  next(): IteratorResult<string> {
    this.nextCalls++;
    return { done: false, value: "secret" };
  }
}

class Counter {
  count = 0;
  exposed_increment(): number {
    return ++this.count;
  }
}

interface GapState {
  log: unknown[];
  gate: PromiseWithResolvers<void>;
  lastWidget?: Widget;
  late: number;
  ran: number;
}

function newState(): GapState {
  return { log: [], gate: Promise.withResolvers(), late: 0, ran: 0 };
}

function nested(depth: number): unknown[] {
  const root: unknown[] = [];
  let current = root;
  for (let i = 0; i < depth; i++) current.push(current = []);
  return root;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function gapService(state: GapState) {
  return class GapService extends Service {
    exposed_config = { a: 1, db: { host: "h" } };
    exposed_counter = new Counter();
    exposed_kept: unknown = null;
    exposed_promised = { p: Promise.resolve(1), n: 2 };
    secret = "not exposed";

    exposed_make(): Widget {
      return state.lastWidget = new Widget();
    }
    exposed_owns(x: unknown): boolean {
      return x instanceof Widget;
    }
    exposed_isLeaf(x: unknown): boolean {
      return x instanceof Leaf;
    }
    exposed_echo(x: unknown): unknown {
      return x;
    }
    exposed_nameOf(x: unknown): string {
      return String(x);
    }
    exposed_log(x: unknown): void {
      state.log.push(x);
    }
    exposed_keep(fn: unknown, obj: unknown): void {
      this.exposed_kept = { fn, obj, n: 1, list: [fn] };
    }
    async exposed_pushInto(list: { push(x: unknown): Promise<number> }, x: unknown) {
      return await list.push(x);
    }
    exposed_throwSync(): never {
      throw new RangeError("thrown synchronously");
    }
    async exposed_throwAsync(): Promise<never> {
      await sleep(1);
      throw new RangeError("thrown asynchronously");
    }
    exposed_returnRejected(): Promise<never> {
      return Promise.reject(new RangeError("a rejected promise, returned"));
    }
    exposed_deep(n: number): unknown {
      return nested(n);
    }
    exposed_waitValue(): Promise<{ value: number }> {
      return state.gate.promise.then(() => ({ value: 5 }));
    }
    async exposed_slow(ms: number): Promise<string> {
      const { signal } = currentCall();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        }, { once: true });
      });
      return "done";
    }
    async exposed_ignoring(ms: number): Promise<string> {
      await sleep(ms); // never looks at its signal
      state.late++;
      return "late";
    }
    exposed_items(): number[] {
      return [1, 2, 3];
    }
    exposed_self(): unknown {
      return this;
    }
    exposed_mixed(): unknown[] {
      return [new Widget(), Symbol("no wire form")];
    }
    exposed_sideEffect(): void {
      state.ran++;
    }
    exposed_throwProtocol(): never {
      throw new ProtocolError("an application-level protocol error");
    }
    exposed_thenTrap(): object {
      return new Proxy({}, {
        get(_target, key) {
          if (key === "then") throw new Error("this object has no then");
          return undefined;
        },
      });
    }
    exposed_sharedCause(): never {
      const cause = { code: 7 };
      const error = new Error("with a cause", { cause }) as Error & { related: unknown };
      error.related = cause;
      throw error;
    }
  };
}

/**
 * Awaits `value`, but gives up once `conn` has closed without settling it (a
 * call left pending by a closed connection is itself a bug, reported as `hung`).
 */
async function settleOrClose(
  value: unknown,
  conn: Connection,
): Promise<{ value?: unknown; error?: unknown; hung?: true }> {
  let result: { value?: unknown; error?: unknown } | undefined;
  const settled = Promise.resolve(value).then(
    (v) => (result = { value: v }),
    (e) => (result = { error: e }),
  );
  await Promise.race([settled, conn.finished]);
  if (!result) await sleep(50); // closing rejects pending calls a tick later
  return result ?? { hung: true };
}

/** Records unhandled promise rejections (which would otherwise kill the process). */
function trackUnhandled(): { errors: unknown[] } & Disposable {
  const errors: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    errors.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  return {
    errors,
    [Symbol.dispose]() {
      globalThis.removeEventListener("unhandledrejection", onUnhandled);
    },
  };
}

/** A handshaken raw peer connected to `port` (it plays the client). */
async function rawClient(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  assert.equal((await peer.next())[0], MSG.HELLO);
  await peer.send(hello());
  return peer;
}

/** A library client connected to a handshaken raw peer that plays the server. */
async function rawServer(
  options: Parameters<typeof connect>[2] = {},
): Promise<{ raw: RawPeer; client: Connection }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const connecting = connect("127.0.0.1", (listener.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
    ...options,
  });
  const raw = new RawPeer(await accepting);
  listener.close();
  assert.equal((await raw.next())[0], MSG.HELLO);
  await raw.send(hello());
  return { raw, client: await connecting };
}

/** Reads messages until one satisfies `match` (or the peer closes / goes quiet). */
async function readUntil(
  peer: RawPeer,
  match: (frame: unknown[]) => boolean,
  timeoutMs = 2000,
): Promise<unknown[] | undefined> {
  while (true) {
    let message: unknown[] | typeof EOF;
    try {
      message = await peer.readMessage(timeoutMs);
    } catch {
      return undefined; // quiet for timeoutMs
    }
    if (message === EOF) return undefined;
    if (match(message)) return message;
  }
}

// ---- gaps: behaviour that works but had no test --------------------------------------------

Deno.test("gaps: a netref whose answer already arrived, passed as an argument", async () => {
  await using p = await pair(gapService(newState()));
  const root = p.client.root;
  const c = root.make();
  await c;
  assert.equal(await root.owns(c), true, "the answer proxy goes home as the server's object");
  assert.equal(await root.isLeaf(c.child), true, "a path on it goes as a lazy path");
  const cfg = root.echo({ db: { host: "x" } });
  await cfg;
  assert.equal(await root.echo(cfg.db.host), "x", "a path through arrived data is copied");
  assert.equal(p.client.closed, false);
});

Deno.test("gaps: lazy paths nested in arguments (object, array, Map value, Set item)", async () => {
  await using p = await pair(gapService(newState()));
  const root = p.client.root;
  assert.deepEqual(await root.echo({ nested: { v: root.config.a } }), { nested: { v: 1 } });
  assert.deepEqual(await root.echo([[root.config.db.host]]), [["h"]]);
  assert.deepEqual(await root.echo(new Map([["k", root.config.a]])), new Map([["k", 1]]));
  assert.deepEqual(await root.echo(new Set([root.config.a])), new Set([1]));
  // A path on an answer not yet here rides along too.
  assert.deepEqual(await root.echo({ w: root.make().child.kind }), { w: "leaf" });
  const before = p.client.stats().framesSent;
  assert.deepEqual(await root.echo({ a: root.config.a }), { a: 1 });
  assert.equal(p.client.stats().framesSent - before, 1, "no extra round trip for the lazy path");
});

Deno.test("gaps: obtain() of an object holding netrefs keeps them netrefs", async () => {
  await using p = await pair(gapService(newState()));
  const root = p.client.root;
  const fn = (x: number) => x + 1;
  const obj = { hits: 0 };
  await root.keep(fn, ref(obj));
  const copy = await obtain<{ fn: unknown; obj: unknown; n: number; list: unknown[] }>(root.kept);
  assert.equal(isRemote(copy), false);
  assert.equal(copy.n, 1);
  assert.equal(copy.fn, fn, "our own function comes home as itself");
  assert.equal(copy.obj, obj, "our own object comes home as itself");
  assert.equal(copy.list[0], fn);
});

Deno.test("gaps: ref([]) with allowPublicAttrs lets the peer push into our array", async () => {
  await using p = await pair(gapService(newState()), {}, { allowPublicAttrs: true });
  const list: number[] = [];
  assert.equal(await p.client.root.pushInto(ref(list), 5), 1);
  assert.equal(await p.client.root.pushInto(ref(list), 6), 2);
  assert.deepEqual(list, [5, 6]);
  // Under the strict policy the same push is refused.
  await using strict = await pair(gapService(newState()));
  const refused = await rejection(strict.client.root.pushInto(ref([]), 1));
  assert.ok(refused instanceof AccessError, `got ${refused}`);
});

Deno.test("gaps: `in` answers from member lists, and a list is sent once per shape", async () => {
  await using p = await pair(gapService(newState()));
  const root = p.client.root;
  assert.equal("make" in root, true, "from the handshake's member list");
  assert.equal("exposed_make" in root, true);
  assert.equal("secret" in root, false);
  const received = async () => {
    const before = p.client.stats().bytesReceived;
    const widget = await root.make();
    assert.equal("aVeryLongMemberNameThatMakesTheMemberListBig" in widget, true);
    assert.equal("next" in widget, false);
    return p.client.stats().bytesReceived - before;
  };
  const first = await received();
  const second = await received();
  const third = await received();
  assert.ok(second < first, `the list rides only on the first export (${first} vs ${second})`);
  assert.ok(first - second > 100, `the saving is the list's size (${first - second} bytes)`);
  assert.equal(third, second);
});

Deno.test("gaps: onConnect that throws", async (t) => {
  await t.step("on the server: that client is refused, the server keeps serving", async () => {
    let connects = 0;
    class PickyService extends Service {
      override onConnect(): void {
        if (connects++ === 0) throw new Error("not you");
      }
      exposed_hello(): string {
        return "hello";
      }
    }
    const lines: string[] = [];
    await using server = serve(PickyService, { port: 0, logger: quietLogger(lines) });
    const port = (server.addr as Deno.NetAddr).port;
    const refused = await connect("127.0.0.1", port, { logger: quietLogger() }).then(
      async (conn) => {
        await conn.finished;
        return conn.closeReason;
      },
      (error) => error,
    );
    assert.match(String(refused), /not you/);
    await waitFor(() => lines.some((l) => /not you/.test(l)), 3000, "the server's log line");
    await using ok = await connect("127.0.0.1", port, { logger: quietLogger() });
    assert.equal(await ok.root.hello(), "hello");
  });
  await t.step("on the client: connect rejects with its error", async () => {
    class ClientRefuses extends Service {
      override onConnect(): void {
        throw new TypeError("client says no");
      }
    }
    await using server = serve(gapService(newState()), { port: 0, logger: quietLogger() });
    const port = (server.addr as Deno.NetAddr).port;
    const error = await rejection(
      connect("127.0.0.1", port, { service: ClientRefuses, logger: quietLogger() }),
    );
    assert.ok(error instanceof TypeError && /client says no/.test(error.message), `got ${error}`);
    await waitFor(() => server.connections.size === 0);
    await using ok = await connect("127.0.0.1", port, { logger: quietLogger() });
    assert.equal(await ok.root.echo(1), 1);
  });
});

Deno.test("gaps: a sync throw, an async throw and a returned rejection look the same", async () => {
  await using p = await pair(gapService(newState()));
  const root = p.client.root;
  for (
    const [call, message] of [
      [() => root.throwSync(), "thrown synchronously"],
      [() => root.throwAsync(), "thrown asynchronously"],
      [() => root.returnRejected(), "a rejected promise, returned"],
    ] as const
  ) {
    const error = await rejection(call());
    assert.ok(error instanceof RangeError, `got ${error}`);
    assert.ok(error instanceof RemoteError);
    assert.equal((error as Error).message, message);
  }
  assert.equal(await root.echo("fine"), "fine");
});

Deno.test("gaps: a result nested deeper than maxDepth fails that call only", async () => {
  await using p = await pair(gapService(newState()), { maxDepth: 10 });
  const root = p.client.root;
  assert.equal((await root.deep(5)).length, 1);
  const error = await rejection(root.deep(50));
  assert.ok(error instanceof TypeError, `got ${error}`);
  assert.match((error as Error).message, /nested deeper than 10/);
  assert.equal(p.client.closed, false);
  assert.equal(await root.echo("still fine"), "still fine");
});

Deno.test("gaps: netref operations after close reject with ConnectionClosedError", async () => {
  const p = await pair(gapService(newState()), { allowSetAttr: true, allowPublicAttrs: true });
  const widget = await p.client.root.make();
  await p.client.close();
  widget.foo = 1; // assignment syntax cannot report; it must not throw either
  delete widget.foo;
  for (
    const op of [
      setMember(widget, "foo", 1),
      deleteMember(widget, "foo"),
      hasMember(widget, "foo"),
      obtain(widget),
      widget.label(),
      p.client.root.config.a,
      p.client.ping(),
    ]
  ) {
    const error = await rejection(op);
    assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
  }
  await p.server.close();
});

Deno.test("gaps: ping() resolves with a round-trip time from either end", async () => {
  await using p = await pair(gapService(newState()));
  const rtt = await p.client.ping();
  assert.equal(typeof rtt, "number");
  assert.ok(Number.isFinite(rtt) && rtt >= 0, `got ${rtt}`);
  const back = await p.serverConn().ping();
  assert.ok(Number.isFinite(back) && back >= 0, `got ${back}`);
});

Deno.test("gaps: onClose fires once with the reason; a disposed listener does not", async () => {
  await using p = await pair(gapService(newState()));
  const heard: Error[] = [];
  const dropped: Error[] = [];
  p.client.onClose((reason) => heard.push(reason));
  const subscription = p.client.onClose((reason) => dropped.push(reason));
  subscription[Symbol.dispose]();
  const serverHeard: Error[] = [];
  p.serverConn().onClose((reason) => serverHeard.push(reason));
  await p.client.close();
  await p.client.close();
  assert.equal(heard.length, 1);
  assert.ok(heard[0] instanceof ConnectionClosedError, `got ${heard[0]}`);
  assert.equal(heard[0], p.client.closeReason);
  assert.deepEqual(dropped, []);
  await waitFor(() => serverHeard.length === 1, 3000, "the server side's listener");
  assert.ok(serverHeard[0] instanceof Error);
  // Registering after the close calls the listener at once, with the same reason.
  const late: Error[] = [];
  p.client.onClose((reason) => late.push(reason));
  assert.deepEqual(late, [p.client.closeReason]);
});

Deno.test("gaps: server.close() rejects an in-flight call even if the callee ignores it", async () => {
  const state = newState();
  const server = serve(gapService(state), { port: 0, logger: quietLogger() });
  const client = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
  });
  const pending = rejection(client.root.ignoring(50));
  await waitFor(() => [...server.connections][0]?.stats().servingRequests === 1);
  await server.close();
  const error = await pending;
  assert.ok(error instanceof ConnectionClosedError, `got ${error}`);
  await client.finished;
  await waitFor(() => state.late === 1, 3000, "the ignoring callee to end");
});

Deno.test("gaps: an aborted call whose callee ignores its signal: the late reply is ignored", async () => {
  const state = newState();
  const lines: string[] = [];
  await using p = await pair(gapService(state), { logger: quietLogger(lines) }, {
    logger: quietLogger(lines),
  });
  const controller = new AbortController();
  const call = rejection(timed(p.client.root.ignoring, { signal: controller.signal })(30));
  await waitFor(() => p.serverConn().stats().servingRequests === 1);
  controller.abort();
  const error = await call;
  assert.equal((error as DOMException).name, "AbortError");
  await waitFor(() => state.late === 1, 3000, "the callee to finish anyway");
  await p.client.ping(); // anything the callee sent has arrived by now
  assert.equal(p.client.closed, false);
  assert.equal(p.client.stats().pendingRequests, 0);
  await waitFor(() => p.serverConn().stats().answers === 0, 3000, "the answer to be forgotten");
  assert.deepEqual(lines.filter((l) => /^(warn|error)/.test(l)), []);
});

// ---- bugs: each test shows one defect in core/ ---------------------------------------------

Deno.test("robustness: an Error with both a cause and own props keeps shared references", async () => {
  await using p = await pair(gapService(newState()));
  const outcome = await settleOrClose(p.client.root.sharedCause(), p.client);
  assert.equal(p.client.closed, false, `the client closed: ${p.client.closeReason?.message}`);
  const error = outcome.error as Error & { related: unknown };
  assert.ok(error instanceof RemoteError, `got ${error}`);
  assert.deepEqual(error.cause, { code: 7 });
  assert.equal(error.related, error.cause, "cause and props were boxed/unboxed in one order");
});

Deno.test("a lazy path cannot be a Map key: the sender refuses, the connection stays", async () => {
  await using p = await pair(gapService(newState()));
  const error = await rejection(p.client.root.echo(new Map([[p.client.root.config.a, "v"]])));
  assert.ok(error instanceof TypeError && /Map key/.test(error.message), `got ${error}`);
  assert.equal(p.client.closed, false);
  assert.deepEqual(
    await p.client.root.echo(new Map([["k", p.client.root.config.a]])),
    new Map([["k", 1]]),
  );
});

Deno.test("robustness: a send that fails to box takes back the exports it made", async (t) => {
  await t.step("caller side", async () => {
    await using p = await pair(gapService(newState()));
    const error = await rejection(p.client.root.echo([() => 1, Symbol("no wire form")]));
    assert.ok(error instanceof TypeError, `got ${error}`);
    assert.equal(p.client.stats().exports, 1, "the function is no longer exported");
  });
  await t.step("callee side", async () => {
    await using p = await pair(gapService(newState()));
    const error = await rejection(p.client.root.mixed());
    assert.ok(error instanceof TypeError, `got ${error}`);
    assert.equal(p.serverConn().stats().exports, 1, "the Widget is no longer exported");
  });
});

Deno.test("robustness: a send that fails to box does not spoil the member list of its class", async (t) => {
  await t.step("caller side: the next instance sent closes the connection", async () => {
    await using p = await pair(gapService(newState()));
    class Fresh {
      exposed_x = 1;
    }
    await rejection(p.client.root.echo([new Fresh(), Symbol("no wire form")]));
    const outcome = await settleOrClose(p.client.root.owns(new Fresh()), p.client);
    assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
    assert.deepEqual(outcome, { value: false });
  });
  await t.step("callee side: the next instance returned closes the connection", async () => {
    await using p = await pair(gapService(newState()));
    await rejection(p.client.root.mixed());
    const outcome = await settleOrClose(p.client.root.make(), p.client);
    assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
    assert.ok(isRemote(outcome.value), `got ${Deno.inspect(outcome)}`);
  });
});

Deno.test("robustness: a pipelined request with a lazy argument holds its target from arrival", async (t) => {
  await t.step("FINISH for the target answer arrives meanwhile", async () => {
    const state = newState();
    await using p = await pair(gapService(state));
    const root = p.client.root;
    const slow = root.waitValue();
    const fast = root.make();
    const result = fast.take(slow.value); // targets fast's answer, argument on slow's
    await fast;
    // fast's answer was delivered, so the client sent FINISH for it.
    await waitFor(() => p.serverConn().stats().answers === 2, 3000, "FINISH of fast");
    state.gate.resolve();
    const outcome = await settleOrClose(result, p.client);
    assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
    assert.deepEqual(outcome, { value: 5 });
  });
  await t.step("RELEASE of the target export arrives meanwhile", async () => {
    const state = newState();
    await using p = await pair(gapService(state));
    const root = p.client.root;
    const slow = root.waitValue();
    const widget = await root.make();
    const result = widget.take(slow.value);
    widget[Symbol.dispose](); // the request left before the release
    await waitFor(() => p.serverConn().stats().exports === 1, 3000, "the release");
    state.gate.resolve();
    const outcome = await settleOrClose(result, p.client);
    assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
    assert.deepEqual(outcome, { value: 5 });
  });
});

Deno.test("a request waiting for its lazy arguments does not hold up the ones behind it", async () => {
  const state = newState();
  await using p = await pair(gapService(state));
  const root = p.client.root;
  // The first request's argument is the value of a call that has not answered yet.
  const first = root.log(root.waitValue().value);
  await root.log("second");
  assert.deepEqual(state.log, ["second"]);
  state.gate.resolve();
  await first;
  assert.deepEqual(state.log, ["second", 5]);
});

Deno.test("robustness: user code throwing ProtocolError does not close an honest connection", async () => {
  await using p = await pair(gapService(newState()));
  const outcome = await settleOrClose(p.client.root.throwProtocol(), p.client);
  assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
  assert.ok(outcome.error instanceof RemoteError, `got ${Deno.inspect(outcome)}`);
});

Deno.test("robustness: a result whose `then` getter throws fails only that call", async () => {
  using unhandled = trackUnhandled();
  await using p = await pair(gapService(newState()));
  await settleOrClose(p.client.root.thenTrap(), p.client);
  await sleep(20);
  const closed = p.client.closed ? p.client.closeReason?.message : "open";
  assert.deepEqual(unhandled.errors.map(String), [], `unhandled rejections; connection: ${closed}`);
  assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
});

Deno.test("robustness: a reply that fails to unbox closes the connection and fails the call", async () => {
  const { raw, client } = await rawServer();
  try {
    let settled: unknown = "pending";
    client.root.anything().then(
      () => (settled = "fulfilled"),
      (error: unknown) => (settled = error),
    );
    const request = await readUntil(raw, (f) => f[0] === MSG.REQUEST);
    assert.ok(request);
    await raw.send([MSG.REPLY, request[1], new ExtData(99, new Uint8Array(0))]);
    await client.finished;
    await waitFor(() => settled !== "pending", 1000, "the call to settle").catch(() => {});
    assert.ok(settled instanceof ConnectionClosedError, `the call is ${settled}`);
  } finally {
    raw.close();
    await client.close();
  }
});

Deno.test("robustness: a late reply's references are released at once", async () => {
  const { raw, client } = await rawServer({ timeout: 30 });
  try {
    const call = rejection(client.root.make());
    const request = await readUntil(raw, (f) => f[0] === MSG.REQUEST);
    assert.ok(request);
    assert.ok(await call instanceof TimeoutError);
    await readUntil(raw, (f) => f[0] === 5); // the CANCEL
    // The reply crossed the CANCEL: it exports object #7 to the client, of a
    // member list its shape table describes.
    await raw.send([MSG.REPLY, request[1], exportExt(7, 0, "Thing")], shapeTable([[0, ["x"]]]));
    const release = await readUntil(raw, (f) => f[0] === MSG.RELEASE, 1000);
    assert.deepEqual(release, [MSG.RELEASE, [7], [1]], "the client releases #7");
  } finally {
    raw.close();
    await client.close();
  }
});

Deno.test("robustness: NEXT cannot call an unexposed `next` method around the policy", async () => {
  const state = newState();
  await using server = serve(gapService(state), { port: 0, logger: quietLogger() });
  const raw = await rawClient((server.addr as Deno.NetAddr).port);
  try {
    await raw.send(request(0, OP.CALL, 0, ["make"], []));
    const reply = await readUntil(raw, (f) => f[0] === MSG.REPLY);
    assert.ok(reply, "no reply to make()");
    await raw.send(request(1, OP.NEXT, exportedId(reply[2]), [], [null])); // NEXT on the Widget
    const answer = await readUntil(raw, (f) => f[1] === 1 && (f[0] === 2 || f[0] === 3));
    assert.equal(
      state.lastWidget!.nextCalls,
      0,
      `next() ran; the peer got ${Deno.inspect(answer)}`,
    );
  } finally {
    raw.close();
  }
});

Deno.test("robustness: forwarding a netref to a third party sends nothing to its owner", async () => {
  await using a = await pair(gapService(newState()));
  await using b = await pair(gapService(newState()));
  const widget = await b.client.root.make();
  await b.client.ping();
  await sleep(20); // housekeeping (FINISH) has gone out
  const before = b.serverConn().stats().framesReceived;
  const name = await a.client.root.nameOf(widget);
  await sleep(20);
  assert.equal(b.serverConn().stats().framesReceived, before, "B heard from the forwarding");
  assert.match(name, /Widget/, `A sees ${name}`);
});

Deno.test("robustness: a Float16Array travels by value", async () => {
  await using p = await pair(gapService(newState()));
  const sent = new Float16Array([1.5, -2]);
  const outcome = await settleOrClose(p.client.root.echo(sent), p.client);
  assert.ok(!outcome.hung);
  assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
});

Deno.test("robustness: an awaited method keeps its `this`", async () => {
  await using p = await pair(gapService(newState()));
  const increment = await p.client.root.counter.increment;
  assert.deepEqual(await settleOrClose(increment(), p.client), { value: 1 });
});

Deno.test("robustness: for await over an answer that already arrived", async () => {
  await using p = await pair(gapService(newState()));
  const items = p.client.root.items();
  await items;
  const seen: unknown[] = [];
  try {
    for await (const item of items) seen.push(item);
  } catch (error) {
    seen.push(String(error));
  }
  assert.deepEqual(seen, [1, 2, 3]);
});

Deno.test("robustness: server.close() cuts off a pending handshake", async () => {
  const lines: string[] = [];
  const server = serve(gapService(newState()), {
    port: 0,
    handshakeTimeout: 1500,
    logger: quietLogger(lines),
  });
  const silent = await Deno.connect({
    hostname: "127.0.0.1",
    port: (server.addr as Deno.NetAddr).port,
  });
  try {
    const peer = new RawPeer(silent);
    assert.equal((await peer.next())[0], MSG.HELLO); // accepted
    await server.close();
    assert.deepEqual(
      lines.filter((l) => /no handshake/.test(l)),
      [],
      "close() waited for the handshake timeout",
    );
  } finally {
    silent.close();
    await server.close();
  }
});

Deno.test("robustness: a per-call timeout of 2^31 ms or more does not expire at once", async () => {
  await using p = await pair(gapService(newState()));
  const slow = p.client.root.slow as (ms: number) => Promise<string>;
  // The first call sets the shared deadline; the second, shorter one gets a timer of its own.
  const first = timed(slow, 2 ** 32)(40).catch(String);
  const second = timed(slow, 2 ** 31)(20).catch(String);
  assert.deepEqual(await Promise.all([first, second]), ["done", "done"]);
});

Deno.test("robustness: obtain() keeps a promise a reference", async () => {
  await using p = await pair(gapService(newState()));
  const copy = await obtain<{ p: unknown; n: number }>(p.client.root.promised);
  assert.equal(copy.n, 2);
  assert.ok(isRemote(copy.p), `got ${Deno.inspect(copy.p)}`);
});

Deno.test("robustness: the service root sent back is conn.root", async () => {
  await using p = await pair(gapService(newState()));
  const outcome = await settleOrClose(p.client.root.self(), p.client);
  assert.equal(outcome.value, p.client.root);
  assert.equal(p.serverConn().stats().exports, 1);
});

Deno.test("robustness: requests queued behind a refusing onConnect never run", async () => {
  const state = newState();
  class GuardedService extends (gapService(state)) {
    override async onConnect(): Promise<void> {
      await sleep(30);
      throw new Error("access denied");
    }
  }
  await using server = serve(GuardedService, { port: 0, logger: quietLogger() });
  const client = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
  });
  const call = settleOrClose(client.root.sideEffect(), client);
  await client.finished;
  await call;
  await sleep(20);
  assert.equal(state.ran, 0, "the refused peer's request ran");
});

Deno.test("robustness: a bad lazy path queued behind onConnect is no unhandled rejection", async () => {
  using unhandled = trackUnhandled();
  class SlowStart extends (gapService(newState())) {
    override async onConnect(): Promise<void> {
      await sleep(50);
    }
  }
  await using server = serve(SlowStart, { port: 0, logger: quietLogger() });
  await using client = await connect("127.0.0.1", (server.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
  });
  // Sent while the server's onConnect still runs: the request waits behind it.
  const error = await rejection(client.root.echo(client.root.secret));
  assert.ok(error instanceof AccessError, `got ${error}`);
  await sleep(10);
  assert.deepEqual(unhandled.errors.map(String), [], "would have killed the server process");
});

Deno.test("robustness: a hostile request that fails to unbox after a lazy path does not crash the process", async () => {
  using unhandled = trackUnhandled();
  const lines: string[] = [];
  await using server = serve(gapService(newState()), { port: 0, logger: quietLogger(lines) });
  const raw = await rawClient((server.addr as Deno.NetAddr).port);
  try {
    const path = [tag(23), 0, "nope"];
    await raw.send(request(0, OP.CALL, 0, ["echo"], [path, new ExtData(99, new Uint8Array(0))]));
    await raw.readToEnd();
    await sleep(20);
    assert.ok(lines.some((l) => /unknown extension type 99/.test(l)), lines.join("\n"));
    assert.deepEqual(unhandled.errors.map(String), [], "would have killed the server process");
  } finally {
    raw.close();
  }
});

Deno.test("robustness: a blocked name reached through a netref is refused", async () => {
  const lines: string[] = [];
  await using server = serve(gapService(newState()), { port: 0, logger: quietLogger(lines) });
  const raw = await rawClient((server.addr as Deno.NetAddr).port);
  try {
    // Hand the server a reference (our object #1), which it keeps in `kept.fn`.
    await raw.send(
      request(0, OP.CALL, 0, ["keep"], [exportExt(1, 0, "Mine"), null]),
      shapeTable([[0, []]]),
    );
    assert.ok(await readUntil(raw, (f) => f[0] === MSG.REPLY && f[1] === 0));
    await raw.send(request(1, OP.GET, 0, ["kept", "fn", "hasOwnProperty"], []));
    const answer = await readUntil(raw, (f) => f[0] === MSG.CLOSE || f[1] === 1);
    assert.equal(answer?.[0], MSG.CLOSE, `the peer got ${Deno.inspect(answer)}`);
    assert.match(String(answer?.[1]), /blocked member 'hasOwnProperty'/);
  } finally {
    raw.close();
  }
});

Deno.test("robustness: answers kept for FINISH count against maxPendingRequests", async () => {
  await using server = serve(gapService(newState()), {
    port: 0,
    maxPendingRequests: 2,
    logger: quietLogger(),
  });
  const raw = await rawClient((server.addr as Deno.NetAddr).port);
  try {
    // PINGs never FINISHed: two answers are kept, the requests beyond them are
    // refused (and up to two refusals are tolerated before the peer is cut off).
    const answers: unknown[] = [];
    for (let seq = 0; seq < 4; seq++) {
      await raw.send(request(seq, OP.PING, 0, [], ["x".repeat(1000)]));
      const answer = await readUntil(raw, (f) => f[1] === seq || f[0] === MSG.CLOSE);
      answers.push(answer?.[0] === MSG.THROW ? thrownError(answer).name : answer?.[0]);
    }
    assert.deepEqual(answers, [MSG.REPLY, MSG.REPLY, "LimitError", "LimitError"]);
    const conn = [...server.connections][0];
    assert.equal(conn?.closed, false, "the refusals closed the connection");
    const kept = conn.stats().answers;
    assert.ok(kept <= 2, `the server keeps ${kept} answers for a peer limited to 2 requests`);
  } finally {
    raw.close();
  }
});

Deno.test("robustness: an honest peer sending many distinct member lists is not cut off", async () => {
  await using p = await pair(gapService(newState()));
  // Plain objects sent by reference list their own keys, so each key set is a new member list.
  const items = Array.from({ length: 65_537 }, (_, i) => ref({ ["k" + i]: i }));
  const outcome = await settleOrClose(p.client.root.echo(items), p.client);
  assert.equal(p.client.closed, false, `closed: ${p.client.closeReason?.message}`);
  assert.equal((outcome.value as unknown[]).length, 65_537);
});

/**
 * RPyC behaviours a user relies on (issue 16): errors that keep their
 * contents (`AggregateError.errors`) or drop their stacks
 * (`includeLocalStack`, RPyC's `include_local_traceback`), `in` on classic
 * modules, `AccessError` for a missing exposed member, plain objects and
 * factories as services (Comlink's `expose(obj)`, RPyC's `classpartial`).
 */

import assert from "node:assert/strict";
import {
  AccessError,
  classic,
  connect,
  type Connection,
  dispose,
  RemoteError,
  serve,
  Service,
  setMember,
} from "../mod.ts";
import { pair, quietLogger, rejection, waitFor } from "./_helpers.ts";
import { startSyncServer } from "./_sync.ts";

const THIS_FILE = new URL(import.meta.url).pathname;

class FailingService extends Service {
  exposed_aggregate(): never {
    throw new AggregateError(
      [new TypeError("first"), new RangeError("second", { cause: new Error("deep") })],
      "both failed",
    );
  }

  exposed_caused(): never {
    throw new Error("outer", { cause: new SyntaxError("inner") });
  }

  exposed_returned(): Error {
    return new Error("a value, not a throw");
  }
}

Deno.test("errors: AggregateError.errors survive transit, each error whole", async () => {
  await using p = await pair(FailingService);
  const error = await rejection(p.client.root.aggregate());
  assert.ok(error instanceof AggregateError, "an AggregateError arrives as one");
  assert.ok(error instanceof RemoteError);
  assert.equal(error.message, "both failed");
  assert.ok(Array.isArray(error.errors), "errors is an array");
  assert.equal(error.errors.length, 2);
  const [first, second] = error.errors;
  assert.ok(first instanceof TypeError);
  assert.equal(first.message, "first");
  assert.ok(second instanceof RangeError);
  assert.equal((second.cause as Error).message, "deep");
  assert.equal(Object.keys(error).includes("errors"), false, "not enumerable, as natively");
});

Deno.test("errors: includeLocalStack false sends name and message without the stack", async () => {
  // By default, the server's frames reach the client.
  {
    await using p = await pair(FailingService);
    const error = await rejection(p.client.root.caused()) as RemoteError;
    assert.match(error.remoteStack, new RegExp(THIS_FILE.replaceAll("/", "\\/")));
  }
  await using p = await pair(FailingService, { includeLocalStack: false });
  const error = await rejection(p.client.root.caused()) as RemoteError;
  assert.ok(error instanceof RemoteError);
  assert.equal(error.name, "Error");
  assert.equal(error.message, "outer");
  assert.equal(error.remoteStack, "", "no remote stack at all");
  assert.doesNotMatch(error.stack!, /rpyc_semantics_test\.ts:\d+:\d+\)?\n.*<rdc: remote call>/s);
  const cause = error.cause as RemoteError;
  assert.ok(cause instanceof SyntaxError);
  assert.equal(cause.message, "inner");
  assert.equal(cause.remoteStack, "", "the cause is redacted too");
  const aggregate = await rejection(p.client.root.aggregate()) as AggregateError;
  for (const inner of aggregate.errors as RemoteError[]) assert.equal(inner.remoteStack, "");
  assert.equal(((aggregate.errors[1] as Error).cause as RemoteError).remoteStack, "");
  // Errors sent as values are redacted as well.
  const returned = await p.client.root.returned() as RemoteError;
  assert.equal(returned.message, "a value, not a throw");
  assert.equal(returned.remoteStack, "");
});

Deno.test("classic: 'node:os' in conn.modules holds; an unimported file does not", async () => {
  await using server = classic.serve({ port: 0, logger: quietLogger() });
  await using conn = await classic.connect("127.0.0.1", (server.addr as Deno.NetAddr).port);
  assert.equal("node:os" in conn.modules, true);
  assert.equal("node:path" in conn.modules, true);
  assert.equal("node:no-such-module" in conn.modules, false);
  const url = new URL("./_certs.ts", import.meta.url).href;
  assert.equal(url in conn.modules, false, "not known before it is imported");
  await conn.modules[url];
  assert.equal(url in conn.modules, true, "known once imported");
});

Deno.test("classic, synchronous: `in` on conn.modules imports and answers", async () => {
  await using server = await startSyncServer();
  using conn = classic.connectSync("127.0.0.1", server.classicPort);
  assert.equal("node:os" in conn.modules, true);
  assert.equal("./no/such/module.ts" in conn.modules, false);
  const url = new URL("./_certs.ts", import.meta.url).href;
  assert.equal(url in conn.modules, true);
  assert.equal(typeof conn.modules[url].certificates, "function");
});

class SmallService extends Service {
  exposed_here(): string {
    return "here";
  }
}

Deno.test("policy: a missing exposed_ member is an AccessError, not 'is not a function'", async () => {
  await using p = await pair(SmallService);
  for (const call of [() => p.client.root.exposed_missing(), () => p.client.root.missing()]) {
    const error = await rejection(call());
    assert.ok(error instanceof AccessError, `got ${error}`);
    assert.match((error as Error).message, /cannot access '(exposed_)?missing'/);
  }
  assert.ok(await rejection(p.client.root.exposed_missing) instanceof AccessError);
  assert.equal(await p.client.root.here(), "here");
});

Deno.test("services: a plain object is a root; only its own methods are reachable", async () => {
  const calculator = {
    offset: 100,
    add(a: number, b: number): number {
      return a + b + this.offset;
    },
    twice: (x: number) => 2 * x,
    toString: () => "hidden",
  };
  await using server = serve(calculator, { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using conn = await connect("127.0.0.1", port, { logger: quietLogger() });
  assert.equal(conn.peerService, "Object");
  assert.equal(await conn.root.add(1, 2), 103, "`this` is the object");
  assert.equal(await conn.root.twice(21), 42);
  assert.ok(await rejection(conn.root.offset) instanceof AccessError, "data is not exposed");
  assert.equal("add" in conn.root, true);
  assert.equal("offset" in conn.root, false);
  assert.ok(await rejection(setMember(conn.root, "add", 1)) instanceof AccessError);
  assert.equal(typeof calculator.add, "function", "never written");
  // Shared by every connection.
  calculator.offset = 0;
  await using second = await connect("127.0.0.1", port, { logger: quietLogger() });
  assert.equal(await second.root.add(1, 2), 3);
});

class ConfiguredService extends Service {
  static instances = 0;
  readonly #greeting: string;
  #conn: Connection | null = null;

  constructor(greeting: string) {
    super();
    this.#greeting = greeting;
    ConfiguredService.instances++;
  }

  override onConnect(conn: Connection): void {
    this.#conn = conn;
  }

  exposed_greet(name: string): string {
    return `${this.#greeting}, ${name} (${this.#conn ? "connected" : "?"})`;
  }
}

Deno.test("services: a factory makes each connection's service (RPyC's classpartial)", async () => {
  const before = ConfiguredService.instances;
  await using server = serve(() => new ConfiguredService("hello"), {
    port: 0,
    logger: quietLogger(),
  });
  const port = (server.addr as Deno.NetAddr).port;
  await using a = await connect("127.0.0.1", port, { logger: quietLogger() });
  await using b = await connect("127.0.0.1", port, { logger: quietLogger() });
  assert.equal(a.peerService, "Configured", "named after what it makes");
  assert.equal(await a.root.greet("Ada"), "hello, Ada (connected)");
  assert.equal(await b.root.greet("Bob"), "hello, Bob (connected)");
  assert.equal(ConfiguredService.instances - before, 2, "one instance per connection");

  // A factory that registers needs its names first; aliases on the factory give them.
  assert.throws(
    () => serve(() => new ConfiguredService("x"), { port: 0, autoRegister: true }),
    /give it `aliases`/,
  );
  const named = Object.assign(() => new ConfiguredService("hi"), { aliases: ["Greeter"] });
  await using third = serve(named, { port: 0, logger: quietLogger() });
  await using c = await connect("127.0.0.1", (third.addr as Deno.NetAddr).port, {
    logger: quietLogger(),
  });
  assert.equal(c.peerService, "Greeter");

  // A factory that makes something else fails that connection with a clear error.
  const log = quietLogger();
  await using bad = serve(() => Promise.resolve(new ConfiguredService("x")) as never, {
    port: 0,
    logger: log,
  });
  const refused = await rejection(
    connect("127.0.0.1", (bad.addr as Deno.NetAddr).port, { logger: quietLogger() }),
  );
  assert.ok(refused instanceof Error, `got ${refused}`);
  await waitFor(() => log.lines.some((line) => /returned a promise, not a service/.test(line)));
  assert.equal(bad.connections.size, 0);
});

Deno.test("teleport: free names resolve when the function runs (mutual recursion)", async (t) => {
  await using server = classic.serve({ port: 0, logger: quietLogger() });
  await using conn = await classic.connect("127.0.0.1", (server.addr as Deno.NetAddr).port);

  await t.step("a function calling one teleported after it", async () => {
    const isEven = await conn.teleport(function isEven(n: number): boolean {
      // @ts-ignore: isOdd is teleported below, into the remote namespace
      return n === 0 ? true : isOdd(n - 1);
    });
    const isOdd = await conn.teleport(function isOdd(n: number): boolean {
      return n === 0 ? false : isEven(n - 1);
    });
    assert.equal(await isEven(10), true);
    assert.equal(await isOdd(7), true);
    assert.equal(await conn.eval("isEven(3)"), false);
  });

  await t.step(
    "a globals object of its own (RPyC's teleport_function(func, globals))",
    async () => {
      const scaled = await conn.teleport(function scaled(n: number): number {
        // @ts-ignore: factor lives in the globals given below
        return n * factor;
      }, { factor: 3 });
      assert.equal(await scaled(5), 15);
      assert.equal(await conn.eval("typeof scaled"), "undefined", "not in the namespace");

      const remoteGlobals = await conn.eval("rdc.ref({ base: 5 })");
      const addBase = await conn.teleport(function addBase(x: number): number {
        // @ts-ignore: base and calls live in the remote globals object
        calls = (typeof calls === "number" ? calls : 0) + 1;
        // @ts-ignore: see above
        return x + base;
      }, remoteGlobals);
      assert.equal(await addBase(1), 6);
      assert.equal(await addBase(2), 7);
      assert.equal(await remoteGlobals.calls, 2, "assignments land in the globals");
      assert.equal(await remoteGlobals.addBase, addBase, "defined there by name");
    },
  );

  await t.step("a closure over a local variable fails when called, naming it", async () => {
    const secretLocal = 41;
    const leaky = await conn.teleport(function leaky() {
      return secretLocal + 1;
    });
    const error = await rejection(leaky());
    assert.ok(error instanceof ReferenceError, `got ${error}`);
    assert.match((error as Error).message, /^secretLocal is not defined/);
    assert.match((error as Error).message, /cannot see the sender's local variables/);
    // Defined later, it works.
    await conn.execute("var secretLocal = 1");
    assert.equal(await leaky(), 2);
  });
});

Deno.test("teleport, synchronous: mutual recursion and globals", async () => {
  await using server = await startSyncServer();
  using conn = classic.connectSync("127.0.0.1", server.classicPort);
  // (Each function is held in a variable of its own name, so that the transpiler keeps the names.)
  const ping = conn.teleport(function ping(n: number): string {
    return n === 0 ? "ping" : pong(n - 1);
  });
  const pong = conn.teleport(function pong(n: number): string {
    return n === 0 ? "pong" : ping(n - 1);
  });
  assert.equal(ping(3), "pong");
  assert.equal(conn.eval("pong(2)"), "pong");
  const withGlobals = conn.teleport(function greet(name: string): string {
    // @ts-ignore: greeting comes with the globals
    return `${greeting}, ${name}`;
  }, { greeting: "hello" });
  assert.equal(withGlobals("Ada"), "hello, Ada");
});

/** A remote context manager: records how it was left. */
class Transaction {
  static log: string[] = [];
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  insert(row: string): string {
    Transaction.log.push(`${this.name}: insert ${row}`);
    return row;
  }

  async [Symbol.asyncDispose](error?: unknown): Promise<void> {
    await Promise.resolve();
    Transaction.log.push(
      `${this.name}: ${error === undefined ? "commit" : `rollback (${(error as Error).message})`}`,
    );
  }
}

class Lock {
  static released = 0;
  [Symbol.dispose](): void {
    Lock.released++;
  }
}

class InnerService extends Service {
  static disposed = 0;
  [Symbol.dispose](): void {
    InnerService.disposed++;
  }
}

class StoreService extends Service {
  exposed_begin(name: string): Transaction {
    return new Transaction(name);
  }

  exposed_lock(): Lock {
    return new Lock();
  }

  /** A service with a disposer of its own, handed out by reference. */
  exposed_inner(): InnerService {
    return new InnerService();
  }

  exposed_plain(): { size: number; grow(): void } {
    return new (class Box {
      size = 1;
      grow(): void {
        this.size++;
      }
    })();
  }
}

Deno.test("remote disposables: `await using` runs the owner's disposer; dispose() passes the error", async () => {
  Transaction.log = [];
  await using p = await pair(StoreService, { allowPublicAttrs: true });
  {
    await using tx = await p.client.root.begin("t1");
    await tx.insert("a");
  }
  assert.deepEqual(Transaction.log, ["t1: insert a", "t1: commit"], "disposed on the owner");
  await waitFor(() => p.serverConn().stats().exports === 1, 2000, "the export released");

  // The explicit form tells the disposer why (RPyC's __exit__ with the exception).
  const tx2 = await p.client.root.begin("t2");
  await dispose(tx2, new Error("constraint violated"));
  assert.equal(Transaction.log.at(-1), "t2: rollback (constraint violated)");
  assert.ok(await rejection(tx2.insert("late")) instanceof ReferenceError, "released after");

  // A synchronous disposer, and `using` (which cannot wait) on an async netref.
  const before = Lock.released;
  {
    using _lock = await p.client.root.lock();
  }
  await waitFor(() => Lock.released === before + 1, 2000, "the remote lock released");

  // A netref to an object that is not disposable is only released: no request is sent.
  const box = await p.client.root.plain();
  const sent = p.client.stats().framesSent;
  await dispose(box);
  assert.equal(p.client.stats().framesSent, sent, "nothing sent at once");
  assert.ok(await rejection(box.grow()) instanceof ReferenceError);

  // Nor is a service, even with a disposer: the peer may not dispose one, so it is not offered.
  const inner = await p.client.root.inner();
  const sentBefore = p.client.stats().framesSent;
  await dispose(inner);
  assert.equal(p.client.stats().framesSent, sentBefore, "no DISPOSE for a service");
  assert.equal(InnerService.disposed, 0);
});

Deno.test("remote disposables, synchronous: `using` blocks until the owner's disposer ran", async () => {
  await using server = await startSyncServer();
  using conn = classic.connectSync("127.0.0.1", server.classicPort);
  conn.execute(
    "globalThis.disposals = []; " +
      "globalThis.makeResource = (name) => ({ [Symbol.dispose](e) { " +
      "disposals.push(e === undefined ? name : name + ': ' + e.message); } })",
  );
  {
    using _resource = conn.eval("rdc.ref(makeResource('first'))");
  }
  assert.deepEqual(conn.obtain(conn.globals.disposals), ["first"]);
  const second = conn.eval("rdc.ref(makeResource('second'))");
  second[Symbol.dispose](new Error("failed"));
  assert.deepEqual(conn.obtain(conn.globals.disposals), ["first", "second: failed"]);
});

Deno.test("beforeClose: last calls on the connection this end closes (RPyC's before_closed)", async () => {
  class GuestbookService extends Service {
    static entries: string[] = [];
    exposed_sign(name: string): void {
      GuestbookService.entries.push(name);
    }
  }
  GuestbookService.entries = [];
  await using server = serve(GuestbookService, { port: 0, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  const roots: unknown[] = [];
  const conn = await connect("127.0.0.1", port, {
    logger: quietLogger(),
    beforeClose: async (root) => {
      roots.push(root);
      await root.sign("leaving");
    },
  });
  await conn.root.sign("hello");
  const closing = [conn.close(), conn.close()];
  assert.equal(conn.closed, false, "still open while the hook runs");
  await Promise.all(closing);
  assert.equal(conn.closed, true);
  assert.deepEqual(GuestbookService.entries, ["hello", "leaving"]);
  assert.equal(roots.length, 1, "called once, with the peer's root");

  // A hook that throws is logged; closing goes on. The peer closing first: no hook.
  const log = quietLogger();
  const failing = await connect("127.0.0.1", port, {
    logger: log,
    beforeClose: () => {
      throw new Error("hook failed");
    },
  });
  await failing.close();
  assert.ok(log.lines.some((line) => /beforeClose threw: Error: hook failed/.test(line)));
  let called = false;
  const quiet = await connect("127.0.0.1", port, {
    logger: quietLogger(),
    beforeClose: () => {
      called = true;
    },
  });
  await server.close();
  await quiet.finished;
  assert.equal(called, false, "not called when the peer closed the connection");
});

Deno.test("beforeClose, synchronous: the hook calls the peer before CLOSE", async () => {
  await using server = await startSyncServer();
  const seen: string[] = [];
  const conn = classic.connectSync("127.0.0.1", server.classicPort, {
    beforeClose: (root) => {
      seen.push(String(root.eval("6 * 7")));
    },
  });
  conn.close();
  assert.deepEqual(seen, ["42"]);
  assert.equal(conn.closed, true);
});

/**
 * Deno drives real Python RPyC servers (5.3 and 6.0.2): a classic server, a
 * plain service and the same service with allow_public_attrs, all in one
 * Python process per version (tests/python/peer.py).
 */

import assert from "node:assert/strict";
import { python, PythonError } from "../core/python/mod.ts";
import { STDIO_CLASSIC_SERVER } from "../core/python/classic.ts";
import { PYTHON, pythonTest, startPeer, startPython } from "./_python.ts";
import { certificates, writeCertFiles } from "./_certs.ts";
import { hasMember, RemoteError, timed } from "../mod.ts";
import { waitFor } from "./_helpers.ts";

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

pythonTest(
  "python classic: modules, values, iteration, helpers, callbacks, errors",
  async (t, v) => {
    await using peer = await startPeer(v);
    await using py = await python.classic.connect("127.0.0.1", peer.classic);
    assert.equal(py.version, v.wire);

    await t.step("modules and builtins", async () => {
      assert.equal(await py.modules.os.getcwd(), Deno.cwd());
      assert.equal(await py.modules["os.path"].join("a", "b"), "a/b");
      assert.equal(await py.modules.os.path.join("c", "d"), "c/d");
      assert.equal(await py.builtins.len([1, 2, 3]), 3);
      assert.equal(await py.eval("2**100"), 2n ** 100n);
      assert.equal(await py.eval("2**53 + 1"), 2n ** 53n + 1n);
      assert.equal(await py.eval("2**53 - 1"), Number.MAX_SAFE_INTEGER);
    });

    await t.step("value mapping", async () => {
      const values = await py.eval(
        "(None, True, 1.5, 'hé', b'ab', (1, 'x'), frozenset([1]), 2+3j, slice(1, 2), 1.0)",
      );
      assert.ok(values instanceof python.Tuple && Object.isFrozen(values));
      const [none, yes, half, text, bytes, inner, set, complex, slice, one] = values;
      assert.deepEqual([none, yes, half, text, one], [null, true, 1.5, "hé", 1]);
      assert.deepEqual(bytes, new Uint8Array([97, 98]));
      assert.deepEqual([...inner], [1, "x"]);
      assert.deepEqual(set, new Set([1]));
      assert.deepEqual([complex.re, complex.im], [2, 3]);
      assert.deepEqual([slice.start, slice.stop, slice.step], [1, 2, null]);
      const typeOf = await py.eval("lambda x: type(x).__name__");
      assert.equal(await typeOf(1), "int");
      assert.equal(await typeOf(python.float(1)), "float");
      assert.equal(await typeOf(1.5), "float");
      assert.equal(await typeOf(2n ** 70n), "int");
      assert.equal(await typeOf([1, 2]), "tuple");
      assert.equal(await typeOf(new Set(["a"])), "frozenset");
      assert.equal(await typeOf(new Uint8Array([1])), "bytes");
      const isList = await py.eval("lambda x: isinstance(x, list)");
      assert.equal(await isList(python.ref([1, 2])), true);
      assert.equal(await typeOf(null), "NoneType");
    });

    await t.step("execute, namespace, kwargs", async () => {
      await py.execute("x = 5\ndef twice(v): return v * 2");
      assert.equal(await python.item(py.namespace, "x"), 5);
      assert.equal(await py.eval("twice(21)"), 42);
      const d = await py.builtins.dict(python.kwargs({ a: 1, b: 2 }));
      assert.equal(await python.repr(d), "{'a': 1, 'b': 2}");
      const sorted = await py.builtins.sorted(
        ["bb", "a", "ccc"],
        python.kwargs({ key: py.builtins.len, reverse: true }),
      );
      assert.deepEqual(await python.obtain(sorted), ["ccc", "bb", "a"]);
    });

    await t.step("iteration with BUFFITER", async () => {
      const list = await py.eval("list(range(100))");
      assert.equal(python.typeName(list), "builtins.list");
      const framesBefore = py.stats().framesSent;
      assert.deepEqual(await collect(list), [...Array(100).keys()]);
      // __iter__ and BUFFITER batches of 16, 32, 64 (and one more for the end): not one per item.
      assert.ok(py.stats().framesSent - framesBefore <= 6);
      assert.deepEqual(await collect(await py.eval("(i * i for i in range(5))")), [0, 1, 4, 9, 16]);
      assert.deepEqual(await collect(await py.eval("{'a': 1, 'b': 2}")), ["a", "b"]);
    });

    await t.step("helpers", async () => {
      const list = await py.eval("[10, 20, 30]");
      assert.equal(await python.len(list), 3);
      assert.equal(await python.item(list, -1), 30);
      await python.setItem(list, 0, 11);
      await python.delItem(list, 1);
      assert.equal(await python.contains(list, 30), true);
      assert.equal(await python.contains(list, 20), false);
      assert.equal(await python.str(list), "[11, 30]");
      assert.equal(await python.bool(await py.eval("[]")), false);
      assert.equal(await python.eq(list, await py.eval("[11, 30]")), true);
      assert.equal(await python.compare(await py.eval("[1]"), await py.eval("[2]"), "lt"), true);
      const joined = await python.op.add(await py.eval("[1]"), await py.eval("[2]"));
      assert.deepEqual(await python.obtain(joined), [1, 2]);
      assert.deepEqual(await python.obtain(await python.op.mul(await py.eval("[1, 2]"), 2)), [
        1,
        2,
        1,
        2,
      ]);
      const decimal = await py.eval("__import__('decimal').Decimal(1)");
      assert.equal(await python.str(await python.op.add(5, decimal)), "6");
      assert.ok((await python.dir(list)).includes("append"));
      assert.equal(typeof await python.hash(await py.eval("object()")), "number");
      await py.execute("class HasThen:\n  then = 7");
      assert.equal(await python.getattr(await py.eval("HasThen()"), "then"), 7);
      assert.deepEqual(
        await python.obtain(await py.eval("{'k': [1, {2, 3}], 'm': {'n': (4,)}}")),
        new Map<unknown, unknown>([["k", [1, new Set([2, 3])]], [
          "m",
          new Map([["n", python.tuple(4)]]),
        ]]),
      );
    });

    await t.step("callbacks: sync, async, by reference, re-entrant", async () => {
      const apply = await py.eval("lambda f, *a: f(*a)");
      assert.equal(await apply((x: number) => x * 2, 20), 40);
      assert.equal(
        await apply(async (x: number) => (await new Promise((r) => setTimeout(r, 5)), x + 1), 1),
        2,
      );
      assert.equal(await py.builtins.len(python.ref([1, 2, 3, 4])), 4);
      const nested = await py.eval("lambda f: [f(i) for i in range(3)]");
      const inner = await py.eval("lambda x: x * 7");
      assert.deepEqual(await python.obtain(await nested((i: number) => inner(i))), [0, 7, 14]);
    });

    await t.step("errors both ways", async () => {
      const error = await py.eval("1/0").catch((e: unknown) => e);
      assert.ok(error instanceof PythonError && error instanceof RemoteError);
      assert.equal(error.pyType, "builtins.ZeroDivisionError");
      assert.equal(error.name, "ZeroDivisionError");
      assert.deepEqual(error.pyArgs, ["division by zero"]);
      assert.match(error.remoteStack, /ZeroDivisionError: division by zero/);
      await py.execute(
        "class MyErr(Exception):\n  def __init__(s, m): super().__init__(m); s.code = 7",
      );
      const custom = await py.eval("(_ for _ in ()).throw(MyErr('no'))").catch((e: unknown) => e);
      assert.ok(python.isPythonError(custom, "MyErr"));
      assert.equal(custom.attrs.code, 7);
      const apply = await py.eval("lambda f: f()");
      const back = await apply(() => {
        throw new TypeError("thrown in Deno");
      }).catch((e: unknown) => e);
      assert.ok(python.isPythonError(back, "TypeError"));
      assert.match(back.message, /thrown in Deno/);
      const missing = await py.modules.os.no_such_thing.catch((e: unknown) => e);
      assert.ok(python.isPythonError(missing, "AttributeError"));
    });

    await t.step("refcounts return to baseline after dispose", async () => {
      // A connection of its own: netrefs of the other steps are collected at random times.
      await using own = await python.classic.connect("127.0.0.1", peer.classic);
      // Each netref in a variable of its own: one only the garbage collector holds would be
      // DELeted at a random moment and move the count.
      const conn = await own.root.getconn();
      const table = await conn._local_objects._dict;
      const objects = () => python.len(table);
      const baseline = await objects();
      const lists = [];
      for (let i = 0; i < 20; i++) lists.push(await own.eval(`[${i}]`));
      const same = await own.eval("[0]");
      assert.equal(await objects(), baseline + 21);
      for (const list of [...lists, same]) list[Symbol.dispose]();
      assert.equal(await objects(), baseline);
      assert.equal(python.typeName(conn), "rpyc.core.protocol.Connection");
    });

    await t.step("frames: 3 000/3 001 (zlib), 64 000/64 001 and 1 MB", async () => {
      const echo = await py.eval("lambda x: x");
      const sizes = [3000, 3001, 64_000, 64_001, 1 << 20];
      for (const size of sizes) {
        const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65_536)));
        const big = new Uint8Array(size).map((_, i) => data[i % data.length]);
        assert.deepEqual(await echo(big), big);
        const fromPython = await py.modules.os.urandom(size);
        assert.equal(fromPython.length, size);
      }
      // The threshold itself: payloads of exactly 3 000 bytes go plain, 3 001 compressed. On a
      // connection of its own, where no collected netref sends a DEL while the bytes are counted.
      await using own = await python.classic.connect("127.0.0.1", peer.classic);
      const ownEcho = await own.eval("lambda x: x");
      const probe = "y".repeat(300);
      const before = own.stats();
      await ownEcho(probe);
      const overhead = own.stats().bytesSent - before.bytesSent - 6 - probe.length;
      for (const [payload, compressed] of [[3000, 0], [3001, 1]]) {
        const start = own.stats().compressedSent;
        await ownEcho("y".repeat(payload - overhead));
        assert.equal(own.stats().compressedSent - start, compressed, `payload ${payload}`);
      }
    });

    await t.step("version pinning", async () => {
      await using pinned = await python.classic.connect("127.0.0.1", peer.classic, {
        version: v.wire,
      });
      assert.equal(await pinned.eval("1 + 1"), 2);
      const other = v.wire === 5 ? 6 : 5;
      const wrong = await python.classic.connect("127.0.0.1", peer.classic, {
        version: other,
        logger: () => {},
      }).catch((e: unknown) => e);
      assert.ok(wrong instanceof python.WireVersionError, String(wrong));
      assert.equal(wrong.peerVersion, v.wire);
    });
  },
);

pythonTest("python service: exposed members, policy, generators, callback chain", async (t, v) => {
  await using peer = await startPeer(v);

  await t.step("plain service (default config)", async () => {
    await using conn = await python.connect("127.0.0.1", peer.service);
    const root = conn.root;
    assert.equal(await root.add(2, 3), 5);
    assert.equal(await root.version(), v.name === "5.3" ? "5.3.0" : "6.0.2");
    assert.equal(await python.item(root.stats, "mean"), 2);
    assert.deepEqual(await collect(await root.stats), ["n", "mean", "tags"]);
    const denied = await root.stats.keys().catch((e: unknown) => e);
    assert.ok(python.isPythonError(denied, "AttributeError"));
    assert.match(denied.message, /cannot access 'keys'/);
    assert.deepEqual(await collect(await root.numbers(5)), [0, 1, 4, 9, 16]);
    assert.deepEqual([...await root.map((x: number) => x * 3, [1, 2, 3])], [3, 6, 9]);
    const failure = await root.fail().catch((e: unknown) => e);
    assert.ok(python.isPythonError(failure, "ValueError"));
    assert.deepEqual(failure.pyArgs, ["boom", 42]);
    const secret = await root._private().catch((e: unknown) => e);
    assert.ok(python.isPythonError(secret, "AttributeError"));
    assert.equal(await root.public_method().catch((e: Error) => e.name), "AttributeError");
    assert.equal(await hasMember(root, "add"), true);
    assert.equal(await hasMember(root, "nope"), false);
  });

  await t.step("service with public attributes", async () => {
    await using conn = await python.connect("127.0.0.1", peer.public);
    assert.equal(await conn.root.public_method(), "public");
    assert.deepEqual(await collect(await conn.root.stats.keys()), ["n", "mean", "tags"]);
    const secret = await conn.root._private().catch((e: unknown) => e);
    assert.ok(python.isPythonError(secret, "AttributeError"));
  });

  await t.step("a callback chain 10 deep, and refcounts", async () => {
    await using conn = await python.connect("127.0.0.1", peer.service);
    const root = conn.root;
    const bounce = (n: number): Promise<number> => root.bounce(bounce, n);
    assert.equal(await bounce(10), 10);
    const baseline = await root.refcount();
    const held = [];
    for (let i = 0; i < 10; i++) held.push(await root.numbers(i));
    assert.equal(await root.refcount(), baseline + 10);
    for (const h of held) h[Symbol.dispose]();
    assert.equal(await root.refcount(), baseline);
    // Python gives back what Deno lent it once its netrefs die.
    assert.equal(await root.apply((x: number) => x + 1, 1), 2);
    await waitFor(() => conn.stats().exports === 1);
  });

  await t.step("timeouts leave the connection usable", async () => {
    await using conn = await python.connect("127.0.0.1", peer.classic);
    const time = await conn.root.getmodule("time");
    const late = await timed(time.sleep, 200)(0.5).catch((e: unknown) => e);
    assert.equal((late as Error).name, "TimeoutError");
    assert.equal(await conn.root.eval("1 + 2"), 3);
  });
});

pythonTest("python classic over a subprocess's stdio", async (_t, v) => {
  await using py = await python.classic.connectSubprocess([PYTHON, "-c", STDIO_CLASSIC_SERVER], {
    env: v.env,
  });
  assert.equal(py.version, v.wire);
  assert.equal(await py.modules.os.getpid(), py.process.pid);
  await py.close();
  assert.ok((await py.process.status).code !== undefined);
});

pythonTest("a bind_threads server gets a clear error", async (_t, v) => {
  await using peer = await startPeer(v, true);
  const error = await python.connect("127.0.0.1", peer.service, {
    handshakeTimeout: 1500,
    logger: () => {},
  }).catch((e: unknown) => e);
  assert.equal((error as Error).name, "ProtocolError");
  assert.match((error as Error).message, /bind_threads/);
});

pythonTest("python classic over TLS, a unix socket and a byte stream", async (_t, v) => {
  const certs = await certificates();
  const socket = await Deno.makeTempFile({ prefix: "rdc-rpyc-", suffix: ".sock" });
  await Deno.remove(socket);
  try {
    await writeCertFiles({ key: certs.server.key, cert: certs.server.cert }, async (files) => {
      await using peer = await startPython(v, "peer.py", [
        "tls",
        files.key,
        files.cert,
        "unix",
        socket,
      ]);
      const [classic, , , tls] = peer.ports;
      await using overTls = await python.classic.connectTls("127.0.0.1", tls, {
        caCerts: [certs.ca],
      });
      assert.equal(await overTls.eval("6 * 7"), 42);
      assert.match(overTls.description, /^tls /);
      await using overUnix = await python.classic.connectUnix(socket);
      assert.equal(await overUnix.eval("6 * 7"), 42);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: classic });
      await using overStream = await python.classic.connectStream(conn, { version: v.wire });
      assert.equal(await overStream.eval("6 * 7"), 42);
    });
  } finally {
    await Deno.remove(socket).catch(() => {});
  }
});

pythonTest("200 concurrent calls to Python", async (_t, v) => {
  await using peer = await startPeer(v);
  await using py = await python.classic.connect("127.0.0.1", peer.classic);
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => py.eval(`${i} * 2`)),
  );
  assert.deepEqual(results, Array.from({ length: 200 }, (_, i) => i * 2));
});

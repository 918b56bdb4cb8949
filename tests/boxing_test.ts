/**
 * Boxing over a real loopback connection: what travels by value (and arrives
 * equal), what travels by reference (and arrives as a netref), and the markers
 * and helpers that override the default (`ref`, `byValue`, `obtain`).
 */

import assert from "node:assert/strict";
import {
  byValue,
  type Connection,
  isRemote,
  obtain,
  ref,
  RemoteError,
  Service,
  setMember,
} from "../mod.ts";
import { pair, quietLogger } from "./_helpers.ts";

class Point {
  constructor(public x: number, public y: number) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

class Record {
  name = "n";
  _secret = "s";
  exposed_visible = "v";
  nested = { a: 1 };
  inner = new Point(3, 4);
}

class EchoService extends Service {
  exposed_config = { a: 1, list: [1, 2, 3] };
  exposed_echo(value: unknown): unknown {
    return value;
  }
  exposed_args(...args: unknown[]): unknown[] {
    return args;
  }
  exposed_makeFunction(): (a: number, b: number) => number {
    return function add(a: number, b: number) {
      return a + b;
    };
  }
  exposed_makePoint(): Point {
    return new Point(3, 4);
  }
  exposed_makeBox(): unknown {
    return { p: Promise.resolve(42), f: () => "f", i: new Point(1, 1) };
  }
  async exposed_pathModule(): Promise<unknown> {
    return await import("node:path");
  }
  exposed_copyPoint(): unknown {
    return byValue(new Point(1, 2));
  }
  exposed_copyNested(): unknown {
    return byValue({ kind: "outer", point: new Point(5, 6) });
  }
  exposed_copyFunction(): unknown {
    return byValue(() => 1);
  }
  exposed_record(): Record {
    return new Record();
  }
  exposed_symbol(): symbol {
    return Symbol("nope");
  }
  async exposed_readHits(o: { hits: number }): Promise<number> {
    return await o.hits;
  }
  async exposed_bump(o: unknown): Promise<void> {
    await setMember(o, "hits", 42);
  }
  exposed_isRemote(value: unknown): boolean {
    return isRemote(value);
  }
  exposed_typeOf(value: unknown): string {
    return Object.prototype.toString.call(value);
  }
}

/** Sends `value` to the echo service and returns what came back (untyped: tests inspect it). */
// deno-lint-ignore no-explicit-any
async function echo(client: Connection, value: unknown): Promise<any> {
  return await client.root.echo(value);
}

Deno.test("boxing: primitives round-trip by value", async (t) => {
  await using p = await pair(EchoService);
  const c = p.client;

  await t.step("undefined, null, booleans", async () => {
    assert.equal(await echo(c, undefined), undefined);
    assert.equal(await echo(c, null), null);
    assert.equal(await echo(c, true), true);
    assert.equal(await echo(c, false), false);
    // undefined inside containers stays undefined (not dropped, not null)
    const arr = await echo(c, [undefined, null]);
    assert.equal(arr.length, 2);
    assert.equal(arr[0], undefined);
    assert.equal(arr[1], null);
    const obj = await echo(c, { u: undefined });
    assert.ok(Object.hasOwn(obj, "u"));
    assert.equal(obj.u, undefined);
  });

  await t.step("numbers incl. NaN, ±Infinity and -0", async () => {
    const numbers = [
      0,
      1,
      -1,
      1.5,
      -2.25,
      2 ** 31,
      -(2 ** 31),
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      Number.EPSILON,
      0.1 + 0.2,
      NaN,
      Infinity,
      -Infinity,
    ];
    for (const n of numbers) {
      const back = await echo(c, n);
      assert.ok(Object.is(back, n), `${n} came back as ${back}`);
    }
    assert.ok(Object.is(await echo(c, -0), -0), "-0 must stay -0");
    assert.ok(Object.is(await echo(c, 0), 0), "0 must stay +0");
    const inArray = await echo(c, [-0, 0, NaN]);
    assert.ok(Object.is(inArray[0], -0));
    assert.ok(Object.is(inArray[1], 0));
    assert.ok(Number.isNaN(inArray[2]));
  });

  await t.step("bigint, big positive and negative", async () => {
    const values = [
      0n,
      1n,
      -1n,
      255n,
      256n,
      -256n,
      2n ** 64n,
      2n ** 200n + 12345n,
      -(2n ** 100n) - 7n,
      BigInt(Number.MAX_SAFE_INTEGER) + 2n,
    ];
    for (const b of values) {
      const back = await echo(c, b);
      assert.equal(typeof back, "bigint");
      assert.equal(back, b);
    }
  });

  await t.step("strings, unicode included", async () => {
    const strings = [
      "",
      "hello",
      "héllo wörld",
      "日本語テキスト",
      "emoji 🚀👩‍👩‍👧‍👦",
      "nul\u0000inside",
      "x".repeat(100_000),
      "\u{10FFFF}",
    ];
    for (const s of strings) assert.equal(await echo(c, s), s);
  });
});

Deno.test("boxing: binary data round-trips by value", async (t) => {
  await using p = await pair(EchoService);
  const c = p.client;

  await t.step("Uint8Array, empty, small and 1 MiB", async () => {
    for (const size of [0, 1, 17, 70_000, 1024 * 1024]) {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const back = await echo(c, bytes);
      assert.ok(back instanceof Uint8Array, `size ${size}: got ${back}`);
      assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
      assert.equal(back.length, size);
      assert.deepEqual(back, bytes);
    }
  });

  await t.step("Uint8Array view with a non-zero byteOffset sends only its bytes", async () => {
    const buffer = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).buffer;
    const view = new Uint8Array(buffer, 3, 4);
    const back = await echo(c, view);
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back], [3, 4, 5, 6]);
    assert.equal(back.byteLength, 4);
  });

  await t.step("every other typed array kind", async () => {
    const arrays: ArrayBufferView[] = [
      new Int8Array([-128, -1, 0, 1, 127]),
      new Uint8ClampedArray([0, 128, 255]),
      new Int16Array([-32768, -1, 0, 32767]),
      new Uint16Array([0, 1, 65535]),
      new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]),
      new Uint32Array([0, 1, 2 ** 32 - 1]),
      new Float32Array([0, -1.5, 3.25, Infinity, -Infinity]),
      new Float64Array([Math.PI, -0, 1e300, -1e-300]),
      new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]),
      new BigUint64Array([0n, 1n, 2n ** 64n - 1n]),
    ];
    for (const a of arrays) {
      const back = await echo(c, a);
      assert.equal(
        Object.getPrototypeOf(back),
        Object.getPrototypeOf(a),
        `${a.constructor.name} arrived as ${Object.prototype.toString.call(back)}`,
      );
      assert.deepEqual(back, a);
    }
    const nan = await echo(c, new Float32Array([NaN]));
    assert.ok(Number.isNaN(nan[0]));
    // a typed array view into the middle of a larger buffer
    const big = new Int16Array([1, 2, 3, 4, 5, 6]);
    const mid = new Int16Array(big.buffer, 4, 3);
    const midBack = await echo(c, mid);
    assert.ok(midBack instanceof Int16Array);
    assert.deepEqual([...midBack], [3, 4, 5]);
  });

  await t.step("DataView and ArrayBuffer", async () => {
    const buffer = new ArrayBuffer(16);
    const dv = new DataView(buffer, 4, 8);
    dv.setFloat64(0, 1234.5);
    const back = await echo(c, dv);
    assert.ok(back instanceof DataView, `got ${Object.prototype.toString.call(back)}`);
    assert.equal(back.byteLength, 8);
    assert.equal(back.getFloat64(0), 1234.5);

    const ab = new Uint8Array([9, 8, 7, 6, 5]).buffer;
    const abBack = await echo(c, ab);
    assert.ok(abBack instanceof ArrayBuffer, `got ${Object.prototype.toString.call(abBack)}`);
    assert.deepEqual([...new Uint8Array(abBack)], [9, 8, 7, 6, 5]);
    assert.ok(abBack !== ab);
    const empty = await echo(c, new ArrayBuffer(0));
    assert.ok(empty instanceof ArrayBuffer);
    assert.equal(empty.byteLength, 0);
  });

  await t.step("large arrays travel as attachments, of every kind", async () => {
    const size = 256 * 1024;
    const floats = new Float64Array(size / 8).map((_, i) => i / 3);
    const view = new DataView(new ArrayBuffer(size));
    view.setFloat64(size - 8, 42.5);
    const buffer = new Uint8Array(size).map((_, i) => i % 251).buffer;
    const bytes = new Uint8Array(size + 5).map((_, i) => (i * 7) % 256);
    const offset = new Int32Array(new ArrayBuffer(size + 8), 8, size / 4);
    offset.fill(-7);
    const before = c.stats().bytesSent;
    const back = await c.root.args(floats, view, buffer, bytes, offset, bytes) as unknown[];
    const arrays = 5 * size + 5;
    const sent = c.stats().bytesSent - before;
    assert.ok(
      sent >= arrays && sent < arrays + 512,
      `the arrays' bytes go on the wire once, beside a small message (${sent} bytes sent)`,
    );
    assert.deepEqual(back[0], floats);
    assert.ok(back[1] instanceof DataView);
    assert.equal((back[1] as DataView).getFloat64(size - 8), 42.5);
    assert.ok(back[2] instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(back[2] as ArrayBuffer), new Uint8Array(buffer));
    assert.deepEqual(back[3], bytes);
    assert.ok(back[4] instanceof Int32Array);
    assert.deepEqual([...(back[4] as Int32Array)].slice(0, 3), [-7, -7, -7]);
    assert.equal((back[4] as Int32Array).length, size / 4);
    assert.equal(back[5], back[3], "the same array twice in one message stays one array");
  });

  await t.step("a large array is sent as it was when sent", async () => {
    const bytes = new Uint8Array(100_000).fill(1);
    const pending = c.root.echo(bytes);
    bytes.fill(2);
    assert.deepEqual((await pending as Uint8Array).slice(0, 3), new Uint8Array([1, 1, 1]));
  });

  await t.step("the server sees the right types", async () => {
    assert.equal(await c.root.typeOf(new Float64Array(1)), "[object Float64Array]");
    assert.equal(await c.root.typeOf(new DataView(new ArrayBuffer(2))), "[object DataView]");
    assert.equal(await c.root.typeOf(new ArrayBuffer(2)), "[object ArrayBuffer]");
    assert.equal(await c.root.typeOf(new Date(0)), "[object Date]");
    assert.equal(await c.root.typeOf(new Map()), "[object Map]");
    assert.equal(await c.root.isRemote(new Uint8Array(3)), false);
  });
});

Deno.test("boxing: Date, including an invalid one", async () => {
  await using p = await pair(EchoService);
  const c = p.client;
  for (const d of [new Date(0), new Date("2024-02-29T12:34:56.789Z"), new Date(-8.64e15)]) {
    const back = await echo(c, d);
    assert.ok(back instanceof Date);
    assert.equal(back.getTime(), d.getTime());
    assert.ok(back !== d);
  }
  const invalid = await echo(c, new Date(NaN));
  assert.ok(invalid instanceof Date);
  assert.ok(Number.isNaN(invalid.getTime()));
});

Deno.test("boxing: containers round-trip by value", async (t) => {
  await using p = await pair(EchoService);
  const c = p.client;

  await t.step("plain objects and null-prototype objects", async () => {
    const obj = { a: 1, b: "two", c: [3, { d: 4 }], e: { f: { g: null } }, "key with space": 1 };
    const back = await echo(c, obj);
    assert.deepEqual(back, obj);
    assert.ok(back !== obj);
    assert.equal(isRemote(back), false);

    const bare = Object.create(null) as { [k: string]: unknown };
    bare.x = 1;
    bare.y = [2];
    const bareBack = await echo(c, bare);
    assert.equal(isRemote(bareBack), false, "a null-prototype object is plain data");
    assert.equal(typeof bareBack, "object");
    assert.deepEqual({ ...bareBack }, { x: 1, y: [2] });
    assert.equal(await c.root.isRemote(bare), false);
  });

  await t.step("arrays, nested and sparse-free", async () => {
    const arr = [1, [2, [3, [4, [5, []]]]], "s", { k: [true] }];
    assert.deepEqual(await echo(c, arr), arr);
    assert.deepEqual(await echo(c, []), []);
    const args = await c.root.args(1, "a", [2], { b: 3 });
    assert.deepEqual(args, [1, "a", [2], { b: 3 }]);
  });

  await t.step("Map and Set, with object keys", async () => {
    const k1 = { id: 1 };
    const k2 = [2];
    const map = new Map<unknown, unknown>([["a", 1], [k1, "obj"], [k2, "arr"], [3n, null]]);
    const mapBack = await echo(c, map);
    assert.ok(mapBack instanceof Map);
    assert.deepEqual(mapBack, map);
    const keys = [...mapBack.keys()];
    assert.deepEqual(keys[1], { id: 1 });
    assert.equal(mapBack.get(keys[1]), "obj");

    const set = new Set<unknown>([1, "two", { three: 3 }, [4], null, undefined]);
    const setBack = await echo(c, set);
    assert.ok(setBack instanceof Set);
    assert.equal(setBack.size, 6);
    assert.deepEqual(setBack, set);
    assert.deepEqual(await echo(c, new Map()), new Map());
    assert.deepEqual(await echo(c, new Set()), new Set());
  });
});

Deno.test("boxing: errors round-trip with name, message, cause and own props", async () => {
  await using p = await pair(EchoService);
  const c = p.client;
  const error = new Error("boom", { cause: new TypeError("inner") }) as Error & {
    code?: string;
    details?: unknown;
  };
  error.code = "E_BOOM";
  error.details = { retry: false, n: [1, 2] };
  const back: Error & { code?: string; details?: unknown } = await echo(c, error);
  assert.ok(back instanceof Error, "arrives as an Error");
  assert.ok(back !== error);
  assert.equal(back.name, "Error");
  assert.equal(back.message, "boom");
  assert.ok(back.cause instanceof TypeError, "cause arrives as a TypeError");
  assert.equal((back.cause as Error).message, "inner");
  assert.equal(back.code, "E_BOOM");
  assert.deepEqual(back.details, { retry: false, n: [1, 2] });

  const range = await echo(c, new RangeError("out"));
  assert.ok(range instanceof RangeError);
  assert.equal(range.message, "out");

  const named = new Error("custom");
  named.name = "MyError";
  const namedBack = await echo(c, named);
  assert.equal(namedBack.name, "MyError");
  assert.equal(namedBack.message, "custom");

  const noCause = await echo(c, new Error("x"));
  assert.equal(Object.hasOwn(noCause, "cause"), false);
  const undefinedCause = await echo(c, new Error("x", { cause: undefined }));
  assert.equal(Object.hasOwn(undefinedCause, "cause"), true);
  assert.equal(undefinedCause.cause, undefined);
  assert.ok(back instanceof RemoteError || back instanceof Error);
});

Deno.test("boxing: shared references and cycles survive within one message", async (t) => {
  await using p = await pair(EchoService);
  const c = p.client;

  await t.step("the same object twice arrives as one object", async () => {
    const shared = { s: 1 };
    const back = await echo(c, [shared, shared, { inner: shared }]);
    assert.ok(back[0] === back[1]);
    assert.ok(back[2].inner === back[0]);
    assert.deepEqual(back[0], { s: 1 });
    const obj = await echo(c, { a: shared, b: shared });
    assert.ok(obj.a === obj.b);
  });

  await t.step("shared arrays, dates, bytes, maps and sets", async () => {
    const arr = [1];
    const date = new Date(5);
    const bytes = new Uint8Array([1, 2]);
    const floats = new Float64Array([1.5]);
    const map = new Map([[1, 2]]);
    const set = new Set([1]);
    const values = [arr, date, bytes, floats, map, set];
    const back = await echo(c, [...values, ...values]); // each value twice
    for (let i = 0; i < 6; i++) assert.ok(back[i] === back[i + 6], `slot ${i} not shared`);
    assert.deepEqual(back[0], [1]);
    assert.equal(back[1].getTime(), 5);
    assert.deepEqual(back[4], new Map([[1, 2]]));
  });

  await t.step("self cycles in objects and arrays", async () => {
    const o: { [k: string]: unknown } = { name: "o" };
    o.self = o;
    const back = await echo(c, o);
    assert.ok(back.self === back);
    assert.equal(back.name, "o");

    const a: unknown[] = [1];
    a.push(a);
    const aBack = await echo(c, a);
    assert.ok(aBack[1] === aBack);

    const x: { [k: string]: unknown } = {};
    const y: { [k: string]: unknown } = { x };
    x.y = y;
    const xBack = await echo(c, x);
    assert.ok((xBack.y as { x: unknown }).x === xBack);
  });

  await t.step("cycles through Map and Set", async () => {
    const key = { k: 1 };
    const map = new Map<unknown, unknown>();
    map.set("me", map);
    map.set(key, key);
    const mBack = await echo(c, map);
    assert.ok(mBack.get("me") === mBack);
    const [, [k, v]] = [...mBack.entries()];
    assert.ok(k === v, "a key object that is also the value arrives as one object");

    const set = new Set<unknown>();
    set.add(set);
    set.add(key);
    const sBack = await echo(c, set);
    assert.ok(sBack.has(sBack));
    const holder = { key, set: new Set([key]) };
    const hBack = await echo(c, holder);
    assert.ok(hBack.set.has(hBack.key), "a Set member shared with a property is the same object");
  });

  await t.step("an object shared after an Error is still the same object", async () => {
    const shared = { s: 2 };
    const error = new Error("e") as Error & { extra?: unknown };
    error.extra = shared;
    const back = await echo(c, [error, shared]);
    assert.ok(back[0] instanceof Error);
    assert.deepEqual(back[1], { s: 2 }, `got ${Deno.inspect(back[1])}`);
    assert.ok((back[0] as typeof error).extra === back[1]);

    const other = { o: 3 };
    const back2 = await echo(c, [new Error("plain"), other, other]);
    assert.deepEqual(back2[1], { o: 3 }, `got ${Deno.inspect(back2[1])}`);
    assert.ok(back2[1] === back2[2]);
  });

  await t.step("an Error whose cause is itself", async () => {
    const error = new Error("loop");
    error.cause = error;
    const back = await echo(c, error);
    assert.ok(back instanceof Error);
    assert.ok(back.cause === back, `cause arrived as ${Deno.inspect(back.cause)}`);
  });
});

Deno.test("boxing: everything else goes by reference", async (t) => {
  await using p = await pair(EchoService, { allowPublicAttrs: true });
  const c = p.client;

  await t.step("functions arrive as callable netrefs", async () => {
    const add = await c.root.makeFunction();
    assert.ok(isRemote(add));
    assert.equal(typeof add, "function");
    assert.equal(await add(2, 3), 5);
  });

  await t.step("class instances arrive as netrefs", async () => {
    const point = await c.root.makePoint();
    assert.ok(isRemote(point));
    assert.equal(await point.x, 3);
    assert.equal(await point.norm(), 5);
  });

  await t.step("promises, functions and instances nested in plain data", async () => {
    const box = await c.root.makeBox();
    assert.equal(isRemote(box), false, "the plain holder is copied");
    assert.ok(isRemote(box.p), "a promise goes by reference");
    assert.equal(await box.p, 42);
    assert.ok(isRemote(box.f));
    assert.equal(await box.f(), "f");
    assert.ok(isRemote(box.i));
    assert.equal(await box.i.y, 1);
  });

  await t.step("module namespaces arrive as netrefs", async () => {
    const path = await c.root.pathModule();
    assert.ok(isRemote(path));
    assert.equal(await path.join("a", "b"), "a/b");
  });

  await t.step("local functions, instances, promises and modules go as references", async () => {
    const fn = () => 1;
    const point = new Point(1, 2);
    const promise = Promise.resolve(1);
    const mod = await import("node:path");
    for (const value of [fn, point, promise, mod]) {
      assert.equal(await c.root.isRemote(value), true, `${Deno.inspect(value)} was copied`);
    }
    // and come back as the very same local object
    assert.ok((await echo(c, fn)) === fn);
    assert.ok((await echo(c, point)) === point);
    assert.ok((await echo(c, mod)) === mod);
    const held = await echo(c, { promise });
    assert.ok(held.promise === promise);
  });
});

Deno.test("boxing: ref() forces a reference to plain data", async (t) => {
  await t.step("the server sees later changes through the reference", async () => {
    await using p = await pair(EchoService);
    const obj = { hits: 1 };
    const netref = ref(obj);
    assert.equal(await p.client.root.isRemote(netref), true);
    assert.equal(await p.client.root.isRemote(obj), false);
    assert.equal(await p.client.root.readHits(netref), 1);
    obj.hits = 7;
    assert.equal(await p.client.root.readHits(ref(obj)), 7);
    assert.ok((await echo(p.client, ref(obj))) === obj, "the reference comes home as the object");
  });

  await t.step("the server mutates the client's object (client allows writes)", async () => {
    await using p = await pair(EchoService, {}, { allowSetAttr: true });
    const obj = { hits: 0 };
    await p.client.root.bump(ref(obj));
    assert.equal(obj.hits, 42);
    // without ref the server gets a copy and the original stays untouched
    const copy = { hits: 0 };
    await p.client.root.bump(copy).catch(() => {});
    assert.equal(copy.hits, 0);
  });
});

Deno.test("boxing: byValue() forces a copy of an instance", async () => {
  await using p = await pair(EchoService);
  const c = p.client;
  const point = await c.root.copyPoint();
  assert.equal(isRemote(point), false);
  assert.deepEqual({ ...point }, { x: 1, y: 2 });

  const nested = await c.root.copyNested();
  assert.equal(isRemote(nested), false);
  assert.equal(nested.kind, "outer");
  assert.ok(isRemote(nested.point), "nested instances still go by reference");

  // client side: byValue sends a copy, the server sees no netref
  assert.equal(await c.root.isRemote(byValue(new Point(1, 1))), false);
  assert.deepEqual({ ...(await echo(c, byValue(new Point(8, 9)))) }, { x: 8, y: 9 });

  await assert.rejects(
    async () => await c.root.copyFunction(),
    (e: Error) => e instanceof TypeError && /cop(y|ied) a function/.test(e.message),
  );
});

Deno.test("boxing: obtain() pulls a deep copy filtered by the peer's policy", async (t) => {
  await t.step("strict server: only exposed members are copied", async () => {
    await using p = await pair(EchoService);
    const record = await p.client.root.record();
    assert.ok(isRemote(record));
    const copy = await obtain<{ [k: string]: unknown }>(record);
    assert.equal(isRemote(copy), false);
    assert.deepEqual(copy, { exposed_visible: "v" });
    // a plain-data member of the service, reached through a path
    assert.deepEqual(await obtain(p.client.root.config), { a: 1, list: [1, 2, 3] });
    // a local value comes back as is
    const local = { z: 1 };
    assert.ok((await obtain(local)) === local);
  });

  await t.step("allowPublicAttrs server: public members, nested instances copied", async () => {
    await using p = await pair(EchoService, { allowPublicAttrs: true });
    const record = await p.client.root.record();
    const copy = await obtain<{ [k: string]: unknown }>(record);
    assert.equal(isRemote(copy), false);
    assert.equal(copy._secret, undefined, "_secret must not be copied");
    assert.equal(copy.name, "n");
    assert.equal(copy.exposed_visible, "v");
    assert.deepEqual(copy.nested, { a: 1 });
    assert.equal(isRemote(copy.inner), false, "obtain copies deeply");
    assert.deepEqual({ ...(copy.inner as object) }, { x: 3, y: 4 });
  });
});

Deno.test("boxing: symbols cannot be sent", async () => {
  await using p = await pair(EchoService);
  const c = p.client;
  await assert.rejects(
    async () => await echo(c, Symbol("s")),
    (e: Error) => e instanceof TypeError && /symbol/i.test(e.message),
  );
  await assert.rejects(
    async () => await echo(c, { nested: [Symbol.iterator] }),
    (e: Error) => e instanceof TypeError && /symbol/i.test(e.message),
  );
  // a symbol as a result is refused on the server and reported as a TypeError
  await assert.rejects(
    async () => await c.root.symbol(),
    (e: Error) => e instanceof TypeError && /symbol/i.test(e.message),
  );
  // the connection is still fine
  assert.equal(await echo(c, "still here"), "still here");
});

function nested(depth: number): unknown[] {
  const root: unknown[] = [];
  let current = root;
  for (let i = 0; i < depth; i++) {
    const next: unknown[] = [];
    current.push(next);
    current = next;
  }
  return root;
}

function depthOf(value: unknown): number {
  let depth = 0;
  let current = value;
  while (Array.isArray(current) && current.length > 0) {
    current = current[0];
    depth++;
  }
  return depth;
}

Deno.test("boxing: nesting limits", async (t) => {
  await t.step("values nested deeper than the limit are refused locally", async () => {
    await using p = await pair(EchoService);
    await assert.rejects(
      async () => await echo(p.client, nested(300)),
      (e: Error) => e instanceof TypeError && /nested deeper than 256/.test(e.message),
    );
    const o: { [k: string]: unknown } = {};
    let cur = o;
    for (let i = 0; i < 300; i++) cur = (cur.n = {}) as { [k: string]: unknown };
    await assert.rejects(
      async () => await echo(p.client, o),
      (e: Error) => e instanceof TypeError && /nested deeper/.test(e.message),
    );
    assert.equal(await echo(p.client, 1), 1, "the connection stays usable");
  });

  await t.step("values within the default limit (256) round-trip", async () => {
    await using p = await pair(EchoService);
    let back: unknown;
    let failure: unknown;
    try {
      back = await (async () => await echo(p.client, nested(200)))();
    } catch (error) {
      failure = error;
    }
    assert.equal(
      p.client.stats().pendingRequests,
      0,
      `a failed send must not leave a pending request (it failed with ${failure})`,
    );
    if (failure) throw failure;
    assert.equal(depthOf(back), 200);
  });

  await t.step(
    "the receiver's limit is announced: the sender refuses deeper values itself",
    async () => {
      const lines: string[] = [];
      await using p = await pair(EchoService, { maxDepth: 10, logger: quietLogger(lines) });
      assert.equal(depthOf(await echo(p.client, nested(8))), 8);
      await assert.rejects(
        async () => await echo(p.client, nested(30)),
        (e: Error) => e instanceof TypeError && /nested deeper than 10/.test(e.message),
      );
      assert.equal(depthOf(await echo(p.client, nested(9))), 9, "the connection stays usable");
      assert.equal(p.client.closed, false);
      assert.deepEqual(lines, [], "nothing reached the server");
    },
  );
});

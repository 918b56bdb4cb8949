/**
 * Plain synchronous code on a netref, over real loopback TCP: what can be
 * answered at once is (enumerating a netref that arrived with its member
 * list), and what would need the peer fails loudly with a `TypeError` that
 * says what to write instead (`Object.keys` of a value not yet here,
 * `JSON.stringify`, `for…of` and spread) rather than quietly giving nothing.
 */

import assert from "node:assert/strict";
import { isRemote, obtain, Service } from "../mod.ts";
import { makeProxy } from "../core/netref/proxy.ts";
import { ImportEntry } from "../core/session/imports.ts";
import type { Engine } from "../core/session/engine.ts";
import { RefKind } from "../core/wire/messages.ts";
import { pair, rejection } from "./_helpers.ts";

// ---- fixtures ------------------------------------------------------------------------------

class Counter {
  count = 0;
  increment(by = 1): number {
    return this.count += by;
  }
}

class Gauge {
  _hidden = 1;
  exposed_level = 7;
  exposed_read(): number {
    return this.exposed_level;
  }
}

class LoudService extends Service {
  exposed_counter = new Counter();
  exposed_config = { retries: 3 };
  exposed_items = [10, 20, 30];
  _private = "hidden";

  exposed_add(a: number, b: number): number {
    return a + b;
  }
  exposed_gauge(): Gauge {
    return new Gauge();
  }
  exposed_makeCounter(): Counter {
    return new Counter();
  }
  *exposed_countTo(n: number): Generator<number> {
    for (let i = 1; i <= n; i++) yield i;
  }
}

/** The message every refusal to enumerate a value not yet here carries. */
const UNKNOWN_LIST = /member list is not known.*await obtain\(value\)/;

// ---- enumerating a netref that arrived with its member list --------------------------------

Deno.test("async loud: Object.keys, for…in and Reflect.ownKeys list a netref's members", async () => {
  await using p = await pair(LoudService);
  const gauge = await p.client.root.gauge();
  assert.equal(isRemote(gauge), true);

  // Both spellings of an exposed member are reachable, so both are listed.
  const expected = ["exposed_level", "exposed_read", "level", "read"];
  assert.deepEqual(Object.keys(gauge).sort(), expected);
  assert.deepEqual(Object.getOwnPropertyNames(gauge).sort(), expected);
  assert.deepEqual(Reflect.ownKeys(gauge).sort(), expected, "no symbols, no length or name");
  assert.deepEqual(Object.getOwnPropertySymbols(gauge), []);
  const seen: string[] = [];
  for (const key in gauge) seen.push(key);
  assert.deepEqual(seen.sort(), expected);

  // The service: its exposed members, never its private ones nor Service's plumbing.
  const rootKeys = Object.keys(p.client.root);
  for (const name of ["add", "exposed_add", "counter", "items", "makeCounter"]) {
    assert.ok(rootKeys.includes(name), `${name} in ${rootKeys}`);
  }
  assert.ok(!rootKeys.includes("_private"));
  assert.ok(!rootKeys.includes("prototype"), "a function target's prototype is not listed");
});

Deno.test("async loud: members enumerate as data properties holding lazy netrefs", async () => {
  await using p = await pair(LoudService, { allowPublicAttrs: true });
  const counter = await p.client.root.counter;
  assert.deepEqual(Object.keys(counter).sort(), ["count", "increment"]);

  const descriptor = Object.getOwnPropertyDescriptor(counter, "increment");
  assert.ok(descriptor);
  assert.equal(descriptor.configurable, true);
  assert.equal(descriptor.enumerable, true);
  assert.equal(descriptor.writable, true);
  assert.equal(isRemote(descriptor.value), true, "the value is what a read gives");
  assert.equal(String(descriptor.value), `${String(counter).slice(0, -1)}.increment]`);
  assert.equal(await descriptor.value(5), 5, "and it works as one");

  assert.equal(Object.getOwnPropertyDescriptor(counter, "missing"), undefined);
  assert.equal(Object.hasOwn(counter, "count"), true);
  assert.equal(Object.hasOwn(counter, "missing"), false);
  assert.equal(Object.prototype.propertyIsEnumerable.call(counter, "count"), true);

  const entries = Object.fromEntries(Object.entries(counter));
  assert.equal(await entries.count, 5);
  const spread: Record<string, unknown> = { ...counter };
  assert.deepEqual(Object.keys(spread).sort(), ["count", "increment"]);
  assert.equal(await spread.count, 5);
  assert.equal(await (Object.values(counter)[Object.keys(counter).indexOf("count")]), 5);
});

Deno.test("async loud: a netref is still a constructible function with no prototype of its own", async () => {
  await using p = await pair(LoudService);
  const root = p.client.root;
  assert.equal(typeof root, "function");
  assert.equal(typeof root.counter, "function");
  // Own symbols of the target answer as its own; they are never enumerated.
  assert.equal(Object.getOwnPropertyDescriptor(root, Symbol.iterator), undefined);
  assert.equal(Object.getOwnPropertyDescriptor(root, "prototype"), undefined);
  // `new` still reaches the construct trap: were the target not constructible, it would throw
  // here and now; it is sent, and the peer refuses it (the default policy has no allowConstruct).
  const error = await rejection(new (root.makeCounter as unknown as new () => unknown)());
  assert.ok(error instanceof Error, `got ${error}`);
});

Deno.test("async loud: defining, freezing or sealing a netref throws", async () => {
  await using p = await pair(LoudService);
  const counter = await p.client.root.counter;
  assert.throws(() => Object.defineProperty(counter, "x", { value: 1 }), {
    name: "TypeError",
    message: /cannot define 'x'.*setMember/,
  });
  assert.throws(() => Object.freeze(counter), { name: "TypeError", message: /frozen/ });
  assert.throws(() => Object.seal(counter), TypeError);
  assert.throws(() => Object.preventExtensions(counter), TypeError);
  assert.equal(Object.isFrozen(counter), false);
  assert.equal(Object.isExtensible(counter), true);
  // Enumeration still keeps to the Proxy invariants afterwards.
  assert.deepEqual(Object.keys(counter), []);
});

Deno.test("async loud: names a netref never reaches are not enumerated, whatever the list", () => {
  // Lists come from the peer; an honest one never names these, a hostile one might.
  const members = new Set(["a", "__proto__", "constructor", "prototype", "hasOwnProperty"]);
  const entry = new ImportEntry(1, RefKind.Object, "Listed", members);
  const netref = makeProxy({ engine: {} as Engine, base: entry, path: [] });
  assert.deepEqual(Object.keys(netref), ["a"]);
  assert.equal(Object.getOwnPropertyDescriptor(netref, "constructor"), undefined);
  assert.equal(Object.hasOwn(netref, "__proto__"), false);

  const unlisted = makeProxy({
    engine: {} as Engine,
    base: new ImportEntry(2, RefKind.Object, "Unlisted", null),
    path: [],
  });
  assert.throws(() => Object.keys(unlisted), { name: "TypeError", message: UNKNOWN_LIST });
});

// ---- enumerating what is not here yet ------------------------------------------------------

Deno.test("async loud: Object.keys of a property read or a pending answer throws", async () => {
  await using p = await pair(LoudService, { allowPublicAttrs: true });
  const root = p.client.root;
  const notHere = { "a property read": root.counter, "an answer": root.makeCounter() };
  for (const [what, value] of Object.entries(notHere)) {
    assert.throws(() => Object.keys(value), { name: "TypeError", message: UNKNOWN_LIST }, what);
    assert.throws(() => Reflect.ownKeys(value), TypeError, what);
    assert.throws(() => ({ ...value }), TypeError, what);
    assert.throws(() => {
      for (const _ in value) { /* never */ }
    }, TypeError);
    assert.throws(() => Object.hasOwn(value, "count"), { name: "TypeError", message: /'count'/ });
    // Display never enumerates.
    assert.match(String(value), /^\[Remote /);
    assert.equal(Deno.inspect(value), String(value));
  }
  // Once awaited, the netref has its list.
  assert.deepEqual(Object.keys(await root.counter).sort(), ["count", "increment"]);
  assert.deepEqual(Object.keys(await root.makeCounter()).sort(), ["count", "increment"]);
  // Plain data arrives as data.
  assert.deepEqual(Object.keys(await root.config), ["retries"]);
  assert.deepEqual(await obtain(root.counter), { count: 0 });
});

// ---- JSON ----------------------------------------------------------------------------------

Deno.test("async loud: JSON.stringify of a netref throws, pointing to obtain", async () => {
  await using p = await pair(LoudService, { allowPublicAttrs: true });
  const root = p.client.root;
  const counter = await root.counter;
  const loud = { name: "TypeError", message: /is remote.*await obtain\(x\)/ };
  assert.throws(() => JSON.stringify(counter), loud);
  assert.throws(() => JSON.stringify({ nested: [counter] }), loud);
  assert.throws(() => JSON.stringify(root), loud);
  assert.throws(() => JSON.stringify(root.counter), loud);
  assert.throws(() => JSON.stringify(root.makeCounter()), loud);
  assert.equal(typeof counter.toJSON, "function");
  assert.equal(JSON.stringify(await obtain(counter)), '{"count":0}');
});

// ---- iteration -----------------------------------------------------------------------------

Deno.test("async loud: for…of, spread and destructuring of a netref throw, naming for await", async () => {
  await using p = await pair(LoudService);
  const root = p.client.root;
  const items = await root.items; // data: an array, copied
  assert.deepEqual(items, [10, 20, 30]);
  const loud = { name: "TypeError", message: /is remote: iterate it with `for await \(/ };
  const remotes = { "a netref": p.client.root, "a read": root.items, "an answer": root.countTo(3) };
  for (const [what, value] of Object.entries(remotes)) {
    const iterable = value as unknown as Iterable<unknown>;
    assert.throws(() => {
      for (const _ of iterable) { /* never */ }
    }, loud);
    assert.throws(() => [...iterable], loud, what);
    assert.throws(() => {
      const [_first] = iterable;
    }, loud);
    assert.throws(() => Array.from(iterable), loud, what);
    assert.throws(() => new Set(iterable), loud, what);
  }
});

Deno.test("async loud: for await still iterates a netref", async () => {
  await using p = await pair(LoudService);
  const root = p.client.root;
  const seen: unknown[] = [];
  for await (const item of root.countTo(3)) seen.push(item);
  assert.deepEqual(seen, [1, 2, 3]);
  const again: unknown[] = [];
  for await (const item of root.items) again.push(item);
  assert.deepEqual(again, [10, 20, 30]);
});

/**
 * The scenarios of the corpus: what a real client does on each recorded
 * connection, one script a scenario, covering every message, operation and
 * kind of value.
 *
 * @module
 */

import { type Connection, deleteMember, hasMember, obtain, setMember, timed } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
type Root = any;
/**
 * What a scenario's client does. Netrefs it passes to `keep` stay alive until
 * the recording ends, so that no garbage collection (whose timing varies)
 * adds a RELEASE to the traffic.
 */
export type Script = (root: Root, conn: Connection, keep: <T>(value: T) => T) => Promise<void>;

/** Lets the housekeeping timers (FINISH, RELEASE: 5 ms) fire, so batches do not depend on timing. */
export const settle = (ms = 15) => new Promise((resolve) => setTimeout(resolve, ms));

/** Awaits `value`, ignoring a rejection (scenarios provoke errors on purpose). */
async function quietly(value: unknown): Promise<void> {
  try {
    await value;
  } catch {
    // The error travelled; that is all the scenario wanted.
  }
}

/** `new remote(...args)`, a rejection if the netref cannot even be constructed locally. */
function construct(remote: Root, ...args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve(new remote(...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `error` with a stack that names no file: the recorded bytes must not depend
 * on where the checkout is or on which line this file throws.
 */
function withStack<E extends Error>(error: E): E {
  error.stack = `${error.name}: ${error.message}\n    at scenario (fuzz)`;
  return error;
}

/** A local object with members the server may call: it goes by reference, with a member list. */
class Local {
  exposed_hi(name: unknown): string {
    return `hi ${name}`;
  }
  exposed_twice(n: number): number {
    return 2 * n;
  }
}

/** What the client of each scenario does; the names say which messages and values it covers. */
export const SCENARIOS: Record<string, Script> = {
  async primitives(root) {
    // deno-fmt-ignore
    const values = [0, 1, -1, 127, 128, 65535, 2 ** 32, 2 ** 53 - 1, -(2 ** 31), 1.5, NaN, Infinity];
    for (const value of values) await root.echo(value);
    for (const value of ["", "ascii", "ünï€😀", true, false, null, undefined, -0]) {
      await root.echo(value);
    }
    for (const value of [0n, 2n ** 100n, -(2n ** 64n)]) await root.echo(value);
    await settle();
  },
  async containers(root) {
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { name: "cycle" };
    cyclic.self = cyclic;
    await root.echo({ a: 1, b: [1, "two", { c: null }], d: { e: { f: [true] } } });
    await root.echo(Array.from({ length: 20 }, (_, i) => i));
    await root.echo(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])));
    await root.echo(new Map<unknown, unknown>([[1, "one"], ["two", 2], [{ k: 1 }, [3]]]));
    await root.echo(new Set([1, "a", null]));
    await root.echo([new Date(86_400_000), new Date(NaN)]);
    await root.echo({ a: shared, b: shared, cyclic });
    await root.echo([
      new Int8Array([-1, 2]),
      new Uint8Array([1, 2, 3]),
      new Uint8ClampedArray([255]),
      new Int16Array([-300]),
      new Uint16Array([60000]),
      new Int32Array([-70000]),
      new Uint32Array([4e9]),
      new Float32Array([1.5]),
      new Float64Array([Math.PI]),
      new BigInt64Array([-5n]),
      new BigUint64Array([5n]),
      new DataView(new ArrayBuffer(3)),
      new ArrayBuffer(4),
    ]);
    await root.echo(withStack(new TypeError("as a value", { cause: "because" })));
    await settle();
  },
  async attachments(root) {
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    await root.size(big);
    await root.echo(new Float64Array(9_000));
    await root.size(new ArrayBuffer(70_000));
    await root.echo({ first: big, again: big });
    await settle();
  },
  async longBody(root) {
    await root.echo("x".repeat(150_000));
    await settle();
  },
  async errors(root) {
    await quietly(root.fail("boom"));
    await quietly(root.call(() => {
      throw withStack(new RangeError("from a callback"));
    }));
    await quietly(root.call(() => {
      throw 42;
    }));
    await quietly(root.missing());
    await settle();
  },
  async callbacks(root) {
    const double = (x: number) => x * 2;
    await root.call(double, 21);
    await root.call(double, 4);
    await root.call(async (a: unknown, b: unknown) => await Promise.resolve([a, b]), 1, "two");
    await root.callMember(new Local(), "hi", "there");
    await root.callMember(new Local(), "twice", 8);
    await settle();
  },
  async references(root) {
    const counter = await root.make(5);
    await counter.add(1);
    await root.echo(counter);
    await root.echo({ inside: counter, list: [counter] });
    counter[Symbol.dispose]();
    await settle();
    const other = await root.make(1);
    await other.value();
    other[Symbol.dispose]();
    await settle();
  },
  async lazy(root) {
    await root.f(root.config.size);
    await root.echo(root.config.nested.deep);
    await root.echo({ size: root.config.size, label: root.config.nested.label });
    await root.echo(new Map([["k", root.config.size]]));
    await settle();
  },
  async pipelined(root, _conn, keep) {
    await keep(root.make(3)).add(4);
    await keep(root.make(1)).items();
    const pending = keep(root.make(2));
    // The answer is a netref (to the bound method): kept, or its collection would add a RELEASE.
    keep(await root.echo(pending.value));
    keep(await root.echo(pending));
    await settle();
  },
  async cancel(root) {
    // The call's deadline timer does not keep the process alive, and in-memory streams have
    // no pending I/O that would: a timer that does, meanwhile.
    await Promise.all([quietly(timed(root.hang, 30)()), settle(60)]);
    const controller = new AbortController();
    const call = timed(root.hang, { signal: controller.signal })();
    await settle();
    controller.abort(new Error("enough"));
    await quietly(call);
    await settle();
  },
  async iterators(root, _conn, keep) {
    for await (const _ of keep(root.range(3))) { /* every step is a NEXT */ }
    for await (const _ of keep(root.range(5))) break; // RETURN
    await settle();
  },
  async operations(root, conn, keep) {
    await root.config; // GET
    await hasMember(root, "echo"); // HAS
    await hasMember(root.config, "size");
    await obtain(root.config); // COPY
    await obtain(keep(root.make(9)));
    await quietly(setMember(root.config, "size", 4)); // SET (refused by the policy)
    await quietly(deleteMember(root.config, "size")); // DELETE (refused)
    await quietly(construct(root.make, 1)); // NEW (refused)
    await conn.ping(); // PING
    const later = keep(await root.later(7));
    await later.promise; // AWAIT
    await settle();
  },
  async bursts(root, _conn, keep) {
    const calls = [];
    for (let i = 0; i < 40; i++) calls.push(root.echo(i % 3 === 0 ? { i, s: "s".repeat(i) } : i));
    calls.push(keep(root.make(1)).add(1), root.f(root.config.size));
    await Promise.all(calls);
    await settle();
    for (let i = 0; i < 5; i++) await root.echo(i); // FINISH rides on the next request
    await settle();
  },
  async goodbye(root, conn) {
    await root.echo("bye");
    await settle();
    await conn.close(); // the CLOSE frame is recorded too
  },
};

/** Scenarios that end with the client's CLOSE, which the recording keeps. */
export const KEEPS_CLOSE = new Set(["goodbye"]);

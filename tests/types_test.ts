/**
 * The TypeScript view of netrefs: `Remote<T>` checked by `deno check` (a wrong
 * type below fails the type check) and exercised over a real connection.
 */

import assert from "node:assert/strict";
import { type Remote, Service } from "../mod.ts";
import { pair } from "./_helpers.ts";

class Counter {
  count = 0;
  exposed_increment(by = 1): number {
    return this.count += by;
  }
  async exposed_later(): Promise<string> {
    return await Promise.resolve(`at ${this.count}`);
  }
}

class TypedService extends Service {
  exposed_add(a: number, b: number): number {
    return a + b;
  }
  exposed_counter(): Counter {
    return new Counter();
  }
  exposed_settings = { retries: 3 };
}

Deno.test("types: Remote<T> strips exposed_, types calls, answers and pipelining", async () => {
  await using p = await pair(TypedService, { allowPublicAttrs: true });
  const root = p.client.root as Remote<TypedService>;
  const sum: number = await root.add(1, 2);
  assert.equal(sum, 3);
  // A call on an answer not yet here is pipelined, and typed.
  const first: number = await root.counter().increment(5);
  assert.equal(first, 5);
  const counter = await root.counter();
  const later: string = await counter.later();
  assert.equal(later, "at 0");
  const retries: number = await root.settings.retries;
  assert.equal(retries, 3);
  // Never called: it only has to fail the type check.
  const _wrongArgument = () =>
    // @ts-expect-error: add takes numbers
    root.add("1", 2);
  // @ts-expect-error: members are reached without the exposed_ prefix in the type
  const _prefixed = () => root.exposed_add;
  counter[Symbol.dispose]();
});

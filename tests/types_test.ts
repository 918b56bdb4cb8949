/**
 * The TypeScript view of netrefs: `Remote<T>` checked by `deno check` (a wrong
 * type below fails the type check) and exercised over a real connection.
 */

import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { AccessError, type Connection, currentCall, type Remote, Service } from "../mod.ts";
import { pair, rejection } from "./_helpers.ts";

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

class GuardedService extends Service {
  exposed_visible(): string {
    return "visible";
  }
  hidden(): string {
    return "hidden";
  }
  _internal = 1;
}

Deno.test("types: Remote<T> shows only what the peer may reach", async () => {
  await using p = await pair(GuardedService);
  const root = p.client.root as Remote<GuardedService>;
  assert.equal(await root.visible(), "visible");
  // What does not type-check is refused at run time too.
  const hidden = await rejection((p.client.root as Remote<GuardedService, "hidden">).hidden());
  assert.ok(hidden instanceof AccessError, `got ${hidden}`);
  // Never called: they only have to fail the type check.
  // @ts-expect-error: not exposed
  const _hidden = () => root.hidden();
  // @ts-expect-error: a service's hooks are never exposed
  const _hook = () => root.onConnect;
  // @ts-expect-error: not exposed either
  const _field = () => root._internal;
  // An awaited class instance is a netref: its unexposed fields are not there either.
  const _count = async () => {
    const counter = await (p.client.root as Remote<TypedService>).counter();
    // @ts-expect-error: Counter's count is not exposed
    return counter.count;
  };
  // A plain object type (data, or a classic server's object) shows its public members.
  const data = p.client.root as Remote<{ size: number; _secret: number }>;
  const _size = () => data.size;
  // @ts-expect-error: `_` names are private by convention
  const _secret = () => data._secret;
  const list = p.client.root as Remote<number[]>;
  const _length: () => PromiseLike<number> = () => list.length;
  // With allowPublicAttrs or @exposed, the reachable names are given.
  const wide = p.client.root as Remote<Counter, "count" | "increment">;
  const _wideCount: () => PromiseLike<number> = () => wide.count;
});

class WhoService extends Service {
  exposed_who(): string {
    // No `!`: inside a served call there is a context, and its connection is typed.
    const connection: Connection = currentCall().connection;
    return `${connection.peerService} via ${connection.description.split(" ")[0]}`;
  }
}

Deno.test("types: currentCall() is a CallContext inside a call and throws outside", async () => {
  await using p = await pair(WhoService, {}, { service: GuardedService });
  assert.equal(await p.client.root.who(), "Guarded via tcp");
  assert.throws(() => currentCall(), /only available while a remote call is being served/);
  assert.equal(currentCall({ optional: true }), undefined);
});

/** `deno doc --json` of `file` (relative to the repository), its symbols by name. */
async function documented(file: string): Promise<Map<string, Record<string, unknown>>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", fromFileUrl(new URL(`../${file}`, import.meta.url))],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, `deno doc ${file} failed`);
  const doc = JSON.parse(new TextDecoder().decode(output.stdout));
  const symbols = Object.values(doc.nodes as Record<string, { symbols: { name: string }[] }>)
    .flatMap((node) => node.symbols);
  return new Map(symbols.map((symbol) => [symbol.name, symbol]));
}

Deno.test("types: deno doc shows optional parameters and their defaults", async () => {
  const classicDoc = await documented("core/classic/connect.ts");
  // deno-lint-ignore no-explicit-any
  const connectDoc = (classicDoc.get("connect") as any).declarations[0];
  const params = connectDoc.def.params as { name: string; optional: boolean }[];
  assert.deepEqual(params.map((p) => [p.name, p.optional]), [
    ["host", true],
    ["port", true],
    ["options", true],
  ]);
  const tags = connectDoc.jsDoc.tags as { kind: string; name?: string; default?: string }[];
  assert.deepEqual(
    tags.filter((tag) => tag.kind === "param" && tag.default).map((tag) => [tag.name, tag.default]),
    [["host", '"127.0.0.1"'], ["port", "18812"]],
  );
  const sessionDoc = await documented("core/session/connection.ts");
  // deno-lint-ignore no-explicit-any
  const options = (sessionDoc.get("ConnectionOptions") as any).declarations[0].def.properties as {
    name: string;
    jsDoc?: { tags?: { kind: string; value?: string }[] };
  }[];
  const defaults = Object.fromEntries(options.map((property) => [
    property.name,
    property.jsDoc?.tags?.find((tag) => tag.kind === "default")?.value,
  ]));
  assert.equal(defaults.timeout, "30_000");
  assert.equal(defaults.handshakeTimeout, "10_000");
  assert.equal(defaults.includeLocalStack, "true");
});

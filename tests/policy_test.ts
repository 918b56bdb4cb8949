/**
 * The security policy over real loopback connections: RPyC's attribute-access
 * truth table (rpyc.md §3.2, tests/test_attr_access.py), the widening
 * switches, `restricted()`, names that are never reachable, `hasMember`, the
 * `in` operator, and callbacks.
 */

import assert from "node:assert/strict";
import {
  AccessError,
  type Connection,
  deleteMember,
  exposed,
  hasMember,
  isRemote,
  type Policy,
  restricted,
  Service,
  setMember,
} from "../mod.ts";
import { pair, quietLogger, waitFor } from "./_helpers.ts";

class Subject {
  foo = "foo-field";
  spam = 5;
  bar(): string {
    return "bar";
  }
  _privy(): string {
    return "privy";
  }
  exposed_foobar(): string {
    return "foobar";
  }
  @exposed
  deco(): string {
    return "deco";
  }
  @exposed
  get decoGetter(): string {
    return "getter";
  }
  @exposed
  decoField = "field";
}

class Point {
  constructor(public x = 0, public y = 0) {}
}

// The navigation methods use the decorator, so every policy reaches them the
// same way; the prefix is exercised by exposed_value, exposed_Point and Subject.
class PolicyService extends Service {
  held = new Subject();
  exposed_value = 1;
  exposed_Point = Point;
  @exposed
  subject(): Subject {
    return this.held;
  }
  @exposed
  view(): unknown {
    return restricted(this.held, ["bar", "_privy"], ["foo"]);
  }
  @exposed
  apply(fn: (x: unknown) => unknown, x: unknown): unknown {
    return fn(x);
  }
  secret(): string {
    return "secret";
  }
}

/** The service instance behind the pair's only server connection. */
function serverSide(p: { serverConn(): Connection }): PolicyService {
  return p.serverConn().service as PolicyService;
}

/** Whether `promise` rejected with the remote AccessError for `name`. */
function isAccessError(verb: string, name: string) {
  return (e: Error) => {
    assert.ok(e instanceof AccessError, `expected an AccessError, got ${e}`);
    assert.equal(e.name, "AccessError");
    assert.match(e.message, new RegExp(`cannot ${verb} '${name}'`));
    return true;
  };
}

/** The members of Subject as a peer reaches them, and the value each gives. */
const MEMBERS: [name: string, kind: "get" | "call", value: string][] = [
  ["foo", "get", "foo-field"],
  ["bar", "call", "bar"],
  ["_privy", "call", "privy"],
  ["foobar", "call", "foobar"],
  ["exposed_foobar", "call", "foobar"],
  ["deco", "call", "deco"],
  ["decoGetter", "get", "getter"],
  ["decoField", "get", "field"],
];

/**
 * Checks every member of a remote Subject against `allowed` and reports every
 * mismatch at once.
 */
// deno-lint-ignore no-explicit-any
async function checkTable(subject: any, allowed: Set<string>): Promise<void> {
  const problems: string[] = [];
  for (const [name, kind, value] of MEMBERS) {
    try {
      const got = kind === "call" ? await subject[name]() : await subject[name];
      if (!allowed.has(name)) problems.push(`${name}: reachable (gave ${got}), should be refused`);
      else if (got !== value) problems.push(`${name}: gave ${got}, expected ${value}`);
    } catch (error) {
      const e = error as Error;
      if (allowed.has(name)) problems.push(`${name}: refused (${e.name}: ${e.message})`);
      else if (!(e instanceof AccessError) || e.message !== `cannot access '${name}'`) {
        problems.push(`${name}: wrong refusal ${e.name}: ${e.message}`);
      }
    }
  }
  assert.deepEqual(problems, []);
}

const ALWAYS = ["foobar", "exposed_foobar", "deco", "decoGetter", "decoField"];

Deno.test("policy: RPyC's attribute-access truth table", async (t) => {
  const cases: [string, Policy, string[]][] = [
    ["default (strict)", {}, ALWAYS],
    ["allowPublicAttrs", { allowPublicAttrs: true }, [...ALWAYS, "foo", "bar"]],
    ["allowAllAttrs", { allowAllAttrs: true }, [...ALWAYS, "foo", "bar", "_privy"]],
  ];
  for (const [name, policy, allowed] of cases) {
    await t.step(name, async () => {
      await using p = await pair(PolicyService, policy);
      const subject = await p.client.root.subject();
      assert.ok(isRemote(subject));
      await checkTable(subject, new Set(allowed));
    });
  }
});

Deno.test("policy: the service root", async (t) => {
  await t.step("strict: exposed members with and without prefix, others refused", async () => {
    await using p = await pair(PolicyService);
    const root = p.client.root;
    assert.equal(await root.value, 1);
    assert.equal(await root.exposed_value, 1);
    await assert.rejects(async () => await root.secret(), isAccessError("access", "secret"));
    await assert.rejects(async () => await root.held, isAccessError("access", "held"));
    await assert.rejects(async () => await root.onConnect, isAccessError("access", "onConnect"));
    // the connection survives refusals
    assert.equal(await root.value, 1);
  });

  await t.step("allowAllAttrs: every member, exposed ones still by short name", async () => {
    await using p = await pair(PolicyService, { allowAllAttrs: true });
    const root = p.client.root;
    assert.equal(await root.secret(), "secret");
    assert.equal(await root.exposed_value, 1);
    assert.equal(await root.value, 1, "the exposed_ alias must still work under allowAllAttrs");
  });
});

Deno.test("policy: writes and deletes", async (t) => {
  await t.step("strict: setMember and deleteMember are refused", async () => {
    await using p = await pair(PolicyService);
    const subject = await p.client.root.subject();
    await assert.rejects(setMember(subject, "foo", "x"), isAccessError("write", "foo"));
    await assert.rejects(setMember(subject, "decoField", "x"), isAccessError("write", "decoField"));
    await assert.rejects(deleteMember(subject, "foo"), isAccessError("delete", "foo"));
    assert.equal(serverSide(p).held.foo, "foo-field");
    assert.equal(serverSide(p).held.decoField, "field");
  });

  await t.step("strict: plain assignment is fire-and-forget and changes nothing", async () => {
    await using p = await pair(PolicyService);
    const subject = await p.client.root.subject();
    subject.foo = "changed";
    delete subject.spam;
    await p.client.ping(); // both requests were served before the ping's answer
    assert.equal(serverSide(p).held.foo, "foo-field");
    assert.equal(serverSide(p).held.spam, 5);
    assert.equal(p.client.closed, false);
  });

  await t.step("allowSetAttr alone: exposed members only", async () => {
    await using p = await pair(PolicyService, { allowSetAttr: true });
    const subject = await p.client.root.subject();
    await setMember(subject, "decoField", "new-field");
    assert.equal(serverSide(p).held.decoField, "new-field");
    assert.equal(await subject.decoField, "new-field");
    await assert.rejects(setMember(subject, "foo", "x"), isAccessError("write", "foo"));
    await assert.rejects(deleteMember(subject, "decoField"), isAccessError("delete", "decoField"));
  });

  await t.step("allowSetAttr + allowPublicAttrs: public members, never _private", async () => {
    await using p = await pair(PolicyService, { allowSetAttr: true, allowPublicAttrs: true });
    const subject = await p.client.root.subject();
    await setMember(subject, "foo", "set-by-peer");
    assert.equal(serverSide(p).held.foo, "set-by-peer");
    assert.equal(await subject.foo, "set-by-peer");
    await assert.rejects(setMember(subject, "_privy", 1), isAccessError("write", "_privy"));
    assert.equal(typeof serverSide(p).held._privy, "function");
    // plain assignment: fire-and-forget, then visible to the next read
    subject.foo = "assigned";
    assert.equal(await subject.foo, "assigned");
    assert.equal(serverSide(p).held.foo, "assigned");
    // a new member appears too
    subject.extra = 42;
    assert.equal(await subject.extra, 42);
  });

  await t.step("allowDelAttr + allowPublicAttrs: deletes", async () => {
    await using p = await pair(PolicyService, { allowDelAttr: true, allowPublicAttrs: true });
    const subject = await p.client.root.subject();
    assert.equal(await deleteMember(subject, "foo"), true);
    assert.equal("foo" in serverSide(p).held, false);
    assert.equal(await hasMember(subject, "foo"), false);
    delete subject.spam;
    await p.client.ping();
    assert.equal("spam" in serverSide(p).held, false);
    await assert.rejects(setMember(subject, "decoField", 1), isAccessError("write", "decoField"));
    await assert.rejects(deleteMember(subject, "_privy"), isAccessError("delete", "_privy"));
  });

  await t.step("service attributes are never writable, whatever the policy", async () => {
    await using p = await pair(PolicyService, {
      allowAllAttrs: true,
      allowSetAttr: true,
      allowDelAttr: true,
    });
    const root = p.client.root;
    await assert.rejects(
      setMember(root, "exposed_value", 2),
      isAccessError("write", "exposed_value"),
    );
    await assert.rejects(setMember(root, "value", 2), isAccessError("write", "value"));
    await assert.rejects(setMember(root, "newThing", 2), isAccessError("write", "newThing"));
    await assert.rejects(
      deleteMember(root, "exposed_value"),
      isAccessError("delete", "exposed_value"),
    );
    await assert.rejects(deleteMember(root, "secret"), isAccessError("delete", "secret"));
    root.exposed_value = 3;
    await p.client.ping();
    const service = serverSide(p);
    assert.equal(service.exposed_value, 1);
    assert.equal(Object.hasOwn(service, "newThing"), false);
    assert.equal(typeof service.secret, "function");
    // the objects it hands out are writable under this policy
    const subject = await root.subject();
    await setMember(subject, "foo", "ok");
    assert.equal(service.held.foo, "ok");
  });
});

Deno.test("policy: allowConstruct", async (t) => {
  await t.step("strict: new is refused", async () => {
    await using p = await pair(PolicyService);
    await assert.rejects(
      async () => await new p.client.root.Point(1, 2),
      isAccessError("construct", "Point"),
    );
  });

  await t.step("allowConstruct: new builds a remote instance", async () => {
    await using p = await pair(PolicyService, { allowConstruct: true, allowPublicAttrs: true });
    const point = await new p.client.root.Point(1, 2);
    assert.ok(isRemote(point));
    assert.equal(await point.x, 1);
    assert.equal(await point.y, 2);
  });
});

Deno.test("policy: restricted() narrows regardless of policy", async (t) => {
  for (
    const [name, policy] of [["strict", {}], ["allowAllAttrs", { allowAllAttrs: true }]] as const
  ) {
    await t.step(name, async () => {
      await using p = await pair(PolicyService, policy);
      const view = await p.client.root.view();
      assert.ok(isRemote(view));
      assert.equal(await view.bar(), "bar", "listed names are readable");
      assert.equal(await view._privy(), "privy", "even _private ones");
      await assert.rejects(async () => await view.foo, isAccessError("access", "foo"));
      await assert.rejects(async () => await view.foobar(), isAccessError("access", "foobar"));
      await assert.rejects(
        async () => await view.exposed_foobar(),
        isAccessError("access", "exposed_foobar"),
      );
      await assert.rejects(async () => await view.deco(), isAccessError("access", "deco"));
      // writable names are writable even without allowSetAttr
      await setMember(view, "foo", "through-view");
      assert.equal(serverSide(p).held.foo, "through-view");
      await assert.rejects(setMember(view, "bar", 1), isAccessError("write", "bar"));
      assert.equal(await hasMember(view, "bar"), true);
      assert.equal(await hasMember(view, "foobar"), false);
    });
  }

  await t.step("blocked names cannot be listed", () => {
    for (const blocked of ["constructor", "__proto__", "prototype", "hasOwnProperty"]) {
      assert.throws(() => restricted({}, [blocked]), TypeError);
      assert.throws(() => restricted({}, [], [blocked]), TypeError);
    }
  });
});

Deno.test("policy: blocked names are never reachable, even with allowAllAttrs", async () => {
  await using p = await pair(PolicyService, {
    allowAllAttrs: true,
    allowSetAttr: true,
    allowDelAttr: true,
  });
  const subject = await p.client.root.subject();
  // reads of blocked names stay local: nothing is asked of the peer
  assert.equal(subject.constructor, Object);
  assert.equal(subject.hasOwnProperty, Object.prototype.hasOwnProperty);
  assert.equal(isRemote(subject.__proto__), false);
  assert.equal(subject.prototype, undefined);
  for (const name of ["__proto__", "constructor", "prototype", "toString", "valueOf"]) {
    await assert.rejects(hasMember(subject, name), TypeError);
    await assert.rejects(setMember(subject, name, {}), TypeError);
    await assert.rejects(deleteMember(subject, name), TypeError);
  }
  // assignment to a blocked name fails locally (a proxy trap returning false)
  assert.throws(() => {
    subject.__proto__ = {};
  }, TypeError);
  assert.throws(() => {
    subject.constructor = 1;
  }, TypeError);
  await p.client.ping();
  assert.equal(p.client.closed, false);
  assert.equal(Object.getPrototypeOf(serverSide(p).held), Subject.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("policy: hasMember", async (t) => {
  await t.step("strict", async () => {
    await using p = await pair(PolicyService);
    const subject = await p.client.root.subject();
    for (const name of ["foobar", "exposed_foobar", "deco", "decoGetter", "decoField"]) {
      assert.equal(await hasMember(subject, name), true, name);
    }
    for (const name of ["foo", "bar", "_privy", "nothing"]) {
      assert.equal(await hasMember(subject, name), false, name);
    }
    assert.equal(await hasMember(p.client.root, "value"), true);
    assert.equal(await hasMember(p.client.root, "secret"), false);
    await assert.rejects(hasMember({}, "x"), TypeError);
  });

  await t.step("allowAllAttrs", async () => {
    await using p = await pair(PolicyService, { allowAllAttrs: true });
    const subject = await p.client.root.subject();
    for (const name of ["foo", "bar", "_privy", "exposed_foobar", "foobar"]) {
      assert.equal(await hasMember(subject, name), true, name);
    }
    assert.equal(await hasMember(subject, "nothing"), false);
  });
});

Deno.test("policy: the in operator answers from the member list a netref arrived with", async (t) => {
  await t.step(
    "strict: exposed names (with and without prefix) and decorated members",
    async () => {
      await using p = await pair(PolicyService);
      const subject = await p.client.root.subject();
      for (const name of ["foobar", "exposed_foobar", "deco", "decoGetter", "decoField"]) {
        assert.equal(name in subject, true, name);
      }
      for (const name of ["foo", "bar", "spam", "_privy", "toString", "constructor"]) {
        assert.equal(name in subject, false, name);
      }
      assert.equal("value" in p.client.root, true, "the root's list comes with the handshake");
      assert.equal("secret" in p.client.root, false);
      assert.equal(Symbol.dispose in subject, false, "symbols are answered locally");
    },
  );

  await t.step(
    "allowPublicAttrs widens the list, allowAllAttrs lists private names too",
    async () => {
      await using pub = await pair(PolicyService, { allowPublicAttrs: true });
      const seen = await pub.client.root.subject();
      assert.equal("foo" in seen && "bar" in seen && "spam" in seen, true);
      assert.equal("_privy" in seen, false);
      await using all = await pair(PolicyService, { allowAllAttrs: true });
      assert.equal("_privy" in await all.client.root.subject(), true);
    },
  );

  await t.step("restricted() lists exactly its readable names", async () => {
    await using p = await pair(PolicyService);
    const view = await p.client.root.view();
    assert.equal("bar" in view && "_privy" in view, true);
    assert.equal("foobar" in view, false);
  });

  await t.step(
    "a value not fetched yet has no list: in throws, pointing to hasMember",
    async () => {
      await using p = await pair(PolicyService);
      assert.throws(
        () => "foo" in p.client.root.subject,
        (e: Error) =>
          e instanceof TypeError && /hasMember/.test(e.message) && /foo/.test(e.message),
      );
    },
  );
});

Deno.test("policy: callbacks are always callable by the peer", async (t) => {
  await using p = await pair(PolicyService);
  const root = p.client.root;

  await t.step("a plain function passed as an argument", async () => {
    assert.equal(await root.apply((x: number) => x * 2, 21), 42);
  });

  await t.step("an arrow that closes over local state", async () => {
    const seen: unknown[] = [];
    await root.apply((x: unknown) => void seen.push(x), { a: 1 });
    assert.deepEqual(seen, [{ a: 1 }]);
  });

  await t.step("nested callbacks (the callback calls the server back)", async () => {
    const result = await root.apply(
      async (x: number) => await root.apply((y: number) => y + 1, x * 10),
      2,
    );
    assert.equal(result, 21);
  });

  await t.step("a callback that throws", async () => {
    await assert.rejects(
      async () =>
        await root.apply(() => {
          throw new RangeError("from the callback");
        }, 0),
      (e: Error) => e instanceof RangeError && e.message === "from the callback",
    );
  });

  await t.step("a class instance's method passed as a function", async () => {
    const counter = {
      n: 0,
      bump(by: number) {
        return (counter.n += by);
      },
    };
    assert.equal(await root.apply(counter.bump, 5), 5);
    assert.equal(counter.n, 5);
  });
});

Deno.test("policy: a refused write through assignment syntax is logged, not lost", async () => {
  const lines: string[] = [];
  await using p = await pair(PolicyService, {}, { logger: quietLogger(lines) });
  const subject = await p.client.root.subject();
  subject.foo = "changed";
  delete subject.spam;
  await waitFor(() => lines.length >= 2, 5000, "two log lines");
  assert.match(lines.join("\n"), /assignment to \[Remote Subject #\d+\.foo\] failed: AccessError/);
  assert.match(lines.join("\n"), /delete of \[Remote Subject #\d+\.spam\] failed: AccessError/);
  assert.equal(serverSide(p).held.foo, "foo-field");
  assert.equal(serverSide(p).held.spam, 5);
});

/** A service whose method writes `this.owner`: run on another object, it writes that object. */
class Ledger {
  owner = "alice";
}
class OwnerService extends Service {
  owner = "service";
  ledger = new Ledger();
  exposed_Point = Point;
  exposed_setOwner(owner: string): string {
    this.owner = owner;
    return owner;
  }
}

const PLUMBING = ["call", "apply", "bind", "arguments", "caller"];

Deno.test("policy: allowPublicAttrs does not reach call, apply or bind of a remote function", async (t) => {
  await using p = await pair(OwnerService, { allowPublicAttrs: true });
  const root = p.client.root;
  const service = p.serverConn().service as OwnerService;
  const ledger = await root.ledger;
  assert.ok(isRemote(ledger));
  // What call/apply/bind would get around: the ledger is not writable.
  await assert.rejects(setMember(ledger, "owner", "mallory"), isAccessError("write", "owner"));

  await t.step("calling them is refused with AccessError; nothing is written", async () => {
    await assert.rejects(
      async () => await root.setOwner.call(ledger, "mallory"),
      isAccessError("access", "call"),
    );
    await assert.rejects(
      async () => await root.setOwner.apply(ledger, ["mallory"]),
      isAccessError("access", "apply"),
    );
    await assert.rejects(
      async () => await root.setOwner.bind(ledger)("mallory"),
      isAccessError("access", "bind"),
    );
    // The same through a function value the peer holds, and on a class.
    const setOwner = await root.setOwner;
    assert.ok(isRemote(setOwner));
    await assert.rejects(
      async () => await setOwner.call(ledger, "mallory"),
      isAccessError("access", "call"),
    );
    await assert.rejects(
      async () => await root.Point.call(ledger, 1, 2),
      isAccessError("access", "call"),
    );
    assert.equal(service.ledger.owner, "alice");
    assert.equal(service.owner, "service");
  });

  await t.step("reading them, writing them and asking for them are refused too", async () => {
    const setOwner = await root.setOwner;
    for (const name of PLUMBING) {
      await assert.rejects(async () => await root.setOwner[name], isAccessError("access", name));
      assert.equal(await hasMember(setOwner, name), false, `hasMember ${name}`);
      assert.equal(name in setOwner, false, `the member list advertises ${name}`);
    }
    await using pw = await pair(OwnerService, { allowPublicAttrs: true, allowSetAttr: true });
    const writable = await pw.client.root.Point;
    await assert.rejects(setMember(writable, "call", () => 0), isAccessError("write", "call"));
    assert.equal(Object.hasOwn(Point, "call"), false);
  });

  await t.step("a function's own members are still reachable", async () => {
    assert.equal(await root.Point.name, "Point");
    assert.equal(await root.Point.length, Point.length);
    assert.equal(await hasMember(await root.Point, "name"), true);
  });

  await t.step("the connection stays usable, and the method works as meant", async () => {
    assert.equal(p.client.closed, false);
    assert.equal(await root.setOwner("bob"), "bob");
    assert.equal(service.owner, "bob");
    assert.equal(service.ledger.owner, "alice");
  });
});

Deno.test("policy: allowAllAttrs (full trust, classic mode) reaches and lists call, apply and bind", async () => {
  await using p = await pair(OwnerService, { allowAllAttrs: true });
  const root = p.client.root;
  const service = p.serverConn().service as OwnerService;
  const ledger = await root.ledger;
  const setOwner = await root.setOwner;
  for (const name of ["call", "apply", "bind"]) {
    assert.equal(name in setOwner, true, `the member list lacks ${name}`);
    assert.equal(await hasMember(setOwner, name), true, name);
  }
  // A method read off the root is bound to it (call cannot change a bound this) …
  assert.equal(await setOwner.call(ledger, "carol"), "carol");
  assert.equal(service.owner, "carol");
  // … while a path through the function reaches the method itself.
  assert.equal(await root.setOwner.call(ledger, "dave"), "dave");
  assert.equal(service.ledger.owner, "dave");
  assert.equal(await root.setOwner.apply(ledger, ["erin"]), "erin");
  assert.equal(service.ledger.owner, "erin");
});

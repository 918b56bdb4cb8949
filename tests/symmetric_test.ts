/**
 * The symmetric protocol over real loopback TCP: both ends serve, callbacks
 * are first class, re-entrant nesting does not deadlock, and many concurrent
 * calls on one connection each get their own reply.
 */

import assert from "node:assert/strict";
import { isRemote, Service, type ServiceConnection } from "../mod.ts";
import { pair, waitFor } from "./_helpers.ts";

/** The client's service: what the server reaches through `conn.root`. */
class ClientSideService extends Service {
  name = "client";
  calls: string[] = [];
  exposed_whoAreYou(): string {
    this.calls.push("whoAreYou");
    return `I am the ${this.name}`;
  }
  exposed_double(n: number): number {
    this.calls.push(`double ${n}`);
    return n * 2;
  }
}

/** Records what the server saw of the client's root. */
interface ServerLog {
  fromOnConnect?: string;
  peerService?: string;
  errors: unknown[];
}

function symmetricServer(log: ServerLog) {
  return class SymmetricService extends Service {
    conn?: ServiceConnection;
    held: ((...args: unknown[]) => unknown) | undefined;

    override async onConnect(conn: ServiceConnection): Promise<void> {
      this.conn = conn;
      log.peerService = conn.peerService;
      try {
        log.fromOnConnect = await (conn.root as Record<string, () => Promise<string>>)
          .whoAreYou();
      } catch (error) {
        log.errors.push(error);
      }
    }
    async exposed_askClient(n: number): Promise<number> {
      const root = this.conn!.root as Record<string, (n: number) => Promise<number>>;
      return await root.double(n) + 1;
    }
    async exposed_callBack(fn: (x: number) => Promise<number>, x: number): Promise<number> {
      return await fn(x) * 10;
    }
    async exposed_useObject(
      obj: { greet(name: string): Promise<string>; tag: Promise<string> },
    ): Promise<string> {
      return `${await obj.greet("server")} / ${await obj.tag}`;
    }
    exposed_hold(fn: (...args: unknown[]) => unknown): void {
      this.held = fn;
    }
    async exposed_fire(...args: unknown[]): Promise<unknown> {
      return await this.held!(...args);
    }
    async exposed_echoDelayed(i: number, ms: number): Promise<string> {
      await new Promise((r) => setTimeout(r, ms));
      return `reply ${i}`;
    }
    exposed_identity(x: unknown): unknown {
      return x;
    }
  };
}

function newLog(): ServerLog {
  return { errors: [] };
}

Deno.test("symmetric: the server uses the client's root from onConnect and from methods", async () => {
  const log = newLog();
  const clientService = new ClientSideService();
  await using p = await pair(symmetricServer(log), {}, { service: clientService });
  assert.equal(p.client.peerService, "Symmetric");
  assert.equal(p.serverConn().peerService, "ClientSide");
  assert.equal(log.peerService, "ClientSide");
  // onConnect runs before any of the client's requests is served, so by now it has finished.
  assert.equal(await p.client.root.askClient(20), 41);
  assert.equal(log.fromOnConnect, "I am the client");
  assert.deepEqual(log.errors, []);
  assert.deepEqual(clientService.calls, ["whoAreYou", "double 20"]);
  // The server end's root is a netref to the client's service.
  const serverSide = p.serverConn();
  assert.ok(isRemote(serverSide.root));
  assert.equal(String(serverSide.root), "[Remote ClientSide #0]");
  assert.equal(await serverSide.root.double(4), 8);
});

Deno.test("symmetric: a client without a service offers nothing", async () => {
  const log = newLog();
  await using p = await pair(symmetricServer(log));
  await waitFor(() => log.errors.length > 0 || log.fromOnConnect !== undefined);
  assert.equal(log.peerService, "Void");
  assert.equal(log.fromOnConnect, undefined);
  assert.equal(log.errors.length, 1, "the VoidService has no whoAreYou");
  assert.equal((log.errors[0] as Error).name, "AccessError");
  assert.equal(await p.client.root.identity(5), 5);
});

Deno.test("symmetric: functions and objects passed as arguments are called back", async () => {
  await using p = await pair(symmetricServer(newLog()));
  const root = p.client.root;
  const seen: number[] = [];
  const callback = (x: number) => {
    seen.push(x);
    return x + 1;
  };
  assert.equal(await root.callBack(callback, 4), 50);
  assert.equal(
    await root.callBack(async (x: number) => {
      await new Promise((r) => setTimeout(r, 5));
      return x * x;
    }, 3),
    90,
  );
  assert.deepEqual(seen, [4]);

  class Greeter {
    tag = "greeter-tag";
    greet(name: string) {
      return `hello ${name} from ${this.tag}`;
    }
  }
  // The client's own policy governs what the server may reach on the client's objects.
  await using q = await pair(symmetricServer(newLog()), {}, { allowPublicAttrs: true });
  assert.equal(
    await q.client.root.useObject(new Greeter()),
    "hello server from greeter-tag / greeter-tag",
  );

  // A stored callback is called later, as often as the server likes.
  const events: unknown[] = [];
  await root.hold((...args: unknown[]) => {
    events.push(args);
    return events.length;
  });
  assert.equal(await root.fire("a", 1), 1);
  assert.equal(await root.fire({ b: [2] }), 2);
  assert.deepEqual(events, [["a", 1], [{ b: [2] }]]);

  // Our own function comes back as itself, not as a netref.
  const fn = () => "mine";
  assert.equal(await root.identity(fn), fn);
});

Deno.test("symmetric: re-entrant nesting ten levels deep in each direction", async () => {
  const trace: string[] = [];
  interface PeerRoot {
    down(n: number): Promise<number>;
  }
  /** The same service on both ends: `down(n)` calls the other end's `down(n - 1)`. */
  const nestService = (side: "client" | "server") =>
    class NestService extends Service {
      conn?: ServiceConnection;
      override onConnect(conn: ServiceConnection): void {
        this.conn = conn;
      }
      async exposed_down(n: number): Promise<number> {
        trace.push(`${side} ${n}`);
        if (n === 0) return 0;
        // While the other end waits on us, we call it again.
        return 1 + await (this.conn!.root as PeerRoot).down(n - 1);
      }
    };
  await using p = await pair(nestService("server"), {}, { service: nestService("client") });
  // 20 hops: client → server(19) → client(18) → … → 0, ten nested calls on each end.
  assert.equal(await p.client.root.down(19), 19);
  const expected = [];
  for (let n = 19; n >= 0; n--) expected.push(`${n % 2 ? "server" : "client"} ${n}`);
  assert.deepEqual(trace, expected);
  assert.equal(p.client.stats().pendingRequests, 0);
  assert.equal(p.client.stats().servingRequests, 0);
  await waitFor(() => p.serverConn().stats().servingRequests === 0);

  // The same depth through callbacks passed as arguments instead of the roots.
  trace.length = 0;
  await using q = await pair(
    class extends Service {
      async exposed_callBackText(fn: (n: number) => Promise<string>, n: number) {
        trace.push(`server ${n}`);
        return `(${await fn(n)})`;
      }
    },
  );
  const viaArgs = async (n: number): Promise<string> => {
    trace.push(`callback ${n}`);
    if (n === 0) return "bottom";
    return await q.client.root.callBackText(viaArgs, n - 1);
  };
  assert.equal(
    await q.client.root.callBackText(viaArgs, 9),
    "(".repeat(10) + "bottom" + ")".repeat(10),
  );
  assert.equal(trace.filter((line) => line.startsWith("server")).length, 10);
  assert.equal(trace.filter((line) => line.startsWith("callback")).length, 10);
});

Deno.test("symmetric: 1000 concurrent calls on one connection get the right replies", async () => {
  await using p = await pair(symmetricServer(newLog()));
  const root = p.client.root;
  const count = 1000;
  const before = p.client.stats();
  // Later calls finish first: the replies come back out of order.
  const replies = await Promise.all(
    Array.from({ length: count }, (_, i) => root.echoDelayed(i, (count - i) % 17)),
  );
  assert.equal(replies.length, count);
  for (let i = 0; i < count; i++) assert.equal(replies[i], `reply ${i}`);
  assert.equal(new Set(replies).size, count, "every reply is distinct");
  const after = p.client.stats();
  assert.equal(after.pendingRequests, 0);
  assert.ok(after.framesSent - before.framesSent >= count);
  assert.ok(after.framesReceived - before.framesReceived >= count);

  // Concurrent callbacks in both directions at once.
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => root.callBack((x: number) => x + i, i)),
  );
  results.forEach((value, i) => assert.equal(value, (2 * i) * 10));
});

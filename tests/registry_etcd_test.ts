/**
 * Discovery on etcd against a real etcd: servers register as leased keys,
 * are found by name, disappear when they close or when their lease expires
 * after a SIGKILL, and a watcher sees them come and go. `rdc classic
 * --register --registry-type etcd` registers the same way.
 */

import assert from "node:assert/strict";
import {
  classic,
  connectByService,
  discover,
  DiscoveryError,
  etcdRegistrar,
  listServices,
  serve,
  Service,
  type ServiceEvent,
} from "../mod.ts";
import { RdcProcess } from "./_cli.ts";
import { etcdTest } from "./_etcd.ts";
import { quietLogger, rejection, waitFor } from "./_helpers.ts";

class CalculatorService extends Service {
  static override aliases = ["Calculator", "Calc"];
  exposed_add(a: number, b: number): number {
    return a + b;
  }
}

etcdTest("etcd: serve registers every name under the prefix, close unregisters", async (etcd) => {
  const registrar = etcdRegistrar({ url: etcd.url, prefix: "/t1/" });
  const logger = quietLogger();
  const server = serve(CalculatorService, { port: 0, registrar, logger });
  const { port } = server.addr as Deno.NetAddr;
  try {
    await server.registered;
    assert.deepEqual(await discover("calc", { registrar }), [{ host: "127.0.0.1", port }]);
    assert.deepEqual(await listServices({ registrar }), ["CALC", "CALCULATOR"]);
    await using conn = await connectByService("Calculator", { registrar, logger });
    assert.equal(await conn.root.add(2, 3), 5);
  } finally {
    await server.close();
  }
  assert.deepEqual(await registrar.discover("calc"), [], "the lease was revoked on close");
  assert.match(logger.lines.join("\n"), /registered Calculator, Calc on port \d+ with etcd http/);
});

etcdTest(
  "etcd: a SIGKILLed server is gone after its lease; a watcher sees both come and go",
  async (etcd) => {
    const registrar = etcdRegistrar({ url: etcd.url, prefix: "/t2/" });
    const start = () =>
      new RdcProcess([], {
        command: [Deno.execPath(), "run", "-A", "tests/etcd_fixture_server.ts", etcd.url, "/t2/"],
      });
    const controller = new AbortController();
    const events = registrar.watch("echo", { signal: controller.signal })[Symbol.asyncIterator]();
    const next = async (): Promise<ServiceEvent> => {
      const { value, done } = await events.next();
      assert.ok(!done);
      return value;
    };
    await using first = start();
    await using second = start();
    const ports = await Promise.all(
      [first, second].map(async (proc) => Number((await proc.waitStdout(/registered (\d+)/))[1])),
    );
    const added = [await next(), await next()];
    assert.deepEqual(
      added.map((event) => [event.type, event.server.port]).sort(),
      ports.map((port) => ["added", port]).sort(),
    );
    await first.stop("SIGKILL");
    // Nothing unregistered it: the watcher hears of it when the 2 s lease expires.
    assert.deepEqual(await next(), {
      type: "removed",
      server: { host: "127.0.0.1", port: ports[0] },
    });
    assert.deepEqual(await discover("Echo", { registrar }), [{
      host: "127.0.0.1",
      port: ports[1],
    }]);
    await second.stop("SIGTERM");
    assert.deepEqual(await next(), {
      type: "removed",
      server: { host: "127.0.0.1", port: ports[1] },
    });
    controller.abort();
    await rejection(events.next());
  },
);

etcdTest(
  "etcd: a watch started late reports who is registered already; break ends it",
  async (etcd) => {
    const registrar = etcdRegistrar({ url: etcd.url, prefix: "/t3/", ttl: 5 });
    await registrar.register(["Calc"], 4_001, "127.0.0.1");
    try {
      for await (const event of registrar.watch("CALC")) {
        assert.deepEqual(event, { type: "added", server: { host: "127.0.0.1", port: 4_001 } });
        break;
      }
      // A refresh (what Registration does each interval) keeps the one registration.
      await registrar.register(["Calc"], 4_001, "127.0.0.1");
      assert.deepEqual(await registrar.discover("calc"), [{ host: "127.0.0.1", port: 4_001 }]);
    } finally {
      await registrar.unregister(4_001);
    }
    assert.deepEqual(await registrar.discover("calc"), []);
  },
);

etcdTest(
  "rdc classic --register --registry-type etcd: found by name, gone after SIGTERM",
  async (etcd) => {
    await using server = new RdcProcess([
      "classic",
      "-p",
      "0",
      "--register",
      "--registry-type",
      "etcd",
      "--registry-host",
      etcd.url,
    ]);
    const port = Number((await server.waitStderr(/serving concurrent on 127\.0\.0\.1:(\d+)/))[1]);
    const registrar = etcdRegistrar({ url: etcd.url });
    await waitFor(
      async () => (await registrar.discover("classic")).length > 0,
      10_000,
      "registration",
    );
    assert.deepEqual(await registrar.discover("CLASSIC"), [{ host: "127.0.0.1", port }]);
    {
      await using conn = await connectByService("classic", { registrar, logger: quietLogger() });
      assert.equal(await new classic.ClassicConnection(conn).eval("6 * 7"), 42);
    }
    assert.equal((await server.stop("SIGTERM")).code, 0, server.output());
    assert.deepEqual(await registrar.discover("classic"), [], "unregistered before exiting");
  },
);

Deno.test("etcd registrar: a bad URL or TTL is refused; an etcd that is not there is a DiscoveryError", async () => {
  assert.throws(
    () => etcdRegistrar({ url: "ftp://x" }),
    /http:\/\/ or https:\/\/, not 'ftp:\/\/x'/,
  );
  assert.throws(() => etcdRegistrar({ url: "http://x", ttl: 0.5 }), /whole number of seconds/);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const error = await rejection(etcdRegistrar({ url, timeout: 500 }).discover("x"));
  assert.ok(error instanceof DiscoveryError);
  assert.match(error.message, new RegExp(`cannot reach etcd at ${url} \\(kv/range\\)`));
});

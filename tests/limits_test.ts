/**
 * Server limits over real sockets: `maxConnections` (a client past it is
 * refused before the handshake with a reason it sees; the others go on; a
 * freed slot lets the next one in; a flood logs a line, not a line per
 * client; also for token clients and `serveIsolated`) and `idleTimeout`
 * (an idle client is closed, one with a call in flight or pinging is not);
 * their option checks; and `rdc classic --max-connections --idle-timeout`.
 */

import assert from "node:assert/strict";
import {
  classic,
  connect,
  type Connection,
  ConnectionClosedError,
  ProtocolError,
  serve,
  serveIsolated,
  Service,
  tokenAuthenticator,
} from "../mod.ts";
import { logged, quietLogger, rejection, waitFor, whoAmIServer } from "./_helpers.ts";
import { RdcProcess } from "./_cli.ts";

/** Connects to a loopback port with a quiet logger (and `token`, if given). */
function client(port: number, token?: string): Promise<Connection> {
  return connect("127.0.0.1", port, { token, logger: quietLogger() });
}

/** Checks that `error` is the refusal of a full server, as a client sees it. */
function assertFull(error: unknown, port: number): void {
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
  assert.match(
    error.message,
    new RegExp(`127\\.0\\.0\\.1:${port} refused the connection: too many connections`),
  );
}

/** Connects with `open` once the server has a free slot again (it frees one as a client's close completes). */
async function once<T>(open: () => Promise<T>, what: string): Promise<T> {
  let opened: T | undefined;
  await waitFor(
    async () => {
      opened = await open().catch(() => undefined);
      return opened !== undefined;
    },
    10_000,
    what,
  );
  return opened!;
}

const REFUSED = /refused a connection from tcp 127\.0\.0\.1:\d+: too many connections/;

// --- maxConnections ---------------------------------------------------------------------------

Deno.test("maxConnections: the client past it is refused with the reason; the others go on; a freed slot admits the next", async () => {
  await using t = await whoAmIServer({ maxConnections: 2 });
  await using first = await client(t.port);
  const second = await client(t.port);
  assertFull(await rejection(client(t.port)), t.port);
  const line = await logged(t.log, REFUSED);
  assert.match(line, /^warn: tcp 127\.0\.0\.1:\d+: /);
  assert.match(line, /\(maxConnections 2\)/);
  // The two admitted clients were not disturbed.
  assert.equal(await first.root.add(1, 2), 3);
  assert.equal(await second.root.add(2, 2), 4);
  assert.equal(t.seen.length, 2, "the refused client never reached onConnect");
  // A client that leaves frees its slot.
  await second.close();
  await waitFor(() => t.server.connections.size === 1, 5_000, "the server to drop the client");
  await using third = await client(t.port);
  assert.equal(await third.root.add(3, 3), 6);
  assertFull(await rejection(client(t.port)), t.port);
});

Deno.test("maxConnections: a flood of refused clients is logged as one line, and serving goes on", async () => {
  await using t = await whoAmIServer({ maxConnections: 1 });
  await using kept = await client(t.port);
  const refusals = await Promise.all(Array.from({ length: 20 }, () => rejection(client(t.port))));
  for (const error of refusals) assertFull(error, t.port);
  const lines = t.log.lines.filter((line) => REFUSED.test(line));
  // One line a second at most: the twenty fit in one or two.
  assert.ok(lines.length >= 1 && lines.length <= 2, lines.join("\n"));
  assert.equal(await kept.root.add(20, 22), 42);
});

Deno.test("maxConnections: a client with a token learns the server is full, not that its token is wrong", async () => {
  const secret = crypto.randomUUID();
  await using t = await whoAmIServer({
    maxConnections: 1,
    authenticator: tokenAuthenticator(secret),
  });
  await using kept = await client(t.port, secret);
  assertFull(await rejection(client(t.port, secret)), t.port);
  assert.equal(await kept.root.add(1, 1), 2);
  assert.deepEqual(t.seen, [{ token: true }]);
});

Deno.test("maxConnections: serveIsolated starts no child past it", async () => {
  const log = quietLogger();
  await using server = serveIsolated(classic.defaultServerCommand(), {
    port: 0,
    maxConnections: 1,
    logger: log,
  });
  const port = (server.addr as Deno.NetAddr).port;
  {
    await using one = await classic.connect("127.0.0.1", port, { logger: quietLogger() });
    assert.equal(await one.eval("6 * 7"), 42);
    assertFull(
      await rejection(classic.connect("127.0.0.1", port, { logger: quietLogger() })),
      port,
    );
    assert.equal(server.children.size, 1);
    await logged(log, REFUSED);
  }
  await using next = await once(
    () => classic.connect("127.0.0.1", port, { logger: quietLogger() }),
    "a slot freed by the first client",
  );
  assert.equal(await next.eval("1 + 1"), 2);
});

Deno.test("maxConnections and idleTimeout: bad values are a RangeError naming the option", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => serve(Service, { port: 0, maxConnections: 0 }), /serve: maxConnections/],
    [() => serve(Service, { port: 0, maxConnections: 2.5 }), /serve: maxConnections/],
    [() => serve(Service, { port: 0, idleTimeout: -1 }), /serve: idleTimeout/],
    [() => serve(Service, { port: 0, idleTimeout: NaN }), /serve: idleTimeout/],
    [
      () => serveIsolated(["true"], { port: 0, maxConnections: -3 }),
      /serveIsolated: maxConnections/,
    ],
  ];
  for (const [make, pattern] of cases) {
    assert.throws(make, (e: Error) => e instanceof RangeError && pattern.test(e.message));
  }
});

// --- idleTimeout ------------------------------------------------------------------------------

/** A service with a call that runs until the test lets it finish. */
function slowService() {
  const release = Promise.withResolvers<string>();
  let started = 0;
  class SlowService extends Service {
    exposed_wait(): Promise<string> {
      started++;
      return release.promise;
    }
    exposed_add(a: number, b: number): number {
      return a + b;
    }
  }
  return { SlowService, release: release.resolve, started: () => started };
}

Deno.test("idleTimeout: an idle client is closed and the reason logged; one with a call in flight is not", async () => {
  const { SlowService, release, started } = slowService();
  const log = quietLogger();
  await using server = serve(SlowService, { port: 0, idleTimeout: 200, logger: log });
  const port = (server.addr as Deno.NetAddr).port;
  // The busy client's last traffic comes before the idle one's: were it judged idle, it would
  // be closed first.
  await using busy = await client(port);
  const call = busy.root.wait();
  await waitFor(() => started() === 1, 5_000, "the long call to start");
  await using idle = await client(port);
  const closed = Promise.withResolvers<Error>();
  idle.onClose(closed.resolve);
  const reason = await closed.promise;
  assert.ok(reason instanceof ConnectionClosedError, `${reason}`);
  assert.match(
    await logged(log, /idle for 200 ms/),
    /^info: tcp 127\.0\.0\.1:\d+: closing the connection from tcp 127\.0\.0\.1:\d+: idle for 200 ms \(idleTimeout\)$/,
  );
  assert.equal(busy.closed, false, "the client with a call in flight was closed");
  release("done");
  assert.equal(await call, "done");
  assert.equal(await busy.root.add(1, 2), 3);
  // Once nothing is in flight, it is idle like any other.
  await waitFor(() => busy.closed, 10_000, "the busy client, now idle, to be closed");
});

Deno.test("idleTimeout: traffic keeps a connection open; 0 (the default) never closes", async () => {
  const { SlowService } = slowService();
  await using server = serve(SlowService, { port: 0, idleTimeout: 300, logger: quietLogger() });
  const port = (server.addr as Deno.NetAddr).port;
  await using pinger = await client(port);
  let pinging = true;
  const pings = (async () => {
    while (pinging) {
      await pinger.ping();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await using idle = await client(port);
  await waitFor(() => idle.closed, 10_000, "the idle client to be closed");
  assert.equal(pinger.closed, false, "a client that keeps pinging was closed");
  pinging = false;
  await pings;

  await using forever = serve(SlowService, { port: 0, logger: quietLogger() });
  await using kept = await client((forever.addr as Deno.NetAddr).port);
  await using short = await client(port);
  await waitFor(() => short.closed, 10_000, "a client of the idle-closing server to be closed");
  assert.equal(kept.closed, false, "a server without idleTimeout closed a connection");
});

// --- rdc classic --max-connections --idle-timeout ---------------------------------------------

Deno.test("rdc classic --max-connections 1 --idle-timeout 0.3: refuses the second client, closes the idle one, admits the next", async () => {
  await using proc = new RdcProcess([
    "classic",
    "-p",
    "0",
    "--max-connections",
    "1",
    "--idle-timeout",
    "0.3",
  ]);
  const port = Number((await proc.waitStderr(/serving concurrent on 127\.0\.0\.1:(\d+)/))[1]);
  const connectClassic = () => classic.connect("127.0.0.1", port, { logger: quietLogger() });
  const first = await connectClassic();
  assert.equal(await first.eval("6 * 7"), 42);
  assertFull(await rejection(connectClassic()), port);
  await proc.waitStderr(
    /warn: tcp 127\.0\.0\.1:\d+: refused a connection from .*too many connections \(maxConnections 1\)/,
  );
  // Left alone, the first client is closed, which frees the slot.
  await waitFor(() => first.closed, 10_000, "the idle client to be closed");
  await proc.waitStderr(/info: .*idle for 300 ms \(idleTimeout\)/);
  await using next = await once(connectClassic, "the slot the idle client held");
  assert.equal(await next.eval("1 + 1"), 2);
});

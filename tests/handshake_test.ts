/**
 * The handshake over real loopback sockets: version checks on both ends,
 * strangers on the port, `expectService`, and the handshake timeout.
 */

import assert from "node:assert/strict";
import { connect, ConnectionClosedError, ProtocolError, serve, Service } from "../mod.ts";
import { quietLogger, rawFrame, waitFor } from "./_helpers.ts";
import { closeReason, MSG, RawPeer } from "./_raw_peer.ts";

class EchoService extends Service {
  exposed_echo(value: unknown): unknown {
    return value;
  }
}

class ParrotService extends Service {
  static override aliases = ["Parrot", "Polly"];
  exposed_say(text: string): string {
    return text;
  }
}

/** A server with a collecting logger on a free port. */
function startServer(
  service: Service | (new () => Service),
  options: Parameters<typeof serve>[1] = {},
) {
  const lines: string[] = [];
  const server = serve(service, { logger: quietLogger(lines), ...options, port: 0 });
  return { server, lines, port: (server.addr as Deno.NetAddr).port };
}

/** Checks that a server still answers a fresh client correctly. */
async function assertServerWorks(port: number): Promise<void> {
  await using client = await connect("127.0.0.1", port, { logger: quietLogger() });
  assert.equal(await client.root.echo("alive"), "alive");
}

/** A raw TCP listener on a free port that handles exactly one connection with `handle`. */
function rawServer(handle: (peer: RawPeer) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    const peer = new RawPeer(conn);
    try {
      await handle(peer);
    } finally {
      peer.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
    },
    done,
  };
}

Deno.test("handshake: version mismatch fails on both ends, naming both versions", async (t) => {
  await t.step("server speaks version 2, client version 1", async () => {
    const { server, lines, port } = startServer(EchoService, { protocolVersion: 2 });
    try {
      const error = await connect("127.0.0.1", port, { logger: quietLogger() }).then(
        (c) => {
          c.close();
          return null;
        },
        (e) => e,
      );
      assert.ok(error instanceof ProtocolError, `client got ${error}`);
      assert.match(error.message, /version/);
      assert.match(error.message, /\b1\b/);
      assert.match(error.message, /\b2\b/);
      await waitFor(() => lines.some((l) => /version/.test(l)), 3000, "the server's log line");
      const line = lines.find((l) => /version/.test(l))!;
      assert.match(line, /\b1\b/);
      assert.match(line, /\b2\b/);
      assert.equal(server.connections.size, 0);
    } finally {
      await server.close();
    }
  });

  await t.step("client speaks version 2, server version 1", async () => {
    const { server, lines, port } = startServer(EchoService);
    try {
      await assert.rejects(
        connect("127.0.0.1", port, { logger: quietLogger(), protocolVersion: 2 }),
        (e: Error) =>
          e instanceof ProtocolError && /version 2/.test(e.message) &&
          /version 1/.test(e.message),
      );
      await waitFor(() => lines.some((l) => /version/.test(l)), 3000, "the server's log line");
      assert.ok(lines.some((l) => /version 1/.test(l) && /version 2/.test(l)), lines.join("\n"));
      await assertServerWorks(port);
    } finally {
      await server.close();
    }
  });

  await t.step("a raw peer with another version gets a Close naming both", async () => {
    const { server, lines, port } = startServer(EchoService);
    const peer = await RawPeer.connect(port);
    try {
      const hello = await peer.readFrame() as unknown[];
      assert.equal(hello[0], MSG.HELLO);
      assert.equal(hello[1], "rdc");
      assert.equal(hello[2], 1);
      assert.equal(hello[3], "Echo");
      await peer.send([MSG.HELLO, "rdc", 7, "Raw", ["Raw"], []]);
      const frames = await peer.readToEnd();
      const reason = closeReason(frames);
      assert.ok(reason, `no Close frame in ${Deno.inspect(frames)}`);
      assert.match(reason, /version 1/);
      assert.match(reason, /version 7/);
      await waitFor(() => lines.some((l) => /version 7/.test(l)), 3000, "the server's log line");
    } finally {
      peer.close();
      await server.close();
    }
  });
});

Deno.test("handshake: a non-rdc first frame gets a clear ProtocolError", async (t) => {
  const strangers: [string, Uint8Array, RegExp][] = [
    ["a frame that is not a Hello", rawFrame(["hello", "world"]), /not an rdc peer/],
    ["a map instead of an array", rawFrame({ jsonrpc: "2.0" }), /not an rdc peer/],
    ["a Hello with the wrong magic", rawFrame([MSG.HELLO, "xyz", 1, "S", []]), /not an rdc peer/],
    [
      "a Hello with a malformed service name",
      rawFrame([MSG.HELLO, "rdc", 1, 5, []]),
      /malformed Hello.*service name/,
    ],
    ["a Request before any Hello", rawFrame([1, 0, 10, 0, [], ["x"]]), /not an rdc peer/],
    [
      "an HTTP request",
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      /not an rdc peer|exceeds the limit/,
    ],
  ];
  for (const [name, bytes, expected] of strangers) {
    await t.step(`server side: ${name}`, async () => {
      const { server, lines, port } = startServer(EchoService);
      const peer = await RawPeer.connect(port);
      try {
        await peer.sendBytes(bytes);
        const frames = await peer.readToEnd();
        assert.equal((frames[0] as unknown[])[0], MSG.HELLO, "the server greets first");
        const reason = closeReason(frames);
        assert.ok(reason, `no Close frame in ${Deno.inspect(frames)}`);
        assert.match(reason, expected);
        await waitFor(() => lines.some((l) => expected.test(l)), 3000, "the server's log line");
        assert.equal(server.connections.size, 0);
        await assertServerWorks(port);
      } finally {
        peer.close();
        await server.close();
      }
    });
  }

  await t.step("client side: the server answers with a non-rdc frame", async () => {
    await using raw = rawServer(async (peer) => {
      await peer.send(["SSH-2.0-OpenSSH_9.6"]);
      await peer.readToEnd().catch(() => {});
    });
    await assert.rejects(
      connect("127.0.0.1", raw.port, { logger: quietLogger() }),
      (e: Error) => e instanceof ProtocolError && /not an rdc peer/.test(e.message),
    );
  });

  await t.step("client side: the server refuses with a Close frame", async () => {
    await using raw = rawServer(async (peer) => {
      await peer.send([MSG.CLOSE, "go away"]);
      await peer.readToEnd().catch(() => {});
    });
    await assert.rejects(
      connect("127.0.0.1", raw.port, { logger: quietLogger() }),
      (e: Error) => e instanceof ProtocolError && /go away/.test(e.message),
    );
  });

  await t.step("client side: the server hangs up before any handshake", async () => {
    await using raw = rawServer(async () => {});
    await assert.rejects(
      connect("127.0.0.1", raw.port, { logger: quietLogger() }),
      (e: Error) => e instanceof ConnectionClosedError && /before the handshake/.test(e.message),
    );
  });
});

Deno.test("handshake: expectService", async (t) => {
  const { server, lines, port } = startServer(ParrotService);
  try {
    await t.step("mismatch fails with a ProtocolError naming both services", async () => {
      await assert.rejects(
        connect("127.0.0.1", port, { logger: quietLogger(), expectService: "Calculator" }),
        (e: Error) =>
          e instanceof ProtocolError && /Calculator/.test(e.message) &&
          /Parrot/.test(e.message),
      );
      await waitFor(() => server.connections.size === 0);
    });

    await t.step("name and aliases match case-insensitively", async () => {
      for (const name of ["Parrot", "parrot", "POLLY"]) {
        await using c = await connect("127.0.0.1", port, {
          logger: quietLogger(),
          expectService: name,
        });
        assert.equal(c.peerService, "Parrot");
        assert.deepEqual([...c.peerAliases], ["Parrot", "Polly"]);
        assert.equal(await c.root.say("hi"), "hi");
      }
    });

    await t.step("the server may expect the client's service too", async () => {
      const picky = startServer(EchoService, { expectService: "Parrot" });
      try {
        // a VoidService client is refused
        const refused = await connect("127.0.0.1", picky.port, { logger: quietLogger() }).then(
          async (c) => {
            await c.finished;
            return c.closeReason;
          },
          (e) => e,
        );
        assert.ok(refused instanceof Error);
        assert.match(refused.message, /expected service 'Parrot'/);
        await waitFor(
          () => picky.lines.some((l) => /expected service 'Parrot'/.test(l)),
          3000,
          "the server's log line",
        );
        // a Parrot client is welcome
        await using ok = await connect("127.0.0.1", picky.port, {
          logger: quietLogger(),
          service: ParrotService,
        });
        assert.equal(await ok.root.echo(3), 3);
      } finally {
        await picky.server.close();
      }
    });
    assert.ok(lines.every((l) => !/error/.test(l)), lines.join("\n"));
  } finally {
    await server.close();
  }
});

Deno.test("handshake: timeout", async (t) => {
  await t.step("client side: a server that says nothing", async () => {
    await using raw = rawServer(async (peer) => {
      await peer.readToEnd(5000).catch(() => {});
    });
    const started = Date.now();
    await assert.rejects(
      connect("127.0.0.1", raw.port, { logger: quietLogger(), handshakeTimeout: 200 }),
      (e: Error) => e instanceof ProtocolError && /no handshake.*200 ms/.test(e.message),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 3000, `took ${elapsed} ms`);
  });

  await t.step("server side: a raw TCP peer that says nothing", async () => {
    const { server, lines, port } = startServer(EchoService, { handshakeTimeout: 200 });
    const peer = await RawPeer.connect(port);
    try {
      const started = Date.now();
      const frames = await peer.readToEnd(5000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 150 && elapsed < 3000, `took ${elapsed} ms`);
      assert.equal((frames[0] as unknown[])[0], MSG.HELLO);
      const reason = closeReason(frames);
      assert.ok(reason, `no Close frame in ${Deno.inspect(frames)}`);
      assert.match(reason, /no handshake.*200 ms/);
      await waitFor(() => lines.some((l) => /no handshake/.test(l)), 3000, "the server's log line");
      await assertServerWorks(port);
    } finally {
      peer.close();
      await server.close();
    }
  });

  await t.step("a handshake that arrives in time is fine", async () => {
    const { server, port } = startServer(EchoService, { handshakeTimeout: 2000 });
    const peer = await RawPeer.connect(port);
    try {
      await peer.readFrame();
      await new Promise((r) => setTimeout(r, 50));
      await peer.send([MSG.HELLO, "rdc", 1, "Raw", ["Raw"], []]);
      // ping the root: [Request, seq 0, Ping, target 0, [], ["p"]]
      await peer.send([1, 0, 10, 0, [], ["p"]]);
      const reply = await peer.readFrame() as unknown[];
      assert.deepEqual(reply, [2, 0, "p"]);
    } finally {
      peer.close();
      await server.close();
    }
  });
});

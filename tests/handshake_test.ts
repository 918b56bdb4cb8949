/**
 * The handshake over real loopback sockets: version checks on both ends,
 * strangers on the port, `expectService`, and the handshake timeout.
 */

import assert from "node:assert/strict";
import { connect, ConnectionClosedError, ProtocolError, serve, Service } from "../mod.ts";
import { quietLogger, rawFrame, waitFor } from "./_helpers.ts";
import {
  closeReason,
  DEFAULT_LIMITS,
  hello,
  MSG,
  OP,
  RawPeer,
  request,
  VERSION,
} from "./_raw_peer.ts";

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

/** The default limits but one. */
function withoutLimit(name: string): Record<string, number> {
  return Object.fromEntries(Object.entries(DEFAULT_LIMITS).filter(([key]) => key !== name));
}

Deno.test("handshake: version mismatch fails on both ends, naming both versions", async (t) => {
  await t.step(`server speaks version ${VERSION}, client version 1`, async () => {
    const { server, lines, port } = startServer(EchoService);
    try {
      const error = await connect("127.0.0.1", port, {
        logger: quietLogger(),
        protocolVersion: 1,
      }).then(
        (c) => {
          c.close();
          return null;
        },
        (e) => e,
      );
      assert.ok(error instanceof ProtocolError, `client got ${error}`);
      assert.match(
        error.message,
        new RegExp(`this end speaks version 1, the peer speaks version ${VERSION}`),
      );
      await waitFor(() => lines.some((l) => /version/.test(l)), 3000, "the server's log line");
      const line = lines.find((l) => /version/.test(l))!;
      assert.match(
        line,
        new RegExp(`this end speaks version ${VERSION}, the peer speaks version 1`),
      );
      assert.equal(server.connections.size, 0);
      await assertServerWorks(port);
    } finally {
      await server.close();
    }
  });

  await t.step(`client speaks version ${VERSION}, server version ${VERSION + 1}`, async () => {
    const { server, lines, port } = startServer(EchoService, { protocolVersion: VERSION + 1 });
    try {
      await assert.rejects(
        connect("127.0.0.1", port, { logger: quietLogger() }),
        (e: Error) =>
          e instanceof ProtocolError &&
          new RegExp(`this end speaks version ${VERSION}, the peer speaks version ${VERSION + 1}`)
            .test(e.message),
      );
      await waitFor(() => lines.some((l) => /version/.test(l)), 3000, "the server's log line");
      assert.ok(
        lines.some((l) =>
          new RegExp(`this end speaks version ${VERSION + 1}, the peer speaks version ${VERSION}`)
            .test(l)
        ),
        lines.join("\n"),
      );
    } finally {
      await server.close();
    }
  });

  await t.step("the server's HELLO has this version and announces every limit", async () => {
    const { server, port } = startServer(EchoService, { maxDepth: 100 });
    const peer = await RawPeer.connect(port);
    try {
      const greeting = await peer.next();
      assert.equal(greeting.length, 7);
      assert.deepEqual(greeting.slice(0, 5), [MSG.HELLO, "rdc", VERSION, "Echo", ["Echo"]]);
      assert.ok((greeting[5] as string[]).includes("echo"), `members: ${greeting[5]}`);
      assert.deepEqual(greeting[6], { ...DEFAULT_LIMITS, maxDepth: 100 });
    } finally {
      peer.close();
      await server.close();
    }
  });

  await t.step("a raw version 1 peer (a HELLO of six fields) is told both versions", async () => {
    const { server, lines, port } = startServer(EchoService);
    const peer = await RawPeer.connect(port);
    try {
      assert.equal((await peer.next())[0], MSG.HELLO);
      await peer.send([MSG.HELLO, "rdc", 1, "Raw", ["Raw"], []]);
      const messages = await peer.readToEnd();
      const reason = closeReason(messages);
      assert.ok(reason, `no CLOSE in ${Deno.inspect(messages)}`);
      assert.match(
        reason,
        new RegExp(`this end speaks version ${VERSION}, the peer speaks version 1`),
      );
      await waitFor(() => lines.some((l) => /version 1/.test(l)), 3000, "the server's log line");
      await assertServerWorks(port);
    } finally {
      peer.close();
      await server.close();
    }
  });

  await t.step("a raw peer with a version 2+ layout but version 7 is told both", async () => {
    const { server, lines, port } = startServer(EchoService);
    const peer = await RawPeer.connect(port);
    try {
      assert.equal((await peer.next())[0], MSG.HELLO);
      await peer.send(hello("Raw", {}, 7));
      const messages = await peer.readToEnd();
      const reason = closeReason(messages);
      assert.ok(reason, `no CLOSE in ${Deno.inspect(messages)}`);
      assert.match(
        reason,
        new RegExp(`this end speaks version ${VERSION}, the peer speaks version 7`),
      );
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
    [
      "a Hello with the wrong magic",
      rawFrame([MSG.HELLO, "xyz", VERSION, "S", ["S"], [], DEFAULT_LIMITS]),
      /not an rdc peer.*not an rdc handshake/,
    ],
    [
      "a Hello with a malformed service name",
      rawFrame([MSG.HELLO, "rdc", VERSION, 5, ["S"], [], DEFAULT_LIMITS]),
      /not an rdc peer.*malformed Hello message: service name is an integer/,
    ],
    [
      "a Hello that leaves out a limit",
      rawFrame([MSG.HELLO, "rdc", VERSION, "S", ["S"], [], withoutLimit("maxDepth")]),
      /malformed Hello message: no maxDepth limit/,
    ],
    [
      "a Hello with a limit of 0",
      rawFrame([MSG.HELLO, "rdc", VERSION, "S", ["S"], [], { ...DEFAULT_LIMITS, maxFrameSize: 0 }]),
      /malformed Hello message: bad limit maxFrameSize 0/,
    ],
    [
      "a Hello announcing a frame size no chunk fits (below the least any end accepts)",
      rawFrame([MSG.HELLO, "rdc", VERSION, "S", ["S"], [], {
        ...DEFAULT_LIMITS,
        maxMessageSize: 200,
      }]),
      /maxMessageSize 200 is below the least any end accepts \(65536\)/,
    ],
    [
      "a version 2 Hello of six fields",
      rawFrame([MSG.HELLO, "rdc", VERSION, "S", ["S"], []]),
      /sent a malformed handshake/,
    ],
    [
      "a Request before any Hello",
      rawFrame(request(0, OP.PING, 0, [], ["x"])),
      /not an rdc peer \(bad handshake\)/,
    ],
    [
      // "GET " read as a length is far over what may come before the handshake.
      "an HTTP request",
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      /not an rdc peer.*exceeds the limit of 16384 bytes before the handshake/,
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

  await t.step("client side: the server's first frame is over 16 KiB", async () => {
    await using raw = rawServer(async (peer) => {
      await peer.send(hello("x".repeat(17 * 1024)));
      await peer.readToEnd().catch(() => {});
    });
    await assert.rejects(
      connect("127.0.0.1", raw.port, { logger: quietLogger() }),
      (e: Error) =>
        e instanceof ProtocolError &&
        /not an rdc peer.*exceeds the limit of 16384 bytes before the handshake/.test(e.message),
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
      await peer.next();
      await new Promise((r) => setTimeout(r, 50));
      await peer.send(hello());
      // ping the root: [REQUEST, seq 0, PING, target 0, path [], finished [], args ["p"]]
      await peer.send([1, 0, 10, 0, [], [], ["p"]]);
      assert.deepEqual(await peer.next(), [2, 0, "p"]);
    } finally {
      peer.close();
      await server.close();
    }
  });
});

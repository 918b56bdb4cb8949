/**
 * Compression negotiated in the handshake, over real TCP connections: off
 * unless an end asks, the best common algorithm or an insisted one, no
 * compression of what does not compress, and a raw peer's zip bombs and
 * oversize or unoffered compressed messages refused like any malformed
 * message (only that connection closes).
 */

import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { connect, ProtocolError, serve, Service } from "../mod.ts";
import { closeReason, hello, RawPeer } from "./_raw_peer.ts";
import { quietLogger, waitFor } from "./_helpers.ts";

class EchoService extends Service {
  exposed_echo<T>(value: T): T {
    return value;
  }
}

const REPETITIVE = "All work and no play makes Jack a dull boy. ".repeat(23_000); // about 1 MB

function startServer(options: Parameters<typeof serve>[1] = {}) {
  const lines: string[] = [];
  const server = serve(EchoService, { logger: quietLogger(lines), ...options, port: 0 });
  return { server, lines, port: (server.addr as Deno.NetAddr).port };
}

/** Echoes `value` and returns the bytes the client sent and received for it. */
async function echoBytes(
  port: number,
  value: unknown,
  compression?: boolean | string,
): Promise<{ sent: number; received: number }> {
  await using conn = await connect("127.0.0.1", port, { logger: quietLogger(), compression });
  const before = conn.stats();
  assert.deepEqual(await conn.root.echo(value), value);
  const after = conn.stats();
  return {
    sent: after.bytesSent - before.bytesSent,
    received: after.bytesReceived - before.bytesReceived,
  };
}

Deno.test("compression: off unless an end asks for it", async () => {
  const { server, port } = startServer();
  try {
    const plain = await echoBytes(port, REPETITIVE);
    assert.ok(
      plain.sent > REPETITIVE.length && plain.received > REPETITIVE.length,
      `${plain.sent}`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("compression: one end asking compresses both directions", async () => {
  const { server, port } = startServer();
  try {
    for (const option of [true, "zstd", "deflate"]) {
      const { sent, received } = await echoBytes(port, REPETITIVE, option);
      assert.ok(
        sent < 20_000 && received < 20_000,
        `${option}: sent ${sent}, received ${received}`,
      );
    }
    // The server asks; a default client accepts.
    const { server: asking, port: askingPort } = startServer({ compression: true });
    try {
      const { sent, received } = await echoBytes(askingPort, REPETITIVE);
      assert.ok(sent < 20_000 && received < 20_000, `sent ${sent}, received ${received}`);
    } finally {
      await asking.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("compression: what does not compress is sent as it is", async () => {
  const { server, port } = startServer();
  try {
    const noise = crypto.getRandomValues(new Uint8Array(60_000)); // inline, in the body
    const { sent } = await echoBytes(port, noise, true);
    assert.ok(sent > 60_000, `sent ${sent}`);
    // Attachments (64 KiB and more) are never compressed, even when they would shrink.
    const zeros = new Uint8Array(1_000_000);
    const attached = await echoBytes(port, zeros, true);
    assert.ok(attached.sent > 1_000_000, `sent ${attached.sent}`);
  } finally {
    await server.close();
  }
});

Deno.test("compression: an insisted algorithm the peer refuses fails the handshake clearly", async () => {
  const { server, port, lines } = startServer({ compression: false });
  try {
    await assert.rejects(
      connect("127.0.0.1", port, { logger: quietLogger(), compression: "deflate" }),
      (e: Error) =>
        e instanceof ProtocolError &&
        /compression 'deflate' was required, the peer accepts no compression/.test(e.message),
    );
    // A client that merely asks gets an uncompressed connection.
    const { sent } = await echoBytes(port, REPETITIVE, true);
    assert.ok(sent > REPETITIVE.length);
    assert.ok(!lines.some((l) => l.startsWith("error")), lines.join("\n"));
    // An algorithm this end does not have.
    await assert.rejects(
      connect("127.0.0.1", port, { logger: quietLogger(), compression: "lz4" }),
      (e: Error) =>
        e instanceof RangeError && /compression 'lz4' is not available here/.test(e.message),
    );
  } finally {
    await server.close();
  }
});

/** A raw peer that accepts deflate, after the handshake. */
async function rawPeer(port: number, accepts: string[]): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  await peer.next(); // The server's HELLO.
  const greeting = hello();
  greeting[7] = accepts;
  await peer.send(greeting);
  return peer;
}

Deno.test("compression: zip bombs and unoffered or oversize compressed messages are refused", async (t) => {
  const { server, port } = startServer({ maxMessageSize: 1024 * 1024 });
  const bomb = deflateRawSync(new Uint8Array(64 * 1024 * 1024)); // 64 MiB of zeros: 64 KiB
  const cases: [string, unknown[], RegExp][] = [
    [
      "a body that decompresses beyond what it declares",
      [8, "deflate", 100, bomb],
      /does not decompress to the 100 bytes it declares/,
    ],
    [
      "a declared size beyond maxMessageSize",
      [8, "deflate", 64 * 1024 * 1024, bomb],
      /declares 67108864 bytes .* beyond the largest message this end accepts \(1048576\)/,
    ],
    ["an algorithm nobody offered", [8, "lz4", 10, new Uint8Array(4)], /compressed with 'lz4'/],
    [
      "data that is not deflate",
      [8, "deflate", 10, new Uint8Array([1, 2, 3, 4, 5])],
      /does not decompress/,
    ],
  ];
  try {
    for (const [name, message, reason] of cases) {
      await t.step(name, async () => {
        const peer = await rawPeer(port, ["deflate"]);
        try {
          await peer.send(message);
          const said = closeReason(await peer.readToEnd());
          assert.ok(said, "the server says why it closes");
          assert.match(said, reason);
        } finally {
          peer.close();
        }
      });
    }
    await t.step("the server goes on serving others", async () => {
      await waitFor(() => server.connections.size === 0, 3000, "the refused connections closing");
      const { received } = await echoBytes(port, REPETITIVE, true);
      assert.ok(received < 20_000);
    });
  } finally {
    await server.close();
  }
});

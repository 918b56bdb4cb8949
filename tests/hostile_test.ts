/**
 * Hostile peers over real loopback sockets. Each attack comes from a raw TCP
 * peer that completes a proper handshake first; for each one the offending
 * connection is closed (a Close frame naming the problem, then end of
 * stream), the server logs why, and the server keeps serving both a client
 * connected before the attack and one connected after it. Nothing may
 * pollute `Object.prototype`.
 */

import assert from "node:assert/strict";
import { Encoder, ExtData } from "@msgpack/msgpack";
import { connect, serve } from "../mod.ts";
import { quietLogger, waitFor } from "./_helpers.ts";
import {
  assertNoPollution,
  assertWorks,
  attachmentRef,
  type Attack,
  body,
  closeReason,
  EvilTargetService,
  exportedId,
  EXT,
  firstChunk,
  frame,
  handshaken,
  header,
  hello,
  importExt,
  MSG,
  OP,
  type RawPeer,
  request,
  runAll,
  tag,
  target,
  thrownError,
  u32,
} from "./_raw_peer.ts";

Deno.test("hostile: garbage and broken framing", async (t) => {
  await runAll(t, [
    {
      // "GET " read as a length is over a gigabyte.
      name: "garbage bytes (an HTTP request) after the handshake",
      expect: /frame of 1195725856 bytes exceeds the limit of 2097152 bytes/,
      run: (peer) => peer.sendBytes(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")),
    },
    {
      name: "garbage bytes inside a well-sized frame",
      expect: /0xc1 is not a MessagePack token/,
      run: (peer) => peer.sendBytes(frame(new Uint8Array([0xc1, 0xc1, 0xc1, 0xc1, 0xc1]))),
    },
    {
      name: "a truncated frame, then end of stream",
      expect: /stream ended inside a frame/,
      run: async (peer) => {
        await peer.sendBytes(header(100));
        await peer.sendBytes(new Uint8Array(10));
        await peer.conn.closeWrite();
      },
    },
    {
      name: "a truncated frame header, then end of stream",
      expect: /stream ended inside a frame/,
      run: async (peer) => {
        await peer.sendBytes(new Uint8Array([0, 0]));
        await peer.conn.closeWrite();
      },
    },
    {
      // The top bit marks a chunk; the other 31 say 2 GiB.
      name: "a length prefix of 0xffffffff (a chunk frame of 2 GiB)",
      expect: /frame of 2147483647 bytes exceeds the limit of 2097152 bytes/,
      run: (peer) => peer.sendBytes(header(0xffffffff)),
    },
    {
      name: "a length prefix just over the default maxFrameSize (2 MiB)",
      expect: /frame of 2097153 bytes exceeds the limit of 2097152 bytes/,
      run: (peer) => peer.sendBytes(header(2 * 1024 * 1024 + 1)),
    },
    {
      name: "a frame over a small custom maxFrameSize",
      expect: /exceeds the limit of 65536 bytes/,
      serverOptions: { maxFrameSize: 64 * 1024 },
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], ["x".repeat(70_000)])),
    },
    {
      name: "an undecodable payload (a truncated array)",
      expect: /malformed message: an array of 3 items, in 1 bytes/,
      run: (peer) => peer.sendBytes(frame(new Uint8Array([0x93, 0x01]))),
    },
    {
      name: "a payload with trailing bytes",
      expect: /3 bytes after the message/,
      run: (peer) => {
        const valid = body(request(0, OP.PING, 0, [], ["x"]));
        return peer.sendBytes(frame(new Uint8Array([...valid, 0, 0, 0])));
      },
    },
    {
      name: "an empty frame",
      expect: /empty frame/,
      run: (peer) => peer.sendBytes(header(0)),
    },
  ]);
});

Deno.test("hostile: unknown references", async (t) => {
  await runAll(t, [
    {
      name: "a request on unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) => peer.send(request(0, OP.GET, 999, ["x"], [])),
    },
    {
      name: "a release of unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) => peer.send([MSG.RELEASE, [999], [1]]),
    },
    {
      name: "a release of the root",
      expect: /reference #0/,
      run: (peer) => peer.send([MSG.RELEASE, [0], [1]]),
    },
    {
      name: "a release of more references than were sent",
      expect: /release of 5 references/,
      run: async (peer) => {
        await peer.send(request(0, OP.CALL, 0, ["make"], []));
        const reply = await peer.next();
        assert.equal(reply[0], MSG.REPLY);
        await peer.send([MSG.RELEASE, [exportedId(reply[2])], [5]]);
      },
    },
    {
      name: "an Import ext naming unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [importExt(999)])),
    },
    {
      name: "a lazy path argument on unknown export 999",
      expect: /unknown reference #999/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [[tag(EXT.TAG_PATH), 999, "x"]])),
    },
    {
      name: "a request on an unknown answer",
      expect: /unknown answer #5/,
      run: (peer) => peer.send(request(0, OP.GET, -6, ["x"], [])),
    },
    {
      name: "an answer to a request that was never sent",
      expect: /answer to request #5000, which was never sent/,
      run: (peer) => peer.send([MSG.REPLY, 5000, null]),
    },
  ]);
});

Deno.test("hostile: wrong message shapes", async (t) => {
  await runAll(t, [
    {
      name: "a message that is not an array",
      expect: /malformed message: a message is a string/,
      run: (peer) => peer.send("hello"),
    },
    {
      // A body that starts with a map starts with a shape table.
      name: "a map instead of a message",
      expect: /malformed shape table: a shape number/,
      run: (peer) => peer.send({ type: 1 }),
    },
    {
      name: "an empty array",
      expect: /malformed message: an empty array/,
      run: (peer) => peer.send([]),
    },
    {
      name: "an unknown message type",
      expect: /bad message type \(42\)/,
      run: (peer) => peer.send([42, 0]),
    },
    {
      name: "a string as the sequence number",
      expect: /malformed Request message: sequence number is a string/,
      run: (peer) => peer.send(request("x" as unknown as number, OP.GET, 0, [], [])),
    },
    {
      name: "a negative sequence number",
      expect: /malformed Request message: bad sequence number -1/,
      run: (peer) => peer.send(request(-1, OP.GET, 0, [], [])),
    },
    {
      name: "an unknown operation",
      expect: /malformed Request message: bad operation 99/,
      run: (peer) => peer.send(request(0, 99, 0, [], [])),
    },
    {
      name: "a fractional operation",
      expect: /malformed Request message: operation is a float/,
      run: (peer) => peer.send(request(0, 1.5, 0, [], [])),
    },
    {
      name: "a fractional target",
      expect: /malformed Request message: target is a float/,
      run: (peer) => peer.send(request(0, OP.GET, 0.5, [], [])),
    },
    {
      name: "a path of numbers",
      expect: /malformed Request message: an item of the path is an integer/,
      run: (peer) => peer.send(request(0, OP.GET, 0, [1, 2] as unknown as string[], [])),
    },
    {
      name: "a finished list of strings",
      expect: /malformed Request message: item of the finished list is a string/,
      run: (peer) => peer.send(request(0, OP.GET, 0, [], [], ["x"] as unknown as number[])),
    },
    {
      name: "args that are not an array",
      expect: /args must be an array/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], "oops" as unknown as [])),
    },
    {
      name: "a Request with too few fields",
      expect: /malformed Request message: expected 7 fields, got 3/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.GET]),
    },
    {
      // The version 1 layout: no finished list, args sixth.
      name: "a Request in the version 1 layout",
      expect: /malformed Request message: expected 7 fields, got 6/,
      run: (peer) => peer.send([MSG.REQUEST, 0, OP.PING, 0, [], ["x"]]),
    },
    {
      name: "a Release with lists of different lengths",
      expect: /ids and counts differ in length/,
      run: (peer) => peer.send([MSG.RELEASE, [1, 2], [1]]),
    },
    {
      name: "a second Hello",
      expect: /second handshake/,
      run: (peer) => peer.send(hello()),
    },
    {
      name: "an unknown extension type in the arguments",
      expect: /unknown extension type 99/,
      run: (peer) =>
        peer.send(request(0, OP.CALL, 0, ["echo"], [1, new ExtData(99, new Uint8Array(1))])),
    },
    {
      name: "an attachment reference in a message without attachments",
      expect: /attachment #0, but 0 came with the message/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [attachmentRef(0, 1)])),
    },
    {
      name: "an attachment of an unknown kind",
      expect: /attachment of unknown kind 200/,
      run: (peer) =>
        peer.sendStream(0, body(request(0, OP.CALL, 0, ["echo"], [attachmentRef(0, 200)])), [
          new Uint8Array(8),
        ]),
    },
    {
      name: "a Float64Array attachment whose length is not a multiple of 8",
      expect: /malformed typed array length/,
      run: (peer) =>
        peer.sendStream(0, body(request(0, OP.CALL, 0, ["echo"], [attachmentRef(0, 8)])), [
          new Uint8Array(12),
        ]),
    },
    {
      name: "attachments adding up to more than maxMessageSize",
      expect: /a message of 65636 bytes exceeds the limit of 65536 bytes \(maxMessageSize\)/,
      serverOptions: { maxMessageSize: 65_536 },
      run: (peer) => peer.sendBytes(firstChunk(0, 100, [32_768, 32_768])),
    },
    {
      name: "an unknown container tag",
      expect: /unknown container tag 99/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [[tag(99), 1]])),
    },
    {
      name: "a back reference to a value that does not precede it",
      expect: /back reference to #50/,
      run: (peer) =>
        peer.send(request(0, OP.CALL, 0, ["echo"], [new ExtData(EXT.BACKREF, u32(50))])),
    },
    {
      name: "a malformed Error value",
      expect: /malformed Error/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [[tag(EXT.TAG_ERROR), 1, 2]])),
    },
    {
      name: "nesting deeper than the receiver's limit",
      expect: /nested deeper than 20 levels/,
      serverOptions: { maxDepth: 20 },
      run: (peer) => {
        let value: unknown = 1;
        for (let i = 0; i < 40; i++) value = [value];
        const payload = new Encoder({ maxDepth: 1000 }).encode(
          request(0, OP.CALL, 0, ["echo"], [value]),
        );
        return peer.sendBytes(frame(payload));
      },
    },
  ]);
});

Deno.test("hostile: sequence abuse", async (t) => {
  await runAll(t, [
    {
      name: "a duplicate sequence number",
      expect: /duplicate request #5/,
      run: async (peer) => {
        await peer.send(request(5, OP.CALL, 0, ["hang"], []));
        await peer.send(request(5, OP.CALL, 0, ["hang"], []));
      },
    },
    {
      name: "a duplicate of an answered, unfinished request",
      expect: /duplicate request #6/,
      run: async (peer) => {
        await peer.send(request(6, OP.PING, 0, [], ["a"]));
        assert.deepEqual(await peer.next(), [MSG.REPLY, 6, "a"]);
        await peer.send(request(6, OP.PING, 0, [], ["b"]));
      },
    },
    {
      // Version 2 refuses requests beyond the budget (see below); a peer that
      // never FINISHes as many refusals as its budget is what gets cut off.
      name: "refusals left unfinished up to maxPendingRequests",
      expect: /peer left 2 refused requests without FINISH/,
      serverOptions: { maxPendingRequests: 2 },
      run: async (peer) => {
        for (let seq = 0; seq < 5; seq++) {
          await peer.send(request(seq, OP.CALL, 0, ["hang"], []));
        }
      },
    },
  ]);
});

Deno.test("hostile: budgets refuse with LimitError and keep the connection", async (t) => {
  // In version 1 both of these closed the connection; version 2 refuses the
  // one request (core/PROTOCOL.md, "Limits and budgets").
  await t.step("a request beyond maxPendingRequests", async () => {
    const { server, port, before } = await target({ maxPendingRequests: 2 });
    const peer = await handshaken(port);
    try {
      await peer.send(request(0, OP.CALL, 0, ["hang"], []));
      await peer.send(request(1, OP.CALL, 0, ["hang"], []));
      await peer.send(request(2, OP.CALL, 0, ["hang"], []));
      const refused = await peer.next();
      assert.equal(refused[1], 2);
      assert.equal(thrownError(refused).name, "LimitError");
      assert.match(thrownError(refused).message, /at their limit of 2/);
      // Cancelling a call makes room: the connection is usable again.
      await peer.send([MSG.CANCEL, 0]);
      await peer.send(request(3, OP.PING, 0, [], ["still here"], [2]));
      assert.deepEqual(await peer.next(), [MSG.REPLY, 3, "still here"]);
      await assertWorks(before, "the client connected before");
    } finally {
      peer.close();
      await before.close();
      await server.close();
    }
  });

  await t.step("a call that would export more than maxExports", async () => {
    const { server, port, before } = await target({ maxExports: 3 });
    const peer = await handshaken(port);
    try {
      // The root is export 0: two Things fit, the third does not.
      for (let seq = 0; seq < 3; seq++) await peer.send(request(seq, OP.CALL, 0, ["make"], []));
      const answers = [await peer.next(), await peer.next(), await peer.next()];
      assert.deepEqual(answers.map((m) => m[0]), [MSG.REPLY, MSG.REPLY, MSG.THROW]);
      assert.equal(thrownError(answers[2]).name, "LimitError");
      assert.match(thrownError(answers[2]).message, /maxExports/);
      await peer.send(request(3, OP.PING, 0, [], ["still here"], [0, 1, 2]));
      assert.deepEqual(await peer.next(), [MSG.REPLY, 3, "still here"]);
      await assertWorks(before, "the client connected before");
    } finally {
      peer.close();
      await before.close();
      await server.close();
    }
  });
});

const PROTO_JSON = '{"__proto__": {"polluted": "yes"}}';

Deno.test("hostile: prototype pollution attempts", async (t) => {
  await runAll(t, [
    {
      name: "a map with a __proto__ key as an argument",
      expect: /__proto__/,
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["echo"], [JSON.parse(PROTO_JSON)])),
    },
    {
      name: "a map with a __proto__ key nested deep in an argument",
      expect: /__proto__/,
      run: (peer) =>
        peer.send(request(0, OP.CALL, 0, ["echo"], [{ a: [{ b: JSON.parse(PROTO_JSON) }] }])),
    },
    ...["__proto__", "constructor", "prototype"].map((segment): Attack => ({
      name: `a Get of the path segment ${segment}`,
      expect: new RegExp(`blocked member '${segment}'`),
      run: (peer) => peer.send(request(0, OP.GET, 0, [segment], [])),
    })),
    {
      name: "a Set through __proto__",
      expect: /blocked member '__proto__'/,
      run: (peer) => peer.send(request(0, OP.SET, 0, ["__proto__", "polluted"], ["yes"])),
    },
    {
      name: "a Set through constructor.prototype of an exported function",
      expect: /blocked member 'constructor'/,
      serverOptions: { allowAllAttrs: true, allowSetAttr: true },
      run: (peer) =>
        peer.send(
          request(0, OP.SET, 0, ["echo", "constructor", "prototype", "polluted"], ["yes"]),
        ),
    },
    {
      name: "a Get of constructor even with allowAllAttrs",
      expect: /blocked member 'constructor'/,
      serverOptions: { allowAllAttrs: true },
      run: (peer) => peer.send(request(0, OP.GET, 0, ["echo", "constructor"], [])),
    },
    {
      name: "a Call of an Object.prototype method (__defineGetter__)",
      expect: /blocked member '__defineGetter__'/,
      serverOptions: { allowAllAttrs: true },
      run: (peer) => peer.send(request(0, OP.CALL, 0, ["__defineGetter__"], ["x", 1])),
    },
    {
      name: "a Get of hasOwnProperty",
      expect: /blocked member 'hasOwnProperty'/,
      run: (peer) => peer.send(request(0, OP.GET, 0, ["hasOwnProperty"], [])),
    },
  ]);
  assertNoPollution();
});

Deno.test("hostile: an attacker does not disturb other connections mid-call", async () => {
  const lines: string[] = [];
  const server = serve(EvilTargetService, { logger: quietLogger(lines), port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const client = await connect("127.0.0.1", port, { logger: quietLogger() });
  const peers: RawPeer[] = [];
  try {
    // a call in flight on the honest connection while several attackers are thrown out
    const inFlight = client.root.hang();
    for (let i = 0; i < 5; i++) {
      const peer = await handshaken(port);
      peers.push(peer);
      await peer.sendBytes(frame(new Uint8Array([0xc1])));
    }
    for (const peer of peers) {
      assert.match(closeReason(await peer.readToEnd()) ?? "", /not a MessagePack token/);
    }
    await waitFor(() => lines.filter((l) => /not a MessagePack token/.test(l)).length === 5);
    assert.equal(await client.root.echo("fine"), "fine");
    assert.equal(client.closed, false);
    const hangs = server.connections.size;
    assert.equal(hangs, 1);
    await client.close();
    await assert.rejects(async () => await inFlight);
  } finally {
    for (const peer of peers) peer.close();
    await client.close();
    await server.close();
  }
});

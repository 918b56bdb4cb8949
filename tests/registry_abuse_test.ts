/**
 * The registry under abuse, as a hostile host on the network would try it
 * (over loopback; 127.0.0.2 stands for another machine): unsigned or
 * replayed registrations against a registry with a secret, a flood of
 * registrations from one address, replies too large for a datagram
 * (truncated, then asked for over TCP), and replies to a forged source
 * never much larger than the request.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { DiscoveryError, RegistryClient } from "../mod.ts";
import { rejection } from "./_helpers.ts";
import { startRegistry } from "./registry_helpers.ts";

const SECRET = "correct horse battery staple";
const OTHER_HOST = "127.0.0.2";

/** Sends `datagram` from `source` to the registry on 127.0.0.1:`port`; its reply, parsed. */
async function exchange(
  source: string,
  port: number,
  datagram: Uint8Array,
): Promise<{ bytes: number; reply: Record<string, unknown> }> {
  const socket = dgram.createSocket("udp4");
  try {
    await new Promise<void>((resolve) => socket.bind(0, source, resolve));
    const reply = new Promise<Uint8Array>((resolve) => socket.once("message", resolve));
    socket.send(datagram, port, "127.0.0.1");
    const bytes = await reply;
    return { bytes: bytes.length, reply: JSON.parse(new TextDecoder().decode(bytes)) };
  } finally {
    await new Promise<void>((resolve) => socket.close(resolve));
  }
}

/** An unpadded, unsigned request as a stranger would send it. */
function request(fields: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ "rdc-registry": 1, id: 7, ...fields }));
}

Deno.test("registry with a secret: only signed registrations, each usable from its sender only", async () => {
  await using r = await startRegistry("UDP", { secret: SECRET });
  const signed = new RegistryClient({
    host: "127.0.0.1",
    port: r.port,
    timeout: 500,
    secret: SECRET,
  });
  const wrong = new RegistryClient({
    host: "127.0.0.1",
    port: r.port,
    timeout: 500,
    secret: "guess",
  });

  const unsigned = await rejection(r.client.register(["Echo"], 4_000));
  assert.ok(unsigned instanceof DiscoveryError);
  assert.match(unsigned.message, /refused REGISTER: .*signed registrations only/);
  assert.match(String(await rejection(wrong.register(["Echo"], 4_000))), /bad signature/);

  await signed.register(["Echo"], 4_000);
  // Queries stay open to all; an unsigned UNREGISTER changes nothing.
  assert.deepEqual(await r.client.discover("echo"), [{ host: "127.0.0.1", port: 4_000 }]);
  assert.match(String(await rejection(r.client.unregister(4_000))), /signed registrations only/);
  assert.equal((await r.client.discover("echo")).length, 1);

  // A captured signed REGISTER, replayed from another address, is refused.
  const socket = dgram.createSocket("udp4");
  const captured = Promise.withResolvers<Uint8Array>();
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.once("message", captured.resolve);
  try {
    const spy = new RegistryClient({
      host: "127.0.0.1",
      port: socket.address().port,
      timeout: 200,
      secret: SECRET,
    });
    const sent = spy.register(["Echo"], 4_001).catch(() => {}); // nothing answers the spy
    const datagram = await captured.promise;
    await sent;
    // First use, from its sender's address (the registry's idea of the server's host)...
    assert.deepEqual((await exchange("127.0.0.1", r.port, datagram)).reply.ok, true);
    // ...and again from another: refused, as the stranger's address would be recorded.
    const replayed = await exchange(OTHER_HOST, r.port, datagram);
    assert.match(String(replayed.reply.error), /replayed request/);
  } finally {
    await new Promise<void>((resolve) => socket.close(resolve));
  }
  assert.deepEqual((await r.client.discover("echo")).map((s) => s.host), [
    "127.0.0.1",
    "127.0.0.1",
  ]);
  await signed.unregister(4_000);
  assert.deepEqual(await r.client.discover("echo"), [{ host: "127.0.0.1", port: 4_001 }]);
  assert.match(r.lines.join("\n"), /warn: refused REGISTER from 127\.0\.0\.1: .*signed/);
});

Deno.test("registry: a flood of registrations from one address cannot push out another's", async () => {
  await using r = await startRegistry("UDP", { maxServersPerSource: 4, maxNamesPerSource: 6 });
  // The honest server, on "another machine".
  const honest = await exchange(
    OTHER_HOST,
    r.port,
    request({ command: "REGISTER", names: ["Echo"], port: 5_000 }),
  );
  assert.equal(honest.reply.ok, true);
  const refused: string[] = [];
  for (let port = 1; port <= 200; port++) {
    const { reply } = await exchange(
      "127.0.0.1",
      r.port,
      request({ command: "REGISTER", names: ["Echo"], port }),
    );
    if (reply.error) refused.push(String(reply.error));
  }
  assert.equal(refused.length, 196, "4 servers from one address, no more");
  assert.match(refused[0]!, /127\.0\.0\.1 has 4 servers registered, the most one address may have/);
  const servers = await r.client.discover("echo");
  assert.equal(servers.length, 5);
  assert.deepEqual(servers[0], { host: OTHER_HOST, port: 5_000 });
  // Names count too: 6 at most across one address's servers.
  const names = ["A", "B", "C", "D", "E", "F", "G"];
  assert.match(String(await rejection(r.client.register(names, 1))), /would hold 8 names/);
  // A refresh of what is held is always allowed.
  await r.client.register(["Echo"], 1);
  const refusals = r.lines.filter((line) => line.startsWith("warn: refused"));
  assert.ok(refusals.length < 10, `refusals are logged at most once a second: ${refusals.length}`);
});

Deno.test("UDP registry: a reply too large for the sender is truncated; the client asks over TCP", async () => {
  await using r = await startRegistry("UDP", { maxServersPerSource: 500 });
  const tcp = new RegistryClient({ mode: "TCP", host: "127.0.0.1", port: r.port, timeout: 2_000 });
  const ports = Array.from({ length: 300 }, (_, i) => 10_000 + i);
  await Promise.all(ports.map((port) => tcp.register(["Big"], port)));

  // A stranger's 59-byte query: the reply is never much larger than the request.
  const query = request({ command: "QUERY", name: "big" });
  const answer = await exchange(OTHER_HOST, r.port, query);
  assert.deepEqual(answer.reply, { "rdc-registry": 1, id: 7, truncated: true });
  assert.ok(answer.bytes <= 3 * query.length, `${answer.bytes} bytes for ${query.length}`);
  // A small answer still comes over UDP.
  const small = await exchange(OTHER_HOST, r.port, request({ command: "QUERY", name: "none" }));
  assert.deepEqual(small.reply.servers, []);

  // The client gets every server: its UDP answer says truncated, so it asks over TCP.
  const servers = await r.client.discover("BIG");
  assert.deepEqual(servers.map((s) => s.port).sort((a, b) => a - b), ports);
  assert.ok(!r.lines.some((line) => /EMSGSIZE/.test(line)), r.lines.join("\n"));
});

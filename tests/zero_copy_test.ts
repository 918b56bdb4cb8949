/**
 * `transfer(buffer)`: the buffer's memory becomes the message's attachment
 * without a copy (the boxer allocates nothing for it), the caller's buffer is
 * detached, and the bytes arrive intact over TCP and over a message port, in
 * calls and in replies.
 */

import assert from "node:assert/strict";
import { connectInProcess, DEFAULT_LIMITS, Service, transfer } from "../mod.ts";
import { Boxer } from "../core/wire/boxing.ts";
import { attachmentBuffers } from "../core/wire/buffer_pool.ts";
import { ByteWriter } from "../core/wire/msgpack.ts";
import { pair, rejection } from "./_helpers.ts";

class BytesService extends Service {
  /** The length and a checksum of what arrived, and its class. */
  exposed_describe(bytes: ArrayBuffer | ArrayBufferView): [number, number, string] {
    const view = ArrayBuffer.isView(bytes)
      ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      : new Uint8Array(bytes);
    return [view.length, checksum(view), bytes.constructor.name];
  }
  /** A fresh buffer of `size` bytes, handed over without a copy. */
  exposed_make(size: number): ReturnType<typeof transfer<Uint8Array>> {
    return transfer(pattern(size));
  }
}

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 33 + bytes[i]) >>> 0;
  return sum;
}

Deno.test("transfer: a large buffer is the attachment itself, not a copy", () => {
  const bytes = pattern(256 * 1024);
  const before = checksum(bytes);
  let allocated = 0;
  const refs = {
    reference: () => {
      throw new Error("no references here");
    },
    isReference: () => false,
  };
  const settings = { ...DEFAULT_LIMITS, includeLocalStack: true };
  const boxer = new Boxer(new ByteWriter(), refs, settings, [transfer(bytes)], (size) => {
    allocated += size;
    return new Uint8Array(size);
  });
  while (!boxer.run(Infinity)) { /* boxed whole */ }
  assert.equal(allocated, 0, "nothing allocated for the attachment");
  assert.equal(boxer.attachments.length, 1);
  assert.equal(bytes.byteLength, 0, "the caller's view is detached");
  assert.equal((bytes.buffer as ArrayBuffer).detached, true);
  const attachment = boxer.attachments[0];
  assert.equal(attachment.length, 256 * 1024);
  assert.equal(checksum(attachment), before, "the moved memory holds the bytes");

  // Without transfer the same array is copied into a buffer from the allocator.
  const kept = pattern(256 * 1024);
  const copying = new Boxer(new ByteWriter(), refs, settings, [kept], (size) => {
    allocated += size;
    return new Uint8Array(size);
  });
  while (!copying.run(Infinity)) { /* boxed whole */ }
  assert.equal(allocated, 256 * 1024);
  assert.equal(kept.byteLength, 256 * 1024, "an array sent plainly stays the caller's");
});

Deno.test("transfer: the bytes arrive and the sender's buffer is detached (TCP)", async () => {
  await using p = await pair(BytesService);
  const root = p.client.root;
  const big = pattern(3 * 1024 * 1024 + 5);
  const sum = checksum(big);
  assert.deepEqual(await root.describe(transfer(big)), [3 * 1024 * 1024 + 5, sum, "Uint8Array"]);
  assert.equal(big.byteLength, 0);

  const floats = new Float64Array(20_000).map((_, i) => i / 3);
  const floatSum = checksum(new Uint8Array(floats.buffer.slice(0)));
  assert.deepEqual(await root.describe(transfer(floats)), [160_000, floatSum, "Float64Array"]);
  assert.equal(floats.length, 0, "a typed array's buffer is detached too");

  const small = new ArrayBuffer(100);
  new Uint8Array(small).fill(9);
  const smallSum = checksum(new Uint8Array(small.slice(0)));
  assert.deepEqual(await root.describe(transfer(small)), [100, smallSum, "ArrayBuffer"]);
  assert.equal(small.detached, true, "a small buffer is copied into the message, and detached");

  // A view on part of its buffer: only the viewed bytes travel; the whole buffer is handed over.
  const whole = pattern(200_000);
  const part = whole.subarray(1000, 101_000);
  const partSum = checksum(part);
  assert.deepEqual(await root.describe(transfer(part)), [100_000, partSum, "Uint8Array"]);
  assert.equal(whole.byteLength, 0);

  // A reply handed over.
  const made = await root.make(1_000_000) as Uint8Array;
  assert.equal(checksum(made), checksum(pattern(1_000_000)));
});

Deno.test("transfer: over a message port the moved buffer is posted", async () => {
  await using conn = await connectInProcess(BytesService);
  const big = pattern(512 * 1024);
  const sum = checksum(big);
  assert.deepEqual(await conn.root.describe(transfer(big)), [512 * 1024, sum, "Uint8Array"]);
  assert.equal(big.byteLength, 0);
  const part = pattern(300_000).subarray(10, 200_010);
  const partSum = checksum(part);
  assert.deepEqual(await conn.root.describe(transfer(part)), [200_000, partSum, "Uint8Array"]);
});

Deno.test("transfer: what cannot be handed over is refused clearly", async () => {
  assert.throws(
    () => transfer(new Uint8Array(new SharedArrayBuffer(8))),
    /not a SharedArrayBuffer/,
  );
  const gone = new ArrayBuffer(8);
  gone.transfer();
  assert.throws(() => transfer(gone), /already detached/);
  assert.throws(() => transfer({} as ArrayBuffer), TypeError);

  // Detached after transfer() was called but before it was sent: the call fails, the connection goes on.
  await using p = await pair(BytesService);
  const late = new Uint8Array(100_000);
  const marked = transfer(late);
  (late.buffer as ArrayBuffer).transfer();
  const refusal = await rejection(p.client.root.describe(marked));
  assert.match(String(refusal), /detached/);
  assert.deepEqual(await p.client.root.describe(new Uint8Array(3)), [3, 0, "Uint8Array"]);
});

Deno.test("transfer: bytes echoed back and forth reuse the memory handed over (TCP)", async () => {
  class Echo extends Service {
    exposed_echo(bytes: Uint8Array): ReturnType<typeof transfer<Uint8Array>> {
      return transfer(bytes);
    }
  }
  await using p = await pair(Echo);
  const size = 2 * 1024 * 1024 + 3; // no power of two: no buffer lent for copies has this size
  const reused = countReuse();
  try {
    let bytes = pattern(size);
    const sum = checksum(bytes);
    for (let i = 0; i < 6; i++) {
      const back = await p.client.root.echo(transfer(bytes)) as Uint8Array;
      assert.equal(back.length, size);
      assert.equal(back.buffer.byteLength, size, "an arriving buffer shows nothing but its bytes");
      assert.equal(checksum(back), sum, `echo ${i}: the bytes`);
      bytes = back;
    }
    // Each echo receives twice (here and there), into memory handed over before, once
    // that memory's send is written: only the first arrivals may find nothing kept yet.
    assert.ok(reused.count >= 10, `${reused.count} of ${reused.takes} arrivals reused memory`);
  } finally {
    reused.restore();
  }
});

/** Counts arrivals of large byte arrays read into memory the pool had kept. */
function countReuse(): { count: number; takes: number; restore(): void } {
  const pool = attachmentBuffers;
  const takeWhole = pool.takeWhole;
  const counts = {
    count: 0,
    takes: 0,
    restore: () => {
      pool.takeWhole = takeWhole;
    },
  };
  pool.takeWhole = function (size: number): Uint8Array {
    const idle = pool.idleBytes;
    const view = takeWhole.call(pool, size);
    counts.takes++;
    if (pool.idleBytes < idle) counts.count++;
    return view;
  };
  return counts;
}

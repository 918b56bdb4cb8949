/**
 * The pool of send buffers on its own: what it keeps idle, that a large
 * buffer (the costliest to fault in again) displaces smaller idle ones, and
 * that buffers handed over with `transfer()` come back whole, for arriving
 * byte arrays of their exact size.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../core/wire/buffer_pool.ts";

const MiB = 1024 * 1024;

Deno.test("buffer pool: a buffer given back is lent again for a size of its capacity", () => {
  const pool = new BufferPool();
  const first = pool.take(3 * MiB);
  assert.equal(first.length, 3 * MiB);
  assert.equal(first.buffer.byteLength, 4 * MiB);
  assert.ok(pool.lent(first));
  pool.give(first);
  assert.ok(!pool.lent(first));
  const again = pool.take(4 * MiB - 1);
  assert.equal(again.buffer, first.buffer);
  // A view it never lent is not taken in.
  const foreign = new Uint8Array(MiB);
  pool.give(foreign);
  assert.notEqual(pool.take(MiB).buffer, foreign.buffer);
});

Deno.test("buffer pool: a large buffer displaces smaller idle ones, never the reverse", () => {
  const pool = new BufferPool();
  const small = [pool.take(16 * MiB), pool.take(16 * MiB)];
  const large = pool.take(100e6); // 128 MiB: the pool's whole allowance
  for (const view of small) pool.give(view);
  pool.give(large);
  assert.equal(pool.take(100e6).buffer, large.buffer, "the large one was kept");
  const fresh = pool.take(16 * MiB);
  assert.ok(!small.some((view) => view.buffer === fresh.buffer), "the small ones made way");

  // With the large one idle, a small one given back does not displace it.
  const other = new BufferPool();
  const big = other.take(100e6);
  const little = other.take(16 * MiB);
  other.give(big);
  other.give(little);
  assert.equal(other.take(100e6).buffer, big.buffer);
  assert.notEqual(other.take(16 * MiB).buffer, little.buffer);
});

Deno.test("buffer pool: an adopted buffer comes back whole, for its exact size only", () => {
  const pool = new BufferPool();
  const moved = new Uint8Array(new ArrayBuffer(3 * MiB + 5).transfer(), 100, MiB);
  assert.equal(pool.adopt(moved), moved);
  assert.ok(pool.lent(moved));
  pool.give(moved);
  assert.equal(pool.idleBytes, 3 * MiB + 5, "the whole buffer is kept, not the view");
  // Sends never get it (it is no power of two), and no other size does.
  assert.notEqual(pool.take(3 * MiB + 5).buffer, moved.buffer);
  assert.notEqual(pool.takeWhole(3 * MiB + 4).buffer, moved.buffer);
  const whole = pool.takeWhole(3 * MiB + 5);
  assert.equal(whole.buffer, moved.buffer);
  assert.equal(whole.byteOffset, 0);
  assert.equal(whole.length, 3 * MiB + 5, "the view covers the whole buffer: nothing old shows");
  assert.equal(pool.idleBytes, 0);
  assert.ok(!pool.lent(whole), "taken whole, it is the caller's for good");
  pool.give(whole);
  assert.equal(pool.idleBytes, 0);
});

Deno.test("buffer pool: buffers lent for copies are never taken whole", () => {
  const pool = new BufferPool();
  const copy = pool.take(4 * MiB);
  pool.give(copy);
  assert.notEqual(pool.takeWhole(4 * MiB).buffer, copy.buffer);
  assert.equal(pool.take(4 * MiB).buffer, copy.buffer, "it stays for the next send");
});

Deno.test("buffer pool: copies and adopted buffers have an allowance each", () => {
  const pool = new BufferPool();
  // A 100 MB copy idle (its shelf's whole allowance) does not keep an adopted buffer out.
  const large = pool.take(100e6);
  pool.give(large);
  const adopted = pool.adopt(new Uint8Array(40 * MiB));
  pool.give(adopted);
  assert.equal(pool.idleBytes, 128 * MiB + 40 * MiB);
  assert.equal(pool.takeWhole(40 * MiB).buffer, adopted.buffer);
  assert.equal(pool.take(100e6).buffer, large.buffer, "and the copy is still there");
  // Adopted buffers displace smaller adopted ones past their own allowance.
  const small = [0, 1, 2].map(() => pool.adopt(new Uint8Array(40 * MiB)));
  for (const view of small) pool.give(view);
  const big = pool.adopt(new Uint8Array(100 * MiB));
  pool.give(big);
  assert.ok(pool.idleBytes <= 128 * MiB, `${pool.idleBytes} bytes idle`);
  assert.equal(pool.takeWhole(100 * MiB).buffer, big.buffer);
});

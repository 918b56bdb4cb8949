/**
 * The pool of send buffers on its own: what it keeps idle, and that a large
 * buffer (the costliest to fault in again) displaces smaller idle ones.
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

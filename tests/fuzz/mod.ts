/**
 * A seeded, bounded fuzzer for the rdc wire protocol (core/PROTOCOL.md,
 * version 2), shared by tests/fuzz_test.ts (a few thousand mutations in CI)
 * and bench/fuzz.ts (the long run). This module gathers what those two use.
 *
 * What it checks is the promise of the hostile-peer issue: bad input gets a
 * clear error and loses nothing — only the offending connection closes, the
 * server never crashes, an honest client on the same server keeps getting
 * right answers, and nothing a peer sends makes rdc allocate, buffer or
 * compute without bound.
 *
 * How, in four parts:
 *
 * 1. **Randomness** (rng.ts). A mulberry32 generator. Mutation `i` of seed
 *    `s` draws from its own generator, so one mutation can be rebuilt and
 *    replayed alone, whatever ran before it.
 * 2. **Corpus** (corpus.ts, scenarios.ts, service.ts).
 *    {@linkcode captureCorpus} runs a real client against a real server over
 *    a pair of tapped web streams and records every frame each way, split at
 *    frame boundaries, one scenario per connection. Each frame the client
 *    sent remembers how many server frames had gone out before it, so a
 *    replay can wait for them (a reply to a callback must not overtake the
 *    call it answers).
 * 3. **Mutators** (mutation.ts, mutate_*.ts, over frames.ts, tree.ts and
 *    values.ts). {@linkcode makeMutation} takes a scenario's traffic and
 *    applies one to three mutators: structure-aware ones decode a message
 *    body with @msgpack/msgpack (an encoder independent of
 *    core/wire/msgpack.ts), change it and encode it again; byte-level ones
 *    flip, cut and splice frames; chunk-level ones lie about streams; a few
 *    change the HELLO.
 * 4. **Runner** (run.ts, exchange.ts, checks.ts, target.ts, report.ts).
 *    {@linkcode runFuzz} serves the fuzz service on a free loopback port,
 *    keeps one honest client connected throughout, and sends each mutation on
 *    a raw TCP connection of its own (a small pool of them at once), reading
 *    what comes back until a CLOSE, the end of the stream, the answer to a
 *    sentinel PING sent last, or a short idle bound. Each batch of
 *    `checkEvery` mutations runs while the honest client checks its answers;
 *    after it, once the raw peers have gone, no connection or call of theirs
 *    may be left, the server's inbound and pending-requests budgets must be
 *    whole again (the honest client fills each exactly), and no built-in
 *    prototype may have changed. At the end: memory, unhandled rejections.
 *
 * The wire numbers come from tests/_raw_peer.ts, which writes them out rather
 * than importing them from core/, so that the fuzzer checks the protocol as
 * the specification states it.
 *
 * @module
 */

export { captureCorpus, type Corpus } from "./corpus.ts";
export { hex } from "./describe.ts";
export { exchange } from "./exchange.ts";
export { frameBytes } from "./frames.ts";
export { countingLogger } from "./log.ts";
export { makeMutation, unmutated } from "./mutation.ts";
export { formatReport, mib } from "./report.ts";
export { runFuzz } from "./run.ts";
export { Target } from "./target.ts";

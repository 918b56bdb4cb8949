/**
 * The wire fuzzer in CI (tests/fuzz/ has the machinery, bench/fuzz.ts the
 * long run): a fixed seed, a few thousand mutations of real traffic sent on
 * raw connections while an honest client keeps asking. It fails when the
 * server breaks a promise of the hostile-peer issue — it crashes or stops
 * accepting, the honest client gets a wrong answer or none, a raw connection
 * (or a call of its) outlives its peer, a budget does not come back whole,
 * memory grows past the bound, or a rejection goes unhandled — and the
 * failure names the seed, the batch of mutations, and how to replay it.
 *
 * Deterministic given the seed, but for timing: which raw connections
 * overlap varies from run to run, what each one sends does not.
 */

import assert from "node:assert/strict";
import {
  captureCorpus,
  type Corpus,
  countingLogger,
  exchange,
  formatReport,
  frameBytes,
  makeMutation,
  runFuzz,
  Target,
  unmutated,
} from "./fuzz/mod.ts";

/** The seed of the CI run: change it only on purpose (every mutation changes with it). */
const SEED = 20_251_203;
/** Mutations in the CI run: enough to touch every mutator a few dozen times. */
const MUTATIONS = 2_000;

let corpus: Promise<Corpus> | null = null;
/** The corpus, captured once for the whole file. */
function theCorpus(): Promise<Corpus> {
  return corpus ??= captureCorpus();
}

Deno.test("fuzz: every recorded scenario, as recorded and re-encoded by @msgpack/msgpack, is served", async () => {
  const { scenarios } = await theCorpus();
  const target = await Target.start(countingLogger());
  try {
    for (const { name } of scenarios) {
      for (const reencode of [false, true]) {
        const outcome = await exchange(target.port, unmutated(await theCorpus(), name, reencode), {
          idleMs: 2_000,
          stepMs: 500,
          capMs: 10_000,
        });
        // The goodbye scenario ends with the client's CLOSE: the server closes without a word.
        const expected = name === "goodbye" ? "eof" : "answered";
        assert.equal(
          outcome.kind,
          expected,
          `${name}${reencode ? ", re-encoded" : ""}: ${outcome.reason}`,
        );
      }
    }
  } finally {
    assert.equal(await target.stop(), null);
  }
});

Deno.test("fuzz: a mutation is the same bytes whatever was built before it", async () => {
  const corpus = await theCorpus();
  const alone = makeMutation(corpus, SEED, 123);
  for (let i = 0; i < 300; i++) makeMutation(corpus, SEED, i);
  const again = makeMutation(corpus, SEED, 123);
  assert.deepEqual(again.steps, alone.steps);
  const bytes = (m: typeof alone) => frameBytes([...m.hello, ...m.frames.map((t) => t.frame)]);
  assert.deepEqual(bytes(again), bytes(alone));
  assert.notDeepEqual(makeMutation(corpus, SEED + 1, 123).steps, alone.steps);
});

Deno.test({
  name: `fuzz: ${MUTATIONS} mutations of seed ${SEED} break no promise of the hostile-peer issue`,
  async fn() {
    const report = await runFuzz({
      seed: SEED,
      mutations: MUTATIONS,
      concurrency: 8,
      checkEvery: 250,
      corpus: await theCorpus(),
    });
    const summary = formatReport(report);
    if (report.failures.length > 0) {
      assert.fail(`the fuzzer (seed ${SEED}) found broken promises:\n${summary}`);
    }
    assert.equal(report.mutations, MUTATIONS, summary);
    assert.ok(report.honestChecks > MUTATIONS / 250, summary);
  },
});

/**
 * The bench's rounds: every measure once as a warm-up, then round after
 * round every scenario for every subject (a peer, or the raw baseline), the
 * order of scenarios and of subjects reversed every other round so that
 * drift cancels.
 *
 * A measure that throws does not end the bench: its subject is dropped from
 * that scenario, its figures with it (a partial series would pair its
 * rounds with the wrong ones of the baseline), and the error is kept to be
 * shown in the table.
 *
 * @module
 */

/**
 * What a measure gives: one figure for its scenario's first row, or several
 * by sample key (the scenario's row ids, and extra keys that go only to the
 * JSON).
 */
export type Figures = number | Record<string, number>;

/** Times one subject in one scenario once. */
export type Measure = () => Promise<Figures>;

/** A line of the results table. */
export interface Row {
  /** Its sample key, unique in the run. */
  id: string;
  /** What it shows. */
  title: string;
  /** The unit of its figures. */
  unit: string;
}

/** A scenario: its rows, and how each subject is measured. */
export interface Scenario {
  /** One row, or more when a measure gives several figures. */
  rows: Row[];
  /** By subject name. */
  subjects: Map<string, Measure>;
  /** Subjects left out, by name, with the reason (shown under the table). */
  skipped: Map<string, string>;
}

/** Every round's figures, and what failed. */
export interface Rounds {
  /** By `key/subject`: one figure per round. */
  samples: Map<string, number[]>;
  /** By `rowId/subject` for every row of the scenario: when and why a measure failed. */
  failures: Map<string, string>;
}

/** Warms up, then runs `count` rounds; `onRound` hears each one finish. */
export async function runRounds(
  scenarios: Scenario[],
  count: number,
  onRound: (done: number) => void = () => {},
): Promise<Rounds> {
  const samples = new Map<string, number[]>();
  const failures = new Map<string, string>();
  const kept = new Map<Scenario, Map<string, Set<string>>>(
    scenarios.map((s) => [s, new Map()]),
  );
  /** Measures once; `round` is null for the warm-up, whose figures do not count. */
  const run = async (scenario: Scenario, name: string, measure: Measure, round: number | null) => {
    const when = round === null ? "the warm-up" : `round ${round}`;
    let figures: Figures;
    try {
      figures = await measure();
    } catch (error) {
      scenario.subjects.delete(name);
      for (const key of kept.get(scenario)!.get(name) ?? []) samples.delete(`${key}/${name}`);
      for (const row of scenario.rows) {
        failures.set(`${row.id}/${name}`, `${when}: ${brief(error)}`);
      }
      return;
    }
    if (round === null) return;
    const record = typeof figures === "number" ? { [scenario.rows[0].id]: figures } : figures;
    const keys = kept.get(scenario)!;
    for (const [key, value] of Object.entries(record)) {
      keys.set(name, (keys.get(name) ?? new Set()).add(key));
      samples.set(`${key}/${name}`, [...samples.get(`${key}/${name}`) ?? [], value]);
    }
  };
  // Every measure once, so JITs and caches settle before anything counts.
  for (const scenario of scenarios) {
    for (const [name, measure] of [...scenario.subjects]) {
      await run(scenario, name, measure, null);
    }
  }
  for (let r = 0; r < count; r++) {
    for (const scenario of r % 2 === 0 ? scenarios : [...scenarios].reverse()) {
      const subjects = [...scenario.subjects];
      for (const [name, measure] of r % 2 === 0 ? subjects : subjects.reverse()) {
        await run(scenario, name, measure, r + 1);
      }
    }
    onRound(r + 1);
  }
  return { samples, failures };
}

/** An error as one line: its class and the first line of its message. */
function brief(error: unknown): string {
  if (!(error instanceof Error)) return String(error).split("\n")[0];
  return `${error.name}: ${error.message.split("\n")[0]}`;
}

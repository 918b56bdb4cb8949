/**
 * The table the "ping under a big pull" scenario pulls: rows of plain
 * objects, as a query result or a report would be. `rpyc_server.py` builds
 * the same rows (same fields, same values) for RPyC.
 *
 * @module
 */

/** One row of the table. */
export interface Row {
  /** Its position, from 0. */
  id: number;
  /** `User <id>`. */
  name: string;
  /** `user<id>@example.com`. */
  email: string;
  /** A score from 0 to 99.99, with two decimals. */
  score: number;
  /** Two of six tags. */
  tags: string[];
}

const TAGS = ["red", "green", "blue", "admin", "beta", "ops"];

/** Row `id` of the table. */
function row(id: number): Row {
  return {
    id,
    name: `User ${id}`,
    email: `user${id}@example.com`,
    score: (id * 7919 % 10000) / 100,
    tags: [TAGS[id % 6], TAGS[(id + 2) % 6]],
  };
}

/** `rows` rows, the same on every call and in every language (no randomness). */
export function buildTable(rows: number): Row[] {
  const table = new Array<Row>(rows);
  for (let id = 0; id < rows; id++) table[id] = row(id);
  return table;
}

/**
 * The same rows, built in slices of `sliceMs` with a timer turn between
 * them, as rdc decodes a pulled table: what any Deno program must pay to
 * make them (the allocations and the garbage collector's work on them).
 */
export async function buildTableInSlices(rows: number, sliceMs: number): Promise<Row[]> {
  const table = new Array<Row>(rows);
  let id = 0;
  while (true) {
    const deadline = performance.now() + sliceMs;
    while (id < rows && (id % 256 !== 0 || performance.now() < deadline)) table[id] = row(id++);
    if (id === rows) return table;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

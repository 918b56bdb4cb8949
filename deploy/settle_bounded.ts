/**
 * Running many tasks, a bounded number at once, each settling on its own.
 *
 * @module
 */

/**
 * Runs `task` on every item with at most `concurrency` running at once, in
 * the items' order, and resolves with every outcome in that order, as
 * `Promise.allSettled` does: a task that fails does not stop the others.
 *
 * @throws {RangeError} when `concurrency` is not a whole number from 1 up.
 */
export async function settleBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a whole number from 1 up, not ${concurrency}`);
  }
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await task(items[index]!, index) };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/**
 * The producer's side of remote iteration: one NEXT or RETURN step, and
 * batched iteration (BATCH): up to `count` steps of an iterator this end
 * opened for the peer, answered in one reply.
 *
 * Contract: the iterator runs no further than the count the consumer granted
 * (its credit), so a generator's side effects stay within the consumer's
 * window. A step that throws after some items were produced is kept for the
 * consumer's next BATCH, which throws it: the items before it arrive first,
 * and the error reaches the consumer at the item where it happened.
 *
 * @module
 */

import { MAX_BATCH, Op } from "../wire/messages.ts";

/**
 * One NEXT or RETURN step of `iterator`, as the wire carries it: a promise of
 * `{done, value}` with the value awaited (so sync iterators of promises behave
 * as `for await` expects). An iterator without `return` is simply done.
 */
export function stepIterator(
  iterator: unknown,
  op: typeof Op.Next | typeof Op.Return,
  arg: unknown,
  run = (f: () => unknown) => f(),
): Promise<IteratorResult<unknown>> {
  const it = Object(iterator) as Partial<AsyncIterator<unknown>>;
  const method = op === Op.Next ? it.next : it.return;
  if (typeof method !== "function") {
    if (op === Op.Return) return Promise.resolve({ done: true, value: arg });
    return Promise.reject(new TypeError("the target is not an iterator"));
  }
  return Promise.resolve(run(() => method.call(iterator, arg))).then(async (result) => {
    const { done, value } = (result ?? {}) as Partial<IteratorResult<unknown>>;
    return { done: Boolean(done), value: await value } as IteratorResult<unknown>;
  });
}

export { MAX_BATCH };

/** Items a remote iteration may prefetch, unless the connection or the call says otherwise. */
export const DEFAULT_ITERATION_WINDOW = 256;

/** Chunks a web stream handed over may have in flight, unless the connection says otherwise. */
export const DEFAULT_STREAM_WINDOW = 64;

/**
 * Checks a window option.
 *
 * @throws {RangeError} naming `what` when it is not an integer from 1 to 65 536.
 */
export function checkWindow(window: number, what: string): number {
  if (!Number.isInteger(window) || window < 1 || window > MAX_BATCH) {
    throw new RangeError(`${what} must be an integer from 1 to ${MAX_BATCH}, not ${window}`);
  }
  return window;
}

/**
 * A BATCH's answer: the items produced, whether the iterator is done, and
 * its return value when it is (`undefined` otherwise).
 */
export type BatchAnswer = [items: unknown[], done: boolean, returned: unknown];

/** Errors thrown by a step after some items of its batch were produced, per iterator. */
const deferredErrors = new WeakMap<object, { error: unknown }>();

/**
 * Runs up to `count` NEXT steps of `iterator` (one after another, each item
 * awaited), stopping at the end or at an error.
 *
 * @throws {TypeError} when `count` is not an integer from 1 to {@linkcode MAX_BATCH}.
 * @throws whatever the iterator threw: at once when no item came before it,
 *   else on the following call.
 */
export async function stepBatch(
  iterator: object,
  count: unknown,
  run = (f: () => unknown) => f(),
): Promise<BatchAnswer> {
  if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > MAX_BATCH) {
    throw new TypeError(`a batch asks for 1 to ${MAX_BATCH} items, not ${String(count)}`);
  }
  const deferred = deferredErrors.get(iterator);
  if (deferred) {
    deferredErrors.delete(iterator);
    throw deferred.error;
  }
  const items: unknown[] = [];
  while (items.length < (count as number)) {
    let step: IteratorResult<unknown>;
    try {
      step = await stepIterator(iterator, Op.Next, undefined, run);
    } catch (error) {
      if (items.length === 0) throw error;
      deferredErrors.set(iterator, { error });
      break;
    }
    if (step.done) return [items, true, step.value];
    items.push(step.value);
  }
  return [items, false, undefined];
}

/**
 * The producer's side of remote iteration: one NEXT or RETURN step, and
 * batched iteration (BATCH): up to `count` steps of an iterator this end
 * opened for the peer, answered in one reply.
 *
 * Contract: the iterator runs no further than the count the consumer granted
 * (its credit), so a generator's side effects stay within the consumer's
 * window, and a batch ends early once its strings and byte arrays pass
 * {@linkcode BATCH_BYTES}, so a window of large items stays a few MiB a
 * reply. A step that throws after some items were produced is kept for the
 * consumer's next BATCH, which throws it: the items before it arrive first,
 * and the error reaches the consumer at the item where it happened.
 *
 * @module
 */

import { MAX_BATCH, Op } from "../wire/messages.ts";
import { isThenable } from "../wire/thenable.ts";

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
  try {
    return Promise.resolve(step(iterator, op, arg, run));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * One step, awaiting only what is a promise: a synchronous iterator's step
 * of a plain value comes back as it is, with no microtask (a batch of
 * thousands of items would otherwise spend most of its time in them).
 *
 * @throws what the iterator's method threw, synchronously.
 */
function step(
  iterator: unknown,
  op: typeof Op.Next | typeof Op.Return,
  arg: unknown,
  run: (f: () => unknown) => unknown,
): IteratorResult<unknown> | Promise<IteratorResult<unknown>> {
  const it = Object(iterator) as Partial<AsyncIterator<unknown>>;
  const method = op === Op.Next ? it.next : it.return;
  if (typeof method !== "function") {
    if (op === Op.Return) return { done: true, value: arg };
    throw new TypeError("the target is not an iterator");
  }
  const result = run(() => method.call(iterator, arg));
  return isThenable(result) ? Promise.resolve(result).then(settleStep) : settleStep(result);
}

/** A step's `{done, value}`, its value awaited only when it is a promise. */
function settleStep(result: unknown): IteratorResult<unknown> | Promise<IteratorResult<unknown>> {
  const { done, value } = (result ?? {}) as Partial<IteratorResult<unknown>>;
  if (!isThenable(value)) return { done: Boolean(done), value } as IteratorResult<unknown>;
  return Promise.resolve(value).then((settled) =>
    ({ done: Boolean(done), value: settled }) as IteratorResult<unknown>
  );
}

export { MAX_BATCH };

/**
 * Items a remote iteration may prefetch, unless the connection or the call
 * says otherwise: it starts 256 ahead and grows into this only while the
 * consumer keeps waiting for items (`core/netref/iteration.ts`).
 */
export const DEFAULT_ITERATION_WINDOW = 16_384;

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

/** Whether `value` has a BATCH answer's shape: `[items, done, returned]`. */
export function isBatchAnswer(value: unknown): value is BatchAnswer {
  return Array.isArray(value) && value.length === 3 && Array.isArray(value[0]) &&
    typeof value[1] === "boolean";
}

/**
 * `answer`, checked as the peer's answer to a BATCH of `count`.
 *
 * @throws {TypeError} naming what is wrong: another shape, or more items than asked for (a
 *   producer that ignores its credit).
 */
export function checkBatchAnswer(answer: unknown, count: number): BatchAnswer {
  if (!isBatchAnswer(answer)) {
    throw new TypeError("the peer's answer to BATCH is not [items, done, returned]");
  }
  if (answer[0].length > count) {
    throw new TypeError(`the peer answered a BATCH of ${count} with ${answer[0].length} items`);
  }
  return answer;
}

/** A batch's strings and byte arrays past this many bytes (UTF-16 units for strings) end it. */
export const BATCH_BYTES = 4 * 1024 * 1024;

/** Errors thrown by a step after some items of its batch were produced, per iterator. */
const deferredErrors = new WeakMap<object, { error: unknown }>();

/**
 * Runs up to `count` NEXT steps of `iterator` (one after another, each item
 * awaited when it is a promise), stopping at the end, at an error, or once
 * the items' strings and byte arrays pass {@linkcode BATCH_BYTES}.
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
  let bytes = 0;
  while (items.length < (count as number) && bytes < BATCH_BYTES) {
    let next: IteratorResult<unknown>;
    try {
      const stepped = step(iterator, Op.Next, undefined, run);
      next = stepped instanceof Promise ? await stepped : stepped;
    } catch (error) {
      if (items.length === 0) throw error;
      deferredErrors.set(iterator, { error });
      break;
    }
    if (next.done) return [items, true, next.value];
    items.push(next.value);
    bytes += sizeOf(next.value);
  }
  return [items, false, undefined];
}

/** The bytes a string or byte array will take on the wire, about; 0 for anything else. */
function sizeOf(item: unknown): number {
  if (typeof item === "string") return item.length;
  return item instanceof ArrayBuffer || ArrayBuffer.isView(item) ? item.byteLength : 0;
}

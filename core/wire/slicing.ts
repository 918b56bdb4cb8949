/**
 * Time slicing: encoding or decoding a large value runs in slices of a few
 * milliseconds, and lets the event loop serve other connections (and other
 * messages of the same one) between slices, so one big value never stalls
 * everyone else.
 *
 * @module
 */

/** How long one slice may run before it lets other work in, in milliseconds. */
export const SLICE_MS = 8;

/**
 * Work that can stop and go on later: `run(deadline)` works until it is done
 * (true) or `performance.now()` has passed `deadline` (false; call it again).
 * A deadline of 0 means "this slice started now": the work reads the clock
 * only once it has done enough to be worth a look (most messages never do).
 */
export interface Sliced {
  /** Works until done (true) or past `deadline` (false). */
  run(deadline: number): boolean;
}

/**
 * The deadline check of a {@linkcode Sliced}: given the deadline it was run
 * with (0: set it now), returns the deadline to keep, or -1 when it has
 * passed.
 */
export function checkDeadline(deadline: number): number {
  const now = performance.now();
  if (deadline === 0) return now + SLICE_MS;
  return now > deadline ? -1 : deadline;
}

/**
 * Runs `work`: its first slice now, the rest (if any) in later turns of the
 * event loop. Returns null when it finished in the first slice, so small
 * values cost no promise; otherwise a promise that settles when it is done
 * (or rejects with what `run` threw).
 */
export function runSliced(work: Sliced): Promise<void> | null {
  if (work.run(0)) return null;
  return (async () => {
    do await nextTurn(); while (!work.run(performance.now() + SLICE_MS));
  })();
}

/**
 * Runs `work` to the end now, in one go: for a thread that may not let the
 * event loop turn (the synchronous mode's). Returns null, as
 * {@linkcode runSliced} does for work done in its first slice.
 */
export function runWhole(work: Sliced): null {
  while (!work.run(Infinity)) { /* a deadline of Infinity never passes */ }
  return null;
}

/**
 * A macrotask: unlike a microtask (or `setImmediate`, or a `MessageChannel`
 * message in Deno), a timer lets pending I/O in first.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

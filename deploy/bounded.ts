/**
 * Bounded waits: every wait on the network or a remote process in deploy/
 * has a limit, and leaves no timer behind.
 *
 * @module
 */

/** The outcome of {@linkcode within}: the value, or `timedOut` when time ran out first. */
export type Bounded<T> = { timedOut: false; value: T } | { timedOut: true };

/** Waits for `promise`, at most `ms` milliseconds. A rejection passes through. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<Bounded<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Bounded<T>>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([
      promise.then((value): Bounded<T> => ({ timedOut: false, value })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

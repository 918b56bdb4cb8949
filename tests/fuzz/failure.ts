/**
 * A promise the server under test broke, and errors described in one line.
 *
 * @module
 */

/** A promise the server under test broke (or a bound the harness could not keep with it). */
export class FuzzFailure extends Error {
  override name = "FuzzFailure";
}

/** An error in one line: its name, message and causes. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause === undefined ? "" : ` (cause: ${describeError(error.cause)})`;
  return `${error.name}: ${error.message}${cause}`;
}

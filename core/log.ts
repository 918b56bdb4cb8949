/**
 * Logging: the one function type every part of rdc logs through, and logging
 * that a flood cannot turn into a flood of log lines.
 *
 * @module
 */

/** How a connection logs; `level` is one of debug, info, warn, error. */
export type Logger = (level: "debug" | "info" | "warn" | "error", message: string) => void;

/** The default logger: warnings and errors to stderr. */
export const defaultLogger: Logger = (level, message) => {
  if (level === "warn" || level === "error") console.error(`rdc ${level}: ${message}`);
};

/**
 * Logs a warning at most once per `intervalMs`.
 *
 * Contract: the first warning is logged at once; warnings that arrive within
 * `intervalMs` of the last one logged are counted, not logged, and the next
 * line logged says how many were left out.
 */
export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #lastLogged = -Infinity;
  #skipped = 0;

  /** Default interval: one line a second. */
  constructor(logger: Logger, intervalMs = 1_000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** Logs `message` at level warn, unless a line was logged within the interval. */
  warn(message: string): void {
    const now = performance.now();
    if (now - this.#lastLogged < this.#intervalMs) {
      this.#skipped++;
      return;
    }
    const skipped = this.#skipped > 0 ? ` (${this.#skipped} more like it not logged)` : "";
    this.#logger("warn", message + skipped);
    this.#lastLogged = now;
    this.#skipped = 0;
  }
}

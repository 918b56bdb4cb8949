/**
 * Counting log lines and close reasons by their shape: numbers and addresses
 * taken out, so that lines that differ only in them count as one.
 *
 * @module
 */

import type { Logger } from "../../mod.ts";

/** A logger that counts lines by their shape instead of printing them. */
export interface CountingLogger extends Logger {
  /** Normalised line → times seen. */
  readonly counts: Map<string, number>;
}

/** A {@linkcode CountingLogger}. */
export function countingLogger(): CountingLogger {
  const counts = new Map<string, number>();
  const logger = ((level: string, message: string) => {
    const key = `${level}: ${normalizeReason(message)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }) as CountingLogger;
  (logger as { counts: Map<string, number> }).counts = counts;
  return logger;
}

/**
 * A reason with its numbers and addresses taken out, so that reasons that
 * differ only in them count as one.
 */
export function normalizeReason(reason: string): string {
  return reason
    .replace(/\d+\.\d+\.\d+\.\d+:\d+/g, "<addr>")
    .replace(/'[^']{20,}'/g, "'…'")
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, "N")
    .replace(/(N[ ,]*){2,}/g, "N ")
    .slice(0, 160);
}

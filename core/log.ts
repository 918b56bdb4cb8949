/**
 * Logging: the one function type every part of rdc logs through.
 *
 * @module
 */

/** How a connection logs; `level` is one of debug, info, warn, error. */
export type Logger = (level: "debug" | "info" | "warn" | "error", message: string) => void;

/** The default logger: warnings and errors to stderr. */
export const defaultLogger: Logger = (level, message) => {
  if (level === "warn" || level === "error") console.error(`rdc ${level}: ${message}`);
};

/**
 * The lines a deployment's remote side prints on stdout for the launcher,
 * each starting with `RDC1` (so that anything a login script prints is told
 * apart). The bootstrap script prints `STATUS` and `SEND`; the server prints
 * `READY`. See `bootstrap.ts` for the whole exchange.
 *
 * @module
 */

/** The prefix of every protocol line (version 1). */
export const MARKER = "RDC1";

/** The server listens: `RDC1 READY <socket path>`. */
export const READY = "READY";

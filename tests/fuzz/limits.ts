/**
 * The limits and budgets of the server the fuzzer attacks: small, so that
 * what a peer makes the server take shows, and so that the honest client can
 * fill each budget exactly to see that none of it leaked.
 *
 * @module
 */

import type { Limits } from "../../mod.ts";

/** A mebibyte. */
export const MiB = 1024 * 1024;

/**
 * The largest message the server under test accepts: small, because a peer
 * may make the server take (and zero) that much memory with a frame of a few
 * bytes, which the budgets bound but the process's resident size shows.
 */
export const MAX_MESSAGE = 4 * MiB;

/**
 * The limits of the server under test: the defaults, but for the smallest
 * frame size a server may announce, so that streams of a few chunks cost a
 * few hundred KiB instead of megabytes (the framing code is the same), and a
 * 4 MiB message size.
 */
export const FUZZ_LIMITS: Limits = { maxFrameSize: 64 * 1024, maxMessageSize: MAX_MESSAGE };

/**
 * The server's inbound budget, across its connections: as small as one
 * message, so that the honest client can check that all of it came back
 * (one message of nearly that size goes through only when nothing leaked).
 */
export const FUZZ_INBOUND_BUDGET = MAX_MESSAGE;

/**
 * The server's budget of requests pending across its connections: small, so
 * that the honest client can fill it exactly and see that none of it leaked.
 */
export const FUZZ_PENDING_BUDGET = 4096;

/** The largest frame payload the server under test accepts. */
export const FRAME_LIMIT = 64 * 1024;

/**
 * Limits: what one end accepts from its peer, and what a server accepts from
 * all of its peers together. Every default is in {@linkcode DEFAULT_LIMITS}
 * and {@linkcode DEFAULT_SERVER_LIMITS}, beside the types that document them.
 *
 * Two kinds of limit live here. The *wire* limits (message size, frame size,
 * nesting, elements, bigint size) are announced in the handshake, so an
 * honest sender refuses an oversize value itself (that call fails, nothing is
 * sent) and a peer that sends one anyway is breaking the protocol. The
 * *budgets* (pending requests, exports, imports, buffered bytes) depend on
 * what is in flight: a breach refuses the request that would cross it, or
 * slows the peer down, and closes nothing.
 *
 * @module
 */

const MiB = 1024 * 1024;

/** What one end accepts from its peer. Every field is optional; see the defaults. */
export interface Limits {
  /**
   * Largest message accepted, in bytes: a value's encoding plus the byte
   * arrays it carries. Announced to the peer, whose call (or reply) fails
   * with a `LimitError` before anything is sent when it would be larger; the
   * connection stays open.
   *
   * @default {1 GiB}
   */
  maxMessageSize?: number;
  /**
   * Largest frame accepted, in bytes. Messages larger than a frame travel in
   * chunks of at most 1 MiB; the peer chunks under this limit. At least 64 KiB.
   *
   * @default {2 MiB}
   */
  maxFrameSize?: number;
  /**
   * Deepest nesting of a value.
   *
   * @default {256}
   */
  maxDepth?: number;
  /**
   * Most values (array items, object entries, map and set items, each
   * counted once) in one message.
   *
   * @default {10_000_000}
   */
  maxElements?: number;
  /**
   * Largest bigint, in bytes of magnitude.
   *
   * @default {1 MiB} (about 2.5 million decimal digits)
   */
  maxBigIntBytes?: number;
  /**
   * Requests from the peer being served at once, plus answers kept for its
   * pipelining (until it sends FINISH). A request beyond it is refused with a
   * `LimitError`.
   *
   * @default {65_536}
   */
  maxPendingRequests?: number;
  /**
   * Objects exported to the peer at once. A call or reply that would export
   * more fails with a `LimitError`.
   *
   * @default {1_000_000}
   */
  maxExports?: number;
  /**
   * Netrefs to the peer's objects held at once. A message that would bring
   * more is refused with a `LimitError` (its references are given back).
   *
   * @default {100_000}
   */
  maxImports?: number;
  /**
   * Bytes of partly received messages held at once. A message that does not
   * fit waits, and the connection reads nothing more until it does (the peer
   * is slowed, not buffered). At least `maxMessageSize`.
   *
   * @default {1 GiB}
   */
  maxInboundBytes?: number;
  /**
   * Bytes queued for the peer before this end stops reading the peer's
   * requests, until the queue drains below half.
   *
   * @default {64 MiB}
   */
  maxOutboundBytes?: number;
  /**
   * Milliseconds the peer may leave queued bytes unread (no write
   * progress), or leave a message half sent, before the connection is
   * closed; 0 waits forever.
   *
   * @default {60_000}
   */
  drainTimeout?: number;
}

/** Every limit filled in. */
export type ResolvedLimits = Required<Limits>;

/** The defaults of every {@linkcode Limits} field. */
export const DEFAULT_LIMITS: Readonly<ResolvedLimits> = Object.freeze({
  maxMessageSize: 1024 * MiB,
  maxFrameSize: 2 * MiB,
  maxDepth: 256,
  maxElements: 10_000_000,
  maxBigIntBytes: MiB,
  maxPendingRequests: 65_536,
  maxExports: 1_000_000,
  maxImports: 100_000,
  maxInboundBytes: 1024 * MiB,
  maxOutboundBytes: 64 * MiB,
  drainTimeout: 60_000,
});

/**
 * The least each announced limit may be, on either end: below them no
 * honest message (a HELLO, the error a refused call gets) would fit. A peer
 * announcing less is refused at the handshake.
 */
export const MIN_LIMITS: Readonly<AnnouncedLimits> = Object.freeze({
  maxMessageSize: 64 * 1024,
  maxFrameSize: 64 * 1024,
  maxDepth: 4,
  maxElements: 64,
  maxBigIntBytes: 8,
});

/** The smallest `maxFrameSize` accepted: a chunk must carry something. */
export const MIN_FRAME_SIZE: number = MIN_LIMITS.maxFrameSize;

/** Largest frame before the handshake: HELLOs and refusals are small. */
export const HANDSHAKE_FRAME_SIZE = 16 * 1024;

/**
 * Fills in the defaults.
 *
 * @throws {RangeError} naming the field, for a value that is not a positive
 *   whole number or is out of its range.
 */
export function resolveLimits(limits: Limits): ResolvedLimits {
  const out = { ...DEFAULT_LIMITS } as ResolvedLimits;
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    const zeroOk = key === "drainTimeout";
    if (!Number.isSafeInteger(value) || value < (zeroOk ? 0 : 1)) {
      throw new RangeError(
        `${key} must be a ${zeroOk ? "" : "positive "}whole number, not ${value}`,
      );
    }
    out[key] = value;
  }
  for (const key of ANNOUNCED) {
    if (out[key] < MIN_LIMITS[key]) {
      throw new RangeError(`${key} must be at least ${MIN_LIMITS[key]}`);
    }
  }
  // A message never fits if the budget for partial messages is smaller.
  if (limits.maxInboundBytes === undefined) {
    out.maxInboundBytes = Math.max(out.maxInboundBytes, out.maxMessageSize);
  } else if (out.maxInboundBytes < out.maxMessageSize) {
    throw new RangeError(
      `maxInboundBytes (${out.maxInboundBytes}) must be at least maxMessageSize ` +
        `(${out.maxMessageSize})`,
    );
  }
  return out;
}

/**
 * The limits a server puts on all of its connections together, beside each
 * connection's own {@linkcode Limits}.
 */
export interface ServerLimits {
  /**
   * Connections held at once, counting those still authenticating or in
   * their handshake. A client beyond it is refused before the handshake with
   * a CLOSE naming the reason ("too many connections", which the client's
   * `connect` rejects with), logged at most once a second; the others are
   * not disturbed.
   *
   * @default {1_024}
   */
  maxConnections?: number;
  /**
   * Bytes of partly received messages held across every connection. A
   * message that does not fit waits, and its connection reads nothing more
   * until it does. Each connection announces no larger `maxMessageSize`
   * than this.
   *
   * @default {1 GiB}
   */
  maxTotalInboundBytes?: number;
  /**
   * Requests being served (and answers kept for pipelining) across every
   * connection. A request beyond it is refused with a `LimitError`.
   *
   * @default {262_144}
   */
  maxTotalPendingRequests?: number;
}

/** The defaults of every {@linkcode ServerLimits} field. */
export const DEFAULT_SERVER_LIMITS: Readonly<Required<ServerLimits>> = Object.freeze({
  maxConnections: 1024,
  maxTotalInboundBytes: 1024 * MiB,
  maxTotalPendingRequests: 262_144,
});

/** The wire limits an end announces in its HELLO, so the peer's sends fit them. */
export type AnnouncedLimits = Pick<
  ResolvedLimits,
  "maxMessageSize" | "maxFrameSize" | "maxDepth" | "maxElements" | "maxBigIntBytes"
>;

/** The names of {@linkcode AnnouncedLimits}, in the order HELLO carries them. */
export const ANNOUNCED: readonly (keyof AnnouncedLimits)[] = [
  "maxMessageSize",
  "maxFrameSize",
  "maxDepth",
  "maxElements",
  "maxBigIntBytes",
];

/**
 * What the main thread and the I/O worker share besides the pipes: the
 * control words, the per-connection counters, and the request that opens a
 * connection.
 *
 * @module
 */

import type { Endpoint } from "../net/endpoints.ts";
import type { ResolvedLimits } from "../wire/limits.ts";

/** Int32 indices of the control words, in one `SharedArrayBuffer` per process. */
export const Control = {
  /** Advanced by the worker after every write toward the main thread; the main thread waits on it. */
  Doorbell: 0,
  /** Advanced by the worker every {@linkcode HEARTBEAT_MS}: a still heartbeat is a dead worker. */
  Heartbeat: 1,
  /** Set by the worker when it fails (an uncaught error). */
  Dead: 2,
} as const;

/** Int32 words in the control buffer. */
export const CONTROL_WORDS = 4;

/** How often the worker beats. */
export const HEARTBEAT_MS = 100;

/**
 * How long the heartbeat may stand still before a blocked main thread
 * gives the worker up (generous: a loaded machine delays timers).
 */
export const HEARTBEAT_TIMEOUT_MS = 5_000;

/** Float64 indices of a connection's counters, which the worker keeps current. */
export const Counter = {
  FramesSent: 0,
  FramesReceived: 1,
  BytesSent: 2,
  BytesReceived: 3,
  /** Bytes queued in the worker and not yet written to the network. */
  Buffered: 4,
} as const;

/** Float64 words in a connection's counters. */
export const COUNTER_WORDS = 5;

/** The message that asks the worker to open a connection. Structured-cloneable. */
export interface OpenRequest {
  /** Where to connect. */
  endpoint: Endpoint;
  /** The connection's limits (the worker uses the inbound, outbound and drain ones). */
  limits: ResolvedLimits;
  /** The token to present, if any. */
  token: string | undefined;
  /** The pipe toward the main thread (`SharedPipe.buffer`). */
  toMain: SharedArrayBuffer;
  /** The pipe from the main thread. */
  fromMain: SharedArrayBuffer;
  /** {@linkcode COUNTER_WORDS} Float64 words. */
  counters: SharedArrayBuffer;
}

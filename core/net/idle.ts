/**
 * Closing idle connections: a server's connections with no traffic either
 * way and nothing in flight for `idleTimeout` milliseconds are closed, by one
 * timer per server (not one per connection).
 *
 * @module
 */

import type { Connection } from "../session/connection.ts";

/**
 * `value` as an idle timeout in milliseconds (0 = never).
 *
 * @throws {RangeError} naming `what` unless a finite number from 0 up.
 */
export function checkIdleTimeout(value: number, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `${what}: idleTimeout must be a finite number of milliseconds from 0 up, got ${value}`,
    );
  }
  return value;
}

/** What a connection last looked like, and since when. */
interface Mark {
  framesSent: number;
  framesReceived: number;
  since: number;
}

/**
 * Watches a server's connections and closes the idle ones.
 *
 * Contract: a connection is idle while its frame counters stand still (no
 * frame sent or received: pings count, netrefs held do not) and it has no
 * request pending or being served. The timer looks every quarter of
 * `idleMs`, so an idle connection is closed between `idleMs` and `1.5 ×
 * idleMs` after its last traffic. `stop()` ends the timer; it is idempotent.
 */
export class IdleSweeper {
  readonly #idleMs: number;
  readonly #connections: ReadonlySet<Connection>;
  readonly #onIdle: (connection: Connection) => void;
  readonly #marks = new WeakMap<Connection, Mark>();
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts looking at `connections` (the server's live set); `onIdle` closes one. */
  constructor(
    idleMs: number,
    connections: ReadonlySet<Connection>,
    onIdle: (connection: Connection) => void,
  ) {
    this.#idleMs = idleMs;
    this.#connections = connections;
    this.#onIdle = onIdle;
    this.#timer = setInterval(() => this.#sweep(), Math.max(1, idleMs / 4));
  }

  /** Starts the idle clock of a connection that has just been added. */
  track(connection: Connection): void {
    this.#marks.set(connection, mark(connection, performance.now()));
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    const now = performance.now();
    for (const connection of this.#connections) {
      if (connection.closed) continue;
      const last = this.#marks.get(connection);
      const stats = connection.stats();
      const busy = stats.pendingRequests > 0 || stats.servingRequests > 0;
      if (
        !last || busy || stats.framesSent !== last.framesSent ||
        stats.framesReceived !== last.framesReceived
      ) {
        this.#marks.set(connection, mark(connection, now));
      } else if (now - last.since >= this.#idleMs) {
        this.#onIdle(connection);
      }
    }
  }
}

function mark(connection: Connection, since: number): Mark {
  const { framesSent, framesReceived } = connection.stats();
  return { framesSent, framesReceived, since };
}

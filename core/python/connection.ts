/**
 * The public face of a connection with a Python RPyC peer.
 *
 * @module
 */

import type { PySession, PythonStats } from "./session.ts";
import type { WireVersion } from "./envelope.ts";
import type { CallOptions } from "../session/engine.ts";
import { Question } from "../session/engine.ts";
import { makeProxy } from "../netref/proxy.ts";

/**
 * One connection with a Python RPyC peer (a server this end connected to,
 * or a Python client of `python.serve`).
 *
 * Contract: `close()` is idempotent and never throws. After close, every
 * pending call has rejected with `ConnectionClosedError`, the service's
 * `onDisconnect` has run once, and both reference tables are empty.
 */
export class PythonConnection implements AsyncDisposable {
  /** @internal */
  readonly session: PySession;
  #root: unknown;

  /** Made by `connect*` and `serve`; `root`, when known, is the peer's root netref. */
  constructor(session: PySession, root?: unknown) {
    this.session = session;
    this.#root = root;
  }

  /**
   * The peer's root object (its service; a `SlaveService` for a classic
   * server), as a netref. Fetched on first use when the connection was not
   * opened by this end.
   */
  // deno-lint-ignore no-explicit-any
  get root(): any {
    if (this.#root === undefined) {
      const fetched = Question.of(this.session.fetchRoot());
      this.#root = makeProxy({ engine: this.session, base: fetched, path: [] });
    }
    return this.#root;
  }

  /** The envelope both ends speak: RPyC 5.x or 6.x. */
  get version(): WireVersion {
    return this.session.version;
  }

  /** What the transport is connected to (`tcp 127.0.0.1:18812`). */
  get description(): string {
    return this.session.description;
  }

  /** The object this end offers the peer (its `conn.root`). */
  get service(): object {
    return this.session.rootObject;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.session.closed;
  }

  /** Why the connection closed, once it has. */
  get closeReason(): Error | null {
    return this.session.closeReason;
  }

  /** Resolves once the connection has closed and cleaned up. Never rejects. */
  get finished(): Promise<void> {
    return this.session.finished;
  }

  /** Calls `listener` once with the reason when the connection closes. Dispose to stop. */
  onClose(listener: (reason: Error) => void): Disposable {
    return this.session.onClose(listener);
  }

  /** Sends a PING and resolves with the round-trip time in milliseconds. */
  ping(options?: CallOptions): Promise<number> {
    return this.session.ping(options);
  }

  /** Table sizes and counters. */
  stats(): PythonStats {
    return this.session.stats();
  }

  /** Closes the connection (Python hears a CLOSE); resolves once cleaned up. Idempotent. */
  close(reason?: string): Promise<void> {
    return this.session.close(reason);
  }

  /** `await using conn = …` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

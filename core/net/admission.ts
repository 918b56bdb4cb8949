/**
 * A server's connection limit: a client past it is refused before the rdc
 * handshake (before authentication too), with a CLOSE frame naming the
 * reason, and the server goes on serving the others.
 *
 * @module
 */

import { type Logger, ThrottledLog } from "../log.ts";
import { refuse } from "../wire/handshake.ts";
import type { Incoming } from "./incoming.ts";

/** The reason a full server gives the client it refuses. */
export const TOO_MANY_CONNECTIONS = "too many connections";

/**
 * `value` as a connection limit.
 *
 * @throws {RangeError} naming `what` unless a positive integer.
 */
export function checkMaxConnections(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${what}: maxConnections must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * The slots of one server.
 *
 * Contract: at most `max` slots are held at once; a slot is held from
 * {@linkcode Admission.admit} until its disposal, which is idempotent.
 * Refusals are logged at most once a second, the line after a quiet spell
 * saying how many were left out, so a flood of clients cannot flood the log.
 */
export class Admission {
  readonly #max: number;
  readonly #description: string;
  readonly #log: ThrottledLog;
  #held = 0;

  /** `description` names the server in log lines (`tcp 127.0.0.1:18812`). */
  constructor(max: number, description: string, logger: Logger) {
    this.#max = max;
    this.#description = description;
    this.#log = new ThrottledLog(logger);
  }

  /** Slots held now. */
  get held(): number {
    return this.#held;
  }

  /**
   * A slot for `incoming`, or null once it has been refused (CLOSE with
   * {@linkcode TOO_MANY_CONNECTIONS}, then closed) because every slot is held.
   */
  async admit(incoming: Incoming): Promise<Disposable | null> {
    if (this.#held >= this.#max) {
      this.#log.warn(
        `${this.#description}: refused a connection from ${incoming.peer}: ` +
          `${TOO_MANY_CONNECTIONS} (maxConnections ${this.#max})`,
      );
      await refuse(incoming.transport, TOO_MANY_CONNECTIONS);
      return null;
    }
    this.#held++;
    let released = false;
    return {
      [Symbol.dispose]: () => {
        if (released) return;
        released = true;
        this.#held--;
      },
    };
  }
}

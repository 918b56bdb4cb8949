/**
 * rdc's Python interop (`@rdc/rdc/python`) against Python RPyC's own client,
 * on the same Python classic server (the RPyC peer's): `os.getpid()` through
 * `py.modules.os` beside `conn.modules.os.getpid()` in Python, and how many
 * round trips a classic connect costs.
 *
 * @module
 */

import { python, type PythonClassic } from "../core/python/mod.ts";
import { timeBatch } from "./scenarios.ts";

/** A Deno classic connection to a Python server, for the bench. */
export class PythonInterop implements AsyncDisposable {
  readonly #py: PythonClassic;
  readonly #port: number;

  private constructor(py: PythonClassic, port: number) {
    this.#py = py;
    this.#port = port;
  }

  /** Connects to the Python classic server on `port`, which runs RPyC `rpycVersion` ("5.3.0"). */
  static async open(port: number, rpycVersion: string): Promise<PythonInterop> {
    const version = Number.parseInt(rpycVersion) >= 6 ? 6 : 5;
    return new PythonInterop(await python.classic.connect("127.0.0.1", port, { version }), port);
  }

  /** Microseconds per `py.modules.os.getpid()` (one CALLATTR) over at least `ms`. */
  getpid(ms: number): Promise<number> {
    const os = this.#py.modules.os;
    return timeBatch(() => os.getpid(), ms);
  }

  /**
   * Requests sent until a fresh classic connection is up (the envelope
   * already known for this address): each is one round trip.
   */
  async connectRoundTrips(): Promise<number> {
    await using fresh = await python.classic.connect("127.0.0.1", this.#port, {
      version: this.#py.version,
    });
    return fresh.stats().framesSent;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#py.close();
  }
}

/**
 * A server's registration with a registry, from the moment it listens to its
 * close: what `serve` does with `autoRegister`, whether it serves its
 * connections itself or through a pool.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import {
  type Registrar,
  Registration,
  type RegistrationOptions,
} from "../registry/registration.ts";

/**
 * Registers a server's names once it listens, if it has a registrar.
 *
 * Contract: {@linkcode ServerRegistration.start} is called once, as the
 * server begins listening; `registered` then settles as `Server.registered`
 * says (at once without a registrar). {@linkcode ServerRegistration.stop}
 * withdraws the registration as the server closes and never throws.
 */
export class ServerRegistration {
  /** See `Server.registered`. */
  registered: Promise<void> = Promise.resolve();
  readonly #registrar: Registrar | undefined;
  readonly #names: readonly string[];
  readonly #options: RegistrationOptions;
  readonly #logger: Logger;
  #registration: Registration | undefined;
  #stopped = false;

  /** Prepares to register `names` with `registrar`, if any. */
  constructor(
    registrar: Registrar | undefined,
    names: readonly string[],
    options: RegistrationOptions,
    logger: Logger,
  ) {
    this.#registrar = registrar;
    this.#names = names;
    this.#options = options;
    this.#logger = logger;
  }

  /** Registers once `ready` resolves, on the TCP port `port()` then gives. */
  start(ready: Promise<void>, port: () => number): void {
    const registrar = this.#registrar;
    this.registered = ready.then(() => {
      if (!registrar) return;
      if (this.#stopped) throw new Error("the server closed before it registered");
      this.#registration = new Registration(
        registrar,
        this.#names,
        port(),
        this.#options,
        this.#logger,
      );
      return this.#registration.registered;
    });
    this.registered.catch(() => {}); // Awaiting it is optional.
  }

  /** Stops registering and withdraws the registration. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#registration?.stop();
  }
}

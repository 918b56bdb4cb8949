/**
 * A module worker for the bench's Worker scenario (`../transports.ts`):
 * serves {@linkcode AddService} to the thread that started it, with
 * `serveParent`.
 *
 * @module
 */

import { serveParent, Service } from "../../mod.ts";

/** The small service the bench calls in the worker. */
export class AddService extends Service {
  /** The plain call. */
  exposed_add(a: number, b: number): number {
    return a + b;
  }
}

await serveParent(AddService, { logger: () => {} });

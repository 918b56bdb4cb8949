/**
 * A module worker for the bench's Worker baseline (`../transports.ts`):
 * posts every message it gets straight back, as it came.
 *
 * @module
 */

/** The worker's global scope, as far as this module uses it. */
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (event) => scope.postMessage(event.data);

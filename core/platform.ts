/**
 * What differs between the runtimes rdc's core runs on (Deno, a browser, a
 * Worker): looked up once here, so the rest of the core uses only what every
 * one of them has. Nothing in this file may name `Deno` directly: the
 * browser entry (web.ts) reaches it.
 *
 * @module
 */

/** The one Deno call the core makes where a browser has no equivalent. */
interface UnrefRuntime {
  unrefTimer(id: Timer): void;
}

/** A timer's id, as `setTimeout` and `setInterval` return it. */
type Timer = ReturnType<typeof setTimeout>;

const runtime = (globalThis as { Deno?: Partial<UnrefRuntime> }).Deno;

/**
 * Lets the process exit while `timer` is still armed, where the runtime can
 * (Deno's `unrefTimer`); elsewhere (a browser, where timers never keep
 * anything alive) it does nothing. Timers of pending requests, batched
 * housekeeping and stall watchdogs use it: the socket, not a timer, is what
 * keeps a process running.
 */
export function unrefTimer(timer: Timer): void {
  runtime?.unrefTimer?.(timer);
}

/** V8's `Error.captureStackTrace`: Deno, Node and Chromium have it, Firefox does not. */
type CaptureStackTrace = (target: object, above?: (...args: never[]) => unknown) => void;

const captureStackTrace = (Error as { captureStackTrace?: CaptureStackTrace }).captureStackTrace;

/**
 * Sets `target.stack` to the stack at the call, without the frames of
 * `above` and what it called, where the runtime can (V8); elsewhere it
 * leaves `target` as it is.
 */
export function captureStack(target: object, above: (...args: never[]) => unknown): void {
  captureStackTrace?.(target, above);
}

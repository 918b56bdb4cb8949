/**
 * The `beforeClose` hook (RPyC's `before_closed`): last calls to the peer
 * while the connection that this end is closing still works.
 *
 * @module
 */

import { isThenable } from "../wire/thenable.ts";

/** The hook: it gets the peer's root, as a netref of the connection's mode. */
// deno-lint-ignore no-explicit-any
export type BeforeClose = (root: any) => void | Promise<void>;

/**
 * Runs `hook` with `root`. Returns null when it is done (it returned no
 * promise, or threw), else a promise that resolves when it settles or
 * `timeout` ms pass (0: no limit), whichever comes first. Never rejects:
 * what the hook throws goes to `report`. With `driven` (a synchronous
 * connection, which cannot wait), a promise it returns is not waited for,
 * and `report` hears why.
 */
export function runBeforeClose(
  hook: BeforeClose,
  root: unknown,
  driven: boolean,
  timeout: number,
  report: (message: string) => void,
): Promise<void> | null {
  let running: void | Promise<void>;
  try {
    running = hook(root);
  } catch (error) {
    report(`beforeClose threw: ${error}`);
    return null;
  }
  if (!isThenable(running)) return null;
  const settled = Promise.resolve(running).catch((error) => {
    report(`beforeClose threw: ${error}`);
  });
  if (driven) {
    report(
      "beforeClose returned a promise, which a synchronous connection cannot wait for: " +
        "closing now",
    );
    return null;
  }
  if (timeout <= 0) return settled;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      report(`beforeClose did not finish within ${timeout} ms: closing anyway`);
      resolve();
    }, timeout);
  });
  return Promise.race([settled, expired]).finally(() => clearTimeout(timer));
}

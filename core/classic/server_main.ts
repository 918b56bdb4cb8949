/**
 * A classic server on stdin/stdout: the child that `classic.connectSubprocess()`
 * starts by default. It exits when its peer closes the connection.
 *
 * @module
 */

import { serveStdio } from "./connect.ts";

if (import.meta.main) {
  const conn = await serveStdio();
  await conn.finished;
  // Whatever the peer left running (timers, servers) ends with it.
  Deno.exit(0);
}

/**
 * A classic server on stdin/stdout: the child that `classic.connectSubprocess()`
 * starts by default. It exits when its peer closes the connection.
 *
 * @module
 */

import { serveStdio } from "./connect.ts";

if (import.meta.main) {
  try {
    const conn = await serveStdio();
    await conn.finished;
  } catch (error) {
    // A peer that fails the handshake: one line for whoever reads our stderr.
    console.error(`rdc classic (stdio): ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  // Whatever the peer left running (timers, servers) ends with it.
  Deno.exit(0);
}

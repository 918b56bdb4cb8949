/**
 * A classic pool worker (see `classic.servePool`): serves classic mode to
 * many connections at once on the unix socket named by its argument, prints
 * `rdc-pool-ready` on stdout once it listens, and exits when its stdin ends
 * (the pool's process is gone) or on SIGTERM.
 *
 * @module
 */

import { serve } from "./connect.ts";

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined) {
    console.error("rdc classic (pool worker): the unix socket's path is missing");
    Deno.exit(2);
  }
  const server = serve({ path });
  await server.ready;
  console.log("rdc-pool-ready");
  const stop = () => void server.close();
  Deno.addSignalListener("SIGTERM", stop);
  void (async () => {
    for await (const _ of Deno.stdin.readable) {
      // Nothing is sent here: the end of the stream is the message.
    }
    stop();
  })();
  await server.finished;
  // Whatever clients left running (timers, servers) ends with the worker.
  Deno.exit(0);
}

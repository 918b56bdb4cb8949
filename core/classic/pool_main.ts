/**
 * A classic pool worker (see `classic.servePool`): serves classic mode to
 * many connections at once on the unix socket named by its argument, prints
 * a ready line on stdout once it listens, and exits when its stdin ends
 * (the pool's process is gone) or on SIGTERM.
 *
 * @module
 */

import { serve } from "./connect.ts";
import { attendPool } from "../net/pool_member.ts";

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined) {
    console.error("rdc classic (pool worker): the unix socket's path is missing");
    Deno.exit(2);
  }
  attendPool(serve({ path }));
}

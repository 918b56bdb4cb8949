/**
 * The page's script (bundled by serve.ts with `deno bundle --platform
 * browser`): it connects back to the server that sent the page and uses its
 * service as if it were local. In your own project, import from
 * `@rdc/rdc/web` instead of `../../web.ts`.
 *
 * @module
 */

import { connectWebSocket, type Remote } from "../../web.ts";
import type { DemoService } from "./serve.ts";

/** Runs the demo against the page's own server, telling each step to `print`. */
export async function demo(print: (line: string) => void): Promise<void> {
  // A relative URL: the page's own server, over wss when the page came over https.
  await using conn = await connectWebSocket("/rdc");
  const demo = conn.root as Remote<DemoService>;

  print(`2 + 3 = ${await demo.add(2, 3)}`);

  // The server calls this function back, here in the page, at each tick.
  const said = await demo.countdown(3, (n) => print(`tick ${n}`));
  print(said);

  try {
    await demo.divide(1, 0);
  } catch (error) {
    // A remote RangeError arrives as a RangeError, with the server's message.
    print(`the server threw ${(error as Error).name}: ${(error as Error).message}`);
  }
}

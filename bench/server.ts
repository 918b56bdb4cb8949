/**
 * The bench's server process: an rdc server offering {@linkcode BenchService}
 * and a raw TCP ping-pong server (`raw.ts`), both on free loopback ports.
 *
 * Started by `child.ts` as a separate Deno process so that client and server
 * do not share an event loop, as in real use. It prints one JSON line,
 * `{"rdc": port, "raw": port}`, then serves until its stdin closes, and then
 * shuts down cleanly (so `--cpu-prof` can write its profile).
 *
 * @module
 */

import { type Connection, serve, Service, type ServiceConnection } from "../mod.ts";
import { serveRaw } from "./raw.ts";

/** The end of a chain of nested exposed objects: `root.a.b.c(x)`. */
class Leaf {
  exposed_c(x: number): number {
    return x + 1;
  }
}

/** The middle of the chain. */
class Middle {
  exposed_b = new Leaf();
}

/** What the bench calls. */
export class BenchService extends Service {
  #conn: Connection | null = null;

  /** The head of the chain `root.a.b.c(x)`. */
  exposed_a = new Middle();

  override onConnect(conn: ServiceConnection): void {
    this.#conn = conn as Connection;
  }

  /** The plain call. */
  exposed_add(a: number, b: number): number {
    return a + b;
  }

  /** For pipelining: `inc(inc(inc(1)))`. */
  exposed_inc(x: number): number {
    return x + 1;
  }

  /** Calls back into the client. */
  async exposed_callback(fn: (x: number) => Promise<number>): Promise<number> {
    return await fn(1);
  }

  /** This end's table sizes and counters, to spot leaks after a run. */
  exposed_stats(): Record<string, number> {
    return { ...this.#conn!.stats() };
  }
}

if (import.meta.main) {
  const server = serve(BenchService, { port: 0 });
  const rawListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const raw = serveRaw(rawListener);
  const ports = {
    rdc: (server.addr as Deno.NetAddr).port,
    raw: (rawListener.addr as Deno.NetAddr).port,
  };
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(ports) + "\n"));
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent on stdin; its end is the signal to stop.
  }
  rawListener.close();
  await raw;
  await server.close();
}

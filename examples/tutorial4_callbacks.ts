/**
 * Tutorial 4, callbacks (RPyC's tut4): the protocol is symmetric, so the
 * server can call functions that live in the client.
 *
 * It shows:
 * - a server-side `map(fn, items)` that calls a client function for each item;
 * - a timer: the server keeps a client function and calls it back a few times
 *   after the call that handed it over has returned;
 * - a nested call: a callback that itself calls the server while the server
 *   waits for it (no serving thread needed, unlike RPyC's BgServingThread);
 * - the client's own service, which the server reaches as `conn.root`;
 * - a callback that throws: the error travels to the server and back.
 *
 * Run it all in one process:
 *
 * ```sh
 * deno run --allow-net examples/tutorial4_callbacks.ts
 * ```
 *
 * Or in two terminals:
 *
 * ```sh
 * deno run --allow-net examples/tutorial4_callbacks.ts --serve 18861
 * deno run --allow-net examples/tutorial4_callbacks.ts --connect 127.0.0.1:18861
 * ```
 *
 * @module
 */

import {
  connect,
  type Remote,
  RemoteError,
  serve,
  Service,
  type ServiceConnection,
} from "../mod.ts";
import { parseCommandLine, serveUntilInterrupted } from "./_cli.ts";

/** The server. Callbacks arrive as netrefs: calling one sends a request to the client. */
export class CallbackService extends Service {
  #client: ServiceConnection | null = null;
  #timers = new Set<ReturnType<typeof setInterval>>();

  override onConnect(conn: ServiceConnection): void {
    // Keep the connection: `conn.root` is the client's own service.
    this.#client = conn;
  }

  override onDisconnect(): void {
    // The client's callbacks are gone with it; stop calling them.
    for (const timer of this.#timers) clearInterval(timer);
  }

  /** Calls `fn` on every item. All calls are sent at once, then awaited together. */
  async exposed_map<T, R>(fn: (item: T) => R | Promise<R>, items: T[]): Promise<R[]> {
    return await Promise.all(items.map((item) => fn(item)));
  }

  /** Calls `fn` on every item, reporting failures instead of failing. */
  async exposed_tryEach<T>(fn: (item: T) => unknown, items: T[]): Promise<string[]> {
    const report: string[] = [];
    for (const item of items) {
      try {
        report.push(`${item}: ok, ${await fn(item)}`);
      } catch (error) {
        // A client-side throw arrives here as a RemoteError.
        report.push(
          `${item}: failed, ${(error as Error).message} (remote: ${error instanceof RemoteError})`,
        );
      }
    }
    return report;
  }

  /** Calls `onTick(1..count)` every `ms` milliseconds; returns at once. */
  exposed_startTimer(ms: number, count: number, onTick: (tick: number) => unknown): void {
    let tick = 0;
    const timer = setInterval(async () => {
      tick++;
      if (tick === count) {
        clearInterval(timer);
        this.#timers.delete(timer);
      }
      try {
        const reply = await onTick(tick);
        console.log(`server: tick ${tick} acknowledged with ${JSON.stringify(reply)}`);
      } catch (error) {
        console.log(`server: tick ${tick} failed: ${error}`);
      }
    }, ms);
    this.#timers.add(timer);
  }

  /** Used by the nested-call demo: the client calls it from inside a callback. */
  exposed_square(x: number): number {
    return x * x;
  }

  /** Reports progress through the client's own service while it works. */
  async exposed_process(steps: number): Promise<string> {
    // `root` is typed unknown here; Remote<T> gives the netref the client service's shape.
    const client = this.#client!.root as Remote<ClientService>;
    for (let step = 1; step <= steps; step++) {
      await client.progress(Math.round((step / steps) * 100));
    }
    return `processed ${steps} steps`;
  }
}

/** The client's service: what the server may call without being handed a function. */
export class ClientService extends Service {
  exposed_progress(percent: number): void {
    console.log(`client: progress ${percent}%`);
  }
}

/** The client side of the tutorial. */
export async function runClient(host: string, port: number): Promise<void> {
  // Offering a service makes `conn.root` on the server side useful.
  await using conn = await connect(host, port, { service: ClientService });

  // 1. A local function passed to the server, called there once per item.
  const squares = await conn.root.map((x: number) => {
    console.log(`client: map callback got ${x}`);
    return x * x;
  }, [1, 2, 3]);
  console.log(`client: map -> ${JSON.stringify(squares)}`);

  // 2. A timer: the server calls us back after startTimer() has returned.
  const { promise: lastTick, resolve } = Promise.withResolvers<void>();
  await conn.root.startTimer(50, 3, (tick: number) => {
    console.log(`client: tick ${tick} from the server`);
    if (tick === 3) resolve();
    return `ack ${tick}`;
  });
  console.log("client: startTimer returned; waiting for ticks");
  await lastTick;

  // 3. Nested: our callback calls the server while the server awaits the callback.
  const nested = await conn.root.map((x: number) => conn.root.square(x + 1), [1, 2, 3]);
  console.log(`client: nested map -> ${JSON.stringify(nested)}`);

  // 4. The server calls our service (conn.root on its side).
  console.log(`client: ${await conn.root.process(4)}`);

  // 5. A callback that throws. The server may catch the error...
  const failOnOdd = (x: number) => {
    if (x % 2 === 1) throw new RangeError(`${x} is odd`);
    return "even";
  };
  for (const line of await conn.root.tryEach(failOnOdd, [1, 2, 3])) {
    console.log(`client: tryEach ${line}`);
  }
  // ...or let it propagate: it comes back to us, through the server, as a RemoteError.
  try {
    await conn.root.map(failOnOdd, [2, 3]);
  } catch (error) {
    const err = error as Error;
    console.log(
      `client: map failed with ${err.name}: ${err.message} ` +
        `(RemoteError: ${err instanceof RemoteError}, RangeError: ${err instanceof RangeError})`,
    );
  }
}

async function main(): Promise<void> {
  const command = parseCommandLine();
  if (command.mode === "serve") {
    const server = serve(CallbackService, { hostname: command.hostname, port: command.port });
    await serveUntilInterrupted(server, "CallbackService");
    return;
  }

  if (command.mode === "connect") {
    await runClient(command.host, command.port);
    return;
  }

  // Default: both ends in this process, over real loopback TCP.
  await using server = serve(CallbackService, { port: 0 });
  await runClient("127.0.0.1", (server.addr as Deno.NetAddr).port);
  await server.close();
  console.log("done");
}

if (import.meta.main) await main();

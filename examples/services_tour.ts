/**
 * A tour of services (the core API, without classic mode): it starts a
 * service in this process, connects to it over loopback TCP and walks through
 * what rdc does, printing a short report of each step.
 *
 * ```sh
 * deno run --allow-net examples/services_tour.ts
 * ```
 *
 * Steps: a call; a pipelined chain; a callback from the server; a remote
 * object (netref) and how it prints; `obtain`; a remote error with its remote
 * stack; a `timed` call that times out; `conn.stats()`.
 *
 * @module
 */

import {
  connect,
  currentCall,
  isRemote,
  obtain,
  ref,
  RemoteError,
  serve,
  Service,
  timed,
  TimeoutError,
} from "../mod.ts";

/** A remote object: instances of classes travel by reference. */
class Account {
  #owner: string;
  #balance = 0;

  constructor(owner: string) {
    this.#owner = owner;
  }

  exposed_deposit(amount: number): Account {
    this.#balance += amount;
    return this; // returning `this` lets the client chain calls
  }

  exposed_withdraw(amount: number): Account {
    if (amount > this.#balance) {
      throw new RangeError(`${this.#owner} cannot withdraw ${amount}: balance is ${this.#balance}`);
    }
    this.#balance -= amount;
    return this;
  }

  get exposed_balance(): number {
    return this.#balance;
  }
}

/** The demo server. */
class BankService extends Service {
  #accounts = new Map<string, Account>();
  #settings = { currency: "EUR", fees: { transfer: 0.5 }, openedAt: new Date(0) };

  exposed_add(a: number, b: number): number {
    return a + b;
  }

  exposed_open(owner: string): Account {
    let account = this.#accounts.get(owner);
    if (!account) this.#accounts.set(owner, account = new Account(owner));
    return account;
  }

  /** Calls the client's `notify` for each event. */
  async exposed_replay(events: string[], notify: (event: string) => unknown): Promise<number> {
    for (const event of events) await notify(event);
    return events.length;
  }

  /** Plain data would be copied anyway; `ref` hands out a live reference instead. */
  exposed_settings(): unknown {
    return ref(this.#settings);
  }

  /** Waits `ms`, unless the caller gives up first (its timeout aborts our signal). */
  async exposed_sleep(ms: number): Promise<string> {
    const { signal } = currentCall(); // read before the first await
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        console.log(`   (server: sleep(${ms}) abandoned: ${signal.reason.name})`);
        resolve();
      });
    });
    return "awake";
  }
}

function step(title: string): void {
  console.log(`\n== ${title}`);
}

function show(label: string, value: unknown): void {
  const text = typeof value === "string"
    ? value
    : Deno.inspect(value, { compact: true, breakLength: Infinity });
  console.log(`   ${label.padEnd(28)} ${text}`);
}

await using server = serve(BankService, { port: 0 });
const { port } = server.addr as Deno.NetAddr;
await using conn = await connect("127.0.0.1", port);
console.log(`services tour: connected to the "${conn.peerService}" service at ${conn.description}`);

step("1. A call");
show("await conn.root.add(1, 2)", await conn.root.add(1, 2));

step("2. A pipelined chain");
// Each call is sent at once; calls on an un-awaited answer are pipelined, so the
// whole chain waits for one round trip, not four.
const before = conn.stats().framesSent;
const started = performance.now();
const balance = await conn.root.open("ada").deposit(100).withdraw(30).balance;
show("open().deposit().withdraw()", `balance ${balance}`);
const elapsed = (performance.now() - started).toFixed(2);
show("requests sent", `${conn.stats().framesSent - before}, in one round trip (${elapsed} ms)`);

step("3. A callback from the server");
const count = await conn.root.replay(["opened", "deposit", "withdraw"], (event: string) => {
  console.log(`   client callback got "${event}"`);
});
show("replay() returned", count);

step("4. A remote object (netref)");
const account = await conn.root.open("ada");
show("Deno.inspect(account)", Deno.inspect(account));
show("isRemote(account)", isRemote(account));
show("await account.balance", await account.balance);
show("isRemote(await …balance)", isRemote(await account.balance)); // numbers are copied

step("5. obtain: a netref becomes a local copy");
const settings = await conn.root.settings();
show("settings", Deno.inspect(settings));
show("await settings.currency", await settings.currency);
show("await obtain(settings)", await obtain(settings));

step("6. A remote error, with its remote stack");
try {
  await account.withdraw(1000);
} catch (error) {
  const err = error as RemoteError;
  show("error", `${err.name}: ${err.message}`);
  show("instanceof RemoteError", err instanceof RemoteError);
  show("instanceof RangeError", err instanceof RangeError);
  console.log("   remote stack (first frames):");
  for (const line of err.remoteStack.split("\n").slice(1, 3)) console.log(`     ${line.trim()}`);
}

step("7. timed: a call with its own timeout");
const t0 = performance.now();
try {
  await timed(conn.root.sleep, 100)(5000);
} catch (error) {
  show(
    "timed(sleep, 100)(5000)",
    `${(error as Error).name} after ${Math.round(performance.now() - t0)} ms`,
  );
  show("instanceof TimeoutError", error instanceof TimeoutError);
}
show("still usable: add(2, 2)", await conn.root.add(2, 2));

step("8. conn.stats()");
const imports = conn.stats().imports;
account[Symbol.dispose](); // release the netref now rather than at garbage collection
show("imports after a dispose", `${imports} -> ${conn.stats().imports}`);
for (const [name, value] of Object.entries(conn.stats())) show(name, value);

await conn.close();
await server.close();
console.log("\ntour finished");

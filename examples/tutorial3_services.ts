/**
 * Tutorial 3, services (RPyC's tut3): a service decides what clients may
 * reach.
 *
 * It shows:
 * - exposed methods (`exposed_` prefix or the `@exposed` decorator) and an
 *   exposed attribute; a member that is not exposed is refused (`AccessError`);
 * - an exposed class that clients may construct remotely (`allowConstruct`);
 * - `serve(MyService, …)` makes one service instance per connection, so each
 *   client has its own state (shown with two clients);
 * - `onConnect` / `onDisconnect` on the server;
 * - a one-shot server (RPyC's `OneShotServer`): it serves one client, then closes.
 *
 * Run it all in one process:
 *
 * ```sh
 * deno run --allow-net examples/tutorial3_services.ts
 * ```
 *
 * Or in two terminals:
 *
 * ```sh
 * deno run --allow-net examples/tutorial3_services.ts --serve 18861
 * deno run --allow-net examples/tutorial3_services.ts --connect 127.0.0.1:18861
 * ```
 *
 * @module
 */

import { AccessError, connect, exposed, serve, Service } from "../mod.ts";
import { parseCommandLine, serveUntilInterrupted } from "./_cli.ts";

/** A class the service exposes: clients may say `new conn.root.Counter(10)`. */
export class Counter {
  #value: number;

  constructor(start = 0) {
    this.#value = start;
  }

  exposed_increment(by = 1): number {
    return this.#value += by;
  }

  get exposed_value(): number {
    return this.#value;
  }
}

/**
 * RPyC's `MyService`. Its name, seen by clients as `conn.peerService`, is
 * the class name without "Service": "My".
 */
export class MyService extends Service {
  static #clientsSoFar = 0;

  // Per-connection state: `serve(MyService, …)` makes a new instance per client.
  #client = 0;
  #notes: string[] = [];

  override onConnect(): void {
    this.#client = ++MyService.#clientsSoFar;
    console.log(`server: client #${this.#client} connected`);
  }

  override onDisconnect(): void {
    console.log(
      `server: client #${this.#client} disconnected, it left ${this.#notes.length} notes`,
    );
  }

  /** Reachable as `getAnswer` (the prefix is optional for the client). */
  exposed_getAnswer(): number {
    return 42;
  }

  /** An exposed attribute: clients read it with `await conn.root.theRealAnswerThough`. */
  exposed_theRealAnswerThough = 43;

  /** Not exposed: a client asking for it gets an AccessError. */
  getQuestion(): string {
    return "what is the airspeed velocity of an unladen swallow?";
  }

  /** The decorator is the other way to expose a member. */
  @exposed
  whoAmI(): string {
    return `client #${this.#client}`;
  }

  /** Adds a note to this client's list and returns the list. */
  exposed_remember(note: string): string[] {
    this.#notes.push(note);
    return this.#notes;
  }

  /** An exposed class; constructing it needs the server's `allowConstruct`. */
  exposed_Counter = Counter;
}

/** What a client does; run twice at once to show per-connection state. */
export async function runClients(host: string, port: number): Promise<void> {
  // Two clients on two connections, each served by its own MyService instance.
  await using alice = await connect(host, port);
  await using bob = await connect(host, port);
  console.log(`client: connected to the "${alice.peerService}" service`);

  console.log(`client: getAnswer() = ${await alice.root.getAnswer()}`);
  console.log(`client: exposed_getAnswer() = ${await alice.root.exposed_getAnswer()}`);
  console.log(`client: theRealAnswerThough = ${await alice.root.theRealAnswerThough}`);
  try {
    await alice.root.getQuestion();
  } catch (error) {
    console.log(`client: getQuestion() refused: ${error instanceof AccessError} (${error})`);
  }

  console.log(`client: alice.whoAmI() = ${await alice.root.whoAmI()}`);
  console.log(`client: bob.whoAmI() = ${await bob.root.whoAmI()}`);
  await alice.root.remember("buy milk");
  await alice.root.remember("call mom");
  await bob.root.remember("water plants");
  console.log(
    `client: alice's notes = ${JSON.stringify(await alice.root.remember("read rdc docs"))}`,
  );
  console.log(`client: bob's notes = ${JSON.stringify(await bob.root.remember("feed cat"))}`);

  // `new` on a netref to a class builds the object on the server; we get a netref to it.
  const counter = new alice.root.Counter(10);
  counter.increment(); // sent at once, even without await
  console.log(`client: ${await counter} counts ${await counter.increment(5)}`);
  console.log(`client: its value is ${await counter.value}`);
}

/** A one-shot server: serves the first client, then closes itself. */
async function oneShotDemo(): Promise<void> {
  const server = serve(MyService, { port: 0, oneShot: true });
  const { port } = server.addr as Deno.NetAddr;
  {
    await using conn = await connect("127.0.0.1", port);
    console.log(`client: one-shot server answers ${await conn.root.getAnswer()}`);
  }
  await server.finished; // resolves once its only client has gone
  console.log("client: the one-shot server has closed");
  try {
    await connect("127.0.0.1", port);
  } catch (error) {
    console.log(`client: a second client is refused (${(error as Error).name})`);
  }
}

async function main(): Promise<void> {
  const command = parseCommandLine();
  if (command.mode === "serve") {
    const server = serve(MyService, {
      hostname: command.hostname,
      port: command.port,
      allowConstruct: true,
    });
    await serveUntilInterrupted(server, "MyService");
    return;
  }

  if (command.mode === "connect") {
    await runClients(command.host, command.port);
    return;
  }

  // Default: a server in this process, two clients, then a one-shot server.
  await using server = serve(MyService, { port: 0, allowConstruct: true });
  await runClients("127.0.0.1", (server.addr as Deno.NetAddr).port);
  await server.close(); // runs onDisconnect for any connection still open
  console.log("\n-- one-shot server --");
  await oneShotDemo();
  console.log("done");
}

if (import.meta.main) await main();

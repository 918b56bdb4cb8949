/**
 * Registry and discovery (RPyC's `rpyc_registry` and `connect_by_service`):
 * servers announce their service to a registry, and clients find them by
 * name instead of by address.
 *
 * This runs it all in one process, on loopback: a UDP registry on a free
 * port, two servers of a `Greeter` service that register with it, then a
 * client that discovers them, connects by name, stops the server it got and
 * connects by name again.
 *
 * ```sh
 * deno run --allow-net examples/registry.ts
 * ```
 *
 * Across machines, run `rdc registry --host 0.0.0.0` on one and leave the
 * registry's host out: servers and clients then broadcast to find it.
 *
 * @module
 */

import {
  connectByService,
  discover,
  listServices,
  RegistryClient,
  serve,
  serveRegistry,
  Service,
} from "../mod.ts";

/** A service whose servers say which one answered. Its name is "Greeter". */
export class GreeterService extends Service {
  constructor(readonly label: string) {
    super();
  }

  /** Reached by clients as `conn.root.greet(...)`. */
  exposed_greet(name: string): string {
    return `hello ${name}, from ${this.label}`;
  }
}

async function main(): Promise<void> {
  await using registry = await serveRegistry({ port: 0, allowListing: true });
  console.log(`registry: udp 127.0.0.1:${registry.addr.port}`);
  // Here everything is on loopback, so servers and clients are told where the registry is.
  const registrar = new RegistryClient({ host: "127.0.0.1", port: registry.addr.port });

  // Each server registers its service's names, and keeps them registered until it closes.
  const servers = new Map([
    ["server A", serve(new GreeterService("server A"), { port: 0, registrar })],
    ["server B", serve(new GreeterService("server B"), { port: 0, registrar })],
  ]);
  // Registering runs in the background: wait until the registry has both.
  await Promise.all([...servers.values()].map((server) => server.registered));
  const found = await discover("Greeter", { registrar });
  console.log(`found ${found.length} Greeter servers: ${found.map((s) => s.port).join(", ")}`);
  console.log(`services listed: ${(await listServices({ registrar })).join(", ")}`);

  let answered: string;
  {
    await using conn = await connectByService("Greeter", { registrar });
    const greeting: string = await conn.root.greet("client");
    console.log(greeting);
    answered = greeting.slice(greeting.indexOf("server"));
  }

  // A server that closes unregisters: clients are sent to the other one.
  await servers.get(answered)!.close();
  servers.delete(answered);
  console.log(`${answered} stopped; ${(await discover("Greeter", { registrar })).length} left`);
  {
    await using conn = await connectByService("Greeter", { registrar });
    console.log(await conn.root.greet("client"));
  }

  for (const server of servers.values()) await server.close();
  console.log("done");
}

if (import.meta.main) await main();

/**
 * A server that registers `Echo` on etcd with a 2 s lease, for the test that
 * kills it: `deno run -A tests/etcd_fixture_server.ts URL PREFIX`. Prints its
 * port once registered.
 */

import { etcdRegistrar, serve, Service } from "../mod.ts";

class EchoService extends Service {
  static override aliases = ["Echo"];
  exposed_echo(text: string): string {
    return text;
  }
}

const [url, prefix] = Deno.args;
const server = serve(EchoService, {
  port: 0,
  registrar: etcdRegistrar({ url: url!, prefix, ttl: 2 }),
  logger: () => {},
});
await server.registered;
console.log(`registered ${(server.addr as Deno.NetAddr).port}`);
await server.finished;

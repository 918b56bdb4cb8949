/**
 * rdc and Python RPyC sharing a Python `rpyc_registry` (UDP and TCP, RPyC's
 * brine protocol): rdc's RegistryClient discovers Python servers, and Python
 * clients discover Deno servers registered there.
 */

import assert from "node:assert/strict";
import { python, RegistryClient } from "../core/python/mod.ts";
import { discover, listServices, serve, Service } from "../mod.ts";
import { pythonTest, runPython, startPeer, startPython } from "./_python.ts";
import { quietLogger, waitFor } from "./_helpers.ts";

pythonTest("a Python rpyc_registry between Deno and Python", async (t, v) => {
  await using registry = await startPython(v, "registry.py");
  const [udp, tcp] = registry.ports;
  await using peer = await startPeer(v);
  const registries = {
    UDP: new RegistryClient({ host: "127.0.0.1", port: udp, protocol: "rpyc" }),
    TCP: new RegistryClient({ host: "127.0.0.1", port: tcp, mode: "TCP", protocol: "rpyc" }),
  };

  await t.step("Deno finds a Python server", async () => {
    for (const [mode, registrar] of Object.entries(registries)) {
      await registrar.register(["PyCalc"], peer.service);
      assert.deepEqual(await discover("pycalc", { registrar }), [
        { host: "127.0.0.1", port: peer.service },
      ], mode);
      assert.ok((await listServices({ registrar })).includes("PYCALC"), mode);
      await using conn = await python.connectByService("PyCalc", { registrar });
      assert.equal(await conn.root.add(2, 3), 5);
      await registrar.unregister(peer.service);
      assert.deepEqual(await registrar.discover("PyCalc"), [], mode);
    }
  });

  await t.step("Python finds a Deno server", async () => {
    class AdderService {
      exposed_add(a: number, b: number): number {
        return a + b;
      }
    }
    for (const [mode, registrar] of Object.entries(registries)) {
      await using server = python.serve(AdderService, {
        port: 0,
        registrar,
        logger: quietLogger(),
      });
      await waitFor(async () => (await registrar.discover("Adder")).length > 0);
      const client = mode === "UDP"
        ? `UDPRegistryClient(ip="127.0.0.1", port=${udp})`
        : `TCPRegistryClient(ip="127.0.0.1", port=${tcp})`;
      const out = await runPython(
        v,
        [
          "import rpyc",
          "from rpyc.utils.registry import UDPRegistryClient, TCPRegistryClient",
          `registrar = ${client}`,
          "print(rpyc.discover('ADDER', registrar=registrar))",
          "print(rpyc.connect_by_service('ADDER', registrar=registrar).root.add(20, 22))",
        ].join("\n"),
      );
      const port = (server.addr as Deno.NetAddr).port;
      assert.equal(out.trim(), `(('127.0.0.1', ${port}),)\n42`, mode);
    }
  });

  await t.step("rdc's own servers register there too", async () => {
    class EchoService extends Service {
      exposed_echo(x: unknown): unknown {
        return x;
      }
    }
    await using server = serve(EchoService, {
      port: 0,
      registrar: registries.UDP,
      logger: quietLogger(),
    });
    await waitFor(async () => (await registries.UDP.discover("Echo")).length > 0);
    const out = await runPython(
      v,
      "import rpyc\nfrom rpyc.utils.registry import UDPRegistryClient\n" +
        `print(rpyc.discover('ECHO', registrar=UDPRegistryClient(ip="127.0.0.1", port=${udp})))`,
    );
    assert.equal(out.trim(), `(('127.0.0.1', ${(server.addr as Deno.NetAddr).port}),)`);
  });
});

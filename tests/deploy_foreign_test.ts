/**
 * A host of another architecture without Deno gets Deno's official build
 * for it, fetched through npm (same version as the local Deno), cached
 * locally by version and platform, and uploaded: an "aarch64 host" here is
 * a throw-away sshd whose `uname -m` says aarch64, its programs run by
 * qemu-user through binfmt_misc (Debian's qemu-user-static, with the arm64
 * C library of libc6-arm64-cross, which .ci/run installs and registers).
 * Without qemu the deployment is checked up to the exec: the shipped
 * runtime is an aarch64 executable, and the host's refusal to run it is a
 * clear error.
 */

import assert from "node:assert/strict";
import { DeployedServer, DeployError, SshMachine } from "../deploy/mod.ts";
import { localCacheDir } from "../deploy/local_cache.ts";
import { fileExists as exists, rejection } from "./_helpers.ts";
import { Sshd, sshdTest } from "./_sshd.ts";

/** Where Debian's libc6-arm64-cross puts the arm64 C library (qemu-user's QEMU_LD_PREFIX). */
const ARM64_ROOT = "/usr/aarch64-linux-gnu";
const IN_CI = Deno.env.get("CI") === "true";

/** Whether qemu-user for aarch64 and the arm64 C library are installed (the tools). */
const HAS_QEMU = exists("/usr/bin/qemu-aarch64-static") &&
  exists(`${ARM64_ROOT}/lib/ld-linux-aarch64.so.1`);
/**
 * Whether the kernel runs aarch64 programs through qemu-user: registering
 * it with binfmt_misc takes a privilege a container may not have (the
 * issue's words: "if … binfmt work on this machine").
 */
const RUNS_AARCH64 = HAS_QEMU && exists("/proc/sys/fs/binfmt_misc/qemu-aarch64");

/** The ELF machine of the gzip-compressed executable `file` (0xb7: aarch64, 0x3e: x86-64). */
async function elfMachine(file: string): Promise<number> {
  using source = await Deno.open(file);
  const reader = source.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
  const { value } = await reader.read();
  await reader.cancel();
  assert.deepEqual([...value!.slice(0, 4)], [0x7f, 0x45, 0x4c, 0x46], "an ELF executable");
  return new DataView(value!.buffer, value!.byteOffset).getUint16(18, true);
}

sshdTest(
  "a host of another architecture gets Deno's build for it, fetched through npm",
  async () => {
    if (!HAS_QEMU && IN_CI) {
      assert.fail("qemu-user-static and libc6-arm64-cross are required (CI=true)");
    }
    if (!RUNS_AARCH64) {
      console.warn(
        HAS_QEMU
          ? "qemu-aarch64 is not registered with binfmt_misc (the kernel or the container " +
            "refused it; see .ci/run): checking the deployment up to the exec only"
          : "no qemu-user for aarch64 (apt-get install qemu-user-static libc6-arm64-cross): " +
            "checking the deployment up to the exec only",
      );
    }
    const uname = await Deno.makeTempFile({ prefix: "rdc_fake_uname_" });
    try {
      await Deno.writeTextFile(
        uname,
        '#!/bin/sh\nif [ "$1" = -s ]; then echo Linux; else echo aarch64; fi\n',
      );
      await Deno.chmod(uname, 0o755);
      await using sshd = await Sshd.start({
        pathWithoutDeno: true,
        extraTools: { uname },
        env: { QEMU_LD_PREFIX: ARM64_ROOT },
      });
      await using machine = await SshMachine.connect(sshd.machineOptions());
      const cached = localCacheDir(
        "runtime",
        `deno-${Deno.version.deno}-aarch64-unknown-linux-gnu.gz`,
      );
      if (!RUNS_AARCH64) {
        const error = await rejection(DeployedServer.start(machine, { progress: false }));
        assert.ok(error instanceof DeployError, String(error));
        assert.match(error.message, /the shipped deno does not run here/);
        assert.equal(await elfMachine(cached), 0xb7, "Deno's aarch64 build was shipped");
        return;
      }
      await using server = await DeployedServer.start(machine, {
        progress: false,
        startTimeout: 120_000,
      });
      assert.equal(server.platform, "Linux aarch64");
      assert.deepEqual(server.uploaded, ["bundle", "runtime"]);
      assert.equal(await elfMachine(cached), 0xb7);
      const conn = await server.classicConnect();
      assert.equal(await conn.eval("Deno.build.target"), "aarch64-unknown-linux-gnu");
      assert.equal(await conn.eval("Deno.version.deno"), Deno.version.deno);
    } finally {
      await Deno.remove(uname);
    }
  },
);

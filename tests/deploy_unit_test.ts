/**
 * The parts of deploy/ that need no SSH server: destinations, ~/.ssh/config,
 * known_hosts matching, the bootstrap script (checked by `sh -n`), the
 * socket grants added to a deployment's permissions, platform matching.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { parseDestination } from "../deploy/destination.ts";
import { expandPath, sshConfigFor } from "../deploy/ssh_config.ts";
import {
  entryMatches,
  fingerprint,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
} from "../deploy/known_hosts.ts";
import { bootstrapCommand, quote, socketGrants } from "../deploy/bootstrap_script.ts";
import { runtimeSource } from "../deploy/runtime.ts";
import { targetCase } from "../deploy/platforms.ts";

Deno.test("destinations: [user@]host[:port], IPv6 in brackets, clear errors", () => {
  assert.deepEqual(parseDestination("build-01"), { host: "build-01" });
  assert.deepEqual(parseDestination("me@build-01:2222"), {
    host: "build-01",
    user: "me",
    port: 2222,
  });
  assert.deepEqual(parseDestination("root@[::1]:22"), { host: "::1", user: "root", port: 22 });
  assert.deepEqual(parseDestination("[fe80::1]"), { host: "fe80::1" });
  for (const bad of ["", "me@", "host:", "host:0", "host:99999", "a b", "::1", "me@host:x"]) {
    assert.throws(() => parseDestination(bad), /invalid SSH destination/, bad);
  }
});

const CONFIG = `
# comment
Host web *.prod !db.prod
  HostName %h.example.org
  User deploy
  Port 2200
  IdentityFile ~/.ssh/web_key

Host db.prod
  HostName 10.0.0.5
  ProxyJump bastion

Host bastion
  ProxyJump none

Match exec "true"
  User never

Host *
  User=fallback
  IdentityFile "%d/.ssh/id %r@%h:%p"
  Port 22
  ProxyJump jumper
`;

Deno.test("ssh config: first value wins, patterns and negation, identity files add up", () => {
  const web = sshConfigFor(CONFIG, "web");
  assert.equal(web.hostName, "web.example.org");
  assert.equal(web.user, "deploy");
  assert.equal(web.port, 2200);
  assert.deepEqual(web.identityFiles, ["~/.ssh/web_key", "%d/.ssh/id %r@%h:%p"]);
  assert.equal(web.proxyJump, "jumper");

  const db = sshConfigFor(CONFIG, "db.prod"); // negated in the first block
  assert.equal(db.hostName, "10.0.0.5");
  assert.equal(db.user, "fallback");
  assert.equal(db.port, 22);
  assert.equal(db.proxyJump, "bastion");

  assert.equal(sshConfigFor(CONFIG, "api.prod").user, "deploy");
  assert.equal(sshConfigFor(CONFIG, "bastion").proxyJump, undefined); // none wins
  assert.equal(sshConfigFor(CONFIG, "WEB").user, "deploy"); // case-insensitive
  assert.throws(() => sshConfigFor("Port 70000", "x", "/cfg"), /\/cfg:1: invalid Port '70000'/);
});

Deno.test("ssh config: ~ and % tokens in file names", () => {
  const tokens = { home: "/home/me", localUser: "me", user: "root", host: "h", port: 2222 };
  assert.equal(expandPath("~/.ssh/id", tokens), "/home/me/.ssh/id");
  assert.equal(expandPath("%d/k_%u_%r@%h:%p_%%", tokens), "/home/me/k_me_root@h:2222_%");
  assert.equal(expandPath("/abs/~x", tokens), "/abs/~x");
});

Deno.test("known_hosts: plain patterns, [host]:port, negation, hashed names, markers", () => {
  const blob = publicKeyBlob("ssh-ed25519", 32);
  const key = Buffer.from(blob).toString("base64");
  const salt = Buffer.from("0123456789abcdefghij");
  const hashed = createHmac("sha1", salt).update("[10.0.0.9]:2222").digest("base64");
  const text = [
    "# a comment",
    `example.org,192.0.2.1 ssh-ed25519 ${key} comment here`,
    `[example.org]:2222 ssh-ed25519 ${key}`,
    `*.corp,!secret.corp ssh-ed25519 ${key}`,
    `|1|${salt.toString("base64")}|${hashed} ssh-ed25519 ${key}`,
    `@revoked * ssh-ed25519 ${key}`,
    `@cert-authority *.corp ssh-ed25519 ${key}`,
    "malformed-line",
  ].join("\n");
  const entries = parseKnownHosts(text, "/kh");
  assert.equal(entries.length, 6);
  assert.equal(entries[0]!.where, "/kh:2");
  assert.equal(entries[4]!.marker, "revoked");
  assert.equal(entries[5]!.marker, "cert-authority");
  const matching = (name: string) => entries.filter((e) => !e.marker && entryMatches(e, name));
  assert.equal(knownHostName("example.org", 22), "example.org");
  assert.equal(knownHostName("example.org", 2222), "[example.org]:2222");
  assert.equal(matching("example.org").length, 1);
  assert.equal(matching("192.0.2.1").length, 1);
  assert.equal(matching("[example.org]:2222").length, 1);
  assert.equal(matching("[192.0.2.1]:2222").length, 0); // port 22 entries do not match
  assert.equal(matching("build.corp").length, 1);
  assert.equal(matching("secret.corp").length, 0);
  assert.equal(matching("[10.0.0.9]:2222").length, 1);
  assert.equal(matching("10.0.0.9").length, 0);
  assert.equal(knownHostsLine("[h]:2", blob), `[h]:2 ssh-ed25519 ${key}`);
  assert.match(fingerprint(blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
});

Deno.test("bootstrap script: valid sh, every value quoted, socket grants only when needed", async () => {
  const plan = {
    bundleSha256: "ab".repeat(32),
    session: "cd".repeat(16),
    denoPath: "/opt/it's deno",
    denoVersion: "2.9.6",
    permissions: ["--allow-read=/data dir", "--allow-env"],
  };
  const command = bootstrapCommand(plan);
  assert.ok(command.startsWith("/bin/sh -c '"));
  const quoted = command.slice("/bin/sh -c ".length);
  const shell = async (line: string) => {
    const { success, stdout, stderr } = await new Deno.Command("sh", { args: ["-c", line] })
      .output();
    assert.ok(success, new TextDecoder().decode(stderr));
    return new TextDecoder().decode(stdout);
  };
  await shell(`exec sh -n -c ${quoted}`); // a syntax check of the script itself
  const script = await shell(`printf '%s' ${quoted}`);
  assert.ok(script.includes(`x=${quote("/opt/it's deno")};`), script);
  assert.ok(script.includes(`${quote("--allow-read=/data dir")} '--allow-env'`), script);
  assert.ok(
    script.includes(`--allow-read="$s" --allow-write="$s" --allow-net="unix:$s" "$b" "$s"`),
    script,
  );
  assert.ok(script.includes(`b="$d/${plan.bundleSha256}.mjs"`), script);

  const none = { read: false, write: false, net: false };
  assert.deepEqual(socketGrants(["--allow-all"]), none);
  assert.deepEqual(socketGrants(["-A"]), none);
  assert.deepEqual(socketGrants(["--allow-read", "-W", "--allow-net"]), none);
  assert.deepEqual(socketGrants(["-R", "-N=x"]), { read: false, write: true, net: true });
  assert.deepEqual(socketGrants(["--allow-read=/x"]), { read: true, write: true, net: true });
  assert.deepEqual(socketGrants([]), { read: true, write: true, net: true });
});

Deno.test("runtime: the local build for this platform, Deno's npm build for the others", async () => {
  const expected = [
    ["Linux", "x86_64", "x86_64-unknown-linux-gnu", "@deno/linux-x64-glibc"],
    ["Linux", "amd64", "x86_64-unknown-linux-gnu", "@deno/linux-x64-glibc"],
    ["Linux", "aarch64", "aarch64-unknown-linux-gnu", "@deno/linux-arm64-glibc"],
    ["Linux", "arm64", "aarch64-unknown-linux-gnu", "@deno/linux-arm64-glibc"],
    ["Darwin", "arm64", "aarch64-apple-darwin", "@deno/darwin-arm64"],
    ["Darwin", "x86_64", "x86_64-apple-darwin", "@deno/darwin-x64"],
  ];
  for (const [os, arch, target, npmPackage] of expected) {
    const source = runtimeSource(os!, arch!);
    assert.equal(source?.platform.target, target, `${os} ${arch}`);
    assert.equal(source.platform.npmPackage, npmPackage);
    assert.equal(source.kind, target === Deno.build.target ? "local" : "npm", `${os} ${arch}`);
    // The remote script names the cached runtime by the same target, from its own uname.
    const fakeUname = `uname() { if [ "$1" = -s ]; then echo ${os}; else echo ${arch}; fi; }`;
    const { stdout } = await new Deno.Command("sh", {
      args: ["-c", `${fakeUname}; u="$(uname -s) $(uname -m)"; ${targetCase()}; echo "$t"`],
    }).output();
    assert.equal(new TextDecoder().decode(stdout), `${target}\n`);
  }
  for (const [os, arch] of [["Linux", "armv7l"], ["FreeBSD", "amd64"], ["Linux", "riscv64"]]) {
    assert.equal(runtimeSource(os!, arch!), undefined, `${os} ${arch}: no build to ship`);
  }
});

/** A fake public key blob: the type as an SSH string, then `size` bytes. */
function publicKeyBlob(type: string, size: number): Uint8Array {
  const name = new TextEncoder().encode(type);
  const blob = new Uint8Array(4 + name.length + 4 + size).fill(7);
  const view = new DataView(blob.buffer);
  view.setUint32(0, name.length);
  blob.set(name, 4);
  view.setUint32(4 + name.length, size);
  return blob;
}

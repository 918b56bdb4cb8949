/**
 * A throw-away OpenSSH `sshd` for the deploy tests and the deploy bench: on a
 * free loopback port, as the current user, with host and user keys generated
 * for it in a temporary directory that disposing removes (with the server).
 *
 * The session environment is the test's: `HOME` is a fresh directory inside
 * the temporary one (so the "remote" cache never meets the local one) and,
 * with `pathWithoutDeno`, `PATH` holds only the tools rdc's bootstrap uses,
 * none of them `deno`.
 *
 * sshd missing: {@linkcode sshdTest} fails the test under `CI=true` and skips
 * it, with a message, elsewhere.
 */

import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { SshMachineOptions } from "../deploy/mod.ts";
import { freePort, poll, within } from "./_cli.ts";
import { fileExists } from "./_helpers.ts";

/** Where Debian's openssh-server puts the daemon. */
export const SSHD = "/usr/sbin/sshd";
/** `getconf CLK_TCK`: the unit of CPU times in /proc (100 on every Linux Deno runs on). */
const CLOCK_TICKS_PER_SECOND = 100;
/** How long sshd may take to listen, a key to be generated, and so on. */
const START_MS = 15_000;

/** Whether sshd and ssh-keygen are installed. */
export const HAVE_SSHD: boolean = fileExists(SSHD) && runs("ssh-keygen", ["-?"]);
const IN_CI = Deno.env.get("CI") === "true";
let warned = false;

/**
 * A test that needs sshd: fails under CI=true when it is missing, and is
 * skipped with a message otherwise. Tests share an sshd through steps
 * (`t.step`), so that Deno's sanitizers see it start and stop in one test.
 */
export function sshdTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  if (!HAVE_SSHD && !IN_CI && !warned) {
    warned = true;
    console.warn(
      "deploy tests: OpenSSH sshd is not installed (apt-get install openssh-server): skipping",
    );
  }
  Deno.test({
    name,
    ignore: !HAVE_SSHD && !IN_CI,
    async fn(t) {
      assert.ok(HAVE_SSHD, `${SSHD} is required (CI=true): apt-get install openssh-server`);
      await fn(t);
    },
  });
}

/** Options of {@linkcode Sshd.start}. */
export interface SshdOptions {
  /** Give sessions a PATH without deno (the tools the bootstrap needs only). Default false. */
  pathWithoutDeno?: boolean;
  /** Extra programs for that PATH: name → the file to link (a fake `uname`, say). */
  extraTools?: Record<string, string>;
  /** More environment variables for sessions: name → value. */
  env?: Record<string, string>;
  /** More sshd_config lines; they come first, so they win over the defaults. */
  config?: string[];
  /**
   * A password for the current user, seen only by this sshd: it runs in a
   * private mount namespace where a copy of /etc/shadow holding that
   * password is mounted over the real one (root only; see `canSetPassword`).
   */
  password?: string;
}

/** The tools rdc's remote bootstrap runs, for a PATH without deno. */
const BOOTSTRAP_TOOLS = ["sh", "uname", "mkdir", "chmod", "head", "wc", "mv", "rm", "gzip"];

/** A running sshd and the files that go with it. */
export class Sshd implements AsyncDisposable {
  /** The user sessions run as (the current user). */
  readonly user: string = userInfo().username;
  /** Its log (`sshd -e`), so far. */
  log = "";
  readonly #process: Deno.ChildProcess;
  readonly #stderr: ReadableStreamDefaultReader<Uint8Array>;
  readonly #pump: Promise<void>;
  #exited = false;

  private constructor(
    /** The temporary directory holding everything. */
    readonly dir: string,
    /** The loopback port it listens on. */
    readonly port: number,
    child: Deno.ChildProcess,
  ) {
    this.#process = child;
    child.status.then(() => this.#exited = true);
    const stderr = this.#stderr = child.stderr.getReader();
    this.#pump = (async () => {
      const decoder = new TextDecoder();
      try {
        for (let read = await stderr.read(); !read.done; read = await stderr.read()) {
          this.log += decoder.decode(read.value, { stream: true });
        }
      } catch {
        // Cancelled by #stop.
      }
    })();
  }

  /** Starts an sshd (retrying a port that was taken meanwhile). */
  static async start(options: SshdOptions = {}): Promise<Sshd> {
    const dir = await Deno.makeTempDir({ prefix: "rdc_sshd_" });
    try {
      await Deno.mkdir(join(dir, "home"));
      await keygen(join(dir, "host_key"));
      await keygen(join(dir, "id_ed25519"));
      await Deno.copyFile(join(dir, "id_ed25519.pub"), join(dir, "authorized_keys"));
      const path = options.pathWithoutDeno ? await toolDir(dir, options.extraTools ?? {}) : "";
      for (let attempt = 1;; attempt++) {
        const port = freePort();
        const sshd = await Sshd.#spawn(dir, port, path, options);
        try {
          await poll(
            () => /Server listening on/.test(sshd.log) || sshd.#exited,
            START_MS,
            () => `sshd did not start:\n${sshd.log}`,
          );
          if (!sshd.#exited) {
            await Deno.writeTextFile(sshd.knownHosts, `${await sshd.knownHostsLine()}\n`);
            return sshd;
          }
        } catch (error) {
          await sshd.#stop();
          throw error;
        }
        await sshd.#stop();
        if (attempt === 3 || !/Address already in use/.test(sshd.log)) {
          throw new Error(`sshd did not start:\n${sshd.log}`);
        }
      }
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
  }

  static async #spawn(dir: string, port: number, path: string, options: SshdOptions) {
    const config = join(dir, "sshd_config");
    const environment = [
      `HOME=${join(dir, "home")}`,
      ...(path ? [`PATH=${path}`] : []),
      ...Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`),
    ];
    await Deno.writeTextFile(
      config,
      [
        ...(options.config ?? []), // sshd keeps the first value it reads for a keyword
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${join(dir, "host_key")}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "StrictModes no",
        "UsePAM no",
        "PermitRootLogin yes",
        `PasswordAuthentication ${options.password === undefined ? "no" : "yes"}`,
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "AllowStreamLocalForwarding yes",
        "AllowTcpForwarding yes",
        "Subsystem sftp internal-sftp", // scp's default transfer mode (RPyC's deployments use scp)
        "LogLevel INFO",
        `SetEnv ${environment.join(" ")}`,
        "",
      ].join("\n"),
    );
    let command = [SSHD, "-D", "-e", "-f", config];
    if (options.password !== undefined) {
      const shadow = await shadowWithPassword(dir, userInfo().username, options.password);
      const script = `mount --bind "$1" /etc/shadow && shift && exec "$@"`;
      command = ["unshare", "--mount", "sh", "-c", script, "sh", shadow, ...command];
    }
    if (Deno.uid() === 0) await Deno.mkdir("/run/sshd", { recursive: true }); // privilege separation
    const child = new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return new Sshd(dir, port, child);
  }

  async #stop(): Promise<void> {
    try {
      this.#process.kill("SIGTERM");
    } catch {
      // It exited already.
    }
    await this.#process.status;
    // A session a failed test left open keeps the log pipe open: stop reading after a while.
    await within(this.#pump, 2_000, "the end of the sshd log").catch(() => this.#stderr.cancel());
    await this.#pump;
  }

  /** The pids of the processes serving connections now (the listener's descendants). */
  async sessionPids(): Promise<number[]> {
    const parents = new Map<number, number>();
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid) parents.set(Number(entry.name), ppid);
    }
    const below = (pid: number): boolean => {
      const parent = parents.get(pid);
      return parent === this.#process.pid || (parent !== undefined && below(parent));
    };
    return [...parents.keys()].filter(below);
  }

  /**
   * CPU time (user and system, milliseconds) of every session this sshd has
   * finished serving so far: each connection's sshd processes, the shell and
   * whatever it ran (a deployed Deno server). Linux only: the listener's
   * `cutime` and `cstime` in /proc, which count the descendants it and they
   * have waited for, so a session still running is not counted yet (see
   * {@linkcode sessionPids}).
   */
  async sessionsCpuMs(): Promise<number> {
    const stat = await Deno.readTextFile(`/proc/${this.#process.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 16 and 17 of proc(5) (cutime, cstime), counted from field 3 (state).
    const ticks = Number(fields[13]) + Number(fields[14]);
    return ticks * 1000 / CLOCK_TICKS_PER_SECOND;
  }

  /** `user@127.0.0.1:port`. */
  get target(): string {
    return `${this.user}@127.0.0.1:${this.port}`;
  }

  /** The sessions' home directory (the "remote" home). */
  get home(): string {
    return join(this.dir, "home");
  }

  /** The remote cache directory rdc deploys into. */
  get remoteCache(): string {
    return join(this.home, ".cache", "rdc");
  }

  /** The private key the server accepts. */
  get identity(): string {
    return join(this.dir, "id_ed25519");
  }

  /** The server's `known_hosts` line: `[127.0.0.1]:port ssh-ed25519 AAAA…`. */
  async knownHostsLine(): Promise<string> {
    const [type, key] = (await Deno.readTextFile(join(this.dir, "host_key.pub"))).split(" ");
    return `[127.0.0.1]:${this.port} ${type} ${key}`;
  }

  /** A known_hosts file holding this server's key (`[127.0.0.1]:port` entry). */
  get knownHosts(): string {
    return join(this.dir, "known_hosts");
  }

  /** The public host key file (`host_key.pub`). */
  get hostPublicKey(): string {
    return join(this.dir, "host_key.pub");
  }

  /** Options for `SshMachine.connect` that reach this server with its own key and known_hosts. */
  machineOptions(more: Partial<SshMachineOptions> = {}): SshMachineOptions {
    return {
      host: this.target,
      identity: this.identity,
      knownHostsFiles: [this.knownHosts],
      sshConfig: false,
      agent: false,
      ...more,
    };
  }

  /**
   * What a deployment left behind on this "remote" host: processes whose
   * command line names `session` (the bootstrap shell and the server), and
   * files in the remote cache other than cached bundles and runtimes.
   */
  async leftovers(session: string): Promise<string[]> {
    const found: string[] = [];
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
      if (cmdline.includes(session)) {
        found.push(`process ${entry.name}: ${cmdline.replaceAll("\0", " ")}`);
      }
    }
    for await (const entry of Deno.readDir(this.remoteCache)) {
      if (!/^([0-9a-f]{64}\.mjs|deno-.*)$/.test(entry.name)) found.push(`file ${entry.name}`);
    }
    return found;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stop();
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Generates an ed25519 key pair at `file` (and `file.pub`), with an optional passphrase. */
export async function keygen(file: string, passphrase = ""): Promise<void> {
  const { success, stderr } = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", passphrase, "-C", "rdc-test", "-f", file],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `ssh-keygen failed: ${new TextDecoder().decode(stderr)}`);
}

/** A directory of links to the bootstrap's tools (and `extra`), for a PATH without deno. */
async function toolDir(dir: string, extra: Record<string, string>): Promise<string> {
  const bin = join(dir, "bin");
  await Deno.mkdir(bin);
  for (const tool of BOOTSTRAP_TOOLS) {
    if (!(tool in extra)) await Deno.symlink(await which(tool), join(bin, tool));
  }
  for (const [name, file] of Object.entries(extra)) await Deno.symlink(file, join(bin, name));
  return bin;
}

/** The absolute path of `program` on our PATH. */
async function which(program: string): Promise<string> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const file = join(dir, program);
    if (fileExists(file)) return await Deno.realPath(file);
  }
  throw new Error(`${program} is not on the PATH`);
}

/**
 * Whether this process can give sshd a password for the current user: root,
 * with `unshare --mount` and `openssl` available.
 */
export function canSetPassword(): boolean {
  return Deno.uid() === 0 && runs("unshare", ["--mount", "true"]) &&
    runs("openssl", ["version"]);
}

/** A copy of /etc/shadow in which `user` has `password`; returns its path. */
async function shadowWithPassword(dir: string, user: string, password: string): Promise<string> {
  const child = new Deno.Command("openssl", {
    args: ["passwd", "-6", "-stdin"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${password}\n`));
  await writer.close();
  const { stdout, success } = await child.output();
  assert.ok(success, "openssl passwd failed");
  const hash = new TextDecoder().decode(stdout).trim();
  const lines = (await Deno.readTextFile("/etc/shadow")).split("\n").map((line) => {
    const fields = line.split(":");
    if (fields[0] === user) fields[1] = hash;
    return fields.join(":");
  });
  const file = join(dir, "shadow");
  await Deno.writeTextFile(file, lines.join("\n"), { mode: 0o600 });
  return file;
}

function runs(program: string, args: string[]): boolean {
  try {
    new Deno.Command(program, { args, stdin: "null", stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

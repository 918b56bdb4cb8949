/**
 * `SshMachine`: one SSH connection to a host (plumbum's `SshMachine`), made
 * with npm:ssh2 in-process — no `ssh` binary, no `sshpass`, one TCP
 * connection for every command and stream.
 *
 * @module
 */

import { within } from "./bounded.ts";
import { Authentication } from "./authentication.ts";
import { type ConnectFailure, SshConnectError } from "./errors.ts";
import { HostKeyCheck } from "./host_key_check.ts";
import { loadIdentities } from "./identities.ts";
import { knownHostName } from "./known_hosts.ts";
import {
  destroySsh2Client,
  newSsh2Client,
  ssh2Algorithms,
  type Ssh2Channel,
  type Ssh2Client,
  type Ssh2Error,
} from "./ssh2.ts";
import {
  type ResolvedSshOptions,
  resolveSshOptions,
  type SshMachineOptions,
} from "./ssh_options.ts";
import {
  type RemoteProcess,
  remoteProcess,
  type RemoteStatus,
  type SshStream,
  sshStream,
} from "./ssh_streams.ts";

/** How long `close()` waits for the server to end the connection before cutting it. */
const CLOSE_WAIT_MS = 3_000;

/** What `machine.exec` returns. */
export interface ExecResult extends RemoteStatus {
  /** The command's stdout, as text. */
  stdout: string;
  /** Its stderr, as text. */
  stderr: string;
}

/** Options of `machine.exec`. */
export interface ExecOptions {
  /** Bytes or text for the command's stdin, which is then closed. Default: none (EOF at once). */
  stdin?: string | Uint8Array;
}

/**
 * An SSH connection to one host.
 *
 * Contract: a machine owns its ssh2 client and, when it was reached through
 * jump hosts, the machine of the last hop. Commands (`exec`, `spawn`) and
 * streams (`openUnixStream`, `forward`) share the one connection; they
 * reject once it is closed. `close()` is idempotent: it ends the connection
 * (and every channel on it, so remote commands see EOF) and resolves once it
 * is gone. Host keys are checked as `knownHosts` says before any credential
 * is sent.
 *
 * @example
 * ```ts
 * import { SshMachine } from "@rdc/rdc/deploy";
 * await using machine = await SshMachine.connect("deploy@build-01:2222");
 * const { code, stdout } = await machine.exec("uname -sm");
 * ```
 */
export class SshMachine implements AsyncDisposable {
  /** `user@host:port`. */
  readonly destination: string;
  readonly #client: Ssh2Client;
  readonly #jump: SshMachine | undefined;
  readonly #gone: Promise<void>;
  #closing: Promise<void> | undefined;
  #failure: string | undefined;

  private constructor(
    destination: string,
    client: Ssh2Client,
    gone: Promise<void>,
    jump: SshMachine | undefined,
  ) {
    this.destination = destination;
    this.#client = client;
    this.#gone = gone;
    this.#jump = jump;
    gone.then(() => this.#failure ??= "the connection was closed");
  }

  /**
   * Connects and authenticates: `"[user@]host[:port]"` or options, completed
   * from `~/.ssh/config` and OpenSSH's defaults (see {@linkcode SshMachineOptions}).
   *
   * @throws {SshConnectError} the host cannot be reached (refused, unreachable, timeout, …).
   * @throws {HostKeyError} its host key is unknown, changed or revoked.
   * @throws {SshAuthenticationError} every credential was refused or unusable.
   */
  static async connect(options: string | SshMachineOptions): Promise<SshMachine> {
    const resolved = await resolveSshOptions(options);
    const jump = resolved.jump === undefined ? undefined : await connectJump(resolved);
    try {
      return await SshMachine.#open(resolved, jump);
    } catch (error) {
      await jump?.close();
      throw error;
    }
  }

  static async #open(resolved: ResolvedSshOptions, jump: SshMachine | undefined) {
    const { destination, hostName, port } = resolved;
    const hostKeys = await HostKeyCheck.load(
      resolved.knownHosts,
      knownHostName(hostName, port),
      resolved.knownHostsFiles,
    );
    const { identities, skipped } = await loadIdentities(
      resolved.identityFiles,
      resolved.explicitIdentities,
      resolved.passphrase,
      destination,
    );
    const notes = skipped.map((line) => `skipped ${line}`);
    const auth = new Authentication({
      user: resolved.user,
      identities,
      agent: resolved.agent,
      password: resolved.password,
      notes,
    });
    let sock: Ssh2Channel | undefined;
    if (jump) {
      try {
        sock = await jump.#openChannel(
          (done) => jump.#client.forwardOut("127.0.0.1", 0, hostName, port, done),
          (channel) => channel,
        );
      } catch (error) {
        throw new SshConnectError("jump", destination, `${jump.destination}: ${error}`, error);
      }
    }
    const client = newSsh2Client();
    const gone = new Promise<void>((resolve) => client.once("close", resolve));
    const ready = Promise.withResolvers<void>();
    let connected = false;
    let failure: Error | undefined;
    client.on("error", (error) => {
      if (error.level === "agent") return void notes.push(`ssh-agent: ${error.message}`);
      if (connected) return;
      failure ??= connectionError(error, hostKeys, auth, destination);
      ready.reject(failure);
    });
    client.on("ready", () => {
      connected = true;
      ready.resolve();
    });
    gone.then(() => {
      const closed = new SshConnectError(
        "protocol",
        destination,
        "the server closed the connection",
      );
      ready.reject(failure ??= closed);
    });
    client.connect({
      ...(sock ? { sock } : { host: hostName, port }),
      username: resolved.user,
      authHandler: auth.handler,
      hostVerifier: (key) => hostKeys.verify(key),
      algorithms: ssh2Algorithms(hostKeys.algorithms(), sock !== undefined),
      keepaliveInterval: resolved.keepaliveInterval,
      keepaliveCountMax: resolved.keepaliveCountMax,
      readyTimeout: resolved.readyTimeout,
    });
    // Without it Deno's socket waits on Nagle and delayed ACKs at every round trip.
    client.setNoDelay(true);
    try {
      await ready.promise;
    } catch (error) {
      destroySsh2Client(client);
      await within(gone, CLOSE_WAIT_MS);
      throw error;
    }
    const machine = new SshMachine(destination, client, gone, jump);
    client.on("error", (error) => machine.#failure = error.message);
    return machine;
  }

  /** Whether the connection is closed (by `close()`, the server or the network). */
  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Runs `command` (a shell command line, run by the user's login shell) to
   * completion.
   *
   * @example
   * ```ts
   * import { SshMachine } from "@rdc/rdc/deploy";
   * await using machine = await SshMachine.connect("me@host");
   * const { code, stdout, stderr } = await machine.exec("ls /srv");
   * ```
   */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    await using process = await this.spawn(command);
    const readText = (stream: ReadableStream<Uint8Array>) =>
      new Response(stream).text().catch(() => "");
    const output = Promise.all([readText(process.stdout), readText(process.stderr)]);
    const writer = process.stdin.getWriter();
    if (options.stdin !== undefined) {
      const bytes = typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin;
      await writer.write(bytes).catch(() => {}); // A command that does not read: its status says.
    }
    await writer.close().catch(() => {});
    const [stdout, stderr] = await output;
    return { ...(await process.status), stdout, stderr };
  }

  /** Starts `command` with its stdio as web streams (like `Deno.Command(...).spawn()`). */
  async spawn(command: string): Promise<RemoteProcess> {
    return await this.#openChannel((done) => this.#client.exec(command, done), remoteProcess);
  }

  /**
   * Opens a byte stream to the unix socket at `path` on the host (OpenSSH's
   * `direct-streamlocal`; the server must allow `AllowStreamLocalForwarding`).
   */
  async openUnixStream(path: string): Promise<SshStream> {
    return await this.#openChannel(
      (done) => this.#client.openssh_forwardOutStreamLocal(path, done),
      sshStream,
    );
  }

  /** Opens a byte stream to `host:port` as seen from the SSH host (`direct-tcpip`). */
  async forward(host: string, port: number): Promise<SshStream> {
    return await this.#openChannel(
      (done) => this.#client.forwardOut("127.0.0.1", 0, host, port, done),
      sshStream,
    );
  }

  /**
   * Opens a channel and wraps it at once: ssh2 may deliver a short command's
   * exit status in the same read as the channel's confirmation, before any
   * promise continuation could listen for it.
   */
  async #openChannel<T>(
    open: (done: (error: Error | undefined, channel: Ssh2Channel) => void) => void,
    wrap: (channel: Ssh2Channel) => T,
  ): Promise<T> {
    if (this.#failure !== undefined) {
      throw new SshConnectError("protocol", this.destination, this.#failure);
    }
    return await new Promise<T>((resolve, reject) => {
      try {
        open((error, channel) => error ? reject(error) : resolve(wrap(channel)));
      } catch (error) {
        reject(error); // ssh2 throws "Not connected" synchronously.
      }
    });
  }

  /** Closes the connection, and the jump hosts' (see the class contract). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#failure ??= "the connection was closed";
      this.#client.end();
      if ((await within(this.#gone, CLOSE_WAIT_MS)).timedOut) {
        destroySsh2Client(this.#client);
        await this.#gone;
      }
      await this.#jump?.close();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Connects the last jump host (through the ones before it). */
async function connectJump(resolved: ResolvedSshOptions): Promise<SshMachine> {
  const hops = resolved.jump!.split(",").map((hop) => hop.trim());
  const last = hops.pop()!;
  return await SshMachine.connect({
    host: last,
    jump: hops.length > 0 ? hops.join(",") : undefined,
    knownHosts: resolved.knownHosts,
    knownHostsFiles: resolved.knownHostsFiles,
    sshConfig: resolved.sshConfig,
    agent: resolved.agent ?? false,
    passphrase: resolved.passphrase,
    keepaliveInterval: resolved.keepaliveInterval,
    keepaliveCountMax: resolved.keepaliveCountMax,
    readyTimeout: resolved.readyTimeout,
  });
}

/** The error to throw for what ssh2 reported while connecting. */
function connectionError(
  error: Ssh2Error,
  hostKeys: HostKeyCheck,
  auth: Authentication,
  destination: string,
): Error {
  if (hostKeys.failure) return hostKeys.failure;
  if (error.level === "client-authentication" && /methods failed/.test(error.message)) {
    return auth.failure(destination);
  }
  const detail = error.code ? `${error.code}: ${error.message}` : error.message;
  return new SshConnectError(failureReason(error), destination, detail, error);
}

function failureReason(error: Ssh2Error): ConnectFailure {
  switch (error.level) {
    case "client-timeout":
      return "timeout";
    case "client-dns":
      return "dns";
    case "client-socket":
      break;
    default:
      return "protocol";
  }
  switch (error.code) {
    case "ECONNREFUSED":
      return "refused";
    case "ETIMEDOUT":
      return "timeout";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "dns";
    case "ECONNRESET":
    case "EPIPE":
      return "protocol";
    default:
      return "unreachable";
  }
}

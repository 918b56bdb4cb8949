/**
 * `DeployedServer` (RPyC's `rpyc.utils.zerodeploy.DeployedServer`): an rdc
 * server copied to a host over SSH, started there, and reached through the
 * SSH connection itself.
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import * as classic from "../core/classic/mod.ts";
import { connectStream } from "../core/net/connect.ts";
import type { Connection, ConnectionOptions } from "../core/session/connection.ts";
import { within } from "./bounded.ts";
import { type BootstrapOutcome, runBootstrap, type Upload } from "./bootstrap.ts";
import { bootstrapCommand } from "./bootstrap_script.ts";
import { type Bundle, CLASSIC_MODULE, serverBundle } from "./bundle.ts";
import { DeployError } from "./errors.ts";
import { RemoteOutput } from "./remote_output.ts";
import { localRuntime } from "./runtime.ts";
import type { SshMachine } from "./ssh_machine.ts";
import type { RemoteProcess, RemoteStatus } from "./ssh_streams.ts";

/** How long `close()` waits for the remote process to end before cutting its channel. */
const CLOSE_WAIT_MS = 5_000;

/** Options of {@linkcode DeployedServer.start}. */
export interface DeployOptions {
  /**
   * A module to deploy instead of classic mode: a path (relative to the
   * working directory) or URL whose default export is a `Service` (class or
   * instance) and which may export `serveOptions` (see `DeployableModule`).
   * It is bundled with `deno bundle`. Default: classic mode.
   */
  service?: string | URL;
  /**
   * Deno permission flags for the remote server, e.g.
   * `["--allow-read=/data"]` (values with `=`). Default `["--allow-all"]`,
   * as classic mode expects. Read and write on the server's own socket are
   * added when needed.
   */
  permissions?: readonly string[];
  /**
   * The deno executable on the remote host. Default: `deno` on the remote
   * PATH, else `~/.deno/bin/deno`, else a runtime rdc shipped before.
   */
  denoPath?: string;
  /**
   * Ship a Deno runtime of this process's version (gzip-compressed, cached
   * on the host by version and platform) when the host has none: this
   * process's executable for a host of the same OS and architecture, else
   * Deno's official build for the host's, fetched through npm. Default true.
   */
  shipRuntime?: boolean;
  /** Draw a progress bar on stderr while shipping the runtime. Default true. */
  progress?: boolean;
  /** The deno.json to bundle with. Default: the nearest one above the module. */
  config?: string;
  /** The longest wait for the remote side at each step of the start. Default 30 000 ms. */
  startTimeout?: number;
}

/**
 * A server deployed to an SSH host.
 *
 * How it works: one SSH exec runs a small `sh` script that checks the cache
 * (`~/.cache/rdc`, mode 0700), receives the bundle (and the runtime) only
 * if missing, and starts `deno run <sha256>.mjs`. The server listens on a
 * unix socket in that directory — no TCP port is opened on the host — and
 * each `connect()` opens an SSH stream-local channel to it, so any number
 * of connections share the one remote process. The exec channel is the
 * server's lifeline: when it goes (by `close()`, by the SSH connection
 * dropping, or by this process dying, even with SIGKILL), the server sees
 * its stdin end and exits, and the script removes the socket.
 *
 * Contract: a deployed server uses, but does not own, its machine (close the
 * machine yourself, after the server). It owns the connections it opened:
 * `close()` closes them, ends the remote process and resolves when the
 * process is gone. `close()` is idempotent; `connect` after it rejects.
 *
 * @example
 * ```ts
 * import { DeployedServer, SshMachine } from "@rdc/rdc/deploy";
 * await using machine = await SshMachine.connect("me@build-01");
 * await using server = await DeployedServer.start(machine);
 * const conn = await server.classicConnect();
 * console.log(await conn.modules["node:os"].hostname());
 * ```
 */
export class DeployedServer implements AsyncDisposable {
  /** The machine it runs on. */
  readonly machine: SshMachine;
  /** The server's unix socket on the remote host. */
  readonly socketPath: string;
  /** The remote host's `uname -sm` (`Linux x86_64`). */
  readonly platform: string;
  /** What this start uploaded: nothing when the host's cache was warm. */
  readonly uploaded: readonly Upload[];
  /** Resolves once the remote process has ended. */
  readonly finished: Promise<RemoteStatus>;
  readonly #process: RemoteProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #output: RemoteOutput;
  readonly #connections = new Set<Connection>();
  #closing: Promise<void> | undefined;

  private constructor(
    machine: SshMachine,
    process: RemoteProcess,
    stdin: WritableStreamDefaultWriter<Uint8Array>,
    output: RemoteOutput,
    outcome: BootstrapOutcome,
  ) {
    this.machine = machine;
    this.#process = process;
    this.#stdin = stdin;
    this.#output = output;
    this.socketPath = outcome.socketPath;
    this.platform = outcome.platform;
    this.uploaded = outcome.uploaded;
    this.finished = process.status;
  }

  /**
   * Deploys and starts a server on `machine` (see {@linkcode DeployOptions}).
   *
   * @throws {DeployError} the remote side failed (no usable deno, another
   * platform, a failed upload, a server that did not start), naming why.
   */
  static async start(machine: SshMachine, options: DeployOptions = {}): Promise<DeployedServer> {
    const bundle = await (sharedBundles.get(options) ?? bundleOf(options));
    const command = bootstrapCommand({
      bundleSha256: bundle.sha256,
      session: randomSession(),
      denoPath: options.denoPath,
      denoVersion: localRuntime().version,
      permissions: options.permissions ?? ["--allow-all"],
    });
    let process: RemoteProcess;
    try {
      process = await machine.spawn(command);
    } catch (error) {
      throw new DeployError(
        machine.destination,
        `cannot start the remote command: ${error}`,
        error,
      );
    }
    const output = new RemoteOutput(process.stdout, process.stderr);
    const stdin = process.stdin.getWriter();
    try {
      const outcome = await runBootstrap(process, output, stdin, {
        bundle,
        destination: machine.destination,
        shipRuntime: options.shipRuntime ?? true,
        progress: options.progress ?? true,
        timeoutMs: options.startTimeout ?? 30_000,
      });
      output.passThrough();
      return new DeployedServer(machine, process, stdin, output, outcome);
    } catch (error) {
      output.discard();
      process.close();
      await within(Promise.all([process.status, output.finished]), CLOSE_WAIT_MS);
      throw error;
    }
  }

  /**
   * Opens a connection to the server; `options` configure this end (its
   * service, timeouts, policy). Any number may be open at once.
   */
  async connect(options: ConnectionOptions = {}): Promise<Connection> {
    const stream = await this.#openStream();
    return this.#track(await connectStream(stream, { ...options, description: this.#description }));
  }

  /** Opens a classic connection to a classic server (the default deployment). */
  async classicConnect(options: ConnectionOptions = {}): Promise<classic.ClassicConnection> {
    const stream = await this.#openStream();
    return this.#track(
      await classic.connectStream(stream, { ...options, description: this.#description }),
    );
  }

  get #description(): string {
    return `ssh ${this.machine.destination} unix ${this.socketPath}`;
  }

  async #openStream() {
    if (this.#closing) throw new DeployError(this.machine.destination, "the server was closed");
    try {
      return await this.machine.openUnixStream(this.socketPath);
    } catch (error) {
      throw new DeployError(
        this.machine.destination,
        `cannot open a stream to ${this.socketPath} (does sshd allow AllowStreamLocalForwarding?): ${error}`,
        error,
      );
    }
  }

  #track<T extends Connection>(connection: T): T {
    this.#connections.add(connection);
    connection.finished.then(() => this.#connections.delete(connection));
    return connection;
  }

  /** Closes its connections and ends the remote server (see the class contract). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#connections].map((connection) => connection.close()));
      // The server's stdin ends: it exits, and the script removes its socket.
      await this.#stdin.close().catch(() => {});
      if ((await within(this.#process.status, CLOSE_WAIT_MS)).timedOut) {
        this.#process.close();
        await within(this.#process.status, CLOSE_WAIT_MS);
      }
      await within(this.#output.finished, CLOSE_WAIT_MS);
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Bundles looked up once for many hosts: {@linkcode shareBundle} registers
 * them, keyed by the options object every host's `start` is then given.
 */
const sharedBundles = new WeakMap<DeployOptions, Promise<Bundle>>();

/** The bundle `options` deploy (see {@linkcode DeployOptions.service}). */
function bundleOf(options: DeployOptions): Promise<Bundle> {
  const module = options.service === undefined
    ? CLASSIC_MODULE
    : new URL(options.service, pathToFileURL(`${Deno.cwd()}/`));
  return serverBundle(module, options.config);
}

/**
 * Looks up the bundle of `options` now, once, for every `DeployedServer.start`
 * given this very `options` object (a fleet's hosts): finding a bundle in the
 * local cache reads and hashes the module's sources, which would otherwise be
 * done again on each host, and is done here while the hosts connect. A lookup
 * that fails is not kept: each `start` then tries again and reports its error.
 */
export function shareBundle(options: DeployOptions): void {
  const bundle = bundleOf(options);
  sharedBundles.set(options, bundle);
  bundle.catch(() => sharedBundles.delete(options));
}

/**
 * A fresh session name: 64 random bits in hex, short enough to leave room
 * for a long home directory (unix socket paths are capped at 108 bytes).
 */
function randomSession(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

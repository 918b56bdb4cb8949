/**
 * `MultiServerDeployment` (RPyC's, which deploys one host after another):
 * servers on many hosts, deployed a bounded number at a time, each host's
 * outcome reported on its own.
 *
 * @module
 */

import type * as classic from "../core/classic/mod.ts";
import type { Connection, ConnectionOptions } from "../core/session/connection.ts";
import { DeployedServer, type DeployOptions, shareBundle } from "./deployed_server.ts";
import { FleetBoard } from "./fleet_board.ts";
import { settleBounded } from "./settle_bounded.ts";
import { SshMachine } from "./ssh_machine.ts";
import type { SshMachineOptions } from "./ssh_options.ts";

/** Options of {@linkcode MultiServerDeployment.start}: each host's, and how many at once. */
export interface MultiDeployOptions extends DeployOptions {
  /**
   * How many hosts are connected to and deployed to at once. Most of a
   * host's start is spent waiting on it (its sshd, its Deno starting), not
   * on this process (about 10 ms of CPU per host), so this need not follow
   * the local core count; a fleet larger than it waits for whole starts to
   * finish before the rest begin.
   * @default {32}
   */
  concurrency?: number;
  /**
   * Show one line per host (waiting, connecting, deploying, ready or failed)
   * on stderr while deploying, when stderr is a terminal. It replaces the
   * per-host runtime upload bar.
   * @default {true}
   */
  progress?: boolean;
}

/** What became of one host: its server, or the error that stopped it. */
export type HostResult =
  | { host: string; status: "fulfilled"; server: DeployedServer }
  | { host: string; status: "rejected"; error: Error };

/** What a machine to deploy to may be given as. */
export type DeployTarget = SshMachine | string | SshMachineOptions;

const DEFAULT_CONCURRENCY = 32;

/**
 * Deployments to many hosts.
 *
 * Contract: machines given as connected `SshMachine`s stay the caller's;
 * those given as destinations or options are connected here and closed by
 * `close()` (or at once, when their deployment fails). `start` settles every
 * host on its own, `Promise.allSettled`-style: one unreachable or refusing
 * host does not fail the others, and `results` keeps each failure's own
 * error (`SshConnectError`, `HostKeyError`, `DeployError`, …). `close()` is
 * idempotent and closes every server (and owned machine) in parallel.
 *
 * @example
 * ```ts
 * import { MultiServerDeployment } from "@rdc/rdc/deploy";
 * await using fleet = await MultiServerDeployment.start(["me@node-1", "me@node-2"], {
 *   concurrency: 4,
 * });
 * for (const result of fleet.results) {
 *   if (result.status === "rejected") console.error(result.host, result.error.message);
 * }
 * const conns = await fleet.classicConnectAll();
 * ```
 */
export class MultiServerDeployment implements AsyncDisposable {
  /** Each host's outcome, in the order of the machines given. */
  readonly results: readonly HostResult[];
  /** The servers that started, in the order of the machines given. */
  readonly servers: readonly DeployedServer[];
  readonly #owned: readonly SshMachine[];
  #closing: Promise<void> | undefined;

  private constructor(results: HostResult[], owned: SshMachine[]) {
    this.results = results;
    this.servers = results.flatMap((r) => r.status === "fulfilled" ? [r.server] : []);
    this.#owned = owned;
  }

  /** The results that failed. */
  get failures(): Extract<HostResult, { status: "rejected" }>[] {
    return this.results.filter((r) => r.status === "rejected");
  }

  /**
   * Deploys to every machine, `concurrency` at a time (see
   * {@linkcode MultiDeployOptions}). Never rejects for a host's failure:
   * see `results`.
   *
   * @throws {RangeError} for a `concurrency` that is not a whole number from 1 up.
   */
  static async start(
    machines: readonly DeployTarget[],
    options: MultiDeployOptions = {},
  ): Promise<MultiServerDeployment> {
    const { concurrency = DEFAULT_CONCURRENCY, progress = true, ...deployOptions } = options;
    const hosts = machines.map(describeTarget);
    const board = progress ? new FleetBoard(hosts) : undefined;
    const owned: SshMachine[] = [];
    const hostOptions: DeployOptions = {
      ...deployOptions,
      progress: progress && board?.terminal !== true,
    };
    shareBundle(hostOptions);
    const settled = await settleBounded(machines, concurrency, async (target, index) => {
      const started = performance.now();
      board?.set(index, "connecting");
      let machine: SshMachine | undefined;
      try {
        machine = target instanceof SshMachine ? target : await SshMachine.connect(target);
        board?.set(index, "deploying");
        const server = await DeployedServer.start(machine, hostOptions);
        if (machine !== target) owned.push(machine);
        board?.set(index, "ready", `(${Math.round(performance.now() - started)} ms)`);
        return server;
      } catch (error) {
        if (machine !== target) await machine?.close();
        board?.set(index, "failed", (error as Error).message);
        throw error;
      }
    });
    board?.done();
    const results = settled.map((outcome, index): HostResult =>
      outcome.status === "fulfilled"
        ? { host: hosts[index]!, status: "fulfilled", server: outcome.value }
        : { host: hosts[index]!, status: "rejected", error: asError(outcome.reason) }
    );
    return new MultiServerDeployment(results, owned);
  }

  /** Opens one connection to each server, in order. */
  async connectAll(options: ConnectionOptions = {}): Promise<Connection[]> {
    return await Promise.all(this.servers.map((server) => server.connect(options)));
  }

  /** Opens one classic connection to each server, in order. */
  async classicConnectAll(options: ConnectionOptions = {}): Promise<classic.ClassicConnection[]> {
    return await Promise.all(this.servers.map((server) => server.classicConnect(options)));
  }

  /** Closes every server, then the machines it connected (see the class contract). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.servers.map((server) => server.close()));
      await Promise.all(this.#owned.map((machine) => machine.close()));
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** How a target is named in results and progress lines. */
function describeTarget(target: DeployTarget): string {
  if (target instanceof SshMachine) return target.destination;
  return typeof target === "string" ? target : target.host;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

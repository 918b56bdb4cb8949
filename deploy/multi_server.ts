/**
 * `MultiServerDeployment` (RPyC's, which deploys one host after another):
 * servers on several hosts, deployed in parallel.
 *
 * @module
 */

import type * as classic from "../core/classic/mod.ts";
import type { Connection, ConnectionOptions } from "../core/session/connection.ts";
import { DeployedServer, type DeployOptions } from "./deployed_server.ts";
import { SshMachine } from "./ssh_machine.ts";
import type { SshMachineOptions } from "./ssh_options.ts";

/**
 * One deployment per host, all started at once.
 *
 * Contract: machines given as connected `SshMachine`s stay the caller's;
 * those given as destinations or options are connected here and closed by
 * `close()`. `start` succeeds for all hosts or for none: if any host fails,
 * what was started is closed and an `AggregateError` lists every failure.
 * `close()` is idempotent and closes every server (and owned machine) in
 * parallel.
 *
 * @example
 * ```ts
 * import { MultiServerDeployment } from "@rdc/rdc/deploy";
 * await using cluster = await MultiServerDeployment.start(["me@node-1", "me@node-2"]);
 * const conns = await cluster.classicConnectAll();
 * console.log(await Promise.all(conns.map((c) => c.modules["node:os"].hostname())));
 * ```
 */
export class MultiServerDeployment implements AsyncDisposable {
  /** The servers, in the order of the machines given. */
  readonly servers: readonly DeployedServer[];
  readonly #owned: readonly SshMachine[];
  #closing: Promise<void> | undefined;

  private constructor(servers: DeployedServer[], owned: SshMachine[]) {
    this.servers = servers;
    this.#owned = owned;
  }

  /**
   * Deploys to every machine in parallel (see {@linkcode DeployOptions}).
   *
   * @throws {AggregateError} one error per host that failed.
   */
  static async start(
    machines: readonly (SshMachine | string | SshMachineOptions)[],
    options: DeployOptions = {},
  ): Promise<MultiServerDeployment> {
    const owned: SshMachine[] = [];
    const results = await Promise.allSettled(machines.map(async (target) => {
      let machine: SshMachine;
      if (target instanceof SshMachine) {
        machine = target;
      } else {
        machine = await SshMachine.connect(target);
        owned.push(machine);
      }
      return await DeployedServer.start(machine, options);
    }));
    const servers = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    const errors = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
    const deployment = new MultiServerDeployment(servers, owned);
    if (errors.length > 0) {
      await deployment.close();
      const reasons = errors.map((e) => e instanceof Error ? e.message : String(e));
      throw new AggregateError(
        errors,
        `${errors.length} of ${machines.length} deployments failed: ${reasons.join("; ")}`,
      );
    }
    return deployment;
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

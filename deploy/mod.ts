/**
 * Zero-deploy: run an rdc server on any SSH host with nothing installed
 * there beforehand (RPyC's `SshMachine`, `DeployedServer` and
 * `MultiServerDeployment`). The server is bundled into one file, uploaded
 * only when the host's cache lacks it (with the Deno runtime itself when
 * the host has none), and reached through the SSH connection: no TCP port
 * is opened on the host, and host keys are checked against known_hosts.
 *
 * ```ts
 * import { DeployedServer, SshMachine } from "@rdc/rdc/deploy";
 *
 * await using machine = await SshMachine.connect("me@build-01:2222");
 * await using server = await DeployedServer.start(machine);
 * const conn = await server.classicConnect();
 * console.log(await conn.globals.Deno.pid); // a process on build-01
 * ```
 *
 * @module
 */

export { type ExecOptions, type ExecResult, SshMachine } from "./ssh_machine.ts";
export type { SshMachineOptions } from "./ssh_options.ts";
export type { KnownHostsMode } from "./host_key_check.ts";
export type { RemoteProcess, RemoteStatus, SshStream } from "./ssh_streams.ts";
export { DeployedServer, type DeployOptions } from "./deployed_server.ts";
export type { Upload } from "./bootstrap.ts";
export type { DeployableModule } from "./remote_server.ts";
export {
  type DeployTarget,
  type HostResult,
  type MultiDeployOptions,
  MultiServerDeployment,
} from "./multi_server.ts";
export {
  type ConnectFailure,
  DeployError,
  HostKeyError,
  type HostKeyErrorFields,
  type HostKeyProblem,
  SshAuthenticationError,
  SshConnectError,
} from "./errors.ts";
// The core's types (connections, their options, services), which this API
// mentions: for use in type positions, and so that this entry point documents
// on its own. Import values (`connect`, `classic`, …) from the package root.
export type * from "../mod.ts";
export type {
  ClassicConnection,
  ConsoleRedirect,
  ConsoleStream,
  RedirectOptions,
  TransferOptions,
} from "../core/classic/mod.ts";

/**
 * The errors of SSH connections and deployments. Each failure a user can
 * meet has its own class (or, within a class, its own `reason`) and a
 * message that names what was wrong and where.
 *
 * @module
 */

/** Why a TCP connection to an SSH server failed before any SSH was spoken. */
export type ConnectFailure =
  /** Nothing listens on the port (ECONNREFUSED). */
  | "refused"
  /** No route to the host or its network. */
  | "unreachable"
  /** No SSH answer in time (a silent or filtered host). */
  | "timeout"
  /** The host name does not resolve. */
  | "dns"
  /** Something answered, but not an SSH server (or it broke the protocol). */
  | "protocol"
  /** A jump host could not open the way to the target. */
  | "jump";

/** An SSH server could not be reached (see `reason`). */
export class SshConnectError extends Error {
  /** What went wrong. */
  readonly reason: ConnectFailure;
  /** `user@host:port` of the server. */
  readonly destination: string;

  /** `detail` is the underlying error's text. */
  constructor(reason: ConnectFailure, destination: string, detail: string, cause?: unknown) {
    super(`cannot connect to ${destination}: ${connectFailureText(reason)} (${detail})`, { cause });
    this.name = "SshConnectError";
    this.reason = reason;
    this.destination = destination;
  }
}

function connectFailureText(reason: ConnectFailure): string {
  switch (reason) {
    case "refused":
      return "connection refused: nothing listens on that port";
    case "unreachable":
      return "host unreachable";
    case "timeout":
      return "no SSH answer in time: the host is down, filtered or not an SSH server";
    case "dns":
      return "the host name does not resolve";
    case "protocol":
      return "the server does not speak SSH as expected";
    case "jump":
      return "the jump host could not open a way to it";
    default:
      return reason satisfies never;
  }
}

/**
 * The server refused every way rdc had to log in, or an identity could not
 * be used. The message lists what was tried and what the server accepts.
 */
export class SshAuthenticationError extends Error {
  /** `user@host:port` of the server. */
  readonly destination: string;

  /** `message` says what was refused or unusable. */
  constructor(destination: string, message: string) {
    super(`authentication to ${destination} failed: ${message}`);
    this.name = "SshAuthenticationError";
    this.destination = destination;
  }
}

/** What is wrong with a server's host key. */
export type HostKeyProblem =
  /** No known_hosts entry names the host (mode `enforce`). */
  | "unknown"
  /** known_hosts holds other keys for the host: possibly an attack. */
  | "changed"
  /** The key is marked `@revoked`. */
  | "revoked";

/** Details of a {@linkcode HostKeyError}. */
export interface HostKeyErrorFields {
  /** The host as known_hosts names it: `host`, or `[host]:port` off port 22. */
  host: string;
  /** The type of the key the server presented (`ssh-ed25519`). */
  keyType: string;
  /** Its OpenSSH fingerprint (`SHA256:…`). */
  fingerprint: string;
  /** Where the conflicting or revoking entry is (`file:line`), if any. */
  entry?: string;
  /** The file a trusted key would be added to. */
  knownHostsFile: string;
  /**
   * How the reader turns on accept-new mode, as the message for an unknown
   * key words it: by default the option of `SshMachine.connect`,
   * `knownHosts: "accept-new"`; `rdc deploy` names its flag instead.
   */
  acceptNew?: string;
}

/** The server's host key is unknown, changed or revoked: rdc refused to talk to it. */
export class HostKeyError extends Error implements HostKeyErrorFields {
  /** What is wrong. */
  readonly problem: HostKeyProblem;
  /** See {@linkcode HostKeyErrorFields}. */
  readonly host: string;
  /** See {@linkcode HostKeyErrorFields}. */
  readonly keyType: string;
  /** See {@linkcode HostKeyErrorFields}. */
  readonly fingerprint: string;
  /** See {@linkcode HostKeyErrorFields}. */
  readonly entry?: string;
  /** See {@linkcode HostKeyErrorFields}. */
  readonly knownHostsFile: string;
  /** See {@linkcode HostKeyErrorFields}. */
  readonly acceptNew?: string;

  /** Builds the OpenSSH-style message from `fields`. */
  constructor(problem: HostKeyProblem, fields: HostKeyErrorFields) {
    super(hostKeyMessage(problem, fields));
    this.name = "HostKeyError";
    this.problem = problem;
    this.host = fields.host;
    this.keyType = fields.keyType;
    this.fingerprint = fields.fingerprint;
    this.entry = fields.entry;
    this.knownHostsFile = fields.knownHostsFile;
    this.acceptNew = fields.acceptNew;
  }
}

function hostKeyMessage(problem: HostKeyProblem, fields: HostKeyErrorFields): string {
  const presented = `${fields.keyType} key ${fields.fingerprint}`;
  switch (problem) {
    case "unknown":
      return `the host key of ${fields.host} is not known (${presented}): if that fingerprint ` +
        `is right, add the key to ${fields.knownHostsFile} (ssh-keyscan prints it) or connect ` +
        `once with ${fields.acceptNew ?? 'knownHosts: "accept-new"'}`;
    case "changed":
      return `the host key of ${fields.host} has changed: it presented ${presented}, but ` +
        `${fields.entry} holds another key for it. Someone may be intercepting the connection; ` +
        `if the host was reinstalled, remove that entry`;
    case "revoked":
      return `the host key of ${fields.host} (${presented}) is revoked by ${fields.entry}`;
    default:
      return problem satisfies never;
  }
}

/** A deployment failed on the remote host (bootstrap, platform, upload, start). */
export class DeployError extends Error {
  /** `user@host:port` of the machine. */
  readonly destination: string;

  /** `message` says what failed; the remote's stderr, when useful, is in it. */
  constructor(destination: string, message: string, cause?: unknown) {
    super(`deploying to ${destination} failed: ${message}`, { cause });
    this.name = "DeployError";
    this.destination = destination;
  }
}

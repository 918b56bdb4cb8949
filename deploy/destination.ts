/**
 * SSH destinations as users write them: `[user@]host[:port]`, with IPv6
 * addresses in brackets (`root@[::1]:2222`).
 *
 * @module
 */

/** The parts of a destination; the missing ones come from ~/.ssh/config or defaults. */
export interface Destination {
  /** The host (or a ~/.ssh/config alias). */
  host: string;
  /** The user, when given. */
  user?: string;
  /** The port, when given. */
  port?: number;
}

/**
 * Parses `[user@]host[:port]`.
 *
 * @throws {TypeError} naming the text when it is not a destination.
 */
export function parseDestination(text: string): Destination {
  const match = /^(?:([^@\s]+)@)?(?:\[([^\]\s]+)\]|([^:@\s\[\]]+))(?::(\d{1,5}))?$/.exec(text);
  const port = match?.[4] === undefined ? undefined : Number(match[4]);
  if (!match || (port !== undefined && (port < 1 || port > 65535))) {
    throw new TypeError(`invalid SSH destination '${text}': expected [USER@]HOST[:PORT]`);
  }
  const destination: Destination = { host: match[2] ?? match[3]! };
  if (match[1] !== undefined) destination.user = match[1];
  if (port !== undefined) destination.port = port;
  return destination;
}

/** `user@host:port`, brackets around an IPv6 host: how messages name a server. */
export function formatDestination(user: string, host: string, port: number): string {
  return `${user}@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Authenticators (RPyC's `authenticator=`): a server-side check that runs on
 * each raw connection before the rdc protocol starts, and the shared-secret
 * one rdc ships (its exchange, and the client's side, are in `token.ts`).
 *
 * @module
 */

import type * as Crypto from "node:crypto";
import { nodeBuiltin } from "../node_builtin.ts";
import { AuthenticationError } from "../errors.ts";
import { AddressBackoff, addressKey, type BackoffOptions } from "./backoff.ts";
import type { Incoming } from "./incoming.ts";
import { readExactly } from "../wire/transport.ts";
import { ACCEPTED, MAGIC, MAX_TOKEN } from "./token.ts";

/**
 * Decides whether a connection may go on, from the raw connection (read and
 * write it before rdc does), who connected and their TLS certificate:
 * returns its credentials (what the service sees as `conn.credentials`), or
 * throws to refuse it. A refusal is logged and closes that connection only.
 * Bounded by the server's `handshakeTimeout`: `signal` aborts when that
 * passes or the server closes, and an authenticator that waits on something
 * other than the connection should stop then.
 */
export type Authenticator = (incoming: Incoming, signal: AbortSignal) => unknown;

/** Options of {@linkcode tokenAuthenticator}. */
export interface TokenAuthenticatorOptions {
  /**
   * How wrong tokens slow down further attempts from the same client
   * address. Default: 100 ms after the first, doubling up to 5 s; an
   * address starts afresh after a right token or a minute without a wrong one.
   */
  backoff?: BackoffOptions;
}

/**
 * A shared-secret authenticator: the client must send `secret` (see
 * `ConnectionOptions.token`). The comparison takes the same time wherever
 * the bytes differ, and the secret is never logged. The credentials are
 * `{ token: true }`.
 *
 * Guessing is slowed down per client address (`Incoming.remoteHost`; IPv6
 * addresses by their /64, every unix socket client as one): after a wrong
 * token, the next attempt from that address is answered only after a wait
 * that doubles with each wrong token in a row (`options.backoff`), and
 * attempts from one address are answered one at a time, so parallel
 * connections gain nothing. The wait comes before the comparison and depends
 * on the address's history only, so it tells nothing about the token: a
 * right token from a throttled address waits too, while other addresses are
 * not slowed at all. An attempt still waiting when the server's
 * `handshakeTimeout` passes is refused unanswered.
 *
 * @throws {RangeError} for an empty or oversized secret, or bad backoff options.
 * @example
 * ```ts
 * import { classic, tokenAuthenticator } from "@rdc/rdc";
 * const secret = crypto.randomUUID();
 * await using server = classic.serve({ port: 0, authenticator: tokenAuthenticator(secret) });
 * // await classic.connect("127.0.0.1", port, { token: secret });
 * ```
 */
export function tokenAuthenticator(
  secret: string,
  options: TokenAuthenticatorOptions = {},
): Authenticator {
  const expected = new TextEncoder().encode(secret);
  if (expected.length === 0 || expected.length > MAX_TOKEN) {
    throw new RangeError(`the secret must be 1 to ${MAX_TOKEN} bytes long`);
  }
  const backoff = new AddressBackoff(options.backoff);
  const expectedDigest = digest(expected);
  return async ({ transport, remoteHost }, signal) => {
    const header = await readExactly(transport, MAGIC.length + 2);
    if (!header || !MAGIC.every((byte, i) => header[i] === byte)) {
      throw new AuthenticationError("the client sent no token");
    }
    const length = (header[MAGIC.length] << 8) | header[MAGIC.length + 1];
    const token = length <= MAX_TOKEN ? await readExactly(transport, length) : null;
    if (token === null) throw new AuthenticationError("wrong token");
    const turn = await backoff.turn(addressKey(remoteHost), signal);
    // Compare fixed-length digests so neither content nor length leaks through timing.
    const { timingSafeEqual } = nodeBuiltin<typeof Crypto>("node:crypto");
    if (!timingSafeEqual(await digest(token), await expectedDigest)) {
      turn.failed();
      throw new AuthenticationError("wrong token");
    }
    try {
      await transport.write(new Uint8Array([ACCEPTED]));
    } catch (error) {
      turn.abandoned();
      throw error;
    }
    turn.succeeded();
    return { token: true };
  };
}

/** SHA-256 of `bytes`. */
async function digest(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * Runs the authenticator on a new connection, within `timeout` and until
 * `stopping` (the server closing) aborts; without one, the credentials are
 * the TLS client certificate, or null.
 *
 * @throws what the authenticator threw, or a timeout.
 */
export async function authenticate(
  incoming: Incoming,
  authenticator: Authenticator | undefined,
  timeout: number,
  stopping?: AbortSignal,
): Promise<unknown> {
  if (!authenticator) return incoming.certificate;
  const controller = new AbortController();
  const abort = (reason: string) => controller.abort(new Error(reason));
  const timer = setTimeout(() => abort(`authentication took longer than ${timeout} ms`), timeout);
  const onStop = () => abort("the server is closing");
  stopping?.addEventListener("abort", onStop, { once: true });
  if (stopping?.aborted) onStop();
  const { signal } = controller;
  try {
    return await Promise.race([
      Promise.resolve(authenticator(incoming, signal)),
      new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        if (signal.aborted) reject(signal.reason);
      }),
    ]);
  } catch (error) {
    throw new Error(`refused by the authenticator: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
    stopping?.removeEventListener("abort", onStop);
  }
}

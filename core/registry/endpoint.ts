/**
 * What the registry asks of a transport: deliver each request with the
 * address it came from, send back the reply, and report what it could not
 * read.
 *
 * @module
 */

/** How a transport hands requests to the registry. */
export interface RequestHandler {
  /**
   * The reply to `request` from `host`, or `undefined` to send none (it was
   * malformed). `verified` says whether `host` is known to be the sender (a
   * TCP peer, after its handshake) rather than a claim (a UDP datagram's
   * source address, which anyone may forge).
   */
  respond(request: Uint8Array, host: string, verified: boolean): Uint8Array | undefined;
  /** Notes something from `host` that never became a request (a broken frame, a timeout). */
  ignore(host: string, reason: string): void;
}

/**
 * A transport listening for registry requests.
 *
 * Contract: every request received is handed to the handler, and any reply is
 * sent back to where the request came from. `close()` stops listening, ends
 * what is in progress, and is called once.
 */
export interface Endpoint {
  /** Where it listens, the port filled in when 0 was asked for. */
  readonly addr: Deno.NetAddr;
  /** Stops listening; resolves once it has. */
  close(): Promise<void>;
}

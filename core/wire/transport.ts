/**
 * The byte-stream layer: the one interface every carrier (TCP, unix socket,
 * TLS, a child's stdio, a web stream pair) is adapted to.
 *
 * @module
 */

/**
 * A duplex byte stream, owned by exactly one connection.
 *
 * Contract: `read` is never called again before its previous promise settles;
 * `write` likewise. `close` is idempotent and makes a pending `read` settle
 * (with `null` or an error). Neither method frames anything: the framing layer
 * above does.
 */
export interface Transport {
  /** Reads some bytes into `into`; resolves with the count, or null at end of stream. */
  read(into: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions. Idempotent. */
  close(): void;
  /**
   * Ends the writing direction only (a TCP FIN), so the peer reads all that
   * was written before the end; reading goes on. Optional: a carrier that
   * cannot do it lacks it.
   */
  closeWrite?(): void;
  /** A short description of the far end, for logs and errors (`tcp 127.0.0.1:18812`). */
  readonly description: string;
}

/** A pair of web streams carrying bytes, as `connectStream` accepts. */
export interface ByteStreams {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
}

/** Reads exactly `count` bytes from `transport`; null if the stream ends first. */
export async function readExactly(
  transport: Transport,
  count: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const out = new Uint8Array(count);
  for (let filled = 0; filled < count;) {
    const n = await transport.read(out.subarray(filled));
    if (n === null) return null;
    filled += n;
  }
  return out;
}

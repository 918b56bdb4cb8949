/**
 * Registry messages over TCP: each is a frame (a 4-byte big-endian length,
 * then the message), and each connection carries one request and its reply
 * within a deadline.
 *
 * @module
 */

import { readExactly, type Transport } from "../wire/transport.ts";
import { MAX_MESSAGE_SIZE } from "./messages.ts";

/** Writes `message` as one frame. */
export async function writeFrame(transport: Transport, message: Uint8Array): Promise<void> {
  const frame = new Uint8Array(4 + message.length);
  new DataView(frame.buffer).setUint32(0, message.length);
  frame.set(message, 4);
  await transport.write(frame);
}

/**
 * Reads one frame's message.
 *
 * @throws {Error} when the connection ends first, or the frame announces more than
 * {@linkcode MAX_MESSAGE_SIZE} bytes.
 */
export async function readFrame(transport: Transport): Promise<Uint8Array> {
  const header = await readExactly(transport, 4);
  const length = header && new DataView(header.buffer).getUint32(0);
  if (length !== null && length > MAX_MESSAGE_SIZE) {
    throw new Error(`a frame of ${length} bytes (the limit is ${MAX_MESSAGE_SIZE})`);
  }
  const message = length === null ? null : await readExactly(transport, length);
  if (message === null) throw new Error("the connection ended inside a message");
  return message;
}

/** A timer that runs `expire` after `ms` unless disposed first; `expired` tells whether it ran. */
export function deadline(
  ms: number,
  expire: () => void,
): Disposable & { readonly expired: boolean } {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    expire();
  }, ms);
  return {
    get expired() {
      return expired;
    },
    [Symbol.dispose]: () => clearTimeout(timer),
  };
}

/** Closes a connection or listener if it is still open. */
export function closeQuietly(resource: { close(): void } | undefined): void {
  try {
    resource?.close();
  } catch {
    // Closed already: by the deadline, by the peer's end, or by closing the registry.
  }
}

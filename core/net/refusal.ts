/**
 * Reading a server's refusal where a client expected something else: a
 * client that presents a token reads a one-byte answer, but a server that
 * refused the connection before reading the token (it is full) sent a CLOSE
 * frame instead, as it would in place of its HELLO.
 *
 * @module
 */

import { Decoder } from "@msgpack/msgpack";
import { FrameReader } from "../wire/framing.ts";
import { Msg } from "../wire/messages.ts";
import type { Transport } from "../wire/transport.ts";

/** A refusal's reason is short; anything longer is not one. */
const MAX_REFUSAL = 4096;
/** How long to wait for the rest of the frame: a refusing server has sent it all at once. */
const REST_MS = 1_000;

/**
 * The reason in the CLOSE frame that `first` (a byte already read) begins,
 * or null when what arrives is not a refusal. Never throws.
 */
export async function readRefusal(transport: Transport, first: number): Promise<string | null> {
  let pending: number | null = first;
  const rest: Transport = {
    description: transport.description,
    read(into) {
      if (pending === null) return transport.read(into);
      into[0] = pending;
      pending = null;
      return Promise.resolve(1);
    },
    write: (bytes) => transport.write(bytes),
    close: () => transport.close(),
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const payload = await Promise.race([
      new FrameReader(rest, MAX_REFUSAL).next(),
      new Promise<null>((resolve) => timer = setTimeout(resolve, REST_MS, null)),
    ]);
    if (payload === null) return null;
    const message = new Decoder().decode(payload);
    return Array.isArray(message) && message[0] === Msg.Close && typeof message[1] === "string"
      ? message[1]
      : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

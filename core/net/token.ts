/**
 * The token exchange of `tokenAuthenticator` (auth.ts), before the HELLOs,
 * and the client's side of it. Only web APIs: the browser entry (web.ts)
 * reaches this file.
 *
 * ```
 * client → server   "rdc-token" (9 bytes)  length:uint16-big-endian  token:byte[length]
 * server → client   0x01                   (accepted; anything else, or the end, is a refusal)
 * ```
 *
 * A server that refuses the connection before reading the token (it is
 * full, say) answers with a CLOSE frame, as it would in place of its HELLO.
 *
 * @module
 */

import { AuthenticationError, peerFault } from "../errors.ts";
import { readExactly, type Transport } from "../wire/transport.ts";
import { AUTHENTICATION_FAILED, readRefusal } from "../wire/handshake.ts";

/** What a token message starts with. */
export const MAGIC: Uint8Array = new TextEncoder().encode("rdc-token");
/** The server's one-byte answer to a token it accepts. */
export const ACCEPTED = 0x01;
/** The longest token, in bytes. */
export const MAX_TOKEN = 4096;

/**
 * The client's side of {@linkcode tokenAuthenticator}: sends `token` and
 * waits for the server's answer.
 *
 * @throws {AuthenticationError} when the server refuses it (or closes).
 * @throws {ProtocolError} when the server refused the connection before
 *   reading the token (it is full, say), naming its reason.
 */
export async function presentToken(transport: Transport, token: string): Promise<void> {
  const bytes = new TextEncoder().encode(token);
  if (bytes.length > MAX_TOKEN) throw new RangeError(`a token is at most ${MAX_TOKEN} bytes`);
  const message = new Uint8Array(MAGIC.length + 2 + bytes.length);
  message.set(MAGIC);
  message[MAGIC.length] = bytes.length >> 8;
  message[MAGIC.length + 1] = bytes.length & 0xff;
  message.set(bytes, MAGIC.length + 2);
  await transport.write(message);
  const answer = await readExactly(transport, 1).catch(() => null);
  if (answer?.[0] === ACCEPTED) return;
  // A server that refused us before reading the token said why in a CLOSE frame.
  const reason = answer ? await readRefusal(transport, answer[0]!) : null;
  if (reason !== null && reason !== AUTHENTICATION_FAILED) {
    throw peerFault(`${transport.description} refused the connection: ${reason}`);
  }
  throw new AuthenticationError(`${transport.description} refused the token`);
}

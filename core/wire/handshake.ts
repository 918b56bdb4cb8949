/**
 * The handshake: the HELLO each end sends first, and the checks on the one it
 * receives (core/PROTOCOL.md, "HELLO").
 *
 * @module
 */

import {
  AuthenticationError,
  ConnectionClosedError,
  isPeerFault,
  peerFault,
  withContext,
} from "../errors.ts";
import type { ReadableFrameChannel, ReceivedMessage } from "./channel.ts";
import { frame } from "./framing.ts";
import type { AnnouncedLimits } from "./limits.ts";
import { checkOffers, type CompressionOffer } from "./compression.ts";
import { Msg, readMessage, writeClose } from "./messages.ts";
import { ByteReader, ByteWriter } from "./msgpack.ts";
import { readExactly, type Transport } from "./transport.ts";

/** What a peer's HELLO told us. */
export interface PeerInfo {
  /** Its service's name. */
  service: string;
  /** Every name its service answers to. */
  aliases: string[];
  /** The members we may reach on its service. */
  members: ReadonlySet<string>;
  /** What the peer accepts: our messages must fit. */
  limits: AnnouncedLimits;
  /**
   * Chunks of a `ReadableStream` the peer takes ahead of its reader: how
   * many to push it first; 0 when it takes no PUSH.
   */
  streamWindow: number;
  /** What the peer offers of compression. */
  compression: CompressionOffer;
}

/** What the checks on the peer's HELLO need. */
export interface HelloExpectations {
  /** The version this end speaks. */
  version: number;
  /** Milliseconds to wait for the HELLO. */
  timeout: number;
  /** A service name or alias the peer must have, if any. */
  expectService?: string;
  /** The far end, for messages. */
  description: string;
  /** What this end offers of compression: a required algorithm the peer lacks refuses it. */
  compression: CompressionOffer;
}

/**
 * Reads and checks the peer's HELLO, the first message on `channel`.
 *
 * @throws {ProtocolError} for silence past the timeout, a stranger, a CLOSE
 *   (the peer refused us), another version, or the wrong service.
 * @throws {AuthenticationError} when the peer's authenticator refused us.
 * @throws {ConnectionClosedError} when the stream ends first.
 */
export async function receiveHello(
  channel: ReadableFrameChannel,
  expect: HelloExpectations,
): Promise<PeerInfo> {
  const where = expect.description;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const message = await Promise.race([
    channel.receive().catch((error) => notRdc(error, where)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(peerFault(`no handshake from ${where} within ${expect.timeout} ms`)),
        expect.timeout,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const peer = checkHello(message, expect);
  // Read: what it held goes back (a channel that closes gives back everything anyway).
  if (message) channel.release(message);
  return peer;
}

/**
 * Checks `message`, the first one the peer sent (null: the stream ended
 * before it), as its HELLO; {@linkcode receiveHello} without the waiting,
 * for a driver that reads the channel itself.
 *
 * @throws as {@linkcode receiveHello}.
 */
export function checkHello(message: ReceivedMessage | null, expect: HelloExpectations): PeerInfo {
  const where = expect.description;
  if (message === null) throw new ConnectionClosedError(`${where} closed before the handshake`);
  const reader = new ByteReader(message.body);
  let head;
  try {
    head = readMessage(reader);
  } catch (error) {
    notRdc(error, where);
  }
  if (head!.type === Msg.Close) {
    const reason = head!.reason;
    if (reason === AUTHENTICATION_FAILED) {
      throw new AuthenticationError(`${where} refused the connection: ${AUTHENTICATION_FAILED}`);
    }
    throw peerFault(`${where} refused the connection: ${reason}`);
  }
  const hello = head!;
  if (hello.type !== Msg.Hello) throw peerFault(`${where} is not an rdc peer (bad handshake)`);
  if (hello.version !== expect.version) {
    throw peerFault(
      `protocol version mismatch: this end speaks version ${expect.version}, ` +
        `the peer speaks version ${hello.version}`,
    );
  }
  if (hello.limits === null || reader.remaining !== 0) {
    throw peerFault(`${where} sent a malformed handshake`);
  }
  const wanted = expect.expectService?.toLowerCase();
  if (wanted && !hello.aliases.some((alias) => alias.toLowerCase() === wanted)) {
    throw peerFault(
      `expected service '${expect.expectService}', the peer serves '${hello.service}'`,
    );
  }
  checkOffers(expect.compression, hello.compression);
  return {
    service: hello.service,
    aliases: hello.aliases,
    members: new Set(hello.members),
    limits: hello.limits,
    streamWindow: hello.streamWindow,
    compression: hello.compression,
  };
}

/**
 * Whatever fails to parse before the first message is a stranger speaking
 * something else; any other failure gets the peer's address.
 */
export function notRdc(error: unknown, where: string): never {
  if (!isPeerFault(error)) throw withContext(error, where);
  throw peerFault(`${where} is not an rdc peer (bad handshake: ${(error as Error).message})`);
}

/** The reason a server gives a client its authenticator refused (never the details). */
export const AUTHENTICATION_FAILED = "authentication failed";

/** A CLOSE frame, sent in place of HELLO to refuse a connection before any session exists. */
export function refusalFrame(reason: string): Uint8Array {
  const writer = new ByteWriter();
  writeClose(writer, reason.slice(0, 1000));
  return frame(writer.bytes());
}

/** A refusal's reason is short; a frame announcing more is not one. */
const MAX_REFUSAL = 4096;
/** How long to wait for the rest of a refusal: a refusing server sends it all at once. */
const REFUSAL_WAIT_MS = 1_000;

/**
 * The reason in the CLOSE frame that `first` (its first byte, already read)
 * begins, where a client expected something else (the token's answer), or
 * null when what arrives is not a refusal. Never throws.
 */
export async function readRefusal(transport: Transport, first: number): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = async (): Promise<string | null> => {
    const rest = await readExactly(transport, 3);
    if (!rest) return null;
    const length = ((first << 24) | (rest[0] << 16) | (rest[1] << 8) | rest[2]) >>> 0;
    if (length > MAX_REFUSAL) return null;
    const payload = await readExactly(transport, length);
    if (!payload) return null;
    const head = readMessage(new ByteReader(payload));
    return head.type === Msg.Close ? head.reason : null;
  };
  try {
    return await Promise.race([
      read(),
      new Promise<null>((resolve) => timer = setTimeout(resolve, REFUSAL_WAIT_MS, null)),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Refuses a connection before its session: CLOSE with `reason`, then close. Never throws. */
export async function refuse(transport: Transport, reason: string): Promise<void> {
  await transport.write(refusalFrame(reason)).catch(() => {});
  transport.close();
}

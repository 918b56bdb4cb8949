/**
 * The handshake: the HELLO each end sends first, and the checks on the one it
 * receives (core/PROTOCOL.md, "HELLO").
 *
 * @module
 */

import type { MessageCodec } from "./codec.ts";
import { Encoder } from "@msgpack/msgpack";
import {
  AuthenticationError,
  ConnectionClosedError,
  isPeerFault,
  peerFault,
  withContext,
} from "../errors.ts";
import { frame, type FrameReader } from "./framing.ts";
import type { Transport } from "./transport.ts";
import { checkMessage, Msg, PROTOCOL_MAGIC } from "./messages.ts";

/** What a peer's HELLO told us. */
export interface PeerInfo {
  /** Its service's name. */
  service: string;
  /** Every name its service answers to. */
  aliases: string[];
  /** The members we may reach on its service. */
  members: ReadonlySet<string>;
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
}

/** This end's HELLO. */
export function helloMessage(version: number, aliases: string[], members: string[]): unknown[] {
  return [Msg.Hello, PROTOCOL_MAGIC, version, aliases[0], aliases, members];
}

/**
 * Reads and checks the peer's HELLO.
 *
 * @throws {ProtocolError} for silence past the timeout, a stranger, a CLOSE
 *   (the peer refused us), another version, or the wrong service.
 * @throws {ConnectionClosedError} when the stream ends first.
 */
export async function receiveHello(
  reader: FrameReader,
  codec: MessageCodec,
  expect: HelloExpectations,
): Promise<PeerInfo> {
  const where = expect.description;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Whatever fails to parse before the first message is a stranger speaking something else.
  const notRdc = (error: unknown): never => {
    if (!isPeerFault(error)) throw withContext(error, where);
    throw peerFault(`${where} is not an rdc peer (bad handshake: ${(error as Error).message})`);
  };
  const payload = await Promise.race([
    reader.next().catch(notRdc),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(peerFault(`no handshake from ${where} within ${expect.timeout} ms`)),
        expect.timeout,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (payload === null) throw new ConnectionClosedError(`${where} closed before the handshake`);
  let raw: unknown;
  try {
    raw = codec.decode(payload);
  } catch (error) {
    notRdc(error);
  }
  if (Array.isArray(raw) && raw[0] === Msg.Close && typeof raw[1] === "string") {
    if (raw[1] === AUTHENTICATION_FAILED) {
      throw new AuthenticationError(`${where} refused the connection: ${AUTHENTICATION_FAILED}`);
    }
    throw peerFault(`${where} refused the connection: ${raw[1]}`);
  }
  if (!Array.isArray(raw) || raw[0] !== Msg.Hello || raw[1] !== PROTOCOL_MAGIC) {
    throw peerFault(`${where} is not an rdc peer (bad handshake)`);
  }
  const hello = checkMessage(raw);
  if (hello[0] !== Msg.Hello) throw peerFault("bad handshake");
  const [, , version, service, aliases, members] = hello;
  if (version !== expect.version) {
    throw peerFault(
      `protocol version mismatch: this end speaks version ${expect.version}, ` +
        `the peer speaks version ${version}`,
    );
  }
  const wanted = expect.expectService?.toLowerCase();
  if (wanted && !aliases.some((alias) => alias.toLowerCase() === wanted)) {
    throw peerFault(
      `expected service '${expect.expectService}', the peer serves '${service}'`,
    );
  }
  return { service, aliases, members: new Set(members) };
}

/** The reason a server gives a client its authenticator refused (never the details). */
export const AUTHENTICATION_FAILED = "authentication failed";

/** A CLOSE frame, sent in place of HELLO to refuse a connection before any session exists. */
export function refusalFrame(reason: string): Uint8Array {
  return frame(new Encoder().encode([Msg.Close, reason]));
}

/** Refuses a connection before its session: CLOSE with `reason`, then close. Never throws. */
export async function refuse(transport: Transport, reason: string): Promise<void> {
  await transport.write(refusalFrame(reason)).catch(() => {});
  transport.close();
}

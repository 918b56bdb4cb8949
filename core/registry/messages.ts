/**
 * The registry's messages: their shapes, and the checks each end applies to
 * what it receives. core/registry/PROTOCOL.md specifies them; keep it true.
 *
 * @module
 */

/** RPyC's registry port, ours too. */
export const REGISTRY_PORT = 18811;

/** The key every message carries; its value is the protocol version. */
const MAGIC = "rdc-registry";
/** The registry protocol version this code speaks. */
const VERSION = 1;

/** The largest message either end sends or accepts: the largest IPv4 UDP payload. */
export const MAX_MESSAGE_SIZE = 65_507;
/** The most names one REGISTER may carry. */
const MAX_NAMES = 64;
/** The longest service name, in UTF-16 code units. */
const MAX_NAME_LENGTH = 255;

/** How a registry is reached: datagrams, or one TCP connection per request. */
export type RegistryMode = "UDP" | "TCP";
/** Every {@linkcode RegistryMode}. */
export const REGISTRY_MODES: readonly RegistryMode[] = ["UDP", "TCP"];

/** Checks a mode a caller passed (JavaScript callers have no types to stop "udp"). */
export function checkMode(mode: RegistryMode): RegistryMode {
  if (!REGISTRY_MODES.includes(mode)) {
    throw new TypeError(`unknown registry mode '${mode}': expected UDP or TCP`);
  }
  return mode;
}

/** A server as the registry knows it: the address its registration came from, and its port. */
export interface ServerAddress {
  /** The source address of the server's REGISTER. */
  host: string;
  /** The port the server said it listens on. */
  port: number;
}

/** What a client asks the registry, without the id it draws for the request. */
export type RequestBody =
  | { command: "REGISTER"; names: string[]; port: number }
  | { command: "UNREGISTER"; port: number }
  | { command: "QUERY"; name: string }
  | { command: "LIST" };

/**
 * What proves a REGISTER or UNREGISTER comes from a holder of the registry's
 * secret: when it was signed (ms since the epoch) and the signature.
 */
export interface Signature {
  /** Milliseconds since the epoch when the client signed the request. */
  time: number;
  /** HMAC-SHA256 of the request's signed text under the secret, in hex. */
  auth: string;
}

/** A request as it travels: its body, the id its reply echoes, and a signature when it has one. */
export type Request = RequestBody & { id: number } & Partial<Signature>;

/** The registry's answer to each command, when it grants the request. */
export interface Replies {
  REGISTER: { ok: true };
  UNREGISTER: { ok: true };
  QUERY: { servers: ServerAddress[] };
  LIST: { names: string[] };
}

/**
 * The registry's answer to a request: what the command asked for, why it
 * was refused, or `truncated` when the answer is too large for a datagram
 * to that sender (ask again over TCP).
 */
export type Reply = Replies[keyof Replies] | { error: string } | { truncated: true };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A message as it travels: UTF-8 JSON with the magic key and the request's id. */
export function encodeMessage(
  id: number,
  body: RequestBody | Reply | (RequestBody & Signature),
): Uint8Array {
  return encoder.encode(JSON.stringify({ [MAGIC]: VERSION, id, ...body }));
}

/**
 * The smallest UDP request a client sends: it pads shorter ones, so that a
 * registry may answer up to {@linkcode AMPLIFICATION_FACTOR} times as much
 * (QUIC's rule for an unverified address) and still fit most answers.
 */
export const PADDED_REQUEST_SIZE = 1_200;
/** How many times larger than its request a reply to an unverified UDP source may be. */
export const AMPLIFICATION_FACTOR = 3;

/** `message` (encoded JSON), padded with spaces to {@linkcode PADDED_REQUEST_SIZE} bytes. */
export function padded(message: Uint8Array): Uint8Array {
  if (message.length >= PADDED_REQUEST_SIZE) return message;
  const bytes = new Uint8Array(PADDED_REQUEST_SIZE).fill(0x20); // JSON allows trailing spaces
  bytes.set(message);
  return bytes;
}

/**
 * Reads a request.
 *
 * @throws {TypeError} saying what is wrong, for anything that is not a valid request.
 */
export function parseRequest(bytes: Uint8Array): Request {
  const message = parseMessage(bytes);
  if (message === undefined) throw new TypeError("not an rdc registry request");
  const fail = (what: string): never => {
    throw new TypeError(`malformed ${message.command} request: ${what}`);
  };
  const command = message.command as Request["command"];
  if (message.time !== undefined || message.auth !== undefined) {
    if (!Number.isFinite(message.time)) fail("bad time");
    if (typeof message.auth !== "string" || !/^[0-9a-f]{64}$/.test(message.auth)) fail("bad auth");
  }
  switch (command) {
    case "REGISTER":
      if (!Array.isArray(message.names) || message.names.length === 0) fail("no names");
      if ((message.names as unknown[]).length > MAX_NAMES) fail(`more than ${MAX_NAMES} names`);
      if (!(message.names as unknown[]).every(isName)) fail("bad name");
      if (!isPort(message.port)) fail("bad port");
      return message as Request;
    case "UNREGISTER":
      if (!isPort(message.port)) fail("bad port");
      return message as Request;
    case "QUERY":
      if (!isName(message.name)) fail("bad name");
      return message as Request;
    case "LIST":
      return message as Request;
    default:
      command satisfies never;
      // Cut short: the log line should not carry whatever a stranger sent.
      throw new TypeError(
        `unknown command ${String(JSON.stringify(message.command)).slice(0, 40)}`,
      );
  }
}

/**
 * Reads the reply to `request`; `undefined` when `bytes` are not one (another
 * request's reply, a stranger's datagram, a malformed message).
 */
export function parseReply(bytes: Uint8Array, request: Request): Reply | undefined {
  const message = parseMessage(bytes);
  if (message?.id !== request.id) return undefined;
  if (typeof message.error === "string") return { error: message.error };
  if (message.truncated === true) return { truncated: true };
  switch (request.command) {
    case "REGISTER":
    case "UNREGISTER":
      return message.ok === true ? { ok: true } : undefined;
    case "QUERY": {
      const servers = message.servers;
      const valid = Array.isArray(servers) &&
        servers.every((s) => typeof s?.host === "string" && isPort(s.port));
      return valid ? { servers: servers.map(({ host, port }) => ({ host, port })) } : undefined;
    }
    case "LIST": {
      const names = message.names;
      return Array.isArray(names) && names.every(isName) ? { names } : undefined;
    }
    default:
      request satisfies never;
      return undefined;
  }
}

// deno-lint-ignore no-explicit-any
type Fields = Record<string, any>;

/** Decodes a message of this protocol version with an id; `undefined` for anything else. */
function parseMessage(bytes: Uint8Array): Fields | undefined {
  if (bytes.length > MAX_MESSAGE_SIZE) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) return undefined;
  const fields = message as Fields;
  const valid = fields[MAGIC] === VERSION && Number.isInteger(fields.id) && fields.id >= 0 &&
    fields.id <= 0xffffffff;
  return valid ? fields : undefined;
}

function isName(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_NAME_LENGTH;
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}

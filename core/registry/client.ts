/**
 * The registry client: how servers announce themselves and clients find them.
 *
 * @module
 */

import { DiscoveryError } from "./errors.ts";
import {
  checkMode,
  encodeMessage,
  padded,
  parseReply,
  REGISTRY_PORT,
  type RegistryMode,
  type Replies,
  type Reply,
  type Request,
  type RequestBody,
  type ServerAddress,
} from "./messages.ts";
import { tcpRoundTrip, udpRoundTrip } from "./round_trip.ts";
import { type Secret, sign } from "./signature.ts";
import { encodeRpycRequest, parseRpycReply, rpycTcpRoundTrip } from "./rpyc_messages.ts";

/** The UDP client's default host: a broadcast to the local network. */
export const BROADCAST = "255.255.255.255";

/** Options of {@linkcode RegistryClient}. */
export interface RegistryClientOptions {
  /** How to reach the registry. Default `"UDP"`. */
  mode?: RegistryMode;
  /**
   * The registry's address. Default for UDP `"255.255.255.255"`: a broadcast
   * that reaches every registry on the local network listening on a wildcard
   * address (RPyC's default). Required for TCP.
   */
  host?: string;
  /** The registry's port. Default 18811. */
  port?: number;
  /** Milliseconds to wait for each reply. Default 2 000. */
  timeout?: number;
  /**
   * The registry's shared secret (`rdc registry --secret-file`): REGISTER
   * and UNREGISTER are signed with it. Default: none (unsigned, which a
   * registry with a secret refuses).
   */
  secret?: Secret;
  /**
   * The registry's protocol: `"rdc"` (rdc's JSON registry, `rdc registry`)
   * or `"rpyc"` (Python's `rpyc_registry`, brine, unsigned; discovery then
   * finds Python servers, and servers registered with it are found by Python
   * clients). Default `"rdc"`.
   */
  protocol?: "rdc" | "rpyc";
}

/**
 * Talks to a registry (RPyC's `UDPRegistryClient` and `TCPRegistryClient`).
 *
 * Contract: each call is one request and its reply, over a socket of its own
 * (a datagram each way over UDP; a connection per request over TCP), so a
 * client holds nothing between calls and needs no closing. Every failure —
 * no reply within `timeout`, no connection, a refusal — rejects with a
 * {@linkcode DiscoveryError} that names the registry. Over UDP the first
 * registry to reply answers the call; UDP requests are padded (see
 * core/registry/PROTOCOL.md, "Abuse"), and a reply marked `truncated` is
 * asked for again over TCP, from the registry that sent it.
 *
 * @example
 * ```ts
 * import { RegistryClient } from "@rdc/rdc";
 * const registry = new RegistryClient({ host: "127.0.0.1" });
 * for (const { host, port } of await registry.discover("Echo")) console.log(host, port);
 * ```
 */
export class RegistryClient {
  /** How the registry is reached. */
  readonly mode: RegistryMode;
  /** The registry's address (or the broadcast address). */
  readonly host: string;
  /** The registry's port. */
  readonly port: number;
  /** Milliseconds to wait for each reply. */
  readonly timeout: number;
  readonly #secret: Secret | undefined;
  /** The registry's protocol. */
  readonly protocol: "rdc" | "rpyc";

  /**
   * A client of the registry `options` name (nothing is sent yet).
   *
   * @throws {TypeError} for an unknown mode, or TCP without a host.
   */
  constructor(options: RegistryClientOptions = {}) {
    this.mode = checkMode(options.mode ?? "UDP");
    if (this.mode === "TCP" && options.host === undefined) {
      throw new TypeError("a TCP registry client needs the registry's host");
    }
    this.host = options.host ?? BROADCAST;
    this.port = options.port ?? REGISTRY_PORT;
    this.timeout = options.timeout ?? 2_000;
    this.#secret = options.secret;
    this.protocol = options.protocol ?? "rdc";
    if (this.protocol !== "rdc" && this.protocol !== "rpyc") {
      throw new TypeError(`unknown registry protocol '${this.protocol}': expected rdc or rpyc`);
    }
    if (this.protocol === "rpyc" && this.#secret !== undefined) {
      throw new TypeError("Python's rpyc_registry takes no secret: drop it, or use protocol rdc");
    }
  }

  /** `udp 127.0.0.1:18811`, for messages. */
  get description(): string {
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `${this.mode.toLowerCase()} ${host}:${this.port}`;
  }

  /**
   * Registers a server listening on `port` under every one of `names`; the
   * registry records the address the request came from as its host.
   */
  async register(names: readonly string[], port: number): Promise<void> {
    await this.#request({ command: "REGISTER", names: [...names], port });
  }

  /** Unregisters the server on `port` at this host from every name. */
  async unregister(port: number): Promise<void> {
    await this.#request({ command: "UNREGISTER", port });
  }

  /** The live servers of service `name` (case-insensitive), oldest registration first; may be empty. */
  async discover(name: string): Promise<ServerAddress[]> {
    return (await this.#request({ command: "QUERY", name })).servers;
  }

  /**
   * The names (in upper case) that have live servers.
   *
   * @throws {DiscoveryError} also when the registry does not allow listing.
   */
  async list(): Promise<string[]> {
    return (await this.#request({ command: "LIST" })).names;
  }

  async #request<B extends RequestBody>(body: B): Promise<Replies[B["command"]]> {
    const id = crypto.getRandomValues(new Uint32Array(1))[0]!;
    const signed = this.#secret !== undefined &&
      (body.command === "REGISTER" || body.command === "UNREGISTER");
    const sent = signed ? { ...body, ...sign(this.#secret!, body, id) } : body;
    const request = { ...sent, id } as Request;
    const message = this.protocol === "rpyc" ? encodeRpycRequest(body) : encodeMessage(id, sent);
    const reply = await this.#roundTrip(request, message);
    if ("error" in reply) {
      throw new DiscoveryError(
        `the registry at ${this.description} refused ${body.command}: ${reply.error}`,
      );
    }
    return reply as Replies[B["command"]];
  }

  /** Sends `message` (which is `request`) and waits for its reply. */
  async #roundTrip(request: Request, message: Uint8Array): Promise<Reply> {
    const rpyc = this.protocol === "rpyc";
    const parse = (bytes: Uint8Array) =>
      rpyc ? parseRpycReply(bytes, request) : parseReply(bytes, request);
    const tcp = async (host: string) => {
      const roundTrip = rpyc ? rpycTcpRoundTrip : tcpRoundTrip;
      const reply = parse(await roundTrip(host, this.port, message, this.timeout));
      if (reply === undefined) {
        throw new DiscoveryError(`the registry at ${this.description} sent a malformed reply`);
      }
      return reply;
    };
    try {
      switch (this.mode) {
        case "UDP": {
          const answer = await udpRoundTrip(
            this.host,
            this.port,
            rpyc ? message : padded(message),
            (bytes, from) => {
              const reply = parse(bytes);
              return reply === undefined ? undefined : { reply, from };
            },
            this.timeout,
          );
          if (answer === undefined) {
            throw new DiscoveryError(
              `no registry answered at ${this.description} within ${this.timeout} ms`,
            );
          }
          // Too large for a datagram to an address it has not verified: ask that registry over TCP.
          return "truncated" in answer.reply ? await tcp(answer.from) : answer.reply;
        }
        case "TCP":
          return await tcp(this.host);
        default:
          this.mode satisfies never;
          throw new TypeError(`unknown registry mode '${this.mode}'`);
      }
    } catch (error) {
      if (error instanceof DiscoveryError) throw error;
      throw new DiscoveryError(
        `cannot reach the registry at ${this.description}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

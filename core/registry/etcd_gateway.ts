/**
 * etcd's v3 JSON gateway (the gRPC API as JSON over HTTP), spoken with
 * `fetch`.
 *
 * Why the gateway and not `npm:etcd3`: the gateway needs no dependency (the
 * package's only npm deps stay `@msgpack/msgpack` and `ssh2`), runs in every
 * runtime that has `fetch`, and does all a registrar needs — leases, puts,
 * ranges and a watch stream — in one request each; `etcd3` would bring gRPC
 * (`@grpc/grpc-js` and protobuf loading) for the same five calls.
 *
 * @module
 */

import { DiscoveryError } from "./errors.ts";

/** A key and value as the gateway returns them (both base64, numbers as strings). */
export interface GatewayKeyValue {
  key: string;
  value?: string;
  create_revision?: string;
}

/** One event of a watch stream: a put (no `type`) or a `DELETE`. */
export interface GatewayEvent {
  type?: "PUT" | "DELETE";
  kv: GatewayKeyValue;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` as the gateway carries bytes: base64 of its UTF-8. */
export function toBase64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The text of base64 `data`. */
export function fromBase64(data: string): string {
  return decoder.decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
}

/** The end of the range of every key that starts with `prefix` (etcd's "prefix end"). */
export function prefixEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i]!++;
      let binary = "";
      for (const byte of end) binary += String.fromCharCode(byte);
      return btoa(binary);
    }
  }
  return btoa("\0"); // every key from `prefix` on
}

/**
 * One etcd cluster member's gateway at `url` (`http://127.0.0.1:2379`).
 *
 * Contract: every call is one HTTP request; a failure (no answer, an HTTP or
 * etcd error, a malformed reply) rejects with a {@linkcode DiscoveryError}
 * that names the URL and the call. Holds nothing between calls.
 */
export class EtcdGateway {
  readonly #base: string;

  /** A gateway at `url`. @throws {TypeError} when `url` is not an http(s) URL. */
  constructor(readonly url: string, readonly timeout: number) {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(`an etcd URL is http:// or https://, not '${url}'`);
    }
    this.#base = url.replace(/\/+$/, "");
  }

  /** Posts `body` to `/v3/<path>` and returns the parsed JSON reply. */
  async call<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.#post(path, body, signal);
    try {
      return await response.json() as T;
    } catch (error) {
      throw new DiscoveryError(`etcd at ${this.url} sent a malformed reply to ${path}`, {
        cause: error,
      });
    }
  }

  /**
   * Posts `body` to the streaming `/v3/<path>` and yields each JSON object
   * of its reply (one per line) until the stream ends or `signal` aborts.
   */
  async *stream<T>(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<T> {
    const response = await this.#post(path, body, signal, false);
    let pending = "";
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        pending += value;
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line !== "") yield JSON.parse(line) as T;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  async #post(
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    bounded = true,
  ): Promise<Response> {
    const signals = bounded ? [AbortSignal.timeout(this.timeout)] : [];
    if (signal) signals.push(signal);
    let response: Response;
    try {
      response = await fetch(`${this.#base}/v3/${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new DiscoveryError(
        `cannot reach etcd at ${this.url} (${path}): ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      let reason = text;
      try {
        reason = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // Not JSON: the text itself says what went wrong.
      }
      throw new DiscoveryError(
        `etcd at ${this.url} refused ${path} (HTTP ${response.status}): ${reason}`,
      );
    }
    return response;
  }
}

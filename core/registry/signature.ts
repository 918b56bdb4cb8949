/**
 * Shared-secret registrations: a client that holds the registry's secret
 * signs each REGISTER and UNREGISTER; the registry accepts only those it can
 * verify, each once, within a short window.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type * as Crypto from "node:crypto";
import { nodeBuiltin } from "../node_builtin.ts";
import type { Request, RequestBody, Signature } from "./messages.ts";

/** How far a signed request's time may be from the registry's clock, either way. */
export const SIGNATURE_WINDOW_MS = 30_000;

/** A secret as options take it: its text (a file's content, trimmed) or its bytes. */
export type Secret = string | Uint8Array;

/** What is signed: the command, the id, the time and the fields that change what it does. */
function signedText(body: RequestBody, id: number, time: number): string {
  switch (body.command) {
    case "REGISTER":
      return `REGISTER\n${id}\n${time}\n${body.port}\n${body.names.join("\n")}`;
    case "UNREGISTER":
      return `UNREGISTER\n${id}\n${time}\n${body.port}`;
    case "QUERY":
    case "LIST":
      return `${body.command}\n${id}\n${time}`;
    default:
      body satisfies never;
      throw new TypeError("unknown command");
  }
}

function hmac(secret: Secret, text: string): Buffer {
  return nodeCrypto().createHmac("sha256", secret).update(text).digest();
}

/** The signature of `body` (with `id`) under `secret`, made now. */
export function sign(secret: Secret, body: RequestBody, id: number): Signature {
  const time = Date.now();
  return { time, auth: hmac(secret, signedText(body, id, time)).toString("hex") };
}

/**
 * Checks signed requests against a secret.
 *
 * Contract: `check` returns why `request` from `host` is refused, or
 * `undefined` when it carries a valid signature made within
 * {@linkcode SIGNATURE_WINDOW_MS} of now, seen before from no other host:
 * a client's resends of a lost request pass, a captured request replayed
 * from another address does not (the registry records the sender's address
 * as the server's). Remembers what it accepted for twice the window, no
 * longer.
 */
export class SignatureCheck {
  readonly #secret: Secret;
  /** Accepted signatures → who sent them, and when they may be forgotten. */
  readonly #seen = new Map<string, { host: string; until: number }>();

  /** Checks against `secret`. @throws {TypeError} for an empty secret. */
  constructor(secret: Secret) {
    if (secret.length === 0) throw new TypeError("the registry's secret is empty");
    this.#secret = secret;
  }

  /** Why `request` is refused, or `undefined` to accept it (see the class contract). */
  check(request: Request, host: string): string | undefined {
    if (request.auth === undefined || request.time === undefined) {
      return "this registry accepts signed registrations only (the client lacks the secret)";
    }
    const now = Date.now();
    if (Math.abs(now - request.time) > SIGNATURE_WINDOW_MS) {
      return "the signature is too old or too new (are the clocks in sync?)";
    }
    const expected = hmac(this.#secret, signedText(request, request.id, request.time));
    if (!nodeCrypto().timingSafeEqual(expected, Buffer.from(request.auth, "hex"))) {
      return "bad signature (a different secret?)";
    }
    for (const [auth, { until }] of this.#seen) {
      if (until > now) break; // inserted in time order: the rest are younger
      this.#seen.delete(auth);
    }
    const seen = this.#seen.get(request.auth);
    if (seen === undefined) {
      this.#seen.set(request.auth, { host, until: now + 2 * SIGNATURE_WINDOW_MS });
    } else if (seen.host !== host) {
      return "a replayed request (its signature was used from another address)";
    }
    return undefined;
  }
}

/** `node:crypto`, loaded by the first signature made or checked (see core/node_builtin.ts). */
function nodeCrypto(): typeof Crypto {
  return nodeBuiltin<typeof Crypto>("node:crypto");
}

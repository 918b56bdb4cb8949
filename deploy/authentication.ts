/**
 * The authentication plan of one SSH connection: ssh-agent keys, then
 * identity files, then the password (as `password`, then as the answer to
 * `keyboard-interactive` prompts) — never the `none` probe, which costs a
 * round trip.
 *
 * Contract: `handler` is ssh2's `authHandler` for a single connection
 * attempt. It records what it offered and what the server said it accepts,
 * so that `failure()` can say exactly what was refused. It never throws.
 *
 * @module
 */

import { SshAuthenticationError } from "./errors.ts";
import type { Identity } from "./identities.ts";
import type { Ssh2AuthHandler, Ssh2AuthStep } from "./ssh2.ts";

/** What there is to authenticate with. */
export interface Credentials {
  /** The remote user. */
  user: string;
  /** Private keys, in the order to offer them. */
  identities: readonly Identity[];
  /** An ssh-agent socket, if any. */
  agent?: string;
  /** A password, if any. */
  password?: string;
  /** Notes for the failure message (skipped default keys, the agent's errors). */
  notes: string[];
}

/** One planned attempt: the SSH method it uses and how messages name it. */
interface Attempt {
  method: "publickey" | "password" | "keyboard-interactive";
  step: Ssh2AuthStep;
  label: string;
  /** Another way to send something already planned: not worth a mention when not accepted. */
  fallback?: boolean;
}

/** See the module contract. */
export class Authentication {
  readonly #plan: Attempt[];
  readonly #offered: string[] = [];
  readonly #notAccepted: string[] = [];
  #serverMethods: string[] | null = null;
  #last: Attempt | undefined;

  /** Plans the attempts `credentials` allow. */
  constructor(readonly credentials: Credentials) {
    this.#plan = planAttempts(credentials);
  }

  /** ssh2's authHandler. */
  readonly handler: Ssh2AuthHandler = (methodsLeft, _partialSuccess, next) => {
    if (methodsLeft) {
      this.#serverMethods = methodsLeft;
      // The first attempt goes out before the server has said what it accepts.
      if (this.#last && !methodsLeft.includes(this.#last.method)) {
        this.#offered.pop();
        if (!this.#last.fallback) this.#notAccepted.push(this.#last.label);
      }
    }
    for (let attempt = this.#plan.shift(); attempt; attempt = this.#plan.shift()) {
      if (methodsLeft && !methodsLeft.includes(attempt.method)) {
        if (!attempt.fallback) this.#notAccepted.push(attempt.label);
        continue;
      }
      this.#offered.push(attempt.label);
      this.#last = attempt;
      return next(attempt.step);
    }
    next(false);
  };

  /** The error for a server that refused everything offered. */
  failure(destination: string): SshAuthenticationError {
    const parts: string[] = [];
    if (this.#offered.length === 0 && this.#notAccepted.length === 0) {
      parts.push(
        "nothing to authenticate with: no usable identity file, no ssh-agent " +
          "(SSH_AUTH_SOCK is not set) and no password",
      );
    }
    if (this.#offered.length > 0) parts.push(`the server refused ${this.#offered.join(", ")}`);
    if (this.#notAccepted.length > 0) {
      parts.push(`the server does not accept ${this.#notAccepted.join(", ")}`);
    }
    if (this.#serverMethods) parts.push(`it accepts: ${this.#serverMethods.join(", ")}`);
    parts.push(...this.credentials.notes);
    return new SshAuthenticationError(destination, parts.join("; "));
  }
}

function planAttempts(credentials: Credentials): Attempt[] {
  const username = credentials.user;
  const plan: Attempt[] = [];
  if (credentials.agent !== undefined) {
    plan.push({
      method: "publickey",
      step: { type: "agent", username, agent: credentials.agent },
      label: `the keys of ssh-agent (${credentials.agent})`,
    });
  }
  for (const identity of credentials.identities) {
    plan.push({
      method: "publickey",
      step: { type: "publickey", username, key: identity.key },
      label: `the identity file ${identity.file} (${identity.label})`,
    });
  }
  const password = credentials.password;
  if (password !== undefined) {
    plan.push({
      method: "password",
      step: { type: "password", username, password },
      label: "the password",
    }, {
      method: "keyboard-interactive",
      step: {
        type: "keyboard-interactive",
        username,
        // Answers the password to the prompts that hide their input (PAM's "Password:").
        prompt: (_name, _instructions, _lang, prompts, finish) =>
          finish(prompts.map((prompt) => prompt.echo ? "" : password)),
      },
      label: "the password (keyboard-interactive)",
      fallback: true,
    });
  }
  return plan;
}

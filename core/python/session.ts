/**
 * One connection with a Python RPyC peer: the read loop, requests and their
 * answers, boxing, and the `Engine` that rdc's proxies drive, so a Python
 * object is used through the same netrefs as an rdc peer's.
 *
 * @module
 */

import { PyChannel, type PyChannelCounters } from "./channel.ts";
import {
  decodeMessage,
  detectVersion,
  encodeMessage,
  Handle,
  type HandleCode,
  Msg,
  type WireVersion,
} from "./envelope.ts";
import type { PythonOptions, ResolvedPythonOptions } from "./options.ts";
import { resolvePythonOptions } from "./options.ts";
import { PyBoxer } from "./boxing.ts";
import { serveRequest } from "./serving.ts";
import { runOperation } from "./operations.ts";
import { fromVinegar, toVinegar } from "./vinegar.ts";
import { type CallOptions, type Engine, Question } from "../session/engine.ts";
import { QuestionTable } from "../session/questions.ts";
import { DEFAULT_ITERATION_WINDOW, DEFAULT_STREAM_WINDOW } from "../session/iteration.ts";
import type { ImportEntry } from "../session/imports.ts";
import { type ResolvedPolicy, resolvePolicy } from "../session/policy.ts";
import { makeProxy } from "../netref/proxy.ts";
import type { OpCode } from "../wire/messages.ts";
import { Budget } from "../wire/budget.ts";
import type { Transport } from "../wire/transport.ts";
import { ConnectionClosedError, isPeerFault, peerFault, ProtocolError } from "../errors.ts";
import { defaultLogger, type Logger } from "../log.ts";

/** Counters and table sizes of a Python connection: the channel's counters, and the tables. */
export interface PythonStats extends PyChannelCounters {
  /** Deno objects the Python peer holds references to (the root included). */
  exports: number;
  /** Netrefs to Python objects held here. */
  imports: number;
  /** Requests sent and not yet answered. */
  pendingRequests: number;
}

/**
 * The peer spoke the other envelope than this end: `peerVersion` says which
 * (a 5.x server answers a 6.x request by hanging up with a 5.x CLOSE).
 */
export class WireVersionError extends ProtocolError {
  /** The version the peer's frame showed. */
  readonly peerVersion: WireVersion;
  /** Names both versions. */
  constructor(expected: WireVersion, peerVersion: WireVersion) {
    super(`the peer speaks RPyC ${peerVersion}.x, this end spoke ${expected}.x`);
    this.name = "WireVersionError";
    this.peerVersion = peerVersion;
  }
}

/**
 * A connection with a Python RPyC peer.
 *
 * Contract: the session owns its channel. Requests from Python are served
 * concurrently with this end's own (callbacks and re-entrant calls need no
 * serving thread). A peer fault closes the connection with a `ProtocolError`;
 * closing fails every pending request with `ConnectionClosedError`, forgets
 * both tables and runs the service's `onDisconnect` once.
 */
export class PySession implements Engine {
  /** What the transport is connected to. */
  readonly description: string;
  /** The options, defaults filled in. */
  readonly options: ResolvedPythonOptions;
  /** What Python may do to Deno objects. */
  readonly policy: ResolvedPolicy;
  /** Boxing and both reference tables. */
  readonly boxer: PyBoxer;
  /** Where log lines go. */
  readonly logger: Logger;
  /** Items a `for await` over a Python iterable asks ahead at most (BUFFITER batches are within it). */
  readonly iterationWindow: number = DEFAULT_ITERATION_WINDOW;
  /** Chunks in flight for a web stream (Python objects are not streams; the Engine asks). */
  readonly streamWindow: number = DEFAULT_STREAM_WINDOW;
  /** RPyC has no PUSH: a Python object is never a stream whose first chunks come unasked. */
  pushed(_entry: ImportEntry): null {
    return null;
  }
  /** The object Python reaches with GETROOT. */
  readonly rootObject: object;
  #channel: PyChannel;
  #pending: QuestionTable;
  #seq = 0;
  #closeReason: Error | null = null;
  #listeners = new Set<(reason: Error) => void>();
  #finished: Promise<void>;
  #finish!: () => void;
  #firstFrame = true;
  #version: WireVersion;
  #detect: boolean;
  /** Settles once the envelope is known (a detecting server's requests wait for it). */
  #versionKnown = Promise.withResolvers<void>();

  /**
   * A session over `transport`, speaking `version`'s envelope, or the one
   * the peer's first frame shows (`"detect"`, for servers); call
   * {@linkcode start}. `sharedInbound` is a server's budget of bytes held
   * for all its clients' frames.
   */
  constructor(
    transport: Transport,
    version: WireVersion | "detect",
    options: PythonOptions,
    sharedInbound?: Budget,
  ) {
    this.description = transport.description;
    this.#detect = version === "detect";
    this.#version = version === "detect" ? 6 : version;
    if (!this.#detect) this.#versionKnown.resolve();
    this.options = resolvePythonOptions(options);
    this.policy = resolvePolicy(options);
    this.logger = options.logger ?? defaultLogger;
    const service = options.service ?? {};
    this.rootObject = typeof service === "function" ? new (service as new () => object)() : service;
    this.#channel = new PyChannel(transport, {
      maxFrameSize: this.options.maxFrameSize,
      inbound: new Budget(
        this.options.maxInboundBytes,
        "bytes held for frames from this peer",
        sharedInbound,
      ),
    });
    this.boxer = new PyBoxer(this, this.rootObject);
    this.#pending = new QuestionTable(
      (seq, reason) => this.#giveUp(seq, reason),
      this.options.timeout,
    );
    this.#finished = new Promise((resolve) => this.#finish = resolve);
  }

  /** The envelope spoken (for a detecting server: 6 until the peer's first frame). */
  get version(): WireVersion {
    return this.#version;
  }

  /** Starts the read loop; {@linkcode finished} resolves once the connection has closed. */
  start(): void {
    this.#readLoop().catch((error) => this.#closeWith(error));
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closeReason !== null;
  }

  /** Why it closed, once it has. */
  get closeReason(): Error | null {
    return this.#closeReason;
  }

  /** Resolves once closed and cleaned up. Never rejects. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Calls `listener` once with the reason when the connection closes. */
  onClose(listener: (reason: Error) => void): Disposable {
    if (this.#closeReason) listener(this.#closeReason);
    else this.#listeners.add(listener);
    return { [Symbol.dispose]: () => this.#listeners.delete(listener) };
  }

  /** Table sizes and counters. */
  stats(): PythonStats {
    return {
      ...this.#channel.counters,
      exports: this.boxer.exportCount,
      imports: this.boxer.importCount,
      pendingRequests: this.#pending.size,
    };
  }

  /**
   * Sends request `handler` with `args` (netrefs of this connection, values,
   * Deno objects to lend) and resolves with Python's answer.
   */
  async request(handler: HandleCode, args: unknown[], options?: CallOptions): Promise<unknown> {
    if (this.#detect) await this.#versionKnown.promise;
    const settling = this.boxer.settleArgs(args);
    const ready = settling instanceof Promise ? await settling : settling;
    if (this.#closeReason) throw this.#closedError();
    const seq = this.#seq++;
    const question = new Question(this, seq);
    const body = [handler, this.boxer.box(ready)];
    this.#pending.add(question, options?.timeout ?? this.options.timeout, options?.signal);
    this.#write(Msg.Request, seq, body);
    return await question.promise;
  }

  /** Sends a request whose answer nobody waits for (DEL, CLOSE). */
  notify(handler: HandleCode, boxedArgs: unknown): void {
    if (this.#closeReason) return;
    this.#write(Msg.Request, this.#seq++, [handler, boxedArgs]);
  }

  /** Round-trip time of a PING, in milliseconds. */
  async ping(options?: CallOptions): Promise<number> {
    const start = performance.now();
    const data = "rdc ping";
    const echo = await this.request(Handle.Ping, [data], options);
    if (echo !== data) throw peerFault("rpyc: the PING echo differs from what was sent");
    return performance.now() - start;
  }

  /** The peer's root object (GETROOT), as a netref. */
  async fetchRoot(options?: CallOptions): Promise<unknown> {
    return await this.request(Handle.GetRoot, [], options);
  }

  // --- Engine --------------------------------------------------------------

  /** See {@linkcode Engine.send}: every operation runs as one or more RPyC requests. */
  send(
    op: OpCode,
    base: ImportEntry | Question,
    path: readonly string[],
    args: unknown[],
    options: CallOptions | undefined,
  ): Question {
    const question = new Question(this, -1);
    runOperation(this, op, base, path, args, options).then(
      (value) => question.fulfil(value),
      (error) => question.fail(error),
    );
    return question;
  }

  /** See {@linkcode Engine.abandon}: RPyC has no CANCEL; the late answer is dropped. */
  abandon(question: Question, reason: unknown): void {
    if (question.seq >= 0) this.#pending.take(question.seq);
    question.fail(reason);
  }

  /** See {@linkcode Engine.dispose}: sends DEL with the count received. */
  dispose(entry: ImportEntry): void {
    this.boxer.release(entry);
  }

  /** See {@linkcode Engine.report}. */
  report(message: string): void {
    this.logger("warn", message);
  }

  /** Makes the proxy for an import. */
  proxyFor(entry: ImportEntry): object {
    return makeProxy({ engine: this, base: entry, path: [] });
  }

  // --- closing -------------------------------------------------------------

  /** Closes the connection (telling the peer with CLOSE); resolves once cleaned up. Idempotent. */
  async close(reason = "connection closed by this end"): Promise<void> {
    if (!this.#closeReason) {
      this.notify(Handle.Close, [1, []]);
      this.#closeWith(new ConnectionClosedError(reason));
    }
    await this.#finished;
  }

  #closedError(): ConnectionClosedError {
    return new ConnectionClosedError(`connection to ${this.description} closed`, {
      cause: this.#closeReason,
    });
  }

  #closeWith(reason: Error): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    if (isPeerFault(reason)) this.logger("warn", `${this.description}: ${reason.message}`);
    this.#versionKnown.reject(reason);
    this.#versionKnown.promise.catch(() => {});
    this.#pending.failAll(reason instanceof ConnectionClosedError ? reason : this.#closedError());
    this.boxer.clear();
    // Let the CLOSE (and replies already queued) go out before the transport shuts.
    setTimeout(() => this.#channel.close(), 0);
    for (const listener of this.#listeners) listener(reason);
    this.#listeners.clear();
    const root = this.rootObject as { onDisconnect?: (conn: unknown) => unknown };
    Promise.resolve()
      .then(() => root.onDisconnect?.(this))
      .catch((error) => this.logger("warn", `onDisconnect failed: ${error}`))
      .finally(() => this.#finish());
  }

  // --- reading -------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const brine = this.options;
    while (!this.#closeReason) {
      const payload = await this.#channel.receive();
      if (payload === null) {
        this.#closeWith(new ConnectionClosedError(`${this.description} hung up`));
        return;
      }
      if (this.#closeReason) return;
      if (this.#firstFrame && payload.length > 0) this.#checkFirstFrame(payload[0]);
      const message = decodeMessage(this.#version, payload, brine);
      switch (message.msg) {
        case Msg.Request:
          this.#serve(message.seq, message.body);
          break;
        case Msg.Reply:
          this.#answer(message.seq, message.body);
          break;
        case Msg.Exception:
          this.#raise(message.seq, message.body);
          break;
        default:
          message.msg satisfies never;
      }
    }
  }

  /** The first frame tells the peer's envelope: a mismatch is a {@linkcode WireVersionError}. */
  #checkFirstFrame(first: number): void {
    this.#firstFrame = false;
    const seen = detectVersion(first);
    if (this.#detect) {
      this.#version = seen;
      this.#versionKnown.resolve();
    } else if (seen !== this.#version) throw new WireVersionError(this.#version, seen);
  }

  #answer(seq: number, body: unknown): void {
    const question = this.#pending.take(seq);
    const received: ImportEntry[] = [];
    const value = this.boxer.unbox(body, received);
    if (question) question.fulfil(value);
    else this.boxer.giveBack(received); // Nobody waits (timed out): hand the references back.
  }

  #raise(seq: number, body: unknown): void {
    const error = fromVinegar(body);
    if (!error) throw peerFault("rpyc: an EXCEPTION body that is not an exception");
    this.#pending.take(seq)?.fail(error);
  }

  #serve(seq: number, body: unknown): void {
    serveRequest(this, body).then(
      (result) => this.#reply(seq, Msg.Reply, () => this.boxer.box(result)),
      (error) => {
        if (isPeerFault(error)) return this.#closeWith(error);
        this.#reply(seq, Msg.Exception, () => toVinegar(error));
      },
    );
  }

  #reply(seq: number, msg: typeof Msg.Reply | typeof Msg.Exception, body: () => unknown): void {
    if (this.#closeReason) return;
    let boxed: unknown;
    try {
      boxed = body();
    } catch (error) {
      // The result cannot travel (a symbol, say): Python gets the reason instead.
      msg = Msg.Exception;
      boxed = toVinegar(error);
    }
    this.#write(msg, seq, boxed);
  }

  #write(msg: typeof Msg[keyof typeof Msg], seq: number, body: unknown): void {
    const payload = encodeMessage(this.#version, msg, seq, body);
    this.#channel.send(payload).catch((error) => {
      this.#closeWith(
        new ConnectionClosedError(`writing to ${this.description} failed`, {
          cause: error,
        }),
      );
    });
  }

  #giveUp(seq: number, reason: unknown): void {
    this.#pending.take(seq)?.fail(reason);
  }
}

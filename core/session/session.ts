/**
 * The connection engine: one symmetric rdc session over one
 * {@linkcode FrameChannel}.
 *
 * Both ends run the same engine. The read loop always runs, so replies,
 * callbacks and re-entrant requests are served while calls are pending; no
 * serving thread is needed. Values are boxed and unboxed in time slices, so a
 * large one never stalls the other messages. The session knows messages,
 * not bytes: the channel below frames them.
 *
 * @module
 */

import { Boxer, type BoxSettings, writePrimitive, writePrimitives } from "../wire/boxing.ts";
import type { Budget } from "../wire/budget.ts";
import type {
  FrameChannel,
  ReadableFrameChannel,
  ReceivedMessage,
  Sending,
} from "../wire/channel.ts";
import {
  checkHello,
  type HelloExpectations,
  type PeerInfo,
  receiveHello,
} from "../wire/handshake.ts";
import type { AnnouncedLimits, ResolvedLimits } from "../wire/limits.ts";
import { CompressingChannel, type CompressionOffer, NO_COMPRESSION } from "../wire/compression.ts";
import { ByReference, unwrapMarker } from "../wire/markers.ts";
import {
  type AnswerHead,
  Msg,
  Op,
  type OpCode,
  PROTOCOL_VERSION,
  type PushHead,
  questionTarget,
  readMessage,
  type RequestHead,
  type Target,
  writeAnswerHead,
  writeClose,
  writeHello,
  writePushHead,
  writeRelease,
  writeRequestHead,
  writeSeqs,
} from "../wire/messages.ts";
import { ByteReader, ByteWriter } from "../wire/msgpack.ts";
import { runSliced, runWhole, type Sliced } from "../wire/slicing.ts";
import {
  ExportScanner,
  NOT_PRIMITIVE,
  readPrimitive,
  readPrimitives,
  Unboxer,
  type UnboxLimits,
} from "../wire/unboxing.ts";
import {
  ConnectionClosedError,
  isPeerFault,
  LimitError,
  peerFault,
  ProtocolError,
} from "../errors.ts";
import { defaultLogger, type Logger } from "../log.ts";
import { unrefTimer } from "../platform.ts";
import { type Answer, AnswerTable } from "./answers.ts";
import { type BeforeClose, runBeforeClose } from "./before_close.ts";
import {
  type Connection,
  type ConnectionOptions,
  type ConnectionStats,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type RootObject,
} from "./connection.ts";
import { type CallContext, execute, IncomingCall, walk } from "./dispatch.ts";
import {
  type CallOptions,
  type Engine,
  type InTransit,
  Question,
  type RemoteState,
  remoteState,
} from "./engine.ts";
import type { ImportEntry } from "./imports.ts";
import {
  type IncomingRefs,
  ObjectSpace,
  type OutgoingRefs,
  type SpaceOwner,
} from "./object_space.ts";
import { checkPathSegment, reachableNames, type ResolvedPolicy, resolvePolicy } from "./policy.ts";
import { Outgoing } from "./outgoing.ts";
import {
  checkWindow,
  DEFAULT_ITERATION_WINDOW,
  DEFAULT_STREAM_WINDOW,
  isBatchAnswer,
} from "./iteration.ts";
import { QuestionTable } from "./questions.ts";
import { PushTable, readFirstChunks } from "./pushes.ts";
import { Budget as BudgetClass } from "../wire/budget.ts";
import { isThenable } from "../wire/thenable.ts";

const HOUSEKEEPING_DELAY_MS = 5;
const NO_ATTACHMENTS: readonly Uint8Array[] = Object.freeze([]);
/** A request head this small, with `writePrimitives`'s arguments, fits any peer's messages. */
const FAST_HEAD = 8 * 1024;
/** The scratch writer shrinks back to this after a large message. */
const SCRATCH_SIZE = 64 * 1024;

type Timer = ReturnType<typeof setTimeout>;

/**
 * What a driven session needs of its driver: the synchronous mode's, which
 * reads the channel itself and hands the session each message
 * ({@linkcode Session.handle}), while the thread may be blocked.
 */
export interface SessionDriver {
  /**
   * Whether the thread is blocked in a synchronous call: no promise settles
   * until it returns, so a request whose result is a promise cannot be
   * answered now.
   */
  readonly blocked: boolean;
}

/** What a session is made of; `connect*` and `serve` assemble it. */
export interface SessionParts {
  /**
   * The channel to the peer, already open: one the session reads itself, or,
   * with a `driver`, one the driver reads.
   */
  channel: FrameChannel | ReadableFrameChannel;
  /**
   * The driver of a driven session. A driven session starts with
   * {@linkcode Session.startDriven}, boxes and unboxes values whole (no time
   * slices: the driver may not let the event loop turn) and sends pending
   * releases with its next request.
   */
  driver?: SessionDriver;
  /** The root object this end offers. */
  service: RootObject;
  /** Builds the netrefs (core/netref/proxy.ts, one layer up). */
  makeProxy: (state: RemoteState) => object;
  /** The connection's options. */
  options: ConnectionOptions;
  /** The options' limits, defaults filled in. */
  limits: ResolvedLimits;
  /** What the server's authenticator or TLS established about the peer; null if nothing. */
  credentials: unknown;
  /** The server's pending-requests budget, shared by its connections; none for a client. */
  serverPending?: Budget;
}

/**
 * The engine behind a {@linkcode Connection}: one symmetric session over one
 * channel. It is also the proxies' {@linkcode Engine}; its object space
 * (exports, imports, member lists) is an {@linkcode ObjectSpace}. See
 * `core/PROTOCOL.md` for what crosses the wire.
 */
export class Session implements Connection, Engine, SpaceOwner {
  /** The service instance serving this connection. */
  readonly service: RootObject;
  /** What the server's authenticator or TLS established about the peer; null if nothing. */
  readonly credentials: unknown;
  /** What the channel is connected to (`tcp 127.0.0.1:18812`). */
  readonly description: string;

  readonly #channel: FrameChannel | ReadableFrameChannel;
  readonly #driver: SessionDriver | null;
  /** How boxing and unboxing run: in time slices, or (driven) whole. */
  readonly #run: (work: Sliced) => Promise<void> | null;
  readonly #space: ObjectSpace;
  readonly #makeProxy: (state: RemoteState) => object;
  readonly #policy: ResolvedPolicy;
  readonly #limits: ResolvedLimits;
  readonly #timeout: number;
  /** Items a remote iteration prefetches at most (see `ConnectionOptions.iterationWindow`). */
  readonly iterationWindow: number;
  /** Chunks a web stream handed over has in flight at most (see `ConnectionOptions.streamWindow`). */
  readonly streamWindow: number;
  readonly #logger: Logger;
  readonly #pending: QuestionTable;
  readonly #answers: AnswerTable;
  /** The PUSHes of the peer's streams this end waits for. */
  readonly #pushes = new PushTable();
  /** Values being unboxed in slices: a PUSH may overtake the EXPORT of its stream in one. */
  readonly #unboxings = new Set<Promise<void>>();
  /** Where small messages are written; a message that outlives the call takes it along. */
  #writer = new ByteWriter();
  #nextSeq = 0;
  #finished: number[] = [];
  #housekeeping: Timer | undefined;
  #peer: PeerInfo | null = null;
  #sendLimits: BoxSettings;
  readonly #readLimits: UnboxLimits;
  #root: object | null = null;
  #closed = false;
  #closeReason: Error | null = null;
  #closeListeners = new Set<(reason: Error) => void>();
  #done = Promise.withResolvers<void>();
  #requestGate: Promise<void> | null = null;
  readonly #beforeClose: BeforeClose | null;
  /** Set by the first `close()`: what every call of it returns. */
  #closing: Promise<void> | null = null;

  /** Use `connect*` or `serve`; this wires a channel that is already open. */
  constructor(parts: SessionParts) {
    const { channel, options, limits } = parts;
    this.service = parts.service;
    this.credentials = parts.credentials;
    this.description = channel.description;
    this.#channel = channel;
    this.#driver = parts.driver ?? null;
    this.#run = this.#driver ? runWhole : runSliced;
    this.#makeProxy = parts.makeProxy;
    this.#limits = limits;
    this.#policy = resolvePolicy(options);
    this.#timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.iterationWindow = checkWindow(
      options.iterationWindow ?? DEFAULT_ITERATION_WINDOW,
      "iterationWindow",
    );
    this.streamWindow = checkWindow(
      options.streamWindow ?? DEFAULT_STREAM_WINDOW,
      "streamWindow",
    );
    this.#logger = options.logger ?? defaultLogger;
    this.#beforeClose = options.beforeClose ?? null;
    this.#pending = new QuestionTable((seq, reason) => this.#abandon(seq, reason), this.#timeout);
    this.#answers = new AnswerTable(
      new BudgetClass(
        limits.maxPendingRequests,
        "requests pending on this connection",
        parts.serverPending,
      ),
    );
    this.#space = new ObjectSpace(parts.service, this, this.#policy, limits);
    this.#readLimits = {
      maxDepth: limits.maxDepth,
      maxElements: limits.maxElements,
      maxBigIntBytes: limits.maxBigIntBytes,
    };
    // Until the peer's HELLO says otherwise, send as little as the handshake needs.
    this.#sendLimits = {
      ...this.#readLimits,
      maxMessageSize: limits.maxMessageSize,
      includeLocalStack: options.includeLocalStack ?? true,
    };
  }

  /**
   * Exchanges handshakes, runs the service's `onConnect`, and starts serving.
   * Resolves once the connection is usable.
   *
   * @throws {ProtocolError} when the peer is not an rdc peer, speaks another
   *   protocol version, or is not the expected service.
   */
  async start(options: ConnectionOptions, aliases: string[]): Promise<void> {
    const channel = this.#channel;
    if (this.#driver || !("receive" in channel)) {
      throw new TypeError("a driven session starts with startDriven");
    }
    const expect = this.#sendHello(options, aliases);
    let peer: PeerInfo;
    try {
      peer = await receiveHello(channel, expect);
    } catch (error) {
      const reason = this.#refused(error);
      await this.#done.promise;
      throw reason;
    }
    this.#accept(peer);
    const gate = Promise.withResolvers<void>();
    gate.promise.catch(() => {}); // Requests queued behind a refusing onConnect fail quietly.
    this.#requestGate = gate.promise;
    this.#readLoop(channel);
    try {
      // The connection may close while onConnect runs (the peer leaves, the server
      // closes): stop waiting for it then.
      await Promise.race([
        this.service.onConnect(this),
        this.#done.promise.then(() => {
          throw this.#closeReason ?? new ConnectionClosedError();
        }),
      ]);
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error));
      gate.reject(reason); // Never serve what arrived behind a refusal.
      this.#shutdown(reason, true);
      throw error;
    }
    this.#requestGate = null;
    gate.resolve();
  }

  /**
   * {@linkcode Session.start} for a driven session, synchronously:
   * `firstMessage` is the driver's wait for the peer's first message (null
   * when the channel ended first). The service's `onConnect` must not return
   * a promise: nothing could wait for it.
   *
   * @throws as {@linkcode Session.start}; what `firstMessage` throws.
   */
  startDriven(
    options: ConnectionOptions,
    aliases: string[],
    firstMessage: () => ReceivedMessage | null,
  ): void {
    if (!this.#driver) throw new TypeError("only a driven session starts with startDriven");
    const expect = this.#sendHello(options, aliases);
    let peer: PeerInfo;
    try {
      const message = firstMessage();
      peer = checkHello(message, expect);
      if (message) this.#channel.release(message);
    } catch (error) {
      throw this.#refused(error);
    }
    this.#accept(peer);
    let connecting: unknown;
    try {
      connecting = this.service.onConnect(this);
      if (isThenable(connecting)) {
        throw new TypeError(
          "the onConnect of a synchronous connection's service returned a promise, " +
            "which nothing can wait for: make it synchronous",
        );
      }
    } catch (error) {
      this.#shutdown(error instanceof Error ? error : new Error(String(error)), true);
      throw error;
    }
  }

  /**
   * Hands a driven session the next message its driver read. Never throws:
   * a malformed message closes the session, as in its own read loop.
   */
  handle(message: ReceivedMessage): void {
    if (this.#closed) return this.#channel.release(message);
    try {
      this.#receive(message);
    } catch (error) {
      this.#failed(error);
    }
  }

  /**
   * Tells a driven session its channel ended: cleanly (null: the peer closed
   * it) or with `error`.
   */
  ended(error: Error | null): void {
    if (error) return this.#failed(error);
    this.#shutdown(new ConnectionClosedError(`${this.description} closed the connection`), false);
  }

  /** Sends this end's HELLO; returns what the peer's must meet. */
  #sendHello(options: ConnectionOptions, aliases: string[]): HelloExpectations {
    const version = options.protocolVersion ?? PROTOCOL_VERSION;
    const members = reachableNames(this.service, this.#policy);
    const compression = this.#compression();
    this.#writeMessage((w) =>
      // A driven session takes no PUSH: its proxies read a stream with ITER and NEXT.
      writeHello(w, version, aliases, members, this.#announced(), this.#pushWindow(), compression)
    );
    return {
      version,
      timeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      expectService: options.expectService,
      description: this.description,
      compression,
    };
  }

  /** What this end offers of compression: what its channel does, if it compresses. */
  #compression(): CompressionOffer {
    const channel = this.#channel;
    return channel instanceof CompressingChannel ? channel.offer : NO_COMPRESSION;
  }

  /** The limits this end announces in its HELLO. */
  #announced(): AnnouncedLimits {
    const limits = this.#limits;
    return {
      // Never more than the budgets above this connection can ever hold.
      maxMessageSize: Math.min(limits.maxMessageSize, this.#channel.inbound.capacity),
      maxFrameSize: limits.maxFrameSize,
      maxDepth: limits.maxDepth,
      maxElements: limits.maxElements,
      maxBigIntBytes: limits.maxBigIntBytes,
    };
  }

  /** The handshake failed: close (telling the peer, if it broke the protocol); returns why. */
  #refused(error: unknown): Error {
    const reason = error instanceof Error ? error : peerFault(String(error));
    this.#shutdown(reason, reason instanceof ProtocolError);
    return reason;
  }

  /** Takes the peer's HELLO: the limits both ways, and its root. */
  #accept(peer: PeerInfo): void {
    const limits = this.#limits;
    this.#peer = peer;
    this.#channel.setLimits({
      peerFrameSize: peer.limits.maxFrameSize,
      maxFrameSize: limits.maxFrameSize,
      maxMessageSize: this.#announced().maxMessageSize,
    });
    this.#sendLimits = {
      maxDepth: Math.min(limits.maxDepth, peer.limits.maxDepth),
      maxElements: peer.limits.maxElements,
      maxBigIntBytes: peer.limits.maxBigIntBytes,
      maxMessageSize: peer.limits.maxMessageSize,
      includeLocalStack: this.#sendLimits.includeLocalStack,
    };
    if (this.#channel instanceof CompressingChannel) this.#channel.agree(peer.compression);
    this.#root = this.#space.root(peer.service, peer.members);
  }

  /**
   * The peer's root object (its service), as a netref. Typed `any` so that any
   * member may be reached; annotate it as `Remote<MyService>` for checking.
   */
  // deno-lint-ignore no-explicit-any
  get root(): any {
    if (!this.#root) throw new ConnectionClosedError("the connection is not open");
    return this.#root;
  }

  /** The name of the peer's service, from its handshake. */
  get peerService(): string {
    return this.#peer?.service ?? "";
  }

  /** Every name the peer's service answers to. */
  get peerAliases(): readonly string[] {
    return this.#peer?.aliases ?? [];
  }

  /** The limits this end enforces on what the peer sends. */
  get limits(): Readonly<ResolvedLimits> {
    return this.#limits;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the connection has closed and cleaned up. Never rejects. */
  get finished(): Promise<void> {
    return this.#done.promise;
  }

  /** Why the connection closed, once it has. */
  get closeReason(): Error | null {
    return this.#closeReason;
  }

  /**
   * Calls `listener` once with the reason when the connection closes (at once
   * if it already has). Dispose the result to stop listening.
   */
  onClose(listener: (reason: Error) => void): Disposable {
    if (this.#closed) {
      listener(this.#closeReason!);
      return { [Symbol.dispose]() {} };
    }
    this.#closeListeners.add(listener);
    return { [Symbol.dispose]: () => this.#closeListeners.delete(listener) };
  }

  /** Sends a ping and resolves with the round-trip time in milliseconds. */
  async ping(options?: CallOptions): Promise<number> {
    const started = performance.now();
    const payload = "rdc-ping";
    const echoed = await this.send(Op.Ping, this.#rootEntry(), [], [payload], options).promise;
    if (echoed !== payload) throw peerFault("ping echoed the wrong payload");
    return performance.now() - started;
  }

  /** Table sizes and counters. */
  stats(): ConnectionStats {
    const counters = this.#channel.counters;
    return {
      exports: this.#space.exports.size,
      imports: this.#space.imports.size,
      pendingRequests: this.#pending.size,
      servingRequests: this.#answers.serving,
      answers: this.#answers.size,
      framesSent: counters.framesSent,
      framesReceived: counters.framesReceived,
      bytesSent: counters.bytesSent,
      bytesReceived: counters.bytesReceived,
      bufferedOutbound: this.#channel.buffered,
      bufferedInbound: this.#channel.inbound.used,
    };
  }

  /**
   * Closes the connection, telling the peer why; resolves once cleaned up.
   * Runs the `beforeClose` hook first, while the connection still works.
   * Idempotent.
   */
  close(reason = "connection closed by this end"): Promise<void> {
    if (this.#closing) return this.#closing;
    const shutdown = () => this.#shutdown(new ConnectionClosedError(reason), true);
    const hook = this.#beforeClose && !this.#closed && this.#root
      ? runBeforeClose(
        this.#beforeClose,
        this.#root,
        this.#driver !== null,
        this.#timeout,
        (message) => this.#logger("warn", `${this.description}: ${message}`),
      )
      : null;
    if (hook) {
      this.#closing = hook.then(shutdown).then(() => this.#done.promise);
    } else {
      shutdown();
      this.#closing = this.#done.promise;
    }
    return this.#closing;
  }

  /** Closes the connection (`await using conn = await connect(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- Engine: what proxies drive ----------------------------------------------------------

  /** The engine netrefs of this connection belong to: the session itself. */
  get engine(): Engine {
    return this;
  }

  /** Sends one request; see {@linkcode Engine.send}. */
  send(
    op: OpCode,
    base: ImportEntry | Question,
    path: readonly string[],
    args: unknown[],
    options: CallOptions | undefined,
  ): Question {
    if (this.#closed) {
      return Question.rejected(
        new ConnectionClosedError("the connection is closed", { cause: this.#closeReason }),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Question.rejected(signal.reason);
    // A driven session's thread may not turn its event loop for long: releases go now.
    if (this.#driver) this.#sendReleases();
    const seq = this.#nextSeq++;
    const pipelined = base instanceof Question;
    const target: Target = pipelined ? questionTarget(base.seq) : base.id;
    const finished = this.#finished;
    const w = this.#writer;
    writeRequestHead(w, seq, op, target, path, finished);
    // A request pipelined on one still on its way must not overtake it.
    const after = pipelined && base.inTransit ? [base.inTransit] : null;
    // (A small head and small primitives always fit: no size check needed.)
    if (!after && w.length <= FAST_HEAD && writePrimitives(w, args)) {
      // The common call: a few numbers or strings, sent now, no boxer needed.
      this.#hand(w, w.blocks(), NO_ATTACHMENTS);
      if (finished.length > 0) this.#finished = [];
      const question = new Question(this, seq);
      this.#pending.add(question, options?.timeout ?? this.#timeout, signal);
      return question;
    }
    const refs = this.#space.outgoing();
    const boxer = new Boxer(w, refs, this.#sendLimits, args, this.#channel.allocateAttachment);
    let boxing: Promise<void> | null;
    try {
      boxing = this.#run(boxer);
    } catch (error) {
      refs.rollback();
      w.reset(SCRATCH_SIZE);
      return Question.rejected(error);
    }
    if (finished.length > 0) this.#finished = [];
    const question = new Question(this, seq);
    this.#pending.add(question, options?.timeout ?? this.#timeout, signal);
    // Given up before the peer has it: the peer still needs to hear of these FINISHes.
    const outgoing = new Outgoing(refs, () => this.#finished.push(...finished));
    const lost = (reason: unknown) => this.#pending.take(seq)?.fail(reason);
    if (boxing === null) {
      question.inTransit = this.#dispatch(w, boxer, refs, after, outgoing, lost);
      return question;
    }
    this.#writer = new ByteWriter(); // `w` belongs to this request until it is sent.
    question.inTransit = outgoing;
    boxing.then(
      () => this.#dispatch(w, boxer, refs, after, outgoing, lost),
      (error) => {
        if (outgoing.abort(error)) lost(error);
      },
    );
    return question;
  }

  /** Gives up on a pending question; see {@linkcode Engine.abandon}. */
  abandon(question: Question, reason: unknown): void {
    this.#abandon(question.seq, reason);
  }

  /** Logs a failure nobody can await; see {@linkcode Engine.report}. */
  report(message: string): void {
    this.#logger("warn", `${this.description}: ${message}`);
  }

  /** The first chunks of the peer's stream; see {@linkcode Engine.pushed}. */
  pushed(entry: ImportEntry): Promise<unknown> | null {
    return this.#pushes.take(entry.id);
  }

  /** Releases an import now; see {@linkcode Engine.dispose}. */
  dispose(entry: ImportEntry): void {
    if (entry.id === 0) return; // The root lives as long as the connection.
    this.#space.imports.release(entry);
  }

  // ---- SpaceOwner: what the object space needs ---------------------------------------------

  /** Builds a netref. */
  makeProxy(state: RemoteState): object {
    return this.#makeProxy(state);
  }

  /** The value a lazy path reaches on one of this end's targets. */
  async resolvePath(target: Target, path: readonly string[]): Promise<unknown> {
    const base = target >= 0
      ? this.#space.exports.get(target)
      : await this.#answers.valueOf(-target - 1);
    return unwrapMarker(walk(base, path, this.#policy).value);
  }

  /** Sends batched FINISH and RELEASE soon (or now, when many FINISHes wait). */
  scheduleHousekeeping(): void {
    if (this.#housekeeping !== undefined || this.#closed) return;
    if (this.#finished.length >= 256) return this.#flushHousekeeping();
    const timer = setTimeout(() => {
      this.#housekeeping = undefined;
      this.#flushHousekeeping();
    }, HOUSEKEEPING_DELAY_MS);
    unrefTimer(timer);
    this.#housekeeping = timer;
  }

  /** Whether streams this end hands over are pushed; see {@linkcode SpaceOwner.pushesStreams}. */
  get pushesStreams(): boolean {
    return this.#driver === null && (this.#peer?.streamWindow ?? 0) > 0;
  }

  /** The `streamWindow` this end announces: 0 (no PUSH) for a driven session. */
  #pushWindow(): number {
    return this.#driver ? 0 : this.streamWindow;
  }

  /** Reads the first window of `stream` (the peer's `streamWindow`) and sends it in a PUSH. */
  push(id: number, stream: ReadableStream): void {
    const count = this.#peer!.streamWindow;
    const send = (failed: boolean, value: unknown) =>
      this.#sendOutcome(
        (w, failed) => writePushHead(w, id, failed),
        `the first chunks of stream #${id}`,
        failed,
        value,
      );
    readFirstChunks(stream, count).then(
      (first) => send(false, first),
      (error) => send(true, error),
    );
  }

  /** A PUSH of the peer's stream `id` is on its way. */
  expectPush(id: number): void {
    this.#pushes.expect(id);
  }

  // ---- sending ------------------------------------------------------------------------------

  #rootEntry(): ImportEntry {
    return remoteState(this.root)!.base as ImportEntry;
  }

  /** Sends a message that is all protocol (no user values): it always encodes, and goes now. */
  #writeMessage(build: (writer: ByteWriter) => void): void {
    if (this.#closed) return;
    const w = this.#writer;
    build(w);
    this.#hand(w, w.blocks(), NO_ATTACHMENTS);
  }

  /**
   * Hands an encoded message to the channel. Returns the channel's
   * {@linkcode Sending} when the message travels in chunks (the writer
   * then belongs to it, and the session takes a fresh one).
   */
  #hand(
    w: ByteWriter,
    blocks: Uint8Array | Uint8Array[],
    attachments: readonly Uint8Array[],
  ): Sending | null {
    const sending = this.#channel.send(blocks, attachments);
    if (sending !== null) {
      if (w === this.#writer) this.#writer = new ByteWriter();
    } else {
      w.reset(SCRATCH_SIZE);
    }
    return sending;
  }

  /**
   * Sends a boxed message: its shape table first if it needs one, once the
   * requests it depends on are in line (if one of them is given up instead,
   * so is this message, and `lost` hears why). Returns what is still on its
   * way, or null when the message went in line at once.
   */
  #dispatch(
    w: ByteWriter,
    boxer: Boxer,
    refs: OutgoingRefs,
    after: InTransit[] | null,
    outgoing: Outgoing,
    lost: (reason: unknown) => void,
  ): Outgoing | null {
    if (this.#closed || outgoing.aborted) return null;
    const waits = refs.after ? [...(after ?? []), ...refs.after] : after;
    if (waits) {
      if (w === this.#writer) this.#writer = new ByteWriter();
      Promise.all(waits.map((transit) => transit.settled)).then(
        () => this.#dispatch(w, boxer, refs, null, outgoing, lost),
        (reason) => {
          if (outgoing.abort(reason)) lost(reason);
        },
      );
      return outgoing;
    }
    const table = refs.shapeTable();
    const sending = this.#hand(w, table ? [table, ...w.blocks()] : w.blocks(), boxer.attachments);
    outgoing.sent(sending);
    return sending === null ? null : outgoing;
  }

  /** Gives up on an outgoing request (timeout or abort) and tells the callee, if it heard of it. */
  #abandon(seq: number, reason: unknown): void {
    const question = this.#pending.take(seq);
    if (!question) return;
    question.fail(reason);
    // A request still on its way is stopped instead: the callee never saw it.
    if (question.inTransit?.abort(reason)) return;
    this.#writeMessage((w) => writeSeqs(w, Msg.Cancel, seq));
  }

  /** Replies to request `seq` (unless the peer cancelled it). */
  #reply(seq: number, answer: Answer, failed: boolean, value: unknown): void {
    if (!this.#answers.settle(seq, answer) || this.#closed) return;
    if (failed && isPeerFault(value)) return this.#violation(value);
    this.#sendAnswer(seq, failed, value);
  }

  /** Sends request `seq`'s outcome (REPLY or THROW). */
  #sendAnswer(seq: number, failed: boolean, value: unknown): void {
    this.#sendOutcome(
      (w, failed) => writeAnswerHead(w, failed, seq),
      `request #${seq}`,
      failed,
      value,
    );
  }

  /**
   * Sends a message whose fixed fields `head` writes, followed by `value`
   * (of `subject`, for errors). A value that cannot be sent becomes an error
   * saying why; an error that cannot be sent either (`lastResort`) becomes
   * its message alone.
   */
  #sendOutcome(
    head: (w: ByteWriter, failed: boolean) => void,
    subject: string,
    failed: boolean,
    value: unknown,
    lastResort = false,
  ): void {
    if (this.#closed) return;
    const w = this.#writer;
    head(w, failed);
    if (writePrimitive(w, value)) {
      this.#hand(w, w.blocks(), NO_ATTACHMENTS);
      return;
    }
    const refs = this.#space.outgoing();
    const boxer = new Boxer(w, refs, this.#sendLimits, value, this.#channel.allocateAttachment);
    const unsendable = (error: unknown) => {
      refs.rollback();
      if (isPeerFault(error)) return this.#violation(error);
      if (lastResort) {
        const message = `${(value as Error)?.message}`.slice(0, 1000);
        return this.#sendOutcome(head, subject, true, message);
      }
      const what = failed ? "error" : "result";
      const replacement = error instanceof LimitError ? error : new TypeError(
        `cannot send the ${what} of ${subject}: ${(error as Error).message}`,
      );
      this.#sendOutcome(head, subject, true, replacement, true);
    };
    let boxing: Promise<void> | null;
    try {
      boxing = this.#run(boxer);
    } catch (error) {
      w.reset(SCRATCH_SIZE);
      return unsendable(error);
    }
    // A result naming a request of ours still on its way waits for it; if that is given up, say so.
    const outgoing = new Outgoing(refs);
    const lost = (reason: unknown) => unsendable(reason);
    if (boxing === null) {
      this.#dispatch(w, boxer, refs, null, outgoing, lost);
      return;
    }
    this.#writer = new ByteWriter();
    boxing.then(() => this.#dispatch(w, boxer, refs, null, outgoing, lost), unsendable);
  }

  // ---- receiving ----------------------------------------------------------------------------

  async #readLoop(channel: ReadableFrameChannel): Promise<void> {
    const outboundLimit = this.#limits.maxOutboundBytes;
    try {
      while (!this.#closed) {
        // A peer that does not read its replies gets no more of its requests read.
        if (this.#channel.buffered > outboundLimit) {
          await this.#channel.drained(outboundLimit / 2);
          continue;
        }
        const message = await channel.receive();
        // Closed while waiting (a violation found late, close()): read nothing more.
        if (this.#closed) {
          if (message) this.#channel.release(message);
          return;
        }
        if (message === null) {
          this.#shutdown(
            new ConnectionClosedError(`${this.description} closed the connection`),
            false,
          );
          return;
        }
        this.#receive(message);
      }
    } catch (error) {
      this.#failed(error);
    }
  }

  /** The read loop or a message's decoding failed: close, saying why. */
  #failed(error: unknown): void {
    if (this.#closed) return;
    if (isPeerFault(error)) return this.#violation(error);
    // This end broke the channel (a write failed or stalled): worth a line in the log.
    if (error === this.#channel.failure) {
      this.#logger("warn", `closing ${this.description}: ${(error as Error).message}`);
    }
    this.#shutdown(
      error instanceof ConnectionClosedError
        ? error
        : new ConnectionClosedError(`read failed: ${error}`, { cause: error }),
      false,
    );
  }

  /**
   * Handles one message. Throws {@linkcode ProtocolError} for anything
   * malformed; a value decoded in later slices reports its own faults.
   */
  #receive(message: ReceivedMessage): void {
    const reader = new ByteReader(message.body);
    this.#space.readShapeTable(reader);
    const head = readMessage(reader);
    switch (head.type) {
      case Msg.Hello:
        throw peerFault("unexpected second handshake");
      case Msg.Request:
        return this.#onRequest(head, reader, message);
      case Msg.Reply:
      case Msg.Throw:
        return this.#onAnswer(head, reader, message);
      case Msg.Push:
        return this.#onPush(head, reader, message);
      case Msg.Release:
        this.#end(reader, message);
        return this.#space.release(head.ids, head.counts);
      case Msg.Cancel:
        this.#end(reader, message);
        return this.#answers.cancel(head.seq);
      case Msg.Finish:
        this.#end(reader, message);
        return this.#answers.finish(head.seqs);
      case Msg.Close:
        this.#end(reader, message);
        this.#shutdown(
          new ConnectionClosedError(`the peer closed the connection: ${head.reason}`),
          false,
        );
        return;
      default:
        head satisfies never;
    }
  }

  /** A message read to its end: its inbound budget goes back, and nothing may follow. */
  #end(reader: ByteReader, message: ReceivedMessage): void {
    const trailing = reader.remaining;
    this.#channel.release(message);
    if (trailing !== 0) throw peerFault(`${trailing} bytes after the message`);
  }

  /**
   * Gives back every reference in the value at `reader` (a message nobody
   * will read), scanning it in slices, then releases the message; with
   * `whole`, the value must end the message.
   */
  #giveBackAll(reader: ByteReader, message: ReceivedMessage, whole: boolean): void {
    const done = () => whole ? this.#end(reader, message) : this.#channel.release(message);
    const scanning = this.#run(new ExportScanner(reader, (id) => this.#space.giveBack(id)));
    if (scanning === null) return done();
    scanning.then(done).catch((error) => {
      this.#channel.release(message);
      this.#failed(error);
    });
  }

  /**
   * Starts unboxing a message's value: `unboxing` is null when it was done at
   * once. A value this end refuses (a full import table: `LimitError`) gives
   * back every reference it brought; anything else wrong is the peer's fault.
   */
  #unbox(
    reader: ByteReader,
    refs: IncomingRefs,
    message: ReceivedMessage,
    refused: (error: LimitError) => void,
  ): { unboxer: Unboxer; unboxing: Promise<void> | null } | null {
    const start = reader.position;
    const unboxer = new Unboxer(reader, refs, this.#readLimits, message.attachments);
    const refuse = (error: unknown) => {
      if (!(error instanceof LimitError)) {
        this.#channel.release(message);
        return this.#failed(error);
      }
      // Some of its references were counted, some not read yet: count none, release all.
      refs.undo();
      this.#giveBackAll(new ByteReader(message.body, start), message, false);
      refused(error);
    };
    let unboxing: Promise<void> | null;
    try {
      unboxing = this.#run(unboxer);
    } catch (error) {
      refuse(error);
      return null;
    }
    if (unboxing) {
      unboxing = unboxing.catch((error) => {
        refuse(error);
        throw error;
      });
      const unboxings = this.#unboxings;
      const tracked = unboxing.then(() => {}, () => {}).finally(() => unboxings.delete(tracked));
      unboxings.add(tracked);
    }
    return { unboxer, unboxing };
  }

  #onRequest(head: RequestHead, reader: ByteReader, message: ReceivedMessage): void {
    const { seq, op, target, path } = head;
    if (head.finished.length > 0) this.#answers.finish(head.finished);
    for (const name of path) checkPathSegment(name);
    const call = new IncomingCall(this);
    const answer = this.#answers.open(seq, call);
    if (!answer) {
      // No room: refuse it, giving back the references its arguments brought.
      const refusal = this.#answers.refuse(seq, this.#answers.busy());
      this.#giveBackAll(reader, message, true);
      return this.#sendAnswer(seq, true, refusal);
    }
    // Take hold of the target now: a RELEASE or FINISH that follows this request
    // must not pull it away while the request waits for its arguments.
    const base = target >= 0 ? this.#space.exports.get(target) : this.#answers.valueOf(-target - 1);
    if (base instanceof Promise) base.catch(() => {}); // Awaited in #serveLater, if it runs.
    const reply = (value: unknown) =>
      this.#reply(seq, answer, false, op === Op.Iter ? new ByReference(value) : value);
    const fail = (error: unknown) => this.#reply(seq, answer, true, error);
    // The common request: a few numbers or strings, read without an unboxer.
    const plain = readPrimitives(reader);
    if (plain) {
      this.#end(reader, message);
      return this.#serve(op, base, path, plain, null, call, answer, reply, fail);
    }
    const refs = this.#space.incoming();
    let refusedAlready = false;
    const refused = (error: LimitError) => {
      refusedAlready = true;
      const rejected = Promise.reject(error);
      rejected.catch(() => {}); // Pipelined requests see it; nobody else awaits it.
      answer.outcome = rejected;
      fail(error);
    };
    const unboxed = this.#unbox(reader, refs, message, refused);
    if (!unboxed) return;
    const { unboxer, unboxing } = unboxed;
    if (unboxing === null) {
      this.#end(reader, message);
      const argv = argumentsOf(unboxer.value);
      return this.#serve(op, base, path, argv, unboxer, call, answer, reply, fail);
    }
    // A large argument list: pipelined requests wait on the outcome while it is unboxed.
    const promise = unboxing.then(() => {
      this.#end(reader, message);
      return this.#serveLater(op, base, path, argumentsOf(unboxer.value), unboxer, call);
    });
    promise.catch(() => {});
    answer.outcome = promise;
    promise.then(reply, (error) => {
      // A refusal replied already (see #unbox); a malformed message is the peer's fault.
      if (refusedAlready || this.#closed) return;
      if (isPeerFault(error)) return this.#failed(error);
      fail(error);
    });
  }

  /**
   * Serves a request whose arguments are here: at once when nothing has to
   * be waited for first (the common case), else once it has.
   */
  #serve(
    op: OpCode,
    base: unknown,
    path: readonly string[],
    argv: unknown[],
    unboxer: Unboxer | null,
    call: IncomingCall,
    answer: Answer,
    reply: (value: unknown) => void,
    fail: (error: unknown) => void,
  ): void {
    let outcome: unknown;
    let later = false;
    try {
      later = this.#requestGate !== null || (unboxer?.hasDeferred ?? false) ||
        base instanceof Promise;
      outcome = later
        ? this.#serveLater(op, base, path, argv, unboxer, call)
        : execute(op, base, path, argv, this.#policy, call);
      later ||= isThenable(outcome);
      if (later && this.#driver?.blocked) {
        if (isThenable(outcome)) Promise.resolve(outcome).catch(() => {});
        throw new TypeError(
          `${describeRequest(op, path)} returned a promise while this thread is blocked in a ` +
            "synchronous call, so nothing can wait for it: make the function synchronous, " +
            "or call it from async code (the async mode, or conn.async(...))",
        );
      }
    } catch (error) {
      const rejected = Promise.reject(error);
      rejected.catch(() => {}); // Pipelined requests see it; nobody else awaits it.
      answer.outcome = rejected;
      return fail(error);
    }
    if (!later) {
      answer.outcome = outcome;
      return reply(outcome);
    }
    const promise = Promise.resolve(outcome);
    answer.outcome = promise;
    promise.then(reply, fail);
  }

  /** Serves a request that must first wait: for onConnect, its arguments, or its target. */
  async #serveLater(
    op: OpCode,
    base: unknown,
    path: readonly string[],
    args: unknown[],
    unboxer: Unboxer | null,
    call: CallContext,
  ): Promise<unknown> {
    if (this.#requestGate) await this.#requestGate;
    if (unboxer?.hasDeferred) await unboxer.settle();
    return await execute(op, await base, path, args, this.#policy, call);
  }

  #onAnswer(head: AnswerHead, reader: ByteReader, message: ReceivedMessage): void {
    const { seq } = head;
    const failed = head.type === Msg.Throw;
    if (!this.#pending.has(seq)) {
      if (seq >= this.#nextSeq) throw peerFault(`answer to request #${seq}, which was never sent`);
      // A late answer to a call we gave up on: give back the references it carries.
      return this.#giveBackAll(reader, message, true);
    }
    // The common answer: a number, a string, null: read without an unboxer.
    const plain = readPrimitive(reader);
    if (plain !== NOT_PRIMITIVE) {
      this.#end(reader, message);
      return this.#deliver(seq, this.#pending.take(seq)!, failed, plain);
    }
    const refs = this.#space.incoming();
    const unboxed = this.#unbox(
      reader,
      refs,
      message,
      (error) => this.#pending.take(seq)?.fail(error),
    );
    if (!unboxed) return;
    const { unboxer, unboxing } = unboxed;
    const deliver = () => {
      this.#end(reader, message);
      const question = this.#pending.take(seq);
      // Nobody waits any more (the call timed out meanwhile): give back its references.
      if (!question) return refs.giveBack();
      whenSettled(unboxer, failed, (failed, value) => this.#deliver(seq, question, failed, value));
    };
    this.#afterUnboxing(unboxing, deliver);
  }

  #onPush(head: PushHead, reader: ByteReader, message: ReceivedMessage): void {
    const { id, failed } = head;
    const refs = this.#space.incoming();
    const unboxed = this.#unbox(
      reader,
      refs,
      message,
      (error) => this.#pushes.settle(id, true, error),
    );
    if (!unboxed) return;
    const { unboxer, unboxing } = unboxed;
    const deliver = () => {
      this.#end(reader, message);
      const value = unboxer.value;
      if (!failed) checkPush(value, this.#pushWindow());
      // The EXPORT announcing it may be in a value still being unboxed: look once it is.
      const pending = this.#pushes.has(id) ? [] : [...this.#unboxings];
      const settle = () => {
        if (!this.#pushes.has(id)) return refs.giveBack(); // Its EXPORT was refused.
        whenSettled(unboxer, failed, (failed, value) => this.#pushes.settle(id, failed, value));
      };
      if (pending.length === 0) return settle();
      Promise.allSettled(pending).then(settle);
    };
    this.#afterUnboxing(unboxing, deliver);
  }

  /**
   * Runs `deliver` once a message's value is unboxed (at once when it was);
   * what it throws then (the peer's fault) closes the connection.
   */
  #afterUnboxing(unboxing: Promise<void> | null, deliver: () => void): void {
    if (unboxing === null) return deliver();
    unboxing.then(() => {
      try {
        deliver();
      } catch (error) {
        this.#failed(error);
      }
    }, () => {}); // #unbox dealt with the failure.
  }

  /**
   * Settles a question with its answer. Settled first: from then on new
   * operations on the answer run here, so the callee may forget it (FINISH).
   */
  #deliver(seq: number, question: Question, failed: boolean, value: unknown): void {
    if (failed) question.fail(value);
    else question.fulfil(value);
    this.#finished.push(seq);
    this.scheduleHousekeeping();
  }

  /** Sends batched FINISH and RELEASE messages. */
  #flushHousekeeping(): void {
    if (this.#finished.length > 0) {
      const seqs = this.#finished;
      this.#finished = [];
      this.#writeMessage((w) => writeSeqs(w, Msg.Finish, seqs));
    }
    this.#sendReleases();
  }

  #sendReleases(): void {
    const releases = this.#space.takeReleases();
    if (releases) this.#writeMessage((w) => writeRelease(w, releases[0], releases[1]));
  }

  /** A protocol violation by the peer: log it, tell the peer why, close. */
  #violation(error: ProtocolError): void {
    this.#logger("warn", `closing ${this.description}: ${error.message}`);
    this.#shutdown(error, true);
  }

  #shutdown(reason: Error, notifyPeer: boolean): void {
    if (this.#closed) return;
    if (notifyPeer) {
      this.#flushHousekeeping();
      this.#writeMessage((w) => writeClose(w, reason.message));
    }
    this.#closed = true;
    this.#closeReason = reason;
    if (this.#housekeeping !== undefined) clearTimeout(this.#housekeeping);
    const closedError = reason instanceof ConnectionClosedError
      ? reason
      : new ConnectionClosedError(`connection closed: ${reason.message}`, { cause: reason });
    this.#pending.failAll(closedError);
    this.#answers.clear(closedError);
    this.#pushes.clear(closedError);
    this.#space.clear();
    this.#finished = [];
    (async () => {
      // Let the CLOSE frame leave, but never wait on a peer that stopped reading.
      let timer: Timer | undefined;
      await Promise.race([
        this.#channel.flushed(),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
      this.#channel.close();
      if (this.#root) {
        try {
          await this.service.onDisconnect(this);
        } catch (error) {
          this.#logger("error", `onDisconnect of ${this.description} threw: ${error}`);
        }
      }
      for (const listener of this.#closeListeners) {
        try {
          listener(reason);
        } catch (error) {
          this.#logger("error", `a close listener threw: ${error}`);
        }
      }
      this.#closeListeners.clear();
      this.#done.resolve();
    })();
  }
}

/** `call of log.write`, for errors about a request being served. */
function describeRequest(op: OpCode, path: readonly string[]): string {
  const name = (Object.keys(Op) as (keyof typeof Op)[]).find((key) => Op[key] === op) ?? "request";
  return `the ${name.toLowerCase()} of ${path.join(".") || "the target"}`;
}

/**
 * Hands `use` an unboxed outcome once its lazy paths are resolved (at once
 * when it has none); a path that fails makes it a failure with that error.
 */
function whenSettled(
  unboxer: Unboxer,
  failed: boolean,
  use: (failed: boolean, value: unknown) => void,
): void {
  if (!unboxer.hasDeferred) return use(failed, unboxer.value);
  unboxer.settle().then(() => use(failed, unboxer.value), (error) => use(true, error));
}

/**
 * Checks a PUSH's value: a BATCH's answer of at most `window` chunks.
 *
 * @throws {ProtocolError} for anything else.
 */
function checkPush(value: unknown, window: number): void {
  if (!isBatchAnswer(value)) {
    throw peerFault("malformed PUSH message: the value must be [items, done, returned]");
  }
  if (value[0].length > window) {
    throw peerFault(
      `a PUSH of ${
        value[0].length
      } chunks, more than the streamWindow (${window}) this end announced`,
    );
  }
}

/** A REQUEST's arguments: an array, or the peer broke the protocol. */
function argumentsOf(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw peerFault("malformed Request message: args must be an array");
  return value;
}

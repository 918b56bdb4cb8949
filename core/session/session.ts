/**
 * The connection engine: one symmetric rdc session over one transport.
 *
 * Both ends run the same engine. The read loop always runs, so replies,
 * callbacks and re-entrant requests are served while calls are pending; no
 * serving thread is needed. Nothing here assumes the main thread, so the
 * engine also runs inside a Worker.
 *
 * @module
 */

import { Boxer } from "../wire/boxing.ts";
import { scanExports, Unboxer } from "../wire/unboxing.ts";
import {
  encodeExport,
  type ExportDescriptor,
  importExt,
  pathArg,
  type ReferenceBoxer,
} from "../wire/values.ts";
import { type Answer, AnswerTable } from "./answers.ts";
import { MessageCodec } from "../wire/codec.ts";
import { type CallContext, execute, IncomingCall, walk } from "./dispatch.ts";
import { ConnectionClosedError, isPeerFault, peerFault, ProtocolError } from "../errors.ts";
import { ByReference, unwrapMarker } from "../wire/markers.ts";
import { MemberLists } from "./member_lists.ts";
import { ExportTable } from "./exports.ts";
import { FrameReader, FrameWriter } from "../wire/framing.ts";
import { helloMessage, type PeerInfo, receiveHello } from "../wire/handshake.ts";
import { type ImportEntry, ImportTable } from "./imports.ts";
import { checkPathSegment, reachableNames, type ResolvedPolicy, resolvePolicy } from "./policy.ts";
import {
  type CallOptions,
  describe,
  type Engine,
  followLocal,
  Question,
  type RemoteState,
  remoteState,
} from "./engine.ts";
import { QuestionTable } from "./questions.ts";
import type {
  Connection,
  ConnectionOptions,
  ConnectionStats,
  Limits,
  RootObject,
} from "./connection.ts";
import type { Transport } from "../wire/transport.ts";
import { defaultLogger, type Logger } from "../log.ts";
import {
  checkMessage,
  Msg,
  Op,
  type OpCode,
  PROTOCOL_VERSION,
  questionTarget,
  RefKind,
  type RefKindCode,
  type RequestMessage,
  type Target,
} from "../wire/messages.ts";

const HOUSEKEEPING_DELAY_MS = 5;

type Timer = ReturnType<typeof setTimeout>;

/**
 * The engine behind a {@linkcode Connection}: one symmetric session over one
 * transport. It is also the proxies' {@linkcode Engine} and boxing's
 * {@linkcode ReferenceBoxer}; see `core/PROTOCOL.md` for what crosses the wire.
 */
export class Session implements Connection, Engine, ReferenceBoxer {
  /** The service instance serving this connection. */
  readonly service: RootObject;
  /** What the server's authenticator or TLS established about the peer; null if nothing. */
  readonly credentials: unknown;
  /** What the transport is connected to (`tcp 127.0.0.1:18812`). */
  readonly description: string;

  #transport: Transport;
  #makeProxy: (state: RemoteState) => object;
  #reader: FrameReader;
  #writer: FrameWriter;
  #codec: MessageCodec;
  #policy: ResolvedPolicy;
  #limits: Required<Limits>;
  #timeout: number;
  #logger: Logger;
  #exports: ExportTable;
  #imports: ImportTable;
  #pending: QuestionTable;
  #answers = new AnswerTable();
  #memberLists = new MemberLists();
  /** What the message being boxed has exported and described, in case it is never sent. */
  #journal: { exports: number[]; lists: string[] } | null = null;
  #nextSeq = 0;
  #finished: number[] = [];
  #releases = new Map<number, number>();
  #housekeeping: Timer | undefined;
  #framesSent = 0;
  #framesReceived = 0;
  /** Attachment frames waiting for the message they belong to, and their size. */
  #attachments: Uint8Array[] | undefined;
  #attachmentBytes = 0;
  #root: object | null = null;
  #peer: PeerInfo = { service: "", aliases: [], members: new Set() };
  #closed = false;
  #closeReason: Error | null = null;
  #closeListeners = new Set<(reason: Error) => void>();
  #done = Promise.withResolvers<void>();
  #requestGate: Promise<void> | null = null;

  /**
   * Use `connect*` or `serve`; this wires a transport that is already open.
   * `makeProxy` builds the netrefs (core/proxy.ts, one layer up).
   */
  constructor(
    transport: Transport,
    service: RootObject,
    makeProxy: (state: RemoteState) => object,
    options: ConnectionOptions = {},
    credentials: unknown = null,
  ) {
    this.service = service;
    this.credentials = credentials;
    this.#makeProxy = makeProxy;
    this.description = transport.description;
    this.#transport = transport;
    this.#limits = {
      maxFrameSize: options.maxFrameSize ?? 64 * 1024 * 1024,
      maxDepth: options.maxDepth ?? 256,
      maxPendingRequests: options.maxPendingRequests ?? 65536,
      maxExports: options.maxExports ?? 1_000_000,
    };
    this.#policy = resolvePolicy(options);
    this.#timeout = options.timeout ?? 30_000;
    this.#pending = new QuestionTable((seq, reason) => this.#abandon(seq, reason), this.#timeout);
    this.#logger = options.logger ?? defaultLogger;
    this.#reader = new FrameReader(transport, this.#limits.maxFrameSize);
    this.#writer = new FrameWriter(transport, (error) => {
      this.#shutdown(
        error instanceof ConnectionClosedError
          ? error
          : new ConnectionClosedError(`write failed: ${error}`, { cause: error }),
        false,
      );
    });
    this.#codec = new MessageCodec(this.#limits.maxFrameSize, this.#limits.maxDepth);
    this.#exports = new ExportTable(service);
    this.#imports = new ImportTable((id, count) => this.#queueRelease(id, count));
  }

  /**
   * Exchanges handshakes, runs the service's `onConnect`, and starts serving.
   * Resolves once the connection is usable.
   *
   * @throws {ProtocolError} when the peer is not an rdc peer, speaks another
   *   protocol version, or is not the expected service.
   */
  async start(options: ConnectionOptions, aliases: string[]): Promise<void> {
    const version = options.protocolVersion ?? PROTOCOL_VERSION;
    this.#write(helloMessage(version, aliases, reachableNames(this.service, this.#policy)));
    try {
      this.#peer = await receiveHello(this.#reader, this.#codec, {
        version,
        timeout: options.handshakeTimeout ?? 10_000,
        expectService: options.expectService,
        description: this.description,
      });
      this.#framesReceived++;
    } catch (error) {
      const reason = error instanceof Error ? error : peerFault(String(error));
      this.#shutdown(reason, reason instanceof ProtocolError);
      await this.#done.promise;
      throw reason;
    }
    this.#root = this.#imports.obtain(
      0,
      RefKind.Object,
      this.#peer.service,
      this.#peer.members,
      (entry) => this.#netref(entry),
      false,
    );
    const gate = Promise.withResolvers<void>();
    gate.promise.catch(() => {}); // Requests queued behind a refusing onConnect fail quietly.
    this.#requestGate = gate.promise;
    this.#readLoop();
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
    return this.#peer.service;
  }

  /** Every name the peer's service answers to. */
  get peerAliases(): readonly string[] {
    return this.#peer.aliases;
  }

  /** The limits this end enforces on what the peer sends. */
  get limits(): Readonly<Required<Limits>> {
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
    return {
      exports: this.#exports.size,
      imports: this.#imports.size,
      pendingRequests: this.#pending.size,
      servingRequests: this.#answers.serving,
      answers: this.#answers.size,
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      bytesSent: this.#writer.bytesSent,
      bytesReceived: this.#reader.bytesReceived,
    };
  }

  /** Closes the connection, telling the peer; resolves once cleaned up. Idempotent. */
  close(): Promise<void> {
    this.#shutdown(new ConnectionClosedError("connection closed by this end"), true);
    return this.#done.promise;
  }

  /** Closes the connection (`await using conn = await connect(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- Engine: what proxies drive ----------------------------------------------------------

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
    const seq = this.#nextSeq++;
    const target: Target = base instanceof Question ? questionTarget(base.seq) : base.id;
    const finished = this.#finished;
    let outgoing: Outgoing;
    try {
      outgoing = this.#encodeBoxed((boxer) => {
        const message: unknown[] = [Msg.Request, seq, op, target, path, boxer.box(args)];
        if (finished.length > 0) message.push(finished);
        return message;
      });
    } catch (error) {
      return Question.rejected(error);
    }
    this.#sendOutgoing(outgoing);
    if (finished.length > 0) this.#finished = [];
    const question = new Question(this, seq);
    this.#pending.add(question, options?.timeout ?? this.#timeout, signal);
    return question;
  }

  /** Logs a failure nobody can await; see {@linkcode Engine.report}. */
  report(message: string): void {
    this.#logger("warn", `${this.description}: ${message}`);
  }

  /** Releases an import now; see {@linkcode Engine.dispose}. */
  dispose(entry: ImportEntry): void {
    if (entry.id === 0) return; // The root lives as long as the connection.
    this.#imports.release(entry);
  }

  // ---- ReferenceBoxer: what boxing needs ---------------------------------------------------

  /** The wire form of a by-reference value; see {@linkcode ReferenceBoxer.boxReference}. */
  boxReference(value: object, box: (value: unknown) => unknown): unknown {
    const state = remoteState(value);
    if (state && state.engine === this) return this.#boxOwnNetref(state, box);
    if (this.#exports.size >= this.#limits.maxExports) {
      throw peerFault(`export limit of ${this.#limits.maxExports} objects reached`);
    }
    const id = this.#exports.add(value);
    this.#journal?.exports.push(id);
    // A netref of another connection is forwarded: describe it from its state,
    // never by reading its members (each read would be a remote call).
    const entry = state && !(state.base instanceof Question) && state.path.length === 0
      ? state.base
      : null;
    const names = state ? [...(entry?.members ?? [])] : reachableNames(value, this.#policy);
    const list = this.#memberLists.outgoing(names);
    if (list.key !== null) this.#journal?.lists.push(list.key);
    return encodeExport({
      kind: entry ? entry.kind : state ? RefKind.Promise : refKind(value),
      id,
      shape: list.shape,
      name: entry ? entry.name : state ? describe(state) : refName(value),
      members: list.members,
    });
  }

  /**
   * Encodes one message built with a fresh boxer. If boxing or encoding fails,
   * the exports and member lists it added are taken back: the peer never saw them.
   */
  #encodeBoxed(build: (boxer: Boxer) => unknown[]): Outgoing {
    const journal = this.#journal = { exports: [] as number[], lists: [] as string[] };
    try {
      const boxer = new Boxer(this, this.#limits.maxDepth);
      return { frame: this.#codec.encode(build(boxer)), attachments: boxer.attachments };
    } catch (error) {
      for (const id of journal.exports) if (id !== 0) this.#exports.release(id, 1);
      this.#memberLists.forget(journal.lists);
      throw error;
    } finally {
      this.#journal = null;
    }
  }

  /** A netref of this connection going back to its owner: a reference, a lazy path or, once its answer is here, that value. */
  #boxOwnNetref(state: RemoteState, box: (value: unknown) => unknown): unknown {
    const base = state.base;
    if (!(base instanceof Question)) {
      if (base.released) throw new ReferenceError(`${describe(state)} was released (disposed)`);
      return state.path.length === 0 ? importExt(base.id) : pathArg(base.id, state.path);
    }
    if (base.state === "pending") {
      if (base.engine === this) return pathArg(questionTarget(base.seq), state.path);
      throw new TypeError(`${describe(state)} is still being computed here; await it first`);
    }
    if (base.state === "rejected") {
      throw new TypeError(`${describe(state)} failed; it cannot be sent`, { cause: base.value });
    }
    // The answer is here: follow the path through it, into a netref if it leads to one.
    const reached = followLocal(base.value, state.path);
    const inner = remoteState(reached.value);
    if (inner && reached.rest.length > 0) {
      const path = [...inner.path, ...reached.rest];
      return this.boxReference(this.#makeProxy({ ...inner, path }), box);
    }
    return box(reached.value);
  }

  /** A proxy for the peer's export; see {@linkcode ReferenceBoxer.importReference}. */
  importReference(descriptor: ExportDescriptor): unknown {
    const members = this.#memberLists.incoming(descriptor.shape, descriptor.members);
    const { id, kind, name } = descriptor;
    if (id === 0) {
      return this.#root ??
        this.#imports.obtain(0, kind, name, members, (e) => this.#netref(e), false);
    }
    return this.#imports.obtain(id, kind, name, members, (entry) => this.#netref(entry));
  }

  /** One of our exports, back home; see {@linkcode ReferenceBoxer.localReference}. */
  localReference(id: number): unknown {
    return this.#exports.get(id);
  }

  /** Resolves a lazy path argument; see {@linkcode ReferenceBoxer.resolvePath}. */
  async resolvePath(target: Target, path: string[]): Promise<unknown> {
    const base = await this.#resolveTarget(target);
    return unwrapMarker(walk(base, path, this.#policy).value);
  }

  // ---- internals ---------------------------------------------------------------------------

  #rootEntry(): ImportEntry {
    return remoteState(this.root)!.base as ImportEntry;
  }

  #netref(entry: ImportEntry): object {
    return this.#makeProxy({ engine: this, base: entry, path: [] });
  }

  /** Sends a message that always encodes (protocol bookkeeping, no user values). */
  #write(message: unknown[]): void {
    if (!this.#closed) this.#sendFrame(this.#codec.encode(message));
  }

  #sendFrame(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#framesSent++;
    this.#writer.send(frame);
  }

  /** Sends a message's attachments, then the message. */
  #sendOutgoing({ frame, attachments }: Outgoing): void {
    if (this.#closed) return;
    for (const bytes of attachments) {
      this.#framesSent++;
      this.#writer.sendAttachment(bytes);
    }
    this.#sendFrame(frame);
  }

  /** Gives up on an outgoing request (timeout or abort) and tells the callee. */
  #abandon(seq: number, reason: unknown): void {
    const question = this.#pending.take(seq);
    if (!question) return;
    question.fail(reason);
    this.#write([Msg.Cancel, seq]);
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        const payload = await this.#reader.next();
        if (payload === null) {
          this.#shutdown(
            new ConnectionClosedError(`${this.description} closed the connection`),
            false,
          );
          return;
        }
        this.#framesReceived++;
        if (this.#reader.attachment) this.#hold(payload);
        else this.#receive(payload, this.#takeAttachments());
      }
    } catch (error) {
      if (this.#closed) return;
      if (isPeerFault(error)) this.#violation(error);
      else if (error instanceof ConnectionClosedError) this.#shutdown(error, false);
      else {this.#shutdown(
          new ConnectionClosedError(`read failed: ${error}`, { cause: error }),
          false,
        );}
    }
  }

  /** Keeps an attachment for the next message, within the limits of one frame. */
  #hold(bytes: Uint8Array): void {
    this.#attachmentBytes += bytes.length;
    if (this.#attachmentBytes > this.#limits.maxFrameSize) {
      throw peerFault(
        `attachments of more than ${this.#limits.maxFrameSize} bytes for one message`,
      );
    }
    (this.#attachments ??= []).push(bytes);
  }

  #takeAttachments(): Uint8Array[] | undefined {
    const attachments = this.#attachments;
    this.#attachments = undefined;
    this.#attachmentBytes = 0;
    return attachments;
  }

  /** Handles one frame. Throws {@linkcode ProtocolError} for anything malformed. */
  #receive(payload: Uint8Array, attachments: Uint8Array[] | undefined): void {
    const message = checkMessage(this.#codec.decode(payload));
    const kind = message[0];
    switch (kind) {
      case Msg.Hello:
        throw peerFault("unexpected second handshake");
      case Msg.Request:
        return this.#onRequest(message, attachments);
      case Msg.Reply:
      case Msg.Throw:
        return this.#onAnswer(message[1], kind === Msg.Throw, message[2], attachments);
      case Msg.Release:
        for (let i = 0; i < message[1].length; i++) {
          this.#exports.release(message[1][i], message[2][i]);
        }
        return;
      case Msg.Cancel:
        return this.#answers.cancel(message[1]);
      case Msg.Finish:
        return this.#answers.finish(message[1]);
      case Msg.Close:
        this.#shutdown(
          new ConnectionClosedError(`the peer closed the connection: ${message[1]}`),
          false,
        );
        return;
      default:
        kind satisfies never;
    }
  }

  #onRequest(message: RequestMessage, attachments: Uint8Array[] | undefined): void {
    const [, seq, op, target, path, args, finished] = message;
    if (finished) this.#answers.finish(finished);
    for (const name of path) checkPathSegment(name);
    // Take hold of the target now: a RELEASE or FINISH that follows this request
    // must not pull it away while the request waits for its arguments.
    const base = target >= 0 ? this.#exports.get(target) : this.#answers.valueOf(-target - 1);
    if (base instanceof Promise) base.catch(() => {}); // Awaited in #serveLater, if it runs.
    const unboxer = new Unboxer(this, this.#limits.maxDepth, attachments);
    const argv = unboxer.unbox(args) as unknown[];
    const call = new IncomingCall(this);
    const answer = this.#answers.open(seq, call, this.#limits.maxPendingRequests);
    let outcome: unknown;
    let later = false;
    try {
      // Run at once when nothing has to be waited for first: the common case.
      later = this.#requestGate !== null || unboxer.hasDeferred || target < 0;
      outcome = later
        ? this.#serveLater(op, base, path, argv, unboxer, call)
        : execute(op, base, path, argv, this.#policy, call);
      later ||= isThenable(outcome);
    } catch (error) {
      const rejected = Promise.reject(error);
      rejected.catch(() => {}); // Pipelined requests see it; nobody else awaits it.
      answer.outcome = rejected;
      return this.#reply(seq, answer, true, error);
    }
    // An iterator always travels by reference, even a plain-object one.
    const reply = (value: unknown) =>
      this.#reply(seq, answer, false, op === Op.Iter ? new ByReference(value) : value);
    if (!later) {
      answer.outcome = outcome;
      return reply(outcome);
    }
    const promise = Promise.resolve(outcome);
    answer.outcome = promise;
    promise.then(reply, (error) => this.#reply(seq, answer, true, error));
  }

  /** Serves a request that must first wait: for onConnect, its arguments, or its target. */
  async #serveLater(
    op: OpCode,
    base: unknown,
    path: readonly string[],
    args: unknown[],
    unboxer: Unboxer,
    call: CallContext,
  ): Promise<unknown> {
    if (this.#requestGate) await this.#requestGate;
    if (unboxer.hasDeferred) await unboxer.settle();
    return await execute(op, await base, path, args, this.#policy, call);
  }

  async #resolveTarget(target: Target): Promise<unknown> {
    return target >= 0 ? this.#exports.get(target) : await this.#answers.valueOf(-target - 1);
  }

  #reply(seq: number, answer: Answer, failed: boolean, value: unknown): void {
    if (!this.#answers.settle(seq, answer) || this.#closed) return;
    if (failed && isPeerFault(value)) {
      this.#violation(value);
      return;
    }
    let outgoing: Outgoing;
    try {
      outgoing = this.#encodeBoxed((
        boxer,
      ) => [failed ? Msg.Throw : Msg.Reply, seq, boxer.box(value)]);
    } catch (error) {
      if (isPeerFault(error)) return this.#violation(error);
      const what = failed ? "error" : "result";
      const problem = new TypeError(
        `cannot send the ${what} of request #${seq}: ${(error as Error).message}`,
      );
      outgoing = this.#encodeBoxed((boxer) => [Msg.Throw, seq, boxer.box(problem)]);
    }
    this.#sendOutgoing(outgoing);
  }

  #onAnswer(
    seq: number,
    failed: boolean,
    wire: unknown,
    attachments: Uint8Array[] | undefined,
  ): void {
    if (!this.#pending.has(seq)) {
      if (seq >= this.#nextSeq) {
        throw peerFault(`answer to request #${seq}, which was never sent`);
      }
      // A late answer to a call we gave up on: give back the references it carries.
      return scanExports(wire, this.#limits.maxDepth, (descriptor) => {
        this.#memberLists.incoming(descriptor.shape, descriptor.members);
        this.#queueRelease(descriptor.id, 1);
      });
    }
    // A number, string, boolean or null is its own value: the common case, unboxed for free.
    if (typeof wire !== "object" || wire === null) {
      return this.#deliver(seq, this.#pending.take(seq)!, failed, wire);
    }
    // Unbox before taking the question: if the answer is malformed, the
    // connection closes and the question fails with it.
    const unboxer = new Unboxer(this, this.#limits.maxDepth, attachments);
    const holder = unboxer.unboxTop(wire);
    const question = this.#pending.take(seq)!;
    if (!unboxer.hasDeferred) return this.#deliver(seq, question, failed, holder.value);
    unboxer.settle().then(
      () => this.#deliver(seq, question, failed, holder.value),
      (error) => this.#deliver(seq, question, true, error),
    );
  }

  /**
   * Settles a question with its answer. Settled first: from then on new
   * operations on the answer run here, so the callee may forget it (FINISH).
   */
  #deliver(seq: number, question: Question, failed: boolean, value: unknown): void {
    if (failed) question.fail(value);
    else question.fulfil(value);
    this.#finished.push(seq);
    this.#scheduleHousekeeping();
  }

  #queueRelease(id: number, count: number): void {
    if (this.#closed) return;
    this.#releases.set(id, (this.#releases.get(id) ?? 0) + count);
    this.#scheduleHousekeeping();
  }

  #scheduleHousekeeping(): void {
    if (this.#housekeeping !== undefined) return;
    if (this.#finished.length >= 256) return this.#flushHousekeeping();
    const timer = setTimeout(() => {
      this.#housekeeping = undefined;
      this.#flushHousekeeping();
    }, HOUSEKEEPING_DELAY_MS);
    Deno.unrefTimer(timer);
    this.#housekeeping = timer;
  }

  /** Sends batched FINISH and RELEASE messages. */
  #flushHousekeeping(): void {
    if (this.#finished.length > 0) {
      this.#write([Msg.Finish, this.#finished]);
      this.#finished = [];
    }
    if (this.#releases.size > 0) {
      this.#write([Msg.Release, [...this.#releases.keys()], [...this.#releases.values()]]);
      this.#releases.clear();
    }
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
      this.#write([Msg.Close, reason.message]);
    }
    this.#closed = true;
    this.#closeReason = reason;
    if (this.#housekeeping !== undefined) clearTimeout(this.#housekeeping);
    const closedError = reason instanceof ConnectionClosedError
      ? reason
      : new ConnectionClosedError(`connection closed: ${reason.message}`, { cause: reason });
    this.#pending.failAll(closedError);
    this.#answers.clear(closedError);
    this.#exports.clear();
    this.#imports.clear();
    this.#releases.clear();
    this.#finished = [];
    (async () => {
      // Let the CLOSE frame leave, but never wait on a peer that stopped reading.
      let timer: Timer | undefined;
      await Promise.race([
        this.#writer.flushed(),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
      this.#transport.close();
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

function isThenable(value: unknown): boolean {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** An encoded message (valid until the next encode) and the attachments that go before it. */
interface Outgoing {
  frame: Uint8Array;
  attachments: readonly Uint8Array[];
}

function refKind(value: object): RefKindCode {
  if (typeof value === "function") return RefKind.Function;
  return typeof (value as { then?: unknown }).then === "function"
    ? RefKind.Promise
    : RefKind.Object;
}

/** What a netref is labelled: a function's name, else a class name or a string tag. */
function refName(value: object): string {
  if (typeof value === "function") return value.name || "(anonymous)";
  const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  const constructor = Object.getPrototypeOf(value)?.constructor?.name;
  if (typeof tag === "string" && (!constructor || constructor === "Object")) return tag;
  return constructor || "Object";
}

/**
 * One connection's object space: what this end exports, what it imports,
 * the member lists both ways, and the releases waiting to be sent. Boxing
 * and unboxing reach it through one {@linkcode OutgoingRefs} or
 * {@linkcode IncomingRefs} per message, which remembers what that message
 * did so it can be taken back.
 *
 * @module
 */

import { LimitError, peerFault } from "../errors.ts";
import { type ByteReader, ByteWriter, Token } from "../wire/msgpack.ts";
import { questionTarget, RefKind, type RefKindCode, type Target } from "../wire/messages.ts";
import type {
  ExportDescriptor,
  Reference,
  ReferenceReader,
  ReferenceWriter,
} from "../wire/values.ts";
import {
  describe,
  type Engine,
  followLocal,
  type InTransit,
  Question,
  type RemoteState,
  remoteState,
} from "./engine.ts";
import { ExportTable } from "./exports.ts";
import { type ImportEntry, ImportTable } from "./imports.ts";
import { MAX_LIST_NAMES, MemberLists, type SentList } from "./member_lists.ts";
import { disposableByPeer, reachableNames, type ResolvedPolicy } from "./policy.ts";
import { isThenable } from "../wire/thenable.ts";

/** What the object space needs of its session. */
export interface SpaceOwner {
  /** The engine netrefs of this connection belong to. */
  readonly engine: Engine;
  /** Builds a netref (core/netref/proxy.ts, one layer up). */
  makeProxy(state: RemoteState): object;
  /** The value a lazy path reaches, on one of this end's targets. */
  resolvePath(target: Target, path: readonly string[]): Promise<unknown>;
  /** Asks for the batched RELEASE (and FINISH) to be sent soon. */
  scheduleHousekeeping(): void;
  /**
   * Whether `ReadableStream`s this end exports are pushed: not by a driven
   * session (its thread may be blocked when their first chunks should go),
   * nor to one (it announces a `streamWindow` of 0: it reads with ITER).
   */
  readonly pushesStreams: boolean;
  /** Starts pushing `stream`, exported as `id`, to the peer (its EXPORT is in line). */
  push(id: number, stream: ReadableStream): void;
  /** The peer's export `id` is a stream whose PUSH is on its way. */
  expectPush(id: number): void;
}

/**
 * The exports, imports and member lists of one connection.
 *
 * Contract: the root is export 0 and import 0, for the connection's life.
 * `clear` (the connection closed) empties everything without telling the
 * peer. Nothing here calls user code.
 */
export class ObjectSpace {
  readonly exports: ExportTable;
  readonly imports: ImportTable;
  readonly lists = new MemberLists();
  readonly #owner: SpaceOwner;
  readonly #policy: ResolvedPolicy;
  readonly #maxExports: number;
  readonly #maxImports: number;
  #releases = new Map<number, number>();
  #root: object | null = null;
  #closed = false;

  /** The space of a connection whose root object is `root`. */
  constructor(
    root: object,
    owner: SpaceOwner,
    policy: ResolvedPolicy,
    limits: { maxExports: number; maxImports: number },
  ) {
    this.#owner = owner;
    this.#policy = policy;
    this.#maxExports = limits.maxExports;
    this.#maxImports = limits.maxImports;
    this.exports = new ExportTable(root);
    this.imports = new ImportTable((id, count) => this.#queueRelease(id, count));
  }

  /** The references of one message being sent. */
  outgoing(): OutgoingRefs {
    return new OutgoingRefs(this, this.#owner, this.#policy, this.#maxExports);
  }

  /** The references of one message being received. */
  incoming(): IncomingRefs {
    return new IncomingRefs(this, this.#owner, this.#maxImports);
  }

  /** The proxy for the peer's root (import 0), made on first use; it lives as long as the connection. */
  root(service: string, members: ReadonlySet<string>): object {
    return this.#root ??= this.imports.obtain(
      0,
      RefKind.Object,
      service,
      members,
      (entry) => this.netref(entry),
      false,
    );
  }

  /** The netref of one import. */
  netref(entry: ImportEntry): object {
    return this.#owner.makeProxy({ engine: this.#owner.engine, base: entry, path: [] });
  }

  /**
   * Reads a message's shape table, if it starts with one, and records its lists.
   *
   * @throws {ProtocolError} for a malformed table.
   */
  readShapeTable(reader: ByteReader): void {
    if (reader.peek() >> 4 !== 0x8 && reader.peek() !== 0xde && reader.peek() !== 0xdf) return;
    reader.next();
    const entries = reader.count;
    for (let i = 0; i < entries; i++) {
      if (reader.next() !== Token.Int || reader.number < 0 || reader.number > 0xfffffffe) {
        throw peerFault("malformed shape table: a shape number");
      }
      const shape = reader.number;
      if (reader.next() !== Token.Array) throw peerFault("malformed shape table: a member list");
      if (reader.count > MAX_LIST_NAMES) {
        throw peerFault(`a member list of ${reader.count} names (at most ${MAX_LIST_NAMES})`);
      }
      const names = new Array<string>(reader.count);
      for (let j = 0; j < names.length; j++) {
        if (reader.next() !== Token.Str) throw peerFault("malformed shape table: a member name");
        names[j] = reader.string;
      }
      this.lists.define(shape, names);
    }
  }

  /**
   * RELEASE: the peer drops `counts[i]` references to our export `ids[i]`.
   *
   * @throws {ProtocolError} for an unknown id, the root, or more than were sent.
   */
  release(ids: readonly number[], counts: readonly number[]): void {
    for (let i = 0; i < ids.length; i++) this.exports.release(ids[i], counts[i]);
  }

  /** A reference of the peer's that we give back at once (an answer nobody waits for). */
  giveBack(id: number): void {
    this.#queueRelease(id, 1);
  }

  #queueRelease(id: number, count: number): void {
    if (this.#closed) return;
    this.#releases.set(id, (this.#releases.get(id) ?? 0) + count);
    this.#owner.scheduleHousekeeping();
  }

  /** The releases queued since the last call: ids and counts, or null if none. */
  takeReleases(): [number[], number[]] | null {
    if (this.#releases.size === 0) return null;
    const out: [number[], number[]] = [[...this.#releases.keys()], [...this.#releases.values()]];
    this.#releases.clear();
    return out;
  }

  /** The connection closed: forget everything, telling nobody. */
  clear(): void {
    this.#closed = true;
    this.exports.clear();
    this.imports.clear();
    this.#releases.clear();
  }
}

/**
 * The references one outgoing message makes: the boxer's
 * {@linkcode ReferenceWriter}. It remembers the exports it added and the
 * member lists it describes, so that a message that is never sent takes them
 * back, and the questions whose answers it refers to, which must be in line
 * before it.
 */
export class OutgoingRefs implements ReferenceWriter {
  readonly #space: ObjectSpace;
  readonly #owner: SpaceOwner;
  readonly #policy: ResolvedPolicy;
  readonly #maxExports: number;
  #exported: number[] | null = null;
  #described: Map<number, { list: SentList; members: string[] }> | null = null;
  #after: InTransit[] | null = null;
  #pushed: { id: number; stream: ReadableStream }[] | null = null;

  constructor(space: ObjectSpace, owner: SpaceOwner, policy: ResolvedPolicy, maxExports: number) {
    this.#space = space;
    this.#owner = owner;
    this.#policy = policy;
    this.#maxExports = maxExports;
  }

  /** What must be in line before this message: requests whose answers it names. */
  get after(): InTransit[] | null {
    return this.#after;
  }

  isReference(value: object): boolean {
    return remoteState(value) !== undefined;
  }

  reference(value: object): Reference {
    const state = remoteState(value);
    if (state && state.engine === this.#owner.engine) return this.#ownNetref(state);
    const exports = this.#space.exports;
    if (exports.size >= this.#maxExports && !exports.has(value)) {
      throw new LimitError(`cannot export more than ${this.#maxExports} objects (maxExports)`);
    }
    // A stream exported anew starts flowing once this message is in line (see `placed`).
    const pushed = value instanceof ReadableStream && !state && this.#owner.pushesStreams &&
      !exports.has(value);
    const id = exports.add(value);
    (this.#exported ??= []).push(id);
    if (pushed) (this.#pushed ??= []).push({ id, stream: value });
    // A netref of another connection is forwarded: describe it from its state,
    // never by reading its members (each read would be a remote call).
    const entry = state && !(state.base instanceof Question) && state.path.length === 0
      ? state.base
      : null;
    const names = state ? [...(entry?.members ?? [])] : reachableNames(value, this.#policy);
    const shape = this.#space.lists.outgoing(names, (list, members) => {
      (this.#described ??= new Map()).set(list.shape, { list, members });
    });
    const descriptor: ExportDescriptor = {
      kind: entry ? entry.kind : state ? RefKind.Promise : refKind(value),
      id,
      shape,
      name: entry ? entry.name : state ? describe(state) : refName(value),
      disposable: entry ? entry.disposable : !state && disposableByPeer(value),
      pushed,
    };
    return { kind: "export", descriptor };
  }

  /** A netref of this connection going back to its owner. */
  #ownNetref(state: RemoteState): Reference {
    const base = state.base;
    if (!(base instanceof Question)) {
      if (base.released) throw new ReferenceError(`${describe(state)} was released (disposed)`);
      return state.path.length === 0
        ? { kind: "import", id: base.id }
        : { kind: "path", target: base.id, path: state.path };
    }
    if (base.state === "pending") {
      if (base.engine !== this.#owner.engine) {
        throw new TypeError(`${describe(state)} is still being computed here; await it first`);
      }
      if (base.inTransit) (this.#after ??= []).push(base.inTransit);
      return { kind: "path", target: questionTarget(base.seq), path: state.path };
    }
    if (base.state === "rejected") {
      throw new TypeError(`${describe(state)} failed; it cannot be sent`, { cause: base.value });
    }
    // The answer is here: follow the path through it, into a netref if it leads to one.
    const reached = followLocal(base.value, state.path);
    const inner = remoteState(reached.value);
    if (inner && reached.rest.length > 0) {
      return {
        kind: "value",
        value: this.#owner.makeProxy({ ...inner, path: [...inner.path, ...reached.rest] }),
      };
    }
    return { kind: "value", value: reached.value };
  }

  /**
   * The shape table this message needs (the lists it uses that the peer may
   * not know yet), encoded; null when it needs none.
   */
  shapeTable(): Uint8Array | null {
    const described = this.#described;
    if (!described) return null;
    const writer = new ByteWriter();
    writer.map(described.size);
    for (const [shape, { members }] of described) {
      writer.number(shape);
      writer.array(members.length);
      for (const name of members) writer.string(name);
    }
    return writer.bytes();
  }

  /**
   * The message is in line: the lists it describes are known to the peer
   * from now on, and the streams it exported anew start flowing.
   */
  placed(): void {
    if (this.#described) { for (const { list } of this.#described.values()) list.confirmed = true; }
    if (this.#pushed) { for (const { id, stream } of this.#pushed) this.#owner.push(id, stream); }
    this.#pushed = null;
  }

  /** The message was never sent (or was aborted before the peer had all of it): take back its exports. */
  rollback(): void {
    const exports = this.#space.exports;
    if (this.#exported) { for (const id of this.#exported) if (id !== 0) exports.release(id, 1); }
    this.#exported = null;
    this.#pushed = null;
  }
}

/**
 * The references one incoming message brings: the unboxer's
 * {@linkcode ReferenceReader}. It remembers the imports the message counted,
 * so that a message this end refuses gives them back.
 */
export class IncomingRefs implements ReferenceReader {
  readonly #space: ObjectSpace;
  readonly #owner: SpaceOwner;
  readonly #maxImports: number;
  #imported: ImportEntry[] | null = null;

  constructor(space: ObjectSpace, owner: SpaceOwner, maxImports: number) {
    this.#space = space;
    this.#owner = owner;
    this.#maxImports = maxImports;
  }

  importReference(descriptor: ExportDescriptor): unknown {
    const space = this.#space;
    const members = space.lists.incoming(descriptor.shape);
    const { id, kind, name, disposable } = descriptor;
    const imports = space.imports;
    if (id !== 0 && imports.size >= this.#maxImports && !imports.has(id)) {
      throw new LimitError(
        `this end holds ${this.#maxImports} netrefs to the peer's objects (maxImports)`,
      );
    }
    if (id === 0) return space.root(name, members ?? new Set());
    if (descriptor.pushed) this.#owner.expectPush(id);
    const netref = (entry: ImportEntry) => space.netref(entry);
    const proxy = imports.obtain(id, kind, name, members, netref, true, disposable);
    (this.#imported ??= []).push(imports.entry(id)!);
    return proxy;
  }

  localReference(id: number): unknown {
    return this.#space.exports.get(id);
  }

  resolvePath(target: Target, path: readonly string[]): Promise<unknown> {
    return this.#owner.resolvePath(target, path);
  }

  /** Nobody waits for the message: give back every reference it brought (RELEASE). */
  giveBack(): void {
    this.#undo(true);
  }

  /**
   * Uncounts the references read so far, telling the peer nothing: the
   * caller releases every reference of the message itself (it may not all
   * have been read).
   */
  undo(): void {
    this.#undo(false);
  }

  #undo(tell: boolean): void {
    const imports = this.#space.imports;
    if (this.#imported) { for (const entry of this.#imported) imports.giveBack(entry, tell); }
    this.#imported = null;
  }
}

function refKind(value: object): RefKindCode {
  if (typeof value === "function") return RefKind.Function;
  if (Array.isArray(value)) return RefKind.Array;
  if (value instanceof ReadableStream) return RefKind.ReadableStream;
  if (value instanceof WritableStream) return RefKind.WritableStream;
  return isThenable(value) ? RefKind.Promise : RefKind.Object;
}

/** What a netref is labelled: a function's name, else a class name or a string tag. */
function refName(value: object): string {
  if (typeof value === "function") return value.name || "(anonymous)";
  const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  const constructor = Object.getPrototypeOf(value)?.constructor?.name;
  if (typeof tag === "string" && (!constructor || constructor === "Object")) return tag;
  return constructor || "Object";
}

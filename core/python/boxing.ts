/**
 * Boxing for a Python peer: how values cross (RPyC's labels) and the id
 * packs that name objects by reference, over rdc's refcounted import and
 * export tables.
 *
 * ```
 * boxed := (1, brine value) | (2, tuple of boxed) | (3, id pack of the receiver's object)
 *        | (4, id pack of the sender's object)
 * id pack := (type name, class id, instance id)     instance id 0 = a class
 * ```
 *
 * Deno exports get instance id `export id + 1` (0 would mean a class).
 *
 * @module
 */

import { isBrineValue } from "./brine.ts";
import { Label } from "./envelope.ts";
import { Kwargs, Tuple } from "./values.ts";
import { namePack } from "./pyproto.ts";
import { ExportTable } from "../session/exports.ts";
import { ImportEntry, ImportTable } from "../session/imports.ts";
import { type Engine, Question, remoteState } from "../session/engine.ts";
import { settle } from "../netref/proxy.ts";
import { ByReference } from "../wire/markers.ts";
import { RefKind } from "../wire/messages.ts";
import { peerFault } from "../errors.ts";

/** What the boxer needs of its session. */
export interface BoxingSession extends Engine {
  /** Makes the proxy for an import. */
  proxyFor(entry: ImportEntry): object;
  /** Sends a request nobody waits for. */
  notify(handler: 15, boxedArgs: unknown): void;
}

type IdPack = readonly [string, number | bigint, number | bigint];

const HANDLE_DEL = 15;

/**
 * Boxes and unboxes for one session.
 *
 * Contract: every reference sent counts one more export (Python gives them
 * back with DEL and a count); every reference received counts one more import,
 * given back with DEL when its netref is disposed or collected.
 */
export class PyBoxer {
  #session: BoxingSession;
  #exports: ExportTable;
  #imports: ImportTable;
  /** Per import id: the id pack Python named it with. */
  #packs = new Map<number, IdPack>();
  /** Per id pack (as a key string): its import id. */
  #ids = new Map<string, number>();
  #nextImport = 1;
  /** A stable class id per type name. */
  #classIds = new Map<string, number>();

  /** A boxer for `session`, whose root is export 0. */
  constructor(session: BoxingSession, root: object) {
    this.#session = session;
    this.#exports = new ExportTable(root);
    this.#imports = new ImportTable((id, count) => this.#sendDel(id, count));
  }

  /** Deno objects Python holds (the root included). */
  get exportCount(): number {
    return this.#exports.size;
  }

  /** Python objects held here. */
  get importCount(): number {
    return this.#imports.size;
  }

  /**
   * Awaits what must be here before boxing: lazy netrefs of this session
   * (a member not read yet, an answer still pending), in the arguments, in
   * arrays and in keyword arguments.
   */
  settleArgs(args: unknown[]): unknown[] | Promise<unknown[]> {
    if (!args.some(needsSettling)) return args;
    return Promise.all(args.map(settleValue));
  }

  /** The boxed form of `value`; see the module doc. */
  box(value: unknown): unknown {
    if (isBrineValue(value)) return [Label.Value, value];
    if (value instanceof ImportEntry) return [Label.LocalRef, this.#packOf(value)];
    const state = remoteState(value);
    if (state) {
      if (state.engine !== this.#session) {
        throw new TypeError("a netref of another connection cannot be sent to this Python peer");
      }
      if (state.base instanceof Question || state.path.length > 0) {
        throw new TypeError("a pending remote value cannot be boxed; await it first");
      }
      return [Label.LocalRef, this.#packOf(state.base)];
    }
    if (value instanceof ByReference) return this.#export(value.value as object);
    if (value instanceof Kwargs) throw new TypeError("kwargs() goes last in a call's arguments");
    if (Array.isArray(value)) return [Label.Tuple, value.map((item) => this.box(item))];
    if ((typeof value === "object" && value !== null) || typeof value === "function") {
      return this.#export(value);
    }
    throw new TypeError(`a ${typeof value} cannot be sent to Python`);
  }

  /**
   * The local value for a boxed one from Python. Each import it brings is
   * added to `received`, when given.
   *
   * @throws {ProtocolError} for a malformed box, an unknown label, or an
   * unknown reference to a Deno object.
   */
  unbox(boxed: unknown, received?: ImportEntry[]): unknown {
    if (!Array.isArray(boxed) || boxed.length !== 2) {
      throw peerFault("rpyc: a boxed value is not a (label, value) pair");
    }
    const [label, value] = boxed;
    switch (label) {
      case Label.Value:
        return value;
      case Label.Tuple:
        if (!Array.isArray(value)) throw peerFault("rpyc: a LABEL_TUPLE without a tuple");
        return Tuple.fromItems(value.map((item) => this.unbox(item, received)));
      case Label.LocalRef:
        return this.#exports.get(this.#exportId(value));
      case Label.RemoteRef:
        return this.#import(value, received);
      default:
        throw peerFault(`rpyc: unknown label ${String(label)}`);
    }
  }

  /** The Deno object an id pack from Python names (INSPECT's argument). */
  exported(pack: unknown): object {
    return this.#exports.get(this.#exportId(pack));
  }

  /** Python gives back `count` references to `value` (DEL). The root stays. */
  releaseExport(value: object, count: number): void {
    const id = this.#exports.idOf(value);
    if (id === undefined) throw peerFault("rpyc: DEL of an object that is not exported");
    if (id !== 0) this.#exports.release(id, count);
  }

  /** Releases an import now: DEL with its count. Idempotent. */
  release(entry: ImportEntry): void {
    this.#imports.release(entry);
  }

  /** Gives back one reference to each of `entries` (intermediate or unwanted values). */
  giveBack(entries: readonly ImportEntry[]): void {
    for (const entry of entries) this.#imports.giveBack(entry, true);
  }

  /** Gives back the reference `value` holds, when it is a netref of this session. */
  giveBackValue(value: unknown): void {
    const state = remoteState(value);
    if (state?.engine === this.#session && state.base instanceof ImportEntry) {
      this.#imports.giveBack(state.base, true);
    }
  }

  /** Forgets both tables (the connection is gone). */
  clear(): void {
    this.#imports.clear();
    this.#exports.clear();
    this.#packs.clear();
    this.#ids.clear();
  }

  #export(value: object): unknown {
    const id = this.#exports.add(value);
    const name = namePack(value);
    let classId = this.#classIds.get(name);
    if (classId === undefined) this.#classIds.set(name, classId = this.#classIds.size + 1);
    return [Label.RemoteRef, [name, classId, id + 1]];
  }

  #exportId(pack: unknown): number {
    if (!Array.isArray(pack) || pack.length !== 3) {
      throw peerFault("rpyc: a reference that is not an id pack");
    }
    const instance = Number(pack[2]);
    if (!Number.isSafeInteger(instance) || instance < 1) {
      throw peerFault(`rpyc: unknown reference to a Deno object (instance id ${String(pack[2])})`);
    }
    return instance - 1;
  }

  #import(value: unknown, received?: ImportEntry[]): object {
    if (
      !Array.isArray(value) || value.length !== 3 || typeof value[0] !== "string" ||
      !isId(value[1]) || !isId(value[2])
    ) {
      throw peerFault("rpyc: a LABEL_REMOTE_REF without an id pack");
    }
    const pack = value as unknown as IdPack;
    const key = `${pack[0]}\u0000${pack[1]}\u0000${pack[2]}`;
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#nextImport++;
      this.#ids.set(key, id);
      this.#packs.set(id, pack);
    }
    const kind = /function|method/.test(pack[0]) ? RefKind.Function : RefKind.Object;
    const proxy = this.#imports.obtain(id, kind, pack[0], null, (e) => this.#session.proxyFor(e));
    received?.push(this.#imports.entry(id)!);
    return proxy;
  }

  #packOf(entry: ImportEntry): IdPack {
    const pack = this.#packs.get(entry.id);
    if (!pack || entry.released) throw new ReferenceError(`${entry.name} was released (disposed)`);
    return pack;
  }

  #sendDel(id: number, count: number): void {
    const pack = this.#packs.get(id);
    if (!pack) return;
    this.#packs.delete(id);
    this.#ids.delete(`${pack[0]}\u0000${pack[1]}\u0000${pack[2]}`);
    this.#session.notify(HANDLE_DEL, [Label.Tuple, [[Label.LocalRef, pack], [Label.Value, count]]]);
  }
}

const isId = (v: unknown): boolean => typeof v === "number" || typeof v === "bigint";

function needsSettling(value: unknown): boolean {
  const state = remoteState(value);
  if (state) return state.base instanceof Question || state.path.length > 0;
  if (Array.isArray(value)) return value.some(needsSettling);
  if (value instanceof Kwargs) return value.entries.some(([, v]) => needsSettling(v));
  return false;
}

async function settleValue(value: unknown): Promise<unknown> {
  const state = remoteState(value);
  if (state) {
    return state.base instanceof Question || state.path.length > 0 ? await settle(state) : value;
  }
  if (Array.isArray(value) && value.some(needsSettling)) {
    const items = await Promise.all(value.map(settleValue));
    return value instanceof Tuple ? Tuple.fromItems(items) : items;
  }
  if (value instanceof Kwargs && value.entries.some(([, v]) => needsSettling(v))) {
    const entries = await Promise.all(
      value.entries.map(async ([k, v]) => [k, await settleValue(v)]),
    );
    return new Kwargs(Object.fromEntries(entries));
  }
  return value;
}

/**
 * Unboxing: turning a decoded MessagePack tree back into JavaScript values
 * (the reverse of boxing.ts; core/PROTOCOL.md, "Values").
 *
 * @module
 */

import { ExtData } from "@msgpack/msgpack";
import { completeRemoteError, peerFault, RemoteError } from "../errors.ts";
import {
  ARRAY_BUFFER_KIND,
  bytesToBigint,
  decodeExport,
  type ExportDescriptor,
  isPathArg,
  readU32,
  type ReferenceBoxer,
  TYPED_ARRAYS,
} from "./values.ts";
import { Ext } from "./messages.ts";

/**
 * Unpacks a decoded tree into values, in place where it can (the tree is
 * fresh from the decoder and owned by nobody else). One instance per message.
 *
 * Lazy paths used as arguments cannot be resolved synchronously; they are
 * collected, and {@linkcode Unboxer.settle} resolves them.
 */
export class Unboxer {
  #refs: ReferenceBoxer;
  #maxDepth: number;
  #seen: unknown[] = [];
  #deferred: Promise<void>[] | null = null;
  #attachments: readonly Uint8Array[];

  /**
   * Unboxes against `refs`, with the attachment frames that came before the
   * message; trees nested deeper than `maxDepth` are a protocol error.
   */
  constructor(refs: ReferenceBoxer, maxDepth: number, attachments: readonly Uint8Array[] = []) {
    this.#refs = refs;
    this.#maxDepth = maxDepth;
    this.#attachments = attachments;
  }

  /**
   * Unboxes a tree.
   *
   * @throws {ProtocolError} for unknown extension types, bad back references,
   *   malformed tagged containers and excessive nesting.
   */
  unbox(wire: unknown, depth = 0): unknown {
    if (typeof wire !== "object" || wire === null) return wire;
    if (depth > this.#maxDepth) {
      throw peerFault(`value nested deeper than ${this.#maxDepth} levels`);
    }
    if (wire instanceof ExtData) return this.#unboxExt(wire);
    if (wire instanceof Uint8Array) {
      // Copy small views so they do not pin the whole frame's buffer.
      const bytes = wire.buffer.byteLength > 2 * wire.byteLength ? wire.slice() : wire;
      this.#seen.push(bytes);
      return bytes;
    }
    const next = depth + 1;
    if (Array.isArray(wire)) {
      const head = wire[0];
      if (head instanceof ExtData && head.type >= Ext.TagMap) {
        return this.#unboxTagged(wire, head.type, next);
      }
      this.#seen.push(wire);
      for (let i = 0; i < wire.length; i++) {
        const item = wire[i];
        if (typeof item === "object" && item !== null) {
          wire[i] = this.#unboxSlot(item, next, wire as unknown as Record<number, unknown>, i);
        }
      }
      return wire;
    }
    const record = wire as Record<string, unknown>;
    this.#seen.push(record);
    this.#unboxEntries(record, next);
    return record;
  }

  /** Unboxes an object's values in place (without indexing the object itself). */
  #unboxEntries(record: Record<string, unknown>, depth: number): void {
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === "object" && item !== null) {
        record[key] = this.#unboxSlot(item, depth, record, key);
      }
    }
  }

  /**
   * Unboxes a whole value (a reply). A lazy path at the top lands in the
   * returned holder once {@linkcode Unboxer.settle} resolves.
   */
  unboxTop(wire: unknown): { value: unknown } {
    const holder = { value: undefined as unknown };
    holder.value = this.#unboxOrDefer(wire, 0, (value) => (holder.value = value));
    return holder;
  }

  /** Whether lazy paths were met, so {@linkcode Unboxer.settle} has work to do. */
  get hasDeferred(): boolean {
    return this.#deferred !== null;
  }

  /** Resolves every lazy path met so far, writing the values into their slots. */
  async settle(): Promise<void> {
    if (this.#deferred) await Promise.all(this.#deferred);
  }

  #unboxSlot(
    item: object,
    depth: number,
    holder: Record<string | number, unknown>,
    key: string | number,
  ): unknown {
    if (isPathArg(item)) {
      this.#defer(item as unknown[], (value) => (holder[key] = value));
      return undefined;
    }
    return this.unbox(item, depth);
  }

  #unboxOrDefer(item: unknown, depth: number, assign: (value: unknown) => void): unknown {
    if (!isPathArg(item)) return this.unbox(item, depth);
    this.#defer(item as unknown[], assign);
    return undefined;
  }

  #defer(wire: unknown[], assign: (value: unknown) => void): void {
    const [, target, ...path] = wire;
    if (!Number.isInteger(target) || !path.every((k) => typeof k === "string")) {
      throw peerFault("malformed lazy path argument");
    }
    const resolving = this.#refs.resolvePath(target as number, path as string[]).then(assign);
    // settle() reports a failure; if unboxing fails first, nobody will ask.
    resolving.catch(() => {});
    (this.#deferred ??= []).push(resolving);
  }

  #unboxTagged(wire: unknown[], tag: number, depth: number): unknown {
    switch (tag) {
      case Ext.TagMap: {
        if (wire.length % 2 === 0) throw peerFault("malformed Map: odd entry list");
        const map = new Map<unknown, unknown>();
        this.#seen.push(map);
        for (let i = 1; i < wire.length; i += 2) {
          const key = this.unbox(wire[i], depth);
          map.set(key, this.#unboxOrDefer(wire[i + 1], depth, (value) => map.set(key, value)));
        }
        return map;
      }
      case Ext.TagSet: {
        const set = new Set<unknown>();
        this.#seen.push(set);
        for (let i = 1; i < wire.length; i++) {
          if (isPathArg(wire[i])) this.#defer(wire[i] as unknown[], (value) => set.add(value));
          else set.add(this.unbox(wire[i], depth));
        }
        return set;
      }
      case Ext.TagError: {
        const [, className, name, message, stack, hasCause, cause, props] = wire;
        if (
          typeof className !== "string" || typeof name !== "string" ||
          typeof message !== "string" || typeof stack !== "string" ||
          typeof hasCause !== "boolean" || typeof props !== "object" || props === null ||
          Array.isArray(props)
        ) {
          throw peerFault("malformed Error value");
        }
        // Index the error before its contents, as the sender did, so they may refer to it.
        const error = RemoteError.from({
          className,
          name,
          message,
          stack,
          hasCause: false,
          cause: undefined,
          props: {},
        });
        this.#seen.push(error);
        // The sender boxed the cause before the other properties: follow its order.
        const setCause = (value: unknown) => completeRemoteError(error, true, value, {});
        const causeValue = hasCause ? this.#unboxOrDefer(cause, depth, setCause) : undefined;
        const details = props as Record<string, unknown>;
        this.#unboxEntries(details, depth);
        completeRemoteError(error, hasCause, causeValue, details);
        return error;
      }
      case Ext.TagPath:
        throw peerFault("a lazy path may only stand in an array, object, Map or Set");
      default:
        throw peerFault(`unknown container tag ${tag}`);
    }
  }

  /** The attachment an ATTACHMENT extension names, as the kind of array it was sent as. */
  #attachment(data: Uint8Array): unknown {
    if (data.length !== 5) throw peerFault("malformed attachment reference");
    const index = readU32(data, 0, "attachment");
    let bytes = this.#attachments[index];
    if (!bytes) {
      throw peerFault(
        `attachment #${index}, but ${this.#attachments.length} came with the message`,
      );
    }
    // Views must start on their element size: a frame of its own always does.
    if (bytes.byteOffset !== 0 || bytes.buffer.byteLength !== bytes.length) bytes = bytes.slice();
    const kind = data[4];
    if (kind === ARRAY_BUFFER_KIND) return bytes.buffer;
    const cls = TYPED_ARRAYS[kind];
    if (!cls) throw peerFault(`attachment of unknown kind ${kind}`);
    if (cls === Uint8Array) return bytes;
    if (cls === DataView) return new DataView(bytes.buffer);
    const perItem = (cls as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    if (bytes.length % perItem !== 0) throw peerFault("malformed typed array length");
    return new (cls as Uint8ArrayConstructor)(bytes.buffer);
  }

  #unboxExt(ext: ExtData): unknown {
    const data = ext.data as Uint8Array;
    switch (ext.type) {
      case Ext.Undefined:
        return undefined;
      case Ext.NegativeZero:
        return -0;
      case Ext.BigInt:
        return bytesToBigint(data);
      case Ext.Date: {
        if (data.length !== 8) throw peerFault("malformed Date value");
        const date = new Date(new DataView(data.buffer, data.byteOffset, 8).getFloat64(0));
        this.#seen.push(date);
        return date;
      }
      case Ext.BackRef: {
        const index = readU32(data, 0, "back reference");
        if (index >= this.#seen.length) {
          throw peerFault(
            `back reference to #${index}, but only ${this.#seen.length} values precede it`,
          );
        }
        return this.#seen[index];
      }
      case Ext.Export:
        return this.#refs.importReference(decodeExport(data));
      case Ext.Import:
        return this.#refs.localReference(readU32(data, 0, "reference"));
      case Ext.TypedArray: {
        const cls = TYPED_ARRAYS[data[0]];
        if (!cls || data.length < 1) throw peerFault("malformed typed array");
        const buffer = data.slice(1).buffer;
        const perItem = cls === DataView
          ? 1
          : (cls as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
        if (buffer.byteLength % perItem !== 0) {
          throw peerFault("malformed typed array length");
        }
        const view = cls === DataView
          ? new DataView(buffer)
          : new (cls as Uint8ArrayConstructor)(buffer);
        this.#seen.push(view);
        return view;
      }
      case Ext.ArrayBuffer: {
        const buffer = data.slice().buffer;
        this.#seen.push(buffer);
        return buffer;
      }
      case Ext.Attachment: {
        const value = this.#attachment(data);
        this.#seen.push(value);
        return value;
      }
      default:
        throw peerFault(`unknown extension type ${ext.type}`);
    }
  }
}

/**
 * Visits every EXPORT in a decoded tree without unboxing it: how a dropped
 * answer gives back the references it carried. Bounded by `maxDepth`.
 */
export function scanExports(
  wire: unknown,
  maxDepth: number,
  visit: (descriptor: ExportDescriptor) => void,
  depth = 0,
): void {
  if (typeof wire !== "object" || wire === null || wire instanceof Uint8Array) return;
  if (depth > maxDepth) throw peerFault(`value nested deeper than ${maxDepth} levels`);
  if (wire instanceof ExtData) {
    if (wire.type === Ext.Export) visit(decodeExport(wire.data as Uint8Array));
    return;
  }
  const items = Array.isArray(wire) ? wire : Object.values(wire);
  for (const item of items) scanExports(item, maxDepth, visit, depth + 1);
}

/**
 * Serving what a Python peer asks of Deno objects: the request handlers.
 *
 * @module
 */

import { Handle, type HandleCode } from "./envelope.ts";
import type { PyBoxer } from "./boxing.ts";
import {
  attributeNames,
  callFromPython,
  exitContext,
  getAttribute,
  LentIterator,
  methodList,
  writeAttribute,
} from "./pyproto.ts";
import { NOT_IMPLEMENTED, Tuple } from "./values.ts";
import { PythonError } from "./vinegar.ts";
import type { ResolvedPolicy } from "../session/policy.ts";
import { peerFault } from "../errors.ts";

/** What serving needs of its session. */
export interface ServingSession {
  readonly boxer: PyBoxer;
  readonly policy: ResolvedPolicy;
  readonly rootObject: object;
  close(reason?: string): Promise<void>;
}

/**
 * Serves one request body `(handler, boxed args)` and resolves with the
 * result to box, or rejects with what Python should raise.
 *
 * @throws {ProtocolError} (rejects) for a malformed request or an unknown
 * handler: the connection closes.
 */
export async function serveRequest(session: ServingSession, body: unknown): Promise<unknown> {
  if (!Array.isArray(body) || body.length !== 2) {
    throw peerFault("rpyc: a request that is not (handler, args)");
  }
  const [handler, boxed] = body;
  const args = session.boxer.unbox(boxed);
  if (!Array.isArray(args)) throw peerFault("rpyc: a request whose arguments are not a tuple");
  return await handle(session, handler as HandleCode, args);
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw peerFault(`rpyc: ${what} is not a str`);
  return value;
}

function pairs(value: unknown): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw peerFault("rpyc: call arguments are not a tuple");
  return value;
}

async function handle(s: ServingSession, handler: HandleCode, args: unknown[]): Promise<unknown> {
  const policy = s.policy;
  switch (handler) {
    case Handle.Ping:
      return args[0];
    case Handle.Close:
      setTimeout(() => s.close("closed by the Python peer"), 0);
      return null;
    case Handle.GetRoot:
      return s.rootObject;
    case Handle.GetAttr:
      return getAttribute(args[0], text(args[1], "an attribute name"), policy);
    case Handle.DelAttr:
      writeAttribute(args[0], text(args[1], "an attribute name"), "delete", undefined, policy);
      return null;
    case Handle.SetAttr:
      writeAttribute(args[0], text(args[1], "an attribute name"), "write", args[2], policy);
      return null;
    case Handle.Call:
      return await callFromPython(args[0], pairs(args[1]), pairs(args[2]), policy);
    case Handle.CallAttr: {
      const fn = getAttribute(args[0], text(args[1], "an attribute name"), policy);
      return await callFromPython(fn, pairs(args[2]), pairs(args[3]), policy);
    }
    case Handle.Repr:
      return Deno.inspect(args[0]);
    case Handle.Str:
      return typeof args[0] === "string" ? args[0] : Deno.inspect(args[0]);
    case Handle.Cmp:
      return compare(args[0], args[1], args[2]);
    case Handle.Hash:
      return hashOf(args[0]);
    case Handle.Dir:
      return Tuple.fromItems(attributeNames(args[0], policy));
    case Handle.Inspect:
      return methodList(s.boxer.exported(args[0]), policy);
    case Handle.BuffIter: {
      const it = args[0];
      if (!(it instanceof LentIterator)) {
        throw new PythonError("builtins.TypeError", [
          "BUFFITER on something that is not an iterator",
        ]);
      }
      return Tuple.fromItems(await it.take(Math.max(0, Math.min(Number(args[1]) || 0, 65_536))));
    }
    case Handle.Del: {
      const target = args[0];
      if (typeof target !== "object" && typeof target !== "function" || target === null) {
        throw peerFault("rpyc: DEL of a value, not a reference");
      }
      const count = args[1] ?? 1;
      if (!Number.isSafeInteger(count) || (count as number) < 1) {
        throw peerFault(`rpyc: DEL with a count of ${String(count)}`);
      }
      s.boxer.releaseExport(target, count as number);
      return null;
    }
    case Handle.Pickle:
      throw new PythonError("builtins.ValueError", ["pickling is disabled"]);
    case Handle.CtxExit:
      return await exitContext(args[0], args[1]);
    case Handle.OldSlicing:
    case Handle.InstanceCheck:
      throw new PythonError("builtins.NotImplementedError", [
        `RPyC handler ${handler} is not served by Deno`,
      ]);
    default:
      handler satisfies never;
      throw peerFault(`rpyc: unknown request handler ${String(handler)}`);
  }
}

function compare(a: unknown, b: unknown, op: unknown): unknown {
  switch (op) {
    case "__eq__":
      return a === b;
    case "__ne__":
      return a !== b;
    default:
      return NOT_IMPLEMENTED;
  }
}

const hashes = new WeakMap<object, number>();
let nextHash = 1;

/** A stable hash per object (identity), or of a value's text. */
function hashOf(value: unknown): number {
  if ((typeof value === "object" && value !== null) || typeof value === "function") {
    let h = hashes.get(value);
    if (h === undefined) hashes.set(value, h = nextHash++);
    return h;
  }
  let h = 0;
  for (const ch of String(value)) h = (h * 31 + ch.codePointAt(0)!) | 0;
  return h;
}

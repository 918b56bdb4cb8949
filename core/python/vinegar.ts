/**
 * Exceptions both ways ("vinegar", RPyC's name): a Python exception arrives
 * as a {@linkcode PythonError}; an error thrown in Deno travels as the
 * Python exception type it maps to.
 *
 * @module
 */

import { AccessError, RemoteError, TimeoutError } from "../errors.ts";
import { isBrineValue } from "./brine.ts";
import { EXC_STOP_ITERATION } from "./envelope.ts";

/**
 * A Python exception, as it arrives from a Python peer (a subclass of
 * `RemoteError`); throw one from Deno code serving Python to raise exactly
 * that Python type there.
 *
 * @example
 * ```ts
 * import { PythonError } from "@rdc/rdc/python";
 * // In a service method: Python's caller gets a KeyError('missing').
 * const error = new PythonError("builtins.KeyError", ["missing"]);
 * console.log(error.name, error.pyArgs); // KeyError [ "missing" ]
 * ```
 */
export class PythonError extends RemoteError {
  /** The exception's type with its module: `builtins.ZeroDivisionError`. */
  readonly pyType: string;
  /** The exception's `args` (values Python could not send as data arrive as their `repr`). */
  readonly pyArgs: readonly unknown[];
  /** Its public attributes, as Python sent them (`_remote_version` among them). */
  readonly attrs: Readonly<Record<string, unknown>>;

  /**
   * `pyType` is the dotted type name (a bare name means `builtins`);
   * `traceback` the remote traceback text.
   */
  constructor(
    pyType: string,
    args: readonly unknown[] = [],
    traceback = "",
    attrs: Record<string, unknown> = {},
  ) {
    const full = pyType.includes(".") ? pyType : `builtins.${pyType}`;
    super(full.slice(full.lastIndexOf(".") + 1), messageOf(args), traceback);
    this.pyType = full;
    this.pyArgs = Object.freeze([...args]);
    this.attrs = Object.freeze({ ...attrs });
  }

  /** `instanceof PythonError` holds for Python exceptions only, not every remote error. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** Python's `str(exception)`: the single argument, or the tuple of them. */
function messageOf(args: readonly unknown[]): string {
  if (args.length === 0) return "";
  if (args.length === 1) return String(args[0]);
  return `(${args.map((a) => typeof a === "string" ? `'${a}'` : String(a)).join(", ")})`;
}

/** Whether `error` is a Python exception of `type` (`"KeyError"` or `"builtins.KeyError"`). */
export function isPythonError(error: unknown, type?: string): error is PythonError {
  if (!(error instanceof PythonError)) return false;
  if (type === undefined) return true;
  return type.includes(".") ? error.pyType === type : error.name === type;
}

/** The end of an iteration, as both ends signal it (EXCEPTION with body 1). */
export class StopIterationSignal extends Error {
  /** The end of an iteration. */
  constructor() {
    super("StopIteration");
    this.name = "StopIteration";
  }
}

/**
 * The local error for an EXCEPTION body from Python.
 *
 * @returns null when the body is not vinegar (the caller treats it as a peer fault).
 */
export function fromVinegar(body: unknown): Error | null {
  if (body === EXC_STOP_ITERATION) return new StopIterationSignal();
  if (typeof body === "string") return new PythonError("builtins.Exception", [body]);
  if (!Array.isArray(body) || body.length !== 4) return null;
  const [names, args, attrs, traceback] = body;
  if (!Array.isArray(names) || names.length !== 2 || !Array.isArray(args)) return null;
  const [module, name] = names;
  if (typeof module !== "string" || typeof name !== "string") return null;
  const fields: Record<string, unknown> = {};
  if (Array.isArray(attrs)) {
    for (const pair of attrs) {
      if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string") {
        fields[pair[0]] = pair[1];
      }
    }
  }
  return new PythonError(`${module}.${name}`, args, String(traceback ?? ""), fields);
}

/** The Python type each JavaScript error class maps to. */
const PYTHON_TYPES: ReadonlyArray<[abstract new (...args: never[]) => Error, string]> = [
  [AccessError, "AttributeError"],
  [TimeoutError, "TimeoutError"],
  [TypeError, "TypeError"],
  [RangeError, "ValueError"],
  [ReferenceError, "NameError"],
  [SyntaxError, "SyntaxError"],
  [Deno.errors.NotFound, "FileNotFoundError"],
  [Deno.errors.PermissionDenied, "PermissionError"],
  [Deno.errors.AlreadyExists, "FileExistsError"],
];

/**
 * The EXCEPTION body for `error` thrown while serving Python: a Python
 * exception keeps its type; JavaScript's classes map to Python's
 * (TypeError → TypeError, RangeError → ValueError, a refused access →
 * AttributeError, …); anything else becomes `deno.<name>`, which Python
 * raises as a `GenericException` subclass. The JavaScript stack travels as
 * the traceback text.
 */
export function toVinegar(error: unknown): unknown {
  if (error instanceof StopIterationSignal) return EXC_STOP_ITERATION;
  const attrs: unknown[] = [["_remote_version", "<version denied>"]];
  if (error instanceof PythonError) {
    const dot = error.pyType.lastIndexOf(".");
    const args = error.pyArgs.map((a) => isBrineValue(a) ? a : String(a));
    return [
      [error.pyType.slice(0, dot), error.pyType.slice(dot + 1)],
      args,
      attrs,
      error.remoteStack || error.stack || "",
    ];
  }
  if (!(error instanceof Error)) {
    return [["deno", "Error"], [String(error)], attrs, "<thrown in Deno: not an Error>"];
  }
  const mapped = PYTHON_TYPES.find(([cls]) => error instanceof cls)?.[1];
  const names = mapped ? ["builtins", mapped] : ["deno", error.name || "Error"];
  return [names, [error.message], attrs, error.stack ?? `${error.name}: ${error.message}`];
}

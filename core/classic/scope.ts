/**
 * The namespace of a classic connection: the scope in which `eval`,
 * `execute` and teleported functions run (RPyC's `conn.namespace`).
 *
 * Code runs inside `with (scope) { … }` in a sloppy-mode function, where
 * `scope` is a proxy over the namespace object (or, for a teleported
 * function, the globals object it was given): every name the code assigns
 * without declaring lands there, names it reads come from there first, then
 * from `globalThis`, then `rdc` (rdc's helpers), and a name found nowhere is a
 * `ReferenceError` — when the code runs, so a function may use names defined
 * after it. Since the scope claims every name
 * (to catch assignments), `typeof NAME` is rewritten to ask it first, so it
 * still gives `"undefined"` for a name defined nowhere. Top-level `let`, `const`, `class` and `function`
 * declarations are rewritten (see `source.ts`) so they persist in the
 * namespace too, as Python's `exec` keeps its definitions.
 *
 * @module
 */

import { currentCall } from "../session/dispatch.ts";
import { obtain, timed } from "../netref/helpers.ts";
import { byValue, ref } from "../wire/markers.ts";
import { deleteMember, hasMember, isRemote, setMember } from "../netref/proxy.ts";
import { guardTypeof, persistTopLevel } from "./source.ts";

/**
 * rdc's helpers, visible to classic code as `rdc` (unless the namespace or
 * `globalThis` defines that name): `rdc.currentCall()`, `rdc.ref(x)`, …
 */
const HELPERS = Object.freeze({
  byValue,
  currentCall,
  deleteMember,
  hasMember,
  isRemote,
  obtain,
  ref,
  setMember,
  timed,
});

/** The parameter through which compiled code reaches the scope proxy; never a namespace name. */
const SCOPE = "__rdc_scope__";
/** The parameter holding code for a direct `eval` of statements. */
const CODE = "__rdc_code__";
/** The parameter holding {@linkcode typeOf}, which `typeof NAME` is rewritten to call. */
const TYPEOF = "__rdc_typeof__";
const RESERVED = new Set([SCOPE, CODE, TYPEOF]);

/** Code that starts with a function or class declaration. */
const DECLARATION = /^\s*(?:async\s+function|function|class)\b/;

/**
 * Global methods that throw "Illegal invocation" unless `this` is
 * `globalThis`, which a bare call inside `with (scope)` would not give them.
 */
const BOUND_GLOBALS = new Set(["addEventListener", "removeEventListener", "dispatchEvent"]);
const boundGlobals = new WeakMap<object, unknown>();

/** A global's value for scope code: the EventTarget methods come bound to `globalThis`. */
function globalValue(key: string): unknown {
  const value = (globalThis as Record<string, unknown>)[key];
  if (!BOUND_GLOBALS.has(key) || typeof value !== "function") return value;
  let bound = boundGlobals.get(value);
  if (!bound) boundGlobals.set(value, bound = value.bind(globalThis));
  return bound;
}

/** The errors the scope throws for names defined nowhere. */
const undefinedName = new WeakSet<object>();

/** `typeof` of a name read through the scope: "undefined" for a name defined nowhere. */
function typeOf(read: () => string): string {
  try {
    return read();
  } catch (error) {
    if (typeof error === "object" && error !== null && undefinedName.has(error)) {
      return "undefined";
    }
    throw error;
  }
}

type Compiled = (scope: object, typeOf: (read: () => string) => string, code?: string) => unknown;
const AsyncFunction = (async () => {}).constructor as new (...source: string[]) => Compiled;

/**
 * A namespace and the scope proxy over it. One per classic connection.
 *
 * Contract: nothing here sandboxes anything. Code run in a scope has the full
 * power of the process; the scope only decides where its names live.
 */
export class Scope {
  /** The namespace object: a null-prototype object of the names code defined. */
  readonly namespace: Record<string, unknown> = Object.create(null);
  readonly #proxy: object;

  constructor() {
    this.#proxy = scopeOver(this.namespace, (key) => `${key} is not defined`);
  }

  /**
   * Evaluates `code` and returns its value: an expression (which may use
   * `await`), or else statements, whose value is that of the last one as with
   * JavaScript's `eval`.
   *
   * @throws {SyntaxError} when `code` is neither; whatever the code throws.
   */
  async evaluate(code: string): Promise<unknown> {
    let run: Compiled;
    try {
      // A declaration parses as an expression too, but `eval` defines its name.
      if (DECLARATION.test(code)) throw new SyntaxError("a declaration");
      run = this.#compile(AsyncFunction, `return (\n${code}\n);`);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // Not an expression: statements, run by a direct eval that sees the scope. Parsed on
      // their own first, so a syntax error is the code's own, not one of the wrapping block
      // (as statements anywhere first: as statements of a script, `await` is the error).
      const own = bodySyntaxError(code) ?? scriptSyntaxError(code);
      if (own) throw own;
      // The block keeps function declarations inside the scope (and has the last statement's value).
      const { code: statements, functions } = persistTopLevel(code);
      run = this.#compile(Function, `return eval(${CODE});`, CODE);
      return run(
        this.#proxy,
        typeOf,
        `{${hoisting(functions)}${guardTypeof(statements, TYPEOF)}\n}`,
      );
    }
    return await run(this.#proxy, typeOf);
  }

  /**
   * Runs `code` as statements (top-level `await` allowed); what it declares at
   * top level stays in the namespace.
   *
   * @throws {SyntaxError} for code that does not parse; whatever the code throws.
   */
  async execute(code: string): Promise<void> {
    const { code: statements, functions } = persistTopLevel(code);
    let run: Compiled;
    try {
      run = this.#compile(AsyncFunction, hoisting(functions) + statements);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      throw bodySyntaxError(code) ?? error;
    }
    await run(this.#proxy, typeOf);
  }

  /**
   * Compiles the source of one function (a declaration, an expression, an
   * arrow function or a method) so that the names it does not declare
   * resolve when it runs: in `globals` (default: the namespace), then in
   * `globalThis` (RPyC's `teleport_function(func, globals)`). Undeclared
   * names it assigns land in `globals`. A name found nowhere is a
   * `ReferenceError`; for one of `freeNames` (names the sender saw the
   * function use without declaring), it adds that a teleported function
   * cannot see the sender's local variables.
   *
   * @throws {SyntaxError} when `source` is not a function.
   */
  compileFunction(
    source: string,
    globals: object = this.namespace,
    freeNames: readonly string[] = [],
  ): (...args: unknown[]) => unknown {
    const scope = scopeOver(
      globals,
      (key) =>
        freeNames.includes(key)
          ? `${key} is not defined: neither the teleported function's globals nor globalThis ` +
            "define it (a teleported function cannot see the sender's local variables)"
          : `${key} is not defined`,
    );
    let fn: unknown;
    try {
      fn = this.#compile(Function, `return (\n${source}\n);`)(scope, typeOf);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // Method shorthand (`name(a) { … }`) is only valid inside an object literal.
      const holder = this.#compile(Function, `return ({\n${source}\n});`)(scope, typeOf);
      const [descriptor] = Object.values(Object.getOwnPropertyDescriptors(holder as object));
      fn = descriptor?.value ?? descriptor?.get ?? descriptor?.set;
    }
    if (typeof fn !== "function") throw new SyntaxError("the source is not a function");
    return fn as (...args: unknown[]) => unknown;
  }

  /**
   * Compiles `body` (sloppy mode) to run inside the scope, with `typeof NAME`
   * guarded; the result takes the scope proxy, {@linkcode typeOf} and `extra`.
   *
   * @throws {SyntaxError} when `body` does not parse.
   */
  #compile(
    kind: typeof Function | typeof AsyncFunction,
    body: string,
    ...extra: string[]
  ): Compiled {
    const Kind = kind as new (...source: string[]) => Compiled;
    return new Kind(SCOPE, TYPEOF, ...extra, `with (${SCOPE}) {${guardTypeof(body, TYPEOF)}\n}`);
  }
}

/**
 * The scope proxy of code whose names live in `names`: it claims every name
 * (so assignments to undeclared names land in `names`, not in `globalThis`),
 * reads them from `names` first, then from `globalThis`, then `rdc`, and
 * throws a `ReferenceError` with `undefinedMessage` for a name found nowhere.
 */
function scopeOver(names: object, undefinedMessage: (key: string) => string): object {
  const target = names as Record<string, unknown>;
  return new Proxy(target, {
    has: (_, key) => typeof key === "string" && !RESERVED.has(key),
    get: (_, key) => {
      if (typeof key !== "string") return undefined; // Symbol.unscopables, among others
      if (defines(target, key)) return target[key];
      if (key in globalThis) return globalValue(key);
      if (key === "rdc") return HELPERS;
      const error = new ReferenceError(undefinedMessage(key));
      undefinedName.add(error);
      throw error;
    },
    set: (_, key, value) => {
      // Sloppy code may assign to `undefined`, `NaN` or `Infinity`: nothing happens.
      if (
        typeof key === "string" &&
        Object.getOwnPropertyDescriptor(globalThis, key)?.writable === false
      ) {
        return true;
      }
      return Reflect.set(target, key, value);
    },
  });
}

/**
 * Whether `names` defines `key`: own or inherited, but not from
 * `Object.prototype` (a plain object passed as globals does not define
 * `toString` for the code; the namespace has no prototype at all).
 */
function defines(names: object, key: string): boolean {
  return Object.hasOwn(names, key) || (key in names && !(key in Object.prototype));
}

/**
 * Parses `code` alone as a sloppy script, without running it: a `throw` comes
 * first, and the direct eval inside a throwaway function keeps its
 * declarations there. `eval` reads the parameter, the only name in scope.
 */
const parseScript = new Function(CODE, `eval("throw eval;\\n" + ${CODE});`) as (
  code: string,
) => void;

/** The SyntaxError `code` gives on its own as a script (where it ends, the input ends), if any. */
function scriptSyntaxError(code: string): SyntaxError | undefined {
  try {
    parseScript(code);
  } catch (error) {
    if (error instanceof SyntaxError) return error;
  }
  return undefined;
}

/**
 * The SyntaxError `code` gives on its own as the body of an async function
 * (top-level `await` allowed), if any. The Function constructor closes the
 * body with a `}` of its own, so "Unexpected token '}'" may be that brace
 * (the code ended too early). Then the code is parsed as the body of an
 * async arrow function left open, where the input ends where the code does:
 * its error is the code's own, unless it parses (the code has a `}` too many).
 */
function bodySyntaxError(code: string): SyntaxError | undefined {
  try {
    new AsyncFunction(code);
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxError)) return undefined;
    if (error.message !== "Unexpected token '}'") return error;
    return scriptSyntaxError(`async () => {\n${code}`) ?? error;
  }
}

/** Statements that copy hoisted function declarations into the namespace; on one line. */
function hoisting(functions: readonly string[]): string {
  return functions.map((name) => `${SCOPE}.${name} = ${name};`).join(" ");
}

/**
 * Source analysis for classic mode. Code sent with `execute` runs inside
 * `with (namespace) { ... }` in a sloppy async function, so top-level `let`,
 * `const` and `class` would vanish with the block: {@linkcode persistTopLevel}
 * rewrites them into `var` forms that land in the per-connection namespace.
 * A teleported function that closes over local variables fails when it
 * runs: {@linkcode freeIdentifiers} lists the names its source uses but does
 * not declare, so that the error can say so. Neither is a parser: both are heuristics over one small tokenizer.
 *
 * @module
 */

import { remoteState } from "../session/engine.ts";

type Kind = "name" | "num" | "str" | "tmpl" | "tmplOpen" | "regex" | "punct" | "private";

/** A token: `tmplOpen` is template text ending in `${`; `nl`: a line break precedes it. */
interface Token {
  kind: Kind;
  value: string;
  start: number;
  end: number;
  nl: boolean;
}

const ESCAPE = String.raw`\\u(?:[\da-fA-F]{4}|\{[\da-fA-F]+\})`;
const NAME = new RegExp(
  String.raw`(?:[$_\p{ID_Start}]|${ESCAPE})(?:[$_\u200c\u200d\p{ID_Continue}]|${ESCAPE})*`,
  "uy",
);
const NUMBER = /(?:0[xXoObB][\da-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?[\d_]+)?)n?/y;
const PUNCT =
  /\.\.\.|\?\.(?!\d)|=>|\+\+|--|>>>=?|(?:\*\*|<<|>>|&&|\|\||\?\?|[-+*/%&|^<>])=?|[=!]==?|[\s\S]/uy;
const FLAGS = /[$\p{ID_Continue}]*/uy;
const LINE = /[\n\r\u2028\u2029]/;
const LINE_G = /[\n\r\u2028\u2029]/g;

const words = (list: string): Set<string> => new Set(list.split(" "));
/** Keywords after which `/` starts a regular expression. */
const BEFORE_REGEX = words(
  "return typeof instanceof in of new delete void throw case do else yield await",
);
const RESERVED = words(
  "break case catch class const continue debugger default delete do else enum export extends " +
    "false finally for function if import in instanceof new null return super switch this throw " +
    "true try typeof var void while with yield let static await implements interface package " +
    "private protected public",
);
/** Reserved words that end an expression, or a restricted production a line break ends. */
const ENDS = words("this super true false null return break continue debugger");
/** Names freeIdentifiers never reports: contextual keywords and constant globals. */
const NOT_FREE = words("arguments undefined NaN Infinity async get set of accessor using");
const OBJECT_AFTER = words(
  "return typeof instanceof in of new delete void throw case yield await extends",
);
const CONTROL = words("if while for with");
const CLASS_MODIFIERS = words("static get set async accessor");
const OBJECT_MODIFIERS = words("get set async");

const is = (t: Token | undefined, punct: string): boolean =>
  t?.kind === "punct" && t.value === punct;
const isName = (t: Token | undefined, name: string): boolean =>
  t?.kind === "name" && t.value === name;
const opens = (t: Token): boolean =>
  t.kind === "tmplOpen" || (t.kind === "punct" && "([{".includes(t.value));
const closes = (t: Token): boolean =>
  ((t.kind === "tmpl" || t.kind === "tmplOpen") && t.value[0] === "}") ||
  (t.kind === "punct" && ")]}".includes(t.value));
const delta = (t: Token): number => (opens(t) ? 1 : 0) - (closes(t) ? 1 : 0);

const UNESCAPE = /\\u\{([\da-fA-F]+)\}|\\u([\da-fA-F]{4})/g;
/** The character of a `\\u` escape in a name (`\\u0061` is `a`). */
const decode = (_: string, braced?: string, hex?: string): string =>
  String.fromCodePoint(Math.min(parseInt(braced ?? hex ?? "", 16), 0x10ffff));

function matchEnd(re: RegExp, src: string, pos: number): number {
  re.lastIndex = pos;
  return re.test(src) ? re.lastIndex : pos;
}

/**
 * Regex or division? `/` starts a regex after nothing, after a punctuator
 * other than `)`, `]`, `++`, `--` (postfix is likelier), after `)` closing
 * the head of `if`/`while`/`for`/`with`, and after the keywords in
 * BEFORE_REGEX; else it divides. After `}` it is a regex: at the top level a
 * `}` nearly always ends a block. Misses: `{} / x`, `x++ /re/`.
 */
function regexAllowed(prev: Token | undefined, controlClose: boolean): boolean {
  if (!prev) return true;
  if (prev.kind === "punct") {
    return prev.value === ")" ? controlClose : !["]", "++", "--"].includes(prev.value);
  }
  return prev.kind === "tmplOpen" || (prev.kind === "name" && BEFORE_REGEX.has(prev.value));
}

/** End of a string literal that starts at `pos` (stops at an unescaped line break). */
function scanString(src: string, pos: number): number {
  for (let j = pos + 1; j < src.length; j++) {
    if (src[j] === "\\") j += src.startsWith("\r\n", j + 1) ? 2 : 1;
    else if (src[j] === src[pos]) return j + 1;
    else if (LINE.test(src[j])) return j;
  }
  return src.length;
}

/** End of template text from `pos` (after a backtick or `}`), and whether it ends in `${`. */
function scanTemplate(src: string, pos: number): [number, boolean] {
  for (let j = pos; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === "`") return [j + 1, false];
    else if (src[j] === "$" && src[j + 1] === "{") return [j + 2, true];
  }
  return [src.length, false];
}

/** End of a regex literal that starts at `pos`, flags included. */
function scanRegex(src: string, pos: number): number {
  let inClass = false;
  for (let j = pos + 1; j < src.length; j++) {
    const c = src[j];
    if (c === "\\") j++;
    else if (LINE.test(c)) return j;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) return matchEnd(FLAGS, src, j + 1);
  }
  return src.length;
}

/** Splits `src` into tokens, dropping white space and comments. Never throws. */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const braces: boolean[] = []; // per open `{`: whether it is a template's `${`
  const parens: boolean[] = []; // per open `(`: whether it follows if/while/for/with
  let pos = 0;
  let nl = false;
  let controlClose = false;
  const emit = (kind: Kind, end: number): void => {
    const text = src.slice(pos, end);
    const value = kind === "name" ? text.replace(UNESCAPE, decode) : text;
    tokens.push({ kind, value, start: pos, end, nl });
    pos = end;
    nl = false;
  };
  while (pos < src.length) {
    const c = src[pos];
    const prev = tokens[tokens.length - 1];
    if (LINE.test(c)) {
      nl = true;
      pos++;
    } else if (/\s/.test(c)) pos++;
    else if (src.startsWith("//", pos) || (pos === 0 && src.startsWith("#!"))) {
      LINE_G.lastIndex = pos;
      pos = LINE_G.exec(src)?.index ?? src.length;
    } else if (src.startsWith("/*", pos)) {
      const close = src.indexOf("*/", pos + 2);
      const end = close < 0 ? src.length : close + 2;
      if (LINE.test(src.slice(pos, end))) nl = true;
      pos = end;
    } else if (c === '"' || c === "'") emit("str", scanString(src, pos));
    else if (c === "`" || (c === "}" && braces[braces.length - 1])) {
      if (c === "}") braces.pop();
      const [end, open] = scanTemplate(src, pos + 1);
      if (open) braces.push(true);
      emit(open ? "tmplOpen" : "tmpl", end);
    } else if (c === "/" && regexAllowed(prev, controlClose)) emit("regex", scanRegex(src, pos));
    else if (c === "#" && matchEnd(NAME, src, pos + 1) > pos + 1) {
      emit("private", matchEnd(NAME, src, pos + 1));
    } else if (/\d/.test(c) || (c === "." && /\d/.test(src[pos + 1] ?? ""))) {
      emit("num", matchEnd(NUMBER, src, pos));
    } else if (matchEnd(NAME, src, pos) > pos) emit("name", matchEnd(NAME, src, pos));
    else {
      const end = matchEnd(PUNCT, src, pos);
      const v = src.slice(pos, end);
      if (v === "{") braces.push(false);
      else if (v === "}") braces.pop();
      else if (v === "(") parens.push(prev?.kind === "name" && CONTROL.has(prev.value));
      else if (v === ")") controlClose = parens.pop() ?? false;
      emit("punct", end);
    }
  }
  return tokens;
}

/** Whether `t` ends an expression, so that a line break after it may end a statement. */
function endsExpression(t: Token | undefined): boolean {
  if (!t || t.kind === "tmplOpen") return false;
  if (t.kind === "name") return !RESERVED.has(t.value) || ENDS.has(t.value);
  if (t.kind === "punct") return [")", "]", "}", "++", "--"].includes(t.value);
  return true;
}

/**
 * Whether token `i` of the top level begins a statement. Heuristic: it is the
 * first token; or it follows `;` or `}` (at the top level a `}` nearly always
 * ends a block, function or class; `{` cannot precede a top-level token); or it
 * follows a label `name:` that begins a statement; or it starts a line after a
 * token that ends an expression, where automatic semicolon insertion applies
 * because a declaration keyword cannot continue an expression. Miss: after
 * `if (x)` and a line break, a declaration counts as a statement of its own.
 */
function statementStart(toks: Token[], i: number): boolean {
  const prev = toks[i - 1];
  if (!prev || is(prev, ";") || is(prev, "}") || is(prev, "{")) return true;
  const label = toks[i - 2];
  if (is(prev, ":") && label?.kind === "name" && !RESERVED.has(label.value)) {
    return statementStart(toks, i - 2);
  }
  return toks[i].nl && endsExpression(prev);
}

/**
 * Index of the `}` ending the body of the class whose heritage starts at
 * `from`, or -1. The body is the first top-level `{` of the heritage, except
 * that a `class` or `function` keyword there owns the next one. Miss: an
 * object literal at the heritage's top level (`extends {}.constructor`).
 */
function classEnd(toks: Token[], from: number): number {
  let nested = 0;
  let depth = 0;
  let inBody = false;
  for (let j = from; j < toks.length; j++) {
    const t = toks[j];
    if (depth === 0 && !inBody) {
      if (isName(t, "class") || isName(t, "function")) nested++;
      else if (is(t, "{") && nested-- === 0) inBody = true;
    }
    depth += delta(t);
    if (inBody && depth === 0) return j;
  }
  return -1;
}

/**
 * The tokens of the names that the `let`/`const` declaration at token `i`
 * declares without an initializer (`let a, b = 1, c;` gives a and c). The
 * declaration ends at a top-level `;`, or at a line that begins a statement.
 */
function uninitialized(toks: Token[], i: number): number[] {
  const names: number[] = [];
  let j = i + 1;
  while (j < toks.length) {
    const t = toks[j];
    if (t.kind === "name") {
      const next = toks[j + 1];
      if (!next || is(next, ",") || is(next, ";") || (next.nl && !is(next, "="))) names.push(j);
      j++;
    }
    // Skip the pattern or initializer up to the next declarator, or the end.
    let depth = 0;
    for (; j < toks.length; j++) {
      const u = toks[j];
      if (depth === 0) {
        if (is(u, ";") || (u.nl && j > i + 1 && statementStart(toks, j))) return names;
        if (is(u, ",")) break;
      }
      depth = Math.max(0, depth + delta(u));
    }
    j++;
  }
  return names;
}

/** The name declared by a function declaration starting at token `i`, if it is one. */
function functionName(toks: Token[], i: number): string | undefined {
  let j = isName(toks[i], "async") && !toks[i + 1]?.nl ? i + 1 : i;
  if (!isName(toks[j++], "function")) return undefined;
  if (is(toks[j], "*")) j++;
  return toks[j]?.kind === "name" ? toks[j].value : undefined;
}

/**
 * Rewrites top-level declarations of `code` so that they persist in the
 * namespace of a `with` block: `let`/`const` become `var` (`const` as `var`
 * and two spaces), `class C ... {}` becomes `var C = class C ... {};`.
 * Function declarations stay; their names come back in `functions`, in order
 * and once each, for the caller to hoist. Top level means outside every
 * bracket; strings, templates, comments and regexes are never touched. Lines
 * and everything else are kept byte for byte.
 */
export function persistTopLevel(code: string): { code: string; functions: string[] } {
  const toks = tokenize(code);
  const edits: { at: number; cut: number; text: string }[] = [];
  const functions: string[] = [];
  let depth = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const next = toks[i + 1];
    if (depth === 0 && t.kind === "name" && statementStart(toks, i)) {
      const binds = next?.kind === "name"
        ? !["in", "instanceof"].includes(next.value)
        : is(next, "[") || is(next, "{");
      if ((t.value === "let" || t.value === "const") && binds) {
        edits.push({ at: t.start, cut: t.value.length, text: t.value === "let" ? "var" : "var  " });
        // `let x;` defines x as undefined; `var x;` would leave it out of the namespace.
        for (const j of uninitialized(toks, i)) {
          edits.push({ at: toks[j].end, cut: 0, text: " = void 0" });
        }
      } else if (t.value === "class" && next?.kind === "name" && next.value !== "extends") {
        const end = classEnd(toks, i + 2);
        if (end >= 0) {
          edits.push({ at: t.start, cut: 0, text: `var ${code.slice(next.start, next.end)} = ` });
          edits.push({ at: toks[end].end, cut: 0, text: ";" });
        }
      } else {
        const name = functionName(toks, i);
        if (name !== undefined && !functions.includes(name)) functions.push(name);
      }
    }
    depth = Math.max(0, depth + delta(t));
  }
  let out = code; // edits come in order: apply from the last
  for (const { at, cut, text } of edits.reverse()) {
    out = out.slice(0, at) + text + out.slice(at + cut);
  }
  return { code: out, functions };
}

/**
 * Rewrites each `typeof NAME` (a bare name, not `typeof a.b` or `typeof f()`)
 * into `GUARD(() => typeof NAME)`, so the scope, which claims every name and
 * throws for one defined nowhere, can answer `"undefined"` as JavaScript does.
 * Line numbers are kept.
 */
export function guardTypeof(code: string, guard: string): string {
  const toks = tokenize(code);
  let out = "";
  let copied = 0;
  for (let i = 0; i + 1 < toks.length; i++) {
    const op = toks[i];
    // `typeof NAME` or `typeof (NAME)`: `last` is the operand's last token.
    const parenthesized = is(toks[i + 1], "(") && is(toks[i + 3], ")");
    const name = toks[parenthesized ? i + 2 : i + 1];
    const last = toks[parenthesized ? i + 3 : i + 1];
    const after = toks[parenthesized ? i + 4 : i + 2];
    if (!isName(op, "typeof") || name.kind !== "name" || RESERVED.has(name.value)) continue;
    const member = after !== undefined &&
      (["(", "[", ".", "?."].some((p) => is(after, p)) ||
        (after.kind.startsWith("tmpl") && after.value[0] === "`"));
    if (member) continue;
    out += `${code.slice(copied, op.start)}${guard}(() => ${code.slice(op.start, last.end)})`;
    copied = last.end;
  }
  return out + code.slice(copied);
}

/** A bracket freeIdentifiers is inside; `{}` is a block, an object literal or a class body. */
interface Frame {
  kind: "block" | "object" | "class" | "paren" | "bracket" | "template";
  /** `?` of conditional expressions still waiting for their `:`. */
  ternary: number;
  /** `class` keywords whose body `{` is still to come. */
  classes: number;
}

const frameOf = (kind: Frame["kind"]): Frame => ({ kind, ternary: 0, classes: 0 });

/** For each opening token, the index of its closing one (the last token if none). */
function partners(toks: Token[]): number[] {
  const match = toks.map(() => toks.length - 1);
  const open: number[] = [];
  toks.forEach((t, i) => {
    const o = closes(t) ? open.pop() : undefined;
    if (o !== undefined) match[o] = i;
    if (opens(t)) open.push(i);
  });
  return match;
}

/**
 * The identifiers the source of one function (`fn.toString()`: a function,
 * arrow function, method, getter or class) references without declaring
 * them, sorted and unique. Globals are included; the caller removes them.
 *
 * Heuristic over tokens, erring towards missing a free name, never
 * reporting a declared one. Declared, for the whole function (names are not
 * scoped): every name inside a parameter list (a `(` opening the function's
 * own parameters, a method's, a function's, or one whose `)` precedes `=>`),
 * inside `catch (...)`, or inside a destructuring pattern after
 * `var`/`let`/`const`/`using`; names those keywords bind (until `;`, an `=`
 * at their depth, or a line break that ends the statement); function and
 * class names; a name before `=>`. Not references: names after `.`/`?.`; a
 * name before `:` (a key or label) unless a `?` of that bracket awaits the
 * `:` or `case` precedes it; labels after `break`/`continue`; names before
 * the function's own parameters (its method name and modifiers); member
 * names: in an object literal a key-position name (after `{` or `,`)
 * followed by `:` or `(`, in a class body any key-position name (after `{`,
 * `;`, `}` or a line break ending a field), and `get`/`set`/`async`/`static`
 * modifiers before a key; reserved words and NOT_FREE. A `{` is a class
 * body after a pending `class`, an object literal after an operator, `(`,
 * `[`, `,`, `?`, a non-label `:`, `${` or OBJECT_AFTER, else a block.
 * Known misses: a name used inside any parameter default or destructuring
 * default, or also bound anywhere else in the function, is not reported;
 * nor are `get`, `set`, `async`, `of`.
 */
export function freeIdentifiers(source: string): string[] {
  const toks = tokenize(source);
  const match = partners(toks);
  const declared = new Set<string>();
  const used = new Set<string>();
  const frames = [frameOf("block")];
  const decls: { depth: number; binding: boolean }[] = []; // var/let/const/using in force
  let header = true; // before the function's own parameters
  let key = -2; // the last member key: a `(` right after it opens parameters
  let modifier = -2; // the last modifier (`get`, `*`, ...) before a member key
  let label = -2; // the last `:` of a label or `case`
  const declareAll = (from: number): number => {
    for (let k = from; k <= match[from]; k++) {
      if (toks[k].kind === "name") declared.add(toks[k].value);
    }
    return match[from];
  };
  const keyPosition = (i: number, frame: Frame): boolean => {
    const prev = toks[i - 1];
    if (modifier === i - 1) return true;
    if (frame.kind === "object") return is(prev, "{") || is(prev, ",");
    return frame.kind === "class" &&
      (is(prev, "{") || is(prev, ";") || is(prev, "}") || (toks[i].nl && endsExpression(prev)));
  };
  const braceKind = (i: number, frame: Frame): Frame["kind"] => {
    const prev = toks[i - 1];
    if (frame.classes > 0) {
      frame.classes--;
      return "class";
    }
    if (prev?.kind === "tmplOpen") return "object";
    if (prev?.kind === "name") return OBJECT_AFTER.has(prev.value) ? "object" : "block";
    if (prev?.kind !== "punct") return "block";
    if (prev.value === ":") return label === i - 1 ? "block" : "object";
    return [")", "]", "}", ";", "{", "=>"].includes(prev.value) ? "block" : "object";
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const prev = toks[i - 1];
    const next = toks[i + 1];
    const frame = frames[frames.length - 1];
    const top = frames.length === 1;
    while (decls.length > 0 && decls[decls.length - 1].depth > frames.length) decls.pop();
    const decl = decls[decls.length - 1];
    if (decl?.depth === frames.length) {
      const newStatement = t.nl && endsExpression(prev) &&
        (t.kind === "num" || t.kind === "str" ||
          (t.kind === "name" && !["in", "of", "instanceof"].includes(t.value)));
      if (is(t, ";") || newStatement || (decl.binding && (isName(t, "in") || isName(t, "of")))) {
        decls.pop();
      } else if (is(t, "=")) decl.binding = false;
      else if (is(t, ",")) decl.binding = true;
      else if (decl.binding && t.kind === "name") {
        declared.add(t.value);
        continue;
      } else if (decl.binding && (is(t, "{") || is(t, "["))) {
        i = declareAll(i);
        continue;
      }
    }
    if (t.kind === "punct") {
      const v = t.value;
      if (v === "(") {
        const params = (header && top) || key === i - 1 || is(toks[match[i] + 1], "=>") ||
          isName(prev, "catch");
        if (top) header = false;
        if (params) i = declareAll(i);
        else frames.push(frameOf("paren"));
      } else if (v === "[") {
        if (keyPosition(i, frame)) key = match[i];
        frames.push(frameOf("bracket"));
      } else if (v === "{") frames.push(frameOf(braceKind(i, frame)));
      else if (closes(t)) {
        if (frames.length > 1) frames.pop();
      } else if (v === "?") frame.ternary++;
      else if (v === ":" && frame.ternary > 0) frame.ternary--;
      else if (v === ":" && frame.kind !== "object") label = i;
      else if (v === "=>" && top) header = false;
      else if (v === "*" && keyPosition(i, frame)) modifier = i;
      continue;
    }
    if (t.kind === "tmpl" || t.kind === "tmplOpen") {
      if (closes(t) && frames.length > 1) frames.pop();
      if (t.kind === "tmplOpen") frames.push(frameOf("template"));
      continue;
    }
    if (t.kind !== "name") {
      if (t.kind !== "regex" && keyPosition(i, frame)) key = i; // "key"() {}, 1() {}, #m() {}
      continue;
    }
    if (is(prev, ".") || is(prev, "?.")) continue;
    if (keyPosition(i, frame)) {
      const modifiers = frame.kind === "class" ? CLASS_MODIFIERS : OBJECT_MODIFIERS;
      const keyNext = (next !== undefined && next.kind !== "punct") ||
        is(next, "[") || is(next, "*") || (is(next, "{") && t.value === "static");
      if (modifiers.has(t.value) && keyNext) {
        modifier = i;
        continue;
      }
      if (frame.kind === "class" || is(next, ":") || is(next, "(")) {
        key = i;
        continue;
      }
    }
    const v = t.value;
    if (top && (v === "function" || v === "class")) header = false;
    if (v === "function") {
      let j = is(next, "*") ? i + 2 : i + 1;
      if (toks[j]?.kind === "name") declared.add(toks[j++].value);
      i = is(toks[j], "(") ? declareAll(j) : j - 1;
    } else if (v === "class") {
      if (next?.kind === "name" && next.value !== "extends") declared.add(toks[++i].value);
      frame.classes++;
    } else if (v === "catch" && is(next, "(")) i = declareAll(i + 1);
    else if ((v === "break" || v === "continue") && next?.kind === "name" && !next.nl) i++;
    else if (["var", "let", "const", "using"].includes(v)) {
      const pattern = is(next, "{") || is(next, "[");
      if (v === "using" ? next?.kind === "name" && !next.nl : next?.kind === "name" || pattern) {
        decls.push({ depth: frames.length, binding: true });
      }
    } else if (RESERVED.has(v) || NOT_FREE.has(v)) continue;
    else if (is(next, "=>")) declared.add(v);
    else if (header && top) continue; // a method's name and modifiers
    else if (!is(next, ":") || frame.ternary > 0 || isName(prev, "case")) used.add(v);
  }
  return [...used].filter((name) => !declared.has(name)).sort();
}

/**
 * What `teleport` sends of `fn`: its source, and the free names it uses
 * that are not globals here (the server looks them up when the function
 * runs, and names them if it finds them nowhere).
 *
 * @throws {TypeError} for a netref, a native or bound function, or anything
 *   that is not a function.
 */
// deno-lint-ignore ban-types
export function teleportable(fn: Function): { source: string; free: string[] } {
  if (typeof fn !== "function") throw new TypeError("teleport needs a function");
  if (remoteState(fn)) throw new TypeError("cannot teleport a netref: it is remote already");
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(`cannot teleport '${fn.name}': a native or bound function has no source`);
  }
  return { source, free: freeIdentifiers(source).filter((name) => !(name in globalThis)) };
}

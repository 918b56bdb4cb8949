/**
 * Source analysis for classic mode: persistTopLevel's rewrite (checked as text,
 * compiled, and run inside a `with` namespace as classic mode does) and
 * freeIdentifiers' list of the names a function's source leaves free.
 */

import assert from "node:assert/strict";
import { freeIdentifiers, guardTypeof, persistTopLevel } from "../core/classic/source.ts";

type Body = (scope: object) => Promise<unknown>;
const AsyncFunction = (async function () {}).constructor as new (...args: string[]) => Body;

/** Compiles `body` the way classic mode does: in a sloppy async function, inside `with (scope)`. */
function compile(body: string, hoist = ""): Body {
  return new AsyncFunction("scope", `with (scope) {${hoist}${body}\n}`);
}

/** Rewrites and runs `code` against a fresh namespace, hoisting functions; returns the namespace. */
async function run(code: string): Promise<Record<string, unknown>> {
  const ns: Record<string, unknown> = {};
  const scope = new Proxy(ns, {
    has: (_target, key) => typeof key === "string" && key !== "scope",
    get: (target, key) =>
      Reflect.has(target, key) ? Reflect.get(target, key) : Reflect.get(globalThis, key),
  });
  const { code: body, functions } = persistTopLevel(code);
  await compile(body, functions.map((name) => `scope.${name} = ${name};`).join(""))(scope);
  return ns;
}

const lines = (text: string): number => text.split(/\r\n|[\n\r\u2028\u2029]/).length;

// [input, expected output (undefined: unchanged), expected functions]
const REWRITES: [string, string | undefined, string[]?][] = [
  // let and const at the top level
  ["let x = 1", "var x = 1"],
  ["const x = 1", "var   x = 1"],
  ["let a = 1, b = 2; const c = 3", "var a = 1, b = 2; var   c = 3"],
  ["let [a, b] = [1, 2]", "var [a, b] = [1, 2]"],
  ["const {a, b: [c]} = o", "var   {a, b: [c]} = o"],
  ["let\nx = 1", "var\nx = 1"],
  ["let x\n;[1].forEach(f)", "var x = void 0\n;[1].forEach(f)"],
  ["x = 1; let y = 2", "x = 1; var y = 2"],
  ["{ } let y = 2", "{ } var y = 2"],
  ["if (a) { b() } const c = 1", "if (a) { b() } var   c = 1"],
  ["label: let x = 1", "label: var x = 1"],
  // `let` as an identifier (sloppy mode)
  ["let = 5", undefined],
  ["let(1)", undefined],
  ["let.x = 1; let += 2", undefined],
  ["x = let; y = let in o; z = let instanceof C", undefined],
  ["f(let)\nlet in o", undefined],
  // nested declarations stay
  ["{ let x = 1 }", undefined],
  ["if (a) { const b = 2 }", undefined],
  ["for (let i = 0; i < 3; i++) {}", undefined],
  ["for (const k of ks) f(k)", undefined],
  ["function f() { let x; class C {} function g() {} }", undefined, ["f"]],
  ["o = { let: 1, const: 2, class: 3 }", undefined],
  ["f(() => { let y })", undefined],
  ["s = `${(() => { let z = 1; return z })()}`", undefined],
  ["s = `${ `${ { a: `}` } }` }`; let q", "s = `${ `${ { a: `}` } }` }`; var q = void 0"],
  ["[function () { const c = 1 }]", undefined],
  // classes
  ["class K {}", "var K = class K {};"],
  [
    "class K { m() { return 1 } static s = 2 }",
    "var K = class K { m() { return 1 } static s = 2 };",
  ],
  ["class K extends Base {}\n(f)()", "var K = class K extends Base {};\n(f)()"],
  [
    "class K extends mixin(A, { b: 1 }) { m() {} }",
    "var K = class K extends mixin(A, { b: 1 }) { m() {} };",
  ],
  ["class K extends class {} {}", "var K = class K extends class {} {};"],
  ["class K extends function () {} {}", "var K = class K extends function () {} {};"],
  ["class A {} class B {}", "var A = class A {}; var B = class B {};"],
  ["class K {}\n[1].forEach(f)", "var K = class K {};\n[1].forEach(f)"],
  ["class K {\n  m() {}\n}\nlet x", "var K = class K {\n  m() {}\n};\nvar x = void 0"],
  ["x = class Foo {}", undefined],
  ["(class {})", undefined],
  ["f(class C {})", undefined],
  ["x = 1 ? class A {} : class B {}", undefined],
  // functions: left in place, names returned
  ["function f() {}", undefined, ["f"]],
  ["function* g() {}", undefined, ["g"]],
  ["async function h() {}", undefined, ["h"]],
  ["async function* i() {}", undefined, ["i"]],
  ["function f() {}\nfunction f() {}", undefined, ["f"]],
  ["async\nfunction m() {}", undefined, ["m"]],
  ["lbl: function n() {}", undefined, ["n"]],
  ["x = function j() {}", undefined],
  ["(function k() {})", undefined],
  ["x = async function l() {}, function m() {}", undefined],
  ["f(function () {}); function g() {}", undefined, ["g"]],
  // strings, templates, comments and regexes are never touched
  ["s = 'let x = {'; let y", "s = 'let x = {'; var y = void 0"],
  ['s = "}\\" let x"; let y', 's = "}\\" let x"; var y = void 0'],
  ["s = `let ${a} } { \\` let`; let y", "s = `let ${a} } { \\` let`; var y = void 0"],
  ["// let x = {\nlet y", "// let x = {\nvar y = void 0"],
  ["/* let x = { */ let y", "/* let x = { */ var y = void 0"],
  ["/* a\n let b */\nlet c", "/* a\n let b */\nvar c = void 0"],
  ["x = /let {/; let y", "x = /let {/; var y = void 0"],
  ["x = /[/{]/g.test(s); let y", "x = /[/{]/g.test(s); var y = void 0"],
  ["x = /\\/{/; let y", "x = /\\/{/; var y = void 0"],
  // regex or division
  ["a / b / c; let x", "a / b / c; var x = void 0"],
  ["x = a / 2 / (b) / c[0] / 1; let y", "x = a / 2 / (b) / c[0] / 1; var y = void 0"],
  ["x = /re{/.test(s)\nlet y", "x = /re{/.test(s)\nvar y = void 0"],
  ["if (a) {} /re{/.test(s); let y", "if (a) {} /re{/.test(s); var y = void 0"],
  ["if (a) /re{/.test(s); let y", "if (a) /re{/.test(s); var y = void 0"],
  ["x = typeof /{/; let y", "x = typeof /{/; var y = void 0"],
  ["i++ / 2; let y", "i++ / 2; var y = void 0"],
  // automatic semicolon insertion
  ["x\nlet y = 1", "x\nvar y = 1"],
  ["foo()\nconst z = 2", "foo()\nvar   z = 2"],
  ["a = [1]\nclass K {}", "a = [1]\nvar K = class K {};"],
  ["a = 'x'\nfunction f() {}", undefined, ["f"]],
  ["a = true\nlet b", "a = true\nvar b = void 0"],
  ["a = b +\nlet", undefined],
  ["a = b\n+ let", undefined],
  // odd but valid input
  ["#!/usr/bin/env deno\nlet x", "#!/usr/bin/env deno\nvar x = void 0"],
  [
    "x = 1_000 + 0x1f + 1e-5 + .5 + 1..toString().length; let y",
    "x = 1_000 + 0x1f + 1e-5 + .5 + 1..toString().length; var y = void 0",
  ],
  [
    "x = a?.b ?? c?.[0]; y ??= 1; z **= 2; let w",
    "x = a?.b ?? c?.[0]; y ??= 1; z **= 2; var w = void 0",
  ],
  ["x = { ...o }; let ñ = 1, $ = 2, _ = 3", "x = { ...o }; var ñ = 1, $ = 2, _ = 3"],
  ["let x = 10n\r\nconst y = 1", "var x = 10n\r\nvar   y = 1"],
  ["class \\u004b {}", "var \\u004b = class \\u004b {};"],
];

Deno.test("persistTopLevel: rewrites exactly the top-level declarations", () => {
  for (const [input, expected, functions = []] of REWRITES) {
    const out = persistTopLevel(input);
    assert.equal(out.code, expected ?? input, input);
    assert.deepEqual(out.functions, functions, input);
  }
});

Deno.test("persistTopLevel: keeps every line and compiles whenever the input compiles", () => {
  for (const [input] of REWRITES) {
    const out = persistTopLevel(input).code;
    assert.equal(lines(out), lines(input), input);
    let valid = true;
    try {
      compile(input);
    } catch {
      valid = false;
    }
    if (valid) compile(out); // throws on a SyntaxError
  }
});

Deno.test("persistTopLevel: declarations land in the namespace when run", async () => {
  assert.deepEqual(await run("const {a, b: [c]} = {a: 1, b: [2]}"), { a: 1, c: 2 });
  assert.deepEqual(await run("let x = 1, y = x + 1\nconst z = [x, y]"), { x: 1, y: 2, z: [1, 2] });
  const k = await run("class K { static n = 3 }\nclass L extends K {}\nconst n = L.n");
  assert.equal(typeof k.K, "function");
  assert.equal((k.L as { name: string }).name, "L");
  assert.equal(k.n, 3);
  const f = await run("const v = double(2)\nfunction double(x) { return 2 * x }");
  assert.equal(f.v, 4);
  assert.equal(typeof f.double, "function");
  const g = await run("async function* gen() { yield 1 }\nconst it = gen()");
  assert.equal(typeof g.gen, "function");
  // The `;` after a class body keeps the next line a statement of its own.
  const s = await run("const seen = []\nclass K {}\n[1, 2].forEach((i) => seen.push(i))");
  assert.deepEqual(s.seen, [1, 2]);
  const p = await run("let out = []\nclass K {}\n(() => out.push(K.name))()");
  assert.deepEqual(p.out, ["K"]);
  // Nested declarations stay local; `let` inside `for` too.
  const n = await run("let sum = 0\nfor (let i = 0; i < 3; i++) { const d = i; sum += d }");
  assert.deepEqual(n, { sum: 3 });
  // Without `;` a following `[` indexes, exactly as in the original code.
  assert.deepEqual(await run("let x = [5, 6]\n[1]"), { x: 6 });
  assert.deepEqual(await run("let x = 1;\n[1].forEach(() => {})"), { x: 1 });
  // `let` as a plain variable of the namespace.
  assert.deepEqual(await run("let = 5\nlet += 1"), { let: 6 });
  // Strings and regexes keep their text.
  const t = await run("const s = `let ${'{'} }`, r = /[/{]/.source\nconst q = 'const'");
  assert.deepEqual(t, { s: "let { }", r: "[/{]", q: "const" });
});

// [function source, expected free names]
const FREE: [string, string[]][] = [
  // function forms
  ["function f(a, b) { return a + b }", []],
  ["function f(a, b) { return a + b + c }", ["c"]],
  ["async function* g() { yield await h(f) }", ["f", "h"]],
  ["function () { return g() }", ["g"]],
  ["(a, {b, c = d}) => a + b + e", ["e"]],
  ["x => x * 2", []],
  ["async x => await x.y(z)", ["z"]],
  ["async (a) => a + b", ["b"]],
  ["() => counter + 1", ["counter"]],
  ["() => ({ a: b })", ["b"]],
  ["name(a) { return this.q + a + r }", ["r"]],
  ["async name() { return name2 }", ["name2"]],
  ["*gen() { yield* w }", ["w"]],
  ["async *gen() { yield v }", ["v"]],
  ["get x() { return y }", ["y"]],
  ["set x(v) { store[k] = v }", ["k", "store"]],
  ["[Symbol.iterator]() { return it }", ["Symbol", "it"]],
  ["function f(...rest) { return rest.map(String) }", ["String"]],
  // declarations in the body
  ["function f() { var a = 1; let b = a; const c = b; return c }", []],
  ["function f() { const {a, b: [c], ...d} = o; return a + c + d }", ["o"]],
  ["function f() { const [a = b, ...c] = d; return c }", ["d"]],
  ["function f() { let a = 1,\n  b = a; return b }", []],
  ["function f() { var a = 1\n  b = 2 }", ["b"]],
  ["function f() { let a; a = 1; return a }", []],
  ["function f() { for (let i = 0, n = arr.length; i < n; i++) use(i) }", ["arr", "use"]],
  ["function f() { for (const [k, v] of map) k + v; for (var p in obj) p }", ["map", "obj"]],
  ["function f() { using r = open(); return r }", ["open"]],
  ["function f() { function g() { return h } return g }", ["h"]],
  ["function f() { const g = function named(x) { return named(x) }; return g }", []],
  ["function f() { class A extends B {} return new A() }", ["B"]],
  ["function f() { try { t() } catch (e) { throw e } finally { z() } }", ["t", "z"]],
  ["function f() { try {} catch ({ message }) { log(message) } }", ["log"]],
  ["function f() { try {} catch { x } }", ["x"]],
  ["function f() { outer: for (;;) { break outer; continue outer } }", []],
  ["function f() { lbl: { break lbl } }", []],
  // not references
  ["function f() { return x.y.z + a?.b?.(c) + d?.[e] }", ["a", "c", "d", "e", "x"]],
  ["function f() { return { a: 1, b: c, 'd': e, 1: g, [h]: i } }", ["c", "e", "g", "h", "i"]],
  ["function f() { return { a, b } }", ["a", "b"]],
  ["function f() { return { ...rest, n: [...items] } }", ["items", "rest"]],
  ["function f() { return { m(p) { return p + q }, get g() { return r }, set g(v) {} } }", [
    "q",
    "r",
  ]],
  ["function f() { return { async m() {}, *n() {}, async *o() {}, [k]() {}, 's'() {} } }", ["k"]],
  ["function f() { return { if: 1, class: 2, function() { return 3 }, new: 4 } }", []],
  ["function f() { return { get: 1, set, async: 2 } }", []],
  ["function f() { return this.x + super.y + arguments.length + new.target + import.meta }", []],
  ["function f() { return [true, false, null, undefined, NaN, Infinity, void 0, typeof t] }", [
    "t",
  ]],
  ["function f() { return 1_000 + 0x1f + 1e-5 + 10n + .5 + 0b1n + a }", ["a"]],
  ["function f() { return 'b' + \"c\" + `d` + /e/g.source + f2 /* g */ } // h", ["f2"]],
  ["function f() { return /a{b}[/]c/.test(s) + x / y / z }", ["s", "x", "y", "z"]],
  ["function f() { if (x) /re/.test(s) }", ["s", "x"]],
  ["function f() { return `${y}` }", ["y"]],
  ["function f() { return `a ${ `b ${c} ${ { d: e } }` } f` }", ["c", "e"]],
  ["function f() { return tag`x${y}` }", ["tag", "y"]],
  [
    "function f() { return ñ + $x + _y + \\u0061 + b\\u{63} + \\u0069f + \\u{00064} }",
    ["$x", "_y", "a", "bc", "d", "ñ"],
  ],
  // conditionals and labels
  ["function f() { return x ? y : z }", ["x", "y", "z"]],
  ["function f() { return a ? b ? c : d : e }", ["a", "b", "c", "d", "e"]],
  ["function f() { return { k: a ? b : c, l: d } }", ["a", "b", "c", "d"]],
  ["function f() { switch (x) { case K: { break } default: n } }", ["K", "n", "x"]],
  // classes
  [
    "() => { class A extends B { static s = S; #p = 1; m() { return this.#p + C } } return A }",
    ["B", "C", "S"],
  ],
  ["class A { x = 1\n  y = z\n  static { init() } get a() { return b } set a(v) { c = v } }", [
    "b",
    "c",
    "init",
    "z",
  ]],
  ["class A { #x; has(o) { return #x in o } static async *m() {} accessor q = r }", ["r"]],
  ["class A { 'quoted'() {} [key]() {} 42() {} constructor(a) { this.a = a } }", ["key"]],
  ["function f() { return class { handler = (e) => this.on(e, h) } }", ["h"]],
  ["class A extends mix(B) { m() { return C } }", ["B", "C", "mix"]],
  ["parseField(f) { return parseField(f) }", ["parseField"]],
  ["function f() { return typeof maybe === 'undefined' }", ["maybe"]],
  // nothing free
  ["function () {}", []],
  ["() => {}", []],
  ["function f() { return f }", []],
];

Deno.test("freeIdentifiers: lists exactly the free names", () => {
  for (const [source, expected] of FREE) {
    assert.deepEqual(freeIdentifiers(source), expected, source);
  }
});

Deno.test("freeIdentifiers: the documented misses err towards fewer names", () => {
  // A name in a parameter default counts as declared.
  assert.deepEqual(freeIdentifiers("function f(a = fallback) { return a }"), []);
  // Names are not scoped: a binding anywhere hides the name everywhere.
  assert.deepEqual(freeIdentifiers("function f() { { let x } return x }"), []);
});

Deno.test("freeIdentifiers: real functions through toString", () => {
  let counter = 0;
  const bump = () => counter + 1;
  counter = bump();
  const local = 3;
  function pure(a: number, b: number): number {
    const sum = a + b;
    return Math.max(sum, 0);
  }
  const methods = {
    scaled(x: number): number {
      return x * local;
    },
    get total(): number {
      return counter;
    },
  };
  class Box {
    value = local;
    get doubled(): number {
      return this.value * 2;
    }
  }
  assert.deepEqual(freeIdentifiers(bump.toString()), ["counter"]);
  assert.deepEqual(freeIdentifiers(pure.toString()), ["Math"]);
  assert.deepEqual(freeIdentifiers(methods.scaled.toString()), ["local"]);
  const getter = Object.getOwnPropertyDescriptor(methods, "total")!.get!;
  assert.deepEqual(freeIdentifiers(getter.toString()), ["counter"]);
  assert.deepEqual(freeIdentifiers(Box.toString()), ["local"]);
  assert.deepEqual(freeIdentifiers(((x: number) => x * 2).toString()), []);
});

Deno.test("guardTypeof: wraps typeof of a bare name, and nothing else", () => {
  const cases: [string, string][] = [
    ["typeof x", "G(() => typeof x)"],
    ['typeof x === "undefined" ? 1 : 2', 'G(() => typeof x) === "undefined" ? 1 : 2'],
    ["typeof a.b", "typeof a.b"],
    ["typeof a?.b", "typeof a?.b"],
    ["typeof f()", "typeof f()"],
    ["typeof a[0]", "typeof a[0]"],
    ["typeof tag`t`", "typeof tag`t`"],
    ["typeof this", "typeof this"],
    ["typeof (x)", "G(() => typeof (x))"],
    ["typeof (x).y", "typeof (x).y"],
    ['"typeof x" + `typeof ${typeof y}`', '"typeof x" + `typeof ${G(() => typeof y)}`'],
    ["// typeof x\ntypeof\n  z", "// typeof x\nG(() => typeof\n  z)"],
    ["typeof x\n.y", "typeof x\n.y"],
  ];
  for (const [code, expected] of cases) assert.equal(guardTypeof(code, "G"), expected, code);
});

/**
 * The Python values that JavaScript has no type for, as brine carries them:
 * tuples, floats that must stay floats, complex numbers, slices and the
 * singletons `NotImplemented` and `Ellipsis`.
 *
 * @module
 */

/**
 * A Python `tuple` as it arrives: a frozen array. Any JavaScript array is
 * sent as a tuple; {@linkcode tuple} makes one explicitly.
 */
export class Tuple<T = unknown> extends Array<T> {
  /** A frozen tuple of `items`. */
  static fromItems<T>(items: readonly T[]): Tuple<T> {
    const out = new Tuple<T>();
    for (const item of items) out.push(item);
    return Object.freeze(out) as Tuple<T>;
  }

  /** Arrays made from a tuple (`map`, `filter`) are plain arrays. */
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/** A frozen {@linkcode Tuple} of the arguments: `tuple(1, "a")` is Python's `(1, "a")`. */
export function tuple<T>(...items: T[]): Tuple<T> {
  return Tuple.fromItems(items);
}

/**
 * A number that travels as a Python `float` even when it is integral (a
 * plain JavaScript `1` goes as the `int` 1). Arrives only with the
 * `floats: "wrap"` option; by default floats arrive as plain numbers.
 */
export class PyFloat {
  /** The value. */
  readonly value: number;
  /** Wraps `value`. */
  constructor(value: number) {
    this.value = value;
  }
  /** The number itself, so arithmetic and comparisons work. */
  valueOf(): number {
    return this.value;
  }
}

/** A Python `complex`. */
export class Complex {
  /** The real part. */
  readonly re: number;
  /** The imaginary part. */
  readonly im: number;
  /** `re + im·j`. */
  constructor(re: number, im: number) {
    this.re = re;
    this.im = im;
  }
}

/** A Python `slice(start, stop, step)`; each part is any brine value (usually a number or null). */
export class Slice {
  /** The start, or null. */
  readonly start: unknown;
  /** The stop, or null. */
  readonly stop: unknown;
  /** The step, or null. */
  readonly step: unknown;
  /** `slice(start, stop, step)`. */
  constructor(start: unknown, stop: unknown, step: unknown = null) {
    this.start = start;
    this.stop = stop;
    this.step = step;
  }
}

/** Python's `NotImplemented`. */
export const NOT_IMPLEMENTED: unique symbol = Symbol.for("python.NotImplemented");
/** Python's `Ellipsis` (`...`). */
export const ELLIPSIS: unique symbol = Symbol.for("python.Ellipsis");

/** Keyword arguments for a Python call, made by {@linkcode kwargs}. */
export class Kwargs {
  /** The names and values, in order. */
  readonly entries: ReadonlyArray<readonly [string, unknown]>;
  /** Prefer {@linkcode kwargs}. */
  constructor(values: Record<string, unknown>) {
    this.entries = Object.entries(values);
  }
}

/**
 * Keyword arguments for a Python call, passed as the call's last argument:
 * `py.builtins.sorted(xs, kwargs({ key: py.builtins.len, reverse: true }))`
 * is Python's `sorted(xs, key=len, reverse=True)`.
 */
export function kwargs(values: Record<string, unknown>): Kwargs {
  return new Kwargs(values);
}

/** `value` as a Python `float`, even when integral: `python.float(1)` is `1.0`. */
export function float(value: number): PyFloat {
  return new PyFloat(value);
}

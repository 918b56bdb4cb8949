/**
 * Small statistics helpers for the bench: medians and spreads of per-round
 * figures. Every figure the bench reports is the median over interleaved
 * rounds, with the smallest and largest round beside it to show the noise.
 *
 * @module
 */

/** The median of a round's figures, with the extremes to show the spread. */
export interface Spread {
  /** The middle value (the mean of the two middle ones for an even count). */
  median: number;
  /** The smallest value. */
  min: number;
  /** The largest value. */
  max: number;
}

/** The median of `values`; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median, minimum and maximum of `values`. */
export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Pairs `a[i] / b[i]`: ratios taken round by round, so drift between rounds cancels. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, i) => value / b[i]);
}

/** Rounds to `digits` significant figures, for tables and JSON. */
export function round(value: number, digits = 3): number {
  return Number.isFinite(value) ? Number(value.toPrecision(digits)) : value;
}

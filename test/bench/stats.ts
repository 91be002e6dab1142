// Small statistics helpers for the benchmarks: median, nearest-rank percentiles and the
// coefficient of variation used to judge how steady a series of rounds is.

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new Error('no values');
  return [...values].sort((a, b) => a - b);
}

export function median(values: readonly number[]): number {
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100): the smallest value with at least p% of values at or below it. */
export function percentile(values: readonly number[], p: number): number {
  const s = sorted(values);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1]!;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('no values');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Standard deviation over mean (0 for fewer than two values). */
export function coefficientOfVariation(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  const variance = values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / m;
}

export const round2 = (n: number): number => Math.round(n * 100) / 100;

// Small statistics helpers for the benchmarks: percentiles over latency samples (milliseconds).

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending-sorted array (`p` in 0..100). NaN for an empty array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const i = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[i] ?? Number.NaN;
}

export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
    min: sorted.length === 0 ? Number.NaN : (sorted[0] ?? Number.NaN),
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** A figure for a table: whole numbers, or one decimal below 10 (so 0.4 ms does not print as 0). */
export function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (Math.abs(n) < 10 && n !== Math.trunc(n)) return n.toFixed(1);
  return Math.round(n).toLocaleString('en-US');
}

export function mb(bytes: number): number {
  return bytes / (1024 * 1024);
}

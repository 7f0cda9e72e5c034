// Small statistics for the benchmark: percentiles and summaries over plain numbers. Pure.

/** p50/p90/p99/max (and n) of one metric, in the metric's unit; NaN when there is no sample. */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * The nearest-rank percentile (the smallest sample with at least p% of the samples at or below
 * it), so every reported value is a measured one: with 30 samples p99 is the maximum and p90
 * the 27th. `p` in (0, 100]. NaN for no sample; NaN samples are ignored.
 */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** The median as the usual midpoint (mean of the two middle samples for an even count); NaN for none. */
export function median(samples: readonly number[]): number {
  const sorted = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  const valid = samples.filter((x) => !Number.isNaN(x));
  return { n: valid.length, p50: percentile(valid, 50), p90: percentile(valid, 90), p99: percentile(valid, 99), max: percentile(valid, 100) };
}

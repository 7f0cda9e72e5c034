// usageNanoCores needs two cumulative samples: this cache keeps the previous one per key
// (container ID, pod UID, node, system container) and derives the rate, as upstream's CRI stats
// provider does with its cpuUsageCache.

/**
 * Shortest interval the rate is computed over, ms: a scrape right after another would give a
 * noisy rate, so within this interval the last rate is returned and the older sample kept.
 */
export const MIN_RATE_INTERVAL_MS = 1000;
/** A key not sampled for this long is dropped (its container or pod is gone), ms. */
export const RATE_ENTRY_TTL_MS = 5 * 60_000;

interface Entry {
  timeMs: number;
  usageNs: number;
  rate?: number;
}

export class CpuRateCache {
  private readonly entries = new Map<string, Entry>();

  /**
   * Records a cumulative sample (`usageNs` of CPU time at `timeMs`) and returns the usage in
   * nanocores since the previous one, or undefined on the first sample, after a counter reset,
   * or when time did not move.
   */
  update(key: string, usageNs: number, timeMs: number): number | undefined {
    const prev = this.entries.get(key);
    if (!prev || usageNs < prev.usageNs || timeMs < prev.timeMs) {
      this.entries.set(key, { timeMs, usageNs });
      return undefined;
    }
    const dt = timeMs - prev.timeMs;
    if (dt < MIN_RATE_INTERVAL_MS) return prev.rate;
    const rate = Math.trunc(((usageNs - prev.usageNs) * 1000) / dt);
    this.entries.set(key, { timeMs, usageNs, rate });
    return rate;
  }

  /** Drops the keys not sampled since `nowMs - RATE_ENTRY_TTL_MS`. */
  prune(nowMs: number): void {
    for (const [key, e] of this.entries) if (e.timeMs < nowMs - RATE_ENTRY_TTL_MS) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

// tskubelet's 'pod configuration changed' log lines (--v=2) of the API source: one per watch event
// that changed the pods to run, with how many pods it added. The lines name no pod; the API
// server sends every watcher the events in the same order, so the k-th pod added here is the
// k-th pod bound in the bench's own watch.
import { parseLogLine } from './kubelet-log.ts';

export class ApiSourceAdds {
  /** Times (ms since the epoch, ms precision) at which the API source added a pod, one entry per pod. */
  readonly times: number[] = [];

  /** Feeds a raw log line (others are ignored). */
  addLine(line: string): void {
    if (!line.includes('pod configuration changed')) return;
    const l = parseLogLine(line);
    if (!l || l.msg !== 'pod configuration changed' || l.fields.source !== 'api') return;
    const added = Number(l.fields.added ?? 0);
    for (let i = 0; i < added; i++) this.times.push(l.timeMs);
  }

  /** The times in [fromMs, toMs], in order. */
  between(fromMs: number, toMs: number): number[] {
    return this.times.filter((t) => t >= fromMs && t <= toMs);
  }
}

/**
 * Pairs the k-th addition with the k-th pod by bound time; resolves to pod name -> time the
 * kubelet's API source had it. Empty when the counts differ (a pod was missed: no pairing).
 */
export function pairByRank(adds: readonly number[], bound: ReadonlyMap<string, number>): Map<string, number> {
  const pods = [...bound.entries()].filter(([, t]) => Number.isFinite(t)).sort((a, b) => a[1] - b[1]);
  const out = new Map<string, number>();
  if (pods.length !== adds.length) return out;
  pods.forEach(([name], i) => out.set(name, adds[i] as number));
  return out;
}

// Per-key exponential backoff, as upstream client-go flowcontrol.Backoff without jitter (the
// kubelet builds its backoffs with NewBackOff, whose jitter factor is 0).
//
// How the kubelet uses it:
// - CrashLoopBackOff (kuberuntime doBackOff): key = crashLoopBackoffKey(...) (pod name, namespace,
//   UID, container name, container spec hash: a changed spec starts afresh). Before restarting an
//   exited container: if isInBackOffSince(key, container.finishedAt) the restart is skipped with
//   reason CrashLoopBackOff; otherwise next(key, finishedAt) and the container is started. With
//   CRASH_LOOP_BACKOFF the waits are 10 s, 20 s, 40 s, 80 s, 160 s, 300 s, 300 s, ...; a container
//   that exits more than 600 s after the last next() starts again at 10 s (upstream sets
//   HasExpiredFunc to a fixed 600 s since KEP-4603; before that it was 2 × max = 600 s too).
// - Image pulls (images.imageManager): key = imagePullBackoffKey(podUID, image); before pulling,
//   isInBackOffSinceUpdate(key, now) -> ImagePullBackOff; on a failed pull next(key); on success gc().
// Single-threaded JS needs no lock. Call gc() periodically: entries are otherwise kept forever.
import type { Clock } from './clock.ts';
import { invalidInput } from './errors.ts';

export interface BackoffOptions {
  /** First delay, ms. */
  initialMs: number;
  /** Cap on the delay, ms. */
  maxMs: number;
  /** An entry last updated longer ago than this starts over (and is gc'd); ms. Default 2 × maxMs. */
  resetAfterMs?: number;
}

/** CrashLoopBackOff: upstream backOffPeriod 10 s, MaxContainerBackOff 300 s, reset after 600 s. */
export const CRASH_LOOP_BACKOFF: BackoffOptions = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };
/** Image pull backoff: upstream backOffPeriod 10 s, MaxImageBackOff 300 s, reset after 2 × max. */
export const IMAGE_PULL_BACKOFF: BackoffOptions = { initialMs: 10_000, maxMs: 300_000 };

/** Upstream getStableKey: `<pod name>_<namespace>_<pod UID>_<container name>_<spec hash hex>`. */
export function crashLoopBackoffKey(pod: { name: string; namespace: string; uid: string }, containerName: string, specHash: string): string {
  return `${pod.name}_${pod.namespace}_${pod.uid}_${containerName}_${specHash}`;
}

/** Upstream image puller key: `<pod UID>_<image>`. */
export const imagePullBackoffKey = (podUID: string, image: string): string => `${podUID}_${image}`;

interface Entry {
  delayMs: number;
  lastUpdateMs: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();

  /** Throws InvalidInput when a duration is negative or not finite. */
  constructor(opts: BackoffOptions, clock: Clock) {
    const resetAfterMs = opts.resetAfterMs ?? 2 * opts.maxMs;
    for (const ms of [opts.initialMs, opts.maxMs, resetAfterMs]) {
      if (!Number.isFinite(ms) || ms < 0) throw invalidInput(`backoff durations must be finite and >= 0, got ${ms}`);
    }
    this.initialMs = opts.initialMs;
    this.maxMs = opts.maxMs;
    this.resetAfterMs = resetAfterMs;
    this.clock = clock;
  }

  /**
   * Moves the key's delay to the next step: initialMs for a new or expired entry (the event at
   * `eventTimeMs` came more than resetAfterMs after the last update), else double, capped at maxMs.
   * Records now as the entry's last update.
   */
  next(key: string, eventTimeMs: number = this.clock.now()): void {
    const entry = this.entries.get(key);
    const delayMs = !entry || this.expired(eventTimeMs, entry) ? this.initialMs : Math.min(entry.delayMs * 2, this.maxMs);
    this.entries.set(key, { delayMs, lastUpdateMs: this.clock.now() });
  }

  /** The key's current delay in ms; 0 when it has no entry (upstream Get). */
  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  /** True while less than the current delay has passed since `eventTimeMs` (e.g. the container's exit). */
  isInBackOffSince(key: string, eventTimeMs: number): boolean {
    const entry = this.entries.get(key);
    if (!entry || this.expired(eventTimeMs, entry)) return false;
    return this.clock.now() - eventTimeMs < entry.delayMs;
  }

  /** True while `eventTimeMs` (usually now) is less than the current delay after the last next(). */
  isInBackOffSinceUpdate(key: string, eventTimeMs: number): boolean {
    const entry = this.entries.get(key);
    if (!entry || this.expired(eventTimeMs, entry)) return false;
    return eventTimeMs - entry.lastUpdateMs < entry.delayMs;
  }

  /** Forgets the key: its next next() starts at initialMs. */
  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drops entries not updated for more than resetAfterMs. */
  gc(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) if (this.expired(now, entry)) this.entries.delete(key);
  }

  /** Number of keys held, for metrics and tests. */
  get size(): number {
    return this.entries.size;
  }

  private expired(eventTimeMs: number, entry: Entry): boolean {
    return eventTimeMs - entry.lastUpdateMs > this.resetAfterMs;
  }
}

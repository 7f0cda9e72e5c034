// PodWorkers: one serialized worker per pod (upstream pkg/kubelet/pod_workers.go).
//
// Timeline of a pod:  update(sync) -> syncing --(update(terminate))--> terminating -> terminated
//   syncing:     syncPod runs, one call at a time; it runs again when the pod changes (a newer
//                update replaces a pending one), when the PLEG reports a runtime change, when
//                the sync asked for it (back-off ends), or every resync interval.
//   terminating: a terminate request aborts the running sync and is never replaced by an
//                update; terminatePod stops and removes everything the pod has.
//   terminated:  the worker is gone; a new sync for the same UID starts a new one (a static pod
//                added again), while a terminate request that comes late (the API's DELETED
//                event of the pod's own final deletion) is ignored for a while (upstream: a
//                finished pod takes no further updates): it would run the whole termination again.
// Different pods proceed in parallel: syncs bounded by maxConcurrentSyncs, terminations not
// (upstream bounds neither). A termination mostly waits on the runtime and frees what the pod
// holds; queued behind starts, a burst of deletions would wait for whole start-ups (under churn
// that was most of delete -> gone) and hold the slots the starts need.
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { Pod } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';

export type PodWorkerState = 'syncing' | 'terminating' | 'terminated';

export interface PodSyncer {
  /** One step towards the pod's desired state. Resolves with when to sync again (ms), or null. */
  syncPod(pod: Pod, signal: AbortSignal): Promise<{ requeueAfterMs: number | null }>;
  /** Stops and removes everything the pod has. Retried until it succeeds. */
  terminatePod(pod: Pod, signal: AbortSignal): Promise<void>;
}

export interface PodWorkersDeps {
  syncer: PodSyncer;
  clock: Clock;
  logger: Logger;
  /** Periodic resync of every pod (upstream syncFrequency, 1 min). */
  resyncIntervalMs: number;
  /** Pods synced at the same time, at most (the rest wait their turn); terminations do not count. */
  maxConcurrentSyncs: number;
}

/** After a sync or termination fails unexpectedly: retry after this long (ms), doubling to the cap. */
const ERROR_RETRY_INITIAL_MS = 1_000;
const ERROR_RETRY_MAX_MS = 30_000;
/** How long a finished termination makes later terminate requests for its pod no-ops, ms. */
const FINISHED_FOR_MS = 5 * 60_000;

interface Worker {
  uid: string;
  pod: Pod;
  state: PodWorkerState;
  pending: 'sync' | 'terminate' | null;
  running: boolean;
  abort: AbortController;
  timer: NodeJS.Timeout | null;
  errorDelayMs: number;
}

export class PodWorkers {
  private readonly deps: PodWorkersDeps;
  private readonly workers = new Map<string, Worker>();
  private active = 0;
  /** Workers waiting for a sync slot, first come first served; grant(true): the slot is theirs. */
  private readonly waitingForSlot: { w: Worker; grant: (slot: boolean) => void }[] = [];
  private readonly stopping = new AbortController();
  private readonly idleWaiters = new Set<() => void>();
  /** When each recently terminated pod's termination finished (ms), oldest first. */
  private readonly finished = new Map<string, number>();

  constructor(deps: PodWorkersDeps) {
    this.deps = deps;
  }

  /** The UIDs of pods that have a worker (syncing or terminating). */
  knownPods(): Set<string> {
    return new Set(this.workers.keys());
  }

  state(uid: string): PodWorkerState {
    return this.workers.get(uid)?.state ?? 'terminated';
  }

  /** A new or changed pod: sync it. Ignored while the pod is terminating. */
  syncPod(pod: Pod): void {
    const uid = pod.metadata?.uid ?? '';
    let w = this.workers.get(uid);
    if (!w) {
      w = { uid, pod, state: 'syncing', pending: null, running: false, abort: new AbortController(), timer: null, errorDelayMs: 0 };
      this.workers.set(uid, w);
      this.finished.delete(uid);
    }
    if (w.state !== 'syncing') return;
    w.pod = pod;
    this.enqueue(w, 'sync');
  }

  /** A newer object of a pod whose spec did not change: the next sync or termination uses it; nothing runs now. */
  refreshPod(pod: Pod): void {
    const w = this.workers.get(pod.metadata?.uid ?? '');
    if (w && pod.spec) w.pod = pod;
  }

  /** The pod must stop: abort its sync and terminate it. */
  terminatePod(pod: Pod): void {
    const uid = pod.metadata?.uid ?? '';
    let w = this.workers.get(uid);
    // Already done; an orphan's stub (no spec: the runtime still has something) is never ignored.
    if (!w && pod.spec && this.recentlyFinished(uid)) return;
    if (!w) {
      w = { uid, pod, state: 'terminating', pending: null, running: false, abort: new AbortController(), timer: null, errorDelayMs: 0 };
      this.workers.set(uid, w);
    }
    // The newest object (e.g. with its deletionTimestamp) is the one to terminate; an orphan's
    // stub (no spec) never replaces a known pod.
    if (pod.spec) w.pod = pod;
    if (w.state === 'terminating' && (w.pending === 'terminate' || w.running)) return;
    w.state = 'terminating';
    w.abort.abort(new DOMException('pod is terminating', 'AbortError'));
    this.enqueue(w, 'terminate');
    // A sync still waiting for its slot is not needed any more: terminate without waiting.
    const i = this.waitingForSlot.findIndex((x) => x.w === w);
    if (i >= 0) this.waitingForSlot.splice(i, 1)[0]!.grant(false);
  }

  /** The runtime reported a change for this pod (PLEG): sync it soon. */
  podChanged(uid: string): void {
    const w = this.workers.get(uid);
    if (w && w.state === 'syncing') this.enqueue(w, 'sync');
  }

  private enqueue(w: Worker, work: 'sync' | 'terminate'): void {
    if (w.pending !== 'terminate') w.pending = work;
    if (w.timer) {
      clearTimeout(w.timer);
      w.timer = null;
    }
    if (!w.running) void this.runWorker(w);
  }

  private schedule(w: Worker, delayMs: number): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = null;
      if (w.state === 'syncing') this.enqueue(w, 'sync');
    }, delayMs);
    w.timer.unref();
  }

  /** Whether the pod's termination finished less than FINISHED_FOR_MS ago. */
  private recentlyFinished(uid: string): boolean {
    this.forgetFinished();
    return this.finished.has(uid);
  }

  /** Drops finished terminations older than FINISHED_FOR_MS (the map is oldest first). */
  private forgetFinished(): void {
    const now = this.deps.clock.now();
    for (const [uid, at] of this.finished) {
      if (now - at < FINISHED_FOR_MS) break;
      this.finished.delete(uid);
    }
  }

  /** Resolves true once a sync slot is the worker's, false when its pod terminates meanwhile. */
  private async acquireSlot(w: Worker): Promise<boolean> {
    if (this.active < this.deps.maxConcurrentSyncs) {
      this.active++;
      return true;
    }
    return await new Promise<boolean>((grant) => this.waitingForSlot.push({ w, grant }));
  }

  private releaseSlot(): void {
    const next = this.waitingForSlot.shift();
    if (next) next.grant(true);
    else this.active--;
  }

  /** Serializes one pod's work: at most one call into the syncer at a time. Never rejects. */
  private async runWorker(w: Worker): Promise<void> {
    w.running = true;
    try {
      while (w.pending && !this.stopping.signal.aborted) {
        const slot = w.pending !== 'terminate' && (await this.acquireSlot(w));
        // Taken only once the slot is ours, so updates made while waiting coalesce into this sync.
        const work = w.pending;
        w.pending = null;
        try {
          if (work === 'terminate') {
            await this.deps.syncer.terminatePod(w.pod, this.stopping.signal);
            w.state = 'terminated';
            this.workers.delete(w.uid);
            this.forgetFinished();
            this.finished.delete(w.uid);
            this.finished.set(w.uid, this.deps.clock.now());
            return;
          }
          if (w.abort.signal.aborted) w.abort = new AbortController();
          const signal = AbortSignal.any([w.abort.signal, this.stopping.signal]);
          const { requeueAfterMs } = await this.deps.syncer.syncPod(w.pod, signal);
          w.errorDelayMs = 0;
          if (!w.pending) this.schedule(w, requeueAfterMs ?? this.deps.resyncIntervalMs);
        } catch (err) {
          if (isAbort(err) && (w.state === 'terminating' || this.stopping.signal.aborted)) continue;
          w.errorDelayMs = Math.min(ERROR_RETRY_MAX_MS, w.errorDelayMs ? w.errorDelayMs * 2 : ERROR_RETRY_INITIAL_MS);
          this.deps.logger.error({ pod: `${w.pod.metadata?.namespace}/${w.pod.metadata?.name}`, podUID: w.uid, err: errorMessage(err), retryInMs: w.errorDelayMs }, work === 'terminate' ? 'terminating pod failed' : 'syncing pod failed');
          if (work === 'terminate') w.pending = 'terminate';
          if (!w.pending) this.schedule(w, w.errorDelayMs);
          else await this.deps.clock.sleep(w.errorDelayMs, this.stopping.signal).catch(() => undefined);
        } finally {
          if (slot) this.releaseSlot();
        }
      }
    } finally {
      w.running = false;
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if ([...this.workers.values()].some((w) => w.running)) return;
    for (const r of this.idleWaiters) r();
    this.idleWaiters.clear();
  }

  /** Stops all workers: aborts running syncs and clears timers. Resolves when none runs. */
  async stop(): Promise<void> {
    this.stopping.abort(new DOMException('kubelet is stopping', 'AbortError'));
    for (const w of this.workers.values()) if (w.timer) clearTimeout(w.timer);
    if (![...this.workers.values()].some((w) => w.running)) return;
    await new Promise<void>((resolve) => this.idleWaiters.add(resolve));
  }
}

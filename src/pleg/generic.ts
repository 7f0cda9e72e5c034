// PLEG, the pod lifecycle event generator (upstream pkg/kubelet/pleg/generic.go): relists the
// runtime's sandboxes and containers every relist period (1 s, as upstream) and tells the pod
// workers which pods changed. It reads two list calls per relist, whatever the number of pods;
// the workers read the details of the pods that changed. Runtime events (runtime-events.ts)
// bring a relist forward, so an exit is seen in tens of milliseconds rather than up to 1 s.
import type { RuntimeService } from '../cri/client.ts';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { LABEL_MANAGED_BY, LABEL_POD_UID } from '../kuberuntime/labels.ts';

/** Upstream relists every second; a relist older than 3 minutes makes the PLEG unhealthy. */
export const RELIST_PERIOD_MS = 1_000;
export const RELIST_THRESHOLD_MS = 3 * 60_000;
/**
 * After a runtime event (relistSoon), ms: relists this long after it. containerd publishes a
 * task's exit before its CRI plugin has recorded it (the plugin deletes the task first, tens of
 * ms), so the first relist waits a little and a second one catches a slow record.
 */
export const EVENT_RELIST_DELAYS_MS = [50, 300] as const;

export interface PlegDeps {
  runtime: RuntimeService;
  clock: Clock;
  logger: Logger;
  /** A pod's sandboxes or containers changed state (created, started, exited, removed). */
  onPodChanged: (uid: string) => void;
  /** After each relist: every pod UID that has a sandbox created by this agent. */
  onRelist: (uids: Set<string>) => void;
  relistPeriodMs?: number;
  /** Each relist's duration and the time since the previous one started, s (kubelet_pleg_relist_*). */
  onRelistTimed?: (durationSeconds: number, intervalSeconds: number | undefined) => void;
}

/** What the last relist saw, for the running pods / containers gauges. */
export interface RuntimeCounts {
  /** Pods with a ready sandbox. */
  runningPods: number;
  /** Containers by upstream state name: created, running, exited, unknown. */
  containersByState: Record<string, number>;
}

const CONTAINER_STATE_NAMES: Readonly<Record<string, string>> = {
  CONTAINER_CREATED: 'created', CONTAINER_RUNNING: 'running', CONTAINER_EXITED: 'exited', CONTAINER_UNKNOWN: 'unknown',
};

export class GenericPleg {
  private readonly deps: PlegDeps;
  private fingerprints = new Map<string, string>();
  private lastRelistMs = 0;
  private lastRelistStartMs = 0;
  private counts: RuntimeCounts = { runningPods: 0, containersByState: {} };
  /** Ends the loop's current sleep early (relistSoon). */
  private wake: AbortController | null = null;
  /** A wake came while a relist ran: the loop relists again without sleeping. */
  private wakePending = false;
  /** Event relists already scheduled, by delay: a burst of events schedules each delay once. */
  private readonly scheduled = new Set<number>();

  constructor(deps: PlegDeps) {
    this.deps = deps;
  }

  /** Healthy while the last successful relist is recent (for /healthz). */
  healthy(): { ok: boolean; message: string } {
    const age = this.deps.clock.now() - this.lastRelistMs;
    if (this.lastRelistMs === 0 || age <= RELIST_THRESHOLD_MS) return { ok: true, message: '' };
    return { ok: false, message: `pleg was last seen active ${Math.round(age / 1000)}s ago; threshold is ${RELIST_THRESHOLD_MS / 1000}s` };
  }

  /** The pods and containers the last relist saw. */
  runtimeCounts(): RuntimeCounts {
    return this.counts;
  }

  /**
   * Relists every period until the signal aborts, and sooner when relistSoon is called. Never
   * rejects except on abort.
   */
  async run(signal: AbortSignal): Promise<void> {
    const period = this.deps.relistPeriodMs ?? RELIST_PERIOD_MS;
    while (!signal.aborted) {
      this.wakePending = false;
      try {
        await this.relist(signal);
      } catch (err) {
        if (isAbort(err) && signal.aborted) return;
        this.deps.logger.warn({ component: 'pleg', err: errorMessage(err) }, 'relist failed');
      }
      if (this.wakePending) continue;
      this.wake = new AbortController();
      try {
        await this.deps.clock.sleep(period, AbortSignal.any([signal, this.wake.signal]));
      } catch {
        if (signal.aborted) return;
      } finally {
        this.wake = null;
      }
    }
  }

  /**
   * A runtime event says a container changed: the running loop relists EVENT_RELIST_DELAYS_MS
   * after it (each delay scheduled once while pending). Returns at once.
   */
  relistSoon(signal: AbortSignal): void {
    for (const delay of EVENT_RELIST_DELAYS_MS) {
      if (this.scheduled.has(delay)) continue;
      this.scheduled.add(delay);
      void this.deps.clock.sleep(delay, signal).then(
        () => {
          this.scheduled.delete(delay);
          this.wakePending = true;
          this.wake?.abort();
        },
        () => this.scheduled.delete(delay),
      );
    }
  }

  async relist(signal?: AbortSignal): Promise<void> {
    const { runtime, clock } = this.deps;
    const startMs = clock.now();
    const [sandboxes, containers] = await Promise.all([runtime.listPodSandbox(undefined, signal), runtime.listContainers(undefined, signal)]);
    const parts = new Map<string, string[]>();
    const managed = new Set<string>();
    const add = (uid: string | undefined, part: string): void => {
      if (!uid) return;
      let list = parts.get(uid);
      if (!list) parts.set(uid, (list = []));
      list.push(part);
    };
    for (const s of sandboxes) {
      add(s.labels[LABEL_POD_UID], `s:${s.id}:${s.state}`);
      if (s.labels[LABEL_MANAGED_BY] && s.labels[LABEL_POD_UID]) managed.add(s.labels[LABEL_POD_UID]);
    }
    for (const c of containers) add(c.labels[LABEL_POD_UID], `c:${c.id}:${c.state}`);
    const next = new Map<string, string>();
    for (const [uid, list] of parts) next.set(uid, list.sort().join(','));
    for (const [uid, fp] of next) if (this.fingerprints.get(uid) !== fp) this.deps.onPodChanged(uid);
    for (const uid of this.fingerprints.keys()) if (!next.has(uid)) this.deps.onPodChanged(uid);
    this.fingerprints = next;
    const readyPods = new Set(sandboxes.filter((s) => s.state === 'SANDBOX_READY').map((s) => s.labels[LABEL_POD_UID] ?? s.id));
    const byState: Record<string, number> = {};
    for (const c of containers) {
      const name = CONTAINER_STATE_NAMES[c.state] ?? 'unknown';
      byState[name] = (byState[name] ?? 0) + 1;
    }
    this.counts = { runningPods: readyPods.size, containersByState: byState };
    this.lastRelistMs = clock.now();
    this.deps.onRelistTimed?.((this.lastRelistMs - startMs) / 1000, this.lastRelistStartMs ? (startMs - this.lastRelistStartMs) / 1000 : undefined);
    this.lastRelistStartMs = startMs;
    this.deps.onRelist(managed);
  }
}

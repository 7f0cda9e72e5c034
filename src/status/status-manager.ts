// StatusManager: the single owner of every pod's latest API status (upstream pkg/kubelet/status).
// Pod workers set statuses; readers (/pods, the printer, later the API server writer) read them.
// It keeps what upstream keeps stable across syncs: startTime, each condition's
// lastTransitionTime while its status holds, and a terminal phase, which never goes back.
import type { Pod, PodCondition, PodStatus } from '../kube/types.ts';
import type { Clock } from '../common/clock.ts';

export interface PodWithStatus {
  pod: Pod;
  status: PodStatus;
}

export type StatusListener = (pod: Pod, status: PodStatus, previous: PodStatus | undefined) => void;

const isTerminal = (phase: string | undefined): boolean => phase === 'Succeeded' || phase === 'Failed';

export class StatusManager {
  private readonly statuses = new Map<string, PodWithStatus>();
  private readonly listeners: StatusListener[] = [];
  private readonly clock: Clock;

  constructor(deps: { clock: Clock }) {
    this.clock = deps.clock;
  }

  /** Called on every change of a pod's status (not on a sync that changed nothing). */
  onChange(listener: StatusListener): void {
    this.listeners.push(listener);
  }

  getPodStatus(uid: string): PodStatus | undefined {
    return this.statuses.get(uid)?.status;
  }

  /** Every pod with a status, in the order they were first seen. */
  list(): PodWithStatus[] {
    return [...this.statuses.values()];
  }

  /** Records a freshly generated status; returns the status as kept. */
  setPodStatus(pod: Pod, generated: PodStatus): PodStatus {
    const uid = pod.metadata?.uid ?? '';
    const old = this.statuses.get(uid)?.status;
    const nowISO = new Date(this.clock.now()).toISOString();
    const status: PodStatus = { ...generated };
    status.startTime = old?.startTime ?? (nowISO as unknown as Date);
    if (old && isTerminal(old.phase) && !isTerminal(status.phase)) status.phase = old.phase;
    // A stopped sandbox has no IP any more; the pod keeps the IPs it had, as upstream.
    if (!status.podIP && old?.podIP) {
      status.podIP = old.podIP;
      status.podIPs = old.podIPs;
    }
    status.conditions = (generated.conditions ?? []).map((c): PodCondition => {
      const prev = old?.conditions?.find((o) => o.type === c.type);
      const since = prev && prev.status === c.status ? prev.lastTransitionTime : (nowISO as unknown as Date);
      return { ...c, lastProbeTime: null as unknown as Date, lastTransitionTime: since };
    });
    this.statuses.set(uid, { pod, status });
    if (!old || JSON.stringify(old) !== JSON.stringify(status)) {
      for (const l of this.listeners) l(pod, status, old);
    }
    return status;
  }

  removePod(uid: string): void {
    this.statuses.delete(uid);
  }
}

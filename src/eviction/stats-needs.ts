// What the eviction manager needs of the stats summary in a round. The pods' writable-layer usage
// (a container's `rootfs`, with its `logs`) comes only from the runtime's CRI stats, and asking for
// them wakes every pod's shim (containerd 1.6 asks each task for its cgroup metrics). Upstream's
// kubelet reads CPU and memory from the cgroups in-process (cAdvisor) and never does that every
// 10 s; these pure functions decide when the runtime's stats are needed: only when a decision of
// the round reads a container's disk usage. Everything else the manager reads (node memory and
// filesystems, rlimit, the pods' memory, processes and volumes, the containers' memory for the
// eviction message) the provider gives without them.
import { podLimits } from '../cm/resources.ts';
import type { Pod } from '../kube/types.ts';
import { SIGNAL_RESOURCE, thresholdQuantity, type Observations, type Signal, type Threshold } from './thresholds.ts';

/** What the manager asks of the stats summary (it is always the full summary). */
export interface EvictionSummaryOptions {
  /** Whether the containers' writable-layer and log usage (the runtime's CRI stats) are needed. */
  runtimeStats: boolean;
}

/** The signals about the node's disks (nodefs, imagefs, containerfs; bytes or inodes). */
export function isDiskSignal(signal: Signal): boolean {
  const r = SIGNAL_RESOURCE[signal];
  return r === 'ephemeral-storage' || r === 'inodes';
}

/**
 * Whether the pod has an ephemeral-storage limit, on a container (regular or init), or as the
 * pod's (podLimits, what the pod-level check uses): the local storage checks then read its
 * containers' writable layers and logs (an
 * emptyDir sizeLimit needs only the volume's usage, which is there without the runtime's stats).
 */
export function hasEphemeralStorageLimit(pod: Pod): boolean {
  if (podLimits(pod).has('ephemeral-storage')) return true;
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c) => c.resources?.limits?.['ephemeral-storage'] !== undefined);
}

/**
 * Whether a disk threshold is at or past its quantity in `observations`, counting its minimum
 * reclaim: a superset of the thresholds upstream's thresholdsMet finds met with or without
 * enforcing the minimum reclaim, so it covers every round that ranks pods for disk pressure.
 */
export function diskThresholdReached(thresholds: readonly Threshold[], observations: Observations): boolean {
  return thresholds.some((t) => {
    if (!isDiskSignal(t.signal)) return false;
    const o = observations[t.signal];
    if (!o) return false;
    let quantity = thresholdQuantity(t.value, o.capacity);
    if (t.minReclaim) quantity += thresholdQuantity(t.minReclaim, o.capacity);
    return quantity >= o.available;
  });
}

/**
 * Whether the round's summary must carry the runtime's stats: when an active pod has an
 * ephemeral-storage limit (local storage eviction), or a disk signal is at or past a threshold
 * (ranking for disk pressure and its message read every pod's writable layers and logs).
 * `observations` are the latest the caller has ({} when none): the manager decides once on the
 * previous round's, and again on this round's before it uses a summary read without them.
 */
export function needsRuntimeStats(pods: readonly Pod[], thresholds: readonly Threshold[], observations: Observations): boolean {
  return pods.some(hasEphemeralStorageLimit) || diskThresholdReached(thresholds, observations);
}

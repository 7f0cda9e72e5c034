// Which pod to evict and what to tell it (upstream pkg/kubelet/eviction/helpers.go: the rank
// functions, evictionMessage, and the local storage limit checks of eviction_manager.go). Pure:
// everything works on the pods' specs and their stats from the summary.
import type { Container, Pod } from '../kube/types.ts';
import { canonicalQuantity, formatOf, formatQuantityNanos, listNanos, parseQuantityNanos } from '../cm/quantity.ts';
import { hasPodLevelResources } from '../cm/qos.ts';
import { podLimits, podRequests } from '../cm/resources.ts';
import type { FsStats, PodStats } from '../stats/types.ts';
import { SIGNAL_RESOURCE, formatThresholdQuantity, type Observations, type ReclaimResource, type Threshold } from './thresholds.ts';

/** The eviction reason in a pod's status and events (upstream Reason). */
export const EVICTION_REASON = 'Evicted';

/** A pod's stats by pod UID (upstream statsFunc). */
export type PodStatsOf = (pod: Pod) => PodStats<number> | undefined;

export function statsByUID(pods: readonly PodStats<number>[]): PodStatsOf {
  const byUID = new Map(pods.map((p) => [p.podRef.uid, p]));
  return (pod) => byUID.get(pod.metadata?.uid ?? '');
}

/** Which of a pod's disk usages a disk signal counts (upstream fsStatsType). */
export type FsStatsType = 'root' | 'logs' | 'localVolumeSource' | 'images';

/** -1: p1 goes first (is evicted sooner); 1: p2 goes first; 0: undecided. */
type Cmp = (p1: Pod, p2: Pod) => number;

/** Upstream cmpBool: true before false. */
const cmpBool = (a: boolean, b: boolean): number => (a === b ? 0 : a ? -1 : 1);

/** Sorts in place with the comparisons in order, each deciding only a tie of the ones before. */
function orderedBy(pods: Pod[], ...cmps: Cmp[]): void {
  pods.sort((a, b) => {
    for (const c of cmps) {
      const r = c(a, b);
      if (r !== 0) return r;
    }
    return 0;
  });
}

/** Upstream PodPriority: spec.priority, 0 when unset. */
export const podPriority = (pod: Pod): number => pod.spec?.priority ?? 0;

/** The pod's request of a resource in units (upstream GetResourceRequestQuantity, via PodRequests). */
export function podRequestUnits(pod: Pod, resource: string): number {
  const nanos = podRequests(pod).get(resource) ?? 0n;
  const whole = nanos / 1_000_000_000n;
  return Number(nanos % 1_000_000_000n === 0n ? whole : whole + 1n);
}

const priority: Cmp = (p1, p2) => Math.sign(podPriority(p1) - podPriority(p2));

/** Compares on a number measured from the stats; a pod without stats goes first. */
function byStats(stats: PodStatsOf, cmp: (s1: PodStats<number>, p1: Pod, s2: PodStats<number>, p2: Pod) => number): Cmp {
  return (p1, p2) => {
    const s1 = stats(p1);
    const s2 = stats(p2);
    if (!s1 || !s2) return cmpBool(!s1, !s2);
    return cmp(s1, p1, s2, p2);
  };
}

const workingSet = (s: PodStats<number>): number => s.memory?.workingSetBytes ?? 0;

/** Upstream rankMemoryPressure: usage above requests first, then lower priority, then usage above request. */
export function rankMemoryPressure(pods: Pod[], stats: PodStatsOf): void {
  const exceeds = byStats(stats, (s1, p1, s2, p2) => cmpBool(workingSet(s1) > podRequestUnits(p1, 'memory'), workingSet(s2) > podRequestUnits(p2, 'memory')));
  const usage = byStats(stats, (s1, p1, s2, p2) => Math.sign(workingSet(s2) - podRequestUnits(p2, 'memory') - (workingSet(s1) - podRequestUnits(p1, 'memory'))));
  orderedBy(pods, exceeds, priority, usage);
}

/** Upstream rankPIDPressure: lower priority, then more processes. */
export function rankPIDPressure(pods: Pod[], stats: PodStatsOf): void {
  const procs = (s: PodStats<number>): number => s.process_stats?.process_count ?? 0;
  orderedBy(pods, priority, byStats(stats, (s1, _p1, s2) => Math.sign(procs(s2) - procs(s1))));
}

/** Upstream IsLocalEphemeralVolume, plus hostPath: the volumes whose usage counts for the pod (localVolumeNames). */
export function localVolumeNames(pod: Pod): string[] {
  return (pod.spec?.volumes ?? [])
    .filter((v) => v.hostPath || v.gitRepo || v.configMap || (v.emptyDir && (v.emptyDir.medium ?? '') === ''))
    .map((v) => v.name);
}

/** Upstream podDiskUsage: bytes and inodes of the measured kinds of usage. */
export function podDiskUsage(stats: PodStats<number>, pod: Pod, measure: readonly FsStatsType[]): { bytes: number; inodes: number } {
  let bytes = 0;
  let inodes = 0;
  const add = (fs: FsStats<number> | undefined): void => {
    bytes += fs?.usedBytes ?? 0;
    inodes += fs?.inodesUsed ?? 0;
  };
  for (const c of stats.containers) {
    if (measure.includes('root')) add(c.rootfs);
    if (measure.includes('logs')) add(c.logs);
  }
  if (measure.includes('localVolumeSource')) {
    for (const name of localVolumeNames(pod)) add(stats.volume?.find((v) => v.name === name));
  }
  return { bytes, inodes };
}

/** Upstream rankDiskPressureFunc: usage above requests first, then lower priority, then usage above the ephemeral-storage request. */
export function rankDiskPressure(pods: Pod[], stats: PodStatsOf, measure: readonly FsStatsType[], resource: 'ephemeral-storage' | 'inodes'): void {
  const used = (s: PodStats<number>, p: Pod): number => {
    const u = podDiskUsage(s, p, measure);
    return resource === 'inodes' ? u.inodes : u.bytes;
  };
  const exceeds = byStats(stats, (s1, p1, s2, p2) => cmpBool(used(s1, p1) > podRequestUnits(p1, resource), used(s2, p2) > podRequestUnits(p2, resource)));
  const usage = byStats(stats, (s1, p1, s2, p2) =>
    Math.sign(used(s2, p2) - podRequestUnits(p2, 'ephemeral-storage') - (used(s1, p1) - podRequestUnits(p1, 'ephemeral-storage'))),
  );
  orderedBy(pods, exceeds, priority, usage);
}

/**
 * Upstream buildSignalToRankFunc: the ranking of a signal. Without a dedicated image filesystem
 * every disk signal measures everything (images, writable layers, logs, local volumes); with
 * one, nodefs counts logs and local volumes and imagefs the writable layers.
 */
export function rankFor(threshold: Threshold, dedicatedImageFs: boolean): (pods: Pod[], stats: PodStatsOf) => void {
  const resource = SIGNAL_RESOURCE[threshold.signal];
  if (resource === 'memory') return rankMemoryPressure;
  if (resource === 'pids') return rankPIDPressure;
  const all: FsStatsType[] = ['images', 'root', 'logs', 'localVolumeSource'];
  let measure = all;
  if (dedicatedImageFs) {
    measure = threshold.signal.startsWith('nodefs.') ? ['logs', 'localVolumeSource'] : ['root', 'images'];
  }
  return (pods, stats) => rankDiskPressure(pods, stats, measure, resource);
}

/** A whole number of units as upstream prints it (BinarySI for bytes, DecimalSI for counts). */
const formatUnits = (n: number, resource: ReclaimResource | 'bytes'): string =>
  formatQuantityNanos(BigInt(Math.max(0, Math.round(n))) * 1_000_000_000n, resource === 'inodes' || resource === 'pids' ? 'DecimalSI' : 'BinarySI');

/** Upstream getThresholdMetInfo: the first met threshold of the resource with an observation. */
function thresholdMetInfo(resource: ReclaimResource, thresholds: readonly Threshold[], observations: Observations): { quantity: string; available: string } | null {
  for (const t of thresholds) {
    if (SIGNAL_RESOURCE[t.signal] !== resource) continue;
    const o = observations[t.signal];
    if (o) return { quantity: formatThresholdQuantity(t.value, o.capacity), available: formatUnits(o.available, resource) };
  }
  return null;
}

/** A request of a spec, as upstream prints it ('0' when absent). */
function requestText(list: Record<string, string | number> | undefined, resource: string): string {
  const q = list?.[resource];
  return q === undefined ? '0' : canonicalQuantity(q);
}

export interface EvictionMessage {
  message: string;
  /** Upstream's event annotations (offending containers and their usage, the starved resource). */
  annotations: Record<string, string>;
}

/**
 * Upstream evictionMessage: "The node was low on resource: memory. Threshold quantity: 100Mi,
 * available: 12345Ki. Container x was using 200Mi, request is 0, has larger consumption of
 * memory. " (every sentence ends with a space, as upstream's).
 */
export function evictionMessage(resource: ReclaimResource, pod: Pod, stats: PodStatsOf, thresholds: readonly Threshold[], observations: Observations): EvictionMessage {
  let message = `The node was low on resource: ${resource}. `;
  const met = thresholdMetInfo(resource, thresholds, observations);
  if (met) message += `Threshold quantity: ${met.quantity}, available: ${met.available}. `;
  const annotations: Record<string, string> = {};
  const s = stats(pod);
  if (!s) return { message, annotations };
  if (resource === 'memory' && hasPodLevelResources(pod)) {
    const req = pod.spec?.resources?.requests?.memory;
    const ws = s.memory?.workingSetBytes;
    if (req !== undefined && ws !== undefined) {
      const usage = formatUnits(ws, 'bytes');
      message += `Pod ${pod.metadata?.name} was using ${usage}, request is ${canonicalQuantity(req)}, has larger consumption of ${resource}. `;
      annotations.offending_pod = pod.metadata?.name ?? '';
      annotations.offending_pod_usage = usage;
    }
  }
  const specs: Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const offending: string[] = [];
  const usages: string[] = [];
  for (const cs of s.containers) {
    const spec = specs.find((c) => c.name === cs.name);
    if (!spec) continue;
    let usage: number | undefined;
    if (resource === 'ephemeral-storage' && cs.rootfs?.usedBytes !== undefined && cs.logs?.usedBytes !== undefined) usage = cs.rootfs.usedBytes + cs.logs.usedBytes;
    if (resource === 'memory') usage = cs.memory?.workingSetBytes;
    if (usage === undefined) continue;
    const request = listNanos(spec.resources?.requests, resource);
    if (BigInt(usage) * 1_000_000_000n <= request) continue;
    const text = formatUnits(usage, 'bytes');
    message += `Container ${spec.name} was using ${text}, request is ${requestText(spec.resources?.requests, resource)}, has larger consumption of ${resource}. `;
    offending.push(spec.name);
    usages.push(text);
  }
  annotations.offending_containers = offending.join(',');
  annotations.offending_containers_usage = usages.join(',');
  annotations.starved_resource = resource;
  return { message, annotations };
}

/** Upstream nodeConditionMessageFmt with Go's %v of a list: "The node had condition: [MemoryPressure DiskPressure]. ". */
export const nodeConditionMessage = (conditions: readonly string[]): string => `The node had condition: [${conditions.join(' ')}]. `;

/**
 * Upstream emptyDirLimitEviction's check: the message for the first emptyDir whose measured usage
 * exceeds its positive sizeLimit, or null.
 */
export function emptyDirLimitViolation(stats: PodStats<number>, pod: Pod): string | null {
  for (const v of pod.spec?.volumes ?? []) {
    const size = v.emptyDir?.sizeLimit as string | number | undefined;
    if (size === undefined) continue;
    const limit = parseQuantityNanos(size);
    const used = stats.volume?.find((x) => x.name === v.name)?.usedBytes;
    if (used === undefined || limit <= 0n || BigInt(used) * 1_000_000_000n <= limit) continue;
    return `Usage of EmptyDir volume ${JSON.stringify(v.name)} exceeds the limit ${JSON.stringify(canonicalQuantity(size))}. `;
  }
  return null;
}

/** Upstream podEphemeralStorageLimitEviction's check: the message when the pod's ephemeral storage exceeds its containers' summed limit, or null. */
export function podEphemeralStorageViolation(stats: PodStats<number>, pod: Pod): string | null {
  const limit = podLimits(pod).get('ephemeral-storage');
  if (limit === undefined) return null;
  const used = stats['ephemeral-storage']?.usedBytes ?? 0;
  if (BigInt(used) * 1_000_000_000n <= limit) return null;
  const first = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.resources?.limits?.['ephemeral-storage']).find((q) => q !== undefined);
  return `Pod ephemeral local storage usage exceeds the total limit of containers ${formatQuantityNanos(limit, first === undefined ? 'DecimalSI' : formatOf(first))}. `;
}

/**
 * Upstream containerEphemeralStorageLimitEviction's check: the message for the first regular
 * container whose logs (plus its writable layer, without a dedicated image filesystem) exceed
 * its ephemeral-storage limit, or null.
 */
export function containerEphemeralStorageViolation(stats: PodStats<number>, pod: Pod, dedicatedImageFs: boolean): string | null {
  const limits = new Map<string, string | number>();
  for (const c of pod.spec?.containers ?? []) {
    const q = c.resources?.limits?.['ephemeral-storage'];
    if (q !== undefined && parseQuantityNanos(q) !== 0n) limits.set(c.name, q);
  }
  for (const cs of stats.containers) {
    const limit = limits.get(cs.name);
    if (limit === undefined) continue;
    const used = (cs.logs?.usedBytes ?? 0) + (dedicatedImageFs ? 0 : (cs.rootfs?.usedBytes ?? 0));
    if (BigInt(used) * 1_000_000_000n > parseQuantityNanos(limit)) return `Container ${cs.name} exceeded its local ephemeral storage limit ${JSON.stringify(canonicalQuantity(limit))}. `;
  }
  return null;
}

// Resources to cgroup settings, as upstream kubelet computes them:
// - per container, the CRI LinuxContainerResources (kuberuntime_container_linux.go
//   calculateLinuxResources / generateLinuxContainerResources);
// - the OOM score adjustment (pkg/kubelet/qos/policy.go);
// - per pod, the pod cgroup name (cgroupfs driver) and its limits (cm/helpers_linux.go
//   ResourceConfigForPod, with the component-helpers PodRequests/PodLimits aggregation).
// Pure functions; quantities that do not parse, or are negative, throw InvalidInput.
import type { Container, Pod } from '../kube/types.ts';
import { invalidInput } from '../common/errors.ts';
import { listNanos, nanosToMilli, nanosToValue, parseNonNegativeQuantityNanos, type ResourceList } from './quantity.ts';
import { effectiveRequests, getPodQOS, hasPodLevelResources, isNodeCriticalPod, type QOSClass } from './qos.ts';

/** Kernel bounds on cpu.shares. */
export const MIN_SHARES = 2;
export const MAX_SHARES = 262_144;
/** cpu.shares of one whole CPU. */
export const SHARES_PER_CPU = 1024;
export const MILLI_CPU_TO_CPU = 1000;
/** Default CFS period, µs (100 ms). */
export const QUOTA_PERIOD_US = 100_000;
/** Smallest CFS quota the kernel accepts, µs (1 ms). */
export const MIN_QUOTA_PERIOD_US = 1000;
/** OOM score adjustments (upstream qos policy): guaranteed and node-critical last to die. */
export const GUARANTEED_OOM_SCORE_ADJ = -997;
export const BESTEFFORT_OOM_SCORE_ADJ = 1000;
/** The kubelet's own OOM score adjustment. */
export const KUBELET_OOM_SCORE_ADJ = -999;
/** Cgroup under the cgroup root holding all pods (upstream defaultNodeAllocatableCgroupName). */
export const KUBEPODS_CGROUP = 'kubepods';

export interface CgroupResourceOptions {
  /** Enforce CPU limits with CFS quota (kubelet --cpu-cfs-quota, default true). */
  cpuCFSQuota: boolean;
  /** CFS period, µs (kubelet --cpu-cfs-quota-period, default 100 ms = 100000). */
  cpuCFSQuotaPeriodUs: number;
}

/** CRI LinuxContainerResources, the fields the kubelet sets; 0 means unset. */
export interface LinuxContainerResources {
  cpu_shares: number;
  cpu_quota: number;
  cpu_period: number;
  memory_limit_in_bytes: number;
  oom_score_adj: number;
}

/** Settings of a pod cgroup; an absent field is left as the kernel/parent has it. */
export interface PodResourceConfig {
  cpuShares: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryLimitBytes?: number;
  pidsLimit?: number;
}

/** Upstream MilliCPUToShares: milli × 1024 / 1000 (truncated), clamped to [2, 262144]; 0 -> 2. */
export function milliCPUToShares(milliCPU: number): number {
  const shares = Math.trunc((milliCPU * SHARES_PER_CPU) / MILLI_CPU_TO_CPU);
  return Math.min(Math.max(shares, MIN_SHARES), MAX_SHARES);
}

/** Upstream MilliCPUToQuota: milli × period / 1000 (truncated), at least 1000 µs; 0 (unset) for 0 milli. */
export function milliCPUToQuota(milliCPU: number, periodUs: number): number {
  if (milliCPU === 0) return 0;
  return Math.max(Math.trunc((milliCPU * periodUs) / MILLI_CPU_TO_CPU), MIN_QUOTA_PERIOD_US);
}

export interface ContainerResourceOptions extends CgroupResourceOptions {
  /** Not used here: CRI has no per-container pids limit; podResourceLimits puts it on the pod cgroup. */
  podPidsLimit?: number;
  /** The container's pod: needed for oom_score_adj (its QoS class). Without it oom_score_adj is 0 (unset). */
  pod?: Pod;
  /** Node memory capacity, bytes: needed for the oom_score_adj of Burstable pods. */
  memoryCapacityBytes?: number;
}

/**
 * The container's CRI resources. Shares come from the cpu request (the limit when no request is
 * given; an explicit request of 0 gives 2 shares); quota/period from the cpu limit when CFS quota
 * is enforced (quota 0 = unlimited when there is no limit); memory from the memory limit;
 * oom_score_adj from getContainerOOMScoreAdjust when opts.pod is given.
 * Throws InvalidInput for a bad quantity, or a missing/invalid capacity for a Burstable pod.
 */
export function containerLinuxResources(container: Container, opts: ContainerResourceOptions): LinuxContainerResources {
  const limits = container.resources?.limits;
  const period = opts.cpuCFSQuota ? opts.cpuCFSQuotaPeriodUs : 0;
  return {
    cpu_shares: milliCPUToShares(nanosToMilli(listNanos(effectiveRequests(container.resources), 'cpu'))),
    cpu_quota: opts.cpuCFSQuota ? milliCPUToQuota(nanosToMilli(listNanos(limits, 'cpu')), period) : 0,
    cpu_period: period,
    memory_limit_in_bytes: nanosToValue(listNanos(limits, 'memory')),
    oom_score_adj: opts.pod ? getContainerOOMScoreAdjust(opts.pod, container, opts.memoryCapacityBytes ?? Number.NaN) : 0,
  };
}

const memoryRequestBytes = (c: Container): number => nanosToValue(listNanos(effectiveRequests(c.resources), 'memory'));

/** 1000 - 1000 × request / capacity, in integers as upstream. */
const burstableAdjust = (requestBytes: number, capacityBytes: number): number =>
  1000 - Number((1000n * BigInt(requestBytes)) / BigInt(capacityBytes));

/** A restartable init container (restartPolicy Always): a sidecar. */
const isSidecar = (pod: Pod, c: Container): boolean =>
  c.restartPolicy === 'Always' && (pod.spec?.initContainers ?? []).some((i) => i.name === c.name);

/**
 * Upstream GetContainerOOMScoreAdjust. Node-critical and Guaranteed: -997; BestEffort: 1000;
 * Burstable: 1000 - 1000 × memoryRequest / memoryCapacity, within [3, 999]; a sidecar gets no
 * more than the regular container with the smallest (non-zero) memory request.
 * Throws InvalidInput for a bad quantity, or (Burstable only, as upstream divides only there) a
 * capacity that is not a positive integer.
 */
export function getContainerOOMScoreAdjust(pod: Pod, container: Container, memoryCapacityBytes: number): number {
  if (isNodeCriticalPod(pod)) return GUARANTEED_OOM_SCORE_ADJ;
  const qos = getPodQOS(pod);
  if (qos === 'Guaranteed') return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === 'BestEffort') return BESTEFFORT_OOM_SCORE_ADJ;
  if (!Number.isSafeInteger(memoryCapacityBytes) || memoryCapacityBytes <= 0) {
    throw invalidInput(`memory capacity must be a positive integer, got ${memoryCapacityBytes}`);
  }
  let adjust = burstableAdjust(memoryRequestBytes(container), memoryCapacityBytes);
  if (isSidecar(pod, container)) {
    const smallest = Math.min(...(pod.spec?.containers ?? []).map(memoryRequestBytes));
    if (smallest > 0 && smallest !== Infinity) adjust = Math.min(adjust, burstableAdjust(smallest, memoryCapacityBytes));
  }
  if (adjust < 1000 + GUARANTEED_OOM_SCORE_ADJ) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  return adjust === BESTEFFORT_OOM_SCORE_ADJ ? adjust - 1 : adjust;
}

/** Upstream CgroupName.ToCgroupfs: '/' + the non-empty components joined with '/'. */
const cgroupfsPath = (...parts: string[]): string => '/' + parts.flatMap((p) => p.split('/')).filter(Boolean).join('/');

/** The QoS-level cgroup (cgroupfs): Guaranteed pods sit directly in kubepods. */
export function qosCgroupName(qos: QOSClass, cgroupRoot = '/'): string {
  return cgroupfsPath(cgroupRoot, KUBEPODS_CGROUP, qos === 'Guaranteed' ? '' : qos.toLowerCase());
}

/** Upstream GetPodContainerName (cgroupfs): e.g. /kubepods/burstable/pod<uid>, /kubepods/pod<uid>. */
export function podCgroupName(qos: QOSClass, podUID: string, cgroupRoot = '/'): string {
  return cgroupfsPath(qosCgroupName(qos, cgroupRoot), `pod${podUID}`);
}

/**
 * The CgroupParent of the pod sandbox (upstream GetPodCgroupParent): the pod cgroup, or the
 * cgroup root itself when the kubelet does not make per-QoS cgroups (--cgroups-per-qos=false).
 */
export function podSandboxCgroupParent(pod: Pod, opts: { cgroupRoot: string; cgroupsPerQOS: boolean }): string {
  if (!opts.cgroupsPerQOS) return cgroupfsPath(opts.cgroupRoot);
  return podCgroupName(getPodQOS(pod), pod.metadata?.uid ?? '', opts.cgroupRoot);
}

/** Resource name -> exact quantity in nanos (see quantity.ts). */
export type ResourceSums = Map<string, bigint>;

function toSums(list: ResourceList | undefined): ResourceSums {
  return new Map(Object.entries(list ?? {}).map(([name, q]) => [name, parseNonNegativeQuantityNanos(q)]));
}

function addInto(into: ResourceSums, from: ResourceSums): void {
  for (const [name, q] of from) into.set(name, (into.get(name) ?? 0n) + q);
}

function maxInto(into: ResourceSums, from: ResourceSums): void {
  for (const [name, q] of from) if (q > (into.get(name) ?? -1n)) into.set(name, q);
}

/**
 * Upstream container aggregation of PodRequests/PodLimits: regular and sidecar containers add
 * up; each other init container counts with the sidecars started before it; the pod needs the
 * larger of the two. `visit` sees each container's list as upstream's ContainerFn does.
 */
function aggregate(pod: Pod, pick: (c: Container) => ResourceList | undefined, visit?: (list: ResourceSums) => void): ResourceSums {
  const total: ResourceSums = new Map();
  for (const c of pod.spec?.containers ?? []) {
    const list = toSums(pick(c));
    visit?.(list);
    addInto(total, list);
  }
  const sidecars: ResourceSums = new Map();
  const initMax: ResourceSums = new Map();
  for (const c of pod.spec?.initContainers ?? []) {
    let list = toSums(pick(c));
    if (c.restartPolicy === 'Always') {
      addInto(total, list);
      addInto(sidecars, list);
      list = sidecars;
    } else {
      addInto(list, sidecars);
    }
    visit?.(list);
    maxInto(initMax, list);
  }
  maxInto(total, initMax);
  return total;
}

/** Pod-level cpu/memory, when set, replace the containers' aggregate. */
function withPodLevel(pod: Pod, sums: ResourceSums, podLevel: ResourceList | undefined): ResourceSums {
  if (!hasPodLevelResources(pod)) return sums;
  for (const name of ['cpu', 'memory']) if (podLevel?.[name] !== undefined) sums.set(name, listNanos(podLevel, name));
  return sums;
}

/** Upstream PodRequests: aggregated requests, pod-level override, plus the pod overhead. */
export function podRequests(pod: Pod): ResourceSums {
  const sums = withPodLevel(pod, aggregate(pod, (c) => effectiveRequests(c.resources)), effectiveRequests(pod.spec?.resources));
  addInto(sums, toSums(pod.spec?.overhead));
  return sums;
}

/** Upstream PodLimits: aggregated limits, pod-level override, overhead added to limited resources only. */
export function podLimits(pod: Pod, visit?: (list: ResourceSums) => void): ResourceSums {
  const sums = withPodLevel(pod, aggregate(pod, (c) => c.resources?.limits, visit), pod.spec?.resources?.limits);
  for (const [name, q] of toSums(pod.spec?.overhead)) if (sums.has(name)) sums.set(name, (sums.get(name) ?? 0n) + q);
  return sums;
}

/**
 * Upstream ResourceConfigForPod (no hugepages, no memory QoS), plus the pids limit of the pod
 * cgroup. Shares from the summed cpu requests; Guaranteed: quota, period and memory always;
 * Burstable: quota/period only if every container limits cpu, memory only if every container
 * limits memory (or the pod level does); BestEffort: 2 shares only. Quota is -1 when CFS quota
 * is not enforced. pidsLimit is set only when podPidsLimit > 0. Throws InvalidInput.
 */
export function podResourceLimits(pod: Pod, opts: CgroupResourceOptions & { podPidsLimit?: number }): PodResourceConfig {
  let cpuLimited = true;
  let memoryLimited = true;
  const limits = podLimits(pod, (list) => {
    if ((list.get('cpu') ?? 0n) === 0n) cpuLimited = false;
    if ((list.get('memory') ?? 0n) === 0n) memoryLimited = false;
  });
  if (hasPodLevelResources(pod)) {
    if (listNanos(pod.spec?.resources?.limits, 'cpu') > 0n) cpuLimited = true;
    if (listNanos(pod.spec?.resources?.limits, 'memory') > 0n) memoryLimited = true;
  }
  const cpuShares = milliCPUToShares(nanosToMilli(podRequests(pod).get('cpu') ?? 0n));
  const cpuQuota = opts.cpuCFSQuota ? milliCPUToQuota(nanosToMilli(limits.get('cpu') ?? 0n), opts.cpuCFSQuotaPeriodUs) : -1;
  const memoryLimitBytes = nanosToValue(limits.get('memory') ?? 0n);
  const pids = opts.podPidsLimit !== undefined && opts.podPidsLimit > 0 ? { pidsLimit: opts.podPidsLimit } : {};
  const cpuCaps = { cpuQuota, cpuPeriod: opts.cpuCFSQuotaPeriodUs };
  switch (getPodQOS(pod)) {
    case 'Guaranteed':
      return { cpuShares, ...cpuCaps, memoryLimitBytes, ...pids };
    case 'Burstable':
      return { cpuShares, ...(cpuLimited ? cpuCaps : {}), ...(memoryLimited ? { memoryLimitBytes } : {}), ...pids };
    case 'BestEffort':
      return { cpuShares: MIN_SHARES, ...pids };
  }
}

/**
 * Upstream setCPUCgroupConfig: the QoS-level cpu shares. Burstable: the shares of the summed
 * cpu requests of the active Burstable pods (2 when there are none); BestEffort: always 2.
 * Throws InvalidInput for a bad quantity.
 */
export function qosCgroupCpuShares(activePods: readonly Pod[]): { burstable: number; bestEffort: number } {
  let milli = 0;
  for (const pod of activePods) {
    if (getPodQOS(pod) !== 'Burstable') continue;
    milli += nanosToMilli(podRequests(pod).get('cpu') ?? 0n);
  }
  return { burstable: milliCPUToShares(milli), bestEffort: MIN_SHARES };
}

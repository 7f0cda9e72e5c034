// Node allocatable (upstream pkg/kubelet/cm/node_container_manager_linux.go): what is left for
// pods once kubeReserved, systemReserved and the hard eviction thresholds are taken out of the
// node's capacity, and the limits of the kubepods cgroup that enforce it. Pure; quantities are
// exact, in nanos (see quantity.ts).
import { DEFAULT_EVICTION_HARD, isHardEvictionThreshold, parseThresholdConfig, type Threshold } from '../eviction/thresholds.ts';
import type { KubeletConfig } from '../config/types.ts';
import { nanosToMilli, nanosToValue, parseNonNegativeQuantityNanos } from './quantity.ts';
import { milliCPUToShares } from './resources.ts';

/** Resource name -> exact amount in nanos. */
export type ResourceNanos = Map<string, bigint>;

const NANO = 1_000_000_000n;

/** The settings allocatable is computed from. */
export type AllocatableSettings = Pick<KubeletConfig, 'kubeReserved' | 'systemReserved' | 'evictionHard' | 'mergeDefaultEvictionSettings'>;

/** Upstream's defaults: nothing reserved, the default hard eviction thresholds. */
export const DEFAULT_ALLOCATABLE_SETTINGS: AllocatableSettings = {
  kubeReserved: {},
  systemReserved: {},
  evictionHard: DEFAULT_EVICTION_HARD,
  mergeDefaultEvictionSettings: false,
};

/** A spec resource list (name -> quantity text) in nanos. Throws InvalidInput for a bad or negative quantity. */
export function resourceNanos(list: Readonly<Record<string, string | number>>): ResourceNanos {
  return new Map(Object.entries(list).map(([name, q]) => [name, parseNonNegativeQuantityNanos(q)]));
}

/**
 * Upstream hardEvictionReservation: memory.available reserves memory, nodefs.available reserves
 * ephemeral-storage, each as its threshold's quantity (a percentage of the capacity truncated to
 * whole units, upstream's float arithmetic included).
 */
export function hardEvictionReservation(thresholds: readonly Threshold[], capacity: ResourceNanos): ResourceNanos {
  const out: ResourceNanos = new Map();
  for (const t of thresholds) {
    const resource = t.signal === 'memory.available' ? 'memory' : t.signal === 'nodefs.available' ? 'ephemeral-storage' : null;
    if (!resource) continue;
    if ('percentage' in t.value) {
      const cap = Number((capacity.get(resource) ?? 0n) / NANO);
      out.set(resource, BigInt(Math.trunc(cap * t.value.percentage)) * NANO);
    } else {
      out.set(resource, t.value.quantityNanos);
    }
  }
  return out;
}

/** The hard thresholds of the configuration (no allocatable copies), as upstream's HardEvictionThresholds. */
export function hardEvictionThresholds(s: Pick<AllocatableSettings, 'evictionHard' | 'mergeDefaultEvictionSettings'>): Threshold[] {
  return parseThresholdConfig({ ...s, evictionSoft: {}, evictionSoftGracePeriod: {}, evictionMinimumReclaim: {}, enforceNodeAllocatable: [] }).filter(isHardEvictionThreshold);
}

/**
 * Upstream GetNodeAllocatableReservation: for each resource of the capacity, kubeReserved +
 * systemReserved + the hard eviction reservation; zero amounts are left out. Throws InvalidInput
 * for settings that do not parse.
 */
export function nodeAllocatableReservation(capacity: ResourceNanos, s: AllocatableSettings): ResourceNanos {
  const kube = resourceNanos(s.kubeReserved);
  const system = resourceNanos(s.systemReserved);
  const eviction = hardEvictionReservation(hardEvictionThresholds(s), capacity);
  const out: ResourceNanos = new Map();
  for (const name of capacity.keys()) {
    const sum = (kube.get(name) ?? 0n) + (system.get(name) ?? 0n) + (eviction.get(name) ?? 0n);
    if (sum !== 0n) out.set(name, sum);
  }
  return out;
}

const isHugePages = (name: string): boolean => name.startsWith('hugepages-');

/**
 * Upstream getNodeAllocatableAbsoluteImpl: capacity − systemReserved − kubeReserved per resource
 * (never below 0), huge pages then taken out of memory. No eviction threshold here: this is what
 * the kubepods cgroup is limited to.
 */
export function nodeAllocatableAbsolute(capacity: ResourceNanos, s: Pick<AllocatableSettings, 'kubeReserved' | 'systemReserved'>): ResourceNanos {
  const kube = resourceNanos(s.kubeReserved);
  const system = resourceNanos(s.systemReserved);
  const out: ResourceNanos = new Map();
  for (const [name, cap] of capacity) {
    const v = cap - (system.get(name) ?? 0n) - (kube.get(name) ?? 0n);
    out.set(name, v < 0n ? 0n : v);
  }
  if (out.has('memory')) {
    let memory = out.get('memory')!;
    for (const [name, v] of out) if (isHugePages(name)) memory -= v;
    out.set('memory', memory < 0n ? 0n : memory);
  }
  return out;
}

/** Limits of the kubepods cgroup. */
export interface KubepodsCgroupConfig {
  cpuShares?: number;
  memoryLimitBytes?: number;
  pidsLimit?: number;
}

/**
 * Upstream getCgroupConfig for the kubepods cgroup: cpu shares from the cpu amount, the memory
 * limit, the pids limit from 'pid' (the kernel's pid_max when nothing is reserved).
 */
export function kubepodsCgroupConfig(resources: ResourceNanos): KubepodsCgroupConfig {
  const out: KubepodsCgroupConfig = {};
  const cpu = resources.get('cpu');
  if (cpu !== undefined) out.cpuShares = milliCPUToShares(nanosToMilli(cpu));
  const memory = resources.get('memory');
  if (memory !== undefined) out.memoryLimitBytes = nanosToValue(memory);
  const pid = resources.get('pid');
  if (pid !== undefined) out.pidsLimit = nanosToValue(pid);
  return out;
}

/**
 * The resources the kubepods cgroup is limited to (upstream createNodeAllocatableCgroups /
 * enforceNodeAllocatableCgroups): node allocatable (without eviction thresholds) when
 * enforceNodeAllocatable has 'pods', else the whole internal capacity (cpu, memory, pid).
 */
export function kubepodsResources(internalCapacity: ResourceNanos, s: Pick<KubeletConfig, 'kubeReserved' | 'systemReserved' | 'enforceNodeAllocatable'>): ResourceNanos {
  return s.enforceNodeAllocatable.includes('pods') ? nodeAllocatableAbsolute(internalCapacity, s) : new Map(internalCapacity);
}

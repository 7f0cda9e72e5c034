// QoS-level memory reservation (upstream pkg/kubelet/cm/qos_container_manager_linux.go
// setMemoryReserve / retrySetMemoryReserve, container_manager.go ParseQOSReserved), behind the
// QOSReserved feature gate: a percentage of the memory requested by Guaranteed pods is taken out
// of what the burstable QoS cgroup may use, and of the Guaranteed and Burstable pods' requests
// out of what the besteffort one may use. Pure; exact integer arithmetic as upstream's int64.
import type { Pod } from '../kube/types.ts';
import { nanosToValue } from './quantity.ts';
import { getPodQOS } from './qos.ts';
import { podRequests } from './resources.ts';

/** The only resource upstream reserves per QoS class. */
export const QOS_RESERVABLE = ['memory'] as const;

/**
 * Upstream parsePercentage: `N%` with N a base-10 integer in [0, 100] (trailing '%' signs
 * trimmed, as strings.TrimRight does). Undefined when malformed or out of range.
 */
export function parsePercentage(text: string): number | undefined {
  if (!text.endsWith('%')) return undefined;
  const digits = text.replace(/%+$/, '');
  if (!/^[+-]?\d+$/.test(digits)) return undefined;
  const n = Number(digits);
  return n >= 0 && n <= 100 ? n : undefined;
}

/**
 * Upstream ParseQOSReserved: resource -> percentage. The problem with `m` ("cannot reserve
 * \"cpu\" resource", "...percentage...") or null when every entry is a memory percentage.
 */
export function qosReservedProblem(m: Readonly<Record<string, string>>): string | null {
  for (const [resource, value] of Object.entries(m)) {
    if (!(QOS_RESERVABLE as readonly string[]).includes(resource)) return `cannot reserve ${JSON.stringify(resource)} resource`;
    if (parsePercentage(value) === undefined) return `failed to parse percentage ${JSON.stringify(value)} for ${JSON.stringify(resource)} resource: must be an integer between 0% and 100%`;
  }
  return null;
}

/** The memory percentage of a valid qosReserved (see qosReservedProblem), or undefined when not set. */
export function memoryReservePercent(m: Readonly<Record<string, string>>): number | undefined {
  const text = Object.hasOwn(m, 'memory') ? m.memory : undefined;
  return text === undefined ? undefined : parsePercentage(text);
}

/** Summed memory requests, bytes, of the active Guaranteed and Burstable pods. */
export interface QoSMemoryRequests {
  guaranteed: bigint;
  burstable: bigint;
}

/**
 * Upstream getQoSMemoryRequests: per QoS class, the sum of each pod's memory request (upstream
 * PodRequests, rounded up to whole bytes as Quantity.Value()); BestEffort pods are left out.
 * Throws InvalidInput for a quantity that does not parse.
 */
export function qosMemoryRequests(activePods: readonly Pod[]): QoSMemoryRequests {
  const out: QoSMemoryRequests = { guaranteed: 0n, burstable: 0n };
  for (const pod of activePods) {
    const qos = getPodQOS(pod);
    if (qos === 'BestEffort') continue;
    const bytes = BigInt(nanosToValue(podRequests(pod).get('memory') ?? 0n));
    if (qos === 'Guaranteed') out.guaranteed += bytes;
    else out.burstable += bytes;
  }
  return out;
}

/** Memory limits of the QoS cgroups, bytes (may be negative: see qosMemoryLimits). */
export interface QoSMemoryLimits {
  burstable: bigint;
  bestEffort: bigint;
}

/**
 * Upstream setMemoryReserve: burstable = allocatable − guaranteed × percent / 100, besteffort =
 * burstable − burstable requests × percent / 100 (each product divided with truncation, as Go's
 * int64). No lower bound (current upstream has none; early versions clamped to a minimum): a
 * limit the kernel refuses (below the cgroup's usage, or negative) is replaced by the usage,
 * see retryMemoryLimit. Null when allocatable memory is unknown or 0 (upstream: then no QoS
 * memory limit is set).
 */
export function qosMemoryLimits(allocatableBytes: bigint | undefined, requests: QoSMemoryRequests, percent: number): QoSMemoryLimits | null {
  if (allocatableBytes === undefined || allocatableBytes === 0n) return null;
  const p = BigInt(percent);
  const burstable = allocatableBytes - (requests.guaranteed * p) / 100n;
  const bestEffort = burstable - (requests.burstable * p) / 100n;
  return { burstable, bestEffort };
}

/**
 * Upstream retrySetMemoryReserve, for one QoS cgroup whose limit could not be set: a cgroup
 * already using more than the wanted limit is limited to its usage instead (to stop it growing).
 */
export function retryMemoryLimit(wanted: bigint, usageBytes: bigint): bigint {
  return usageBytes > wanted ? usageBytes : wanted;
}

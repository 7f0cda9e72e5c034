// Pod QoS class (upstream pkg/apis/core/v1/helper/qos) and pod criticality (pkg/kubelet/types).
// Pure functions over the pod spec. Quantities are compared exactly (in nanos, see quantity.ts).
import type { Container, Pod, ResourceRequirements } from '../kube/types.ts';
import { listNanos, type ResourceList } from './quantity.ts';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** Only these resources decide the QoS class (upstream supportedQoSComputeResources). */
const QOS_RESOURCES = ['cpu', 'memory'];
const QOS_CLASSES: readonly string[] = ['Guaranteed', 'Burstable', 'BestEffort'];

/** Upstream SystemCriticalPriority: 2 × HighestUserDefinablePriority (1e9). */
export const SYSTEM_CRITICAL_PRIORITY = 2_000_000_000;
export const SYSTEM_NODE_CRITICAL = 'system-node-critical';
/** Annotation naming where the kubelet got a pod: 'api' (API server), 'file', 'http'. */
export const CONFIG_SOURCE_ANNOTATION = 'kubernetes.io/config.source';
export const CONFIG_MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/**
 * The requests in effect: the spec's requests, with a missing request defaulting to its limit
 * (what the API server's defaulting does; repeated here for pods that skipped it).
 */
export function effectiveRequests(resources: ResourceRequirements | undefined): ResourceList {
  return { ...(resources?.limits ?? {}), ...(resources?.requests ?? {}) };
}

/** Sums the positive cpu/memory quantities of `list` into `sums`; returns the names found. */
function addPositive(sums: Map<string, bigint>, list: ResourceList | undefined): Set<string> {
  const found = new Set<string>();
  for (const name of QOS_RESOURCES) {
    const nanos = listNanos(list, name);
    if (nanos === 0n) continue;
    found.add(name);
    sums.set(name, (sums.get(name) ?? 0n) + nanos);
  }
  return found;
}

/** The QoS class of a set of resource requirements (all containers, or the pod level). */
function qosOf(all: (ResourceRequirements | undefined)[]): QOSClass {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  for (const resources of all) {
    addPositive(requests, effectiveRequests(resources));
    const limited = addPositive(limits, resources?.limits);
    if (!QOS_RESOURCES.every((name) => limited.has(name))) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  const matches = requests.size === limits.size && [...requests].every(([name, q]) => limits.get(name) === q);
  return guaranteed && matches ? 'Guaranteed' : 'Burstable';
}

/** True when the pod sets cpu or memory at pod level (upstream IsPodLevelResourcesSet). */
export function hasPodLevelResources(pod: Pod): boolean {
  const r = pod.spec?.resources;
  return QOS_RESOURCES.some((name) => r?.requests?.[name] !== undefined || r?.limits?.[name] !== undefined);
}

/**
 * Upstream ComputePodQOS. Pod-level resources, when set, decide alone; otherwise the sums over
 * regular and init containers (ephemeral containers cannot have resources):
 * - BestEffort: no positive cpu/memory request or limit anywhere;
 * - Guaranteed: every container has positive cpu and memory limits, and the summed requests
 *   equal the summed limits (requests default to limits);
 * - Burstable: everything else.
 * Throws InvalidInput when a quantity does not parse.
 */
export function computePodQOS(pod: Pod): QOSClass {
  if (hasPodLevelResources(pod)) return qosOf([pod.spec?.resources]);
  const containers: Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return qosOf(containers.map((c) => c.resources));
}

/** Upstream GetPodQOS: status.qosClass when set (it never changes), else computePodQOS. */
export function getPodQOS(pod: Pod): QOSClass {
  const recorded = pod.status?.qosClass;
  return recorded !== undefined && QOS_CLASSES.includes(recorded) ? (recorded as QOSClass) : computePodQOS(pod);
}

/** A pod from a file or URL rather than from the API server (upstream IsStaticPod). */
export function isStaticPod(pod: Pod): boolean {
  const source = pod.metadata?.annotations?.[CONFIG_SOURCE_ANNOTATION];
  return source !== undefined && source !== 'api';
}

/** The API server's copy of a static pod (upstream IsMirrorPod). */
export const isMirrorPod = (pod: Pod): boolean => pod.metadata?.annotations?.[CONFIG_MIRROR_ANNOTATION] !== undefined;

/** Upstream IsCriticalPod: static, mirror, or priority >= SYSTEM_CRITICAL_PRIORITY. */
export function isCriticalPod(pod: Pod): boolean {
  return isStaticPod(pod) || isMirrorPod(pod) || (pod.spec?.priority ?? -Infinity) >= SYSTEM_CRITICAL_PRIORITY;
}

/** Upstream IsNodeCriticalPod: critical and of priority class system-node-critical. */
export const isNodeCriticalPod = (pod: Pod): boolean => isCriticalPod(pod) && pod.spec?.priorityClassName === SYSTEM_NODE_CRITICAL;

// Pod admission (upstream pkg/kubelet/lifecycle/predicate.go, the kubelet's GeneralPredicates):
// before a pod from the API server first runs, check that it fits this node. A rejected pod
// ends in phase Failed with upstream's reason (OutOfcpu, OutOfmemory, OutOfpods,
// OutOfephemeral-storage, NodePorts, NodeAffinity, NodeName, PodOSNotSupported, TaintToleration)
// and the message "Pod was rejected: ...". Pure.
import type { Pod } from '../kube/types.ts';
import { nanosToMilli, nanosToValue } from '../cm/quantity.ts';
import { podRequests } from '../cm/resources.ts';

export interface AdmissionNode {
  name: string;
  labels: Record<string, string>;
  /** Allocatable, in milli-CPU, bytes and a pod count. */
  allocatable: { cpuMilli: number; memoryBytes: number; ephemeralStorageBytes: number; pods: number };
  taints: { key: string; value?: string; effect: string }[];
}

export type AdmitResult = { admit: true } | { admit: false; reason: string; message: string };

interface Usage {
  cpuMilli: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
}

function usage(pod: Pod): Usage {
  const r = podRequests(pod);
  return {
    cpuMilli: nanosToMilli(r.get('cpu') ?? 0n),
    memoryBytes: nanosToValue(r.get('memory') ?? 0n),
    ephemeralStorageBytes: nanosToValue(r.get('ephemeral-storage') ?? 0n),
  };
}

const reject = (reason: string, message: string): AdmitResult => ({ admit: false, reason, message: `Pod was rejected: ${message}` });

function hostPorts(pod: Pod): Set<string> {
  const out = new Set<string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) if (p.hostPort) out.add(`${p.protocol ?? 'TCP'}/${p.hostIP || '0.0.0.0'}/${p.hostPort}`);
  }
  return out;
}

function portsConflict(a: Set<string>, b: Set<string>): boolean {
  for (const x of a) {
    const [proto, ip, port] = x.split('/');
    for (const y of b) {
      const [proto2, ip2, port2] = y.split('/');
      if (proto === proto2 && port === port2 && (ip === ip2 || ip === '0.0.0.0' || ip2 === '0.0.0.0')) return true;
    }
  }
  return false;
}

type Requirement = { key: string; operator: string; values?: string[] };

function matchesRequirement(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key];
  switch (r.operator) {
    case 'In': return v !== undefined && (r.values ?? []).includes(v);
    case 'NotIn': return v === undefined || !(r.values ?? []).includes(v);
    case 'Exists': return v !== undefined;
    case 'DoesNotExist': return v === undefined;
    case 'Gt': return v !== undefined && Number(v) > Number(r.values?.[0]);
    case 'Lt': return v !== undefined && Number(v) < Number(r.values?.[0]);
    default: return false;
  }
}

function matchesNodeSelectorAndAffinity(pod: Pod, node: AdmissionNode): boolean {
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (node.labels[k] !== v) return false;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms || terms.length === 0) return true;
  return terms.some((t) => {
    const exprs = (t.matchExpressions ?? []) as Requirement[];
    const fields = (t.matchFields ?? []) as Requirement[];
    if (exprs.length === 0 && fields.length === 0) return false;
    return exprs.every((r) => matchesRequirement(node.labels, r)) && fields.every((r) => r.key === 'metadata.name' && matchesRequirement({ 'metadata.name': node.name }, r));
  });
}

function tolerates(pod: Pod, taint: AdmissionNode['taints'][number]): boolean {
  return (pod.spec?.tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/**
 * Whether `pod` may run next to the already admitted, still active `admitted` pods.
 * The checks and their order follow upstream's admission handlers.
 */
export function admitPod(pod: Pod, admitted: Pod[], node: AdmissionNode): AdmitResult {
  if (pod.spec?.nodeName && pod.spec.nodeName !== node.name) return reject('NodeName', `Predicate NodeName failed: node(s) didn't match the requested node name`);
  const os = pod.spec?.os?.name;
  if (os && os !== 'linux') return reject('PodOSNotSupported', `Failed to admit pod as the OS field doesn't match node OS`);
  const a = node.allocatable;
  if (admitted.length + 1 > a.pods) return reject('OutOfpods', `Node didn't have enough resource: pods, requested: 1, used: ${admitted.length}, capacity: ${a.pods}`);
  const want = usage(pod);
  const used = admitted.map(usage).reduce((s, u) => ({ cpuMilli: s.cpuMilli + u.cpuMilli, memoryBytes: s.memoryBytes + u.memoryBytes, ephemeralStorageBytes: s.ephemeralStorageBytes + u.ephemeralStorageBytes }), { cpuMilli: 0, memoryBytes: 0, ephemeralStorageBytes: 0 });
  const checks: [string, number, number, number][] = [
    ['cpu', want.cpuMilli, used.cpuMilli, a.cpuMilli],
    ['memory', want.memoryBytes, used.memoryBytes, a.memoryBytes],
    ['ephemeral-storage', want.ephemeralStorageBytes, used.ephemeralStorageBytes, a.ephemeralStorageBytes],
  ];
  for (const [name, requested, inUse, capacity] of checks) {
    if (requested > 0 && requested + inUse > capacity) {
      return reject(`OutOf${name}`, `Node didn't have enough resource: ${name}, requested: ${requested}, used: ${inUse}, capacity: ${capacity}`);
    }
  }
  const ports = hostPorts(pod);
  if (ports.size > 0 && admitted.some((p) => portsConflict(ports, hostPorts(p)))) return reject('NodePorts', `Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports`);
  if (!matchesNodeSelectorAndAffinity(pod, node)) return reject('NodeAffinity', `Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector`);
  const untolerated = node.taints.find((t) => t.effect === 'NoExecute' && !tolerates(pod, t));
  if (untolerated) return reject('TaintToleration', `Predicate TaintToleration failed: node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`);
  return { admit: true };
}

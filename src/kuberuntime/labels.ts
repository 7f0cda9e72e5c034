// Labels and annotations that tskubelet puts on sandboxes and containers, with upstream's keys,
// so that the runtime's own state is enough to recognise our pods after a restart (adoption)
// and tools that know the upstream kubelet (crictl, log shippers) read them as usual.
import { createHash } from 'node:crypto';
import { compareText } from '../common/compare.ts';
import type { Container, Pod } from '../kube/types.ts';

export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const LABEL_MANAGED_BY = 'io.kubernetes.tskubelet'; // marks what this agent created
export const ANNOTATION_CONTAINER_HASH = 'io.kubernetes.container.hash';
export const ANNOTATION_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANNOTATION_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const ANNOTATION_TERMINATION_MESSAGE_POLICY = 'io.kubernetes.container.terminationMessagePolicy';
export const ANNOTATION_GRACE_PERIOD = 'io.kubernetes.pod.terminationGracePeriod';
export const ANNOTATION_CONTAINER_TYPE = 'io.kubernetes.container.type'; // init | regular | ephemeral

/** Labels on a sandbox: the pod's own labels plus the identity labels. */
export function sandboxLabels(pod: Pod): Record<string, string> {
  return {
    ...(pod.metadata?.labels ?? {}),
    [LABEL_POD_NAME]: pod.metadata?.name ?? '',
    [LABEL_POD_NAMESPACE]: pod.metadata?.namespace ?? '',
    [LABEL_POD_UID]: pod.metadata?.uid ?? '',
    [LABEL_MANAGED_BY]: 'true',
  };
}

export function containerLabels(pod: Pod, container: Container): Record<string, string> {
  return {
    [LABEL_POD_NAME]: pod.metadata?.name ?? '',
    [LABEL_POD_NAMESPACE]: pod.metadata?.namespace ?? '',
    [LABEL_POD_UID]: pod.metadata?.uid ?? '',
    [LABEL_CONTAINER_NAME]: container.name,
    [LABEL_MANAGED_BY]: 'true',
  };
}

/** JSON with object keys sorted, so equal objects always serialise the same way. */
function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareText(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The container spec hash stored on each container: a running container whose spec hash
 * differs from the pod's current spec is replaced. Deterministic across agent restarts, so an
 * adopted container keeps running. Resources are left out, as upstream does since in-place resize.
 */
export function hashContainer(container: Container): string {
  const { resources: _resources, ...rest } = container;
  return createHash('sha256').update(canonicalJSON(rest)).digest('hex').slice(0, 16);
}

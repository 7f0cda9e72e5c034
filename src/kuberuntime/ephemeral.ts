// Ephemeral containers (`kubectl debug`; upstream kuberuntime computePodActions,
// ephemeralContainerStartSpec, startSpec.getTargetID and the TARGET namespace mode of
// generateLinuxContainerConfig). The API server adds them to spec.ephemeralContainers of a running
// pod; the kubelet starts each one once in the pod's sandbox and never restarts it (no probes,
// ports, lifecycle hooks or resources: the API server refuses them). With targetContainerName,
// the container joins the target's process namespace (CRI NamespaceMode TARGET) when the pod
// does not share one already. Pure.
import type { V1EphemeralContainer } from '@kubernetes/client-node';
import type { ContainerConfig } from '../cri/types.ts';
import type { Container, Pod } from '../kube/types.ts';
import { latestContainer, type PodRuntimeState } from '../pleg/runtime-state.ts';
import { ContainerStartError } from './errors.ts';
import { ANNOTATION_CONTAINER_TYPE } from './labels.ts';

export type EphemeralContainer = V1EphemeralContainer;

/** The container an ephemeral container runs (upstream: EphemeralContainerCommon as a v1.Container). */
export function ephemeralContainerSpec(ec: EphemeralContainer): Container {
  const { targetContainerName: _target, ...common } = ec;
  return common;
}

/**
 * The ephemeral containers to start: those the runtime has no container of, in spec order.
 * One that ran, whatever its exit, is never started again (upstream computePodActions).
 */
export function ephemeralContainersToStart(pod: Pod, state: PodRuntimeState): EphemeralContainer[] {
  return (pod.spec?.ephemeralContainers ?? []).filter((ec) => !latestContainer(state, ec.name));
}

/**
 * The ID of the running container whose process namespace the ephemeral container joins; null
 * without targetContainerName. Throws CreateContainerConfigError "unable to find target container
 * <name>" when the target does not run (upstream getTargetID).
 */
export function ephemeralTargetId(ec: EphemeralContainer, state: PodRuntimeState): string | null {
  const target = ec.targetContainerName;
  if (!target) return null;
  const status = latestContainer(state, target);
  if (!status || status.state !== 'running') {
    throw new ContainerStartError('CreateContainerConfigError', `unable to find target container ${target}`, { code: 'InvalidInput', retryAfterMs: 10_000 });
  }
  return status.id;
}

/**
 * Makes a container config an ephemeral container's: its type annotation, and the target's PID
 * namespace (TARGET + target_id) when it has a target and the pod's mode is CONTAINER (a pod
 * sharing its process namespace or the host's keeps that mode, as upstream; an unset mode is
 * the CRI's default, POD). Mutates `config`.
 */
export function applyEphemeralContainerConfig(config: ContainerConfig, targetId: string | null): void {
  config.annotations = { ...config.annotations, [ANNOTATION_CONTAINER_TYPE]: 'ephemeral' };
  if (!targetId) return;
  const linux = config.linux;
  const sc = linux?.security_context;
  const ns = sc?.namespace_options;
  // New objects: the security context given to the config may be shared.
  if (linux && sc && ns && (ns.pid === 'CONTAINER' || ns.pid === 1)) {
    linux.security_context = { ...sc, namespace_options: { ...ns, pid: 'TARGET', target_id: targetId } };
  }
}

// Pod spec + one container -> CRI ContainerConfig (upstream kuberuntime_container.go
// generateContainerConfig). Pure: env, mounts, resources and paths are computed by the caller.
import type { Container, Pod } from '../kube/types.ts';
import type { ContainerConfig, KeyValue, LinuxContainerResources, Mount } from '../cri/types.ts';
import type { LinuxContainerSecurityContext } from './security-context.ts';
import {
  ANNOTATION_CONTAINER_HASH,
  ANNOTATION_CONTAINER_TYPE,
  ANNOTATION_RESTART_COUNT,
  ANNOTATION_TERMINATION_MESSAGE_PATH,
  ANNOTATION_TERMINATION_MESSAGE_POLICY,
  ANNOTATION_GRACE_PERIOD,
  containerLabels,
  hashContainer,
} from './labels.ts';

export interface ContainerInputs {
  restartCount: number;
  imageRef: string; // the image id the runtime resolved
  envs: KeyValue[];
  command: string[]; // after $(VAR) expansion
  args: string[];
  mounts: Mount[];
  logPath: string; // relative to the sandbox's log directory: <name>/<restartCount>.log
  resources: LinuxContainerResources;
  terminationMessageHostPath: string; // '' when none
  isInit: boolean;
  /** The container's CRI security context (security-context.ts containerSecurityContext). */
  securityContext: LinuxContainerSecurityContext;
}

export function buildContainerConfig(pod: Pod, container: Container, inputs: ContainerInputs): ContainerConfig {
  const spec = pod.spec;
  return {
    metadata: { name: container.name, attempt: inputs.restartCount },
    image: { image: inputs.imageRef, user_specified_image: container.image ?? '' },
    command: inputs.command,
    args: inputs.args,
    working_dir: container.workingDir ?? '',
    envs: inputs.envs,
    mounts: inputs.mounts,
    labels: containerLabels(pod, container),
    annotations: {
      [ANNOTATION_CONTAINER_HASH]: hashContainer(container),
      [ANNOTATION_RESTART_COUNT]: String(inputs.restartCount),
      [ANNOTATION_TERMINATION_MESSAGE_PATH]: inputs.terminationMessageHostPath,
      [ANNOTATION_TERMINATION_MESSAGE_POLICY]: container.terminationMessagePolicy ?? 'File',
      [ANNOTATION_GRACE_PERIOD]: String(spec?.terminationGracePeriodSeconds ?? 30),
      [ANNOTATION_CONTAINER_TYPE]: inputs.isInit ? 'init' : 'regular',
    },
    log_path: inputs.logPath,
    stdin: container.stdin ?? false,
    stdin_once: container.stdinOnce ?? false,
    tty: container.tty ?? false,
    linux: {
      resources: inputs.resources,
      security_context: inputs.securityContext,
    },
  };
}

/**
 * The /etc/hosts content the kubelet manages for a pod on the pod network (upstream
 * managedHostsFileContent). `hostDomain`: the pod's domain (podHostnameAndDomain), '' without
 * subdomain.
 */
export function managedHostsFile(pod: Pod, podIPs: string[], hostname: string, hostDomain: string): string {
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  for (const ip of podIPs) {
    lines.push(hostDomain ? `${ip}\t${hostname}.${hostDomain}\t${hostname}` : `${ip}\t${hostname}`);
  }
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length > 0) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of aliases) lines.push(`${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
  }
  return lines.join('\n') + '\n';
}

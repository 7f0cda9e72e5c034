// Pod spec + one container -> CRI ContainerConfig (upstream kuberuntime_container.go
// generateContainerConfig). Pure: env, mounts, resources and paths are computed by the caller.
import type { Container, Pod } from '../kube/types.ts';
import type { ContainerConfig, KeyValue, LinuxContainerResources, Mount } from '../cri/types.ts';
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
}

export function buildContainerConfig(pod: Pod, container: Container, inputs: ContainerInputs): ContainerConfig {
  const spec = pod.spec;
  const podSC = spec?.securityContext;
  const sc = container.securityContext;
  const runAsUser = sc?.runAsUser ?? podSC?.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? podSC?.runAsGroup;
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
      security_context: {
        privileged: sc?.privileged ?? false,
        readonly_rootfs: sc?.readOnlyRootFilesystem ?? false,
        no_new_privs: sc?.allowPrivilegeEscalation === false,
        capabilities: { add_capabilities: sc?.capabilities?.add ?? [], drop_capabilities: sc?.capabilities?.drop ?? [] },
        run_as_user: runAsUser !== undefined ? { value: runAsUser } : null,
        run_as_group: runAsGroup !== undefined ? { value: runAsGroup } : null,
        supplemental_groups: podSC?.supplementalGroups ?? [],
        namespace_options: {
          network: spec?.hostNetwork ? 'NODE' : 'POD',
          pid: spec?.hostPID ? 'NODE' : spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
          ipc: spec?.hostIPC ? 'NODE' : 'POD',
        },
      },
    },
  };
}

/** The /etc/hosts content the kubelet manages for a pod on the pod network (upstream managedHostsFileContent). */
export function managedHostsFile(pod: Pod, podIPs: string[], hostname: string): string {
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  const subdomain = pod.spec?.subdomain;
  const ns = pod.metadata?.namespace ?? 'default';
  for (const ip of podIPs) {
    lines.push(subdomain ? `${ip}\t${hostname}.${subdomain}.${ns}.svc\t${hostname}` : `${ip}\t${hostname}`);
  }
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length > 0) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of aliases) lines.push(`${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
  }
  return lines.join('\n') + '\n';
}

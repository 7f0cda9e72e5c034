// Pod spec -> CRI PodSandboxConfig (upstream kuberuntime_sandbox.go generatePodSandboxConfig). Pure.
import type { Pod } from '../kube/types.ts';
import type { PodSandboxConfig, PortMapping } from '../cri/types.ts';
import type { DnsSettings } from './dns.ts';
import { sandboxLabels, ANNOTATION_GRACE_PERIOD } from './labels.ts';

export interface SandboxInputs {
  attempt: number;
  nodeHostname: string;
  logDirectory: string; // /var/log/pods/<ns>_<name>_<uid>
  cgroupParent: string; // '' when the runtime should choose
  dns: DnsSettings;
}

/** The pod's hostname: spec.hostname or the pod name, cut to 63 characters as upstream (trailing '-' or '.' removed). */
export function podHostname(pod: Pod, nodeHostname: string): string {
  if (pod.spec?.hostNetwork) return nodeHostname;
  const name = pod.spec?.hostname || pod.metadata?.name || '';
  return name.length <= 63 ? name : name.slice(0, 63).replace(/[-.]+$/, '');
}

const PROTOCOLS: Record<string, 'TCP' | 'UDP' | 'SCTP'> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' };

export function portMappings(pod: Pod): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue; // only host ports need the runtime's port mapping
      out.push({ container_port: p.containerPort, host_port: p.hostPort, protocol: PROTOCOLS[p.protocol ?? 'TCP'] ?? 'TCP', host_ip: p.hostIP ?? '' });
    }
  }
  return out;
}

export function buildSandboxConfig(pod: Pod, inputs: SandboxInputs): PodSandboxConfig {
  const meta = pod.metadata ?? {};
  const spec = pod.spec;
  const sysctls: Record<string, string> = {};
  for (const s of spec?.securityContext?.sysctls ?? []) sysctls[s.name] = s.value;
  const sc = spec?.securityContext;
  return {
    metadata: { name: meta.name ?? '', namespace: meta.namespace ?? '', uid: meta.uid ?? '', attempt: inputs.attempt },
    // A host-network pod has the node's UTS namespace: the runtime must not set a hostname.
    hostname: pod.spec?.hostNetwork ? '' : podHostname(pod, inputs.nodeHostname),
    log_directory: inputs.logDirectory,
    dns_config: inputs.dns,
    port_mappings: portMappings(pod),
    labels: sandboxLabels(pod),
    annotations: { ...(meta.annotations ?? {}), [ANNOTATION_GRACE_PERIOD]: String(spec?.terminationGracePeriodSeconds ?? 30) },
    linux: {
      cgroup_parent: inputs.cgroupParent,
      sysctls,
      security_context: {
        namespace_options: {
          network: spec?.hostNetwork ? 'NODE' : 'POD',
          pid: spec?.hostPID ? 'NODE' : spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
          ipc: spec?.hostIPC ? 'NODE' : 'POD',
        },
        run_as_user: sc?.runAsUser !== undefined ? { value: sc.runAsUser } : null,
        run_as_group: sc?.runAsGroup !== undefined ? { value: sc.runAsGroup } : null,
        supplemental_groups: sc?.supplementalGroups ?? [],
      },
    },
  };
}

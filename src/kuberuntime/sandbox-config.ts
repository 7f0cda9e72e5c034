// Pod spec -> CRI PodSandboxConfig (upstream kuberuntime_sandbox.go generatePodSandboxConfig). Pure.
import type { Pod } from '../kube/types.ts';
import type { PodSandboxConfig, PortMapping } from '../cri/types.ts';
import { invalidInput } from '../common/errors.ts';
import type { DnsSettings } from './dns.ts';
import { sandboxLabels, ANNOTATION_GRACE_PERIOD } from './labels.ts';
import { sandboxSecurityContext, type UserNamespace } from './security-context.ts';
import { normalizeSysctlName } from '../lifecycle/sysctl.ts';

export interface SandboxInputs {
  attempt: number;
  nodeHostname: string;
  logDirectory: string; // /var/log/pods/<ns>_<name>_<uid>
  cgroupParent: string; // '' when the runtime should choose
  dns: DnsSettings;
  /** The cluster's DNS domain ('' when none): the pod's domain is <subdomain>.<ns>.svc.<clusterDomain>. */
  clusterDomain?: string;
  /** The pod's user namespace (null/absent: not sent). */
  userns?: UserNamespace | null;
}

/** upstream hostnameMaxLen: 64 bytes for the kernel's nodename minus the terminating NUL. */
const HOSTNAME_MAX_LEN = 63;
/** upstream fqdnMaxLen: a setHostnameAsFQDN hostname must fit the kernel's 64-byte nodename field. */
const FQDN_MAX_LEN = 64;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The pod's hostname: spec.hostname or the pod name, cut to 63 characters as upstream (trailing '-' or '.' removed). */
export function podHostname(pod: Pod, nodeHostname: string): string {
  if (pod.spec?.hostNetwork) return nodeHostname;
  const name = pod.spec?.hostname || pod.metadata?.name || '';
  return name.length <= HOSTNAME_MAX_LEN ? name : name.slice(0, HOSTNAME_MAX_LEN).replace(/[-.]+$/, '');
}

/**
 * upstream GeneratePodHostNameAndDomain: the hostname (spec.hostname or the pod name, at most 63
 * characters) and, with spec.subdomain, the domain `<subdomain>.<namespace>.svc.<clusterDomain>`
 * ('' without). Throws InvalidInput for a hostname or subdomain that is not a DNS-1123 label.
 */
export function podHostnameAndDomain(pod: Pod, clusterDomain: string): { hostname: string; domain: string } {
  const spec = pod.spec;
  if (spec?.hostname && !(spec.hostname.length <= 63 && DNS1123_LABEL.test(spec.hostname))) {
    throw invalidInput(`pod Hostname ${JSON.stringify(spec.hostname)} is not a valid DNS label`);
  }
  const name = spec?.hostname || pod.metadata?.name || '';
  let hostname = name;
  if (hostname.length > HOSTNAME_MAX_LEN) {
    hostname = hostname.slice(0, HOSTNAME_MAX_LEN).replace(/[-.]+$/, '');
    if (hostname === '') throw invalidInput(`hostname for pod ${JSON.stringify(pod.metadata?.name ?? '')} was invalid: ${JSON.stringify(name)}`);
  }
  let domain = '';
  if (spec?.subdomain) {
    if (!(spec.subdomain.length <= 63 && DNS1123_LABEL.test(spec.subdomain))) throw invalidInput(`pod Subdomain ${JSON.stringify(spec.subdomain)} is not a valid DNS label`);
    domain = `${spec.subdomain}.${pod.metadata?.namespace ?? ''}.svc.${clusterDomain}`;
  }
  return { hostname, domain };
}

/**
 * upstream GetNodenameForKernel: the name the sandbox's UTS namespace gets, `hostname.domain`
 * with setHostnameAsFQDN (and a domain), else the hostname. Throws InvalidInput when the FQDN is
 * longer than 64 characters (upstream's message).
 */
export function kernelHostname(hostname: string, domain: string, setHostnameAsFQDN: boolean): string {
  if (!domain || !setHostnameAsFQDN) return hostname;
  const fqdn = `${hostname}.${domain}`;
  if (fqdn.length > FQDN_MAX_LEN) {
    throw invalidInput(`failed to construct FQDN from pod hostname and cluster domain, FQDN ${fqdn} is too long (${FQDN_MAX_LEN} characters is the max, ${fqdn.length} characters requested)`);
  }
  return fqdn;
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

/**
 * The sandbox config of a pod. Throws InvalidInput for a hostname, subdomain or FQDN upstream
 * refuses and for settings the security context cannot carry (the sandbox is then not created).
 */
export function buildSandboxConfig(pod: Pod, inputs: SandboxInputs): PodSandboxConfig {
  const meta = pod.metadata ?? {};
  const spec = pod.spec;
  const sysctls: Record<string, string> = {};
  for (const s of spec?.securityContext?.sysctls ?? []) sysctls[normalizeSysctlName(s.name)] = s.value;
  let hostname = '';
  if (!spec?.hostNetwork) {
    // A host-network pod has the node's UTS namespace: the runtime must not set a hostname.
    const { hostname: h, domain } = podHostnameAndDomain(pod, inputs.clusterDomain ?? '');
    hostname = kernelHostname(h, domain, spec?.setHostnameAsFQDN === true);
  }
  return {
    metadata: { name: meta.name ?? '', namespace: meta.namespace ?? '', uid: meta.uid ?? '', attempt: inputs.attempt },
    hostname,
    log_directory: inputs.logDirectory,
    dns_config: inputs.dns,
    port_mappings: portMappings(pod),
    labels: sandboxLabels(pod),
    annotations: { ...(meta.annotations ?? {}), [ANNOTATION_GRACE_PERIOD]: String(spec?.terminationGracePeriodSeconds ?? 30) },
    linux: {
      cgroup_parent: inputs.cgroupParent,
      sysctls,
      security_context: sandboxSecurityContext(pod, inputs.userns ?? null),
    },
  };
}

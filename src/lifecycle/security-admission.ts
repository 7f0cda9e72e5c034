// Admission of a pod's security settings (upstream's sysctl allowlist admit handler, the
// AppArmor admit handler, the supplementalGroupsPolicy predicate), checked for every new pod,
// static pods in standalone mode included. A rejected pod ends Failed with upstream's reason:
// SysctlForbidden, AppArmor, SupplementalGroupsPolicyNotSupported; and, tskubelet's own, a
// runtimeClassName on a node without an API server: RuntimeClassNotAvailable (upstream would
// silently run it with the default handler). Pure, except appArmorHostError (reads /sys).
import { readFileSync, statSync } from 'node:fs';
import type { V1Container } from '@kubernetes/client-node';
import type { Pod } from '../kube/types.ts';
import type { AdmitResult } from './admission.ts';
import { SYSCTL_FORBIDDEN_REASON, type SysctlAllowlist } from './sysctl.ts';
import { APPARMOR_ANNOTATION_PREFIX, effectiveAppArmorProfile } from '../kuberuntime/security-context.ts';

export const APPARMOR_NOT_ADMITTED_REASON = 'AppArmor';
export const SUPPLEMENTAL_GROUPS_POLICY_NOT_SUPPORTED_REASON = 'SupplementalGroupsPolicyNotSupported';
export const RUNTIME_CLASS_NOT_AVAILABLE_REASON = 'RuntimeClassNotAvailable';

export interface SecurityAdmissionContext {
  sysctls: SysctlAllowlist;
  /** Why this node cannot enforce AppArmor profiles (appArmorHostError()), or null when it can. */
  appArmorHostError: string | null;
  /** The runtime honours supplementalGroupsPolicy Strict (CRI RuntimeFeatures). */
  supplementalGroupsPolicySupported: boolean;
  /** The node has no API server: RuntimeClasses cannot be resolved. */
  standalone: boolean;
}

const reject = (reason: string, message: string): AdmitResult => ({ admit: false, reason, message: `Pod was rejected: ${message}` });

type AnyContainer = Pick<V1Container, 'name' | 'securityContext'>;

function allContainers(pod: Pod): AnyContainer[] {
  const s = pod.spec;
  return [...(s?.initContainers ?? []), ...(s?.containers ?? []), ...(s?.ephemeralContainers ?? [])];
}

/** upstream apparmor isRequired: some profile other than Unconfined is asked for (fields or the deprecated annotations). */
export function appArmorRequired(pod: Pod): boolean {
  const podProfile = pod.spec?.securityContext?.appArmorProfile;
  if (podProfile && podProfile.type !== 'Unconfined') return true;
  if (allContainers(pod).some((c) => c.securityContext?.appArmorProfile && c.securityContext.appArmorProfile.type !== 'Unconfined')) return true;
  return Object.entries(pod.metadata?.annotations ?? {}).some(([k, v]) => k.startsWith(APPARMOR_ANNOTATION_PREFIX) && v !== 'unconfined');
}

/** upstream apparmor validator.Validate: why the pod's AppArmor settings cannot be enforced here, or null. */
export function appArmorProblem(pod: Pod, hostError: string | null): string | null {
  if (!appArmorRequired(pod)) return null;
  if (hostError) return hostError;
  for (const c of allContainers(pod)) {
    const p = effectiveAppArmorProfile(pod, c);
    if (p?.type === 'Localhost' && (p.localhostProfile ?? '').trim() === '') return `invalid empty AppArmor profile name: ${JSON.stringify(p)}`;
  }
  return null;
}

/**
 * The security admission of a pod not yet running (upstream order: sysctls, then the
 * supplementalGroupsPolicy predicate, then AppArmor; the RuntimeClass check last).
 */
export function admitPodSecurity(pod: Pod, ctx: SecurityAdmissionContext): AdmitResult {
  const sysctl = ctx.sysctls.admit(pod);
  if (sysctl) return reject(SYSCTL_FORBIDDEN_REASON, sysctl);
  if (pod.spec?.securityContext?.supplementalGroupsPolicy === 'Strict' && !ctx.supplementalGroupsPolicySupported) {
    return reject(SUPPLEMENTAL_GROUPS_POLICY_NOT_SUPPORTED_REASON, 'SupplementalGroupsPolicy=Strict is not supported in this node');
  }
  const phase = pod.status?.phase;
  if (phase === undefined || phase === 'Pending') {
    const aa = appArmorProblem(pod, ctx.appArmorHostError);
    if (aa) return reject(APPARMOR_NOT_ADMITTED_REASON, `Cannot enforce AppArmor: ${aa}`);
  }
  const rc = pod.spec?.runtimeClassName;
  if (ctx.standalone && rc) {
    return reject(RUNTIME_CLASS_NOT_AVAILABLE_REASON, `RuntimeClass ${JSON.stringify(rc)} cannot be resolved: the kubelet runs without an API server (standalone)`);
  }
  return { admit: true };
}

/**
 * upstream apparmor validateHost (at start-up): null when the kernel enforces AppArmor
 * (/sys/kernel/security/apparmor exists and /sys/module/apparmor/parameters/enabled says Y),
 * else upstream's reason. Reads /sys; never throws.
 */
export function appArmorHostError(): string | null {
  try {
    statSync('/sys/kernel/security/apparmor');
    if (readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y')) return null;
  } catch {
    // not there: not enabled
  }
  return 'AppArmor is not enabled on the host';
}

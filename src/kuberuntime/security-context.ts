// Pod and container securityContext -> CRI LinuxContainerSecurityContext and
// LinuxSandboxSecurityContext (upstream pkg/securitycontext, kuberuntime/security_context.go,
// helpers.go getSeccompProfile / getAppArmorProfile, kuberuntime_sandbox_linux.go,
// kuberuntime/util NamespacesForPod). Pure: the image's user, the seccomp folder and the user
// namespace mode are passed in.
import type { V1AppArmorProfile, V1Container, V1SecurityContext } from '@kubernetes/client-node';
import type { Pod } from '../kube/types.ts';
import type { ContainerConfig, Image, PodSandboxConfig } from '../cri/types.ts';
import { invalidInput } from '../common/errors.ts';

export type LinuxContainerSecurityContext = NonNullable<NonNullable<ContainerConfig['linux']>['security_context']>;
export type LinuxSandboxSecurityContext = NonNullable<NonNullable<PodSandboxConfig['linux']>['security_context']>;
export type NamespaceOption = NonNullable<LinuxContainerSecurityContext['namespace_options']>;
export type SecurityProfile = NonNullable<LinuxContainerSecurityContext['seccomp']>;
export type UserNamespace = NonNullable<NamespaceOption['userns_options']>;

/**
 * What the container runtime masks in /proc and /sys unless procMount is Unmasked (upstream
 * securitycontext defaultMaskedPaths, kept in step with moby's defaults).
 */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
/** What the runtime mounts read-only unless procMount is Unmasked (upstream defaultReadonlyPaths). */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The deprecated per-container AppArmor annotation (still honoured by upstream, for static pods). */
export const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

/**
 * The container's effective security context (upstream DetermineEffectiveSecurityContext): the
 * pod-level seLinuxOptions, windowsOptions, runAsUser, runAsGroup and runAsNonRoot, each
 * overridden by the container's own value when it sets one; every other field is the container's.
 * seccompProfile and appArmorProfile are resolved apart (seccompProfile(), appArmorProfile()).
 */
export function effectiveSecurityContext(pod: Pod, container: Pick<V1Container, 'securityContext'>): V1SecurityContext {
  const podSC = pod.spec?.securityContext;
  const sc = container.securityContext;
  const out: V1SecurityContext = {};
  if (podSC) {
    if (podSC.seLinuxOptions) out.seLinuxOptions = { ...podSC.seLinuxOptions };
    if (podSC.windowsOptions) out.windowsOptions = { ...podSC.windowsOptions };
    if (podSC.runAsUser !== undefined && podSC.runAsUser !== null) out.runAsUser = podSC.runAsUser;
    if (podSC.runAsGroup !== undefined && podSC.runAsGroup !== null) out.runAsGroup = podSC.runAsGroup;
    if (podSC.runAsNonRoot !== undefined && podSC.runAsNonRoot !== null) out.runAsNonRoot = podSC.runAsNonRoot;
  }
  if (!sc) return out;
  if (sc.seLinuxOptions) out.seLinuxOptions = { ...sc.seLinuxOptions };
  if (sc.windowsOptions) out.windowsOptions = { ...out.windowsOptions, ...definedOnly(sc.windowsOptions) };
  const keys = ['capabilities', 'privileged', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'procMount', 'seccompProfile', 'appArmorProfile'] as const;
  for (const k of keys) {
    if (sc[k] !== undefined && sc[k] !== null) (out as Record<string, unknown>)[k] = sc[k];
  }
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** The user an image runs as, from CRI ImageStatus (image.uid when numeric, image.username otherwise). */
export interface ImageUser {
  uid: number | null;
  username: string;
}

/**
 * upstream getImageUser: the numeric uid when the image declares one, else its user name; an
 * image that declares neither (or an unknown image) runs as root, uid 0.
 */
export function imageUser(image: Pick<Image, 'uid' | 'username'> | null): ImageUser {
  if (image?.uid) return { uid: Number(image.uid.value), username: '' };
  if (image?.username) return { uid: null, username: image.username };
  return { uid: 0, username: '' };
}

/** `name_namespace(uid)`, as upstream format.Pod prints a pod in messages. */
export function formatPod(pod: Pod): string {
  const m = pod.metadata ?? {};
  return `${m.name ?? ''}_${m.namespace ?? ''}(${m.uid ?? ''})`;
}

/**
 * upstream verifyRunAsNonRoot: with runAsNonRoot true, a container that would run as root
 * (runAsUser 0, or no runAsUser and an image user of uid 0) or as a non-numeric image user is
 * refused. Resolves to the refusal message, or null when the container may run.
 */
export function verifyRunAsNonRoot(pod: Pod, container: Pick<V1Container, 'name' | 'securityContext'>, user: ImageUser): string | null {
  const sc = effectiveSecurityContext(pod, container);
  if (sc.runAsNonRoot !== true) return null;
  const where = `(pod: "${formatPod(pod)}", container: ${container.name})`;
  if (sc.runAsUser !== undefined) return sc.runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : null;
  if (user.uid === 0) return `container has runAsNonRoot and image will run as root ${where}`;
  if (user.uid === null && user.username !== '') return `container has runAsNonRoot and image has non-numeric user (${user.username}), cannot verify user is non-root ${where}`;
  return null;
}

/** The host path of a Localhost seccomp profile: `<seccompProfileRoot>/<localhostProfile>`, refusing paths that leave the folder. */
export function localhostSeccompPath(seccompProfileRoot: string, localhostProfile: string): string {
  const parts = localhostProfile.split('/');
  if (localhostProfile.startsWith('/') || parts.includes('..')) {
    throw invalidInput(`localhostProfile ${JSON.stringify(localhostProfile)} must be a relative path inside the kubelet's seccomp folder, without '..'`);
  }
  const rel = parts.filter((p) => p !== '' && p !== '.').join('/');
  return `${seccompProfileRoot.replace(/\/+$/, '')}/${rel}`;
}

function fieldSeccompProfile(p: NonNullable<V1SecurityContext['seccompProfile']>, seccompProfileRoot: string): SecurityProfile {
  if (p.type === 'RuntimeDefault') return { profile_type: 'RuntimeDefault' };
  if (p.type === 'Localhost') {
    if (!p.localhostProfile) throw invalidInput('localhostProfile must be set if seccompProfile type is Localhost.');
    return { profile_type: 'Localhost', localhost_ref: localhostSeccompPath(seccompProfileRoot, p.localhostProfile) };
  }
  if (p.type === 'Unconfined') return { profile_type: 'Unconfined' };
  // Upstream falls back to Unconfined for an unknown type (API validation rejects it first);
  // here an unknown type is refused rather than run less confined than asked.
  throw invalidInput(`unsupported seccompProfile type ${JSON.stringify(p.type)}: must be RuntimeDefault, Unconfined or Localhost`);
}

/**
 * The container's seccomp profile (upstream getSeccompProfile): the container's seccompProfile,
 * else the pod's, else RuntimeDefault with seccompDefault and Unconfined without. Throws
 * InvalidInput for a Localhost profile without a name (the container then waits with
 * CreateContainerConfigError, as upstream).
 */
export function seccompProfile(pod: Pod, container: Pick<V1Container, 'securityContext'>, seccompProfileRoot: string, seccompDefault = false): SecurityProfile {
  const own = container.securityContext?.seccompProfile;
  if (own) return fieldSeccompProfile(own, seccompProfileRoot);
  const podLevel = pod.spec?.securityContext?.seccompProfile;
  if (podLevel) return fieldSeccompProfile(podLevel, seccompProfileRoot);
  return { profile_type: seccompDefault ? 'RuntimeDefault' : 'Unconfined' };
}

function annotationAppArmorProfile(pod: Pod, containerName: string): V1AppArmorProfile | null {
  const value = pod.metadata?.annotations?.[APPARMOR_ANNOTATION_PREFIX + containerName];
  if (value === undefined) return null;
  if (value === 'runtime/default') return { type: 'RuntimeDefault' };
  if (value === 'unconfined') return { type: 'Unconfined' };
  if (value.startsWith('localhost/')) return { type: 'Localhost', localhostProfile: value.slice('localhost/'.length) };
  return null; // upstream ignores an invalid annotation value here (API validation rejects it)
}

/**
 * The container's AppArmor profile (upstream apparmor.GetProfile): the container's
 * appArmorProfile, else the deprecated container annotation, else the pod's; null when none.
 */
export function effectiveAppArmorProfile(pod: Pod, container: Pick<V1Container, 'name' | 'securityContext'>): V1AppArmorProfile | null {
  return container.securityContext?.appArmorProfile ?? annotationAppArmorProfile(pod, container.name) ?? pod.spec?.securityContext?.appArmorProfile ?? null;
}

/**
 * upstream getAppArmorProfile: the CRI profile plus the deprecated string form older runtimes
 * read (`runtime/default`, `unconfined`, `localhost/<name>`). Throws InvalidInput for a Localhost
 * profile without a name.
 */
export function appArmorProfile(pod: Pod, container: Pick<V1Container, 'name' | 'securityContext'>): { apparmor: SecurityProfile | null; apparmor_profile: string } {
  const p = effectiveAppArmorProfile(pod, container);
  if (!p) return { apparmor: null, apparmor_profile: '' };
  switch (p.type) {
    case 'RuntimeDefault':
      return { apparmor: { profile_type: 'RuntimeDefault' }, apparmor_profile: 'runtime/default' };
    case 'Unconfined':
      return { apparmor: { profile_type: 'Unconfined' }, apparmor_profile: 'unconfined' };
    case 'Localhost':
      if (!p.localhostProfile) throw invalidInput('missing localhost apparmor profile name');
      return { apparmor: { profile_type: 'Localhost', localhost_ref: p.localhostProfile }, apparmor_profile: `localhost/${p.localhostProfile}` };
    default:
      throw invalidInput(`unknown apparmor profile type: ${JSON.stringify(p.type)}`);
  }
}

/**
 * The pod's namespaces (upstream NamespacesForPod): the node's network/IPC/PID namespaces with
 * hostNetwork/hostIPC/hostPID; one PID namespace for the pod with shareProcessNamespace, else
 * one per container. `userns`: the user namespace decided for the pod (null: not sent).
 */
export function namespaceOptions(pod: Pod, userns: UserNamespace | null): NamespaceOption {
  const spec = pod.spec;
  return {
    network: spec?.hostNetwork ? 'NODE' : 'POD',
    pid: spec?.hostPID ? 'NODE' : spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: spec?.hostIPC ? 'NODE' : 'POD',
    ...(userns ? { userns_options: userns } : {}),
  };
}

/**
 * The user namespace mode sent with a pod whose user namespace was not refused (see
 * RuntimeFeatures.userNamespaceFor): the node's (upstream sends NODE whenever the
 * UserNamespacesSupport gate is on, as it is by default).
 */
export const NODE_USER_NAMESPACE: UserNamespace = { mode: 'NODE' };

/** Supplemental groups in upstream's order: fsGroup, then supplementalGroups. */
function supplementalGroups(pod: Pod): number[] {
  const sc = pod.spec?.securityContext;
  const out: number[] = [];
  if (sc?.fsGroup !== undefined && sc.fsGroup !== null) out.push(sc.fsGroup);
  for (const g of sc?.supplementalGroups ?? []) out.push(g);
  return out;
}

/** The CRI supplementalGroupsPolicy (Merge when unset); throws InvalidInput for an unknown one, as upstream. */
export function supplementalGroupsPolicy(pod: Pod): 'Merge' | 'Strict' {
  const p = pod.spec?.securityContext?.supplementalGroupsPolicy;
  if (p === undefined || p === null || p === 'Merge') return 'Merge';
  if (p === 'Strict') return 'Strict';
  throw invalidInput(`unsupported supplementalGroupsPolicy: ${p}`);
}

export interface ContainerSecurityInputs {
  /** The user the container's image runs as (CRI ImageStatus). */
  imageUser: ImageUser;
  /** <rootDir>/seccomp: where Localhost seccomp profiles live. */
  seccompProfileRoot: string;
  /** The pod's user namespace (null: not sent). */
  userns: UserNamespace | null;
  /** KubeletConfiguration seccompDefault: RuntimeDefault instead of Unconfined when nothing is set. */
  seccompDefault?: boolean;
}

/**
 * upstream determineEffectiveSecurityContext: the container's CRI security context. runAsUser
 * is the effective one, else the image's numeric user (with the image's user name otherwise);
 * no_new_privs only when allowPrivilegeEscalation is false; masked and read-only /proc paths
 * unless procMount is Unmasked. Capabilities go as written (the runtime adds the CAP_ prefix).
 * Throws InvalidInput for what cannot be applied (a Localhost profile without a name, an
 * unknown policy): the container waits with CreateContainerConfigError.
 */
export function containerSecurityContext(pod: Pod, container: Pick<V1Container, 'name' | 'securityContext'>, inputs: ContainerSecurityInputs): LinuxContainerSecurityContext {
  const sc = effectiveSecurityContext(pod, container);
  const { apparmor, apparmor_profile } = appArmorProfile(pod, container);
  const unmasked = sc.procMount === 'Unmasked';
  const out: LinuxContainerSecurityContext = {
    capabilities: { add_capabilities: [...(sc.capabilities?.add ?? [])], drop_capabilities: [...(sc.capabilities?.drop ?? [])] },
    privileged: sc.privileged ?? false,
    namespace_options: namespaceOptions(pod, inputs.userns),
    selinux_options: sc.seLinuxOptions ? { user: sc.seLinuxOptions.user ?? '', role: sc.seLinuxOptions.role ?? '', type: sc.seLinuxOptions.type ?? '', level: sc.seLinuxOptions.level ?? '' } : null,
    run_as_user: sc.runAsUser !== undefined ? { value: sc.runAsUser } : inputs.imageUser.uid !== null ? { value: inputs.imageUser.uid } : null,
    run_as_username: sc.runAsUser === undefined ? inputs.imageUser.username : '',
    run_as_group: sc.runAsGroup !== undefined ? { value: sc.runAsGroup } : null,
    readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
    supplemental_groups: supplementalGroups(pod),
    supplemental_groups_policy: supplementalGroupsPolicy(pod),
    no_new_privs: sc.allowPrivilegeEscalation === false,
    masked_paths: unmasked ? [] : [...DEFAULT_MASKED_PATHS],
    readonly_paths: unmasked ? [] : [...DEFAULT_READONLY_PATHS],
    seccomp: seccompProfile(pod, container, inputs.seccompProfileRoot, inputs.seccompDefault ?? false),
    apparmor,
    apparmor_profile,
  };
  return out;
}

/** Whether any container of the pod (init, regular, ephemeral) is privileged (upstream HasPrivilegedContainer). */
export function hasPrivilegedContainer(pod: Pod): boolean {
  const spec = pod.spec;
  const all: Pick<V1Container, 'securityContext'>[] = [...(spec?.initContainers ?? []), ...(spec?.containers ?? []), ...(spec?.ephemeralContainers ?? [])];
  return all.some((c) => c.securityContext?.privileged === true);
}

/**
 * upstream generatePodSandboxLinuxConfig's security context: privileged when any container is
 * (the runtime refuses privileged containers in an unprivileged sandbox), seccomp RuntimeDefault
 * for the sandbox itself (upstream #84623), the pod's runAsUser/runAsGroup, namespaces,
 * supplemental groups and SELinux options.
 */
export function sandboxSecurityContext(pod: Pod, userns: UserNamespace | null): LinuxSandboxSecurityContext {
  const sc = pod.spec?.securityContext;
  const se = sc?.seLinuxOptions;
  return {
    privileged: hasPrivilegedContainer(pod),
    seccomp: { profile_type: 'RuntimeDefault' },
    namespace_options: namespaceOptions(pod, userns),
    run_as_user: sc?.runAsUser !== undefined && sc.runAsUser !== null ? { value: sc.runAsUser } : null,
    run_as_group: sc?.runAsGroup !== undefined && sc.runAsGroup !== null ? { value: sc.runAsGroup } : null,
    supplemental_groups: supplementalGroups(pod),
    supplemental_groups_policy: supplementalGroupsPolicy(pod),
    selinux_options: se ? { user: se.user ?? '', role: se.role ?? '', type: se.type ?? '', level: se.level ?? '' } : null,
  };
}

// Pod/container securityContext -> CRI security contexts, as upstream maps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../kube/types.ts';
import { isInvalidInput } from '../common/errors.ts';
import {
  appArmorProfile,
  containerSecurityContext,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  effectiveSecurityContext,
  imageUser,
  localhostSeccompPath,
  namespaceOptions,
  NODE_USER_NAMESPACE,
  sandboxSecurityContext,
  seccompProfile,
  verifyRunAsNonRoot,
  type ContainerSecurityInputs,
} from './security-context.ts';

const pod = (spec: Partial<NonNullable<Pod['spec']>> = {}, annotations: Record<string, string> = {}): Pod => ({
  metadata: { name: 'web', namespace: 'prod', uid: 'u-1', annotations },
  spec: { containers: [{ name: 'app' }], ...spec },
});
const inputs = (over: Partial<ContainerSecurityInputs> = {}): ContainerSecurityInputs => ({
  imageUser: { uid: 0, username: '' }, seccompProfileRoot: '/var/lib/kubelet/seccomp', userns: NODE_USER_NAMESPACE, ...over,
});

void test('effective security context: pod-level ids, runAsNonRoot and SELinux, each overridden by the container', () => {
  const p = pod({ securityContext: { runAsUser: 1000, runAsGroup: 2000, runAsNonRoot: true, seLinuxOptions: { level: 's0:c1' }, fsGroup: 5 } });
  assert.deepEqual(effectiveSecurityContext(p, { securityContext: undefined }), { runAsUser: 1000, runAsGroup: 2000, runAsNonRoot: true, seLinuxOptions: { level: 's0:c1' } });
  const c: Container = { name: 'app', securityContext: { runAsUser: 1, runAsNonRoot: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seLinuxOptions: { type: 't' } } };
  assert.deepEqual(effectiveSecurityContext(p, c), { runAsUser: 1, runAsGroup: 2000, runAsNonRoot: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seLinuxOptions: { type: 't' } });
  assert.deepEqual(effectiveSecurityContext(pod(), { securityContext: undefined }), {});
});

void test('container security context: every field mapped as upstream sends it', () => {
  const p = pod({ securityContext: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000, 4001], seLinuxOptions: { user: 'u', role: 'r', type: 't', level: 'l' } } });
  const c: Container = {
    name: 'app',
    securityContext: { privileged: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN'], drop: ['NET_RAW', 'ALL'] }, runAsGroup: 3001 },
  };
  const sc = containerSecurityContext(p, c, inputs());
  assert.deepEqual(sc, {
    capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['NET_RAW', 'ALL'] }, // no CAP_ prefix: the runtime adds it
    privileged: false,
    namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', userns_options: { mode: 'NODE' } },
    selinux_options: { user: 'u', role: 'r', type: 't', level: 'l' },
    run_as_user: { value: 1000 },
    run_as_username: '',
    run_as_group: { value: 3001 },
    readonly_rootfs: true,
    supplemental_groups: [2000, 4000, 4001], // fsGroup first, as upstream
    supplemental_groups_policy: 'Merge',
    no_new_privs: true,
    masked_paths: [...DEFAULT_MASKED_PATHS],
    readonly_paths: [...DEFAULT_READONLY_PATHS],
    seccomp: { profile_type: 'Unconfined' },
    apparmor: null,
    apparmor_profile: '',
  });
});

void test('runAsUser falls back to the image user: its uid, else its name; no_new_privs only for allowPrivilegeEscalation false', () => {
  const byUid = containerSecurityContext(pod(), { name: 'app' }, inputs({ imageUser: { uid: 65534, username: '' } }));
  assert.deepEqual([byUid.run_as_user, byUid.run_as_username, byUid.no_new_privs], [{ value: 65534 }, '', false]);
  const byName = containerSecurityContext(pod(), { name: 'app' }, inputs({ imageUser: { uid: null, username: 'nginx' } }));
  assert.deepEqual([byName.run_as_user, byName.run_as_username], [null, 'nginx']);
  const own = containerSecurityContext(pod(), { name: 'app', securityContext: { runAsUser: 7, allowPrivilegeEscalation: true } }, inputs({ imageUser: { uid: null, username: 'nginx' } }));
  assert.deepEqual([own.run_as_user, own.run_as_username, own.no_new_privs], [{ value: 7 }, '', false]);
});

void test('procMount Unmasked clears the masked and read-only paths; Default keeps them', () => {
  const un = containerSecurityContext(pod({ hostUsers: false }), { name: 'app', securityContext: { procMount: 'Unmasked' } }, inputs({ userns: null }));
  assert.deepEqual([un.masked_paths, un.readonly_paths], [[], []]);
  const def = containerSecurityContext(pod(), { name: 'app', securityContext: { procMount: 'Default' } }, inputs());
  assert.ok(def.masked_paths?.includes('/proc/kcore') && def.readonly_paths?.includes('/proc/sys'));
});

void test('supplementalGroupsPolicy: Merge by default, Strict passed on, anything else refused', () => {
  assert.equal(containerSecurityContext(pod({ securityContext: { supplementalGroupsPolicy: 'Strict' } }), { name: 'app' }, inputs()).supplemental_groups_policy, 'Strict');
  assert.throws(() => containerSecurityContext(pod({ securityContext: { supplementalGroupsPolicy: 'Loose' } }), { name: 'app' }, inputs()), /unsupported supplementalGroupsPolicy: Loose/);
});

void test('namespaces: host namespaces are NODE, shareProcessNamespace a pod-wide PID namespace', () => {
  assert.deepEqual(namespaceOptions(pod(), null), { network: 'POD', pid: 'CONTAINER', ipc: 'POD' });
  assert.deepEqual(namespaceOptions(pod({ hostNetwork: true, hostPID: true, hostIPC: true }), null), { network: 'NODE', pid: 'NODE', ipc: 'NODE' });
  assert.deepEqual(namespaceOptions(pod({ shareProcessNamespace: true }), NODE_USER_NAMESPACE), { network: 'POD', pid: 'POD', ipc: 'POD', userns_options: { mode: 'NODE' } });
});

void test('seccomp: container over pod; RuntimeDefault, Unconfined, Localhost under the seccomp folder; unset is Unconfined (seccompDefault: RuntimeDefault)', () => {
  const root = '/var/lib/kubelet/seccomp';
  const p = pod({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } } });
  assert.deepEqual(seccompProfile(p, { securityContext: undefined }, root), { profile_type: 'RuntimeDefault' });
  assert.deepEqual(seccompProfile(p, { securityContext: { seccompProfile: { type: 'Unconfined' } } }, root), { profile_type: 'Unconfined' });
  assert.deepEqual(seccompProfile(p, { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/audit.json' } } }, root), {
    profile_type: 'Localhost', localhost_ref: '/var/lib/kubelet/seccomp/profiles/audit.json',
  });
  assert.deepEqual(seccompProfile(pod(), { securityContext: undefined }, root), { profile_type: 'Unconfined' });
  assert.deepEqual(seccompProfile(pod(), { securityContext: undefined }, root, true), { profile_type: 'RuntimeDefault' });
  assert.throws(() => seccompProfile(pod(), { securityContext: { seccompProfile: { type: 'Localhost' } } }, root), /localhostProfile must be set if seccompProfile type is Localhost/);
  assert.throws(() => seccompProfile(pod(), { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: '../../etc/shadow' } } }, root), (e) => isInvalidInput(e));
  assert.throws(() => seccompProfile(pod(), { securityContext: { seccompProfile: { type: 'Bogus' } } }, root), /unsupported seccompProfile type/);
  assert.equal(localhostSeccompPath('/r/seccomp/', './a//b.json'), '/r/seccomp/a/b.json');
  assert.throws(() => localhostSeccompPath('/r', '/abs.json'), /relative path/);
});

void test('AppArmor: container field, then the deprecated annotation, then the pod field; with the deprecated string form', () => {
  const p = pod({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }, { 'container.apparmor.security.beta.kubernetes.io/side': 'localhost/k8s-deny' });
  assert.deepEqual(appArmorProfile(p, { name: 'app' }), { apparmor: { profile_type: 'RuntimeDefault' }, apparmor_profile: 'runtime/default' });
  assert.deepEqual(appArmorProfile(p, { name: 'side' }), { apparmor: { profile_type: 'Localhost', localhost_ref: 'k8s-deny' }, apparmor_profile: 'localhost/k8s-deny' });
  assert.deepEqual(appArmorProfile(p, { name: 'app', securityContext: { appArmorProfile: { type: 'Unconfined' } } }), { apparmor: { profile_type: 'Unconfined' }, apparmor_profile: 'unconfined' });
  assert.deepEqual(appArmorProfile(pod(), { name: 'app' }), { apparmor: null, apparmor_profile: '' });
  assert.throws(() => appArmorProfile(pod(), { name: 'app', securityContext: { appArmorProfile: { type: 'Localhost' } } }), /missing localhost apparmor profile name/);
});

void test('runAsNonRoot: refused for uid 0 (runAsUser or image) and for a non-numeric image user, with upstream messages', () => {
  const p = pod({ securityContext: { runAsNonRoot: true } });
  const c = { name: 'app' };
  assert.equal(verifyRunAsNonRoot(p, c, { uid: 0, username: '' }), 'container has runAsNonRoot and image will run as root (pod: "web_prod(u-1)", container: app)');
  assert.equal(
    verifyRunAsNonRoot(p, c, { uid: null, username: 'nginx' }),
    'container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root (pod: "web_prod(u-1)", container: app)',
  );
  assert.equal(verifyRunAsNonRoot(p, c, { uid: 1000, username: '' }), null);
  assert.equal(verifyRunAsNonRoot(p, { name: 'app', securityContext: { runAsUser: 0 } }, { uid: 1000, username: '' }), `container's runAsUser breaks non-root policy (pod: "web_prod(u-1)", container: app)`);
  assert.equal(verifyRunAsNonRoot(p, { name: 'app', securityContext: { runAsUser: 1000 } }, { uid: 0, username: '' }), null);
  // The container's runAsNonRoot false wins over the pod's true.
  assert.equal(verifyRunAsNonRoot(p, { name: 'app', securityContext: { runAsNonRoot: false } }, { uid: 0, username: '' }), null);
  assert.equal(verifyRunAsNonRoot(pod(), c, { uid: 0, username: '' }), null);
});

void test('image user from CRI ImageStatus: uid, else user name, else root', () => {
  assert.deepEqual(imageUser({ uid: { value: 1000 }, username: '' }), { uid: 1000, username: '' });
  assert.deepEqual(imageUser({ uid: { value: 0 }, username: '' }), { uid: 0, username: '' });
  assert.deepEqual(imageUser({ uid: null, username: 'nobody' }), { uid: null, username: 'nobody' });
  assert.deepEqual(imageUser({ uid: null, username: '' }), { uid: 0, username: '' });
  assert.deepEqual(imageUser(null), { uid: 0, username: '' });
});

void test('sandbox security context: privileged when any container is, RuntimeDefault seccomp, pod ids, groups, SELinux', () => {
  const p = pod({
    securityContext: { runAsUser: 1, runAsGroup: 2, fsGroup: 3, supplementalGroups: [4], seLinuxOptions: { level: 's0' } },
    initContainers: [{ name: 'init', securityContext: { privileged: true } }],
    hostNetwork: true,
  });
  assert.deepEqual(sandboxSecurityContext(p, NODE_USER_NAMESPACE), {
    privileged: true,
    seccomp: { profile_type: 'RuntimeDefault' },
    namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', userns_options: { mode: 'NODE' } },
    run_as_user: { value: 1 },
    run_as_group: { value: 2 },
    supplemental_groups: [3, 4],
    supplemental_groups_policy: 'Merge',
    selinux_options: { user: '', role: '', type: '', level: 's0' },
  });
  assert.equal(sandboxSecurityContext(pod(), null).privileged, false);
});

// Security admission of new pods: sysctls, supplementalGroupsPolicy, AppArmor, RuntimeClass without an API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { admitPodSecurity, appArmorProblem, appArmorRequired, type SecurityAdmissionContext } from './security-admission.ts';
import { SysctlAllowlist } from './sysctl.ts';

const ctx = (over: Partial<SecurityAdmissionContext> = {}): SecurityAdmissionContext => ({
  sysctls: SysctlAllowlist.forNode('6.1.0', []), appArmorHostError: null, supplementalGroupsPolicySupported: false, standalone: true, ...over,
});
const pod = (spec: Partial<NonNullable<Pod['spec']>> = {}, annotations: Record<string, string> = {}): Pod => ({ metadata: { name: 'p', annotations }, spec: { containers: [{ name: 'c' }], ...spec } });

void test('a forbidden sysctl rejects the pod: SysctlForbidden with upstream message', () => {
  assert.deepEqual(admitPodSecurity(pod({ securityContext: { sysctls: [{ name: 'kernel.pid_max', value: '1000' }] } }), ctx()), {
    admit: false, reason: 'SysctlForbidden', message: 'Pod was rejected: forbidden sysctl: "kernel.pid_max" not allowlisted',
  });
  assert.deepEqual(admitPodSecurity(pod({ securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }] } }), ctx()), { admit: true });
});

void test('supplementalGroupsPolicy Strict needs the runtime feature; Merge never does', () => {
  assert.deepEqual(admitPodSecurity(pod({ securityContext: { supplementalGroupsPolicy: 'Strict' } }), ctx()), {
    admit: false, reason: 'SupplementalGroupsPolicyNotSupported', message: 'Pod was rejected: SupplementalGroupsPolicy=Strict is not supported in this node',
  });
  assert.deepEqual(admitPodSecurity(pod({ securityContext: { supplementalGroupsPolicy: 'Strict' } }), ctx({ supplementalGroupsPolicySupported: true })), { admit: true });
  assert.deepEqual(admitPodSecurity(pod({ securityContext: { supplementalGroupsPolicy: 'Merge' } }), ctx()), { admit: true });
});

void test('AppArmor: a profile other than Unconfined on a node without AppArmor is rejected (reason AppArmor)', () => {
  const noAA = ctx({ appArmorHostError: 'AppArmor is not enabled on the host' });
  assert.deepEqual(admitPodSecurity(pod({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }), noAA), {
    admit: false, reason: 'AppArmor', message: 'Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host',
  });
  assert.equal(admitPodSecurity(pod({ containers: [{ name: 'c', securityContext: { appArmorProfile: { type: 'Localhost', localhostProfile: 'x' } } }] }), noAA).admit, false);
  assert.equal(admitPodSecurity(pod({}, { 'container.apparmor.security.beta.kubernetes.io/c': 'runtime/default' }), noAA).admit, false);
  assert.equal(admitPodSecurity(pod({ securityContext: { appArmorProfile: { type: 'Unconfined' } } }), noAA).admit, true);
  assert.equal(admitPodSecurity(pod({}, { 'container.apparmor.security.beta.kubernetes.io/c': 'unconfined' }), noAA).admit, true);
  // A running pod is not re-checked.
  assert.equal(admitPodSecurity({ ...pod({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }), status: { phase: 'Running' } }, noAA).admit, true);
  // With AppArmor: only an empty Localhost name is refused.
  assert.equal(appArmorProblem(pod({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }), null), null);
  assert.match(appArmorProblem(pod({ securityContext: { appArmorProfile: { type: 'Localhost', localhostProfile: ' ' } } }), null) ?? '', /invalid empty AppArmor profile name/);
  assert.equal(appArmorRequired(pod()), false);
});

void test('a RuntimeClass without an API server is refused clearly; with one it is resolved later', () => {
  const r = admitPodSecurity(pod({ runtimeClassName: 'gvisor' }), ctx());
  assert.equal(r.admit, false);
  assert.ok(!r.admit && r.reason === 'RuntimeClassNotAvailable' && /RuntimeClass "gvisor" cannot be resolved: the kubelet runs without an API server/.test(r.message));
  assert.deepEqual(admitPodSecurity(pod({ runtimeClassName: 'gvisor' }), ctx({ standalone: false })), { admit: true });
});

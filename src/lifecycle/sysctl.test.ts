// Sysctl allowlist and admission, as upstream pkg/kubelet/sysctl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowlistEntryProblem, normalizeSysctlName, safeSysctls, sysctlNamespace, SysctlAllowlist, LEGACY_SAFE_SYSCTLS } from './sysctl.ts';

void test('safe sysctls: the legacy list always, the newer ones from the kernel version that namespaced them', () => {
  assert.deepEqual(safeSysctls('6.1.0-18-amd64'), [...LEGACY_SAFE_SYSCTLS, 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']);
  assert.deepEqual(safeSysctls('4.9.0'), [...LEGACY_SAFE_SYSCTLS, 'net.ipv4.ip_local_reserved_ports']);
  assert.deepEqual(safeSysctls('3.10.0-1160.el7.x86_64'), [...LEGACY_SAFE_SYSCTLS]);
  assert.deepEqual(safeSysctls('weird'), [...LEGACY_SAFE_SYSCTLS]);
  for (const s of ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']) {
    assert.ok(LEGACY_SAFE_SYSCTLS.includes(s), s);
  }
});

void test('names with / separators are normalized; namespaces as upstream NamespacedBy', () => {
  assert.equal(normalizeSysctlName('net/ipv4/conf/eno2.100/rp_filter'), 'net.ipv4.conf.eno2/100.rp_filter');
  assert.equal(normalizeSysctlName('net.ipv4.conf.eno2/100.rp_filter'), 'net.ipv4.conf.eno2/100.rp_filter');
  assert.equal(normalizeSysctlName('kernel.shm_rmid_forced'), 'kernel.shm_rmid_forced');
  assert.equal(sysctlNamespace('kernel.sem'), 'ipc');
  assert.equal(sysctlNamespace('kernel.msgmax'), 'ipc');
  assert.equal(sysctlNamespace('fs.mqueue.msg_max'), 'ipc');
  assert.equal(sysctlNamespace('net.core.somaxconn'), 'net');
  assert.equal(sysctlNamespace('kernel.pid_max'), null);
  assert.equal(sysctlNamespace('vm.swappiness'), null);
});

void test('allowedUnsafeSysctls entries must be valid and namespaced (upstream NewAllowlist)', () => {
  assert.equal(allowlistEntryProblem('net.core.somaxconn'), null);
  assert.equal(allowlistEntryProblem('kernel.msg*'), null);
  assert.equal(allowlistEntryProblem('net.*'), null);
  assert.equal(allowlistEntryProblem('net/core/somaxconn'), null);
  assert.equal(allowlistEntryProblem('kernel.pid_max'), 'the sysctl "kernel.pid_max" are not known to be namespaced');
  assert.equal(allowlistEntryProblem('vm.*'), 'the sysctls "vm.*" are not known to be namespaced');
  assert.match(allowlistEntryProblem('Net.Core') ?? '', /must have at most 253 characters/);
  assert.throws(() => new SysctlAllowlist(['kernel.pid_max']), /not known to be namespaced/);
});

void test('admission: safe ones pass, others need allowedUnsafeSysctls, host namespaces forbid theirs (upstream messages)', () => {
  const list = SysctlAllowlist.forNode('6.1.0', ['net.core.somaxconn', 'kernel.msg*']);
  const pod = (sysctls: string[], host: { hostNetwork?: boolean; hostIPC?: boolean } = {}) => ({ spec: { ...host, securityContext: { sysctls: sysctls.map((name) => ({ name, value: '1' })) } } });
  assert.equal(list.admit(pod([])), null);
  assert.equal(list.admit({ spec: {} }), null);
  assert.equal(list.admit(pod(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.core.somaxconn', 'kernel.msgmax'])), null);
  assert.equal(list.admit(pod(['net/ipv4/tcp_syncookies'])), null);
  assert.equal(list.admit(pod(['kernel.shm_rmid_forced', 'net.ipv4.ip_forward'])), 'forbidden sysctl: "net.ipv4.ip_forward" not allowlisted');
  assert.equal(list.admit(pod(['kernel.pid_max'])), 'forbidden sysctl: "kernel.pid_max" not allowlisted');
  assert.equal(list.admit(pod(['net.ipv4.tcp_syncookies'], { hostNetwork: true })), 'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled');
  assert.equal(list.admit(pod(['kernel.shm_rmid_forced'], { hostIPC: true })), 'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host ipc enabled');
  assert.equal(list.admit(pod(['kernel.shm_rmid_forced'], { hostNetwork: true })), null);
  assert.equal(SysctlAllowlist.forNode('6.1.0', []).admit(pod(['net.core.somaxconn'])), 'forbidden sysctl: "net.core.somaxconn" not allowlisted');
});

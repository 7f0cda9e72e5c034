// Sandbox config: hostname, subdomain, setHostnameAsFQDN, sysctls and the sandbox security context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { managedHostsFile } from './container-config.ts';
import { buildSandboxConfig, kernelHostname, podHostnameAndDomain } from './sandbox-config.ts';
import { NODE_USER_NAMESPACE } from './security-context.ts';

const pod = (name: string, spec: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({ metadata: { name, namespace: 'ns', uid: 'u' }, spec: { containers: [{ name: 'c' }], ...spec } });
const inputs = { attempt: 0, nodeHostname: 'node1', logDirectory: '/var/log/pods/x', cgroupParent: '', dns: { servers: [], searches: [], options: [] }, clusterDomain: 'cluster.local', userns: NODE_USER_NAMESPACE };

void test('hostname and domain as upstream GeneratePodHostNameAndDomain', () => {
  assert.deepEqual(podHostnameAndDomain(pod('web'), 'cluster.local'), { hostname: 'web', domain: '' });
  assert.deepEqual(podHostnameAndDomain(pod('web', { hostname: 'h', subdomain: 'sub' }), 'cluster.local'), { hostname: 'h', domain: 'sub.ns.svc.cluster.local' });
  assert.equal(podHostnameAndDomain(pod(`${'a'.repeat(62)}-bcd`), '').hostname, 'a'.repeat(62));
  assert.throws(() => podHostnameAndDomain(pod('web', { hostname: 'Bad_Name' }), ''), /pod Hostname "Bad_Name" is not a valid DNS label/);
  assert.throws(() => podHostnameAndDomain(pod('web', { subdomain: 'x.y' }), ''), /pod Subdomain "x.y" is not a valid DNS label/);
});

void test('setHostnameAsFQDN: the FQDN as the kernel hostname, refused above 64 characters with upstream message', () => {
  assert.equal(kernelHostname('h', 'sub.ns.svc.cluster.local', true), 'h.sub.ns.svc.cluster.local');
  assert.equal(kernelHostname('h', 'sub.ns.svc.cluster.local', false), 'h');
  assert.equal(kernelHostname('h', '', true), 'h');
  const long = 'x'.repeat(40);
  assert.throws(
    () => kernelHostname(long, 'sub.ns.svc.cluster.local', true),
    { message: `failed to construct FQDN from pod hostname and cluster domain, FQDN ${long}.sub.ns.svc.cluster.local is too long (64 characters is the max, 65 characters requested)` },
  );
  assert.equal(buildSandboxConfig(pod('web', { hostname: 'h', subdomain: 'sub', setHostnameAsFQDN: true }), inputs).hostname, 'h.sub.ns.svc.cluster.local');
  assert.throws(() => buildSandboxConfig(pod('web', { hostname: long, subdomain: 'sub', setHostnameAsFQDN: true }), inputs), /too long/);
});

void test('sandbox config: no hostname with hostNetwork, sysctls normalized, security context and namespaces', () => {
  const c = buildSandboxConfig(pod('web', { hostNetwork: true, securityContext: { sysctls: [{ name: 'net/ipv4/tcp_syncookies', value: '1' }], runAsUser: 5 } }), inputs);
  assert.equal(c.hostname, '');
  assert.deepEqual(c.linux?.sysctls, { 'net.ipv4.tcp_syncookies': '1' });
  assert.deepEqual(c.linux?.security_context?.namespace_options, { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', userns_options: { mode: 'NODE' } });
  assert.deepEqual(c.linux?.security_context?.run_as_user, { value: 5 });
  assert.deepEqual(c.linux?.security_context?.seccomp, { profile_type: 'RuntimeDefault' });
});

void test('/etc/hosts names the pod by hostname.domain when it has a subdomain', () => {
  const text = managedHostsFile(pod('web'), ['10.0.0.5'], 'h', 'sub.ns.svc.cluster.local');
  assert.ok(text.includes('10.0.0.5\th.sub.ns.svc.cluster.local\th\n'));
  assert.ok(managedHostsFile(pod('web'), ['10.0.0.5'], 'web', '').includes('10.0.0.5\tweb\n'));
});

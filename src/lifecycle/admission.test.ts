import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { admitPod, type AdmissionNode } from './admission.ts';

const node: AdmissionNode = {
  name: 'n1',
  labels: { 'kubernetes.io/hostname': 'n1', 'kubernetes.io/os': 'linux', disk: 'ssd' },
  allocatable: { cpuMilli: 2000, memoryBytes: 4 * 2 ** 30, ephemeralStorageBytes: 10 * 2 ** 30, pods: 3 },
  taints: [],
};
const pod = (name: string, requests: Record<string, string> = {}, extra: Record<string, unknown> = {}): Pod => ({
  metadata: { name, namespace: 'default', uid: name },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox', resources: { requests } }], ...extra },
});

void test('a pod that fits is admitted', () => {
  assert.deepEqual(admitPod(pod('a', { cpu: '500m', memory: '1Gi' }), [pod('b', { cpu: '1' })], node), { admit: true });
});

void test('requests beyond allocatable are rejected with upstream reasons and messages', () => {
  assert.deepEqual(admitPod(pod('big', { cpu: '3' }), [], node), {
    admit: false,
    reason: 'OutOfcpu',
    message: "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000",
  });
  const r = admitPod(pod('m', { memory: '3Gi' }), [pod('x', { memory: '2Gi' })], node);
  assert.equal(r.admit, false);
  assert.equal(!r.admit && r.reason, 'OutOfmemory');
  assert.match(!r.admit ? r.message : '', /requested: 3221225472, used: 2147483648, capacity: 4294967296/);
  const full = admitPod(pod('d'), [pod('a'), pod('b'), pod('c')], node);
  assert.equal(!full.admit && full.reason, 'OutOfpods');
});

void test('host port conflicts, node selectors, OS and NoExecute taints', () => {
  const withPort = (name: string, hostPort: number): Pod => pod(name, {}, { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort }] }] });
  assert.equal((admitPod(withPort('a', 8080), [withPort('b', 8080)], node) as { reason?: string }).reason, 'NodePorts');
  assert.equal(admitPod(withPort('a', 8080), [withPort('b', 8081)], node).admit, true);
  assert.equal((admitPod(pod('s', {}, { nodeSelector: { disk: 'hdd' } }), [], node) as { reason?: string }).reason, 'NodeAffinity');
  assert.equal(admitPod(pod('s', {}, { nodeSelector: { disk: 'ssd' } }), [], node).admit, true);
  assert.equal((admitPod(pod('w', {}, { os: { name: 'windows' } }), [], node) as { reason?: string }).reason, 'PodOSNotSupported');
  const tainted = { ...node, taints: [{ key: 'k', value: 'v', effect: 'NoExecute' }] };
  assert.equal((admitPod(pod('t'), [], tainted) as { reason?: string }).reason, 'TaintToleration');
  assert.equal(admitPod(pod('t', {}, { tolerations: [{ key: 'k', operator: 'Exists' }] }), [], tainted).admit, true);
});

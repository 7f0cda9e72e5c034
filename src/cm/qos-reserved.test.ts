import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { memoryReservePercent, parsePercentage, qosMemoryLimits, qosMemoryRequests, qosReservedProblem, retryMemoryLimit } from './qos-reserved.ts';

void test('parsePercentage: upstream parsePercentage (N%, integer, 0-100)', () => {
  assert.equal(parsePercentage('0%'), 0);
  assert.equal(parsePercentage('50%'), 50);
  assert.equal(parsePercentage('100%'), 100);
  assert.equal(parsePercentage('+7%'), 7);
  assert.equal(parsePercentage('50%%'), 50, 'strings.TrimRight drops every trailing %');
  for (const bad of ['50', '101%', '-1%', '%', 'x%', '1.5%', ' 5%', '']) assert.equal(parsePercentage(bad), undefined, bad);
});

void test('qosReservedProblem: only memory can be reserved, as a percentage', () => {
  assert.equal(qosReservedProblem({}), null);
  assert.equal(qosReservedProblem({ memory: '50%' }), null);
  assert.equal(qosReservedProblem({ cpu: '50%' }), 'cannot reserve "cpu" resource');
  assert.match(qosReservedProblem({ memory: '150%' }) ?? '', /failed to parse percentage "150%" for "memory" resource/);
  assert.equal(memoryReservePercent({ memory: '25%' }), 25);
  assert.equal(memoryReservePercent({}), undefined);
});

const pod = (uid: string, containers: NonNullable<Pod['spec']>['containers'], extra: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({
  metadata: { uid, name: uid, namespace: 'ns' },
  spec: { containers, ...extra },
});
const c = (name: string, resources: NonNullable<NonNullable<Pod['spec']>['containers'][number]['resources']>) => ({ name, image: 'i', resources });

void test('qosMemoryRequests: per class, each pod\'s PodRequests memory rounded up to whole bytes; BestEffort left out', () => {
  const pods: Pod[] = [
    pod('g', [c('a', { limits: { cpu: '1', memory: '64Mi' } }), c('b', { limits: { cpu: '1', memory: '1Mi' } })]),
    // 0.5 bytes rounds up to 1, as Quantity.Value().
    pod('b1', [c('a', { requests: { memory: '500m' } })]),
    // Init containers: the larger of the init container and the regular ones (upstream PodRequests).
    pod('b2', [c('a', { requests: { memory: '10Mi' } })], { initContainers: [c('init', { requests: { memory: '20Mi' } })] }),
    pod('e', [c('a', {})]),
  ];
  assert.deepEqual(qosMemoryRequests(pods), { guaranteed: BigInt(65 * 1024 * 1024), burstable: 1n + BigInt(20 * 1024 * 1024) });
  assert.deepEqual(qosMemoryRequests([]), { guaranteed: 0n, burstable: 0n });
});

void test('qosMemoryLimits: upstream setMemoryReserve, truncating int64 division, no lower bound; null without allocatable', () => {
  assert.deepEqual(qosMemoryLimits(1000n, { guaranteed: 300n, burstable: 200n }, 100), { burstable: 700n, bestEffort: 500n });
  assert.deepEqual(qosMemoryLimits(1000n, { guaranteed: 301n, burstable: 201n }, 50), { burstable: 850n, bestEffort: 750n });
  assert.deepEqual(qosMemoryLimits(1000n, { guaranteed: 300n, burstable: 200n }, 0), { burstable: 1000n, bestEffort: 1000n });
  assert.deepEqual(qosMemoryLimits(1000n, { guaranteed: 1500n, burstable: 0n }, 100), { burstable: -500n, bestEffort: -500n });
  assert.equal(qosMemoryLimits(0n, { guaranteed: 1n, burstable: 1n }, 100), null);
  assert.equal(qosMemoryLimits(undefined, { guaranteed: 1n, burstable: 1n }, 100), null);
});

void test('retryMemoryLimit: a cgroup above the wanted limit is limited to its usage', () => {
  assert.equal(retryMemoryLimit(100n, 150n), 150n);
  assert.equal(retryMemoryLimit(100n, 50n), 100n);
  assert.equal(retryMemoryLimit(-5n, 0n), 0n);
});

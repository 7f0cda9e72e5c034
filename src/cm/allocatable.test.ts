import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import { parseThresholdConfig } from '../eviction/thresholds.ts';
import {
  DEFAULT_ALLOCATABLE_SETTINGS,
  hardEvictionReservation,
  kubepodsCgroupConfig,
  kubepodsResources,
  nodeAllocatableAbsolute,
  nodeAllocatableReservation,
  resourceNanos,
} from './allocatable.ts';

const N = 1_000_000_000n;
const GiB = 1024n ** 3n;
const capacity = (): Map<string, bigint> => new Map([['cpu', 2n * N], ['memory', 8n * GiB * N], ['ephemeral-storage', 100n * GiB * N], ['pods', 110n * N]]);

test('reservation: upstream defaults reserve 100Mi of memory and 10% of the root filesystem', () => {
  const r = nodeAllocatableReservation(capacity(), DEFAULT_ALLOCATABLE_SETTINGS);
  assert.equal(r.get('memory'), 100n * 1024n * 1024n * N);
  // int64(float64(capacity) * float64(float32(0.1))): float32 0.1 is slightly above 0.1
  assert.equal(r.get('ephemeral-storage'), BigInt(Math.trunc(Number(100n * GiB) * Math.fround(0.1))) * N);
  assert.equal(r.has('cpu'), false);
  assert.equal(r.has('pods'), false);
});

test('reservation: kubeReserved + systemReserved + hard eviction, per resource, exact', () => {
  const r = nodeAllocatableReservation(capacity(), {
    kubeReserved: { cpu: '100m', memory: '256Mi' },
    systemReserved: { cpu: '0.15', memory: '1Gi', 'ephemeral-storage': '1Gi' },
    evictionHard: { 'memory.available': '500Mi', 'nodefs.available': '1Gi' },
    mergeDefaultEvictionSettings: false,
  });
  assert.equal(r.get('cpu'), 250_000_000n);
  assert.equal(r.get('memory'), (256n + 1024n + 500n) * 1024n * 1024n * N);
  assert.equal(r.get('ephemeral-storage'), 2n * GiB * N);
});

test('reservation: evictionHard percentages of memory; soft thresholds never reserve', () => {
  const hard = parseThresholdConfig({ evictionHard: { 'memory.available': '5%' }, evictionSoft: {}, evictionSoftGracePeriod: {}, evictionMinimumReclaim: {}, enforceNodeAllocatable: [], mergeDefaultEvictionSettings: false });
  assert.equal(hardEvictionReservation(hard, capacity()).get('memory'), BigInt(Math.trunc(Number(8n * GiB) * Math.fround(0.05))) * N);
  const r = nodeAllocatableReservation(capacity(), { kubeReserved: {}, systemReserved: {}, evictionHard: {}, mergeDefaultEvictionSettings: false });
  assert.equal(r.size, 0);
  // mergeDefaultEvictionSettings fills the signals left out
  const merged = nodeAllocatableReservation(capacity(), { kubeReserved: {}, systemReserved: {}, evictionHard: { 'nodefs.available': '0%' }, mergeDefaultEvictionSettings: true });
  assert.equal(merged.get('memory'), 100n * 1024n * 1024n * N);
  assert.equal(merged.has('ephemeral-storage'), false);
});

test('absolute allocatable for the kubepods cgroup: no eviction threshold, never negative, huge pages out of memory', () => {
  const cap = capacity();
  cap.set('hugepages-2Mi', 512n * 1024n * 1024n * N);
  const a = nodeAllocatableAbsolute(cap, { kubeReserved: { cpu: '3', memory: '1Gi' }, systemReserved: { memory: '512Mi' } });
  assert.equal(a.get('cpu'), 0n);
  assert.equal(a.get('memory'), (8n * GiB - GiB - 512n * 1024n * 1024n - 512n * 1024n * 1024n) * N);
});

test('kubepods cgroup: node allocatable with enforceNodeAllocatable=[pods], capacity otherwise', () => {
  const internal = new Map([['cpu', 2n * N], ['memory', 8n * GiB * N], ['pid', 4_194_304n * N]]);
  const settings = { kubeReserved: { cpu: '500m', memory: '1Gi', pid: '1000' }, systemReserved: {}, enforceNodeAllocatable: ['pods'] };
  assert.deepEqual(kubepodsCgroupConfig(kubepodsResources(internal, settings)), { cpuShares: 1536, memoryLimitBytes: Number(7n * GiB), pidsLimit: 4_193_304 });
  assert.deepEqual(kubepodsCgroupConfig(kubepodsResources(internal, { ...settings, enforceNodeAllocatable: ['none'] })), { cpuShares: 2048, memoryLimitBytes: Number(8n * GiB), pidsLimit: 4_194_304 });
});

test('resourceNanos rejects bad and negative quantities', () => {
  assert.throws(() => resourceNanos({ cpu: 'lots' }), isInvalidInput);
  assert.throws(() => resourceNanos({ memory: '-1Gi' }), isInvalidInput);
});

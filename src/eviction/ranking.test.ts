import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import type { PodStats } from '../stats/types.ts';
import {
  containerEphemeralStorageViolation,
  emptyDirLimitViolation,
  evictionMessage,
  nodeConditionMessage,
  podEphemeralStorageViolation,
  rankDiskPressure,
  rankMemoryPressure,
  rankPIDPressure,
  statsByUID,
} from './ranking.ts';
import { parseThresholdConfig } from './thresholds.ts';

const Mi = 1024 * 1024;
type Res = { requests?: Record<string, string>; limits?: Record<string, string> };
const pod = (name: string, resources: Res = {}, extra: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({
  metadata: { name, namespace: 'ns', uid: name },
  spec: { containers: [{ name: `${name}-c`, image: 'i', resources }], ...extra },
});
const stats = (name: string, workingSet: number, extra: Partial<PodStats<number>> = {}): PodStats<number> => ({
  podRef: { name, namespace: 'ns', uid: name },
  startTime: 0,
  containers: [{ name: `${name}-c`, startTime: 0, memory: { time: 0, workingSetBytes: workingSet } }],
  memory: { time: 0, workingSetBytes: workingSet },
  ...extra,
});
const names = (pods: Pod[]): string[] => pods.map((p) => p.metadata!.name!);

test('rankMemoryPressure: over requests first, then lower priority, then usage above request', () => {
  const besteffort = pod('besteffort');
  const burstableWithin = pod('within', { requests: { memory: '100Mi' } });
  const burstableOver = pod('over', { requests: { memory: '10Mi' } });
  const important = pod('important', {}, { priority: 1000 });
  const noStats = pod('nostats', { requests: { memory: '1Gi' } });
  const pods = [burstableWithin, important, burstableOver, besteffort, noStats];
  const s = statsByUID([stats('besteffort', 50 * Mi), stats('within', 20 * Mi), stats('over', 200 * Mi), stats('important', 500 * Mi)]);
  rankMemoryPressure(pods, s);
  // nostats first (no stats), then the over-request pods by priority then usage-over-request, then the one within
  assert.deepEqual(names(pods), ['nostats', 'over', 'besteffort', 'important', 'within']);
});

test('rankPIDPressure and rankDiskPressure', () => {
  const a = pod('a');
  const b = pod('b', {}, { priority: -5 });
  const c = pod('c');
  const s = statsByUID([stats('a', 0, { process_stats: { process_count: 3 } }), stats('b', 0, { process_stats: { process_count: 1 } }), stats('c', 0, { process_stats: { process_count: 9 } })]);
  const pods = [a, b, c];
  rankPIDPressure(pods, s);
  assert.deepEqual(names(pods), ['b', 'c', 'a']);
  const disk = (n: string, rootfs: number, logs: number, vol = 0): PodStats<number> => ({
    podRef: { name: n, namespace: 'ns', uid: n }, startTime: 0,
    containers: [{ name: `${n}-c`, startTime: 0, rootfs: { time: 0, usedBytes: rootfs, inodesUsed: 1 }, logs: { time: 0, usedBytes: logs, inodesUsed: 1 } }],
    volume: [{ time: 0, name: 'scratch', usedBytes: vol, inodesUsed: 1 }],
  });
  const x = pod('x', { requests: { 'ephemeral-storage': '1Gi' } }, { volumes: [{ name: 'scratch', emptyDir: {} }] });
  const y = pod('y', {}, { volumes: [{ name: 'scratch', emptyDir: {} }] });
  const z = pod('z', {}, { volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory' } }] });
  const ds = statsByUID([disk('x', 100 * Mi, 0, 500 * Mi), disk('y', 10 * Mi, 1 * Mi, 20 * Mi), disk('z', 5 * Mi, 0, 900 * Mi)]);
  const list = [x, z, y];
  rankDiskPressure(list, ds, ['images', 'root', 'logs', 'localVolumeSource'], 'ephemeral-storage');
  // x is within its 1Gi request; y (31Mi) above z (5Mi: its memory-backed volume does not count)
  assert.deepEqual(names(list), ['y', 'z', 'x']);
});

test('evictionMessage: node, threshold, containers over their requests (upstream wording)', () => {
  const thresholds = parseThresholdConfig({ evictionHard: { 'memory.available': '100Mi' }, evictionSoft: {}, evictionSoftGracePeriod: {}, evictionMinimumReclaim: {}, enforceNodeAllocatable: [], mergeDefaultEvictionSettings: false });
  const p = pod('hog', { requests: { memory: '64Mi' } });
  const obs = { 'memory.available': { available: 80 * Mi + 512 * 1024, capacity: 4096 * Mi } };
  const m = evictionMessage('memory', p, statsByUID([stats('hog', 300 * Mi)]), thresholds, obs);
  assert.equal(m.message, 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 82432Ki. Container hog-c was using 300Mi, request is 64Mi, has larger consumption of memory. ');
  assert.deepEqual(m.annotations, { offending_containers: 'hog-c', offending_containers_usage: '300Mi', starved_resource: 'memory' });
  const be = evictionMessage('memory', pod('be'), statsByUID([stats('be', 12345)]), thresholds, obs);
  assert.equal(be.message, 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 82432Ki. Container be-c was using 12345, request is 0, has larger consumption of memory. ');
  assert.equal(nodeConditionMessage(['MemoryPressure', 'DiskPressure']), 'The node had condition: [MemoryPressure DiskPressure]. ');
});

test('local storage limits: emptyDir sizeLimit, pod and container ephemeral-storage limits', () => {
  const p = pod('p', { limits: { 'ephemeral-storage': '100Mi' } }, { volumes: [{ name: 'cache', emptyDir: { sizeLimit: '10Mi' as unknown as never } }] });
  const s = (vol: number, rootfs: number, logs: number, total: number): PodStats<number> => ({
    podRef: { name: 'p', namespace: 'ns', uid: 'p' }, startTime: 0,
    containers: [{ name: 'p-c', startTime: 0, rootfs: { time: 0, usedBytes: rootfs }, logs: { time: 0, usedBytes: logs } }],
    volume: [{ time: 0, name: 'cache', usedBytes: vol }],
    'ephemeral-storage': { time: 0, usedBytes: total },
  });
  assert.equal(emptyDirLimitViolation(s(11 * Mi, 0, 0, 0), p), 'Usage of EmptyDir volume "cache" exceeds the limit "10Mi". ');
  assert.equal(emptyDirLimitViolation(s(10 * Mi, 0, 0, 0), p), null);
  assert.equal(podEphemeralStorageViolation(s(0, 0, 0, 101 * Mi), p), 'Pod ephemeral local storage usage exceeds the total limit of containers 100Mi. ');
  assert.equal(podEphemeralStorageViolation(s(0, 0, 0, 100 * Mi), p), null);
  assert.equal(containerEphemeralStorageViolation(s(0, 90 * Mi, 20 * Mi, 0), p, false), 'Container p-c exceeded its local ephemeral storage limit "100Mi". ');
  assert.equal(containerEphemeralStorageViolation(s(0, 90 * Mi, 20 * Mi, 0), p, true), null);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { diskThresholdReached, hasEphemeralStorageLimit, isDiskSignal, needsRuntimeStats } from './stats-needs.ts';
import { parseThresholdConfig, type Observations } from './thresholds.ts';

const pod = (spec: Partial<NonNullable<Pod['spec']>> = {}, limits?: Record<string, string>): Pod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'p' },
  spec: { containers: [{ name: 'c', image: 'i', resources: limits ? { limits } : {} }], ...spec },
});
const thresholds = parseThresholdConfig({
  evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '10%', 'imagefs.inodesFree': '5%', 'pid.available': '100' },
  evictionSoft: {},
  evictionSoftGracePeriod: {},
  evictionMinimumReclaim: { 'nodefs.available': '50' },
  enforceNodeAllocatable: ['pods'],
  mergeDefaultEvictionSettings: false,
});
const roomy: Observations = {
  'memory.available': { available: 50, capacity: 1000 },
  'pid.available': { available: 10, capacity: 1000 },
  'nodefs.available': { available: 500, capacity: 1000 },
  'imagefs.inodesFree': { available: 500, capacity: 1000 },
};

test('disk signals are the nodefs, imagefs and containerfs ones', () => {
  assert.deepEqual(
    (['memory.available', 'allocatableMemory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'containerfs.inodesFree', 'pid.available'] as const).map(isDiskSignal),
    [false, false, true, true, true, true, false],
  );
});

test('an ephemeral-storage limit on a container or an init container (the pod limit is their sum); an emptyDir sizeLimit or a request is not one', () => {
  assert.equal(hasEphemeralStorageLimit(pod()), false);
  assert.equal(hasEphemeralStorageLimit(pod({}, { memory: '1Mi' })), false);
  assert.equal(hasEphemeralStorageLimit(pod({}, { 'ephemeral-storage': '1Mi' })), true);
  assert.equal(hasEphemeralStorageLimit(pod({ initContainers: [{ name: 'i', image: 'i', resources: { limits: { 'ephemeral-storage': '1Gi' } } }] })), true);
  // pod-level resources are cpu and memory only (as upstream): the pod limit is its containers' sum
  assert.equal(hasEphemeralStorageLimit(pod({ resources: { limits: { 'ephemeral-storage': '1Gi' } } })), false);
  assert.equal(hasEphemeralStorageLimit(pod({ volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Mi' as unknown as never } }] })), false);
  assert.equal(hasEphemeralStorageLimit(pod({ containers: [{ name: 'c', image: 'i', resources: { requests: { 'ephemeral-storage': '1Mi' } } }] })), false);
});

test('a disk threshold is reached at its quantity plus its minimum reclaim; memory and pid thresholds never count', () => {
  assert.equal(diskThresholdReached(thresholds, roomy), false, 'memory and pid past their thresholds do not need disk usage');
  assert.equal(diskThresholdReached(thresholds, {}), false, 'nothing observed');
  assert.equal(diskThresholdReached(thresholds, { 'nodefs.available': { available: 151, capacity: 1000 } }), false);
  assert.equal(diskThresholdReached(thresholds, { 'nodefs.available': { available: 150, capacity: 1000 } }), true, '10% + 50 reclaim: still being reclaimed');
  assert.equal(diskThresholdReached(thresholds, { 'nodefs.available': { available: 99, capacity: 1000 } }), true);
  assert.equal(diskThresholdReached(thresholds, { 'imagefs.inodesFree': { available: 50, capacity: 1000 } }), true, 'at the threshold');
  assert.equal(diskThresholdReached(thresholds, { 'imagefs.inodesFree': { available: 51, capacity: 1000 } }), false);
});

test('runtime stats only for an ephemeral-storage limit or a disk signal at its threshold', () => {
  assert.equal(needsRuntimeStats([], thresholds, roomy), false);
  assert.equal(needsRuntimeStats([pod(), pod({ volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Mi' as unknown as never } }] })], thresholds, roomy), false);
  assert.equal(needsRuntimeStats([pod(), pod({}, { 'ephemeral-storage': '1Mi' })], thresholds, roomy), true);
  assert.equal(needsRuntimeStats([pod()], thresholds, { ...roomy, 'nodefs.available': { available: 10, capacity: 1000 } }), true);
  assert.equal(needsRuntimeStats([pod()], [], { 'nodefs.available': { available: 0, capacity: 1000 } }), false, 'no disk threshold configured');
});

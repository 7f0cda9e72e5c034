import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import type { SummaryMs } from '../stats/types.ts';
import {
  formatThresholdQuantity,
  makeSignalObservations,
  mergeThresholds,
  nodeConditionsLastObservedAt,
  nodeConditionsObservedSince,
  nodeConditionsOf,
  parseThresholdConfig,
  parseThresholdStatement,
  sortByEvictionPriority,
  thresholdQuantity,
  thresholdsFirstObservedAt,
  thresholdsMet,
  thresholdsMetGracePeriod,
  thresholdsUpdatedStats,
  type EvictionSettings,
} from './thresholds.ts';

const settings = (s: Partial<EvictionSettings> = {}): EvictionSettings => ({
  evictionHard: {}, evictionSoft: {}, evictionSoftGracePeriod: {}, evictionMinimumReclaim: {}, enforceNodeAllocatable: [], mergeDefaultEvictionSettings: false, ...s,
});
const Mi = 1024 * 1024;

test('parseThresholdStatement: quantities and percentages as upstream', () => {
  assert.deepEqual(parseThresholdStatement('memory.available', '100Mi'), { signal: 'memory.available', value: { quantityNanos: 100n * 1048576n * 1_000_000_000n, format: 'BinarySI' }, gracePeriodMs: 0 });
  assert.deepEqual(parseThresholdStatement('nodefs.available', '10%'), { signal: 'nodefs.available', value: { percentage: Math.fround(0.1) }, gracePeriodMs: 0 });
  assert.equal(parseThresholdStatement('nodefs.available', '0%'), null);
  assert.equal(parseThresholdStatement('nodefs.available', '100%'), null);
  assert.throws(() => parseThresholdStatement('memory.free', '1Gi'), /unsupported eviction signal memory.free/);
  assert.throws(() => parseThresholdStatement('memory.available', '0'), /must be positive/);
  assert.throws(() => parseThresholdStatement('memory.available', '-1Gi'), /must be positive/);
  assert.throws(() => parseThresholdStatement('memory.available', '120%'), /must be <= 100%/);
  assert.throws(() => parseThresholdStatement('memory.available', 'x%'), isInvalidInput);
});

test('parseThresholdConfig: hard, soft with grace periods, minimum reclaim, allocatable copy', () => {
  const t = parseThresholdConfig(settings({
    evictionHard: { 'memory.available': '100Mi' },
    evictionSoft: { 'memory.available': '300Mi' },
    evictionSoftGracePeriod: { 'memory.available': '1m30s' },
    evictionMinimumReclaim: { 'memory.available': '50Mi' },
    enforceNodeAllocatable: ['pods'],
  }));
  assert.deepEqual(t.map((x) => [x.signal, x.gracePeriodMs, !!x.minReclaim]), [
    ['memory.available', 0, true],
    ['memory.available', 90_000, true],
    ['allocatableMemory.available', 0, true],
  ]);
  assert.throws(() => parseThresholdConfig(settings({ evictionSoft: { 'memory.available': '1Gi' } })), /grace period must be specified for the soft eviction threshold memory.available/);
  assert.throws(() => parseThresholdConfig(settings({ evictionMinimumReclaim: { 'memory.available': '0%' } })), /must be positive/);
});

test('thresholdQuantity: the quantity, or capacity x float32 percentage truncated', () => {
  assert.equal(thresholdQuantity({ quantityNanos: 1_500_000_000n, format: 'DecimalSI' }, 0), 2);
  assert.equal(thresholdQuantity({ percentage: Math.fround(0.1) }, 1000), 100);
  assert.equal(thresholdQuantity({ percentage: Math.fround(0.05) }, 16_777_216), Math.trunc(16_777_216 * Math.fround(0.05)));
  assert.equal(formatThresholdQuantity(parseThresholdStatement('memory.available', '100Mi')!.value, 0), '100Mi');
  assert.equal(formatThresholdQuantity(parseThresholdStatement('memory.available', '1024Mi')!.value, 0), '1Gi');
  assert.equal(formatThresholdQuantity(parseThresholdStatement('memory.available', '500M')!.value, 0), '500M');
  assert.equal(formatThresholdQuantity(parseThresholdStatement('nodefs.available', '50%')!.value, 2048), '1Ki');
});

const summary = (p: Partial<SummaryMs['node']> = {}): SummaryMs => ({ node: { nodeName: 'n', startTime: 0, ...p }, pods: [] });

test('makeSignalObservations: memory from the node, allocatable from the pods cgroup, filesystems, pids', () => {
  const o = makeSignalObservations(summary({
    memory: { time: 5, availableBytes: 300 * Mi, workingSetBytes: 700 * Mi },
    systemContainers: [{ name: 'pods', startTime: 0, memory: { time: 6, availableBytes: 100 * Mi, workingSetBytes: 400 * Mi } }],
    fs: { time: 7, availableBytes: 10, capacityBytes: 100, inodesFree: 5, inodes: 50 },
    runtime: { imageFs: { time: 8, availableBytes: 20, capacityBytes: 200 } },
    rlimit: { time: 9, maxpid: 1000, curproc: 990 },
  }));
  assert.deepEqual(o['memory.available'], { available: 300 * Mi, capacity: 1000 * Mi, timeMs: 5 });
  assert.deepEqual(o['allocatableMemory.available'], { available: 100 * Mi, capacity: 500 * Mi, timeMs: 6 });
  assert.deepEqual(o['nodefs.available'], { available: 10, capacity: 100, timeMs: 7 });
  assert.deepEqual(o['nodefs.inodesFree'], { available: 5, capacity: 50, timeMs: 7 });
  assert.deepEqual(o['imagefs.available'], { available: 20, capacity: 200, timeMs: 8 });
  assert.equal(o['imagefs.inodesFree'], undefined);
  assert.deepEqual(o['pid.available'], { available: 10, capacity: 1000, timeMs: 9 });
});

test('thresholdsMet: below the threshold (plus minimum reclaim when asked); no observation, no threshold', () => {
  const [t] = parseThresholdConfig(settings({ evictionHard: { 'memory.available': '100Mi' }, evictionMinimumReclaim: { 'memory.available': '50Mi' } }));
  const obs = (available: number): ReturnType<typeof makeSignalObservations> => ({ 'memory.available': { available, capacity: 1000 * Mi } });
  assert.equal(thresholdsMet([t!], obs(99 * Mi), false).length, 1);
  assert.equal(thresholdsMet([t!], obs(100 * Mi), false).length, 0);
  assert.equal(thresholdsMet([t!], obs(120 * Mi), true).length, 1);
  assert.equal(thresholdsMet([t!], obs(150 * Mi), true).length, 0);
  assert.equal(thresholdsMet([t!], {}, false).length, 0);
});

test('grace periods, node conditions and the pressure transition period', () => {
  const [hard, soft] = parseThresholdConfig(settings({
    evictionHard: { 'nodefs.available': '10%' }, evictionSoft: { 'memory.available': '1Gi' }, evictionSoftGracePeriod: { 'memory.available': '30s' },
  }));
  let observed = thresholdsFirstObservedAt([hard!, soft!], new Map(), 1000);
  assert.deepEqual(thresholdsMetGracePeriod(observed, 1000), [hard]);
  observed = thresholdsFirstObservedAt([hard!, soft!], observed, 31_000);
  assert.deepEqual(thresholdsMetGracePeriod(observed, 31_000), [hard, soft]);
  assert.deepEqual(nodeConditionsOf([hard!, soft!]), ['DiskPressure', 'MemoryPressure']);
  let last = nodeConditionsLastObservedAt(['MemoryPressure'], new Map(), 0);
  last = nodeConditionsLastObservedAt([], last, 10_000);
  assert.deepEqual(nodeConditionsObservedSince(last, 300_000, 10_000), ['MemoryPressure']);
  assert.deepEqual(nodeConditionsObservedSince(last, 300_000, 300_000), []);
  assert.deepEqual(sortByEvictionPriority([hard!, soft!]).map((t) => t.signal), ['memory.available', 'nodefs.available']);
  assert.equal(mergeThresholds([hard!], [hard!, soft!]).length, 2);
  assert.deepEqual(thresholdsUpdatedStats([soft!], { 'memory.available': { available: 1, capacity: 2, timeMs: 5 } }, { 'memory.available': { available: 1, capacity: 2, timeMs: 5 } }), []);
});

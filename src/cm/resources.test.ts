import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../kube/types.ts';
import { isInvalidInput } from '../common/errors.ts';
import {
  containerLinuxResources,
  getContainerOOMScoreAdjust,
  milliCPUToQuota,
  milliCPUToShares,
  podCgroupName,
  podLimits,
  podRequests,
  podResourceLimits,
  podSandboxCgroupParent,
  qosCgroupCpuShares,
  qosCgroupName,
} from './resources.ts';

type List = Record<string, string>;
const ctr = (name: string, requests?: List, limits?: List, restartPolicy?: string): Container => ({
  name,
  resources: { requests, limits },
  restartPolicy,
});
const mkPod = (containers: Container[], initContainers: Container[] = [], extra: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({
  metadata: { uid: 'u1', name: 'p', namespace: 'ns' },
  spec: { containers, initContainers, ...extra },
});
const both = (cpu: string, memory: string): List => ({ cpu, memory });
const GB8 = 8_000_000_000;
const quotaOn = { cpuCFSQuota: true, cpuCFSQuotaPeriodUs: 100_000 };

test('milliCPUToShares', () => {
  const cases: [number, number][] = [
    [0, 2], [1, 2], [2, 2], [3, 3], [10, 10], [100, 102], [500, 512], [1000, 1024], [1500, 1536],
    [256_000, 262_144], [300_000, 262_144], [-5, 2],
  ];
  for (const [milli, want] of cases) assert.equal(milliCPUToShares(milli), want, String(milli));
});

test('milliCPUToQuota', () => {
  const cases: [number, number, number][] = [
    [0, 100_000, 0], [5, 100_000, 1000], [9, 100_000, 1000], [10, 100_000, 1000], [11, 100_000, 1100],
    [200, 100_000, 20_000], [500, 100_000, 50_000], [1000, 100_000, 100_000], [1500, 100_000, 150_000],
    [1500, 50_000, 75_000], [50, 10_000, 1000], [333, 100_000, 33_300],
  ];
  for (const [milli, period, want] of cases) assert.equal(milliCPUToQuota(milli, period), want, `${milli}/${period}`);
});

test('containerLinuxResources: a burstable container', () => {
  const c = ctr('a', { cpu: '100m', memory: '128Mi' }, { cpu: '200m', memory: '256Mi' });
  assert.deepEqual(containerLinuxResources(c, { pod: mkPod([c]), ...quotaOn, memoryCapacityBytes: 2 ** 30 }), {
    cpu_shares: 102,
    cpu_quota: 20_000,
    cpu_period: 100_000,
    memory_limit_in_bytes: 268_435_456,
    oom_score_adj: 875,
  });
});

test('containerLinuxResources: cpu shares come from the limit when there is no request', () => {
  const c = ctr('a', undefined, both('1', '1Gi'));
  const r = containerLinuxResources(c, { pod: mkPod([c]), ...quotaOn, memoryCapacityBytes: GB8 });
  assert.equal(r.cpu_shares, 1024);
  assert.equal(r.cpu_quota, 100_000);
  assert.equal(r.oom_score_adj, -997);
});

test('containerLinuxResources: an explicit request of 0 gives the minimum shares', () => {
  const c = ctr('a', { cpu: '0' }, { cpu: '1' });
  assert.equal(containerLinuxResources(c, { pod: mkPod([c]), ...quotaOn, memoryCapacityBytes: GB8 }).cpu_shares, 2);
});

test('containerLinuxResources: a best-effort container', () => {
  const c = ctr('a');
  assert.deepEqual(containerLinuxResources(c, { pod: mkPod([c]), ...quotaOn, memoryCapacityBytes: GB8 }), {
    cpu_shares: 2,
    cpu_quota: 0,
    cpu_period: 100_000,
    memory_limit_in_bytes: 0,
    oom_score_adj: 1000,
  });
});

test('containerLinuxResources: CFS quota off, custom period, rounding up', () => {
  const c = ctr('a', { cpu: '0.0001' }, { cpu: '1500m', memory: '1000.5' });
  const pod = mkPod([c]);
  const off = containerLinuxResources(c, { pod, cpuCFSQuota: false, cpuCFSQuotaPeriodUs: 100_000, memoryCapacityBytes: GB8 });
  assert.equal(off.cpu_quota, 0);
  assert.equal(off.cpu_period, 0);
  assert.equal(off.cpu_shares, 2); // 0.1m rounds up to 1m: 1 share, raised to 2
  assert.equal(off.memory_limit_in_bytes, 1001);
  const custom = containerLinuxResources(c, { pod, cpuCFSQuota: true, cpuCFSQuotaPeriodUs: 50_000, memoryCapacityBytes: GB8 });
  assert.equal(custom.cpu_quota, 75_000);
  assert.equal(custom.cpu_period, 50_000);
});

test('containerLinuxResources: bad quantities are InvalidInput', () => {
  const c = ctr('a', undefined, { memory: '-1' });
  assert.throws(() => containerLinuxResources(c, { pod: mkPod([c]), ...quotaOn, memoryCapacityBytes: GB8 }), isInvalidInput);
  const d = ctr('a', { cpu: 'one' });
  assert.throws(() => containerLinuxResources(d, { pod: mkPod([d]), ...quotaOn, memoryCapacityBytes: GB8 }), isInvalidInput);
});

test('OOM score: guaranteed, best-effort, burstable', () => {
  const g = ctr('g', undefined, both('1', '1Gi'));
  assert.equal(getContainerOOMScoreAdjust(mkPod([g]), g, GB8), -997);
  const be = ctr('be');
  assert.equal(getContainerOOMScoreAdjust(mkPod([be]), be, GB8), 1000);
  const half = ctr('b', { memory: '4G' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([half]), half, GB8), 500);
  const cpuOnly = ctr('b', { cpu: '1' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([cpuOnly]), cpuOnly, GB8), 999); // 1000 is best-effort's
  const tiny = ctr('b', { memory: '1M' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([tiny]), tiny, GB8), 999); // 1000 - 0
  const small = ctr('b', { memory: '8M' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([small]), small, GB8), 999);
  const third = ctr('b', { memory: '3G' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([third]), third, GB8), 625);
  const all = ctr('b', { memory: '8G' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([all]), all, GB8), 3); // floor: 1000 - 997
  const over = ctr('b', { memory: '10G' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([over]), over, GB8), 3);
  const almost = ctr('b', { memory: '7.99G' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([almost]), almost, GB8), 3); // 1000 - 998 = 2 -> 3
});

test('OOM score: the container request counts, not the pod', () => {
  const a = ctr('a', { memory: '4G' });
  const b = ctr('b');
  const pod = mkPod([a, b]);
  assert.equal(getContainerOOMScoreAdjust(pod, a, GB8), 500);
  assert.equal(getContainerOOMScoreAdjust(pod, b, GB8), 999);
});

test('OOM score: node-critical pods get -997 whatever their QoS', () => {
  const c = ctr('a');
  const pod: Pod = {
    metadata: { annotations: { 'kubernetes.io/config.source': 'file' } },
    spec: { containers: [c], priorityClassName: 'system-node-critical' },
  };
  assert.equal(getContainerOOMScoreAdjust(pod, c, GB8), -997);
  assert.equal(getContainerOOMScoreAdjust({ ...pod, spec: { containers: [c], priorityClassName: 'system-cluster-critical' } }, c, GB8), 1000);
});

test('OOM score: a sidecar gets no more than the smallest regular request', () => {
  const sidecar = ctr('side', { memory: '1G' }, undefined, 'Always');
  const pod = mkPod([ctr('a', { memory: '4G' }), ctr('b', { memory: '2G' })], [sidecar]);
  assert.equal(getContainerOOMScoreAdjust(pod, sidecar, GB8), 750); // own 875, smallest regular 750
  const big = ctr('side', { memory: '6G' }, undefined, 'Always');
  assert.equal(getContainerOOMScoreAdjust(mkPod([ctr('a', { memory: '2G' })], [big]), big, GB8), 250); // own is lower
  // A regular container without a memory request: no adjustment.
  assert.equal(getContainerOOMScoreAdjust(mkPod([ctr('a', { memory: '4G' }), ctr('b', { cpu: '1' })], [sidecar]), sidecar, GB8), 875);
  // A plain init container is not a sidecar.
  const init = ctr('init', { memory: '1G' });
  assert.equal(getContainerOOMScoreAdjust(mkPod([ctr('a', { memory: '4G' })], [init]), init, GB8), 875);
});

test('OOM score: bad capacity is InvalidInput, for Burstable pods only', () => {
  const c = ctr('a', { memory: '1Gi' });
  assert.throws(() => getContainerOOMScoreAdjust(mkPod([c]), c, 0), isInvalidInput);
  assert.throws(() => getContainerOOMScoreAdjust(mkPod([c]), c, 1.5), isInvalidInput);
  assert.throws(() => getContainerOOMScoreAdjust(mkPod([c]), c, Number.NaN), isInvalidInput);
  const be = ctr('be');
  assert.equal(getContainerOOMScoreAdjust(mkPod([be]), be, Number.NaN), 1000);
});

test('containerLinuxResources: oom_score_adj is unset without the pod', () => {
  const c = ctr('a', { memory: '1Gi' });
  assert.equal(containerLinuxResources(c, { ...quotaOn, podPidsLimit: 10 }).oom_score_adj, 0);
  assert.throws(() => containerLinuxResources(c, { ...quotaOn, pod: mkPod([c]) }), isInvalidInput);
});

test('pod cgroup names (cgroupfs)', () => {
  assert.equal(qosCgroupName('Guaranteed'), '/kubepods');
  assert.equal(qosCgroupName('Burstable'), '/kubepods/burstable');
  assert.equal(qosCgroupName('BestEffort', '/custom/'), '/custom/kubepods/besteffort');
  assert.equal(podCgroupName('Guaranteed', 'abc'), '/kubepods/podabc');
  assert.equal(podCgroupName('Burstable', 'abc'), '/kubepods/burstable/podabc');
  assert.equal(podCgroupName('BestEffort', 'abc'), '/kubepods/besteffort/podabc');
  assert.equal(podCgroupName('Burstable', 'abc', '/custom//root'), '/custom/root/kubepods/burstable/podabc');
  assert.equal(podCgroupName('Guaranteed', 'abc', ''), '/kubepods/podabc');
});

test('podSandboxCgroupParent', () => {
  const pod = mkPod([ctr('a', { cpu: '1' })]);
  assert.equal(podSandboxCgroupParent(pod, { cgroupRoot: '/', cgroupsPerQOS: true }), '/kubepods/burstable/podu1');
  assert.equal(podSandboxCgroupParent(mkPod([ctr('a')]), { cgroupRoot: '/', cgroupsPerQOS: true }), '/kubepods/besteffort/podu1');
  assert.equal(podSandboxCgroupParent(pod, { cgroupRoot: '/', cgroupsPerQOS: false }), '/');
  assert.equal(podSandboxCgroupParent(pod, { cgroupRoot: '', cgroupsPerQOS: false }), '/');
  assert.equal(podSandboxCgroupParent(pod, { cgroupRoot: '/system/', cgroupsPerQOS: false }), '/system');
});

const milli = (nanos: bigint | undefined): number => Number((nanos ?? 0n) / 1_000_000n);

test('podRequests: containers add up, init containers take the max, sidecars count for both', () => {
  assert.equal(milli(podRequests(mkPod([ctr('a', { cpu: '100m' }), ctr('b', { cpu: '200m' })])).get('cpu')), 300);
  assert.equal(milli(podRequests(mkPod([ctr('a', { cpu: '100m' })], [ctr('i', { cpu: '1' })])).get('cpu')), 1000);
  assert.equal(milli(podRequests(mkPod([ctr('a', { cpu: '2' })], [ctr('i', { cpu: '1' })])).get('cpu')), 2000);
  // Sidecar 200m then init 500m: the init phase needs 700m, running needs 100m + 200m.
  const sidecarPod = mkPod([ctr('a', { cpu: '100m' })], [ctr('s', { cpu: '200m' }, undefined, 'Always'), ctr('i', { cpu: '500m' })]);
  assert.equal(milli(podRequests(sidecarPod).get('cpu')), 700);
  // An init container started before the sidecar does not run beside it.
  const before = mkPod([ctr('a', { cpu: '100m' })], [ctr('i', { cpu: '500m' }), ctr('s', { cpu: '200m' }, undefined, 'Always')]);
  assert.equal(milli(podRequests(before).get('cpu')), 500);
  // Requests default to limits.
  assert.equal(milli(podRequests(mkPod([ctr('a', undefined, { cpu: '1' })])).get('cpu')), 1000);
});

test('podRequests / podLimits: overhead and pod-level resources', () => {
  const overhead = { overhead: { cpu: '250m', memory: '100Mi' } };
  const pod = mkPod([ctr('a', { cpu: '1' }, { cpu: '2' })], [], overhead);
  assert.equal(milli(podRequests(pod).get('cpu')), 1250);
  assert.equal(milli(podRequests(pod).get('memory')), 100 * 2 ** 20 * 1000);
  assert.equal(milli(podLimits(pod).get('cpu')), 2250);
  assert.equal(podLimits(pod).has('memory'), false); // overhead only adds to limited resources
  const podLevel = mkPod([ctr('a', { cpu: '1', memory: '1Gi' })], [], { resources: { limits: { cpu: '3' } } });
  assert.equal(milli(podRequests(podLevel).get('cpu')), 3000);
  assert.equal(milli(podRequests(podLevel).get('memory')), 2 ** 30 * 1000);
  assert.equal(milli(podLimits(podLevel).get('cpu')), 3000);
});

test('podResourceLimits: guaranteed', () => {
  const pod = mkPod([ctr('a', undefined, both('1', '1Gi')), ctr('b', undefined, both('500m', '512Mi'))]);
  assert.deepEqual(podResourceLimits(pod, quotaOn), {
    cpuShares: 1536,
    cpuQuota: 150_000,
    cpuPeriod: 100_000,
    memoryLimitBytes: 1.5 * 2 ** 30,
  });
  assert.deepEqual(podResourceLimits(pod, { cpuCFSQuota: false, cpuCFSQuotaPeriodUs: 100_000, podPidsLimit: 1024 }), {
    cpuShares: 1536,
    cpuQuota: -1,
    cpuPeriod: 100_000,
    memoryLimitBytes: 1.5 * 2 ** 30,
    pidsLimit: 1024,
  });
});

test('podResourceLimits: burstable sets only what every container limits', () => {
  const cpuAll = mkPod([ctr('a', { cpu: '100m' }, { cpu: '1', memory: '1Gi' }), ctr('b', { cpu: '100m' }, { cpu: '1' })]);
  assert.deepEqual(podResourceLimits(cpuAll, quotaOn), { cpuShares: 204, cpuQuota: 200_000, cpuPeriod: 100_000 });
  const memAll = mkPod([ctr('a', { cpu: '100m' }, { memory: '1Gi' }), ctr('b', undefined, { cpu: '1', memory: '1Gi' })]);
  assert.deepEqual(podResourceLimits(memAll, quotaOn), { cpuShares: 1126, memoryLimitBytes: 2 ** 31 });
  const none = mkPod([ctr('a', { cpu: '100m' })]);
  assert.deepEqual(podResourceLimits(none, quotaOn), { cpuShares: 102 });
  // An init container without limits also leaves them unset.
  const init = mkPod([ctr('a', { cpu: '1' }, both('2', '1Gi'))], [ctr('i')]);
  assert.deepEqual(podResourceLimits(init, quotaOn), { cpuShares: 1024 });
});

test('podResourceLimits: best-effort and pids', () => {
  const pod = mkPod([ctr('a')]);
  assert.deepEqual(podResourceLimits(pod, quotaOn), { cpuShares: 2 });
  assert.deepEqual(podResourceLimits(pod, { ...quotaOn, podPidsLimit: -1 }), { cpuShares: 2 });
  assert.deepEqual(podResourceLimits(pod, { ...quotaOn, podPidsLimit: 0 }), { cpuShares: 2 });
  assert.deepEqual(podResourceLimits(pod, { ...quotaOn, podPidsLimit: 100 }), { cpuShares: 2, pidsLimit: 100 });
});

test('podResourceLimits: pod-level limits count as declared', () => {
  const pod = mkPod([ctr('a'), ctr('b')], [], { resources: { limits: both('2', '2Gi') } });
  assert.deepEqual(podResourceLimits(pod, quotaOn), { cpuShares: 2048, cpuQuota: 200_000, cpuPeriod: 100_000, memoryLimitBytes: 2 ** 31 });
  const burst = mkPod([ctr('a'), ctr('b')], [], { resources: { requests: both('1', '1Gi'), limits: { memory: '2Gi' } } });
  assert.deepEqual(podResourceLimits(burst, quotaOn), { cpuShares: 1024, memoryLimitBytes: 2 ** 31 });
});

test('qosCgroupCpuShares: burstable sums the Burstable pods cpu requests, besteffort is 2', () => {
  const burstable = (uid: string, cpu: string): Pod => ({ ...mkPod([ctr('a', { cpu })]), metadata: { uid, name: uid, namespace: 'ns' } });
  const guaranteed = mkPod([ctr('g', both('1', '1Gi'), both('1', '1Gi'))]);
  const besteffort = mkPod([ctr('b')]);
  assert.deepEqual(qosCgroupCpuShares([]), { burstable: 2, bestEffort: 2 });
  assert.deepEqual(qosCgroupCpuShares([burstable('x', '250m'), burstable('y', '500m'), guaranteed, besteffort]), { burstable: 768, bestEffort: 2 });
});

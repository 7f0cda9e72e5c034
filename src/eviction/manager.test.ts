import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import type { SummaryMs } from '../stats/types.ts';
import { EvictionManager, type EvictionConfig, type EvictPodOptions, type NodeReclaimer } from './manager.ts';

const Mi = 1024 * 1024;
const config = (c: Partial<EvictionConfig> = {}): EvictionConfig => ({
  evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '10%' },
  evictionSoft: {},
  evictionSoftGracePeriod: {},
  evictionMinimumReclaim: {},
  enforceNodeAllocatable: ['pods'],
  mergeDefaultEvictionSettings: false,
  evictionPressureTransitionPeriodMs: 300_000,
  evictionMaxPodGracePeriod: 0,
  ...c,
});
const pod = (name: string, requests?: Record<string, string>, extra: Partial<NonNullable<Pod['spec']>> = {}, annotations?: Record<string, string>): Pod => ({
  metadata: { name, namespace: 'ns', uid: name, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'c', image: 'i', resources: requests ? { requests } : {} }], ...extra },
});

class Fixture {
  clock = new FakeClock(1_000_000);
  available = 1000 * Mi;
  fsAvailable = 500;
  usage = new Map<string, number>();
  active: Pod[] = [];
  evicted: { pod: string; opts: EvictPodOptions }[] = [];
  events: string[] = [];
  reclaimed: string[] = [];
  conditionChanges: string[][] = [];
  /** runtimeStats of each summary call. */
  summaryCalls: boolean[] = [];
  /** A pod's writable-layer usage, in the summary only with runtimeStats (as the provider's). */
  rootfs = new Map<string, number>();
  manager: EvictionManager;
  constructor(c: Partial<EvictionConfig> = {}, reclaimer?: NodeReclaimer) {
    this.manager = new EvictionManager({
      config: config(c),
      summary: (_signal, { runtimeStats }) => {
        this.summaryCalls.push(runtimeStats);
        const s = this.summary();
        if (runtimeStats) for (const p of s.pods) p.containers[0]!.rootfs = { time: 0, usedBytes: this.rootfs.get(p.podRef.name) ?? 0 };
        return Promise.resolve(s);
      },
      pods: {
        activePods: () => this.active,
        evictPod: (p, opts) => {
          this.evicted.push({ pod: p.metadata!.name!, opts });
          this.active = this.active.filter((x) => x !== p);
          return Promise.resolve();
        },
        podCleanedUp: () => true,
      },
      dedicatedImageFs: () => Promise.resolve(false),
      ...(reclaimer ? { reclaimer } : {}),
      recorder: { event: (p, type, reason, message) => this.events.push(`${p.metadata?.name} ${type} ${reason}: ${message}`) },
      clock: this.clock,
      logger: silentLogger,
      onConditionsChanged: (cs) => this.conditionChanges.push([...cs]),
    });
  }
  summary(): SummaryMs {
    const now = this.clock.now();
    return {
      node: {
        nodeName: 'n', startTime: 0,
        memory: { time: now, availableBytes: this.available, workingSetBytes: 4000 * Mi - this.available },
        fs: { time: now, availableBytes: this.fsAvailable, capacityBytes: 1000, inodesFree: 100, inodes: 100 },
      },
      pods: this.active.map((p) => ({
        podRef: { name: p.metadata!.name!, namespace: 'ns', uid: p.metadata!.uid! },
        startTime: 0,
        containers: [{ name: 'c', startTime: 0, memory: { time: now, workingSetBytes: this.usage.get(p.metadata!.name!) ?? 0 } }],
        memory: { time: now, workingSetBytes: this.usage.get(p.metadata!.name!) ?? 0 },
      })),
    };
  }
}

test('memory pressure: MemoryPressure, the BestEffort pod over its (zero) request goes before a Burstable one within its request', async () => {
  const f = new Fixture();
  const burstable = pod('burstable', { memory: '200Mi' });
  const besteffort = pod('besteffort');
  f.active = [burstable, besteffort];
  f.usage.set('burstable', 150 * Mi).set('besteffort', 300 * Mi);
  const signal = new AbortController().signal;
  assert.deepEqual(await f.manager.synchronize(signal), []);
  assert.deepEqual(f.manager.pressure(), { memory: false, disk: false, pid: false });

  f.available = 80 * Mi;
  f.clock.advance(10_000);
  const evicted = await f.manager.synchronize(signal);
  assert.deepEqual(evicted.map((p) => p.metadata?.name), ['besteffort']);
  assert.deepEqual(f.manager.pressure(), { memory: true, disk: false, pid: false });
  assert.deepEqual(f.conditionChanges, [['MemoryPressure']]);
  const e = f.evicted[0]!;
  assert.equal(e.opts.gracePeriodSeconds, 1);
  assert.equal(e.opts.message, 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. Container c was using 300Mi, request is 0, has larger consumption of memory. ');
  assert.deepEqual(e.opts.condition, { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: e.opts.message });
  assert.deepEqual(f.events, [`besteffort Warning Evicted: ${e.opts.message}`]);

  // Admission under memory pressure: BestEffort pods are rejected, others and critical pods admitted.
  assert.deepEqual(f.manager.admit(pod('new-be')), { admit: false, reason: 'Evicted', message: 'The node had condition: [MemoryPressure]. ' });
  assert.deepEqual(f.manager.admit(pod('new-burstable', { memory: '1Mi' })), { admit: true });
  assert.deepEqual(f.manager.admit(pod('tolerating', undefined, { tolerations: [{ key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' }] })), { admit: true });
  assert.deepEqual(f.manager.admit(pod('static', undefined, {}, { 'kubernetes.io/config.source': 'file' })), { admit: true });

  // Pressure relieved: the condition stays for the transition period, then clears.
  f.available = 2000 * Mi;
  f.clock.advance(10_000);
  assert.deepEqual(await f.manager.synchronize(signal), []);
  assert.equal(f.manager.pressure().memory, true);
  f.clock.advance(300_000);
  await f.manager.synchronize(signal);
  assert.equal(f.manager.pressure().memory, false);
  assert.deepEqual(f.manager.admit(pod('later-be')), { admit: true });
});

test('critical (static) pods are never evicted', async () => {
  const f = new Fixture();
  f.active = [pod('static', undefined, {}, { 'kubernetes.io/config.source': 'file' })];
  f.usage.set('static', 500 * Mi);
  f.available = 10 * Mi;
  assert.deepEqual(await f.manager.synchronize(new AbortController().signal), []);
  assert.deepEqual(f.evicted, []);
});

test('soft threshold: evicts only after its grace period, with evictionMaxPodGracePeriod capped by the pod', async () => {
  const f = new Fixture({ evictionHard: {}, evictionSoft: { 'memory.available': '500Mi' }, evictionSoftGracePeriod: { 'memory.available': '30s' }, evictionMaxPodGracePeriod: 20 });
  f.active = [pod('a', undefined, { terminationGracePeriodSeconds: 5 })];
  f.usage.set('a', 100 * Mi);
  f.available = 400 * Mi;
  const signal = new AbortController().signal;
  assert.deepEqual(await f.manager.synchronize(signal), []);
  assert.equal(f.manager.pressure().memory, true);
  f.clock.advance(29_000);
  assert.deepEqual(await f.manager.synchronize(signal), []);
  f.clock.advance(1_000);
  assert.equal((await f.manager.synchronize(signal)).length, 1);
  assert.equal(f.evicted[0]!.opts.gracePeriodSeconds, 5);
});

test('disk pressure: node-level reclaim first; pods only when it is not enough; every pod rejected meanwhile', async () => {
  let freed = 0;
  const f = new Fixture({}, {
    deleteAllUnusedContainers: () => {
      f.reclaimed.push('containers');
      return Promise.resolve();
    },
    deleteUnusedImages: () => {
      f.reclaimed.push('images');
      f.fsAvailable += freed;
      return Promise.resolve();
    },
  });
  f.active = [pod('a')];
  f.fsAvailable = 50;
  freed = 100;
  const signal = new AbortController().signal;
  assert.deepEqual(await f.manager.synchronize(signal), []);
  assert.deepEqual(f.reclaimed, ['containers', 'images']);
  assert.equal(f.evicted.length, 0);
  assert.equal(f.manager.pressure().disk, true);
  assert.deepEqual(f.manager.admit(pod('burstable', { memory: '1Mi' })), { admit: false, reason: 'Evicted', message: 'The node had condition: [DiskPressure]. ' });
  f.fsAvailable = 50;
  freed = 0;
  f.clock.advance(10_000);
  assert.equal((await f.manager.synchronize(signal)).length, 1);
  assert.match(f.evicted[0]!.opts.message, /^The node was low on resource: ephemeral-storage\. Threshold quantity: 100, available: 50\. $/);
});

test('local storage: a pod over its emptyDir sizeLimit is evicted whatever the node state', async () => {
  const f = new Fixture();
  const p = pod('writer', undefined, { volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '1Mi' as unknown as never } }] });
  f.active = [p];
  const base = f.summary.bind(f);
  f.summary = () => {
    const s = base();
    s.pods[0]!.volume = [{ time: 0, name: 'scratch', usedBytes: 2 * Mi }];
    return s;
  };
  const evicted = await f.manager.synchronize(new AbortController().signal);
  assert.equal(evicted.length, 1);
  assert.equal(f.evicted[0]!.opts.message, 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ');
  assert.equal(f.evicted[0]!.opts.condition, undefined);
});

test('runtime stats: never for an idle node; for an ephemeral-storage limit; for disk pressure, read again the round it shows', async () => {
  const f = new Fixture();
  const signal = new AbortController().signal;
  f.active = [pod('a'), pod('b', undefined, { volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Mi' as unknown as never } }] })];
  await f.manager.synchronize(signal);
  f.clock.advance(10_000);
  await f.manager.synchronize(signal);
  assert.deepEqual(f.summaryCalls, [false, false], 'no ephemeral-storage limit, no disk pressure: the shims are left alone');

  f.summaryCalls = [];
  const limited = pod('limited', undefined, { containers: [{ name: 'c', image: 'i', resources: { limits: { 'ephemeral-storage': '100' } } }] });
  f.active = [pod('a'), limited];
  f.rootfs.set('limited', 101);
  f.clock.advance(10_000);
  assert.deepEqual((await f.manager.synchronize(signal)).map((p) => p.metadata?.name), ['limited'], 'the writable layer is there: over its limit');
  assert.deepEqual(f.summaryCalls, [true]);
  assert.equal(f.evicted[0]!.opts.message, 'Container c exceeded its local ephemeral storage limit "100". ');

  // Disk pressure: the pod writing most to its writable layer goes first, so the stats must have them.
  f.summaryCalls = [];
  f.active = [pod('small'), pod('big'), pod('mid')];
  f.rootfs.set('small', 1).set('big', 300).set('mid', 20);
  f.fsAvailable = 50;
  f.clock.advance(10_000);
  assert.deepEqual((await f.manager.synchronize(signal)).map((p) => p.metadata?.name), ['big']);
  assert.deepEqual(f.summaryCalls, [false, true], 'read without, nodefs below its threshold: read again with them');
  f.summaryCalls = [];
  f.clock.advance(10_000);
  await f.manager.synchronize(signal);
  assert.deepEqual(f.summaryCalls, [true], 'still under pressure: with them at once');
  f.summaryCalls = [];
  f.fsAvailable = 500;
  f.clock.advance(10_000);
  await f.manager.synchronize(signal);
  f.clock.advance(10_000);
  await f.manager.synchronize(signal);
  assert.deepEqual(f.summaryCalls, [true, false], 'pressure gone: one more round with them (decided on the last observations), then without');
});

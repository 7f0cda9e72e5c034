import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FakeClock } from '../common/clock.ts';
import type { Pod } from '../kube/types.ts';
import { createLogger, silentLogger } from '../observability/logger.ts';
import type { CgroupManager, CgroupResources } from './cgroup-manager.ts';
import { ContainerManager, QOS_CGROUP_UPDATE_PERIOD_MS } from './container-manager.ts';

class FakeCgroups implements CgroupManager {
  readonly groups = new Map<string, CgroupResources>();
  readonly calls: string[] = [];
  /** Memory usage per cgroup, bytes: a memory limit below it is refused, as the kernel does (EBUSY). */
  readonly usage = new Map<string, bigint>();
  version(): Promise<1 | 2> {
    return Promise.resolve(1);
  }
  exists(name: string): Promise<boolean> {
    return Promise.resolve(this.groups.has(name));
  }
  create(name: string, r: CgroupResources): Promise<void> {
    this.calls.push(`create ${name}`);
    this.groups.set(name, { ...r });
    return Promise.resolve();
  }
  update(name: string, r: CgroupResources): Promise<void> {
    if (!this.groups.has(name)) return Promise.reject(new Error(`no ${name}`));
    this.calls.push(`update ${name}`);
    const { memoryLimitBytes, ...rest } = r;
    const refused = memoryLimitBytes !== undefined && (memoryLimitBytes <= 0 || BigInt(memoryLimitBytes) < (this.usage.get(name) ?? 0n));
    this.groups.set(name, { ...this.groups.get(name), ...rest, ...(refused || memoryLimitBytes === undefined ? {} : { memoryLimitBytes }) });
    return refused ? Promise.reject(new Error(`${name}: memory limit ${memoryLimitBytes} refused`)) : Promise.resolve();
  }
  memoryUsage(name: string): Promise<bigint> {
    return Promise.resolve(this.usage.get(name) ?? 0n);
  }
  children(name: string): Promise<string[]> {
    const prefix = `${name}/`;
    return Promise.resolve([...this.groups.keys()].filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/')).map((k) => k.slice(prefix.length)));
  }
}

const pod = (uid: string, resources: NonNullable<NonNullable<Pod['spec']>['containers'][number]['resources']>): Pod => ({
  metadata: { uid, name: uid, namespace: 'ns' },
  spec: { containers: [{ name: 'c', image: 'i', resources }] },
});

async function fakeProc(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'proc-'));
  await mkdir(path.join(dir, 'sys/kernel'), { recursive: true });
  await mkdir(path.join(dir, 'self'));
  await writeFile(path.join(dir, 'sys/kernel/pid_max'), '4194304\n');
  await writeFile(path.join(dir, 'self/oom_score_adj'), '0\n');
  return dir;
}

test('start: kubepods limited to node allocatable, burstable and besteffort made; pods get their cgroup with limits before the sandbox', async () => {
  const proc = await fakeProc();
  try {
    const cgroups = new FakeCgroups();
    const active: Pod[] = [];
    const cm = new ContainerManager({
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: 100, kubeReserved: { memory: '1Gi' }, systemReserved: {}, enforceNodeAllocatable: ['pods'], qosReserved: {}, featureGates: {} },
      machine: { numCores: 2, memoryCapacityBytes: 8 * 1024 ** 3 },
      activePods: () => active,
      knownPods: () => new Set(active.map((p) => p.metadata!.uid!)),
      clock: new FakeClock(),
      logger: silentLogger,
      cgroups,
      procRoot: proc,
    });
    await cm.start();
    assert.equal(await readFile(path.join(proc, 'self/oom_score_adj'), 'utf8'), '-999');
    assert.deepEqual(cgroups.groups.get('/kubepods'), { cpuShares: 2048, memoryLimitBytes: 7 * 1024 ** 3, pidsLimit: 4_194_304 });
    assert.deepEqual(cgroups.groups.get('/kubepods/burstable'), { cpuShares: 2 });
    assert.deepEqual(cgroups.groups.get('/kubepods/besteffort'), { cpuShares: 2 });

    const guaranteed = pod('g1', { requests: { cpu: '500m', memory: '64Mi' }, limits: { cpu: '500m', memory: '64Mi' } });
    const burstable = pod('b1', { requests: { cpu: '250m', memory: '32Mi' }, limits: { memory: '128Mi' } });
    const besteffort = pod('e1', {});
    active.push(guaranteed, burstable, besteffort);
    for (const p of active) await cm.ensurePod(p);
    assert.deepEqual(cgroups.groups.get('/kubepods/podg1'), { cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitBytes: 64 * 1024 * 1024, pidsLimit: 100 });
    assert.deepEqual(cgroups.groups.get('/kubepods/burstable/podb1'), { cpuShares: 256, memoryLimitBytes: 128 * 1024 * 1024, pidsLimit: 100 });
    assert.deepEqual(cgroups.groups.get('/kubepods/besteffort/pode1'), { cpuShares: 2, pidsLimit: 100 });
    assert.equal(cgroups.groups.get('/kubepods/burstable')?.cpuShares, 256);
    // an existing pod cgroup is left as it is
    const before = cgroups.calls.length;
    await cm.ensurePod(burstable);
    assert.equal(cgroups.calls.length, before);
  } finally {
    await rm(proc, { recursive: true, force: true });
  }
});

test('run: the QoS shares follow the active pods every minute', async () => {
  const proc = await fakeProc();
  const clock = new FakeClock();
  const ctrl = new AbortController();
  try {
    const cgroups = new FakeCgroups();
    let active: Pod[] = [];
    const cm = new ContainerManager({
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: {}, systemReserved: {}, enforceNodeAllocatable: ['pods'], qosReserved: {}, featureGates: {} },
      machine: { numCores: 2, memoryCapacityBytes: 1024 ** 3 },
      activePods: () => active,
      knownPods: () => new Set(),
      clock,
      logger: silentLogger,
      cgroups,
      procRoot: proc,
    });
    await cm.start();
    const running = cm.run(ctrl.signal);
    active = [pod('b2', { requests: { cpu: '1' } })];
    clock.advance(QOS_CGROUP_UPDATE_PERIOD_MS);
    for (let i = 0; i < 20 && cgroups.groups.get('/kubepods/burstable')?.cpuShares !== 1024; i++) await new Promise((r) => setImmediate(r));
    assert.equal(cgroups.groups.get('/kubepods/burstable')?.cpuShares, 1024);
    ctrl.abort();
    await running;
  } finally {
    ctrl.abort();
    await rm(proc, { recursive: true, force: true });
  }
});

test('a refused negative oom_score_adj is logged once, at start', async () => {
  const proc = await fakeProc();
  try {
    await rm(path.join(proc, 'self/oom_score_adj'));
    await mkdir(path.join(proc, 'self/oom_score_adj')); // writing to it fails, as the kernel's EACCES would
    const lines: string[] = [];
    const logger = createLogger(0, new Writable({ write: (chunk: Buffer, _enc, cb) => { lines.push(chunk.toString()); cb(); } }));
    const cgroups = new FakeCgroups();
    const cm = new ContainerManager({
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: {}, systemReserved: {}, enforceNodeAllocatable: ['pods'], qosReserved: {}, featureGates: {} },
      machine: { numCores: 1, memoryCapacityBytes: 1024 ** 3 },
      activePods: () => [],
      knownPods: () => new Set(),
      clock: new FakeClock(),
      logger,
      cgroups,
      procRoot: proc,
    });
    await cm.start();
    await cm.ensurePod(pod('g', { limits: { cpu: '1', memory: '1Gi' } }));
    await cm.ensurePod(pod('g2', { limits: { cpu: '1', memory: '1Gi' } }));
    const warnings = lines.filter((l) => l.includes('oom_score_adj'));
    assert.equal(warnings.length, 1, lines.join(''));
    assert.match(warnings[0]!, /refuses negative oom_score_adj/);
  } finally {
    await rm(proc, { recursive: true, force: true });
  }
});

test('start removes the empty cgroups of pods nobody knows; a known pod keeps its cgroup', async () => {
  const proc = await fakeProc();
  const mount = await mkdtemp(path.join(tmpdir(), 'cgmount-'));
  try {
    for (const d of ['memory/kubepods/besteffort/podgone', 'memory/kubepods/besteffort/podknown', 'cpu/kubepods/besteffort/podgone']) await mkdir(path.join(mount, d), { recursive: true });
    const cgroups = new FakeCgroups();
    for (const name of ['/kubepods', '/kubepods/burstable', '/kubepods/besteffort', '/kubepods/besteffort/podgone', '/kubepods/besteffort/podknown']) cgroups.groups.set(name, {});
    const cm = new ContainerManager({
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: {}, systemReserved: {}, enforceNodeAllocatable: ['pods'], qosReserved: {}, featureGates: {} },
      machine: { numCores: 1, memoryCapacityBytes: 1024 ** 3 },
      activePods: () => [],
      knownPods: () => new Set(['known']),
      clock: new FakeClock(),
      logger: silentLogger,
      cgroups,
      procRoot: proc,
      cgroupMount: mount,
    });
    await cm.start();
    const present = (d: string): Promise<boolean> => access(path.join(mount, d)).then(() => true, () => false);
    assert.equal(await present('memory/kubepods/besteffort/podgone'), false);
    assert.equal(await present('cpu/kubepods/besteffort/podgone'), false);
    assert.equal(await present('memory/kubepods/besteffort/podknown'), true);
  } finally {
    await rm(proc, { recursive: true, force: true });
    await rm(mount, { recursive: true, force: true });
  }
});

/** A manager over fake cgroups with QOSReserved settings; 8 GiB capacity, 1 GiB kube-reserved: 7 GiB allocatable. */
async function reserveManager(active: Pod[], featureGates: Record<string, boolean>, qosReserved: Record<string, string>, memoryCapacityBytes = 8 * GiB) {
  const proc = await fakeProc();
  const cgroups = new FakeCgroups();
  const cm = new ContainerManager({
    config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: { memory: '1Gi' }, systemReserved: {}, enforceNodeAllocatable: ['pods'], qosReserved, featureGates },
    machine: { numCores: 2, memoryCapacityBytes },
    activePods: () => active,
    knownPods: () => new Set(active.map((p) => p.metadata!.uid!)),
    clock: new FakeClock(),
    logger: silentLogger,
    cgroups,
    procRoot: proc,
  });
  return { cm, cgroups, cleanup: () => rm(proc, { recursive: true, force: true }) };
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const memLimit = (cgroups: FakeCgroups, name: string): number | undefined => cgroups.groups.get(name)?.memoryLimitBytes;

test('QOSReserved with memory=100%: burstable and besteffort lose the higher classes\' memory requests, and get them back when the pods go', async () => {
  const active: Pod[] = [];
  const { cm, cgroups, cleanup } = await reserveManager(active, { QOSReserved: true }, { memory: '100%' });
  try {
    await cm.start();
    assert.equal(memLimit(cgroups, '/kubepods'), 7 * GiB);
    assert.equal(memLimit(cgroups, '/kubepods/burstable'), 7 * GiB, 'no pods: allocatable');
    assert.equal(memLimit(cgroups, '/kubepods/besteffort'), 7 * GiB);

    const guaranteed = pod('g1', { limits: { cpu: '500m', memory: '64Mi' } });
    active.push(guaranteed);
    await cm.ensurePod(guaranteed);
    assert.equal(memLimit(cgroups, '/kubepods/burstable'), 7 * GiB - 64 * MiB);
    assert.equal(memLimit(cgroups, '/kubepods/besteffort'), 7 * GiB - 64 * MiB);
    // Upstream order: the QoS cgroups are updated before the pod cgroup is made.
    const calls = cgroups.calls.filter((c) => /burstable$|podg1$/.test(c));
    assert.deepEqual(calls.slice(-2), ['update /kubepods/burstable', 'create /kubepods/podg1']);

    const burstable = pod('b1', { requests: { cpu: '100m', memory: '32Mi' }, limits: { memory: '128Mi' } });
    const besteffort = pod('e1', {});
    active.push(burstable, besteffort);
    await cm.ensurePod(burstable);
    await cm.ensurePod(besteffort);
    assert.equal(memLimit(cgroups, '/kubepods/burstable'), 7 * GiB - 64 * MiB);
    assert.equal(memLimit(cgroups, '/kubepods/besteffort'), 7 * GiB - 96 * MiB);
    assert.equal(cgroups.groups.get('/kubepods/burstable')?.cpuShares, 102, 'cpu shares still kept');

    active.splice(0, 1);
    await cm.podRemoved('g1');
    assert.equal(memLimit(cgroups, '/kubepods/burstable'), 7 * GiB);
    assert.equal(memLimit(cgroups, '/kubepods/besteffort'), 7 * GiB - 32 * MiB);
  } finally {
    await cleanup();
  }
});

test('QOSReserved with memory=50%: each product truncated as Go\'s int64 division', async () => {
  const active = [pod('g', { limits: { cpu: '1', memory: '1001' } }), pod('b', { requests: { memory: '333' } })];
  const { cm, cgroups, cleanup } = await reserveManager(active, { QOSReserved: true }, { memory: '50%' });
  try {
    await cm.start();
    assert.equal(memLimit(cgroups, '/kubepods/burstable'), 7 * GiB - 500);
    assert.equal(memLimit(cgroups, '/kubepods/besteffort'), 7 * GiB - 500 - 166);
  } finally {
    await cleanup();
  }
});

test('without the QOSReserved gate (or without qosReserved.memory) no QoS memory limit is written', async () => {
  const active = [pod('g', { limits: { cpu: '1', memory: '1Gi' } })];
  for (const [gates, reserved] of [[{}, { memory: '100%' }], [{ QOSReserved: false }, { memory: '100%' }], [{ QOSReserved: true }, {}]] as const) {
    const { cm, cgroups, cleanup } = await reserveManager(active, gates, reserved);
    try {
      await cm.start();
      await cm.ensurePod(active[0]!);
      assert.equal(memLimit(cgroups, '/kubepods/burstable'), undefined, JSON.stringify([gates, reserved]));
      assert.equal(memLimit(cgroups, '/kubepods/besteffort'), undefined);
      assert.equal(cgroups.groups.get('/kubepods/burstable')?.cpuShares, 2);
    } finally {
      await cleanup();
    }
  }
});

test('a limit the kernel refuses (below the usage, or not positive) becomes the cgroup\'s usage', async () => {
  const active = [pod('g', { limits: { cpu: '1', memory: '6Gi' } })];
  const { cm, cgroups, cleanup } = await reserveManager(active, { QOSReserved: true }, { memory: '100%' });
  try {
    cgroups.usage.set('/kubepods/burstable', BigInt(2 * GiB));
    cgroups.usage.set('/kubepods/besteffort', BigInt(10 * MiB));
    await cm.start();
    assert.equal(memLimit(cgroups, '/kubepods/burstable'), 2 * GiB, 'using 2 GiB, wanted 1 GiB: limited to its usage');
    assert.equal(memLimit(cgroups, '/kubepods/besteffort'), 1 * GiB, 'below its limit: the wanted limit');
  } finally {
    await cleanup();
  }
  // Guaranteed requests above allocatable: a negative limit is never written; the usage is.
  const big = [pod('g', { limits: { cpu: '1', memory: '9Gi' } })];
  const neg = await reserveManager(big, { QOSReserved: true }, { memory: '100%' });
  try {
    neg.cgroups.usage.set('/kubepods/burstable', BigInt(5 * MiB));
    await neg.cm.start();
    assert.equal(memLimit(neg.cgroups, '/kubepods/burstable'), 5 * MiB);
    assert.equal(memLimit(neg.cgroups, '/kubepods/besteffort'), undefined, 'empty, negative limit: left alone');
    assert.ok(neg.cgroups.calls.filter((c) => c === 'update /kubepods/burstable').length >= 2, 'retried');
  } finally {
    await neg.cleanup();
  }
});

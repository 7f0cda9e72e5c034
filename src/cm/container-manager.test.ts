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
    this.groups.set(name, { ...this.groups.get(name), ...r });
    return Promise.resolve();
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
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: 100, kubeReserved: { memory: '1Gi' }, systemReserved: {}, enforceNodeAllocatable: ['pods'] },
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
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: {}, systemReserved: {}, enforceNodeAllocatable: ['pods'] },
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
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: {}, systemReserved: {}, enforceNodeAllocatable: ['pods'] },
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
      config: { cgroupRoot: '/', cgroupsPerQOS: true, podPidsLimit: -1, kubeReserved: {}, systemReserved: {}, enforceNodeAllocatable: ['pods'] },
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

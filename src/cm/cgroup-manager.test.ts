import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CgroupfsManager, cgroupFileWrites, cpuSharesToWeight } from './cgroup-manager.ts';

test('cpuSharesToWeight: runc conversion', () => {
  assert.equal(cpuSharesToWeight(2), 1);
  assert.equal(cpuSharesToWeight(1024), 39);
  assert.equal(cpuSharesToWeight(262_144), 10_000);
});

test('cgroupFileWrites: v1 files, period before quota', () => {
  assert.deepEqual(cgroupFileWrites(1, { cpuShares: 512, cpuPeriod: 100_000, cpuQuota: 50_000, memoryLimitBytes: 1024, pidsLimit: -1 }), [
    { controller: 'cpu', file: 'cpu.shares', value: '512' },
    { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
    { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '50000' },
    { controller: 'memory', file: 'memory.limit_in_bytes', value: '1024' },
    { controller: 'pids', file: 'pids.max', value: 'max' },
  ]);
  assert.deepEqual(cgroupFileWrites(1, {}), []);
});

test('cgroupFileWrites: v2 files (cpu.weight, cpu.max, memory.max, pids.max)', () => {
  assert.deepEqual(cgroupFileWrites(2, { cpuShares: 1024, cpuPeriod: 100_000, cpuQuota: -1, memoryLimitBytes: 2048, pidsLimit: 100 }), [
    { controller: 'cpu', file: 'cpu.weight', value: '39' },
    { controller: 'cpu', file: 'cpu.max', value: 'max 100000' },
    { controller: 'memory', file: 'memory.max', value: '2048' },
    { controller: 'pids', file: 'pids.max', value: '100' },
  ]);
  assert.deepEqual(cgroupFileWrites(2, { cpuQuota: 20_000, cpuPeriod: 100_000 }), [{ controller: 'cpu', file: 'cpu.max', value: '20000 100000' }]);
});

test('CgroupfsManager on a v1 layout: creates the cgroup in cpu, memory and pids and writes its limits', async () => {
  const mount = await mkdtemp(path.join(tmpdir(), 'cgv1-'));
  try {
    for (const c of ['cpu', 'cpuacct', 'memory', 'pids']) {
      await mkdir(path.join(mount, c));
      await writeFile(path.join(mount, c, 'cgroup.procs'), '');
    }
    const m = new CgroupfsManager({ mount });
    assert.equal(await m.version(), 1);
    assert.equal(await m.exists('/kubepods/podx'), false);
    await m.create('/kubepods/podx', { cpuShares: 256, cpuPeriod: 100_000, cpuQuota: 25_000, memoryLimitBytes: 64 * 1024 * 1024, pidsLimit: 50 });
    assert.equal(await m.exists('/kubepods/podx'), true);
    const read = (f: string): Promise<string> => readFile(path.join(mount, f), 'utf8');
    assert.equal(await read('cpu/kubepods/podx/cpu.shares'), '256');
    assert.equal(await read('cpu/kubepods/podx/cpu.cfs_quota_us'), '25000');
    assert.equal(await read('memory/kubepods/podx/memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(await read('pids/kubepods/podx/pids.max'), '50');
    assert.deepEqual(await m.children('/kubepods'), ['podx']);
    await writeFile(path.join(mount, 'memory/kubepods/podx/memory.usage_in_bytes'), '4096\n');
    assert.equal(await m.memoryUsage('/kubepods/podx'), 4096n);
    await assert.rejects(m.memoryUsage('/kubepods/nope'));
  } finally {
    await rm(mount, { recursive: true, force: true });
  }
});

test('CgroupfsManager on a v2 layout: enables the controllers in the ancestors and writes v2 files', async () => {
  const mount = await mkdtemp(path.join(tmpdir(), 'cgv2-'));
  try {
    await writeFile(path.join(mount, 'cgroup.controllers'), 'cpuset cpu io memory pids');
    const m = new CgroupfsManager({ mount });
    assert.equal(await m.version(), 2);
    await m.create('/kubepods/burstable', { cpuShares: 2 });
    assert.equal(await readFile(path.join(mount, 'kubepods/burstable/cpu.weight'), 'utf8'), '1');
    // each controller is written on its own (the last write is what a plain file keeps)
    assert.equal(await readFile(path.join(mount, 'kubepods/cgroup.subtree_control'), 'utf8'), '+pids');
    assert.equal(await readFile(path.join(mount, 'cgroup.subtree_control'), 'utf8'), '+pids');
    await writeFile(path.join(mount, 'kubepods/burstable/memory.current'), '8192\n');
    assert.equal(await m.memoryUsage('/kubepods/burstable'), 8192n);
  } finally {
    await rm(mount, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { cpuV1, cpuV2, detectCgroupLayout, memoryV1, memoryV2, memoryV2Root, parseFlatKeyed, readCgroup, specV1, specV2, weightToShares } from './cgroup.ts';

// memory.stat of a v1 container cgroup (use_hierarchy=1), trimmed from a real node
const V1_MEMORY_STAT = `cache 147456
rss 118784
mapped_file 0
pgfault 1120
pgmajfault 2
inactive_file 4096
total_cache 147456
total_rss 118784
total_mapped_file 8192
total_swap 0
total_pgfault 1120
total_pgmajfault 2
total_inactive_file 40960
`;

const V2_MEMORY_STAT = `anon 1048576
file 2097152
file_mapped 4096
inactive_file 1048576
pgfault 300
pgmajfault 1
`;

test('flat keyed files', () => {
  assert.deepEqual(parseFlatKeyed('a 1\nb 22\nbad\nc x\n d  3 \n'), { a: 1, b: 22, d: 3 });
});

test('v1 memory: hierarchical totals, working set = usage - inactive file', () => {
  const m = memoryV1('983040\n', V1_MEMORY_STAT, '0\n', '1200000\n');
  assert.deepEqual(m, {
    usageBytes: 983040,
    workingSetBytes: 983040 - 40960,
    rssBytes: 118784,
    cacheBytes: 147456,
    mappedFileBytes: 8192,
    swapBytes: 0,
    pageFaults: 1120,
    majorPageFaults: 2,
    failcnt: 0,
    maxUsageBytes: 1200000,
  });
  // inactive file above usage: 0, not negative
  assert.equal(memoryV1('100', 'total_inactive_file 200')?.workingSetBytes, 0);
  assert.equal(memoryV1('', ''), undefined);
});

test('v2 memory, and the v2 root from memory.stat or /proc/meminfo', () => {
  const m = memoryV2('4194304\n', V2_MEMORY_STAT, '0\n');
  assert.equal(m?.usageBytes, 4194304);
  assert.equal(m?.workingSetBytes, 4194304 - 1048576);
  assert.equal(m?.rssBytes, 1048576);
  assert.equal(m?.cacheBytes, 2097152);
  assert.equal(m?.pageFaults, 300);
  const r = memoryV2Root(V2_MEMORY_STAT, {});
  assert.equal(r?.usageBytes, 1048576 + 2097152);
  assert.equal(r?.workingSetBytes, 2097152);
  const fromMeminfo = memoryV2Root(undefined, { MemTotal: 1000, MemFree: 300, 'Inactive(file)': 100, AnonPages: 50 });
  assert.equal(fromMeminfo?.usageBytes, 700);
  assert.equal(fromMeminfo?.workingSetBytes, 600);
  assert.equal(fromMeminfo?.rssBytes, 50);
});

test('v1 and v2 CPU', () => {
  assert.deepEqual(cpuV1('737055662\n', 'user 50\nsystem 20\n', 'nr_periods 10\nnr_throttled 3\nthrottled_time 5000000\n'), {
    usageNs: 737055662,
    userNs: 500_000_000,
    systemNs: 200_000_000,
    periods: 10,
    throttledPeriods: 3,
    throttledNs: 5_000_000,
  });
  assert.deepEqual(cpuV2('usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n'), {
    usageNs: 1_500_000,
    userNs: 1_000_000,
    systemNs: 500_000,
    periods: 4,
    throttledPeriods: 1,
    throttledNs: 20_000,
  });
  assert.equal(cpuV2('nr_periods 1\n'), undefined);
});

test('specs: unlimited memory and no quota are absent; v2 weight to shares', () => {
  assert.deepEqual(specV1('9223372036854771712\n', '1024\n', '-1\n', '100000\n'), { memoryLimitBytes: undefined, cpuShares: 1024, cpuQuotaUs: undefined, cpuPeriodUs: 100000 });
  assert.deepEqual(specV1('67108864\n', '204\n', '20000\n', '100000\n'), { memoryLimitBytes: 67108864, cpuShares: 204, cpuQuotaUs: 20000, cpuPeriodUs: 100000 });
  assert.deepEqual(specV2('max\n', '100\n', 'max 100000\n'), { memoryLimitBytes: undefined, cpuShares: weightToShares(100), cpuQuotaUs: undefined, cpuPeriodUs: 100000 });
  assert.deepEqual(specV2('67108864\n', '1\n', '20000 100000\n'), { memoryLimitBytes: 67108864, cpuShares: 2, cpuQuotaUs: 20000, cpuPeriodUs: 100000 });
  assert.equal(weightToShares(10000), 262144);
});

test('layouts are detected and read from a fake hierarchy (v1 with split controllers, v2)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cgroup-test-'));
  try {
    const v1 = path.join(dir, 'v1');
    const pod = 'kubepods/burstable/podabc';
    await mkdir(path.join(v1, 'cpuacct', pod), { recursive: true });
    await mkdir(path.join(v1, 'cpu', pod), { recursive: true });
    await mkdir(path.join(v1, 'memory', pod), { recursive: true });
    await writeFile(path.join(v1, 'cpuacct', 'cpuacct.usage'), '1\n');
    await writeFile(path.join(v1, 'cpuacct', pod, 'cpuacct.usage'), '772106012\n');
    await writeFile(path.join(v1, 'cpu', pod, 'cpu.shares'), '204\n');
    await writeFile(path.join(v1, 'memory', pod, 'memory.usage_in_bytes'), '2412544\n');
    await writeFile(path.join(v1, 'memory', pod, 'memory.stat'), 'total_rss 217088\ntotal_inactive_file 0\ntotal_pgfault 2698\n');
    const layout = await detectCgroupLayout(v1);
    assert.equal(layout.version, 1);
    const s = await readCgroup(layout, `/${pod}`, 5000);
    assert.equal(s?.timeMs, 5000);
    assert.equal(s?.cpu?.usageNs, 772106012);
    assert.equal(s?.memory?.workingSetBytes, 2412544);
    assert.equal(s?.memory?.pageFaults, 2698);
    assert.equal(s?.spec.cpuShares, 204);
    assert.equal(typeof s?.createdMs, 'number');
    assert.equal(await readCgroup(layout, '/kubepods/burstable/podgone', 5000), null);

    const v2 = path.join(dir, 'v2');
    await mkdir(path.join(v2, 'kubepods'), { recursive: true });
    await writeFile(path.join(v2, 'cgroup.controllers'), 'cpu memory\n');
    await writeFile(path.join(v2, 'cpu.stat'), 'usage_usec 10\n');
    await writeFile(path.join(v2, 'memory.stat'), V2_MEMORY_STAT);
    await writeFile(path.join(v2, 'kubepods', 'cpu.stat'), 'usage_usec 7\n');
    await writeFile(path.join(v2, 'kubepods', 'memory.current'), '4194304\n');
    await writeFile(path.join(v2, 'kubepods', 'memory.stat'), V2_MEMORY_STAT);
    const l2 = await detectCgroupLayout(v2);
    assert.equal(l2.version, 2);
    const root = await readCgroup(l2, '/', 1, {});
    assert.equal(root?.cpu?.usageNs, 10_000);
    assert.equal(root?.memory?.usageBytes, 1048576 + 2097152);
    const kp = await readCgroup(l2, '/kubepods', 1);
    assert.equal(kp?.memory?.workingSetBytes, 4194304 - 1048576);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

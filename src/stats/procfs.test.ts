import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { diskUsage, isIgnoredInterface, mountOf, parseBootTimeMs, parseLoadavgProcs, parseMeminfo, parseMountInfo, parseNetDev } from './procfs.ts';

test('/proc/meminfo in bytes', () => {
  const m = parseMeminfo('MemTotal:       24684084 kB\nMemFree:        22591288 kB\nHugePages_Total:       0\nInactive(file):   249008 kB\n');
  assert.equal(m.MemTotal, 24684084 * 1024);
  assert.equal(m.MemFree, 22591288 * 1024);
  assert.equal(m.HugePages_Total, 0);
  assert.equal(m['Inactive(file)'], 249008 * 1024);
});

test('boot time, process count', () => {
  assert.equal(parseBootTimeMs('cpu  1 2 3\nbtime 1795898743\nprocesses 5\n'), 1795898743000);
  assert.equal(parseBootTimeMs('cpu 1\n'), undefined);
  assert.equal(parseLoadavgProcs('1.26 1.59 4.64 3/166 5017\n'), 166);
});

test('/proc/net/dev', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 620637047  801881    0    0    0     0          0         0 620637047  801881    0    0    0     0       0          0
  eth0: 1096      12    1    2    0     0          0         0      472       5    3    4    0     0       0          0
`;
  const list = parseNetDev(text);
  assert.equal(list.length, 2);
  assert.deepEqual(list[1], { name: 'eth0', rxBytes: 1096, rxPackets: 12, rxErrors: 1, rxDropped: 2, txBytes: 472, txPackets: 5, txErrors: 3, txDropped: 4 });
  assert.ok(isIgnoredInterface('lo'));
  assert.ok(isIgnoredInterface('veth1234'));
  assert.ok(!isIgnoredInterface('eth0'));
  assert.ok(!isIgnoredInterface('cni0'));
});

test('mountinfo and the mount of a path', () => {
  const mounts = parseMountInfo(`27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 27 0:30 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~secret/s rw - tmpfs tmpfs rw
41 27 8:1 / /mnt/with\\040space rw - xfs /dev/sdb1 rw
`);
  assert.equal(mounts.length, 4);
  assert.equal(mountOf(mounts, '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs')?.source, '/dev/vda');
  assert.equal(mountOf(mounts, '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~secret/s/token')?.fsType, 'tmpfs');
  assert.equal(mountOf(mounts, '/mnt/with space/x')?.source, '/dev/sdb1');
  assert.equal(mountOf(mounts, '/sys/fs/cgroupx')?.source, '/dev/vda');
});

test('disk usage counts blocks once per inode and every inode', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'du-test-'));
  try {
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'a'), Buffer.alloc(10_000, 1));
    await link(path.join(dir, 'a'), path.join(dir, 'sub', 'a-link'));
    await writeFile(path.join(dir, 'sub', 'b'), 'x');
    const u = await diskUsage(dir);
    assert.ok(u);
    assert.equal(u.inodes, 4); // dir, a (twice linked), sub, b
    assert.ok(u.bytes >= 10_000 && u.bytes < 64 * 1024, `bytes ${u.bytes}`);
    assert.equal(await diskUsage(path.join(dir, 'missing')), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

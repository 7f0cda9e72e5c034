import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isInvalidInput } from '../common/errors.ts';
import { SystemMounter, mountPointsBelow, parseMountInfo } from './mounter.ts';

const MOUNTINFO = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
42 22 0:39 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~secret/s rw,relatime - tmpfs tmpfs rw,size=1024k,mode=755
43 22 0:40 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~projected/with\\040space rw,relatime - tmpfs tmpfs rw
44 22 0:41 / /var/lib/kubelet/pods/u10/volumes/kubernetes.io~secret/s rw,relatime - tmpfs tmpfs rw
`;

test('parseMountInfo and mountPointsBelow: octal escapes, only that folder, deepest first', () => {
  const points = parseMountInfo(MOUNTINFO);
  assert.equal(points[2], '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~projected/with space');
  assert.deepEqual(mountPointsBelow(points, '/var/lib/kubelet/pods/u1/volumes/'), [
    '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~projected/with space',
    '/var/lib/kubelet/pods/u1/volumes/kubernetes.io~secret/s',
  ]);
  assert.deepEqual(mountPointsBelow(points, '/var/lib/kubelet/pods/u2'), []);
});

test('SystemMounter: tmpfs mount, idempotent, found and unmounted (root only)', async () => {
  if (process.getuid?.() !== 0) {
    assert.fail('needs root to mount: run the tests as root (npm test does, through scripts/setup.sh)');
  }
  const base = await mkdtemp(path.join(tmpdir(), 'mounter-'));
  const dir = path.join(base, 'vol');
  const m = new SystemMounter();
  try {
    await mkdir(dir);
    await m.mountTmpfs(dir, { sizeBytes: 1 << 20 });
    await m.mountTmpfs(dir, {});
    assert.deepEqual(await m.mountPointsUnder(base), [dir], 'mounted once');
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    assert.match(mountinfo, new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .* - tmpfs `));
    await writeFile(path.join(dir, 'secret'), 'x');
    await m.unmount(dir);
    assert.deepEqual(await m.mountPointsUnder(base), []);
    await assert.rejects(readFile(path.join(dir, 'secret')), { code: 'ENOENT' }, 'the data lived on the tmpfs only');
  } finally {
    for (const p of await m.mountPointsUnder(base)) await m.unmount(p);
    await rm(base, { recursive: true, force: true });
  }
});

test('SystemMounter: a path with a NUL byte is refused as invalid input, never run', async () => {
  await assert.rejects(new SystemMounter().mountTmpfs('/tmp/a\0b', {}), (err: unknown) => isInvalidInput(err) && /NUL/.test(String(err)));
});

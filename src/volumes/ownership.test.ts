import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { requiresPermissionChange, setVolumeOwnership } from './ownership.ts';

const isRoot = process.getuid?.() === 0;

void test('fsGroup on a writable volume: group set everywhere, group rw(x), setgid folders; OnRootMismatch skips a right root', async (t) => {
  assert.ok(isRoot, 'needs root to chown: run the tests as root (npm test does, through scripts/setup.sh)');
  const dir = await mkdtemp(path.join(tmpdir(), 'fsgroup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'sub'), { mode: 0o700 });
  await writeFile(path.join(dir, 'sub', 'f'), 'x', { mode: 0o600 });
  await symlink('/etc/passwd', path.join(dir, 'link'));
  await setVolumeOwnership(dir, 4321, { readOnly: false });
  const root = await stat(dir);
  const sub = await stat(path.join(dir, 'sub'));
  const f = await stat(path.join(dir, 'sub', 'f'));
  assert.equal(root.gid, 4321);
  assert.equal(sub.gid, 4321);
  assert.equal(f.gid, 4321);
  assert.equal(sub.mode & 0o7777, 0o2770);
  assert.equal(f.mode & 0o777, 0o660);
  assert.notEqual((await stat('/etc/passwd')).gid, 4321); // a link's target is never changed
  assert.equal(await requiresPermissionChange(dir, 4321, false), false);
  // OnRootMismatch: the root is right, so a file whose group was changed since stays as it is.
  await chown(path.join(dir, 'sub', 'f'), 0, 0);
  await setVolumeOwnership(dir, 4321, { readOnly: false, changePolicy: 'OnRootMismatch' });
  assert.equal((await stat(path.join(dir, 'sub', 'f'))).gid, 0);
  await setVolumeOwnership(dir, 4321, { readOnly: false, changePolicy: 'Always' });
  assert.equal((await stat(path.join(dir, 'sub', 'f'))).gid, 4321);
  assert.equal(await requiresPermissionChange(dir, 99, false), true);
});

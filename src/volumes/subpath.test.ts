import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isInvalidInput } from '../common/errors.ts';
import { SystemMounter } from './mounter.ts';
import {
  bindSubPath,
  checkSubPath,
  cleanSubPaths,
  expandSubPathExpr,
  pathWithinBase,
  safeMakeDir,
  safeOpen,
  subPathBindTarget,
  translateMountPropagation,
  walkSegments,
  walkStepProblem,
} from './subpath.ts';

test('translateMountPropagation: upstream mapping; anything else is InvalidInput', () => {
  assert.equal(translateMountPropagation(undefined), 'PROPAGATION_PRIVATE');
  assert.equal(translateMountPropagation('None'), 'PROPAGATION_PRIVATE');
  assert.equal(translateMountPropagation('HostToContainer'), 'PROPAGATION_HOST_TO_CONTAINER');
  assert.equal(translateMountPropagation('Bidirectional'), 'PROPAGATION_BIDIRECTIONAL');
  assert.throws(() => translateMountPropagation('Shared'), (err: unknown) => isInvalidInput(err) && (err as Error).message === 'invalid MountPropagation mode: "Shared"');
});

test('expandSubPathExpr: env only; missing or empty variables fail, sorted; $$ escapes', () => {
  const env = [
    { name: 'POD_NAME', value: 'web-0' },
    { name: 'NS', value: 'prod' },
    { name: 'EMPTY', value: '' },
  ];
  assert.equal(expandSubPathExpr('$(NS)/$(POD_NAME)/logs', env), 'prod/web-0/logs');
  assert.equal(expandSubPathExpr('plain', env), 'plain');
  assert.equal(expandSubPathExpr('$$(POD_NAME)', env), '$(POD_NAME)');
  assert.throws(() => expandSubPathExpr('$(ZED)/$(EMPTY)/$(ALPHA)', env), (err: unknown) => isInvalidInput(err) && (err as Error).message === 'missing value for ALPHA, EMPTY, ZED');
});

test('checkSubPath: upstream makeMounts messages', () => {
  checkSubPath('a/b');
  checkSubPath('a/..b/c..');
  assert.throws(() => checkSubPath('/etc'), { message: 'error SubPath `/etc` must not be an absolute path' });
  assert.throws(() => checkSubPath('a/../../etc'), { message: "unable to provision SubPath `a/../../etc`: must not contain '..'" });
  assert.throws(() => checkSubPath('..'), isInvalidInput);
});

test('pathWithinBase and walkSegments: the components to walk, or null outside', () => {
  assert.ok(pathWithinBase('/v/a', '/v'));
  assert.ok(pathWithinBase('/v', '/v'));
  assert.ok(!pathWithinBase('/vx', '/v'));
  assert.ok(!pathWithinBase('/etc', '/v'));
  assert.ok(!pathWithinBase('/', '/v'));
  assert.ok(pathWithinBase('/v/..data', '/v'), 'a name starting with .. is inside');
  assert.deepEqual(walkSegments('/v', '/v'), []);
  assert.deepEqual(walkSegments('/v', '/v/a/b'), ['a', 'b']);
  assert.deepEqual(walkSegments('/', '/etc/passwd'), ['etc', 'passwd']);
  assert.equal(walkSegments('/v/a', '/v/b'), null);
});

test('walkStepProblem: no symlink anywhere, folders until the last component', () => {
  assert.equal(walkStepProblem('/v/a', 'directory', false), null);
  assert.equal(walkStepProblem('/v/a/f', 'other', true), null);
  assert.equal(walkStepProblem('/v/a', 'directory', true), null);
  assert.equal(walkStepProblem('/v/escape', 'symlink', false), 'unexpected symlink found /v/escape');
  assert.equal(walkStepProblem('/v/escape', 'symlink', true), 'unexpected symlink found /v/escape');
  assert.equal(walkStepProblem('/v/f', 'other', false), '/v/f is not a directory');
});

test('subPathBindTarget: upstream layout; unsafe names refused', () => {
  assert.equal(subPathBindTarget('/var/lib/kubelet/pods/u1', 'data', 'app', 2), '/var/lib/kubelet/pods/u1/volume-subpaths/data/app/2');
  assert.throws(() => subPathBindTarget('/p', '..', 'app', 0), isInvalidInput);
  assert.throws(() => subPathBindTarget('/p', 'data', 'a/b', 0), isInvalidInput);
});

/** A volume folder with a planted tree, a pod folder beside it, and the host's /etc as the escape target. */
async function tree() {
  const base = await realpath(await mkdtemp(path.join(tmpdir(), 'subpath-')));
  const volume = path.join(base, 'pods/u1/volumes/kubernetes.io~empty-dir/data');
  const other = path.join(base, 'pods/u2/volumes/kubernetes.io~empty-dir/data');
  const podDir = path.join(base, 'pods/u1');
  await mkdir(path.join(volume, 'dir/inner'), { recursive: true, mode: 0o777 });
  await mkdir(other, { recursive: true });
  await writeFile(path.join(volume, 'dir/file.txt'), 'in the volume');
  await writeFile(path.join(other, 'secret.txt'), 'the other pod');
  await symlink('/', path.join(volume, 'escape'));
  await symlink('dir', path.join(volume, 'inside-link'));
  await symlink('../../../../u2/volumes/kubernetes.io~empty-dir/data', path.join(volume, 'sibling'));
  await symlink(other, path.join(volume, 'sibling-abs'));
  await symlink('/no/such/place-for-subpath-tests', path.join(volume, 'dangling'));
  return { base, volume, other, podDir, cleanup: () => rm(base, { recursive: true, force: true }) };
}

test('safeOpen: walks from the base without following symlinks; a symlink swapped in after resolution is refused', async () => {
  const t = await tree();
  try {
    const fh = await safeOpen(path.join(t.volume, 'dir/inner'), t.volume);
    assert.ok((await fh.stat()).isDirectory());
    await fh.close();
    await assert.rejects(safeOpen(path.join(t.volume, 'escape/etc'), t.volume), { message: `unexpected symlink found ${t.volume}/escape` });
    await assert.rejects(safeOpen('/etc', t.volume), /outside of allowed base/);
    // The race: resolved while `dir` was a folder, then `dir` is swapped for a symlink to /.
    const resolved = await realpath(path.join(t.volume, 'dir/inner'));
    await rename(path.join(t.volume, 'dir'), path.join(t.volume, 'dir-old'));
    await symlink('/', path.join(t.volume, 'dir'));
    await assert.rejects(safeOpen(resolved, t.volume), { message: `unexpected symlink found ${t.volume}/dir` });
  } finally {
    await t.cleanup();
  }
});

test('safeMakeDir: makes missing folders with the mode given; never outside the base', async () => {
  const t = await tree();
  try {
    await safeMakeDir(t.volume, 'new/deeper', 0o2777);
    const st = await stat(path.join(t.volume, 'new/deeper'));
    assert.equal(st.mode & 0o7777, 0o2777, 'the mode is set on the new folder itself, past the umask');
    await safeMakeDir(t.volume, 'inside-link/made', 0o755);
    assert.ok((await stat(path.join(t.volume, 'dir/made'))).isDirectory(), 'a symlink that stays inside is followed (upstream)');
    await safeMakeDir(t.volume, 'dir', 0o700); // exists: nothing to do
    await assert.rejects(safeMakeDir(t.volume, 'escape/tskubelet-subpath-test', 0o755), /outside of allowed base/);
    await assert.rejects(stat('/tskubelet-subpath-test'), { code: 'ENOENT' });
    await assert.rejects(safeMakeDir(t.volume, 'dangling/x', 0o755), { code: 'EEXIST' }, 'mkdir never follows the planted link');
    await assert.rejects(stat('/no/such/place-for-subpath-tests'), { code: 'ENOENT' });
    await assert.rejects(safeMakeDir(t.volume, 'dir/file.txt', 0o755), /not a directory/);
  } finally {
    await t.cleanup();
  }
});

test('bindSubPath: binds inside paths, refuses escapes, reuses and renews mounts; cleanSubPaths unmounts and removes (root only)', async () => {
  if (process.getuid?.() !== 0) {
    assert.fail('needs root to mount: run the tests as root (npm test does, through scripts/setup.sh)');
  }
  const tr = await tree();
  const mounter = new SystemMounter();
  const spec = (subPath: string, index: number) => ({ podDir: tr.podDir, volumeName: 'data', containerName: 'app', index, volumePath: tr.volume, subPath });
  try {
    // A folder: the container's view is the folder itself; writes land in the volume.
    const dirTarget = await bindSubPath(mounter, spec('dir', 0));
    assert.equal(dirTarget, path.join(tr.podDir, 'volume-subpaths/data/app/0'));
    assert.equal(await readFile(path.join(dirTarget, 'file.txt'), 'utf8'), 'in the volume');
    await writeFile(path.join(dirTarget, 'written.txt'), 'x');
    assert.equal(await readFile(path.join(tr.volume, 'dir/written.txt'), 'utf8'), 'x');
    // A file, and a symlink that stays inside the volume.
    const fileTarget = await bindSubPath(mounter, spec('dir/file.txt', 1));
    assert.equal(await readFile(fileTarget, 'utf8'), 'in the volume');
    const linkTarget = await bindSubPath(mounter, spec('inside-link/inner', 2));
    assert.ok((await stat(linkTarget)).isDirectory());

    // Escapes: nothing is mounted and no target is made.
    for (const [i, sub] of ['escape/etc', 'escape', 'sibling', 'sibling-abs/secret.txt', 'dangling'].entries()) {
      await assert.rejects(bindSubPath(mounter, spec(sub, 10 + i)), (err: unknown) => {
        const msg = (err as Error).message;
        return /not within volume path/.test(msg) || (err as NodeJS.ErrnoException).code === 'ENOENT';
      }, sub);
      await assert.rejects(lstat(path.join(tr.podDir, 'volume-subpaths/data/app', String(10 + i))), { code: 'ENOENT' });
    }

    // The same file again: the mount is reused (one mount); a replaced file is mounted anew.
    const mountsOf = async (p: string): Promise<number> => (await mounter.mountPointsUnder(p)).filter((m) => m === p).length;
    assert.equal(await bindSubPath(mounter, spec('dir/file.txt', 1)), fileTarget);
    assert.equal(await mountsOf(fileTarget), 1);
    await writeFile(path.join(tr.volume, 'dir/file.txt.new'), 'replaced');
    await rename(path.join(tr.volume, 'dir/file.txt.new'), path.join(tr.volume, 'dir/file.txt'));
    assert.equal(await readFile(fileTarget, 'utf8'), 'in the volume', 'the bind holds the old file');
    await bindSubPath(mounter, spec('dir/file.txt', 1));
    assert.equal(await readFile(fileTarget, 'utf8'), 'replaced');
    assert.equal(await mountsOf(fileTarget), 1);

    await cleanSubPaths(mounter, tr.podDir);
    assert.deepEqual(await mounter.mountPointsUnder(tr.podDir), []);
    await assert.rejects(lstat(path.join(tr.podDir, 'volume-subpaths')), { code: 'ENOENT' });
    assert.deepEqual((await readdir(path.join(tr.volume, 'dir'))).sort(), ['file.txt', 'inner', 'written.txt'], 'the volume content stays');
    await cleanSubPaths(mounter, tr.podDir); // idempotent
  } finally {
    for (const p of await mounter.mountPointsUnder(tr.base)) await mounter.unmount(p);
    await tr.cleanup();
  }
});

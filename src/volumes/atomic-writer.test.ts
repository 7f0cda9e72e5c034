import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isInvalidInput } from '../common/errors.ts';
import { cleanPayload, validatePath, writeAtomically, type FileProjection, type Payload } from './atomic-writer.ts';

const file = (text: string, mode = 0o644): FileProjection => ({ data: Buffer.from(text), mode });
const payload = (entries: Record<string, FileProjection>): Payload => new Map(Object.entries(entries));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'atomic-writer-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('validatePath: relative paths without .. that stay inside the volume', () => {
  for (const ok of ['a', 'a/b/c', 'a..b', '.a', 'a/.b', 'a/..b', 'x'.repeat(255), 'a/./b', 'a//b']) assert.doesNotThrow(() => validatePath(ok), ok);
  const bad: [string, RegExp][] = [
    ['', /must not be empty/],
    ['/etc/passwd', /must be relative path/],
    ['..', /must not contain '\.\.'/],
    ['../x', /must not contain '\.\.'/],
    ['a/../../x', /must not contain '\.\.'/],
    ['a/..', /must not contain '\.\.'/],
    ['..data', /must not start with '\.\.'/],
    ['..2024_01_01/x', /must not start with '\.\.'/],
    ['x'.repeat(256), /filenames must be less than or equal to 255/],
    [`${'a/'.repeat(2048)}b`, /must be less than or equal to 4096/],
    ['a\0b', /NUL/],
  ];
  for (const [p, msg] of bad) assert.throws(() => validatePath(p), (err: unknown) => isInvalidInput(err) && msg.test((err as Error).message), JSON.stringify(p).slice(0, 40));
});

test('cleanPayload: cleans paths and refuses what would collide or name the volume itself', () => {
  assert.deepEqual([...cleanPayload(payload({ 'a//b/./c': file('1'), 'd/': file('2') })).keys()], ['a/b/c', 'd']);
  assert.throws(() => cleanPayload(payload({ './..data': file('x') })), /must not start with '\.\.'/);
  assert.throws(() => cleanPayload(payload({ '.': file('x') })), /must name a file/);
  assert.throws(() => cleanPayload(payload({ a: file('x'), 'a/b': file('y') })), /a is both a file and the folder of a\/b/);
  assert.throws(() => cleanPayload(payload({ a: file('x', 0o1777) })), /invalid mode/);
});

test('writeAtomically: timestamped version, ..data link, user-visible links through ..data', async () => {
  await withDir(async (dir) => {
    const now = new Date(Date.UTC(2024, 4, 1, 10, 2, 3));
    assert.equal(await writeAtomically(dir, payload({ token: file('t1', 0o600), 'conf/app.yaml': file('a: 1'), ca: file('CA') }), { now }), true);
    const version = await readlink(path.join(dir, '..data'));
    assert.match(version, /^\.\.2024_05_01_10_02_03\.[0-9a-f]{12}$/);
    assert.equal(await readlink(path.join(dir, 'token')), '..data/token');
    assert.equal(await readlink(path.join(dir, 'conf')), '..data/conf');
    assert.equal(await readFile(path.join(dir, 'token'), 'utf8'), 't1');
    assert.equal(await readFile(path.join(dir, 'conf/app.yaml'), 'utf8'), 'a: 1');
    assert.equal((await stat(path.join(dir, 'token'))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(dir, 'ca'))).mode & 0o777, 0o644);
    assert.equal((await stat(path.join(dir, version))).mode & 0o777, 0o755);
    assert.deepEqual((await readdir(dir)).sort(), ['..data', version, 'ca', 'conf', 'token'].sort());

    // Same content: nothing is written.
    assert.equal(await writeAtomically(dir, payload({ token: file('t1', 0o600), 'conf/app.yaml': file('a: 1'), ca: file('CA') })), false);
    assert.equal(await readlink(path.join(dir, '..data')), version);

    // Changed content and a removed key: a new version, the old one and the stale link are gone.
    assert.equal(await writeAtomically(dir, payload({ token: file('t2', 0o600), 'conf/app.yaml': file('a: 1') })), true);
    const v2 = await readlink(path.join(dir, '..data'));
    assert.notEqual(v2, version);
    assert.equal(await readFile(path.join(dir, 'token'), 'utf8'), 't2');
    assert.deepEqual((await readdir(dir)).sort(), ['..data', v2, 'conf', 'token'].sort());

    // A removed key alone also makes a new version.
    assert.equal(await writeAtomically(dir, payload({ token: file('t2', 0o600) })), true);
    assert.deepEqual((await readdir(dir)).filter((n) => !n.startsWith('..')), ['token']);
    assert.deepEqual(await readdir(path.join(dir, '..data')), ['token']);
  });
});

test('writeAtomically: a bad path writes nothing; a stale ..data_tmp is replaced', async () => {
  await withDir(async (dir) => {
    await assert.rejects(writeAtomically(dir, payload({ ok: file('1'), '../escape': file('2') })), isInvalidInput);
    assert.deepEqual(await readdir(dir), []);
    await assert.rejects(writeAtomically(dir, payload({ '/abs': file('2') })), isInvalidInput);
    await symlink('..gone', path.join(dir, '..data_tmp'));
    assert.equal(await writeAtomically(dir, payload({ ok: file('1') })), true);
    assert.equal(await readFile(path.join(dir, 'ok'), 'utf8'), '1');
    await assert.rejects(lstat(path.join(dir, '..data_tmp')), { code: 'ENOENT' });
  });
});

test('writeAtomically: a ..data link pointing outside the volume is refused', async () => {
  await withDir(async (dir) => {
    const outside = path.join(dir, 'outside');
    const vol = path.join(dir, 'vol');
    await mkdir(outside);
    await mkdir(vol);
    await writeFile(path.join(outside, 'x'), 'keep');
    await symlink('../outside', path.join(vol, '..data'));
    await assert.rejects(writeAtomically(vol, payload({ x: file('1') })), (err: unknown) => isInvalidInput(err) && /not to a version folder/.test((err as Error).message));
    assert.equal(await readFile(path.join(outside, 'x'), 'utf8'), 'keep');
  });
});

test('writeAtomically: setPerms sees the new version before it is published', async () => {
  await withDir(async (dir) => {
    let seen = '';
    await writeAtomically(dir, payload({ a: file('1') }), {
      setPerms: async (versionDir) => {
        seen = versionDir;
        await assert.rejects(lstat(path.join(dir, '..data')), { code: 'ENOENT' });
      },
    });
    assert.equal(path.basename(seen), await readlink(path.join(dir, '..data')));
  });
});

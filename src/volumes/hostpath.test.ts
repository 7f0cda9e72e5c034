import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isInvalidInput } from '../common/errors.ts';
import { HOST_PATH_TYPES, hostPathTypeCheck, setUpHostPath, type HostFileType } from './hostpath.ts';

test('hostPathTypeCheck: upstream checkTypeInternal for every type and what is found', () => {
  const kinds: (HostFileType | null)[] = [null, 'Directory', 'File', 'Socket', 'CharDevice', 'BlockDevice', 'Other'];
  const expect: Record<string, (string | null)[]> = {
    // per found kind, in the order above: 'ok', 'mkdir', 'createFile' or the failure's "is not ..."
    '': ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'],
    DirectoryOrCreate: ['mkdir', 'ok', 'a directory', 'a directory', 'a directory', 'a directory', 'a directory'],
    Directory: ['a directory', 'ok', 'a directory', 'a directory', 'a directory', 'a directory', 'a directory'],
    FileOrCreate: ['createFile', 'a file', 'ok', 'a file', 'a file', 'a file', 'a file'],
    File: ['a file', 'a file', 'ok', 'a file', 'a file', 'a file', 'a file'],
    Socket: ['a socket file', 'a socket file', 'a socket file', 'ok', 'a socket file', 'a socket file', 'a socket file'],
    CharDevice: ['a character device', 'a character device', 'a character device', 'a character device', 'ok', 'a character device', 'a character device'],
    BlockDevice: ['a block device', 'a block device', 'a block device', 'a block device', 'a block device', 'ok', 'a block device'],
  };
  assert.deepEqual(Object.keys(expect).sort(), [...HOST_PATH_TYPES].sort());
  for (const [type, row] of Object.entries(expect)) {
    row.forEach((want, i) => {
      const step = hostPathTypeCheck('/x', type, kinds[i] ?? null);
      const got = step.kind === 'fail' ? step.message : step.kind;
      const expected = want === 'ok' || want === 'mkdir' || want === 'createFile' ? want : `hostPath type check failed: /x is not ${want}`;
      assert.equal(got, expected, `${type || '""'} with ${kinds[i] ?? 'nothing'}`);
    });
  }
  assert.deepEqual(hostPathTypeCheck('/x', 'Fifo', 'File'), { kind: 'fail', message: 'Fifo is an invalid volume type' });
});

test('setUpHostPath: checks and creates on the real file system', async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'hostpath-'));
  const server = createServer();
  try {
    // DirectoryOrCreate: mkdir -p with 0755; then it exists.
    const made = path.join(base, 'a/b/c');
    await setUpHostPath(made, 'DirectoryOrCreate');
    assert.equal((await stat(made)).mode & 0o777, 0o755);
    await setUpHostPath(made, 'DirectoryOrCreate');
    await setUpHostPath(made, 'Directory');
    // FileOrCreate: an empty 0644 file; an existing file is kept; the parent must exist.
    const file = path.join(base, 'a/file');
    await setUpHostPath(file, 'FileOrCreate');
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    await writeFile(file, 'kept');
    await setUpHostPath(file, 'FileOrCreate');
    assert.equal(await readFile(file, 'utf8'), 'kept');
    await assert.rejects(setUpHostPath(path.join(base, 'missing/file'), 'FileOrCreate'), { code: 'ENOENT' });
    await setUpHostPath(file, 'File');
    // Mismatches, with upstream's messages.
    await assert.rejects(setUpHostPath(file, 'Directory'), (err: unknown) => isInvalidInput(err) && (err as Error).message === `hostPath type check failed: ${file} is not a directory`);
    await assert.rejects(setUpHostPath(file, 'DirectoryOrCreate'), { message: `hostPath type check failed: ${file} is not a directory` });
    await assert.rejects(setUpHostPath(made, 'File'), { message: `hostPath type check failed: ${made} is not a file` });
    await assert.rejects(setUpHostPath(path.join(base, 'nothing'), 'File'), { message: `hostPath type check failed: ${base}/nothing is not a file` });
    await assert.rejects(setUpHostPath('/dev/null', 'BlockDevice'), { message: 'hostPath type check failed: /dev/null is not a block device' });
    await setUpHostPath('/dev/null', 'CharDevice');
    const sock = path.join(base, 'sock');
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    await setUpHostPath(sock, 'Socket');
    await assert.rejects(setUpHostPath(file, 'Socket'), { message: `hostPath type check failed: ${file} is not a socket file` });
    // No check for "", whatever is (not) there; bad paths and types.
    await setUpHostPath(path.join(base, 'never-made'), '');
    await assert.rejects(stat(path.join(base, 'never-made')), { code: 'ENOENT' });
    await assert.rejects(setUpHostPath(`${base}/../etc`, 'Directory'), { message: `invalid HostPath \`${base}/../etc\`: must not contain '..'` });
    await assert.rejects(setUpHostPath('relative/dir', ''), /must be an absolute path/);
    await mkdir(path.join(base, 'd'));
    await assert.rejects(setUpHostPath(path.join(base, 'd'), 'Dir'), { message: 'Dir is an invalid volume type' });
  } finally {
    server.close();
    await rm(base, { recursive: true, force: true });
  }
});

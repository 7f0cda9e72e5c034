import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isInvalidInput } from '../common/errors.ts';
import { checkLocalhostSeccompProfile } from './seccomp-profile.ts';

void test('a Localhost seccomp profile must exist, be a file and hold a JSON object', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'seccomp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'ok.json'), '{"defaultAction":"SCMP_ACT_ALLOW"}');
  await writeFile(path.join(dir, 'empty.json'), '  \n');
  await writeFile(path.join(dir, 'bad.json'), '{nope');
  await mkdir(path.join(dir, 'folder'));
  await checkLocalhostSeccompProfile(path.join(dir, 'ok.json'));
  const refused = async (name: string, why: RegExp): Promise<void> =>
    assert.rejects(checkLocalhostSeccompProfile(path.join(dir, name)), (e) => isInvalidInput(e) && why.test((e as Error).message) && (e as Error).message.includes(path.join(dir, name)));
  await refused('missing.json', /the file does not exist/);
  await refused('empty.json', /the file is empty/);
  await refused('bad.json', /not valid JSON/);
  await refused('folder', /not a regular file/);
});

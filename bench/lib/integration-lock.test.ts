import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { lockHolders } from './integration-lock.ts';

test('lockHolders names the process holding a flock on the file, and nobody after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-test-'));
  const file = join(dir, 'lock');
  writeFileSync(file, '');
  try {
    assert.deepEqual(lockHolders(file), []);
    const child = spawn('flock', [file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await once(child.stdout, 'data');
    assert.deepEqual(lockHolders(file), [child.pid]);
    child.stdin.end();
    await once(child, 'close');
    assert.deepEqual(lockHolders(file), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FakeClock } from '../common/clock.ts';
import { isInvalidInput, notFound, transient } from '../common/errors.ts';
import type { Container, ContainerStatus } from '../cri/types.ts';
import { silentLogger } from '../observability/logger.ts';
import {
  ContainerLogManager,
  compressLogFile,
  isRotatedLogOf,
  planLogRotation,
  rotatedLogName,
  rotationTimestamp,
  shouldRotate,
  type LogRotationRuntime,
} from './rotation.ts';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tskubelet-rotation-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

// ---- pure decisions

test('rotationTimestamp: YYYYMMDD-hhmmss in UTC', () => {
  assert.equal(rotationTimestamp(Date.UTC(2024, 0, 2, 3, 4, 5, 999)), '20240102-030405');
  assert.equal(rotatedLogName('/var/log/pods/ns_p_u/c/0.log', Date.UTC(2023, 11, 31, 23, 59, 59)), '/var/log/pods/ns_p_u/c/0.log.20231231-235959');
});

test('isRotatedLogOf: rotated, compressed and temporary copies of this log only', () => {
  assert.ok(isRotatedLogOf('0.log', '0.log.20240102-030405'));
  assert.ok(isRotatedLogOf('0.log', '0.log.20240102-030405.gz'));
  assert.ok(isRotatedLogOf('0.log', '0.log.20240102-030405.tmp'));
  assert.ok(isRotatedLogOf('0.log', '0.log.20240102-030405.gz.tmp'));
  assert.ok(!isRotatedLogOf('0.log', '0.log'));
  assert.ok(!isRotatedLogOf('0.log', '1.log.20240102-030405'));
  assert.ok(!isRotatedLogOf('0.log', '0xlog.20240102-030405'), 'the dot is literal');
  assert.ok(!isRotatedLogOf('0.log', '0.log.backup'));
  assert.ok(!isRotatedLogOf('0.log', '0.log.20240102-030405.gz.old'));
});

test('planLogRotation: nothing rotated yet', () => {
  assert.deepEqual(planLogRotation('0.log', ['0.log', '1.log'], 5), { removeUnused: [], removeExcess: [], compress: [] });
});

test('planLogRotation: the newest rotated file gets compressed before the current one is rotated', () => {
  const plan = planLogRotation('0.log', ['0.log', '0.log.20240101-000010', '0.log.20240101-000000.gz'], 5);
  assert.deepEqual(plan, { removeUnused: [], removeExcess: [], compress: ['0.log.20240101-000010'] });
});

test('planLogRotation: keeps maxFiles - 2 rotated files (current + the one about to be rotated make maxFiles)', () => {
  const names = ['0.log', '0.log.20240101-000030', '0.log.20240101-000000.gz', '0.log.20240101-000020.gz', '0.log.20240101-000010.gz', 'other'];
  assert.deepEqual(planLogRotation('0.log', names, 5), {
    removeUnused: [],
    removeExcess: ['0.log.20240101-000000.gz'],
    compress: ['0.log.20240101-000030'],
  });
  assert.deepEqual(planLogRotation('0.log', names, 2), {
    removeUnused: [],
    removeExcess: ['0.log.20240101-000000.gz', '0.log.20240101-000010.gz', '0.log.20240101-000020.gz', '0.log.20240101-000030'],
    compress: [],
  });
  assert.deepEqual(planLogRotation('0.log', names, 3).removeExcess, ['0.log.20240101-000000.gz', '0.log.20240101-000010.gz', '0.log.20240101-000020.gz']);
});

test('planLogRotation: leftovers of an interrupted rotation are removed', () => {
  const names = ['0.log', '0.log.20240101-000000', '0.log.20240101-000000.gz', '0.log.20240101-000010.tmp', '0.log.20240101-000020'];
  assert.deepEqual(planLogRotation('0.log', names, 5), {
    removeUnused: ['0.log.20240101-000000', '0.log.20240101-000010.tmp'],
    removeExcess: [],
    compress: ['0.log.20240101-000020'],
  });
});

test('shouldRotate: at or above the maximum; negative maximum disables', () => {
  assert.equal(shouldRotate(99, 100), false);
  assert.equal(shouldRotate(100, 100), true);
  assert.equal(shouldRotate(101, 100), true);
  assert.equal(shouldRotate(1e9, -1), false);
});

// ---- compression

test('compressLogFile: path.gz holds the content, path is gone, the mode is kept', async () => {
  const path = join(root, `compress-${++n}`);
  const content = 'line\n'.repeat(10_000);
  await writeFile(path, content, { mode: 0o640 });
  await compressLogFile(path);
  assert.equal(gunzipSync(await readFile(`${path}.gz`)).toString(), content);
  await assert.rejects(stat(path), { code: 'ENOENT' });
  await assert.rejects(stat(`${path}.tmp`), { code: 'ENOENT' });
  assert.equal((await stat(`${path}.gz`)).mode & 0o777, 0o640);
});

test('compressLogFile: a symbolic link is not followed', async () => {
  const target = join(root, `target-${++n}`);
  await writeFile(target, 'secret');
  const link = join(root, `link-${n}`);
  await symlink(target, link);
  await assert.rejects(compressLogFile(link), { code: 'ELOOP' });
  assert.equal(await readFile(target, 'utf8'), 'secret');
  await assert.rejects(stat(`${link}.gz`), { code: 'ENOENT' });
});

// ---- the manager against a fake runtime

interface FakeContainer {
  id: string;
  state: Container['state'];
  logPath: string;
  reopenFails?: boolean;
  statusFails?: boolean;
}

function fakeRuntime(containers: FakeContainer[]): LogRotationRuntime & { reopened: string[] } {
  const reopened: string[] = [];
  return {
    reopened,
    listContainers: () => Promise.resolve(containers.map((c) => ({ id: c.id, state: c.state }) as Container)),
    containerStatus: (id: string) => {
      const c = containers.find((x) => x.id === id);
      if (!c || c.statusFails) return Promise.reject(notFound(`no container ${id}`));
      return Promise.resolve({ id, state: c.state, log_path: c.logPath } as ContainerStatus);
    },
    reopenContainerLog: async (id: string) => {
      const c = containers.find((x) => x.id === id)!;
      if (c.reopenFails) throw transient('runtime busy');
      reopened.push(id);
      await writeFile(c.logPath, ''); // the runtime opens a fresh file at the path
    },
  };
}

async function containerDir(): Promise<string> {
  const dir = join(root, 'pods', `ns_pod${++n}_uid`, 'c');
  await mkdir(dir, { recursive: true });
  return dir;
}

const START = Date.UTC(2024, 0, 1, 0, 0, 0);

test('rotateOnce: big logs of running containers rotate; small, exited and failing ones are left; others go on', async () => {
  const [dirBig, dirSmall, dirExited, dirBroken] = await Promise.all([containerDir(), containerDir(), containerDir(), containerDir()]);
  const big = join(dirBig, '0.log');
  const small = join(dirSmall, '0.log');
  const exited = join(dirExited, '0.log');
  const broken = join(dirBroken, '0.log');
  await writeFile(big, 'x'.repeat(200));
  await writeFile(small, 'x'.repeat(10));
  await writeFile(exited, 'x'.repeat(200));
  await writeFile(broken, 'x'.repeat(200));
  const runtime = fakeRuntime([
    { id: 'broken', state: 'CONTAINER_RUNNING', logPath: broken, statusFails: true },
    { id: 'big', state: 'CONTAINER_RUNNING', logPath: big },
    { id: 'small', state: 'CONTAINER_RUNNING', logPath: small },
    { id: 'exited', state: 'CONTAINER_EXITED', logPath: exited },
  ]);
  const clock = new FakeClock(START);
  const m = new ContainerLogManager({ runtime, clock, logger: silentLogger, maxSizeBytes: 100, maxFiles: 3, podLogsDir: join(root, 'pods') });
  await m.rotateOnce(new AbortController().signal);
  assert.deepEqual(runtime.reopened, ['big']);
  assert.deepEqual((await readdir(dirBig)).sort(), ['0.log', '0.log.20240101-000000']);
  assert.equal(await readFile(`${big}.20240101-000000`, 'utf8'), 'x'.repeat(200));
  assert.equal(await readFile(big, 'utf8'), '');
  for (const dir of [dirSmall, dirExited, dirBroken]) assert.deepEqual(await readdir(dir), ['0.log']);
});

test('rotateOnce over time: older rotated files are compressed, the oldest removed, at most maxFiles files', async () => {
  const dir = await containerDir();
  const path = join(dir, '0.log');
  const runtime = fakeRuntime([{ id: 'c1', state: 'CONTAINER_RUNNING', logPath: path }]);
  const clock = new FakeClock(START);
  const m = new ContainerLogManager({ runtime, clock, logger: silentLogger, maxSizeBytes: 100, maxFiles: 3 });
  const signal = new AbortController().signal;
  for (let i = 0; i < 4; i++) {
    await writeFile(path, `generation ${i}\n`.repeat(20));
    await m.rotateOnce(signal);
    clock.advance(10_000);
  }
  const files = (await readdir(dir)).sort();
  assert.deepEqual(files, ['0.log', '0.log.20240101-000020.gz', '0.log.20240101-000030']);
  assert.equal(gunzipSync(await readFile(join(dir, '0.log.20240101-000020.gz'))).toString(), 'generation 2\n'.repeat(20));
  assert.equal(await readFile(join(dir, '0.log.20240101-000030'), 'utf8'), 'generation 3\n'.repeat(20));
});

test('rotateOnce: a failed reopen renames the file back', async () => {
  const dir = await containerDir();
  const path = join(dir, '0.log');
  await writeFile(path, 'y'.repeat(500));
  await writeFile(join(dir, '0.log.20231231-000000.tmp'), 'leftover');
  const runtime = fakeRuntime([{ id: 'c1', state: 'CONTAINER_RUNNING', logPath: path, reopenFails: true }]);
  const m = new ContainerLogManager({ runtime, clock: new FakeClock(START), logger: silentLogger, maxSizeBytes: 100, maxFiles: 5 });
  await m.rotateOnce(new AbortController().signal);
  assert.deepEqual(await readdir(dir), ['0.log'], 'the .tmp leftover is cleaned, the log is back');
  assert.equal(await readFile(path, 'utf8'), 'y'.repeat(500));
});

test('rotateOnce: a missing log file makes the runtime reopen it', async () => {
  const dir = await containerDir();
  const path = join(dir, '0.log');
  const runtime = fakeRuntime([{ id: 'c1', state: 'CONTAINER_RUNNING', logPath: path }]);
  const m = new ContainerLogManager({ runtime, clock: new FakeClock(START), logger: silentLogger, maxSizeBytes: 100, maxFiles: 5 });
  await m.rotateOnce(new AbortController().signal);
  assert.deepEqual(runtime.reopened, ['c1']);
  assert.deepEqual(await readdir(dir), ['0.log']);
});

test('rotateOnce: a log outside podLogsDir or a symbolic link is never touched', async () => {
  const elsewhere = await mkdtemp(join(root, 'elsewhere-'));
  const outsidePath = join(elsewhere, '0.log');
  await writeFile(outsidePath, 'z'.repeat(500));
  const dir = await containerDir();
  const linkPath = join(dir, '0.log');
  await symlink(outsidePath, linkPath);
  const runtime = fakeRuntime([
    { id: 'outside', state: 'CONTAINER_RUNNING', logPath: outsidePath },
    { id: 'link', state: 'CONTAINER_RUNNING', logPath: linkPath },
  ]);
  const m = new ContainerLogManager({ runtime, clock: new FakeClock(START), logger: silentLogger, maxSizeBytes: 100, maxFiles: 5, podLogsDir: join(root, 'pods') });
  await m.rotateOnce(new AbortController().signal);
  assert.deepEqual(runtime.reopened, []);
  assert.deepEqual(await readdir(elsewhere), ['0.log']);
  assert.deepEqual(await readdir(dir), ['0.log']);
});

test('constructor: maxFiles must be at least 2', () => {
  const runtime = fakeRuntime([]);
  assert.throws(() => new ContainerLogManager({ runtime, clock: new FakeClock(), logger: silentLogger, maxSizeBytes: 1, maxFiles: 1 }), isInvalidInput);
});

test('run: a pass every interval until aborted; a failing list does not stop it', async () => {
  let lists = 0;
  const runtime: LogRotationRuntime = {
    listContainers: () => {
      lists++;
      return lists === 1 ? Promise.reject(transient('runtime down')) : Promise.resolve([]);
    },
    containerStatus: () => Promise.reject(new Error('unused')),
    reopenContainerLog: () => Promise.reject(new Error('unused')),
  };
  const clock = new FakeClock(START);
  const m = new ContainerLogManager({ runtime, clock, logger: silentLogger, maxSizeBytes: 100, maxFiles: 5, intervalMs: 10_000 });
  const ac = new AbortController();
  const running = m.run(ac.signal);
  const tick = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  await tick();
  assert.equal(lists, 1);
  clock.advance(9_999);
  await tick();
  assert.equal(lists, 1);
  clock.advance(1);
  await tick();
  assert.equal(lists, 2);
  clock.advance(10_000);
  await tick();
  assert.equal(lists, 3);
  ac.abort();
  await running;
});

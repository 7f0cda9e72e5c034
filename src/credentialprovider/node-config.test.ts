import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FakeClock } from '../common/clock.ts';
import { silentLogger } from '../observability/logger.ts';
import { NODE_CONFIG_CACHE_MS, NodeDockerConfig, nodeConfigSearchPaths } from './node-config.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

void test('search order: config.json in rootDir, ~/.docker, /.docker, then .dockercfg in rootDir, ~, /', () => {
  assert.deepEqual(nodeConfigSearchPaths('/var/lib/kubelet', '/root').map((f) => `${f.format} ${f.path}`), [
    'config.json /var/lib/kubelet/config.json',
    'config.json /root/.docker/config.json',
    'config.json /.docker/config.json',
    '.dockercfg /var/lib/kubelet/.dockercfg',
    '.dockercfg /root/.dockercfg',
    '.dockercfg /.dockercfg',
  ]);
});

void test('the first valid file wins; invalid ones are skipped; the result is cached 5 minutes', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tsk-nodecfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rootDir = path.join(dir, 'root');
  const home = path.join(dir, 'home');
  const files = new Map<string, string>();
  let reads = 0;
  const readFile = (f: string): Promise<string> => {
    reads++;
    const text = files.get(f);
    if (text === undefined) return Promise.reject(Object.assign(new Error('missing'), { code: 'ENOENT' }));
    return Promise.resolve(text);
  };
  const clock = new FakeClock(1_000);
  const node = new NodeDockerConfig({ rootDir, homeDir: home, clock, logger: silentLogger, readFile });
  assert.deepEqual((await node.keyring()).lookup('r.io/app'), [], 'no file: no credentials');

  files.set(path.join(rootDir, 'config.json'), '{"auths": {"r.io": {"auth": "!!"}}}'); // invalid: skipped
  files.set(path.join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'r.io': { auth: b64('home:pw') } } }));
  files.set(path.join(rootDir, '.dockercfg'), JSON.stringify({ 'r.io': { username: 'legacy', password: 'pw' } }));
  assert.deepEqual((await node.keyring()).lookup('r.io/app'), [], 'still cached');
  clock.advance(NODE_CONFIG_CACHE_MS);
  reads = 0;
  assert.deepEqual((await node.keyring()).lookup('r.io/app'), [{ username: 'home', password: 'pw' }]);
  assert.equal(reads, 2, 'stops at the first valid file');

  files.clear();
  files.set(path.join(rootDir, '.dockercfg'), JSON.stringify({ 'r.io': { username: 'legacy', password: 'pw' } }));
  clock.advance(NODE_CONFIG_CACHE_MS);
  assert.deepEqual((await node.keyring()).lookup('r.io/app'), [{ username: 'legacy', password: 'pw' }], 'legacy .dockercfg when no config.json');
});

void test('reads real files from the kubelet root folder', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tsk-nodecfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: { '127.0.0.1:5000': { username: 'n', password: 'p' } } }));
  const node = new NodeDockerConfig({ rootDir: dir, homeDir: path.join(dir, 'nohome'), clock: new FakeClock(), logger: silentLogger });
  assert.deepEqual((await node.keyring()).lookup('127.0.0.1:5000/busybox'), [{ username: 'n', password: 'p' }]);
});

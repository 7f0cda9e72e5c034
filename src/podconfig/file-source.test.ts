import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import type { Pod } from '../kube/types.ts';
import { realClock } from '../common/clock.ts';
import { CONFIG_SEEN_ANNOTATION, parseManifestFile } from './manifest.ts';
import { FileSource, selectPods, type FileScan } from './file-source.ts';

const NODE = 'node-1';

const manifest = (name: string, port = 8080): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
  - name: c
    image: 127.0.0.1:5000/busybox:1.36
    ports: [{containerPort: ${port}}]
`;

const names = (pods: Pod[]): string[] => pods.map((p) => p.metadata?.name ?? '');

test('selectPods: last good pods kept for a broken file, forgotten for a removed one; first file wins duplicates', () => {
  const parsed = (file: string, text: string): FileScan => ({ file, status: 'parsed', ...parseManifestFile(file, text, NODE) });
  const first = selectPods([parsed('/m/a.yaml', manifest('a')), parsed('/m/b.yaml', manifest('b'))], new Map());
  assert.deepEqual(names(first.pods), ['a-node-1', 'b-node-1']);
  const broken = selectPods(
    [parsed('/m/a.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  contai'), { file: '/m/b.yaml', status: 'unreadable', reason: 'EACCES' }],
    first.lastGood,
  );
  assert.deepEqual(names(broken.pods), ['a-node-1', 'b-node-1']);
  assert.deepEqual(broken.kept, ['/m/a.yaml', '/m/b.yaml']);
  const removed = selectPods([parsed('/m/a.yaml', 'not: [valid')], broken.lastGood);
  assert.deepEqual(names(removed.pods), ['a-node-1']);
  assert.deepEqual([...removed.lastGood.keys()], ['/m/a.yaml']);
  const neverGood = selectPods([parsed('/m/c.yaml', `${manifest('c')}---\nkind: Nope\n`)], new Map());
  assert.deepEqual(neverGood.pods, [], 'a file with any invalid document gives nothing new');
  const dup = selectPods([parsed('/m/a.yaml', manifest('a')), parsed('/m/z.yaml', manifest('a', 9090))], new Map());
  assert.deepEqual(names(dup.pods), ['a-node-1']);
  assert.equal(dup.pods[0]?.spec?.containers[0]?.ports?.[0]?.containerPort, 8080);
  assert.deepEqual(dup.duplicates, [{ file: '/m/z.yaml', pod: 'default/a-node-1', firstFile: '/m/a.yaml' }]);
});

interface LogLine {
  level: number;
  msg: string;
  file?: string;
  reason?: string;
}

/** Collects snapshots and logs; `next` waits for a snapshot matching a predicate. */
function harness(dir: string, fileCheckFrequencyMs: number) {
  const snapshots: Pod[][] = [];
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const source = new FileSource({ dir, nodeName: NODE, logger, clock: realClock, fileCheckFrequencyMs, onPods: (pods) => snapshots.push(pods) });
  const waitFor = async (what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}; snapshots: ${JSON.stringify(snapshots.map(names))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const last = (): Pod[] => snapshots.at(-1) ?? [];
  return { source, snapshots, logs, waitFor, last };
}

test('FileSource: a real folder — start, modify, break, delete, duplicates', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'podconfig-'));
  const ctl = new AbortController();
  try {
    await fs.writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    await fs.writeFile(path.join(dir, 'job.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'job' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } }));
    await fs.writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {containers: []}\n');
    await fs.writeFile(path.join(dir, '.hidden.yaml'), manifest('hidden'));
    await fs.mkdir(path.join(dir, 'sub'));
    await fs.writeFile(path.join(dir, 'sub', 'deep.yaml'), manifest('deep'));
    // A long rescan period: changes below must be seen through fs.watch.
    const h = harness(dir, 60_000);
    const running = h.source.run(ctl.signal);

    await h.waitFor('first snapshot', () => h.snapshots.length === 1);
    assert.deepEqual(names(h.last()), ['job-node-1', 'web-node-1']);
    const badLog = h.logs.find((l) => l.file === path.join(dir, 'bad.yaml'));
    assert.equal(badLog?.level, 50);
    assert.match(badLog?.reason ?? '', /spec\.containers: required/);
    const [job0, web0] = h.last();
    assert.match(job0?.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION] ?? '', /^\d{4}-\d\d-\d\dT/);

    // Modify: web gets a new UID; job keeps its UID and first-seen time.
    await fs.writeFile(path.join(dir, 'web.yaml'), manifest('web', 9090));
    await h.waitFor('modified web', () => h.snapshots.length === 2);
    const [job1, web1] = h.last();
    assert.notEqual(web1?.metadata?.uid, web0?.metadata?.uid);
    assert.equal(web1?.spec?.containers[0]?.ports?.[0]?.containerPort, 9090);
    assert.deepEqual(job1, job0);

    // A half-written save: the last good pods stay, the problem is logged.
    await fs.writeFile(path.join(dir, 'web.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    ima');
    await h.waitFor('kept log', () => h.logs.some((l) => l.file === path.join(dir, 'web.yaml') && /keeping/.test(l.msg)));
    // An editor truncating the file before writing it: still kept.
    await fs.writeFile(path.join(dir, 'web.yaml'), '');
    await h.waitFor('empty file log', () => h.logs.some((l) => l.file === path.join(dir, 'web.yaml') && /no pod in the file/.test(l.reason ?? '')));
    // A duplicate of job in a later file: logged, ignored.
    await fs.writeFile(path.join(dir, 'z-dup.yaml'), manifest('job'));
    await h.waitFor('duplicate log', () => h.logs.some((l) => l.file === path.join(dir, 'z-dup.yaml') && /already defined/.test(l.reason ?? '')));
    assert.equal(h.snapshots.length, 2, 'nothing changed for the consumers');

    // Fixed again, then removed.
    await fs.writeFile(path.join(dir, 'web.yaml'), manifest('web', 7070));
    await h.waitFor('fixed web', () => h.snapshots.length === 3);
    await fs.rm(path.join(dir, 'web.yaml'));
    await h.waitFor('removed web', () => h.snapshots.length === 4);
    assert.deepEqual(names(h.last()), ['job-node-1']);
    assert.deepEqual(h.last()[0], job0);

    ctl.abort();
    await running;
  } finally {
    ctl.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('FileSource: a missing folder gives an empty snapshot, then its pods once it appears (rescan)', async () => {
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'podconfig-'));
  const dir = path.join(parent, 'manifests');
  const ctl = new AbortController();
  try {
    const h = harness(dir, 100);
    const running = h.source.run(ctl.signal);
    await h.waitFor('empty snapshot', () => h.snapshots.length === 1);
    assert.deepEqual(h.last(), []);
    assert.equal(h.logs.filter((l) => /does not exist/.test(l.msg)).length, 1);
    await fs.access(dir).then(
      () => assert.fail('the folder must not be created'),
      () => {},
    );
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'a.yaml'), manifest('a'));
    await h.waitFor('pods of the new folder', () => h.snapshots.length === 2);
    assert.deepEqual(names(h.last()), ['a-node-1']);
    // The folder goes away: its pods go away too.
    await fs.rm(dir, { recursive: true });
    await h.waitFor('folder removed', () => h.snapshots.length === 3);
    assert.deepEqual(h.last(), []);
    ctl.abort();
    await running;
  } finally {
    ctl.abort();
    await fs.rm(parent, { recursive: true, force: true });
  }
});

test('FileSource: a too large file is refused with an error', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'podconfig-'));
  const ctl = new AbortController();
  try {
    await fs.writeFile(path.join(dir, 'big.yaml'), Buffer.alloc(10 * 1024 * 1024 + 1, 0x23));
    await fs.writeFile(path.join(dir, 'ok.yaml'), manifest('ok'));
    const h = harness(dir, 60_000);
    const running = h.source.run(ctl.signal);
    await h.waitFor('first snapshot', () => h.snapshots.length === 1);
    assert.deepEqual(names(h.last()), ['ok-node-1']);
    assert.match(h.logs.find((l) => l.file === path.join(dir, 'big.yaml'))?.reason ?? '', /larger than/);
    ctl.abort();
    await running;
  } finally {
    ctl.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('FileSource: the static pod path may be a single manifest file, as upstream', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'podconfig-'));
  const ctl = new AbortController();
  try {
    const file = path.join(dir, 'only.yaml');
    await fs.writeFile(file, 'kind: Nope\n');
    const h = harness(file, 50);
    const running = h.source.run(ctl.signal);
    await h.waitFor('first snapshot', () => h.snapshots.length === 1);
    assert.deepEqual(h.last(), []);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.logs.filter((l) => l.file === file).length, 1, 'a lasting problem is logged once, not at every rescan');
    await fs.writeFile(file, manifest('only'));
    await h.waitFor('pod', () => h.snapshots.length === 2);
    assert.deepEqual(names(h.last()), ['only-node-1']);
    ctl.abort();
    await running;
  } finally {
    ctl.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('FileSource: a change made between the first scan and the start of the watch is not missed', async () => {
  // The race after a restart: the manifest was removed right after the first scan had read it,
  // before fs.watch was set up; without a scan after the watch started, only the rescan (20 s by
  // default) noticed it.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'podconfig-'));
  const ctl = new AbortController();
  try {
    const file = path.join(dir, 'crash.yaml');
    await fs.writeFile(file, manifest('crash'));
    const snapshots: Pod[][] = [];
    const source = new FileSource({
      dir,
      nodeName: NODE,
      logger: pino({ level: 'silent' }),
      clock: realClock,
      fileCheckFrequencyMs: 60_000, // only a watch event or a scan after the watch started can see the removal
      onPods: (pods) => {
        snapshots.push(pods);
        // Called synchronously by the first scan, before the watch is set up.
        if (snapshots.length === 1) unlinkSync(file);
      },
    });
    const running = source.run(ctl.signal);
    const end = Date.now() + 5_000;
    while (snapshots.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(snapshots.map(names), [['crash-node-1'], []], 'the removal is seen without waiting for the rescan');
    ctl.abort();
    await running;
  } finally {
    ctl.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

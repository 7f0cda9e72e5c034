import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { CONFIG_SEEN_ANNOTATION } from './manifest.ts';
import { PodConfig, diffPods, type PodChange, type PodSource } from './pod-config.ts';

const pod = (uid: string, extra: Record<string, string> = {}, seen = 't0'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `p-${uid}`, namespace: 'default', uid, annotations: { [CONFIG_SEEN_ANNOTATION]: seen, ...extra } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
});
const byUid = (pods: Pod[]): Map<string, Pod> => new Map(pods.map((p) => [p.metadata!.uid!, p]));
const uids = (pods: Pod[]): string[] => pods.map((p) => p.metadata!.uid!);

test('diffPods: added, updated, removed by UID', () => {
  const prev = byUid([pod('a'), pod('b'), pod('c')]);
  const d = diffPods(prev, [pod('a'), pod('b', { note: 'x' }), pod('d')]);
  assert.deepEqual(uids(d.added), ['d']);
  assert.deepEqual(uids(d.updated), ['b']);
  assert.deepEqual(uids(d.removed), ['c']);
});

test('diffPods: a different seen time alone is no update; updated and refreshed pods keep the first seen time', () => {
  const prev = byUid([pod('a', {}, 't0')]);
  assert.deepEqual(diffPods(prev, [pod('a', {}, 't1')]), { added: [], updated: [], refreshed: [pod('a', {}, 't0')], removed: [] });
  assert.deepEqual(diffPods(prev, [prev.get('a')!]), { added: [], updated: [], refreshed: [], removed: [] }, 'the same object: nothing');
  const d = diffPods(prev, [pod('a', { note: 'x' }, 't1')]);
  assert.equal(d.updated[0]?.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION], 't0');
  assert.equal(d.updated[0]?.metadata?.annotations?.note, 'x');
});

test('diffPods: a new status or resourceVersion only refreshes; spec, labels, annotations and the deletion mark update', () => {
  const base = pod('a');
  const prev = byUid([base]);
  const withStatus: Pod = { ...base, metadata: { ...base.metadata, resourceVersion: '42' }, status: { phase: 'Running' } };
  const d = diffPods(prev, [withStatus]);
  assert.deepEqual([uids(d.updated), uids(d.refreshed)], [[], ['a']]);
  assert.equal(d.refreshed[0], withStatus, 'the newer object itself (it already has the first seen time)');
  const changes: Pod[] = [
    { ...base, spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } },
    { ...base, metadata: { ...base.metadata, labels: { app: 'x' } } },
    pod('a', { note: 'x' }),
    { ...base, metadata: { ...base.metadata, deletionTimestamp: new Date('2026-01-01T00:00:00Z'), deletionGracePeriodSeconds: 30 } },
  ];
  for (const changed of changes) assert.deepEqual(uids(diffPods(prev, [changed]).updated), ['a'], JSON.stringify(changed.metadata));
});

test('diffPods: empty cases, duplicate and missing UIDs', () => {
  assert.deepEqual(diffPods(new Map(), []), { added: [], updated: [], refreshed: [], removed: [] });
  const noUid = pod('x');
  delete noUid.metadata!.uid;
  const d = diffPods(new Map(), [pod('a'), pod('a', { dup: '1' }), noUid]);
  assert.deepEqual(uids(d.added), ['a']);
  assert.equal(d.added[0]?.metadata?.annotations?.dup, undefined);
  assert.deepEqual(uids(diffPods(byUid([pod('a')]), []).removed), ['a']);
});

test('PodConfig: first snapshot always reported, then only changes, per source', () => {
  const changes: PodChange[] = [];
  const config = new PodConfig({ logger: silentLogger, onChange: (c) => changes.push(c) });
  let send: (pods: Pod[]) => void = () => {};
  config.addSource('file', (onPods) => {
    send = onPods;
    return { run: async () => {} };
  });
  assert.equal(config.seenAllSources(), false);
  send([]);
  assert.equal(config.seenAllSources(), true);
  assert.deepEqual(changes, [{ source: 'file', initial: true, added: [], updated: [], refreshed: [], removed: [] }]);
  send([pod('a')]);
  send([pod('a')]);
  send([pod('a', { x: '1' }), pod('b')]);
  send([pod('b')]);
  assert.deepEqual(
    changes.slice(1).map((c) => [c.initial, uids(c.added), uids(c.updated), uids(c.refreshed), uids(c.removed)]),
    [
      [false, ['a'], [], [], []],
      [false, [], [], ['a'], []],
      [false, ['b'], ['a'], [], []],
      [false, [], [], ['b'], ['a']],
    ],
  );
  assert.deepEqual(uids(config.pods()), ['b']);
  const other = config.channel('http');
  other([pod('h')]);
  assert.deepEqual(changes.at(-1), { source: 'http', initial: true, added: [pod('h')], updated: [], refreshed: [], removed: [] });
  assert.deepEqual(uids(config.pods()).sort(), ['b', 'h']);
});

test('PodConfig: run runs the sources until abort; a failing handler or source is contained', async () => {
  const config = new PodConfig({
    logger: silentLogger,
    onChange: () => {
      throw new Error('handler bug');
    },
  });
  const ran: string[] = [];
  const make = (name: string, fail: boolean) => (onPods: (pods: Pod[]) => void): PodSource => ({
    run: async (signal) => {
      ran.push(name);
      onPods([pod(name)]);
      if (fail) throw new Error('source bug');
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  });
  config.addSource('one', make('one', false));
  config.addSource('two', make('two', true));
  const ctl = new AbortController();
  const done = config.run(ctl.signal);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(ran, ['one', 'two']);
  assert.equal(config.seenAllSources(), true);
  ctl.abort();
  await done;
});

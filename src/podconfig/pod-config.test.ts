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

test('diffPods: a different seen time alone is no update; an update keeps the first seen time', () => {
  const prev = byUid([pod('a', {}, 't0')]);
  assert.deepEqual(diffPods(prev, [pod('a', {}, 't1')]), { added: [], updated: [], removed: [] });
  const d = diffPods(prev, [pod('a', { note: 'x' }, 't1')]);
  assert.equal(d.updated[0]?.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION], 't0');
  assert.equal(d.updated[0]?.metadata?.annotations?.note, 'x');
});

test('diffPods: empty cases, duplicate and missing UIDs', () => {
  assert.deepEqual(diffPods(new Map(), []), { added: [], updated: [], removed: [] });
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
  assert.deepEqual(changes, [{ source: 'file', initial: true, added: [], updated: [], removed: [] }]);
  send([pod('a')]);
  send([pod('a')]);
  send([pod('a', { x: '1' }), pod('b')]);
  send([pod('b')]);
  assert.deepEqual(
    changes.slice(1).map((c) => [c.initial, uids(c.added), uids(c.updated), uids(c.removed)]),
    [
      [false, ['a'], [], []],
      [false, ['b'], ['a'], []],
      [false, [], [], ['a']],
    ],
  );
  assert.deepEqual(uids(config.pods()), ['b']);
  const other = config.channel('http');
  other([pod('h')]);
  assert.deepEqual(changes.at(-1), { source: 'http', initial: true, added: [pod('h')], updated: [], removed: [] });
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeClient, RequestOptionsKube, WatchEventType } from '../../src/kube/client.ts';
import type { Pod } from '../../src/kube/types.ts';
import { benchPod, diffRequestDurations, parseRequestDurations, PodWatchRecorder } from './cluster-api.ts';

test('benchPod: direct sets nodeName, scheduler a hostname nodeSelector; ordinary pod otherwise', () => {
  const d = benchPod('p', 'direct', 'n1', 'run');
  assert.equal(d.spec?.nodeName, 'n1');
  assert.equal(d.spec?.nodeSelector, undefined);
  assert.equal(d.spec?.automountServiceAccountToken, undefined);
  const s = benchPod('p', 'scheduler', 'n1', 'run');
  assert.equal(s.spec?.nodeName, undefined);
  assert.deepEqual(s.spec?.nodeSelector, { 'kubernetes.io/hostname': 'n1' });
  assert.match(s.spec?.containers[0]?.command?.join(' ') ?? '', /trap "exit 0" TERM/);
});

test('request durations: summed over scopes, diffed, watches left out, largest total first', () => {
  const m = (podsCount: number, podsSum: number): string => [
    '# HELP apiserver_request_duration_seconds x',
    `apiserver_request_duration_seconds_count{component="apiserver",resource="pods",scope="namespace",subresource="",verb="POST",version="v1"} ${podsCount}`,
    `apiserver_request_duration_seconds_sum{component="apiserver",resource="pods",scope="namespace",subresource="",verb="POST",version="v1"} ${podsSum}`,
    'apiserver_request_duration_seconds_count{component="apiserver",resource="serviceaccounts",scope="resource",subresource="token",verb="POST",version="v1"} 4',
    'apiserver_request_duration_seconds_sum{component="apiserver",resource="serviceaccounts",scope="resource",subresource="token",verb="POST",version="v1"} 0.2',
    'apiserver_request_duration_seconds_count{component="apiserver",resource="pods",scope="cluster",subresource="",verb="WATCH",version="v1"} 3',
    'apiserver_request_duration_seconds_bucket{component="apiserver",resource="pods",le="0.1"} 1',
  ].join('\n');
  const before = parseRequestDurations(m(10, 1));
  assert.deepEqual(before.get('POST pods'), { count: 10, sumS: 1 });
  const diff = diffRequestDurations(before, parseRequestDurations(m(40, 2.5)));
  assert.equal(diff.length, 1);
  assert.equal(diff[0]?.request, 'POST pods');
  assert.equal(diff[0]?.count, 30);
  assert.equal(Math.round(diff[0]?.meanMs ?? 0), 50);
});

test('PodWatchRecorder records the first arrival of each kind of event, by pod name', async () => {
  let now = 1000;
  let emit: ((type: WatchEventType, object: unknown) => void) | null = null;
  let ended: (() => void) | null = null;
  const client = {
    server: 'x',
    request: <T>(_m: string, _p: string, _o?: RequestOptionsKube): Promise<T> => Promise.resolve({ metadata: { resourceVersion: '5' }, items: [] } as T),
    watch: (_p: string, q: Record<string, unknown>, onEvent: (t: WatchEventType, o: unknown) => void, signal: AbortSignal): Promise<void> => {
      assert.equal(q.resourceVersion, '5');
      emit = onEvent;
      return new Promise<void>((resolve) => {
        ended = resolve;
        signal.addEventListener('abort', () => resolve());
      });
    },
    reload: () => Promise.resolve(),
    close: () => undefined,
  } satisfies KubeClient;
  const rec = new PodWatchRecorder({ client, namespace: 'ns', now: () => now, warn: (m) => assert.fail(m) });
  await rec.start(AbortSignal.timeout(5_000));
  await new Promise((r) => setImmediate(r));
  const pod = (extra: Partial<Pod>): Pod => ({ metadata: { name: 'a', uid: 'u', creationTimestamp: new Date(0) as unknown as Date, resourceVersion: '6', ...extra.metadata }, spec: { containers: [], ...extra.spec }, status: extra.status });
  emit!('ADDED', pod({}));
  now = 1100;
  emit!('MODIFIED', pod({ spec: { nodeName: 'n', containers: [] } }));
  now = 1200;
  emit!('MODIFIED', pod({ spec: { nodeName: 'n', containers: [] }, status: { phase: 'Pending', startTime: new Date() } }));
  now = 1300;
  emit!('MODIFIED', pod({ spec: { nodeName: 'n', containers: [] }, status: { phase: 'Running', startTime: new Date(), conditions: [{ type: 'Ready', status: 'True' }] } }));
  now = 1400;
  emit!('DELETED', pod({}));
  const t = rec.get('a');
  assert.deepEqual([t?.addedMs, t?.boundMs, t?.firstKubeletStatusMs, t?.runningReadyMs, t?.deletedMs], [1000, 1100, 1200, 1300, 1400]);
  assert.equal(t?.creationTimestampMs, 0);
  assert.equal(rec.events, 5);
  assert.ok(ended);
  await rec.stop();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { KubeApiError } from '../kube/client.ts';
import { silentLogger } from '../observability/logger.ts';
import { FakeApi } from './fake-api.test-util.ts';
import type { RuntimeHealth } from './runtime-health.ts';
import { NODE_STATUS_REPORT_FREQUENCY_MS, NodeStatusUpdater, reportDelayAfterPost, shouldPostNodeStatus, type NodeStatusUpdaterDeps } from './status-updater.ts';
import { advance, MACHINE, settle } from './test-util.ts';
import type { Node } from './types.ts';

const MIN = 60_000;
const T0 = Date.parse('2025-01-01T00:00:00Z');

test('shouldPostNodeStatus: on change, on the first post, or when report frequency + delay passed', () => {
  const base = { changed: false, nowMs: 10 * MIN, lastReportMs: 6 * MIN, reportFrequencyMs: 5 * MIN, delayMs: 0 };
  assert.equal(shouldPostNodeStatus(base), false, '4 min after the last post');
  assert.equal(shouldPostNodeStatus({ ...base, changed: true }), true);
  assert.equal(shouldPostNodeStatus({ ...base, lastReportMs: undefined }), true);
  assert.equal(shouldPostNodeStatus({ ...base, nowMs: 11 * MIN }), true, 'exactly 5 min');
  assert.equal(shouldPostNodeStatus({ ...base, delayMs: -2 * MIN }), true, 'the delay may shorten the period');
  assert.equal(shouldPostNodeStatus({ ...base, nowMs: 11 * MIN, delayMs: 2 * MIN }), false, 'or lengthen it');
});

test('reportDelayAfterPost: ±50% of the report frequency after a change or the first post, else 0', () => {
  assert.equal(reportDelayAfterPost(true, false, 5 * MIN, () => 0), -2.5 * MIN);
  assert.equal(reportDelayAfterPost(false, true, 5 * MIN, () => 0.999999) > 2.49 * MIN, true);
  assert.equal(reportDelayAfterPost(false, false, 5 * MIN, () => 0.9), 0);
});

interface Harness {
  clock: FakeClock;
  api: FakeApi;
  updater: NodeStatusUpdater;
  health: { current: RuntimeHealth };
  stop: AbortController;
  done: Promise<void>;
  patches: () => number[];
}

function start(over: Partial<NodeStatusUpdaterDeps> = {}): Harness {
  const clock = new FakeClock(T0);
  const api = new FakeApi(() => clock.now());
  const health = { current: { ready: true, message: '' } as RuntimeHealth };
  const updater = new NodeStatusUpdater({
    client: api,
    nodeName: 'n1',
    clock,
    logger: silentLogger,
    machine: MACHINE,
    config: { nodeName: 'n1', nodeIP: '192.0.2.2', nodeLabels: {}, registerNode: true, registerWithTaints: [], maxPods: 110, port: 10250 },
    runtimeHealth: () => Promise.resolve(health.current),
    plegHealth: () => ({ ok: true, message: '' }),
    runtimeVersion: () => Promise.resolve({ type: 'containerd', version: 'v1.7.24' }),
    random: () => 0.5, // no report delay, 2% jitter: a 10.2 s period
    ...over,
  });
  const stop = new AbortController();
  const done = updater.run(stop.signal);
  return { clock, api, updater, health, stop, done, patches: () => api.callsTo('PATCH', /\/status$/).map((c) => c.at - T0) };
}

const ready = (node: Node | undefined): string | undefined => node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;

test('NodeStatusUpdater: registers, posts once, then only every 5 minutes while nothing changes', async () => {
  const h = start();
  await advance(h.clock, 200);
  assert.equal(h.api.callsTo('POST', /nodes$/).length, 1);
  assert.equal(ready(h.api.nodes.get('n1') as unknown as Node), 'True');
  assert.deepEqual(h.patches(), [100], 'the first update is posted at once (no report yet)');
  await advance(h.clock, 6 * MIN, 100);
  // ticks every 10.2 s after t=100 ms; the first tick at or after 100 ms + 5 min posts
  const expected = 100 + Math.ceil((5 * MIN) / 10_200) * 10_200;
  assert.deepEqual(h.patches(), [100, expected]);
  assert.ok(h.api.callsTo('GET', /nodes\/n1$/).length >= 35, 'the status is still recomputed every period');
  h.stop.abort();
  await h.done;
});

test('NodeStatusUpdater: a runtime going down is posted at once with updateNow, and back up at the next period', async () => {
  const h = start();
  await advance(h.clock, 200);
  h.health.current = { ready: false, message: 'container runtime is down' };
  h.updater.updateNow();
  await settle();
  const node = h.api.nodes.get('n1') as unknown as Node;
  const c = node.status?.conditions?.find((x) => x.type === 'Ready');
  assert.deepEqual([c?.status, c?.reason, c?.message], ['False', 'KubeletNotReady', 'container runtime is down']);
  assert.deepEqual(h.patches(), [100, 200]);
  h.health.current = { ready: true, message: '' };
  await advance(h.clock, 10_200);
  assert.equal(ready(h.api.nodes.get('n1') as unknown as Node), 'True');
  assert.equal(h.patches().length, 3);
  assert.equal(ready(h.updater.lastNode()), 'True');
  h.stop.abort();
  await h.done;
});

test('NodeStatusUpdater: PLEG unhealthy makes the node NotReady with upstream wording', async () => {
  const h = start({ plegHealth: () => ({ ok: false, message: 'pleg was last seen active 200s ago; threshold is 180s' }) });
  await advance(h.clock, 200);
  const c = (h.api.nodes.get('n1') as unknown as Node).status?.conditions?.find((x) => x.type === 'Ready');
  assert.equal(c?.message, 'PLEG is not healthy: pleg was last seen active 200s ago; threshold is 180s');
  h.stop.abort();
  await h.done;
});

test('NodeStatusUpdater: each update is tried 5 times; repeated failures are reported', async () => {
  let repeated = 0;
  const h = start({ onRepeatedHeartbeatFailure: () => repeated++ });
  await advance(h.clock, 200);
  const err = new KubeApiError('Transient', 500, 'InternalError', 'boom');
  h.api.fail('PATCH', /\/status$/, err, 2);
  h.health.current = { ready: false, message: 'x' };
  h.updater.updateNow();
  await settle();
  assert.equal(h.api.callsTo('PATCH', /\/status$/).length, 4, 'one post, then 2 failures and a success');
  assert.equal(repeated, 1);
  const gets = h.api.callsTo('GET', /nodes\/n1$/);
  assert.deepEqual(gets.slice(-3).map((g) => g.query?.resourceVersion), ['0', undefined, undefined], 'retries read the latest node');
  h.api.fail('PATCH', /\/status$/, err, 5);
  h.health.current = { ready: true, message: '' };
  assert.equal(await h.updater.syncNodeStatus(h.stop.signal), false);
  assert.equal(repeated, 5);
  h.stop.abort();
  await h.done;
});

test('NodeStatusUpdater: without --register-node the node is only updated', async () => {
  const h = start({ config: { nodeName: 'n1', nodeIP: '', nodeLabels: {}, registerNode: false, registerWithTaints: [], maxPods: 110, port: 10250 } });
  await advance(h.clock, 200);
  assert.equal(h.api.callsTo('POST', /nodes$/).length, 0);
  assert.ok(h.api.callsTo('GET', /nodes\/n1$/).length >= 5, 'retried: the node does not exist');
  h.stop.abort();
  await h.done;
  assert.equal(NODE_STATUS_REPORT_FREQUENCY_MS, 5 * MIN);
});

test('NodeStatusUpdater.whenRegistered: resolves with the registered Node; rejects when the signal aborts first', async () => {
  const h = start();
  const early = new AbortController();
  const rejected = assert.rejects(h.updater.whenRegistered(early.signal), { name: 'AbortError' });
  early.abort();
  await rejected;
  const registered = h.updater.whenRegistered(h.stop.signal);
  await advance(h.clock, 200);
  assert.equal((await registered).metadata.uid, 'uid-n1');
  h.stop.abort();
  await h.done;
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { KubeApiError } from '../kube/client.ts';
import { advance, MACHINE, settle } from './test-util.ts';
import { FakeApi } from './fake-api.test-util.ts';
import { buildNode } from './node-object.ts';
import { registerNode, registrationDelays } from './registration.ts';

const inputs = { nowMs: 0, machine: MACHINE, maxPods: 110, kubeletPort: 10250, addresses: [{ type: 'Hostname' as const, address: 'n1' }], runtime: { type: 'containerd', version: '1.7' }, readyErrors: [] };
const node = buildNode({ nodeName: 'n1', hostname: 'n1', nodeLabels: {}, registerWithTaints: [] }, inputs);
const serverError = (): KubeApiError => new KubeApiError('Transient', 500, 'InternalError', 'etcd is down');

test('registrationDelays: 100 ms doubling, capped at 7 s', () => {
  const next = registrationDelays();
  assert.deepEqual(Array.from({ length: 9 }, next), [100, 200, 400, 800, 1600, 3200, 6400, 7000, 7000]);
});

test('registerNode: creates the node; retries failures with backoff', async () => {
  const clock = new FakeClock(0);
  const api = new FakeApi(() => clock.now());
  api.fail('POST', /^\/api\/v1\/nodes$/, serverError(), 3);
  let result: unknown;
  const done = registerNode(api, node, new AbortController().signal, { clock }).then((n) => (result = n));
  await advance(clock, 2_000, 50);
  await done;
  assert.deepEqual(api.callsTo('POST', /nodes$/).map((c) => c.at), [100, 300, 700, 1500]);
  assert.equal((result as typeof node).metadata.uid, 'uid-n1');
  assert.deepEqual(api.nodes.get('n1')?.status, node.status);
});

test('registerNode: an existing node gets the default labels back through a status patch', async () => {
  const clock = new FakeClock(0);
  const api = new FakeApi(() => clock.now());
  api.nodes.set('n1', { metadata: { name: 'n1', uid: 'old-uid', labels: { 'kubernetes.io/hostname': 'other', mine: 'x' }, annotations: {} }, spec: { taints: [{ key: 't', effect: 'NoSchedule' }] }, status: structuredClone(node.status) });
  const done = registerNode(api, () => node, new AbortController().signal, { clock });
  await advance(clock, 200);
  const registered = await done;
  assert.equal(registered.metadata.uid, 'old-uid');
  const patch = api.callsTo('PATCH', /^\/api\/v1\/nodes\/n1\/status$/);
  assert.equal(patch.length, 1);
  assert.equal(patch[0]!.contentType, 'application/strategic-merge-patch+json');
  assert.deepEqual(registered.metadata.labels, { ...node.metadata.labels, mine: 'x' });
  assert.deepEqual(registered.metadata.annotations, node.metadata.annotations);
  assert.deepEqual(registered.spec?.taints, [{ key: 't', effect: 'NoSchedule' }]);
});

test('registerNode: rejects with the reason when the signal aborts', async () => {
  const clock = new FakeClock(0);
  const api = new FakeApi();
  api.fail('POST', /nodes$/, serverError(), 100);
  const stop = new AbortController();
  const done = registerNode(api, node, stop.signal, { clock });
  const outcome = assert.rejects(done, { name: 'AbortError' });
  await advance(clock, 1_000);
  stop.abort();
  await settle();
  await outcome;
});

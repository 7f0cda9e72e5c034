import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { KubeApiError } from '../kube/client.ts';
import { silentLogger } from '../observability/logger.ts';
import { FakeApi } from './fake-api.test-util.ts';
import { formatMicroTime, leaseBackoffDelays, NodeLeaseController } from './lease.ts';
import { advance, settle } from './test-util.ts';
import type { Lease } from './types.ts';

const T0 = Date.parse('2025-01-01T00:00:00.250Z');
const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/kube-node-lease\/leases/;

function start(opts: { node?: boolean; random?: () => number; before?: (api: FakeApi) => void } = {}) {
  const clock = new FakeClock(T0);
  const api = new FakeApi(() => clock.now());
  if (opts.node ?? true) api.nodes.set('n1', { metadata: { name: 'n1', uid: 'node-uid' } });
  opts.before?.(api);
  const lease = new NodeLeaseController({ client: api, nodeName: 'n1', clock, logger: silentLogger, random: opts.random ?? (() => 0) });
  const stop = new AbortController();
  const done = lease.run(stop.signal);
  return { clock, api, lease, stop, done, stored: () => api.leases.get('n1') as unknown as Lease | undefined };
}

test('formatMicroTime: RFC 3339 with microseconds', () => {
  assert.equal(formatMicroTime(T0), '2025-01-01T00:00:00.250000Z');
});

test('leaseBackoffDelays: 200 ms doubling, capped at 7 s', () => {
  const next = leaseBackoffDelays();
  assert.deepEqual(Array.from({ length: 8 }, next), [200, 400, 800, 1600, 3200, 6400, 7000, 7000]);
});

test('NodeLeaseController: creates the lease owned by the Node, then renews it every 10 s with a PUT', async () => {
  const h = start();
  await settle();
  const created = h.stored();
  assert.deepEqual(created?.spec, { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2025-01-01T00:00:00.250000Z' });
  assert.deepEqual(created?.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid' }]);
  assert.equal(created?.metadata.namespace, 'kube-node-lease');
  await advance(h.clock, 30_000);
  const puts = h.api.callsTo('PUT', LEASES);
  assert.deepEqual(puts.map((c) => c.at - T0), [10_000, 20_000, 30_000]);
  assert.equal(h.stored()?.spec?.renewTime, formatMicroTime(T0 + 30_000));
  assert.equal(h.api.callsTo('GET', LEASES).length, 1, 'renewals reuse the last lease: no GET');
  h.stop.abort();
  await h.done;
});

test('NodeLeaseController: the renew interval has up to 4% jitter', async () => {
  const h = start({ random: () => 0.5 });
  await advance(h.clock, 21_000);
  assert.deepEqual(h.api.callsTo('PUT', LEASES).map((c) => c.at - T0), [10_200, 20_400]);
  h.stop.abort();
  await h.done;
});

test('NodeLeaseController: a conflict reads the lease again and retries at once', async () => {
  const h = start();
  await settle();
  const stored = h.api.leases.get('n1')!;
  (stored.metadata as { resourceVersion: string }).resourceVersion = '999'; // someone else wrote it
  await advance(h.clock, 10_000);
  const puts = h.api.callsTo('PUT', LEASES);
  assert.equal(puts.length, 2);
  assert.equal((puts[1]!.body as Lease).metadata.resourceVersion, '999');
  assert.equal(h.stored()?.spec?.renewTime, formatMicroTime(T0 + 10_000));
  h.stop.abort();
  await h.done;
});

test('NodeLeaseController: API errors back off 200 ms doubling to 7 s', async () => {
  const h = start({ before: (api) => api.fail('GET', LEASES, new KubeApiError('Transient', 503, 'ServiceUnavailable', 'down'), 8) });
  await advance(h.clock, 40_000, 100);
  const gets = h.api.callsTo('GET', LEASES).map((c) => c.at - T0);
  assert.deepEqual(gets, [0, 200, 600, 1400, 3000, 6200, 12_600, 19_600, 26_600]);
  assert.ok(h.stored(), 'created after the outage');
  h.stop.abort();
  await h.done;
});

test('NodeLeaseController: no lease until the Node exists (its owner), then created at the next renewal', async () => {
  const h = start({ node: false });
  await settle();
  assert.equal(h.stored(), undefined);
  h.api.nodes.set('n1', { metadata: { name: 'n1', uid: 'late-uid' } });
  await advance(h.clock, 10_000);
  assert.equal(h.stored()?.metadata.ownerReferences?.[0]?.uid, 'late-uid');
  h.stop.abort();
  await h.done;
});

test('NodeLeaseController: a deleted lease is created again', async () => {
  const h = start();
  await settle();
  h.api.leases.delete('n1');
  await advance(h.clock, 10_000);
  assert.ok(h.stored());
  assert.equal(h.api.callsTo('POST', LEASES).length, 2);
  h.stop.abort();
  await h.done;
});

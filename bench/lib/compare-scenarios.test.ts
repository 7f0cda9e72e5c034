import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../../src/kube/client.ts';
import { comparePod, deleteRetryingDrops, probeFlagDir, readinessLags } from './compare-scenarios.ts';

test('readinessLags: the first change to the flipped value per pod and flip; none is missed; others are flaps', () => {
  const flips = [{ ready: false, atMs: 1000 }, { ready: true, atMs: 11_000 }];
  const pods = [
    [{ ready: true, atMs: 0 }, { ready: false, atMs: 1500 }, { ready: true, atMs: 11_700 }],
    [{ ready: true, atMs: 0 }, { ready: false, atMs: 2000 }, { ready: true, atMs: 2500 }, { ready: false, atMs: 3000 }],
  ];
  // pod 2: 1000 ms to not ready, then a flap back and forth; never ready again after the second flip.
  assert.deepEqual(readinessLags(flips, pods), { lagMs: [500, 1000, 700], missing: 1, extra: 2 });
});

test('probe pods test the flag file through a read-only hostPath of the run folder', () => {
  const pod = comparePod('probe-000', 'probe', 'n1', 'r1');
  const c = pod.spec?.containers[0];
  assert.deepEqual(c?.readinessProbe?.exec?.command, ['test', '-f', '/flag/ready']);
  assert.deepEqual(c?.volumeMounts, [{ name: 'flag', mountPath: '/flag', readOnly: true }]);
  assert.deepEqual(pod.spec?.volumes, [{ name: 'flag', hostPath: { path: probeFlagDir('r1'), type: 'Directory' } }]);
  assert.equal(comparePod('s', 'sleep', 'n1', 'r1').spec?.volumes, undefined);
});

void test('deleteRetryingDrops: a dropped connection is tried again, a 404 then is success; an API answer is never repeated', async () => {
  const script = (...outcomes: (Error | null)[]): { calls: number; del: () => Promise<void> } => {
    const o = { calls: 0, del: async (): Promise<void> => {
      const next = outcomes[o.calls++];
      if (next) throw next;
    } };
    return o;
  };
  const hangUp = (): Error => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const notFound = (): KubeApiError => new KubeApiError('NotFound', 404, 'NotFound', 'pods "x" not found');
  const a = script(hangUp(), notFound());
  await deleteRetryingDrops(a.del);
  assert.equal(a.calls, 2);
  const b = script(notFound());
  await assert.rejects(deleteRetryingDrops(b.del), /not found/, 'a 404 at the first try is an answer');
  assert.equal(b.calls, 1);
  const c = script(hangUp(), hangUp(), hangUp(), null);
  await assert.rejects(deleteRetryingDrops(c.del), /socket hang up/);
  assert.equal(c.calls, 3);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePod, probeFlagDir, readinessLags } from './compare-scenarios.ts';

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

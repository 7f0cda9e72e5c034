import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { transient } from '../common/errors.ts';
import type { RuntimeStatus } from '../cri/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { RUNTIME_SYNC_THRESHOLD_MS, RuntimeHealthTracker, runtimeStatusErrors } from './runtime-health.ts';

const ready = (runtime: boolean, network: boolean): RuntimeStatus => ({
  conditions: [
    { type: 'RuntimeReady', status: runtime, reason: runtime ? '' : 'RuntimeNotReady', message: runtime ? '' : 'broken' },
    { type: 'NetworkReady', status: network, reason: network ? '' : 'NetworkPluginNotReady', message: network ? '' : 'Network plugin returns error: cni plugin not initialized' },
  ],
});

test('runtimeStatusErrors: upstream messages with the condition as Go prints it', () => {
  assert.deepEqual(runtimeStatusErrors(ready(true, true)), { network: undefined, runtime: undefined });
  assert.deepEqual(runtimeStatusErrors(ready(false, false)), {
    network: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized',
    runtime: 'container runtime not ready: RuntimeReady=false reason:RuntimeNotReady message:broken',
  });
  assert.deepEqual(runtimeStatusErrors({ conditions: [] }), {
    network: 'container runtime network not ready: <nil>',
    runtime: 'container runtime not ready: <nil>',
  });
});

test('RuntimeHealthTracker: not completed yet, ready, then down after 30 s without an answer', async () => {
  const clock = new FakeClock(1_000_000);
  let answer: () => Promise<RuntimeStatus> = () => Promise.reject(transient('connection refused'));
  const tracker = new RuntimeHealthTracker({ runtime: { status: () => answer() }, clock, logger: silentLogger });
  assert.deepEqual(await tracker.check(), { ready: false, message: '[container runtime status check may not have completed yet, network state unknown]' });
  answer = () => Promise.resolve(ready(true, true));
  assert.deepEqual(await tracker.check(), { ready: true, message: '' });
  answer = () => Promise.reject(transient('connection refused'));
  clock.advance(RUNTIME_SYNC_THRESHOLD_MS - 1);
  assert.equal((await tracker.check()).ready, true, 'within the threshold the last answer holds');
  clock.advance(1);
  assert.deepEqual(await tracker.check(), { ready: false, message: 'container runtime is down' });
  answer = () => Promise.resolve(ready(true, false));
  assert.deepEqual(await tracker.check(), { ready: false, message: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized' });
});

test('RuntimeHealthTracker.run: onChange when readiness changes', async () => {
  const clock = new FakeClock(0);
  let status = ready(true, true);
  const tracker = new RuntimeHealthTracker({ runtime: { status: () => Promise.resolve(status) }, clock, logger: silentLogger });
  const seen: boolean[] = [];
  const stop = new AbortController();
  const done = tracker.run(stop.signal, (h) => seen.push(h.ready));
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  await settle();
  status = ready(false, true);
  clock.advance(5_000);
  await settle();
  clock.advance(5_000);
  await settle();
  status = ready(true, true);
  clock.advance(5_000);
  await settle();
  stop.abort();
  await done;
  assert.deepEqual(seen, [false, true]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realClock } from '../common/clock.ts';
import type { Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { PodWorkers, type PodSyncer } from './pod-workers.ts';

const pod = (uid: string, generation = 0): Pod => ({ metadata: { uid, name: uid, namespace: 'default', generation }, spec: { containers: [] } });
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

class RecordingSyncer implements PodSyncer {
  calls: string[] = [];
  active = 0;
  maxActive = 0;
  syncDelayMs = 10;
  async syncPod(p: Pod, signal: AbortSignal): Promise<{ requeueAfterMs: number | null }> {
    this.calls.push(`sync ${p.metadata?.uid} g${p.metadata?.generation}`);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await realClock.sleep(this.syncDelayMs, signal);
    } finally {
      this.active--;
    }
    return { requeueAfterMs: null };
  }
  async terminatePod(p: Pod): Promise<void> {
    this.calls.push(`terminate ${p.metadata?.uid} g${p.metadata?.generation}`);
    await tick(1);
  }
}

const workers = (syncer: PodSyncer, maxConcurrentSyncs = 4): PodWorkers =>
  new PodWorkers({ syncer, clock: realClock, logger: silentLogger, resyncIntervalMs: 60_000, maxConcurrentSyncs });

void test('one pod syncs one call at a time; a newer pending update replaces an older one', async () => {
  const s = new RecordingSyncer();
  const w = workers(s);
  w.syncPod(pod('a', 1));
  w.syncPod(pod('a', 2));
  await tick(5); // g2's sync is running now
  w.syncPod(pod('a', 3));
  w.syncPod(pod('a', 4));
  await tick(80);
  assert.deepEqual(s.calls, ['sync a g2', 'sync a g4']);
  assert.equal(s.maxActive, 1);
  await w.stop();
});

void test('a terminate request aborts the running sync and is never replaced by an update', async () => {
  const s = new RecordingSyncer();
  s.syncDelayMs = 1_000;
  const w = workers(s);
  w.syncPod(pod('a', 1));
  await tick(5);
  w.terminatePod(pod('a', 2));
  w.syncPod(pod('a', 3));
  await tick(50);
  assert.deepEqual(s.calls, ['sync a g1', 'terminate a g2']);
  assert.equal(w.state('a'), 'terminated');
  await w.stop();
});

void test('different pods sync in parallel, bounded by maxConcurrentSyncs', async () => {
  const s = new RecordingSyncer();
  s.syncDelayMs = 30;
  const w = workers(s, 2);
  for (const uid of ['a', 'b', 'c', 'd', 'e']) w.syncPod(pod(uid));
  await tick(150);
  assert.equal(s.calls.length, 5);
  assert.equal(s.maxActive, 2);
  await w.stop();
});

void test('a termination does not wait for a sync slot', async () => {
  const s = new RecordingSyncer();
  s.syncDelayMs = 200;
  const w = workers(s, 1);
  w.syncPod(pod('a'));
  w.syncPod(pod('b')); // waits for a's slot
  w.terminatePod(pod('c')); // a pod known only to the runtime (an orphan) or being deleted
  await tick(50);
  assert.deepEqual([...s.calls].sort(), ['sync a g0', 'terminate c g0']);
  assert.equal(w.state('c'), 'terminated');
  w.terminatePod(pod('b')); // its sync was still waiting for a slot
  await tick(50);
  assert.deepEqual([...s.calls].sort(), ['sync a g0', 'terminate b g0', 'terminate c g0']);
  assert.equal(w.state('b'), 'terminated');
  await w.stop();
});

void test('a runtime change wakes an idle worker; unknown pods are ignored', async () => {
  const s = new RecordingSyncer();
  const w = workers(s);
  w.syncPod(pod('a'));
  await tick(40);
  w.podChanged('a');
  w.podChanged('zzz');
  await tick(40);
  assert.deepEqual(s.calls, ['sync a g0', 'sync a g0']);
  await w.stop();
});

void test('a terminate request that comes after the pod finished terminating is ignored; a new sync of the UID starts afresh', async () => {
  const s = new RecordingSyncer();
  const w = workers(s);
  w.syncPod(pod('a', 1));
  await tick(30);
  w.terminatePod(pod('a', 2));
  await tick(20);
  assert.equal(w.state('a'), 'terminated');
  w.terminatePod(pod('a', 3)); // e.g. the API's DELETED event of the pod's own final deletion
  await tick(20);
  assert.deepEqual(s.calls, ['sync a g1', 'terminate a g2']);
  w.terminatePod({ metadata: { uid: 'a' } }); // an orphan's stub: the runtime still has something
  await tick(20);
  assert.deepEqual(s.calls.slice(2), ['terminate a gundefined']);
  w.syncPod(pod('a', 4)); // a static pod added again: same UID, a new life
  await tick(30);
  w.terminatePod(pod('a', 5));
  await tick(20);
  assert.deepEqual(s.calls.slice(3), ['sync a g4', 'terminate a g5']);
  await w.stop();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { notFound } from '../common/errors.ts';
import type { Container, PodSandbox } from '../cri/types.ts';
import { LABEL_CONTAINER_NAME, LABEL_MANAGED_BY, LABEL_POD_UID } from '../kuberuntime/labels.ts';
import { silentLogger } from '../observability/logger.ts';
import { CONTAINER_GC_PERIOD_MS, CREATED_CONTAINER_GRACE_MS, ContainerGC, containersToRemove, sandboxesToRemove, type GCContainer, type GCSandbox } from './container-gc.ts';
import { DEFAULT_CONTAINER_GC_POLICY, deadInstancesToKeep, type ContainerGCPolicy } from './policy.ts';

const NOW = 10_000_000;
let seq = 0;
/** A container of pod `uid` named `name`, created `agoMs` before NOW. */
const ctr = (uid: string, name: string, agoMs: number, state: GCContainer['state'] = 'exited', sandboxId = `s-${uid}`): GCContainer => ({ id: `${uid}/${name}/${++seq}`, podUID: uid, name, sandboxId, state, createdAtMs: NOW - agoMs });
const policy = (p: Partial<ContainerGCPolicy>): ContainerGCPolicy => ({ ...DEFAULT_CONTAINER_GC_POLICY, ...p });
const none = (): boolean => false;
const ids = (list: { id: string }[]): string[] => list.map((c) => c.id).sort();

test('deadInstancesToKeep: the limit, with the minimum the status needs when the limit is at least 1', () => {
  assert.equal(deadInstancesToKeep(-1, true), null);
  assert.equal(deadInstancesToKeep(0, true), 0);
  assert.equal(deadInstancesToKeep(1, false), 1);
  assert.equal(deadInstancesToKeep(1, true), 2);
  assert.equal(deadInstancesToKeep(3, true), 3);
});

test('containersToRemove: per pod and name, the newest maxPerPodContainer dead instances stay; running and young ones are never chosen', () => {
  const running = ctr('p1', 'a', 10, 'running');
  const [a1, a2, a3] = [ctr('p1', 'a', 400), ctr('p1', 'a', 300), ctr('p1', 'a', 200)];
  const b1 = ctr('p1', 'b', 500);
  const other = ctr('p2', 'a', 600); // another pod, same name: its own group
  const all = [a1, running, a3, a2, b1, other];
  assert.deepEqual(ids(containersToRemove(all, policy({}), NOW, none)), ids([a1, a2]));
  assert.deepEqual(ids(containersToRemove(all, policy({ maxPerPodContainer: 2 }), NOW, none)), ids([a1]));
  assert.deepEqual(ids(containersToRemove(all, policy({ maxPerPodContainer: -1 }), NOW, none)), []);
  assert.deepEqual(ids(containersToRemove(all, policy({ maxPerPodContainer: 0 }), NOW, none)), ids([a1, a2, a3, b1, other]));
  // minAge: only containers created at least that long ago count (a3 at 200 ms is too young).
  assert.deepEqual(ids(containersToRemove(all, policy({ maxPerPodContainer: 0, minAgeMs: 250 }), NOW, none)), ids([a1, a2, b1, other]));
});

test('containersToRemove: while the newest instance is dead, the one before (its lastState) stays too', () => {
  const [a1, a2, a3] = [ctr('p', 'a', 300), ctr('p', 'a', 200), ctr('p', 'a', 100)];
  assert.deepEqual(ids(containersToRemove([a1, a2, a3], policy({ maxPerPodContainer: 1 }), NOW, none)), ids([a1]));
  assert.deepEqual(ids(containersToRemove([a1, a2, a3], policy({ maxPerPodContainer: 2 }), NOW, none)), ids([a1]));
});

test('containersToRemove: a recently created container is left alone; an old one left by a failed start goes', () => {
  const fresh = ctr('p', 'a', 1_000, 'created');
  const stale = ctr('p', 'b', CREATED_CONTAINER_GRACE_MS + 1, 'created');
  const unknown = ctr('p', 'c', 1_000, 'unknown');
  assert.deepEqual(ids(containersToRemove([fresh, stale, unknown], policy({ maxPerPodContainer: 0 }), NOW, none)), ids([stale, unknown]));
});

test('containersToRemove: every dead container of a deleted pod goes, whatever the policy', () => {
  const gone = [ctr('gone', 'a', 300), ctr('gone', 'a', 200), ctr('gone', 'b', 100)];
  const kept = [ctr('live', 'a', 300)];
  const deleted = (uid: string): boolean => uid === 'gone';
  assert.deepEqual(ids(containersToRemove([...gone, ...kept], policy({ maxPerPodContainer: 5 }), NOW, deleted)), ids(gone));
  assert.deepEqual(ids(containersToRemove([...gone, ctr('gone', 'x', 10, 'running')], policy({ maxPerPodContainer: -1 }), NOW, deleted)), ids(gone), 'never a running one');
});

test('containersToRemove: maxContainers gives each group an equal share (at least one), then removes the oldest overall', () => {
  // 3 groups of 3 dead instances each (the newest of each group running, so no lastState minimum).
  const groups = ['a', 'b', 'c'].map((name, g) => [0, 1, 2].map((i) => ctr('p', name, 1_000 * (i + 1) + g * 10)));
  const running = ['a', 'b', 'c'].map((name) => ctr('p', name, 1, 'running'));
  const all = [...groups.flat(), ...running];
  const p = (maxContainers: number): ContainerGCPolicy => policy({ maxPerPodContainer: -1, maxContainers });
  assert.deepEqual(containersToRemove(all, p(9), NOW, none), [], 'at the limit: nothing');
  // 6 / 3 groups = 2 each: each group's oldest goes.
  assert.deepEqual(ids(containersToRemove(all, p(6), NOW, none)), ids(groups.map((g) => g[2]!)));
  // 4 / 3 = 1 each, 3 left <= 4.
  assert.deepEqual(ids(containersToRemove(all, p(4), NOW, none)), ids(groups.flatMap((g) => g.slice(1))));
  // 2 / 3 -> at least 1 each (3 left), then the oldest of those: c's (created 1020 ms ago).
  assert.deepEqual(ids(containersToRemove(all, p(2), NOW, none)), ids([...groups.flatMap((g) => g.slice(1)), groups[2]![0]!]));
  assert.equal(containersToRemove(all, p(0), NOW, none).length, 9);
});

const sb = (uid: string, id: string, createdAtMs: number, ready = false): GCSandbox => ({ id, podUID: uid, ready, createdAtMs });

test('sandboxesToRemove: a pod that exists keeps its newest; a deleted pod keeps none; never a ready one or one with containers', () => {
  const live = [sb('live', 'l1', 1), sb('live', 'l2', 2), sb('live', 'l3', 3)];
  const gone = [sb('gone', 'g1', 1), sb('gone', 'g2', 2, true), sb('gone', 'g3', 3)];
  const deleted = (uid: string): boolean => uid === 'gone';
  const containers = [{ sandboxId: 'l1' }, { sandboxId: 'g3' }];
  assert.deepEqual(ids(sandboxesToRemove([...live, ...gone], containers, deleted)), ['g1', 'l2']);
  assert.deepEqual(ids(sandboxesToRemove([...live, ...gone], [], deleted)), ['g1', 'g3', 'l1', 'l2']);
  assert.deepEqual(ids(sandboxesToRemove([sb('one', 'o1', 1)], [], none)), [], 'the only (newest) sandbox of a pod that exists stays');
});

/** A fake runtime: our containers and sandboxes plus a foreign container; records each call. */
function fakeRuntime(containers: Container[], sandboxes: PodSandbox[]) {
  const calls: string[] = [];
  let listed = 0;
  const runtime = {
    listContainers: () => {
      listed++;
      return Promise.resolve([...containers]);
    },
    listPodSandbox: () => Promise.resolve([...sandboxes]),
    stopContainer: (id: string) => {
      calls.push(`stopContainer ${id}`);
      return Promise.resolve();
    },
    removeContainer: (id: string) => {
      calls.push(`removeContainer ${id}`);
      const i = containers.findIndex((c) => c.id === id);
      if (i < 0) return Promise.reject(notFound(`container ${id}`));
      containers.splice(i, 1);
      return Promise.resolve();
    },
    stopPodSandbox: (id: string) => {
      calls.push(`stopPodSandbox ${id}`);
      return Promise.resolve();
    },
    removePodSandbox: (id: string) => {
      calls.push(`removePodSandbox ${id}`);
      sandboxes.splice(sandboxes.findIndex((s) => s.id === id), 1);
      return Promise.resolve();
    },
  };
  return { runtime, calls, listed: () => listed };
}

const ours = (uid: string, name: string): Record<string, string> => ({ [LABEL_MANAGED_BY]: 'true', [LABEL_POD_UID]: uid, [LABEL_CONTAINER_NAME]: name });
const criContainer = (id: string, uid: string, name: string, agoMs: number, state: string, sandboxId: string, labels = ours(uid, name)): Container =>
  ({ id, pod_sandbox_id: sandboxId, metadata: { name, attempt: 0 }, state, created_at: (NOW - agoMs) * 1e6, labels, annotations: {} }) as unknown as Container;
const criSandbox = (id: string, uid: string, agoMs: number, state: string, labels: Record<string, string> = { [LABEL_MANAGED_BY]: 'true', [LABEL_POD_UID]: uid }): PodSandbox =>
  ({ id, metadata: { name: 'p', uid, namespace: 'default', attempt: 0 }, state, created_at: (NOW - agoMs) * 1e6, labels, annotations: {} }) as unknown as PodSandbox;

test('ContainerGC: removes by policy, deleted pods only once the sources are ready, then the dead sandboxes; never what another client made', async () => {
  const containers = [
    criContainer('live-a-old', 'live', 'a', 3_000, 'CONTAINER_EXITED', 'live-s1'),
    criContainer('live-a-prev', 'live', 'a', 2_000, 'CONTAINER_EXITED', 'live-s2'),
    criContainer('live-a-run', 'live', 'a', 1_000, 'CONTAINER_RUNNING', 'live-s2'),
    criContainer('gone-a', 'gone', 'a', 2_000, 'CONTAINER_EXITED', 'gone-s1'),
    criContainer('foreign', 'x', 'a', 9_000, 'CONTAINER_EXITED', 'x-s', {}),
  ];
  const sandboxes = [
    criSandbox('live-s1', 'live', 3_500, 'SANDBOX_NOTREADY'),
    criSandbox('live-s2', 'live', 2_500, 'SANDBOX_READY'),
    criSandbox('gone-s1', 'gone', 2_500, 'SANDBOX_NOTREADY'),
    criSandbox('foreign-s', 'x', 9_000, 'SANDBOX_NOTREADY', {}),
  ];
  const fake = fakeRuntime(containers, sandboxes);
  let ready = false;
  const gc = new ContainerGC({
    runtime: fake.runtime,
    policy: policy({}),
    sourcesReady: () => ready,
    knownPods: () => new Set(['live']),
    containerLogsDir: '/nonexistent-tskubelet-test',
    clock: new FakeClock(NOW),
    logger: silentLogger,
  });
  const signal = new AbortController().signal;
  // Before the sources are ready, no pod is deleted: 'live' loses its oldest dead container,
  // whose sandbox then has nothing left and is not the newest: it goes too.
  assert.deepEqual(await gc.garbageCollect(signal), { containers: 1, sandboxes: 1 });
  assert.deepEqual(fake.calls, ['removeContainer live-a-old', 'stopPodSandbox live-s1', 'removePodSandbox live-s1']);
  fake.calls.length = 0;
  ready = true;
  assert.deepEqual(await gc.garbageCollect(signal), { containers: 1, sandboxes: 1 });
  assert.deepEqual(fake.calls, ['removeContainer gone-a', 'stopPodSandbox gone-s1', 'removePodSandbox gone-s1']);
  assert.deepEqual(containers.map((c) => c.id), ['live-a-prev', 'live-a-run', 'foreign']);
  assert.deepEqual(sandboxes.map((s) => s.id), ['live-s2', 'foreign-s']);

  // Disk pressure: the same GC keeping nothing dead.
  fake.calls.length = 0;
  assert.equal(await gc.deleteAllUnusedContainers(signal), 1);
  assert.deepEqual(fake.calls, ['removeContainer live-a-prev']);
});

test('ContainerGC: an unknown-state container is stopped before removal; a container already gone counts as removed', async () => {
  const containers = [criContainer('u', 'p', 'a', 2_000, 'CONTAINER_UNKNOWN', 's')];
  const fake = fakeRuntime(containers, []);
  const gc = new ContainerGC({ runtime: fake.runtime, policy: policy({ maxPerPodContainer: 0 }), sourcesReady: () => true, knownPods: () => new Set(['p']), containerLogsDir: '/nonexistent-tskubelet-test', clock: new FakeClock(NOW), logger: silentLogger });
  assert.equal((await gc.garbageCollect(new AbortController().signal)).containers, 1);
  assert.deepEqual(fake.calls, ['stopContainer u', 'removeContainer u']);
  fake.runtime.listContainers = () => Promise.resolve([criContainer('gone', 'p', 'a', 2_000, 'CONTAINER_EXITED', 's')]);
  assert.equal((await gc.garbageCollect(new AbortController().signal)).containers, 1);
});

test('ContainerGC.run: a round at once, then one every minute; a failed round is logged and the loop goes on', async () => {
  const clock = new FakeClock(NOW);
  const fake = fakeRuntime([], []);
  let fail = true;
  const list = fake.runtime.listContainers;
  fake.runtime.listContainers = () => (fail ? Promise.reject(new Error('runtime down')) : list());
  const gc = new ContainerGC({ runtime: fake.runtime, policy: policy({}), sourcesReady: () => true, knownPods: () => new Set(), clock, logger: silentLogger });
  const stop = new AbortController();
  const done = gc.run(stop.signal);
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  await tick();
  fail = false;
  assert.equal(fake.listed(), 0);
  clock.advance(CONTAINER_GC_PERIOD_MS - 1);
  await tick();
  assert.equal(fake.listed(), 0);
  clock.advance(1);
  await tick();
  assert.equal(fake.listed(), 1);
  stop.abort();
  await done;
});

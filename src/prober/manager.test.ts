import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { Container, Pod, PodStatus } from '../kube/types.ts';
import type { EventRecorder } from '../kube/events.ts';
import { silentLogger } from '../observability/logger.ts';
import { ProbeManager } from './manager.ts';
import type { ProbeRunner } from './prober.ts';
import type { ProbeType } from './results.ts';

const T0 = 1_700_000_000_000;
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const noEvents: EventRecorder = { event: () => undefined };
const exec = { exec: { command: ['true'] }, periodSeconds: 1 };

function setup(pod: Pod, answer: (type: ProbeType, container: string) => 'success' | 'failure' = () => 'success') {
  const clock = new FakeClock(T0);
  const statuses = new Map<string, PodStatus>();
  const changes: string[] = [];
  const calls: string[] = [];
  const exits: string[] = [];
  const prober: ProbeRunner = {
    probe: async (type, _spec, target) => {
      calls.push(`${type}:${target.container.name}`);
      return answer(type, target.container.name);
    },
  };
  const m = new ProbeManager({
    runtime: { execSync: () => Promise.reject(new Error('unused')) },
    clock, logger: silentLogger, recorder: noEvents,
    podStatus: (uid) => statuses.get(uid),
    onResultChange: (uid, c) => changes.push(`${uid}:${c.probeType}:${c.container}:${c.result}`),
    prober,
    random: () => 0,
    onWorkerExit: (p) => exits.push(`${p.namespace}/${p.pod}/${p.container}/${p.probeType}`),
  });
  clock.advance(3_600_000); // long after the start: no jitter
  return { clock, statuses, changes, calls, exits, m, pod };
}

const running = (name: string, id: string, started: boolean) => ({
  name, image: 'busybox', imageID: '', restartCount: 0, ready: false, started, containerID: `containerd://${id}`,
  state: { running: { startedAt: new Date(T0).toISOString() as unknown as Date } },
});

const podWith = (containers: Container[], initContainers: Container[] = []): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers, initContainers },
});

void test('one worker per probe of each container and sidecar; addPod is idempotent; removePod stops them', async () => {
  const pod = podWith(
    [{ name: 'a', livenessProbe: exec, readinessProbe: exec }, { name: 'b' }],
    [{ name: 'side', restartPolicy: 'Always', startupProbe: exec }, { name: 'init' }],
  );
  const s = setup(pod);
  s.m.addPod(pod);
  s.m.addPod(pod);
  assert.equal(s.m.workerCount, 3);
  assert.ok(s.m.hasWorker('u1', 'a', 'liveness') && s.m.hasWorker('u1', 'a', 'readiness') && s.m.hasWorker('u1', 'side', 'startup'));
  s.m.stopLivenessAndStartup('u1');
  assert.equal(s.m.workerCount, 1, 'readiness keeps running while the pod terminates');
  assert.ok(s.m.hasWorker('u1', 'a', 'readiness'));
  s.m.removePod('u1');
  assert.equal(s.m.workerCount, 0);
  await s.m.stop();
});

void test('started and ready as upstream: no probe -> both; startup pending -> neither; readiness unknown -> not ready and probed at once', async () => {
  const pod = podWith([
    { name: 'plain' },
    { name: 'ready', readinessProbe: { ...exec, periodSeconds: 60 } },
    { name: 'slow', startupProbe: { ...exec, periodSeconds: 60 }, readinessProbe: { ...exec, periodSeconds: 60 } },
  ]);
  const s = setup(pod);
  s.m.addPod(pod);
  assert.deepEqual(s.m.containerProbeStatus('u1', 'plain', 'p1', true), { started: true, ready: true });
  assert.deepEqual(s.m.containerProbeStatus('u1', 'plain', 'p1', false), { started: false, ready: false });
  assert.deepEqual(s.m.containerProbeStatus('u1', 'slow', 's1', true), { started: false, ready: false });
  assert.equal(s.m.isStarted('u1', 'slow', 's1'), false);
  // The workers' first runs find no status yet: they wait for their next tick, a minute away.
  await flush();
  s.statuses.set('u1', { phase: 'Running', podIP: '10.0.0.1', containerStatuses: [running('ready', 'r1', true), running('slow', 's1', false)] });
  await flush();
  assert.deepEqual(s.calls, []);
  // A status generation that finds the container started but not ready runs its readiness probe at once.
  assert.deepEqual(s.m.containerProbeStatus('u1', 'ready', 'r1', true), { started: true, ready: false });
  await flush();
  assert.deepEqual(s.calls, ['readiness:ready']);
  assert.deepEqual(s.changes, ['u1:readiness:ready:success']);
  assert.deepEqual(s.m.containerProbeStatus('u1', 'ready', 'r1', true), { started: true, ready: true });
  // The startup probe of "slow" runs at its tick and succeeds: started.
  s.clock.advance(60_000);
  await flush();
  assert.ok(s.changes.includes('u1:startup:slow:success'), s.changes.join());
  assert.equal(s.m.isStarted('u1', 'slow', 's1'), true);
  await s.m.stop();
});

void test('failure() names the running containers whose liveness or startup probe failed', async () => {
  const pod = podWith([
    { name: 'live', livenessProbe: { ...exec, failureThreshold: 1 } },
    { name: 'boot', startupProbe: { ...exec, failureThreshold: 1 } },
  ]);
  const s = setup(pod, () => 'failure');
  s.statuses.set('u1', { phase: 'Running', podIP: '10.0.0.1', containerStatuses: [running('live', 'l1', true), running('boot', 'b1', false)] });
  s.m.addPod(pod);
  await flush();
  assert.equal(s.m.failure('l1'), 'liveness');
  assert.equal(s.m.failure('b1'), 'startup');
  assert.equal(s.m.failure('other'), null);
  assert.deepEqual(s.changes.sort(), ['u1:liveness:live:failure', 'u1:startup:boot:failure']);
  assert.equal(s.m.totals.liveness.failed, 1);
  assert.equal(s.m.workerCounts().find((w) => w.container === 'live')?.failed, 1);
  await s.m.stop();
  assert.equal(s.m.workerCount, 0);
  s.m.addPod(pod);
  assert.equal(s.m.workerCount, 0, 'no worker starts after stop()');
});

void test('a worker that ends reports its probe once, so its metric series can go', async () => {
  const pod = podWith([{ name: 'a', livenessProbe: exec, readinessProbe: exec }]);
  const s = setup(pod);
  s.m.addPod(pod);
  await flush();
  assert.deepEqual(s.exits, []);
  s.m.removePod('u1');
  await s.m.stop();
  await flush();
  assert.deepEqual(s.exits.sort(), ['default/p/a/liveness', 'default/p/a/readiness']);
});

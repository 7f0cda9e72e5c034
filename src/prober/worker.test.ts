import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { Container, ContainerStatus, Pod, PodStatus } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import type { ProbeRunner, ProbeTarget } from './prober.ts';
import { ResultsManager, type Probe, type ProbeResult, type ProbeType } from './results.ts';
import { ProbeWorker } from './worker.ts';

const T0 = 1_700_000_000_000;
/** Lets promise chains and timers resolved by the fake clock run. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

interface Call {
  at: number;
  type: ProbeType;
  target: ProbeTarget;
}

/** A scripted prober: answers from `answers` (the last one repeats), each after `delayMs` of fake time. */
class ScriptedProber implements ProbeRunner {
  calls: Call[] = [];
  answers: ('success' | 'failure' | 'error')[] = ['success'];
  delayMs = 0;
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  async probe(type: ProbeType, _spec: Probe, target: ProbeTarget, signal: AbortSignal): Promise<'success' | 'failure'> {
    this.calls.push({ at: this.clock.now(), type, target });
    if (this.delayMs > 0) await this.clock.sleep(this.delayMs, signal);
    const a = this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
    if (a === 'error') throw new Error('cannot run');
    return a;
  }
}

const cstatus = (id: string, extra: Partial<ContainerStatus> = {}): ContainerStatus => ({
  name: 'c', image: 'busybox', imageID: '', restartCount: 0, ready: false, started: true,
  containerID: `containerd://${id}`, state: { running: { startedAt: new Date(T0).toISOString() as unknown as Date } }, ...extra,
});

function setup(type: ProbeType, spec: Probe, opts: { pod?: Partial<Pod>; container?: Partial<Container>; managerStartedAtMs?: number; random?: () => number } = {}) {
  const clock = new FakeClock(T0);
  const prober = new ScriptedProber(clock);
  const results = new ResultsManager();
  const changes: { id: string; result: ProbeResult }[] = [];
  let exited = false;
  const container: Container = { name: 'c', image: 'busybox', ...opts.container };
  const pod: Pod = { metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [container] }, ...opts.pod };
  const state: { status: PodStatus | undefined } = { status: { phase: 'Running', podIP: '10.0.0.7', containerStatuses: [cstatus('id1')] } };
  const worker = new ProbeWorker(
    {
      clock, prober, results, logger: silentLogger,
      podStatus: () => state.status,
      managerStartedAtMs: opts.managerStartedAtMs ?? T0 - 3_600_000,
      random: opts.random ?? (() => 0),
      onChange: (_w, id, result) => changes.push({ id, result }),
      onExit: () => (exited = true),
    },
    type, pod, container, spec,
  );
  const advance = async (ms: number, step = 100): Promise<void> => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await flush();
    }
  };
  return { clock, prober, results, changes, worker, state, advance, exited: () => exited };
}

void test('readiness: not ready until the first success, then follows the thresholds both ways', async () => {
  const s = setup('readiness', { periodSeconds: 1, successThreshold: 2, failureThreshold: 3 });
  s.prober.answers = ['success', 'success', 'failure', 'failure', 'failure', 'success'];
  s.worker.start();
  await flush();
  assert.equal(s.results.get('id1'), 'failure', 'initial value of readiness is failure (not ready)');
  assert.equal(s.prober.calls.length, 1, 'probed at once');
  assert.equal(s.changes.length, 0, 'one success is below successThreshold 2');
  await s.advance(1000);
  assert.equal(s.results.get('id1'), 'success');
  assert.deepEqual(s.changes, [{ id: 'id1', result: 'success' }]);
  await s.advance(2000);
  assert.equal(s.results.get('id1'), 'success', 'two failures are below failureThreshold 3');
  await s.advance(1000);
  assert.equal(s.results.get('id1'), 'failure');
  assert.deepEqual(s.changes.map((c) => c.result), ['success', 'failure']);
  assert.deepEqual(s.prober.calls.map((c) => c.at - T0), [0, 1000, 2000, 3000, 4000], 'one probe per period, on the tick');
  assert.equal(s.prober.calls[0]!.target.podIP, '10.0.0.7');
  assert.equal(s.prober.calls[0]!.target.containerId, 'id1');
  s.worker.stop();
  await s.worker.stopped;
  assert.equal(s.results.get('id1'), undefined, 'results are removed with the worker');
  assert.equal(s.exited(), true);
});

void test('liveness: a failure after failureThreshold periods, once; then on hold until a new container', async () => {
  const s = setup('liveness', { periodSeconds: 1, failureThreshold: 3 });
  s.prober.answers = ['failure'];
  s.worker.start();
  await flush();
  assert.equal(s.results.get('id1'), 'success', 'initial value of liveness is success');
  await s.advance(1000);
  assert.equal(s.changes.length, 0);
  await s.advance(1000);
  assert.deepEqual(s.changes, [{ id: 'id1', result: 'failure' }], 'the third failure in a row fails the container');
  await s.advance(3000);
  assert.equal(s.prober.calls.length, 3, 'no probes while on hold');
  // The container is restarted: a new ID.
  s.state.status = { phase: 'Running', podIP: '10.0.0.7', containerStatuses: [cstatus('id2', { restartCount: 1 })] };
  s.prober.answers = ['success'];
  await s.advance(1000);
  assert.equal(s.results.get('id1'), undefined, 'the old container result is gone');
  assert.equal(s.results.get('id2'), 'success');
  assert.equal(s.prober.calls.at(-1)!.target.containerId, 'id2');
  s.worker.stop();
  await s.worker.stopped;
});

void test('a startup probe holds back liveness and readiness; it stops probing once started', async () => {
  const notStarted = { phase: 'Running', podIP: '10.0.0.7', containerStatuses: [cstatus('id1', { started: false })] };
  const live = setup('liveness', { periodSeconds: 1, failureThreshold: 1 });
  live.state.status = notStarted;
  live.prober.answers = ['failure'];
  live.worker.start();
  await live.advance(3000);
  assert.equal(live.prober.calls.length, 0, 'liveness waits for the startup probe');
  assert.deepEqual(live.changes, []);
  live.state.status = { ...notStarted, containerStatuses: [cstatus('id1', { started: true })] };
  await live.advance(1000);
  assert.equal(live.prober.calls.length, 1, 'liveness runs once started');
  live.worker.stop();

  const startup = setup('startup', { periodSeconds: 1, failureThreshold: 5 });
  startup.state.status = notStarted;
  startup.prober.answers = ['failure', 'success'];
  startup.worker.start();
  await flush();
  assert.equal(startup.results.get('id1'), 'unknown', 'initial value of startup is unknown');
  await startup.advance(1000);
  assert.deepEqual(startup.changes, [{ id: 'id1', result: 'success' }]);
  startup.state.status = { ...notStarted, containerStatuses: [cstatus('id1', { started: true })] };
  await startup.advance(3000);
  assert.equal(startup.prober.calls.length, 2, 'no startup probes once started');
  startup.worker.stop();
  await Promise.all([live.worker.stopped, startup.worker.stopped]);
});

void test('initialDelaySeconds counts from the container start', async () => {
  const s = setup('readiness', { periodSeconds: 1, initialDelaySeconds: 3 });
  s.worker.start();
  await s.advance(2500);
  assert.equal(s.prober.calls.length, 0);
  await s.advance(1000);
  assert.deepEqual(s.prober.calls.map((c) => c.at - T0), [3000]);
  s.worker.stop();
  await s.worker.stopped;
});

void test('a slow probe delays only its own next run: the tick does not drift and missed ticks collapse into one', async () => {
  const s = setup('readiness', { periodSeconds: 1 });
  const other = setup('readiness', { periodSeconds: 1 });
  s.prober.delayMs = 2500; // slower than two periods
  s.worker.start();
  other.worker.start();
  for (let i = 0; i < 60; i++) {
    s.clock.advance(100);
    other.clock.advance(100);
    await flush();
  }
  // Slow: runs at 0 (ends 2.5 s), the pending tick at once (2.5, ends 5.0), then 5.0 (the tick at 5 s).
  assert.deepEqual(s.prober.calls.map((c) => c.at - T0), [0, 2500, 5000]);
  // The other worker keeps its period whatever the slow one does.
  assert.deepEqual(other.prober.calls.map((c) => c.at - T0), [0, 1000, 2000, 3000, 4000, 5000, 6000]);
  s.worker.stop();
  other.worker.stop();
  await Promise.all([s.worker.stopped, other.worker.stopped]);
});

void test('the first run is jittered within one period only right after the manager started', async () => {
  const fresh = setup('readiness', { periodSeconds: 10 }, { managerStartedAtMs: T0, random: () => 0.25 });
  fresh.worker.start();
  await fresh.advance(2400, 100);
  assert.equal(fresh.prober.calls.length, 0);
  await fresh.advance(200, 100);
  assert.deepEqual(fresh.prober.calls.map((c) => c.at - T0), [2500]);
  const old = setup('readiness', { periodSeconds: 10 }, { managerStartedAtMs: T0 - 60_000, random: () => 0.25 });
  old.worker.start();
  await flush();
  assert.equal(old.prober.calls.length, 1, 'no jitter long after the start');
  fresh.worker.stop();
  old.worker.stop();
  await Promise.all([fresh.worker.stopped, old.worker.stopped]);
});

void test('trigger runs the probe at once instead of at the next tick', async () => {
  const s = setup('readiness', { periodSeconds: 10 });
  s.worker.start();
  await s.advance(1000);
  assert.equal(s.prober.calls.length, 1);
  s.worker.trigger();
  await flush();
  assert.deepEqual(s.prober.calls.map((c) => c.at - T0), [0, 1000]);
  await s.advance(9000);
  assert.deepEqual(s.prober.calls.map((c) => c.at - T0), [0, 1000, 10000], 'the tick stays where it was');
  s.worker.stop();
  await s.worker.stopped;
});

void test('a probe that errors is thrown away; a stopped worker aborts its probe in flight', async () => {
  const s = setup('readiness', { periodSeconds: 1, failureThreshold: 1 });
  s.prober.answers = ['error'];
  s.worker.start();
  await s.advance(3000);
  assert.equal(s.prober.calls.length, 4);
  assert.equal(s.results.get('id1'), 'failure', 'still the initial value');
  assert.equal(s.changes.length, 0);
  assert.equal(s.worker.counts.unknown, 4);
  s.prober.delayMs = 60_000;
  s.prober.answers = ['success'];
  await s.advance(1000);
  s.worker.stop();
  await s.worker.stopped;
  assert.equal(s.exited(), true);
});

void test('a container that is not running fails silently; the worker ends when it will not restart, or when the pod is done', async () => {
  const exited = { phase: 'Running', containerStatuses: [cstatus('id1', { state: { terminated: { exitCode: 1 } } })] } as PodStatus;
  const never = setup('readiness', { periodSeconds: 1 }, { pod: { spec: { restartPolicy: 'Never', containers: [] } } });
  never.state.status = exited;
  never.worker.start();
  await never.worker.stopped;
  assert.equal(never.exited(), true, 'restartPolicy Never: the worker ends');
  assert.deepEqual(never.changes, []);

  const always = setup('readiness', { periodSeconds: 1 });
  always.state.status = exited;
  always.worker.start();
  await always.advance(2000);
  assert.equal(always.exited(), false, 'restartPolicy Always: it waits for the next container');
  assert.equal(always.results.get('id1'), 'failure');
  always.state.status = { phase: 'Succeeded', containerStatuses: [] };
  await always.advance(1000);
  assert.equal(always.exited(), true, 'a terminal pod ends the worker');
  assert.equal(always.prober.calls.length, 0);
});

void test('liveness and startup of a pod being deleted end quietly with success', async () => {
  const s = setup('liveness', { periodSeconds: 1 }, { pod: { metadata: { name: 'p', namespace: 'default', uid: 'u1', deletionTimestamp: new Date(T0) } } });
  s.prober.answers = ['failure'];
  s.worker.start();
  await s.worker.stopped;
  assert.equal(s.prober.calls.length, 0);
  assert.equal(s.changes.length, 0);
});

void test('no status or no container ID yet: the worker waits', async () => {
  const s = setup('readiness', { periodSeconds: 1 });
  s.state.status = undefined;
  s.worker.start();
  await s.advance(2000);
  s.state.status = { phase: 'Pending', containerStatuses: [{ name: 'c', image: 'x', imageID: '', restartCount: 0, ready: false, state: { waiting: { reason: 'ContainerCreating' } } }] };
  await s.advance(2000);
  assert.equal(s.prober.calls.length, 0);
  s.state.status = { phase: 'Running', podIP: '10.0.0.7', containerStatuses: [cstatus('id9')] };
  await s.advance(1000);
  assert.equal(s.prober.calls.length, 1);
  assert.equal(s.results.get('id9'), 'success');
  s.worker.stop();
  await s.worker.stopped;
});

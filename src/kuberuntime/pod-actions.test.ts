import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../kube/types.ts';
import type { ContainerRuntimeStatus, PodRuntimeState, SandboxState } from '../pleg/runtime-state.ts';
import { computePodActions, podSandboxChanged, shouldContainerBeRestarted, type ProbeResults } from './pod-actions.ts';
import { hashContainer } from './labels.ts';

const c = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox', ...extra });
const pod = (containers: Container[], extra: { restartPolicy?: string; initContainers?: Container[]; hostNetwork?: boolean } = {}): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u1' },
  spec: { containers, ...extra },
});
const sandbox = (extra: Partial<SandboxState> = {}): SandboxState => ({ id: 's1', attempt: 0, ready: true, createdAtMs: 1, ip: '10.88.0.2', ips: ['10.88.0.2'], ...extra });
let seq = 0;
const ctr = (spec: Container, extra: Partial<ContainerRuntimeStatus> = {}): ContainerRuntimeStatus => ({
  id: `c${++seq}`, name: spec.name, sandboxId: 's1', attempt: 0, state: 'running', createdAtMs: seq, startedAtMs: seq, finishedAtMs: 0,
  exitCode: 0, reason: '', message: '', image: 'busybox', imageRef: 'sha256:x', hash: hashContainer(spec), restartCount: 0, terminationMessagePath: '', gracePeriodSeconds: null, ...extra,
});
const state = (sandboxes: SandboxState[], containers: ContainerRuntimeStatus[]): PodRuntimeState => ({ uid: 'u1', name: 'p', namespace: 'default', sandboxes, containers: [...containers].sort((a, b) => b.createdAtMs - a.createdAtMs) });

void test('a new pod gets a sandbox and all its containers', () => {
  const a = c('a'), b = c('b');
  const actions = computePodActions(pod([a, b]), state([], []));
  assert.equal(actions.createSandbox, true);
  assert.equal(actions.killPod, false);
  assert.equal(actions.attempt, 0);
  assert.deepEqual(actions.containersToStart.map((x) => x.name), ['a', 'b']);
});

void test('a pod with init containers starts only the first init container', () => {
  const actions = computePodActions(pod([c('main')], { initContainers: [c('i1'), c('i2')] }), state([], []));
  assert.equal(actions.createSandbox, true);
  assert.equal(actions.nextInitContainer?.name, 'i1');
  assert.deepEqual(actions.containersToStart, []);
});

void test('init containers run one at a time, in order, then the regular containers', () => {
  const i1 = c('i1'), i2 = c('i2'), main = c('main');
  const p = pod([main], { initContainers: [i1, i2] });
  assert.equal(computePodActions(p, state([sandbox()], [ctr(i1)])).nextInitContainer, null, 'waits while i1 runs');
  const afterI1 = computePodActions(p, state([sandbox()], [ctr(i1, { state: 'exited', exitCode: 0 })]));
  assert.equal(afterI1.nextInitContainer?.name, 'i2');
  const afterI2 = computePodActions(p, state([sandbox()], [ctr(i1, { state: 'exited' }), ctr(i2, { state: 'exited' })]));
  assert.equal(afterI2.nextInitContainer, null);
  assert.deepEqual(afterI2.containersToStart.map((x) => x.name), ['main']);
});

void test('a failed init container restarts, unless the restart policy is Never', () => {
  const i1 = c('i1');
  const failed = state([sandbox()], [ctr(i1, { state: 'exited', exitCode: 1 })]);
  assert.equal(computePodActions(pod([c('m')], { initContainers: [i1] }), failed).nextInitContainer?.name, 'i1');
  const never = computePodActions(pod([c('m')], { initContainers: [i1], restartPolicy: 'Never' }), failed);
  assert.equal(never.initFailed, true);
  assert.equal(never.killPod, true);
  assert.equal(never.nextInitContainer, null);
});

void test('restart policies decide which exited containers start again', () => {
  const a = c('a');
  const ok = ctr(a, { state: 'exited', exitCode: 0 });
  const bad = ctr(a, { state: 'exited', exitCode: 2 });
  assert.equal(shouldContainerBeRestarted(pod([a], { restartPolicy: 'Always' }), ok), true);
  assert.equal(shouldContainerBeRestarted(pod([a], { restartPolicy: 'OnFailure' }), ok), false);
  assert.equal(shouldContainerBeRestarted(pod([a], { restartPolicy: 'OnFailure' }), bad), true);
  assert.equal(shouldContainerBeRestarted(pod([a], { restartPolicy: 'Never' }), bad), false);
  assert.equal(shouldContainerBeRestarted(pod([a]), undefined), true);
  assert.equal(shouldContainerBeRestarted(pod([a]), ctr(a, { state: 'created' })), true);
});

void test('when every container is done and none restarts, the pod is killed (sandbox stopped)', () => {
  const a = c('a');
  const actions = computePodActions(pod([a], { restartPolicy: 'OnFailure' }), state([sandbox()], [ctr(a, { state: 'exited', exitCode: 0 })]));
  assert.equal(actions.killPod, true);
  assert.equal(actions.createSandbox, false);
  assert.deepEqual(actions.containersToStart, []);
});

void test('a running container whose spec changed is killed and started again', () => {
  const a = c('a');
  const running = ctr(a, { hash: 'old' });
  const actions = computePodActions(pod([a]), state([sandbox()], [running]));
  assert.deepEqual(actions.containersToKill.map((k) => k.id), [running.id]);
  assert.deepEqual(actions.containersToStart.map((x) => x.name), ['a']);
});

void test('an unchanged running pod needs nothing (adoption after a restart)', () => {
  const a = c('a'), b = c('b');
  const actions = computePodActions(pod([a, b]), state([sandbox()], [ctr(a), ctr(b)]));
  assert.deepEqual(actions, { ...actions, killPod: false, createSandbox: false, nextInitContainer: null, containersToStart: [], containersToKill: [], containersToRemove: [] });
});

void test('a dead sandbox is replaced with the next attempt; Never pods that ran are not restarted', () => {
  assert.deepEqual(podSandboxChanged(pod([c('a')]), [sandbox({ ready: false, attempt: 2 })]), { create: true, attempt: 3, sandboxId: 's1' });
  assert.equal(podSandboxChanged(pod([c('a')]), [sandbox({ ip: '' })]).create, true, 'no IP on the pod network');
  assert.equal(podSandboxChanged(pod([c('a')], { hostNetwork: true }), [sandbox({ ip: '' })]).create, false);
  const a = c('a');
  const ran = state([sandbox({ ready: false })], [ctr(a, { state: 'exited', exitCode: 1 })]);
  const never = computePodActions(pod([a], { restartPolicy: 'Never' }), ran);
  assert.equal(never.createSandbox, false);
  const always = computePodActions(pod([a]), ran);
  assert.equal(always.createSandbox, true);
  assert.equal(always.killPod, false, 'nothing left running to kill');
  assert.equal(always.attempt, 1);
});

void test('dead containers beyond the newest per name are removed, and beyond the last state while the newest is dead', () => {
  const a = c('a');
  const old1 = ctr(a, { state: 'exited', exitCode: 1 });
  const old2 = ctr(a, { state: 'exited', exitCode: 1 });
  const cur = ctr(a);
  const actions = computePodActions(pod([a]), state([sandbox()], [old1, old2, cur]));
  assert.deepEqual(actions.containersToRemove, [old1.id]);
  // While the newest is dead too (waiting for its restart), the one before it is the status'
  // lastState, read by `kubectl logs --previous`: it stays until the next instance starts.
  const old3 = ctr(a, { state: 'exited', exitCode: 1 });
  const waiting = computePodActions(pod([a]), state([sandbox()], [old1, old2, old3]));
  assert.deepEqual(waiting.containersToRemove, [old1.id]);
});

void test('in-sync pruning follows the container GC policy: maxPerPodContainer, or none with a minimum age or no per-container limit', () => {
  const a = c('a'), b = c('b');
  const dead = (spec: Container): ContainerRuntimeStatus => ctr(spec, { state: 'exited', exitCode: 1 });
  const [a1, a2, a3, a4] = [dead(a), dead(a), dead(a), dead(a)];
  const aRunning = ctr(a);
  const [b1, b2] = [dead(b), dead(b)];
  const s = state([sandbox()], [a1, a2, a3, a4, aRunning, b1, b2]);
  const remove = (gc: { minAgeMs: number; maxPerPodContainer: number }): string[] => computePodActions(pod([a, b]), s, undefined, gc).containersToRemove.sort();
  // 3 per name: a1 goes; b (newest dead) keeps both.
  assert.deepEqual(remove({ minAgeMs: 0, maxPerPodContainer: 3 }), [a1.id]);
  // 2 per name: a newest running keeps a4 a3; b keeps its two (newest dead + lastState).
  assert.deepEqual(remove({ minAgeMs: 0, maxPerPodContainer: 2 }), [a1.id, a2.id].sort());
  // 1 per name: the minimum for the status still holds for b.
  assert.deepEqual(remove({ minAgeMs: 0, maxPerPodContainer: 1 }), [a1.id, a2.id, a3.id].sort());
  // Left to the GC loop: a minimum age, no per-container limit, or none kept.
  assert.deepEqual(remove({ minAgeMs: 1, maxPerPodContainer: 1 }), []);
  assert.deepEqual(remove({ minAgeMs: 0, maxPerPodContainer: -1 }), []);
  assert.deepEqual(remove({ minAgeMs: 0, maxPerPodContainer: 0 }), []);
});

void test('sidecars count as started once running and are restarted when they exit', () => {
  const side = c('side', { restartPolicy: 'Always' }), main = c('main');
  const p = pod([main], { initContainers: [side] });
  assert.equal(computePodActions(p, state([sandbox()], [])).nextInitContainer?.name, 'side');
  const running = computePodActions(p, state([sandbox()], [ctr(side)]));
  assert.deepEqual(running.containersToStart.map((x) => x.name), ['main']);
  const exited = computePodActions(p, state([sandbox()], [ctr(side, { state: 'exited', exitCode: 1 }), ctr(main)]));
  assert.deepEqual(exited.containersToStart.map((x) => x.name), ['side']);
});

const probes = (failed: [string, 'liveness' | 'startup'][] = [], notStarted: string[] = []): ProbeResults => ({ failed: new Map(failed), notStarted: new Set(notStarted) });

void test('a container that failed its liveness probe is killed and restarted; with restartPolicy Never the pod is killed', () => {
  const a = c('a'), b = c('b');
  const ra = ctr(a), rb = ctr(b);
  const actions = computePodActions(pod([a, b]), state([sandbox()], [ra, rb]), probes([[ra.id, 'liveness']]));
  assert.deepEqual(actions.containersToKill, [{ id: ra.id, name: 'a', message: 'Container a failed liveness probe, will be restarted', reason: 'LivenessProbe' }]);
  assert.deepEqual(actions.containersToStart.map((x) => x.name), ['a']);
  assert.equal(actions.killPod, false);
  const onFailure = computePodActions(pod([a, b], { restartPolicy: 'OnFailure' }), state([sandbox()], [ra, rb]), probes([[ra.id, 'startup']]));
  assert.deepEqual(onFailure.containersToKill.map((k) => [k.message, k.reason]), [['Container a failed startup probe, will be restarted', 'StartupProbe']]);
  const never = computePodActions(pod([a, b], { restartPolicy: 'Never' }), state([sandbox()], [ra, rb]), probes([[ra.id, 'liveness']]));
  assert.deepEqual(never.containersToKill.map((k) => k.message), ['Container a failed liveness probe']);
  assert.deepEqual(never.containersToStart, [], 'Never: not restarted');
  assert.equal(never.killPod, false, 'b still runs');
  const alone = computePodActions(pod([a], { restartPolicy: 'Never' }), state([sandbox()], [ra]), probes([[ra.id, 'liveness']]));
  assert.equal(alone.killPod, true, 'nothing left running: the pod is killed');
  // A result for a container that no longer runs changes nothing.
  const dead = ctr(a, { state: 'exited', exitCode: 1 });
  assert.deepEqual(computePodActions(pod([a], { restartPolicy: 'Never' }), state([sandbox()], [dead]), probes([[dead.id, 'liveness']])).containersToKill, []);
});

void test('sidecars start one at a time, each once the previous one has started (startup probe passed)', () => {
  const s1 = c('s1', { restartPolicy: 'Always' }), s2 = c('s2', { restartPolicy: 'Always' }), init = c('init'), main = c('main');
  const p = pod([main], { initContainers: [s1, s2, init] });
  const r1 = ctr(s1);
  assert.equal(computePodActions(p, state([sandbox()], [r1]), probes([], [r1.id])).nextInitContainer, null, 's1 runs but has not started');
  assert.equal(computePodActions(p, state([sandbox()], [r1]), probes()).nextInitContainer?.name, 's2');
  const r2 = ctr(s2);
  const waiting = computePodActions(p, state([sandbox()], [r1, r2]), probes([], [r2.id]));
  assert.equal(waiting.nextInitContainer, null);
  assert.deepEqual(waiting.containersToStart, []);
  assert.equal(computePodActions(p, state([sandbox()], [r1, r2]), probes()).nextInitContainer?.name, 'init');
  const done = computePodActions(p, state([sandbox()], [r1, r2, ctr(init, { state: 'exited', exitCode: 0 })]), probes());
  assert.deepEqual(done.containersToStart.map((x) => x.name), ['main']);
});

void test('sidecars: a failed liveness or startup probe restarts them; after initialization they are kept running without holding anything back', () => {
  const s1 = c('s1', { restartPolicy: 'Always' }), init = c('init'), main = c('main');
  const p = pod([main], { initContainers: [s1, init] });
  const r1 = ctr(s1);
  const startupFailed = computePodActions(p, state([sandbox()], [r1]), probes([[r1.id, 'startup']], [r1.id]));
  assert.deepEqual(startupFailed.containersToKill, [{ id: r1.id, name: 's1', message: 'Init container s1 failed startup probe', reason: 'StartupProbe' }]);
  assert.deepEqual(startupFailed.containersToStart.map((x) => x.name), ['s1']);
  assert.equal(startupFailed.nextInitContainer, null);
  // After initialization (main runs): init is never run again, s1 is restarted when it fails or exits.
  const rm = ctr(main);
  const initDone = ctr(init, { state: 'exited', exitCode: 0 });
  const live = computePodActions(p, state([sandbox()], [r1, initDone, rm]), probes([[r1.id, 'liveness']]));
  assert.deepEqual(live.containersToKill.map((k) => k.message), ['Init container s1 failed liveness probe']);
  assert.deepEqual(live.containersToStart.map((x) => x.name), ['s1']);
  assert.equal(live.killPod, false);
  const exited = computePodActions(p, state([sandbox()], [ctr(s1, { state: 'exited', exitCode: 1 }), rm]), probes());
  assert.deepEqual(exited.containersToStart.map((x) => x.name), ['s1'], 'restarted even though the completed init container was removed');
  assert.equal(exited.nextInitContainer, null);
  // Restarted and not started yet: main keeps running, nothing waits.
  const r1b = ctr(s1);
  const notStarted = computePodActions(p, state([sandbox()], [r1b, rm]), probes([], [r1b.id]));
  assert.deepEqual([notStarted.containersToStart, notStarted.containersToKill, notStarted.killPod], [[], [], false]);
  // The regular containers are done (OnFailure): the pod is killed with its running sidecars.
  const finished = computePodActions(pod([main], { initContainers: [s1], restartPolicy: 'OnFailure' }), state([sandbox()], [ctr(s1), ctr(main, { state: 'exited', exitCode: 0 })]), probes());
  assert.equal(finished.killPod, true);
  assert.deepEqual(finished.containersToStart, []);
});

void test('ephemeral containers start once in the running sandbox, even before init completes, and never again', () => {
  const main = c('main');
  const withDebugger = (extra: Record<string, unknown> = {}): Pod => ({
    ...pod([main], extra),
    spec: { ...pod([main], extra).spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', targetContainerName: 'main' }] },
  });
  const running = computePodActions(withDebugger(), state([sandbox()], [ctr(main)]));
  assert.deepEqual(running.ephemeralContainersToStart.map((x) => x.name), ['debugger']);
  assert.deepEqual(running.containersToStart, []);

  const init = c('init');
  const initializing = computePodActions(withDebugger({ initContainers: [init] }), state([sandbox()], [ctr(init, { state: 'exited', exitCode: 1 })]));
  assert.deepEqual(initializing.ephemeralContainersToStart.map((x) => x.name), ['debugger'], 'while an init container fails');

  for (const s of ['running', 'exited'] as const) {
    const again = computePodActions(withDebugger(), state([sandbox()], [ctr(main), ctr(c('debugger'), { state: s, exitCode: 1 })]));
    assert.deepEqual(again.ephemeralContainersToStart, [], `never restarted (${s})`);
    assert.deepEqual(again.containersToKill, [], 'an ephemeral container is not killed for having no hash match');
  }

  assert.deepEqual(computePodActions(withDebugger(), state([], [])).ephemeralContainersToStart, [], 'not in a sandbox being created');
  const done = computePodActions(withDebugger({ restartPolicy: 'Never' }), state([sandbox()], [ctr(main, { state: 'exited' })]));
  assert.equal(done.killPod, true);
  assert.deepEqual(done.ephemeralContainersToStart, [], 'not in a pod that is done');
});

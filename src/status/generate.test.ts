import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../kube/types.ts';
import type { ContainerRuntimeStatus, PodRuntimeState } from '../pleg/runtime-state.ts';
import { generatePodStatus } from './generate.ts';
import type { WaitingReason } from '../kuberuntime/runtime-manager.ts';

const c = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox', ...extra });
const pod = (containers: Container[], extra: Record<string, unknown> = {}): Pod => ({ metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers, ...extra } });
let seq = 0;
const ctr = (name: string, extra: Partial<ContainerRuntimeStatus> = {}): ContainerRuntimeStatus => ({
  id: `id${++seq}`, name, sandboxId: 's', attempt: 0, state: 'running', createdAtMs: seq * 1000, startedAtMs: seq * 1000, finishedAtMs: 0,
  exitCode: 0, reason: '', message: '', image: 'busybox', imageRef: 'sha256:abc', hash: 'h', restartCount: 0, terminationMessagePath: '', gracePeriodSeconds: null, ...extra,
});
const state = (containers: ContainerRuntimeStatus[], ready = true): PodRuntimeState => ({
  uid: 'u1', name: 'p', namespace: 'default',
  sandboxes: [{ id: 's', attempt: 0, ready, createdAtMs: 1, ip: '10.88.0.9', ips: ['10.88.0.9'] }],
  containers: [...containers].sort((a, b) => b.createdAtMs - a.createdAtMs),
});
const inputs = (waiting: Record<string, WaitingReason> = {}, messages: Record<string, string> = {}) => ({
  hostIP: '192.0.2.1', runtimeName: 'containerd', waiting: new Map(Object.entries(waiting)), terminationMessages: new Map(Object.entries(messages)), initFailed: false, nowISO: '2026-01-01T00:00:00Z',
});
const cond = (s: ReturnType<typeof generatePodStatus>, type: string) => s.conditions?.find((x) => x.type === type);

void test('a running pod is Running and Ready, with the sandbox IP and the runtime-prefixed container ID', () => {
  const running = ctr('a');
  const s = generatePodStatus(pod([c('a')]), state([running]), inputs());
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '10.88.0.9');
  assert.equal(s.hostIP, '192.0.2.1');
  assert.equal(s.qosClass, 'BestEffort');
  assert.equal(s.containerStatuses?.[0]?.containerID, `containerd://${running.id}`);
  assert.equal(s.containerStatuses?.[0]?.ready, true);
  assert.equal(cond(s, 'Ready')?.status, 'True');
  assert.equal(cond(s, 'PodReadyToStartContainers')?.status, 'True');
  assert.equal(cond(s, 'PodScheduled')?.status, 'True');
});

void test('a new pod is Pending with ContainerCreating; with init containers, PodInitializing', () => {
  const s = generatePodStatus(pod([c('a')]), { uid: 'u1', name: 'p', namespace: 'default', sandboxes: [], containers: [] }, inputs());
  assert.equal(s.phase, 'Pending');
  assert.equal(s.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
  const withInit = generatePodStatus(pod([c('a')], { initContainers: [c('i')] }), state([ctr('i')]), inputs());
  assert.equal(withInit.phase, 'Pending');
  assert.equal(withInit.containerStatuses?.[0]?.state?.waiting?.reason, 'PodInitializing');
  assert.equal(cond(withInit, 'Initialized')?.status, 'False');
  assert.equal(cond(withInit, 'Initialized')?.reason, 'ContainersNotInitialized');
  assert.equal(cond(withInit, 'Ready')?.message, 'containers with incomplete status: [i]');
});

void test('a crash-looping container waits with CrashLoopBackOff and keeps its last termination', () => {
  const dead = ctr('a', { state: 'exited', exitCode: 1, finishedAtMs: 5000, restartCount: 2 });
  const s = generatePodStatus(pod([c('a')]), state([dead]), inputs({ a: { reason: 'CrashLoopBackOff', message: 'back-off 20s restarting failed container=a pod=p_default(u1)' } }));
  const cs = s.containerStatuses![0]!;
  assert.equal(cs.state?.waiting?.reason, 'CrashLoopBackOff');
  assert.equal(cs.lastState?.terminated?.exitCode, 1);
  assert.equal(cs.lastState?.terminated?.reason, 'Error');
  assert.equal(cs.restartCount, 2);
  assert.equal(s.phase, 'Running', 'restartPolicy Always keeps the pod Running');
  assert.equal(cond(s, 'Ready')?.message, 'containers with unready status: [a]');
});

void test('phases for finished pods follow the restart policy', () => {
  const ok = ctr('a', { state: 'exited', exitCode: 0, finishedAtMs: 9000 });
  const done = generatePodStatus(pod([c('a')], { restartPolicy: 'OnFailure' }), state([ok], false), inputs());
  assert.equal(done.phase, 'Succeeded');
  assert.equal(done.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
  assert.equal(cond(done, 'Ready')?.reason, 'PodCompleted');
  const bad = ctr('a', { state: 'exited', exitCode: 3, finishedAtMs: 9000 });
  const failed = generatePodStatus(pod([c('a')], { restartPolicy: 'Never' }), state([bad], false), inputs({}, { [bad.id]: 'bye' }));
  assert.equal(failed.phase, 'Failed');
  assert.equal(failed.containerStatuses?.[0]?.state?.terminated?.message, 'bye');
  const initFailed = generatePodStatus(pod([c('a')], { restartPolicy: 'Never', initContainers: [c('i')] }), state([ctr('i', { state: 'exited', exitCode: 1 })]), inputs());
  assert.equal(initFailed.phase, 'Failed');
});

void test('the runtime reason wins (OOMKilled), and a failed start shows its waiting reason', () => {
  const oom = ctr('a', { state: 'exited', exitCode: 137, reason: 'OOMKilled', finishedAtMs: 9000 });
  const s = generatePodStatus(pod([c('a')], { restartPolicy: 'Never' }), state([oom]), inputs());
  assert.equal(s.containerStatuses?.[0]?.state?.terminated?.reason, 'OOMKilled');
  const pull = generatePodStatus(pod([c('a')]), state([]), inputs({ a: { reason: 'ErrImagePull', message: 'no such image' } }));
  assert.deepEqual(pull.containerStatuses?.[0]?.state, { waiting: { reason: 'ErrImagePull', message: 'no such image' } });
});

void test('host-network pods report the host IP as pod IP', () => {
  const s = generatePodStatus(pod([c('a')], { hostNetwork: true }), state([ctr('a')]), inputs());
  assert.equal(s.podIP, '192.0.2.1');
});

void test('started and ready come from the probes: not started is not ready; an unready sidecar makes the pod unready', () => {
  const a = ctr('a'), side = ctr('side');
  const p = pod([c('a')], { initContainers: [c('side', { restartPolicy: 'Always' })] });
  const view: Record<string, { started: boolean; ready: boolean }> = { a: { started: true, ready: true }, side: { started: true, ready: false } };
  const s = generatePodStatus(p, state([a, side]), { ...inputs(), probes: (name: string) => view[name]! });
  assert.equal(s.containerStatuses?.[0]?.ready, true);
  assert.equal(s.initContainerStatuses?.[0]?.started, true);
  assert.equal(s.initContainerStatuses?.[0]?.ready, false);
  assert.equal(cond(s, 'ContainersReady')?.status, 'False');
  assert.equal(cond(s, 'Ready')?.message, 'containers with unready status: [side]');
  view.side = { started: true, ready: true };
  view.a = { started: false, ready: true };
  const notStarted = generatePodStatus(p, state([a, side]), { ...inputs(), probes: (name: string) => view[name]! });
  assert.equal(notStarted.containerStatuses?.[0]?.started, false);
  assert.equal(notStarted.containerStatuses?.[0]?.ready, false, 'a container that has not started is not ready');
  assert.equal(cond(notStarted, 'Ready')?.status, 'False');
  view.a = { started: true, ready: true };
  const ready = generatePodStatus(p, state([a, side]), { ...inputs(), probes: (name: string) => view[name]! });
  assert.equal(cond(ready, 'Ready')?.status, 'True');
  assert.equal(cond(ready, 'ContainersReady')?.status, 'True');
});

void test('readiness gates count only once the containers are ready, with upstream messages', () => {
  const gated = (conditions: { type: string; status: string }[]) => ({
    metadata: { name: 'p', namespace: 'default', uid: 'u1' },
    spec: { containers: [c('a')], readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] },
    status: { conditions },
  }) as Pod;
  const missing = generatePodStatus(gated([{ type: 'example.com/dns', status: 'False' }]), state([ctr('a')]), inputs());
  assert.equal(cond(missing, 'ContainersReady')?.status, 'True');
  assert.equal(cond(missing, 'Ready')?.status, 'False');
  assert.equal(cond(missing, 'Ready')?.reason, 'ReadinessGatesNotReady');
  assert.equal(cond(missing, 'Ready')?.message, 'corresponding condition of pod readiness gate "example.com/lb" does not exist., the status of pod readiness gate "example.com/dns" is not "True", but False');
  const unready = generatePodStatus(gated([]), state([ctr('a', { state: 'exited', exitCode: 1 })]), inputs());
  assert.equal(cond(unready, 'Ready')?.reason, 'ContainersNotReady', 'unready containers come first');
  const ok = generatePodStatus(gated([{ type: 'example.com/lb', status: 'True' }, { type: 'example.com/dns', status: 'True' }]), state([ctr('a')]), inputs());
  assert.equal(cond(ok, 'Ready')?.status, 'True');
});

void test('termination messages follow the runtime message and share 12 KiB per pod', () => {
  const dead = ctr('a', { state: 'exited', exitCode: 128, reason: 'StartError', message: 'exec: "nope": not found', finishedAtMs: 9000 });
  const s = generatePodStatus(pod([c('a')], { restartPolicy: 'Never' }), state([dead]), inputs({}, { [dead.id]: 'from file' }));
  assert.equal(s.containerStatuses?.[0]?.state?.terminated?.reason, 'StartError');
  assert.equal(s.containerStatuses?.[0]?.state?.terminated?.message, 'exec: "nope": not found: from file');
  const names = ['a', 'b', 'c', 'd'];
  const deads = names.map((n) => ctr(n, { state: 'exited', exitCode: 1, finishedAtMs: 9000 }));
  const big = generatePodStatus(pod(names.map((n) => c(n)), { restartPolicy: 'Never' }), state(deads), inputs({}, Object.fromEntries(deads.map((d) => [d.id, 'm'.repeat(4096)]))));
  for (const cs of big.containerStatuses ?? []) assert.equal(cs.state?.terminated?.message?.length, 3072, '12 KiB / 4 containers');
});

void test('ephemeral containers: waiting, running, terminated; never ready, no started; not in the phase', () => {
  const p = pod([c('a')], { ephemeralContainers: [{ name: 'dbg-wait', image: 'busybox' }, { name: 'dbg-run', image: 'busybox', targetContainerName: 'a' }, { name: 'dbg-done', image: 'busybox' }] });
  const s = generatePodStatus(p, state([ctr('a'), ctr('dbg-run'), ctr('dbg-done', { state: 'exited', exitCode: 0, finishedAtMs: 5e6 })]), {
    ...inputs({ 'dbg-wait': { reason: 'ErrImagePull', message: 'denied' } }),
    probes: (name: string) => {
      assert.equal(name, 'a', 'ephemeral containers are never probed');
      return { started: true, ready: true };
    },
  });
  assert.equal(s.phase, 'Running');
  assert.equal(cond(s, 'Ready')?.status, 'True');
  const [wait, run, done] = s.ephemeralContainerStatuses ?? [];
  assert.deepEqual(wait?.state, { waiting: { reason: 'ErrImagePull', message: 'denied' } });
  assert.ok(run?.state?.running);
  assert.equal(run.ready, false);
  assert.equal('started' in run, false);
  assert.equal(run.restartCount, 0);
  assert.equal(done?.state?.terminated?.reason, 'Completed');
  assert.equal(generatePodStatus(pod([c('a')]), state([ctr('a')]), inputs()).ephemeralContainerStatuses, undefined);
});

// Hooks, grace periods and stop order of the runtime manager, over a fake runtime and a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Backoff, CRASH_LOOP_BACKOFF } from '../common/backoff.ts';
import { FakeClock } from '../common/clock.ts';
import type { RuntimeService } from '../cri/client.ts';
import type { ContainerConfig } from '../cri/types.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import type { ContainerRuntimeStatus, PodRuntimeState } from '../pleg/runtime-state.ts';
import { LifecycleHookError, type HookTarget } from '../prober/handlers.ts';
import type { LifecycleHandler } from '../prober/results.ts';
import type { ImageManager } from './images.ts';
import { hashContainer } from './labels.ts';
import { criLogTail, killGracePeriodSeconds, KubeRuntimeManager, readTerminationMessage, startInOrder } from './runtime-manager.ts';

const T0 = 1_700_000_000_000;
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** Records runtime calls with the fake time; a stop takes `stopTakesMs[name]` of fake time. */
class FakeRuntime {
  calls: string[] = [];
  stops: { name: string; at: number; timeout: number }[] = [];
  stopTakesMs: Record<string, number> = {};
  names = new Map<string, string>();
  configs = new Map<string, ContainerConfig>();
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  async stopContainer(id: string, timeout: number): Promise<void> {
    const name = this.names.get(id) ?? id;
    this.stops.push({ name, at: this.clock.now() - T0, timeout });
    this.calls.push(`stop ${name}`);
    const ms = this.stopTakesMs[name] ?? 0;
    if (ms > 0) await this.clock.sleep(ms);
  }
  async stopPodSandbox(id: string): Promise<void> {
    this.calls.push(`stopSandbox ${id}`);
  }
  async createContainer(_sandbox: string, config: ContainerConfig): Promise<string> {
    const name = config.metadata?.name ?? '';
    this.configs.set(name, config);
    const id = `new-${name}`;
    this.names.set(id, name);
    this.calls.push(`create ${name}`);
    return id;
  }
  async startContainer(id: string): Promise<void> {
    this.calls.push(`start ${this.names.get(id)}`);
  }
  async execSync(): Promise<never> {
    throw new Error('unused');
  }
}

interface HookCall {
  at: number;
  container: string;
  kind: string;
}

function setup(dir = tmpdir()) {
  const clock = new FakeClock(T0);
  const runtime = new FakeRuntime(clock);
  const events: string[] = [];
  const recorder: EventRecorder = { event: (_p, type, reason, message) => events.push(`${type} ${reason}: ${message}`) };
  const hookCalls: HookCall[] = [];
  let hook: (t: HookTarget, h: LifecycleHandler, signal: AbortSignal) => Promise<void> = async () => undefined;
  const m = new KubeRuntimeManager({
    runtime: runtime as unknown as RuntimeService,
    imageManager: { ensureImage: async () => 'sha256:img' } as unknown as ImageManager,
    crashBackoff: new Backoff(CRASH_LOOP_BACKOFF, clock),
    clock,
    recorder,
    logger: silentLogger,
    hooks: {
      run: (t, h, signal) => {
        hookCalls.push({ at: clock.now() - T0, container: t.container.name, kind: h.exec ? 'exec' : h.httpGet ? 'http' : 'sleep' });
        return hook(t, h, signal);
      },
    },
    config: {
      nodeName: 'n', nodeHostname: 'n', rootDir: path.join(dir, 'root'), podLogsDir: path.join(dir, 'pods'), containerLogsDir: path.join(dir, 'containers'),
      cgroupRoot: '/', cgroupsPerQOS: false, clusterDNS: [], clusterDomain: 'cluster.local', resolvConf: '', podPidsLimit: -1, memoryCapacityBytes: 1 << 30, hostIP: '192.0.2.1',
    },
  });
  return { clock, runtime, events, hookCalls, m, setHook: (h: typeof hook) => (hook = h) };
}

let seq = 0;
const ctr = (spec: Container, extra: Partial<ContainerRuntimeStatus> = {}): ContainerRuntimeStatus => ({
  id: `${spec.name}-${++seq}`, name: spec.name, sandboxId: 's1', attempt: 0, state: 'running', createdAtMs: seq, startedAtMs: seq, finishedAtMs: 0,
  exitCode: 0, reason: '', message: '', image: 'busybox', imageRef: 'sha256:x', hash: hashContainer(spec), restartCount: 0, terminationMessagePath: '', gracePeriodSeconds: null, ...extra,
});
const podOf = (containers: Container[], initContainers: Container[] = [], grace = 30): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers, initContainers, terminationGracePeriodSeconds: grace },
});
const stateOf = (containers: ContainerRuntimeStatus[], runtime: FakeRuntime): PodRuntimeState => {
  for (const c of containers) runtime.names.set(c.id, c.name);
  return { uid: 'u1', name: 'p', namespace: 'default', sandboxes: [{ id: 's1', attempt: 0, ready: true, createdAtMs: 1, ip: '10.88.0.2', ips: ['10.88.0.2'] }], containers };
};

/** Runs `p` to its end, advancing the fake clock by `stepMs` until it settles. */
async function drive<T>(clock: FakeClock, p: Promise<T>, stepMs = 100, maxMs = 120_000): Promise<T> {
  let settled = false;
  const done = p.finally(() => (settled = true));
  for (let t = 0; t <= maxMs && !settled; t += stepMs) {
    await flush();
    if (!settled) clock.advance(stepMs);
  }
  return done;
}

void test('killPod: regular containers stop first, then sidecars in reverse order, each with the grace period left', async () => {
  const s = setup();
  const s1 = { name: 's1', restartPolicy: 'Always' }, s2 = { name: 's2', restartPolicy: 'Always' }, init = { name: 'init' };
  const a = { name: 'a' }, b = { name: 'b' };
  const pod = podOf([a, b], [s1, init, s2], 30);
  s.runtime.stopTakesMs = { a: 1000, b: 1500, s2: 2000, s1: 500 };
  const state = stateOf([ctr(s1), ctr(s2), ctr(init, { state: 'exited' }), ctr(a), ctr(b)], s.runtime);
  await drive(s.clock, s.m.killPod(pod, state, null));
  assert.deepEqual(s.runtime.stops, [
    { name: 'a', at: 0, timeout: 30 },
    { name: 'b', at: 0, timeout: 30 },
    { name: 's2', at: 1500, timeout: 29 },
    { name: 's1', at: 3500, timeout: 27 },
  ]);
  assert.equal(s.runtime.calls.at(-1), 'stopSandbox s1', 'the sandbox stops last');
  assert.deepEqual(s.events.filter((e) => e.includes('Killing')).sort(), ['a', 'b', 's1', 's2'].map((n) => `Normal Killing: Stopping container ${n}`));
});

void test('killPod: a sidecar stops when the grace period is over even if a regular container is still stopping', async () => {
  const s = setup();
  const side = { name: 'side', restartPolicy: 'Always' }, main = { name: 'main' };
  s.runtime.stopTakesMs = { main: 10_000 };
  await drive(s.clock, s.m.killPod(podOf([main], [side], 4), stateOf([ctr(side), ctr(main)], s.runtime), null));
  assert.deepEqual(s.runtime.stops, [{ name: 'main', at: 0, timeout: 4 }, { name: 'side', at: 4000, timeout: 2 }], 'the minimum of 2 s between SIGTERM and SIGKILL');
});

void test('preStop runs before the stop and counts against the grace period; a hook longer than the grace period is cut short', async () => {
  const s = setup();
  const quick: Container = { name: 'quick', lifecycle: { preStop: { sleep: { seconds: 3 } } } };
  const long: Container = { name: 'long', lifecycle: { preStop: { exec: { command: ['sleep', '60'] } } } };
  const failing: Container = { name: 'failing', lifecycle: { preStop: { httpGet: { port: 80 } } } };
  s.setHook(async (t, h, signal) => {
    if (h.sleep) await s.clock.sleep(3000, signal);
    else if (h.exec) await s.clock.sleep(60_000, signal);
    else throw new LifecycleHookError('HTTP lifecycle hook failed');
  });
  const pod = podOf([quick, long, failing], [], 5);
  await drive(s.clock, s.m.killPod(pod, stateOf([ctr(quick), ctr(long), ctr(failing)], s.runtime), null));
  assert.deepEqual(s.hookCalls.map((h) => `${h.container}@${h.at}`).sort(), ['failing@0', 'long@0', 'quick@0'], 'hooks run at once, in parallel');
  const stop = (n: string) => s.runtime.stops.find((x) => x.name === n);
  assert.deepEqual(stop('quick'), { name: 'quick', at: 3000, timeout: 2 });
  assert.deepEqual(stop('long'), { name: 'long', at: 5000, timeout: 2 });
  assert.deepEqual(stop('failing'), { name: 'failing', at: 0, timeout: 5 });
  assert.ok(s.events.includes('Warning FailedPreStopHook: PreStop hook failed'));
  // A grace period override (deletion) applies, and 0 skips the hook.
  const s2 = setup();
  await drive(s2.clock, s2.m.killPod(podOf([quick]), stateOf([ctr(quick)], s2.runtime), 0));
  assert.deepEqual(s2.hookCalls, []);
  assert.deepEqual(s2.runtime.stops, [{ name: 'quick', at: 0, timeout: 2 }]);
});

void test('the grace period of a kill: deletion grace first, then the failed probe\'s own, then the pod\'s', () => {
  const c: Container = { name: 'c', livenessProbe: { terminationGracePeriodSeconds: 3 }, startupProbe: {} };
  const pod = podOf([c], [], 20);
  assert.equal(killGracePeriodSeconds(pod, c, 'LivenessProbe'), 3);
  assert.equal(killGracePeriodSeconds(pod, c, 'StartupProbe'), 20);
  assert.equal(killGracePeriodSeconds(pod, c, ''), 20);
  assert.equal(killGracePeriodSeconds({ ...pod, metadata: { ...pod.metadata, deletionGracePeriodSeconds: 7 } }, c, 'LivenessProbe'), 7);
});

void test('a liveness failure: Killing with the reason, stop with the probe grace period, preStop first, then a new container', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rtm-'));
  try {
    const s = setup(dir);
    const c: Container = { name: 'web', image: 'busybox', livenessProbe: { terminationGracePeriodSeconds: 4 }, lifecycle: { preStop: { sleep: { seconds: 1 } } } };
    s.setHook((_t, _h, signal) => s.clock.sleep(1000, signal));
    const running = ctr(c);
    const state = stateOf([running], s.runtime);
    const result = await drive(s.clock, s.m.syncPod(podOf([c]), state, new AbortController().signal, { failed: new Map([[running.id, 'liveness']]), notStarted: new Set() }));
    assert.ok(s.events.includes('Normal Killing: Container web failed liveness probe, will be restarted'), s.events.join('\n'));
    assert.equal(s.runtime.stops[0]!.at - s.hookCalls[0]!.at, 1000, 'stopped once preStop ended');
    assert.equal(s.runtime.stops[0]!.timeout, 3, 'the probe grace period (4 s) less the preStop second');
    assert.deepEqual(s.runtime.calls, ['stop web', 'create web', 'start web']);
    assert.equal(result.waiting.size, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('postStart: the start waits for the hook; a failed hook kills the container with FailedPostStartHook', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rtm-'));
  try {
    const s = setup(dir);
    const c: Container = { name: 'web', image: 'busybox', lifecycle: { postStart: { exec: { command: ['false'] } } } };
    s.setHook(async (t) => {
      await s.clock.sleep(2000);
      throw new LifecycleHookError(`Exec lifecycle hook ([false]) for Container "${t.container.name}" failed`);
    });
    const result = await drive(s.clock, s.m.syncPod(podOf([c]), stateOf([], s.runtime), new AbortController().signal));
    assert.deepEqual(s.runtime.calls, ['create web', 'start web', 'stop web']);
    // (Fake time also passes while the test's real file I/O runs: compare with the hook's start.)
    assert.equal(s.runtime.stops[0]!.at - s.hookCalls[0]!.at, 2000, 'killed once the hook ended');
    assert.equal(s.runtime.stops[0]!.timeout, 30);
    assert.deepEqual(s.events.filter((e) => !e.includes('Created') && !e.includes('Started')), ['Warning FailedPostStartHook: PostStartHook failed', 'Normal Killing: FailedPostStartHook']);
    assert.deepEqual(result.waiting.get('web'), { reason: 'PostStartHookError', message: 'Exec lifecycle hook ([false]) for Container "web" failed' });
    assert.equal(s.hookCalls[0]?.kind, 'exec');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('startInOrder: a postStart hook holds back the containers after it, the others start together', async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const cs: Container[] = [{ name: 'a' }, { name: 'hooked', lifecycle: { postStart: { sleep: { seconds: 1 } } } }, { name: 'c' }, { name: 'd' }];
  const p = startInOrder(cs, async (c) => {
    log.push(`start ${c.name}`);
    if (c.name === 'hooked') await gate;
    log.push(`done ${c.name}`);
  });
  await flush();
  assert.deepEqual(log, ['start a', 'done a', 'start hooked']);
  release();
  await p;
  assert.deepEqual(log.slice(3), ['done hooked', 'start c', 'done c', 'start d', 'done d']);
});

void test('termination messages: the last 4096 bytes of the file; FallbackToLogsOnError reads the last 80 lines / 2048 bytes of a failed container\'s log', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tmsg-'));
  try {
    const msgFile = path.join(dir, 'msg');
    const logFile = path.join(dir, '0.log');
    await writeFile(msgFile, `${'a'.repeat(5000)}END`);
    const failed = { exitCode: 1, reason: 'Error', terminationMessagePath: msgFile };
    const fromFile = await readTerminationMessage(failed, 'FallbackToLogsOnError', logFile);
    assert.equal(fromFile.length, 4096);
    assert.ok(fromFile.endsWith('END'), 'the end of the file is kept');
    await writeFile(msgFile, '');
    const lines = Array.from({ length: 100 }, (_, i) => `2024-01-01T00:00:00.000000000Z ${i % 2 ? 'stderr' : 'stdout'} F line ${i}`);
    await writeFile(logFile, `${lines.join('\n')}\n2024-01-01T00:00:00.1Z stdout P part-\n2024-01-01T00:00:00.2Z stdout F ial\n`);
    const fromLogs = await readTerminationMessage(failed, 'FallbackToLogsOnError', logFile);
    const expected = `${Array.from({ length: 78 }, (_, i) => `line ${i + 22}\n`).join('')}part-ial\n`;
    assert.equal(fromLogs, expected, 'the last 80 log lines (a partial line joins the next one)');
    assert.equal(await readTerminationMessage(failed, 'File', logFile), '', 'policy File: no fallback');
    assert.equal(await readTerminationMessage({ ...failed, exitCode: 0 }, 'FallbackToLogsOnError', logFile), '', 'succeeded: no fallback');
    assert.equal(await readTerminationMessage({ ...failed, reason: 'ContainerCannotRun' }, 'FallbackToLogsOnError', logFile), '');
    assert.equal(await readTerminationMessage({ ...failed, terminationMessagePath: path.join(dir, 'missing') }, 'FallbackToLogsOnError', logFile), expected, 'a missing file falls back too');
    assert.match(await readTerminationMessage(failed, 'FallbackToLogsOnError', path.join(dir, 'nolog')), /^Error on reading termination message from logs: /);
    assert.equal(criLogTail(`x stdout F ${'b'.repeat(3000)}\n`, 80, 2048), `${'b'.repeat(2047)}\n`, 'at most 2048 bytes, from the end');
    assert.equal(criLogTail('cut line\nT stdout F kept\n', 80, 2048, true), 'kept\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('an ephemeral container starts once in the sandbox, in the target\'s PID namespace; a missing target waits', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'rtm-'));
  try {
    const s = setup(dir);
    const main: Container = { name: 'main', image: 'busybox' };
    const pod: Pod = { ...podOf([main]), spec: { ...podOf([main]).spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', command: ['ps'], targetContainerName: 'main' }] } };
    const running = ctr(main);
    const result = await drive(s.clock, s.m.syncPod(pod, stateOf([running], s.runtime), new AbortController().signal));
    assert.deepEqual(s.runtime.calls, ['create debugger', 'start debugger']);
    const config = s.runtime.configs.get('debugger')!;
    assert.deepEqual(config.command, ['ps']);
    assert.equal(config.annotations?.['io.kubernetes.container.type'], 'ephemeral');
    assert.equal(config.linux?.security_context?.namespace_options?.pid, 'TARGET');
    assert.equal(config.linux?.security_context?.namespace_options?.target_id, running.id);
    assert.equal(result.waiting.size, 0);

    const exited = ctr({ name: 'debugger', image: 'busybox' }, { state: 'exited', exitCode: 0 });
    s.runtime.calls = [];
    await drive(s.clock, s.m.syncPod(pod, stateOf([running, exited], s.runtime), new AbortController().signal));
    assert.deepEqual(s.runtime.calls, [], 'never restarted');

    const t = setup(dir);
    const noTarget = await drive(t.clock, t.m.syncPod(pod, stateOf([ctr(main, { state: 'exited', exitCode: 1 })], t.runtime), new AbortController().signal));
    assert.deepEqual(noTarget.waiting.get('debugger'), { reason: 'CreateContainerConfigError', message: 'unable to find target container main' });
    assert.ok(t.events.includes('Warning Failed: Error: unable to find target container main'), t.events.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

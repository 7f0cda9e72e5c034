// Container lifecycle against the real containerd: postStart and preStop hooks, termination
// messages and sidecars. One tskubelet runs all the pods at once (integration; ~20 s).
// Containers report to an HTTP server in this test process through their default gateway (the
// host's pod bridge), so what happens during a pod's termination is seen after the pod is gone.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, test, type TestContext } from 'node:test';
import type { ContainerStatus, Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, assertNodeReady, containerIdOf, poll, type Harness, type LogRecord, withKubelet } from './harness.ts';

before(assertNodeReady);

const containerStatus = (p: Pod | undefined, name: string): ContainerStatus | undefined =>
  [...(p?.status?.containerStatuses ?? []), ...(p?.status?.initContainerStatuses ?? [])].find((s) => s.name === name);
const condition = (p: Pod | undefined, type: string): string | undefined => p?.status?.conditions?.find((c) => c.type === type)?.status;
const sh = (script: string): string => JSON.stringify(['sh', '-c', script]);

function events(h: Harness, name: string, reason?: string): LogRecord[] {
  return h.logRecords().filter((r) => r.component === 'events' && r.pod === `default/${h.podName(name)}` && (!reason || r.reason === reason));
}

/** Requests the containers made to the test server: path (with query) and arrival time. */
interface Report {
  path: string;
  at: number;
}

/** Sets $GW to the container's default gateway: the host, on the pod bridge. */
const GW_SET = "GW=$(ip route | awk '/default/ {print $3}')";

class Reports {
  readonly list: Report[] = [];
  server: Server | null = null;
  port = 0;
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.list.push({ path: req.url ?? '', at: Date.now() });
      res.end('ok');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '0.0.0.0', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
  find(prefix: string): Report | undefined {
    return this.list.find((r) => r.path.startsWith(prefix));
  }
  /**
   * A shell snippet that GETs /<path> on this server through $GW (set by GW_SET first), with
   * busybox nc (its static wget crashes in these containers). No single quotes: it goes in traps.
   */
  get(path: string): string {
    return `printf "GET /${path} HTTP/1.0\\r\\n\\r\\n" | nc -w 3 $GW ${this.port} >/dev/null`;
  }
}

async function postStart(t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('poststart.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: poststart}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: hooked
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    lifecycle:
      postStart: {exec: {command: ${sh('sleep 2; touch /tmp/hooked')}}}
  - name: after
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    lifecycle:
      postStart: {sleep: {seconds: 1}}
`);
  // The first status that shows it running must come after its hook ended: the file is there.
  const firstRunning: { check: Promise<number> | null } = { check: null };
  const pod = await h.waitForPod('poststart', (p) => {
    const s = containerStatus(p, 'hooked');
    if (s?.state?.running && !firstRunning.check) firstRunning.check = h.cri.execSync(containerIdOf(s.containerID), ['test', '-f', '/tmp/hooked'], 5).then((r) => r.exitCode);
    return !!containerStatus(p, 'after')?.state?.running && !!s?.state?.running;
  }, 30_000, 'both containers running');
  assert.equal(await firstRunning.check, 0, 'the hook had ended when the container was first reported running');
  const rt = await h.runtimePod(pod.metadata!.uid!);
  const hooked = rt.containers.find((c) => c.name === 'hooked')!;
  const after = rt.containers.find((c) => c.name === 'after')!;
  const gap = (after.startedAtMs - hooked.startedAtMs) / 1000;
  t.diagnostic(`"after" started ${gap.toFixed(2)} s after "hooked" (whose postStart hook takes 2 s)`);
  assert.ok(gap >= 1.9, 'a container starts only once the postStart hook of the one before it has ended (as upstream, one by one)');
}

async function postStartFailure(_t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('poststart-fail.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: poststart-fail}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    lifecycle:
      postStart: {exec: {command: ${sh('echo hook output; exit 7')}}}
`);
  const pod = await h.waitForPod('poststart-fail', (p) => (containerStatus(p, 'main')?.restartCount ?? 0) >= 1 && events(h, 'poststart-fail', 'FailedPostStartHook').length >= 1, 30_000, 'killed by its failed postStart hook and restarted');
  assert.equal(events(h, 'poststart-fail', 'FailedPostStartHook')[0]?.msg, 'PostStartHook failed', 'the hook output stays out of the event');
  assert.ok(events(h, 'poststart-fail', 'Killing').some((e) => e.msg === 'FailedPostStartHook'));
  assert.ok(containerStatus(pod, 'main')?.lastState?.terminated, 'the killed container is the last termination');
  // The status said why, with upstream's message (seen in the kubelet's status log lines).
  const statuses = h.logRecords().filter((r) => r.msg === 'pod status' && r.pod === `default/${h.podName('poststart-fail')}`);
  assert.ok(statuses.some((r) => r.status === 'PostStartHookError'), JSON.stringify(statuses.map((r) => r.status)));
}

async function preStop(t: TestContext, h: Harness, reports: Reports): Promise<void> {
  await h.writeManifest('prestop.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: prestop}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ${sh(`${GW_SET}; trap '${reports.get('term/main?marker=$(cat /data/marker)')}; exit 0' TERM; ${reports.get('up/main')}; while true; do sleep 1 & wait $!; done`)}
    volumeMounts: [{name: data, mountPath: /data}]
    lifecycle:
      preStop: {exec: {command: ${sh(`echo written-by-prestop > /data/marker; ${GW_SET}; ${reports.get('prestop/main')}`)}}}
  - name: sleeper
    image: ${BUSYBOX_IMAGE}
    command: ${sh(`${GW_SET}; trap '${reports.get('term/sleeper')}; exit 0' TERM; ${reports.get('up/sleeper')}; while true; do sleep 1 & wait $!; done`)}
    lifecycle:
      preStop: {sleep: {seconds: 2}}
`);
  await h.waitForPod('prestop', (p) => p.status?.phase === 'Running', 30_000, 'Running');
  await poll(() => reports.find('/up/main') && reports.find('/up/sleeper'), 10_000, 'both containers reported in', () => JSON.stringify(reports.list));
  const removedAt = Date.now();
  await h.removeManifest('prestop.yaml');
  await poll(() => reports.find('/term/main') && reports.find('/term/sleeper'), 20_000, 'both containers got SIGTERM', () => JSON.stringify(reports.list));
  const pre = reports.find('/prestop/main')!;
  const term = reports.find('/term/main')!;
  assert.ok(pre, 'the preStop hook ran');
  assert.ok(pre.at <= term.at, 'preStop before SIGTERM');
  assert.equal(term.path, '/term/main?marker=written-by-prestop', 'the file the preStop hook wrote was there when SIGTERM came');
  const sleeperTerm = (reports.find('/term/sleeper')!.at - removedAt) / 1000;
  t.diagnostic(`sleeper got SIGTERM ${sleeperTerm.toFixed(2)} s after its manifest was removed (preStop sleeps 2 s)`);
  assert.ok(sleeperTerm >= 1.9 && sleeperTerm < 9, 'SIGTERM after the preStop sleep, well within the grace period');
}

async function terminationMessages(_t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('messages.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: messages}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: from-file
    image: ${BUSYBOX_IMAGE}
    command: ${sh("printf 'all done' > /dev/termination-log")}
  - name: custom-path
    image: ${BUSYBOX_IMAGE}
    terminationMessagePath: /tmp/why
    command: ${sh("printf 'custom path' > /tmp/why; exit 2")}
  - name: from-logs
    image: ${BUSYBOX_IMAGE}
    terminationMessagePolicy: FallbackToLogsOnError
    command: ${sh('for i in $(seq 1 100); do echo line $i; done; sleep 1; echo to stderr >&2; exit 3')}
  - name: file-wins
    image: ${BUSYBOX_IMAGE}
    terminationMessagePolicy: FallbackToLogsOnError
    command: ${sh("echo noise; printf 'from the file' > /dev/termination-log; exit 1")}
  - name: ok-no-fallback
    image: ${BUSYBOX_IMAGE}
    terminationMessagePolicy: FallbackToLogsOnError
    command: ${sh('echo fine')}
`);
  const pod = await h.waitForPod('messages', (p) => p.status?.phase === 'Failed' && (p.status.containerStatuses ?? []).every((s) => s.state?.terminated), 30_000, 'Failed with every container terminated');
  const term = (name: string) => containerStatus(pod, name)?.state?.terminated;
  assert.deepEqual([term('from-file')?.exitCode, term('from-file')?.reason, term('from-file')?.message], [0, 'Completed', 'all done']);
  assert.deepEqual([term('custom-path')?.exitCode, term('custom-path')?.reason, term('custom-path')?.message], [2, 'Error', 'custom path']);
  const lines = Array.from({ length: 79 }, (_, i) => `line ${i + 22}\n`).join('');
  assert.equal(term('from-logs')?.message, `${lines}to stderr\n`, 'the last 80 lines of the log, both streams');
  assert.equal(term('from-logs')?.reason, 'Error');
  assert.equal(term('file-wins')?.message, 'from the file');
  assert.equal(term('ok-no-fallback')?.message, undefined, 'a container that succeeded does not fall back to its log');
}

async function sidecars(t: TestContext, h: Harness, reports: Reports): Promise<void> {
  const loop = 'while true; do sleep 1 & wait $!; done';
  await h.writeManifest('sidecars.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: sidecars}
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - name: sc1
    image: ${BUSYBOX_IMAGE}
    restartPolicy: Always
    command: ${sh(`${GW_SET}; trap '${reports.get('term/sc1')}; exit 0' TERM; ${loop}`)}
  - name: sc2
    image: ${BUSYBOX_IMAGE}
    restartPolicy: Always
    command: ${sh(`${GW_SET}; (sleep 2; touch /tmp/up) & trap '${reports.get('term/sc2')}; exit 0' TERM; ${loop}`)}
    startupProbe: {exec: {command: [test, -f, /tmp/up]}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {exec: {command: [test, -f, /tmp/up]}, periodSeconds: 1}
  - name: init3
    image: ${BUSYBOX_IMAGE}
    command: ${sh('exit 0')}
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ${sh(`${GW_SET}; trap '${reports.get('term/main')}; sleep 1; exit 0' TERM; ${loop}`)}
`);
  const pod = await h.waitForPod('sidecars', (p) => condition(p, 'Ready') === 'True' && !!containerStatus(p, 'main')?.state?.running, 40_000, 'Ready with main running');
  for (const name of ['sc1', 'sc2']) {
    const s = containerStatus(pod, name)!;
    assert.ok(s.state?.running, `${name} keeps running`);
    assert.equal(s.started, true, `${name} started`);
    assert.equal(s.ready, true, `${name} ready`);
  }
  assert.equal(containerStatus(pod, 'init3')?.state?.terminated?.reason, 'Completed');
  assert.equal(condition(pod, 'Initialized'), 'True');
  const rt = await h.runtimePod(pod.metadata!.uid!);
  const c = (n: string) => rt.containers.find((x) => x.name === n)!;
  const [sc1, sc2, init3, main] = [c('sc1'), c('sc2'), c('init3'), c('main')];
  assert.ok(sc1.startedAtMs < sc2.createdAtMs, 'sc2 is created after sc1 started');
  const gate = (init3.createdAtMs - sc2.startedAtMs) / 1000;
  t.diagnostic(`init3 created ${gate.toFixed(2)} s after sc2 started (sc2's startup probe passes after 2 s)`);
  assert.ok(gate >= 1.9, 'the next init container waits for the sidecar\'s startup probe');
  assert.ok(init3.finishedAtMs <= main.startedAtMs, 'main starts after init3 completed');

  await h.removeManifest('sidecars.yaml');
  await poll(() => reports.find('/term/sc1'), 25_000, 'every container got SIGTERM', () => JSON.stringify(reports.list));
  const order = reports.list.filter((r) => r.path.startsWith('/term/') && /\/(main|sc1|sc2)$/.test(r.path));
  assert.deepEqual(order.map((r) => r.path), ['/term/main', '/term/sc2', '/term/sc1'], 'regular containers first, then sidecars in reverse order');
  const afterMain = (order[1]!.at - order[0]!.at) / 1000;
  t.diagnostic(`sc2 got SIGTERM ${afterMain.toFixed(2)} s after main (main takes 1 s to exit)`);
  assert.ok(afterMain >= 0.9, 'sc2 is stopped only once main has exited');
}

test('lifecycle: hooks, termination messages, sidecars', { concurrency: true }, (t) =>
  withKubelet(t, async (h) => {
    const reports = new Reports();
    await reports.start();
    try {
      await Promise.all([
        t.test('postStart: the container is reported running only once its hook ended; the next container waits for it', (st) => postStart(st, h)),
        t.test('a failing postStart hook gives FailedPostStartHook and the container is killed and restarted', (st) => postStartFailure(st, h)),
        t.test('preStop runs before SIGTERM and counts against the grace period', (st) => preStop(st, h, reports)),
        t.test('termination messages from a file and from the logs', (st) => terminationMessages(st, h)),
        t.test('sidecars start in order after startup probes, outlive their init siblings and stop last, in reverse order', (st) => sidecars(st, h, reports)),
      ]);
    } finally {
      await reports.stop();
    }
  }));

// Liveness, readiness and startup probes of every kind against the real containerd: one
// tskubelet runs all the pods at once, each scenario checks its own pod (integration; ~30 s).
//   liveness  - a container whose health file disappears is restarted after failureThreshold periods
//   readiness - the pod's Ready condition follows a file the container creates and deletes
//   startup   - a startup probe holds back a liveness probe that would fail; a startup probe that
//               never passes restarts its container
//   kinds     - httpGet (busybox httpd, by port name), tcpSocket, each with a success and a failure
//   grpc      - grpc.health.v1/Check against a gRPC health server (node:http2, gRPC wire format)
//               that this test starts inside the pod's network namespace (busybox has no gRPC)
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { before, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { ContainerStatus, Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, assertNodeReady, poll, type Harness, type LogRecord, withKubelet } from './harness.ts';

before(assertNodeReady);

const condition = (p: Pod | undefined, type: string): string | undefined => p?.status?.conditions?.find((c) => c.type === type)?.status;
const containerStatus = (p: Pod | undefined, name: string): ContainerStatus | undefined =>
  [...(p?.status?.containerStatuses ?? []), ...(p?.status?.initContainerStatuses ?? [])].find((s) => s.name === name);
const sh = (script: string): string => JSON.stringify(['sh', '-c', script]);
const ms = (iso: unknown): number => Date.parse(String(iso));

/** Events of one pod, from the kubelet's log (standalone, events are logged). */
function events(h: Harness, name: string, reason?: string): LogRecord[] {
  return h.logRecords().filter((r) => r.component === 'events' && r.pod === `default/${h.podName(name)}` && (!reason || r.reason === reason));
}

async function liveness(t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('liveness.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ${sh(`touch /tmp/healthy; (sleep 3; rm -f /tmp/healthy) & ${SLEEP_UNTIL_TERM}`)}
    livenessProbe:
      exec: {command: [test, -f, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 3
`);
  const pod = await h.waitForPod('liveness', (p) => (containerStatus(p, 'main')?.restartCount ?? 0) >= 1, 40_000, 'main restarted by its liveness probe');
  const last = containerStatus(pod, 'main')!.lastState?.terminated;
  assert.ok(last, 'the killed container is the last termination');
  const lived = (ms(last.finishedAt) - ms(last.startedAt)) / 1000;
  t.diagnostic(`first container lived ${lived.toFixed(1)} s (healthy 3 s, then 3 failed probes 1 s apart)`);
  assert.ok(lived >= 4.5 && lived <= 10, `killed after ${lived} s: expected the 3 s of health plus about 3 periods`);
  const unhealthy = events(h, 'liveness', 'Unhealthy');
  const killing = events(h, 'liveness', 'Killing');
  assert.ok(unhealthy.length >= 3, `3 Unhealthy events before the kill, got ${unhealthy.length}`);
  assert.equal(unhealthy[0]?.msg, 'Liveness probe failed: ');
  assert.equal(killing[0]?.msg, 'Container main failed liveness probe, will be restarted');
  const firstKill = h.logRecords().indexOf(killing[0]!);
  assert.equal(h.logRecords().slice(0, firstKill).filter((r) => r.component === 'events' && r.reason === 'Unhealthy' && r.pod === killing[0]!.pod).length, 3, 'exactly failureThreshold failures before the kill');
}

async function readiness(t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('readiness.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: readiness}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ${sh(`(while true; do touch /tmp/ready; sleep 3; rm -f /tmp/ready; sleep 3; done) & ${SLEEP_UNTIL_TERM}`)}
    readinessProbe:
      exec: {command: [test, -f, /tmp/ready]}
      periodSeconds: 1
      failureThreshold: 1
`);
  const seen: { at: number; ready: string }[] = [];
  await h.waitForPod('readiness', (p) => {
    const ready = condition(p, 'Ready');
    if (!ready || !p.status?.containerStatuses?.[0]?.state?.running) return false;
    if (seen.at(-1)?.ready !== ready) seen.push({ at: Date.now(), ready });
    const cs = containerStatus(p, 'main')!;
    assert.equal(cs.ready, ready === 'True', 'the container ready flag follows the condition');
    assert.equal(condition(p, 'ContainersReady'), ready);
    assert.equal(cs.started, true);
    return seen.map((s) => s.ready).join(',').includes('True,False,True');
  }, 30_000, 'Ready True, then False, then True again');
  t.diagnostic(`Ready transitions: ${seen.map((s) => `${s.ready}@+${((s.at - seen[0]!.at) / 1000).toFixed(1)}s`).join(' ')}`);
  const i = seen.findIndex((s, k) => s.ready === 'True' && seen[k + 1]?.ready === 'False');
  const down = (seen[i + 1]!.at - seen[i]!.at) / 1000;
  assert.ok(down >= 1.5 && down <= 4.5, `ready for ${down.toFixed(1)} s (the file exists 3 s)`);
  const up = (seen[i + 2]!.at - seen[i + 1]!.at) / 1000;
  assert.ok(up >= 1.5 && up <= 4.5, `not ready for ${up.toFixed(1)} s (the file is gone 3 s)`);
  const pod = await h.getPod('readiness');
  assert.equal(containerStatus(pod, 'main')?.restartCount, 0, 'readiness never restarts');
}

async function startup(t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('startup.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: startup}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: slow
    image: ${BUSYBOX_IMAGE}
    command: ${sh(`(sleep 4; touch /tmp/started) & ${SLEEP_UNTIL_TERM}`)}
    startupProbe:
      exec: {command: [test, -f, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 15
    livenessProbe:
      exec: {command: [test, -f, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 1
  - name: never
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    startupProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 2
`);
  let startedSeenAt = 0;
  let runningSeenAt = 0;
  const pod = await h.waitForPod('startup', (p) => {
    const slow = containerStatus(p, 'slow');
    if (slow?.state?.running && !runningSeenAt) runningSeenAt = Date.now();
    if (slow?.started && !startedSeenAt) startedSeenAt = Date.now();
    if (slow?.state?.running && !slow.started) assert.equal(slow.ready, false, 'not started: not ready');
    return startedSeenAt > 0 && (containerStatus(p, 'never')?.restartCount ?? 0) >= 1;
  }, 40_000, 'slow started, never restarted by its startup probe');
  const slow = containerStatus(pod, 'slow')!;
  const waited = (startedSeenAt - ms(slow.state?.running?.startedAt)) / 1000;
  t.diagnostic(`slow: started ${waited.toFixed(1)} s after it began running (its file appears after 4 s)`);
  assert.ok(waited >= 3.5, `started only after its startup probe passed (${waited} s)`);
  assert.equal(slow.restartCount, 0, 'the liveness probe (failureThreshold 1) was held back until the startup probe passed');
  assert.equal(slow.ready, true, 'no readiness probe: ready once started');
  assert.ok(events(h, 'startup', 'Killing').some((e) => e.msg === 'Container never failed startup probe, will be restarted'));
  assert.ok(events(h, 'startup', 'Unhealthy').some((e) => e.msg === 'Startup probe failed: '));
  assert.ok(!events(h, 'startup', 'Unhealthy').some((e) => String(e.msg).startsWith('Liveness')), 'slow\'s liveness probe never ran before it started');
}

async function kinds(_t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('kinds.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: kinds}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: ${BUSYBOX_IMAGE}
    command: ${sh('mkdir -p /www && echo ok > /www/ok.html && exec httpd -f -p 8080 -h /www')}
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {port: http, path: /ok.html, httpHeaders: [{name: X-Probe, value: "1"}]}, periodSeconds: 1}
    livenessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
  - name: http-fail
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    readinessProbe: {httpGet: {port: 8080, path: /missing.html}, periodSeconds: 1}
  - name: tcp-ok
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
  - name: tcp-fail
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    readinessProbe: {tcpSocket: {port: 8081}, periodSeconds: 1}
`);
  const pod = await h.waitForPod('kinds', (p) =>
    containerStatus(p, 'web')?.ready === true && containerStatus(p, 'tcp-ok')?.ready === true &&
    events(h, 'kinds', 'Unhealthy').some((e) => String(e.msg).includes('8081')) && events(h, 'kinds', 'Unhealthy').some((e) => String(e.msg).includes('404')),
  30_000, 'web and tcp-ok ready, both failures reported');
  const ip = pod.status?.podIP;
  assert.equal(containerStatus(pod, 'http-fail')?.ready, false);
  assert.equal(containerStatus(pod, 'tcp-fail')?.ready, false);
  assert.equal(condition(pod, 'Ready'), 'False');
  assert.equal(pod.status?.conditions?.find((c) => c.type === 'ContainersReady')?.message, 'containers with unready status: [http-fail tcp-fail]');
  const msgs = events(h, 'kinds', 'Unhealthy').map((e) => String(e.msg));
  assert.ok(msgs.includes('Readiness probe failed: HTTP probe failed with statuscode: 404'), msgs.join('\n'));
  assert.ok(msgs.includes(`Readiness probe failed: dial tcp ${ip}:8081: connect: connection refused`), msgs.join('\n'));
  assert.equal(containerStatus(pod, 'web')?.restartCount, 0, 'the tcpSocket liveness probe passes');
}

/**
 * A gRPC health server speaking the wire format over h2c with node:http2 (no dependency), run by
 * `ip netns exec` inside a pod's network namespace: the service "" is SERVING, any other
 * NOT_SERVING. It prints each request's User-Agent.
 */
const GRPC_HEALTH_SERVER = `
const http2 = require('node:http2');
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(chunks).subarray(5);
    const service = body.length > 2 && body[0] === 0x0a ? body.subarray(2, 2 + body[1]).toString() : '';
    const msg = Buffer.from([0x08, service === '' ? 1 : 2]);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]));
    console.log('ua ' + headers['user-agent']);
  });
});
server.listen(Number(process.env.PORT), '0.0.0.0', () => console.log('listening'));
`;
const GRPC_PORT = 9555;

/** The network namespace (ip netns name) that holds `ip`. */
async function netnsOf(ip: string): Promise<string> {
  const run = promisify(execFile);
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const ns = line.split(' ')[0];
    if (!ns) continue;
    const addrs = await run('ip', ['-n', ns, '-4', '-o', 'addr', 'show']).catch(() => ({ stdout: '' }));
    if (addrs.stdout.includes(` ${ip}/`)) return ns;
  }
  throw new Error(`no network namespace holds ${ip}`);
}

async function grpcKind(_t: TestContext, h: Harness): Promise<void> {
  await h.writeManifest('grpc.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: grpc}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: serving
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    readinessProbe: {grpc: {port: ${GRPC_PORT}}, periodSeconds: 1}
  - name: not-serving
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
    readinessProbe: {grpc: {port: ${GRPC_PORT}, service: down}, periodSeconds: 1}
`);
  // No server yet: the probes fail to connect.
  const pending = await h.waitForPod('grpc', (p) => !!p.status?.podIP && events(h, 'grpc', 'Unhealthy').some((e) => String(e.msg).includes('failed to connect service')), 30_000, 'a pod IP and a failed connection');
  const ip = pending.status!.podIP!;
  assert.ok(events(h, 'grpc', 'Unhealthy').some((e) => String(e.msg).startsWith(`Readiness probe failed: timeout: failed to connect service "${ip}:${GRPC_PORT}" within 1s`)));
  const ns = await netnsOf(ip);
  const lines: string[] = [];
  const server: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', GRPC_HEALTH_SERVER], { env: { ...process.env, PORT: String(GRPC_PORT) }, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  server.stderr?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  try {
    await poll(() => lines.includes('listening'), 10_000, 'the gRPC health server in the pod network namespace', () => lines.join('\n'));
    const pod = await h.waitForPod('grpc', (p) => containerStatus(p, 'serving')?.ready === true && events(h, 'grpc', 'Unhealthy').some((e) => String(e.msg).includes('NOT_SERVING')), 30_000, 'serving ready, not-serving reported');
    assert.equal(containerStatus(pod, 'not-serving')?.ready, false);
    assert.ok(events(h, 'grpc', 'Unhealthy').some((e) => e.msg === 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")'));
    assert.match(lines.find((l) => l.startsWith('ua ')) ?? '', /^ua kube-probe\/1\.\d+/);
  } finally {
    server.kill('SIGKILL');
  }
}

test('probes: liveness restarts, readiness toggles Ready, startup holds back liveness, each probe kind', { concurrency: true }, (t) =>
  withKubelet(t, async (h) => {
    await Promise.all([
      t.test('a liveness probe that starts failing restarts its container after failureThreshold periods', (st) => liveness(st, h)),
      t.test('readiness toggles the pod Ready condition both ways', (st) => readiness(st, h)),
      t.test('a startup probe delays liveness; a startup probe that never passes restarts its container', (st) => startup(st, h)),
      t.test('httpGet and tcpSocket probes: success and failure', (st) => kinds(st, h)),
      t.test('gRPC probes: SERVING and NOT_SERVING', (st) => grpcKind(st, h)),
    ]);
  }));

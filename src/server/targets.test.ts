import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodWithStatus } from '../status/status-manager.ts';
import { findPod, logContainerId, portForwardPorts, runningContainerId, streamOptions } from './targets.ts';
import { route } from './kubelet-server.ts';
import { proxiedRequestHead, streamingTarget } from './streaming.ts';

const pod = (containerStatuses: unknown[]): PodWithStatus => ({
  pod: { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [{ name: 'c' }, { name: 'd' }] } },
  status: { containerStatuses } as PodWithStatus['status'],
});

void test('log container: current, previous, and upstream messages', () => {
  const running = pod([{ name: 'c', containerID: 'containerd://abc', state: { running: {} }, lastState: { terminated: { containerID: 'containerd://old' } } }]);
  assert.equal(logContainerId(running, 'c', false), 'abc');
  assert.equal(logContainerId(running, 'c', true), 'old');
  assert.throws(() => logContainerId(running, 'x', false), /container "x" not found in pod "p"/);
  assert.throws(() => logContainerId(pod([{ name: 'c', state: { running: {} } }]), 'c', true), /previous terminated container "c" in pod "p" not found/);
  assert.throws(() => logContainerId(pod([{ name: 'c', state: { waiting: { reason: 'ContainerCreating' } } }]), 'c', false), /is waiting to start: ContainerCreating/);
  assert.throws(() => logContainerId(pod([{ name: 'c', state: { waiting: { reason: 'ImagePullBackOff' } } }]), 'c', false), /trying and failing to pull image/);
  assert.throws(() => logContainerId(pod([]), 'c', false), /waiting to start - no logs yet/);
  assert.equal(logContainerId(pod([{ name: 'c', state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { containerID: 'containerd://t' } } }]), 'c', false), 't');
  assert.equal(logContainerId(pod([{ name: 'c', containerID: 'containerd://e', state: { terminated: { containerID: 'containerd://e' } } }]), 'c', false), 'e');
});

void test('exec target: running containers only; pods by namespace, name and uid', () => {
  const p = pod([{ name: 'c', containerID: 'containerd://abc', state: { running: {} } }, { name: 'd', state: { waiting: {} } }]);
  assert.equal(runningContainerId(p, 'c'), 'abc');
  assert.throws(() => runningContainerId(p, 'd'), (e: { status?: number }) => e.status === 400);
  assert.throws(() => runningContainerId(p, 'zz'), (e: { status?: number }) => e.status === 404);
  assert.equal(findPod([p], 'ns', 'p').pod.metadata?.uid, 'u1');
  assert.throws(() => findPod([p], 'ns', 'p', 'other'), (e: { status?: number }) => e.status === 404);
  assert.throws(() => findPod([p], 'x', 'p'), /does not exist/);
});

void test('stream options and ports as upstream parses them', () => {
  const q = (s: string): URLSearchParams => new URLSearchParams(s);
  assert.deepEqual(streamOptions(q('command=ls&command=-l&output=1&error=1'), true), { command: ['ls', '-l'], tty: false, stdin: false, stdout: true, stderr: true });
  assert.equal(streamOptions(q('command=sh&input=1&output=1&error=1&tty=1'), true).stderr, false);
  assert.throws(() => streamOptions(q('command=ls'), true), /at least 1 of stdin, stdout, stderr/);
  assert.throws(() => streamOptions(q('output=1'), true), /command/);
  assert.deepEqual(portForwardPorts(q(''), false), []);
  assert.deepEqual(portForwardPorts(q('port=80&port=8080'), true), [80, 8080]);
  assert.throws(() => portForwardPorts(q(''), true), /"port" is required/);
  assert.throws(() => portForwardPorts(q('port=0'), true), /must be > 0/);
  assert.throws(() => portForwardPorts(q('port=x'), true), /unable to parse/);
});

void test('routes', () => {
  assert.deepEqual(route('/pods/'), { kind: 'pods' });
  assert.deepEqual(route('/containerLogs/ns/p/c'), { kind: 'logs', namespace: 'ns', pod: 'p', container: 'c' });
  assert.deepEqual(route('/exec/ns/p/uid/c'), { kind: 'exec', namespace: 'ns', pod: 'p', uid: 'uid', container: 'c' });
  assert.deepEqual(route('/portForward/ns/p'), { kind: 'portForward', namespace: 'ns', pod: 'p', uid: undefined });
  assert.equal(route('/containerLogs/ns/p'), null);
  assert.equal(route('/containerLogs/ns//c'), null);
  assert.equal(route('/nothing'), null);
  assert.deepEqual(route('/containerLogs/ns/p/..%2F..%2Fetc'), { kind: 'logs', namespace: 'ns', pod: 'p', container: '../../etc' }, 'decoded, then only ever compared with names');
  assert.throws(() => route('/containerLogs/ns/p/%E0%A4%A'), /malformed path/);
});

void test('proxied request head: target path, no credentials, no header injection', () => {
  const head = proxiedRequestHead({ method: 'POST', rawHeaders: ['Host', 'node:10250', 'Authorization', 'Bearer secret', 'Upgrade', 'SPDY/3.1', 'X-Remote-User', 'u', 'X-Stream-Protocol-Version', 'v4.channel.k8s.io'] }, streamingTarget('http://127.0.0.1:3456/exec/tok'));
  assert.equal(head, 'POST /exec/tok HTTP/1.1\r\nHost: 127.0.0.1:3456\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
  assert.throws(() => streamingTarget('https://127.0.0.1/x'), /unsupported streaming URL scheme/);
  assert.throws(() => streamingTarget('::'), /invalid streaming URL/);
});

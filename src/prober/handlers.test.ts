import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../common/clock.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { HandlerRunner, LifecycleHookError } from './handlers.ts';

const container: Container = { name: 'main', image: 'x' };
const pod: Pod = { metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [container] } };
const target = { pod, container, containerId: 'c1', podIP: '127.0.0.1' };

function runner(execAnswer: (cmd: string[]) => Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }>) {
  const events: string[] = [];
  const recorder: EventRecorder = { event: (_p, type, reason, message) => events.push(`${type} ${reason}: ${message}`) };
  const clock = new FakeClock(0);
  const calls: { cmd: string[]; timeout: number }[] = [];
  const r = new HandlerRunner({ runtime: { execSync: (_id, cmd, timeout) => (calls.push({ cmd, timeout }), execAnswer(cmd)) }, clock, recorder });
  return { r, events, clock, calls };
}

void test('exec hooks: exit 0 is done; another exit fails with upstream message; no timeout of their own', async () => {
  const { r, calls } = runner(async (cmd) => (cmd[0] === 'true' ? { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 } : { stdout: Buffer.from('out'), stderr: Buffer.from('bad'), exitCode: 3 }));
  const signal = new AbortController().signal;
  await r.run(target, { exec: { command: ['true'] } }, signal);
  assert.deepEqual(calls[0], { cmd: ['true'], timeout: 0 });
  await assert.rejects(r.run(target, { exec: { command: ['sh', '-c', 'exit 3'] } }, signal), (err: unknown) => {
    assert.ok(err instanceof LifecycleHookError);
    assert.equal(err.message, `Exec lifecycle hook ([sh -c exit 3]) for Container "main" in Pod "p_default(u1)" failed - error: command 'sh -c exit 3' exited with 3: bad, message: "outbad"`);
    return true;
  });
});

void test('HTTP hooks: any response counts; no response fails; HTTPS answered by HTTP is retried over HTTP', async () => {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(500).end('ignored');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const { r, events } = runner(() => Promise.reject(new Error('unused')));
  const signal = new AbortController().signal;
  try {
    await r.run(target, { httpGet: { port, path: '/hook' } }, signal);
    assert.equal(seen[0]?.url, '/hook');
    assert.equal(seen[0]?.headers['user-agent'], 'kube-lifecycle/1.34');
    await r.run(target, { httpGet: { port, path: '/tls', scheme: 'HTTPS', httpHeaders: [{ name: 'Authorization', value: 'Bearer x' }] } }, signal);
    assert.equal(seen[1]?.url, '/tls');
    assert.equal(seen[1]?.headers.authorization, undefined, 'Authorization is dropped on the HTTP retry');
    assert.deepEqual(events, [`Warning LifecycleHTTPFallback: request to HTTPS lifecycle hook 127.0.0.1:${port} got HTTP response, retry with HTTP succeeded`]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await assert.rejects(r.run(target, { httpGet: { port, path: '/x' } }, signal), (err: unknown) => {
    assert.ok(err instanceof LifecycleHookError);
    assert.equal(err.message, `HTTP lifecycle hook (/x) for Container "main" in Pod "p_default(u1)" failed - error: Get "http://127.0.0.1:${port}/x": dial tcp 127.0.0.1:${port}: connect: connection refused`);
    return true;
  });
  await assert.rejects(r.run({ ...target, podIP: '' }, { httpGet: { port, path: '/x' } }, signal), /failed to find networking container/);
});

void test('sleep hooks sleep on the clock; an abort ends them with upstream message', async () => {
  const { r, clock } = runner(() => Promise.reject(new Error('unused')));
  let done = false;
  const p = r.run(target, { sleep: { seconds: 5 } }, new AbortController().signal).then(() => (done = true));
  clock.advance(4_999);
  await new Promise((res) => setImmediate(res));
  assert.equal(done, false);
  clock.advance(1);
  await p;
  assert.equal(done, true);
  const ac = new AbortController();
  const q = r.run(target, { sleep: { seconds: 5 } }, ac.signal);
  ac.abort();
  await assert.rejects(q, /Sleep lifecycle hook \(5\) for Container "main" in Pod "p_default\(u1\)" failed - error: container terminated before sleep hook finished/);
});

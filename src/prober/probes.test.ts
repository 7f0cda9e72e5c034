// The probe kinds against real local servers (HTTP, HTTPS, TCP, gRPC) and a fake exec runtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { TestCa } from '../certificate/testing.ts';
import { transient } from '../common/errors.ts';
import type { Container, Pod } from '../kube/types.ts';
import type { EventRecorder } from '../kube/events.ts';
import { execProbe, expandProbeCommand } from './exec.ts';
import { decodeHealthCheckRequest, decodeHealthCheckResponse, encodeHealthCheckRequest, encodeHealthCheckResponse, grpcProbe, HEALTH_CHECK_METHOD } from './grpc.ts';
import { buildHttpGetRequest, httpProbe, MAX_RESPONSE_BODY_BYTES } from './http.ts';
import { resolveContainerPort, userAgent } from './net.ts';
import { MAX_PROBE_RETRIES, Prober } from './prober.ts';
import { tcpProbe } from './tcp.ts';

const container: Container = { name: 'web', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] };
const pod: Pod = { metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [container] } };

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
const close = (server: { close: (cb: () => void) => unknown }): Promise<void> => new Promise((r) => server.close(() => r()));
/** A port with nothing listening (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  await close(s);
  return port;
}

void test('ports resolve by number, by container port name, or as a number in a string', () => {
  assert.equal(resolveContainerPort(80, container), 80);
  assert.equal(resolveContainerPort('http', container), 8080);
  assert.equal(resolveContainerPort('8081', container), 8081);
  assert.throws(() => resolveContainerPort('metrics', container), /port metrics not found/);
  assert.throws(() => resolveContainerPort(0, container), /invalid port number: 0/);
  assert.throws(() => resolveContainerPort(70000, container), /invalid port number/);
});

void test('the request of an httpGet action: pod IP by default, scheme, path, headers, User-Agent and Accept as upstream', () => {
  const r = buildHttpGetRequest({ port: 'http', path: '/healthz?x=1' }, container, '10.88.0.4', 'probe');
  assert.equal(r.url.href, 'http://10.88.0.4:8080/healthz?x=1');
  assert.deepEqual(r.headers, [['User-Agent', 'kube-probe/1.34'], ['Accept', '*/*']]);
  const custom = buildHttpGetRequest({ port: 443, scheme: 'HTTPS', host: 'example.test', path: 'ready', httpHeaders: [{ name: 'User-Agent', value: 'mine' }, { name: 'Accept', value: '' }, { name: 'X-A', value: '1' }] }, container, '10.88.0.4', 'lifecycle');
  assert.equal(custom.url.href, 'https://example.test:443/ready'.replace(':443', ''));
  assert.deepEqual(custom.headers, [['User-Agent', 'mine'], ['X-A', '1']], 'an empty Accept removes it');
  assert.equal(buildHttpGetRequest({ port: 80 }, container, 'fd00::5', 'probe').url.host, '[fd00::5]');
  assert.equal(userAgent('lifecycle', 'v1.31.0'), 'kube-lifecycle/1.31');
});

void test('HTTP probes: 2xx succeeds, 3xx not followed is a warning, 4xx/5xx fails with the code; redirects to the same host are followed', async () => {
  let seen: IncomingHttpHeaders = {};
  const server = createHttpServer((req, res) => {
    seen = req.headers;
    const [path] = (req.url ?? '').split('?');
    if (path === '/ok') res.end('fine');
    else if (path === '/big') res.end('x'.repeat(MAX_RESPONSE_BODY_BYTES * 3));
    else if (path === '/same') res.writeHead(302, { location: '/ok' }).end();
    else if (path === '/elsewhere') res.writeHead(301, { location: 'http://localhost.invalid/ok' }).end('moved');
    else if (path === '/loop') res.writeHead(307, { location: '/loop' }).end();
    else if (path === '/slow') setTimeout(() => res.end('late'), 1500);
    else res.writeHead(path === '/boom' ? 500 : 404).end('secret body');
  });
  const port = await listen(server);
  const probe = (path: string, headers: { name: string; value: string }[] = []) =>
    httpProbe(buildHttpGetRequest({ port, path, httpHeaders: headers }, container, '127.0.0.1', 'probe'), 1000);
  try {
    assert.deepEqual(await probe('/ok', [{ name: 'X-Custom', value: 'v' }, { name: 'Host', value: 'virtual.test' }]), { result: 'success', output: 'fine' });
    assert.equal(seen['user-agent'], 'kube-probe/1.34');
    assert.equal(seen.accept, '*/*');
    assert.equal(seen['x-custom'], 'v');
    assert.equal(seen.host, 'virtual.test');
    assert.equal(seen.connection, 'close', 'no keep-alive');
    assert.equal((await probe('/big')).output.length, MAX_RESPONSE_BODY_BYTES);
    assert.deepEqual(await probe('/same'), { result: 'success', output: 'fine' });
    assert.deepEqual(await probe('/elsewhere'), { result: 'warning', output: 'Probe terminated redirects, Response body: moved' });
    assert.deepEqual(await probe('/missing'), { result: 'failure', output: 'HTTP probe failed with statuscode: 404' });
    assert.deepEqual(await probe('/boom'), { result: 'failure', output: 'HTTP probe failed with statuscode: 500' });
    const loop = await probe('/loop');
    assert.equal(loop.result, 'failure');
    assert.equal(loop.output, `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects`);
    const slow = await probe('/slow');
    assert.equal(slow.result, 'failure');
    assert.match(slow.output, /^Get "http:\/\/127\.0\.0\.1:\d+\/slow": context deadline exceeded/);
  } finally {
    server.closeAllConnections();
    await close(server);
  }
  const dead = await deadPort();
  const refused = await httpProbe(buildHttpGetRequest({ port: dead, path: '/' }, container, '127.0.0.1', 'probe'), 1000);
  assert.deepEqual(refused, { result: 'failure', output: `Get "http://127.0.0.1:${dead}/": dial tcp 127.0.0.1:${dead}: connect: connection refused` });
});

void test('HTTPS probes do not verify the certificate', async () => {
  const ca = new TestCa('probe-test');
  const server = createHttpsServer({ cert: ca.certPem, key: ca.key.export({ type: 'sec1', format: 'pem' }) }, (_req, res) => res.end('tls ok'));
  const port = await listen(server);
  try {
    assert.deepEqual(await httpProbe(buildHttpGetRequest({ port, scheme: 'HTTPS', path: '/' }, container, '127.0.0.1', 'probe'), 2000), { result: 'success', output: 'tls ok' });
  } finally {
    await close(server);
  }
});

void test('TCP probes: a connection succeeds; a refused one fails with the dial error', async () => {
  const server = createTcpServer((s) => s.destroy());
  const port = await listen(server);
  try {
    assert.deepEqual(await tcpProbe('127.0.0.1', port, 1000), { result: 'success', output: '' });
  } finally {
    await close(server);
  }
  const dead = await deadPort();
  assert.deepEqual(await tcpProbe('127.0.0.1', dead, 1000), { result: 'failure', output: `dial tcp 127.0.0.1:${dead}: connect: connection refused` });
  // 192.0.2.0/24 (TEST-NET-1) is not routed: the dial times out or is unreachable; either way a failure.
  const unroutable = await tcpProbe('192.0.2.1', 9, 300);
  assert.equal(unroutable.result, 'failure');
  assert.match(unroutable.output, /^dial tcp 192\.0\.2\.1:9: /);
});

void test('health messages encode and decode as protobuf', () => {
  assert.deepEqual(encodeHealthCheckRequest({ service: '' }), Buffer.alloc(0));
  assert.deepEqual(encodeHealthCheckRequest({ service: 'db' }), Buffer.from([0x0a, 2, 0x64, 0x62]));
  assert.deepEqual(decodeHealthCheckRequest(encodeHealthCheckRequest({ service: 'x'.repeat(300) })), { service: 'x'.repeat(300) });
  assert.deepEqual(decodeHealthCheckResponse(encodeHealthCheckResponse({ status: 1 })), { status: 1 });
  assert.deepEqual(decodeHealthCheckResponse(Buffer.alloc(0)), { status: 0 });
  // Unknown fields are skipped.
  assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0x12, 1, 0x41, 0x08, 2])), { status: 2 });
});

/** A gRPC server with grpc.health.v1.Health/Check: `statuses` maps a service name to its status. */
async function healthServer(statuses: Record<string, number>, withHealth = true): Promise<{ port: number; userAgents: string[]; stop: () => void }> {
  const server = new grpc.Server();
  const userAgents: string[] = [];
  if (withHealth) {
    server.addService(
      { Check: { path: HEALTH_CHECK_METHOD, requestStream: false, responseStream: false, requestSerialize: encodeHealthCheckRequest, requestDeserialize: decodeHealthCheckRequest, responseSerialize: encodeHealthCheckResponse, responseDeserialize: decodeHealthCheckResponse } },
      {
        Check: (call: grpc.ServerUnaryCall<{ service: string }, { status: number }>, cb: grpc.sendUnaryData<{ status: number }>) => {
          userAgents.push(String(call.metadata.get('user-agent')[0] ?? ''));
          const s = statuses[call.request.service];
          if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
          else cb(null, { status: s });
        },
      },
    );
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, userAgents, stop: () => server.forceShutdown() };
}

void test('gRPC probes: SERVING succeeds; NOT_SERVING, errors, no health service and no server fail with upstream messages', async () => {
  const srv = await healthServer({ '': 1, down: 2 });
  try {
    assert.deepEqual(await grpcProbe('127.0.0.1', srv.port, '', 1000), { result: 'success', output: 'service healthy' });
    assert.match(srv.userAgents[0]!, /^kube-probe\/1\.34/);
    assert.deepEqual(await grpcProbe('127.0.0.1', srv.port, 'down', 1000), { result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' });
    assert.deepEqual(await grpcProbe('127.0.0.1', srv.port, 'other', 1000), { result: 'failure', output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service' });
  } finally {
    srv.stop();
  }
  const bare = await healthServer({}, false);
  try {
    const r = await grpcProbe('127.0.0.1', bare.port, '', 1000);
    assert.equal(r.result, 'failure');
    assert.match(r.output, /^this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /);
  } finally {
    bare.stop();
  }
  const dead = await deadPort();
  const none = await grpcProbe('127.0.0.1', dead, '', 500);
  assert.equal(none.result, 'failure');
  assert.match(none.output, new RegExp(`^timeout: failed to connect service "127\\.0\\.0\\.1:${dead}" within 1s: `));
});

void test('exec probes: exit 0 succeeds, another exit fails with stdout+stderr, a timeout fails, a runtime error is a prober error', async () => {
  const calls: { cmd: string[]; timeout: number }[] = [];
  let answer: () => Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> = async () => ({ stdout: Buffer.from('ok'), stderr: Buffer.alloc(0), exitCode: 0 });
  const runtime = { execSync: (_id: string, cmd: string[], timeout: number) => (calls.push({ cmd, timeout }), answer()) };
  assert.deepEqual(await execProbe(runtime, 'c1', ['true'], 3), { result: 'success', output: 'ok' });
  assert.deepEqual(calls[0], { cmd: ['true'], timeout: 3 });
  answer = async () => ({ stdout: Buffer.from('out;'), stderr: Buffer.from('err'), exitCode: 1 });
  assert.deepEqual(await execProbe(runtime, 'c1', ['false'], 1), { result: 'failure', output: 'out;err' });
  answer = () => Promise.reject(transient('CRI ExecSync: timeout 1s exceeded: context deadline exceeded', Object.assign(new Error('x'), { code: 4 })));
  assert.deepEqual(await execProbe(runtime, 'c1', ['sleep', '5'], 1), { result: 'failure', output: 'command "sleep 5" timed out' });
  answer = () => Promise.reject(new Error('container not running'));
  await assert.rejects(execProbe(runtime, 'c1', ['true'], 1), /container not running/);
  const c: Container = { name: 'c', env: [{ name: 'FILE', value: '/tmp/ready' }, { name: 'FROM', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] };
  assert.deepEqual(expandProbeCommand(['test', '-f', '$(FILE)', '$(FROM)', '$(NONE)', '$$(FILE)'], c), ['test', '-f', '/tmp/ready', '', '$(NONE)', '$(FILE)']);
});

void test('the prober records Unhealthy for each failure, ProbeWarning for a redirect, and retries a probe that errors three times', async () => {
  const events: string[] = [];
  const recorder: EventRecorder = { event: (_p, type, reason, message) => events.push(`${type} ${reason}: ${message}`) };
  let execAnswer: () => Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> = async () => ({ stdout: Buffer.from('no file'), stderr: Buffer.alloc(0), exitCode: 1 });
  let execCalls = 0;
  const prober = new Prober({ runtime: { execSync: () => (execCalls++, execAnswer()) }, recorder });
  const target = { pod, container, containerId: 'c1', podIP: '127.0.0.1' };
  const signal = new AbortController().signal;
  assert.equal(await prober.probe('liveness', { exec: { command: ['cat', '/tmp/x'] } }, target, signal), 'failure');
  assert.deepEqual(events, ['Warning Unhealthy: Liveness probe failed: no file']);
  execAnswer = () => Promise.reject(new Error('no such container'));
  execCalls = 0;
  await assert.rejects(prober.probe('readiness', { exec: { command: ['true'] } }, target, signal), /no such container/);
  assert.equal(execCalls, MAX_PROBE_RETRIES);
  assert.equal(events[1], 'Warning Unhealthy: Readiness probe errored and resulted in unknown state: no such container');
  const server = createHttpServer((_req, res) => res.writeHead(302, { location: 'http://other.invalid/' }).end('bye'));
  const port = await listen(server);
  try {
    assert.equal(await prober.probe('startup', { httpGet: { port } }, target, signal), 'success');
    assert.equal(events[2], 'Warning ProbeWarning: Startup probe warning: Probe terminated redirects, Response body: bye');
  } finally {
    await close(server);
  }
  await assert.rejects(prober.probe('readiness', {}, target, signal), /missing probe handler/);
});

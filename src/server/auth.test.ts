import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { FakeClock } from '../common/clock.ts';
import type { KubeClient } from '../kube/client.ts';
import { KubeletAuthenticator, TtlCache, WebhookAuthorizer, forbiddenMessage, isSubpath, requestAttributes } from './auth.ts';

void test('request attributes: subresource by path, verb by method, streaming needs create', () => {
  const subs = (method: string, path: string): string[] => requestAttributes(method, path, 'n1').map((a) => `${a.verb} ${a.subresource}`);
  assert.deepEqual(subs('GET', '/pods'), ['get pods', 'get proxy']);
  assert.deepEqual(subs('GET', '/runningpods/'), ['get pods', 'get proxy']);
  assert.deepEqual(subs('GET', '/healthz'), ['get healthz', 'get proxy']);
  assert.deepEqual(subs('GET', '/configz'), ['get configz', 'get proxy']);
  assert.deepEqual(subs('GET', '/stats/summary'), ['get stats']);
  assert.deepEqual(subs('GET', '/metrics/cadvisor'), ['get metrics']);
  assert.deepEqual(subs('GET', '/containerLogs/ns/p/c'), ['get proxy']);
  assert.deepEqual(subs('GET', '/exec/ns/p/c'), ['create proxy']); // a WebSocket upgrade is a GET
  assert.deepEqual(subs('POST', '/exec/ns/p/c'), ['create proxy']);
  assert.deepEqual(subs('GET', '/portForward/ns/p'), ['create proxy']);
  assert.deepEqual(subs('DELETE', '/pods'), ['delete pods', 'delete proxy']);
  assert.deepEqual(subs('GET', '/podsx'), ['get proxy']);
  assert.equal(requestAttributes('GET', '/pods', 'n1')[0]!.name, 'n1');
  assert.ok(isSubpath('/metrics/probes', '/metrics') && !isSubpath('/metricsx', '/metrics') && isSubpath('/logs', '/logs/'));
  assert.equal(forbiddenMessage({ name: 'bob', groups: [] }, requestAttributes('GET', '/pods', 'n1')), 'Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[pods proxy])');
});

void test('TTL cache: expiry and a size bound', () => {
  const clock = new FakeClock(0);
  const c = new TtlCache<number>(clock, 2);
  c.set('a', 1, 100);
  c.set('b', 2, 100);
  c.set('c', 3, 100);
  assert.equal(c.size, 2);
  assert.equal(c.get('a'), undefined);
  assert.equal(c.get('c'), 3);
  clock.advance(100);
  assert.equal(c.get('c'), undefined);
});

function fakeClient(handler: (path: string, body: unknown) => unknown): KubeClient & { calls: number } {
  const c = {
    calls: 0,
    server: 'fake',
    request<T>(_method: string, path: string, opts?: { body?: unknown }): Promise<T> {
      c.calls++;
      return Promise.resolve(handler(path, opts?.body) as T);
    },
    watch: () => Promise.resolve(),
    reload: () => Promise.resolve(),
    close: () => {},
  };
  return c;
}

const request = (headers: Record<string, string>): IncomingMessage => ({ headers, socket: { getPeerCertificate: () => ({}) } }) as unknown as IncomingMessage;

void test('bearer tokens go to TokenReview once per TTL; bad tokens and no credentials get 401', async () => {
  const clock = new FakeClock(0);
  const client = fakeClient((_path, body) => {
    const token = (body as { spec: { token: string } }).spec.token;
    return { status: token === 'good' ? { authenticated: true, user: { username: 'alice', groups: ['g'] } } : { authenticated: false } };
  });
  const authn = new KubeletAuthenticator({ clientCAConfigured: true, tokenReview: { client, cacheTtlMs: 1000 }, anonymous: false, clock });
  assert.deepEqual(await authn.authenticate(request({ authorization: 'Bearer good' })), { ok: true, user: { name: 'alice', uid: undefined, groups: ['g'], extra: undefined } });
  await authn.authenticate(request({ authorization: 'Bearer good' }));
  assert.equal(client.calls, 1);
  assert.equal((await authn.authenticate(request({ authorization: 'Bearer bad' }))).ok, false);
  assert.equal((await authn.authenticate(request({}))).ok, false);
  assert.equal((await authn.authenticate(request({ authorization: 'Basic abc' }))).ok, false);
  clock.advance(1000);
  await authn.authenticate(request({ authorization: 'Bearer good' }));
  assert.equal(client.calls, 3);
  const anon = new KubeletAuthenticator({ clientCAConfigured: false, tokenReview: null, anonymous: true, clock });
  assert.deepEqual(await anon.authenticate(request({})), { ok: true, user: { name: 'system:anonymous', groups: ['system:unauthenticated'] } });
  assert.equal((await anon.authenticate(request({ authorization: 'Bearer x' }))).ok, false, 'a token without a webhook is refused, not anonymous');
});

void test('SubjectAccessReview: any allowed attribute allows; answers cached', async () => {
  const clock = new FakeClock(0);
  const seen: string[] = [];
  const client = fakeClient((_path, body) => {
    const ra = (body as { spec: { resourceAttributes: { subresource: string } } }).spec.resourceAttributes;
    seen.push(ra.subresource);
    return { status: { allowed: ra.subresource === 'proxy' } };
  });
  const authz = new WebhookAuthorizer({ client, clock, authorizedTtlMs: 1000, unauthorizedTtlMs: 1000 });
  const user = { name: 'bob', groups: [] };
  assert.deepEqual(await authz.authorize(user, requestAttributes('GET', '/pods', 'n1')), { allowed: true });
  assert.deepEqual(seen, ['pods', 'proxy']);
  await authz.authorize(user, requestAttributes('GET', '/pods', 'n1'));
  assert.equal(client.calls, 2);
  const denied = await authz.authorize(user, requestAttributes('GET', '/metrics', 'n1'));
  assert.equal(denied.allowed, false);
});

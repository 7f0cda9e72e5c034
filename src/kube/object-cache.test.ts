import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { isTransient } from '../common/errors.ts';
import { KubeApiError, type KubeClient, type RequestOptionsKube } from './client.ts';
import { ApiPodObjectSource, OBJECT_TTL_MS, tokenRequiresRefresh } from './object-cache.ts';

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/** A KubeClient answering from a handler, recording every call. */
function fakeClient(handler: (call: Call) => unknown): KubeClient & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    server: 'https://fake',
    request: async <T>(method: string, path: string, opts: RequestOptionsKube = {}): Promise<T> => {
      const call = { method, path, body: opts.body };
      calls.push(call);
      await Promise.resolve();
      return handler(call) as T;
    },
    watch: () => Promise.resolve(),
    reload: () => Promise.resolve(),
    close: () => undefined,
  };
}

const notFound = (what: string): KubeApiError => new KubeApiError('NotFound', 404, 'NotFound', `${what} not found`);
const signal = (): AbortSignal => AbortSignal.timeout(5_000);

test('getConfigMap/getSecret: cached for the TTL, shared while in flight, null on 404 (never cached)', async () => {
  const clock = new FakeClock(1_000_000);
  let version = 1;
  let exists = true;
  const client = fakeClient((c) => {
    if (c.path.endsWith('/configmaps/cfg')) {
      if (!exists) throw notFound('configmaps "cfg"');
      return { metadata: { name: 'cfg' }, data: { v: String(version) } };
    }
    if (c.path === '/api/v1/namespaces/ns/secrets/s') return { metadata: { name: 's' }, data: { k: 'dg==' } };
    throw notFound(c.path);
  });
  const source = new ApiPodObjectSource({ client, clock });
  const [a, b] = await Promise.all([source.getConfigMap('ns', 'cfg', signal()), source.getConfigMap('ns', 'cfg', signal())]);
  assert.equal(a?.data?.v, '1');
  assert.equal(b, a);
  assert.equal(client.calls.length, 1);
  assert.deepEqual(client.calls[0], { method: 'GET', path: '/api/v1/namespaces/ns/configmaps/cfg', body: undefined });

  version = 2;
  clock.advance(OBJECT_TTL_MS - 1);
  assert.equal((await source.getConfigMap('ns', 'cfg', signal()))?.data?.v, '1');
  clock.advance(1);
  assert.equal((await source.getConfigMap('ns', 'cfg', signal()))?.data?.v, '2');
  assert.equal(client.calls.length, 2);

  exists = false;
  clock.advance(OBJECT_TTL_MS);
  assert.equal(await source.getConfigMap('ns', 'cfg', signal()), null);
  assert.equal(await source.getConfigMap('ns', 'cfg', signal()), null);
  assert.equal(client.calls.length, 4, 'a 404 is asked again');
  exists = true;
  assert.equal((await source.getConfigMap('ns', 'cfg', signal()))?.data?.v, '2');

  assert.equal((await source.getSecret('ns', 's', signal()))?.data?.k, 'dG=='.replace('G', 'g'));
  assert.equal(await source.getSecret('ns', 'other', signal()), null);
  // Names are path-escaped.
  await source.getSecret('n s', 'a/b', signal());
  assert.equal(client.calls.at(-1)?.path, '/api/v1/namespaces/n%20s/secrets/a%2Fb');
});

test('a failed refresh returns the older copy; without one it fails', async () => {
  const clock = new FakeClock(0);
  let down = false;
  const client = fakeClient((c) => {
    if (down) throw new KubeApiError('Transient', 503, 'ServiceUnavailable', 'apiserver down');
    if (c.path.endsWith('/services')) return { items: [{ metadata: { name: 'web', namespace: 'ns' } }] };
    return { metadata: { name: 'cfg' }, data: { v: '1' } };
  });
  const source = new ApiPodObjectSource({ client, clock });
  await source.getConfigMap('ns', 'cfg', signal());
  assert.equal((await source.listServices('ns', signal())).length, 1);
  down = true;
  clock.advance(OBJECT_TTL_MS * 3);
  assert.equal((await source.getConfigMap('ns', 'cfg', signal()))?.data?.v, '1');
  assert.equal((await source.listServices('ns', signal()))[0]?.metadata?.name, 'web');
  await assert.rejects(source.getConfigMap('ns', 'never-seen', signal()), /apiserver down/);
  await assert.rejects(source.listServices('other', signal()), /apiserver down/);
});

test('a caller that aborts does not cancel the shared call of others', async () => {
  const clock = new FakeClock(0);
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const client = fakeClient(() => gate.then(() => ({ metadata: { name: 'cfg' } })));
  const source = new ApiPodObjectSource({ client, clock });
  const ac = new AbortController();
  const first = source.getConfigMap('ns', 'cfg', ac.signal);
  const second = source.getConfigMap('ns', 'cfg', signal());
  ac.abort(new DOMException('aborted', 'AbortError'));
  await assert.rejects(first, { name: 'AbortError' });
  release();
  assert.equal((await second)?.metadata?.name, 'cfg');
  assert.equal(client.calls.length, 1);
});

test('tokenRequiresRefresh: at 80% of the lifetime (minus jitter) or after 24 h', () => {
  const exp = 10_000_000;
  const life = 3600;
  const issued = exp - life * 1000;
  assert.equal(tokenRequiresRefresh(issued, exp, life, 0), false);
  assert.equal(tokenRequiresRefresh(issued + 0.8 * life * 1000, exp, life, 0), false);
  assert.equal(tokenRequiresRefresh(issued + 0.8 * life * 1000 + 1, exp, life, 0), true);
  assert.equal(tokenRequiresRefresh(issued + 0.8 * life * 1000 - 5_000, exp, life, 5_000 + 1), true);
  const day = 48 * 3600;
  const exp2 = 48 * 3600_000;
  assert.equal(tokenRequiresRefresh(24 * 3600_000 - 1, exp2, day, 0), false);
  assert.equal(tokenRequiresRefresh(24 * 3600_000 + 1, exp2, day, 0), true);
});

test('requestServiceAccountToken: TokenRequest bound to the pod, cached until due, kept while valid when a refresh fails', async () => {
  const clock = new FakeClock(Date.parse('2030-01-01T00:00:00Z'));
  let n = 0;
  let fail = false;
  const client = fakeClient((c) => {
    if (fail) throw new KubeApiError('Transient', 503, '', 'down');
    const body = c.body as { spec: { expirationSeconds: number } };
    n++;
    return {
      spec: { expirationSeconds: body.spec.expirationSeconds },
      status: { token: `tok-${n}`, expirationTimestamp: new Date(clock.now() + body.spec.expirationSeconds * 1000).toISOString() },
    };
  });
  const source = new ApiPodObjectSource({ client, clock, random: () => 0 });
  const opts = { audiences: [], expirationSeconds: 3607, boundPod: { name: 'web', uid: 'uid-1' } };
  const t1 = await source.requestServiceAccountToken('ns', 'default', opts, signal());
  assert.equal(t1.token, 'tok-1');
  assert.deepEqual(client.calls[0], {
    method: 'POST',
    path: '/api/v1/namespaces/ns/serviceaccounts/default/token',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'uid-1' } } },
  });
  await source.requestServiceAccountToken('ns', 'default', { ...opts, audiences: ['vault'] }, signal());
  assert.deepEqual((client.calls[1]?.body as { spec: { audiences: string[] } }).spec.audiences, ['vault']);

  // Due when less than 20% (721 s) of its 3607 s remain: after 2886 s.
  clock.advance(2885 * 1000);
  assert.equal((await source.requestServiceAccountToken('ns', 'default', opts, signal())).token, 'tok-1');
  clock.advance(2000);
  assert.equal((await source.requestServiceAccountToken('ns', 'default', opts, signal())).token, 'tok-3');

  // Due again, the API is down: the valid token stays; once expired, it fails.
  clock.advance(3000 * 1000);
  fail = true;
  assert.equal((await source.requestServiceAccountToken('ns', 'default', opts, signal())).token, 'tok-3');
  clock.advance(700 * 1000);
  await assert.rejects(source.requestServiceAccountToken('ns', 'default', opts, signal()), (err: unknown) => isTransient(err) && /expired and refresh failed/.test((err as Error).message) && !/tok-/.test((err as Error).message));
  await assert.rejects(source.requestServiceAccountToken('ns', 'other', opts, signal()), /failed to fetch token: down/);

  // forgetPod drops the pod's tokens: the next call asks again.
  fail = false;
  const before = client.calls.length;
  await source.requestServiceAccountToken('ns', 'default', opts, signal());
  source.forgetPod('uid-1');
  await source.requestServiceAccountToken('ns', 'default', opts, signal());
  assert.equal(client.calls.length, before + 2);
});

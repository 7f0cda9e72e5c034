import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, IMAGE_PULL_BACKOFF } from '../common/backoff.ts';
import { FakeClock } from '../common/clock.ts';
import { KubeletError } from '../common/errors.ts';
import type { ImageService } from '../cri/client.ts';
import type { AuthConfig } from '../cri/types.ts';
import type { EventType } from '../kube/events.ts';
import type { Pod } from '../kube/types.ts';
import { ContainerStartError } from './errors.ts';
import { aggregateMessage, ImageManager, pullErrorText } from './images.ts';

const IMAGE = '127.0.0.1:5999/private/busybox:1.36';
const pod: Pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [] } };
const container = { name: 'main', image: IMAGE, imagePullPolicy: 'Always' };

/** A runtime error as the CRI client makes it: a KubeletError caused by a gRPC ServiceError. */
const criError = (details: string, code = 2): KubeletError => new KubeletError('Internal', `CRI PullImage: ${details}`, { cause: Object.assign(new Error(details), { code, details }) });

function setup(pull: (auth: AuthConfig | undefined) => Promise<string>, auths: AuthConfig[]) {
  const clock = new FakeClock(1_000_000);
  const events: [EventType, string, string][] = [];
  const tried: (AuthConfig | undefined)[] = [];
  const images = {
    pullImage: (_image: string, auth: AuthConfig | undefined) => {
      tried.push(auth);
      return pull(auth);
    },
    imageStatus: () => Promise.resolve(null),
  } as unknown as ImageService;
  const manager = new ImageManager({
    images, clock, serializePulls: true, backoff: new Backoff(IMAGE_PULL_BACKOFF, clock),
    recorder: { event: (_p: Pod, type: EventType, reason: string, message: string) => events.push([type, reason, message]) },
    credentials: { credentialsFor: () => Promise.resolve(auths) },
  });
  return { clock, events, tried, manager };
}

void test('pullErrorText formats a runtime error as Go prints a gRPC status; aggregateMessage as upstream', () => {
  assert.equal(pullErrorText(criError('failed to pull: 401 Unauthorized')), 'rpc error: code = Unknown desc = failed to pull: 401 Unauthorized');
  assert.equal(pullErrorText(criError('gone', 5)), 'rpc error: code = NotFound desc = gone');
  assert.equal(pullErrorText(new Error('plain')), 'plain');
  assert.equal(aggregateMessage(['a']), 'a');
  assert.equal(aggregateMessage(['a', 'b', 'a']), '[a, b]');
});

void test('each credential is tried in turn until one works', async () => {
  const good = { username: 'tester', password: 'right-password' };
  const { tried, manager, events } = setup((auth) => (auth?.password === 'right-password' ? Promise.resolve('sha256:ok') : Promise.reject(criError('401 Unauthorized'))), [
    { username: 'tester', password: 'wrong-password' }, good, { username: 'never', password: 'tried-at-all' },
  ]);
  assert.equal(await manager.ensureImage(pod, container, {}), 'sha256:ok');
  assert.deepEqual(tried.map((a) => a?.username), ['tester', 'tester']);
  assert.deepEqual(events.map((e) => e[1]), ['Pulling', 'Pulled']);
});

void test('without credentials the pull is anonymous', async () => {
  const { tried, manager } = setup(() => Promise.resolve('sha256:anon'), []);
  assert.equal(await manager.ensureImage(pod, container, {}), 'sha256:anon');
  assert.deepEqual(tried, [undefined]);
});

void test('every failure is reported (redacted): ErrImagePull, then ImagePullBackOff with the last error', async () => {
  const auths = [{ username: 'a', password: 'first-password' }, { username: 'b', password: 'second-password' }];
  const { manager, events, clock } = setup((auth) => Promise.reject(criError(`denied for ${auth?.password}: 401 Unauthorized`)), auths);
  const err = await manager.ensureImage(pod, container, {}).then(() => assert.fail('pulled'), (e: unknown) => e as ContainerStartError);
  assert.ok(err instanceof ContainerStartError);
  assert.equal(err.reason, 'ErrImagePull');
  const one = 'rpc error: code = Unknown desc = denied for <redacted>: 401 Unauthorized';
  const expected = `[${one}, ${one}]`;
  assert.equal(err.message, expected);
  assert.deepEqual(events.slice(1), [
    ['Warning', 'Failed', `Failed to pull image "${IMAGE}": ${expected}`],
    ['Warning', 'Failed', 'Error: ErrImagePull'],
  ]);
  for (const e of events) assert.ok(!e[2].includes('password'), e[2]);

  clock.advance(1_000);
  const backoff = await manager.ensureImage(pod, container, {}).then(() => assert.fail('pulled'), (e: unknown) => e as ContainerStartError);
  assert.equal(backoff.reason, 'ImagePullBackOff');
  assert.equal(backoff.message, `Back-off pulling image "${IMAGE}": ErrImagePull: ${expected}`);
  assert.deepEqual(events.slice(-2), [['Normal', 'BackOff', `Back-off pulling image "${IMAGE}"`], ['Warning', 'Failed', 'Error: ImagePullBackOff']]);
});

void test('a credentials failure (a bad pull secret) fails the pull like a runtime error', async () => {
  const clock = new FakeClock(0);
  const manager = new ImageManager({
    images: { pullImage: () => Promise.resolve('x'), imageStatus: () => Promise.resolve(null) } as unknown as ImageService,
    clock, serializePulls: false, backoff: new Backoff(IMAGE_PULL_BACKOFF, clock), recorder: { event: () => undefined },
    credentials: { credentialsFor: () => Promise.reject(new KubeletError('InvalidInput', 'secret "ns/s": .dockerconfigjson: not valid JSON')) },
  });
  await assert.rejects(manager.ensureImage(pod, container, {}), (e: ContainerStartError) => e.reason === 'ErrImagePull' && e.message === 'secret "ns/s": .dockerconfigjson: not valid JSON');
});

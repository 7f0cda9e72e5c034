// Runtime features (CRI Status handlers), user namespaces and RuntimeClass lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import { isNotFound, isUnsupported } from '../common/errors.ts';
import { KubeApiError, type KubeClient } from '../kube/client.ts';
import type { Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { ApiRuntimeClasses, STANDALONE_RUNTIME_CLASSES } from './runtime-class.ts';
import { NO_RUNTIME_FEATURES, RuntimeFeatures, runtimeFeaturesFrom, userNamespaceFor } from './runtime-features.ts';

const pod = (hostUsers?: boolean): Pod => ({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }], ...(hostUsers === undefined ? {} : { hostUsers }) } });

void test('features from a CRI Status answer; a runtime without handlers (containerd 1.6) supports nothing', () => {
  assert.deepEqual(runtimeFeaturesFrom({ runtime_handlers: [], features: null }), NO_RUNTIME_FEATURES);
  assert.deepEqual(
    runtimeFeaturesFrom({ runtime_handlers: [{ name: '', features: { user_namespaces: true, recursive_read_only_mounts: false } }, { name: 'kata', features: null }], features: { supplemental_groups_policy: true } }),
    { handlers: [{ name: '', userNamespaces: true, recursiveReadOnlyMounts: false }, { name: 'kata', userNamespaces: false, recursiveReadOnlyMounts: false }], supplementalGroupsPolicy: true },
  );
});

void test('user namespaces: the node\'s unless hostUsers is false, which is refused, never run in the host\'s', () => {
  assert.deepEqual(userNamespaceFor(pod(), '', NO_RUNTIME_FEATURES), { mode: 'NODE' });
  assert.deepEqual(userNamespaceFor(pod(true), '', NO_RUNTIME_FEATURES), { mode: 'NODE' });
  assert.throws(() => userNamespaceFor(pod(false), '', NO_RUNTIME_FEATURES), (e) => isUnsupported(e) && /RuntimeClass handler "" does not support user namespaces/.test(String(e)));
  const f = runtimeFeaturesFrom({ runtime_handlers: [{ name: 'runc', features: { user_namespaces: false, recursive_read_only_mounts: true } }, { name: '', features: { user_namespaces: true, recursive_read_only_mounts: true } }], features: null });
  assert.throws(() => userNamespaceFor(pod(false), 'kata', f), /the handler "kata" is not known/);
  assert.throws(() => userNamespaceFor(pod(false), 'runc', f), /RuntimeClass handler "runc" does not support user namespaces/);
  assert.throws(() => userNamespaceFor(pod(false), '', f), /not supported by tskubelet yet/);
});

void test('RuntimeFeatures: refreshed on demand, reused for a minute, the last answer kept when the runtime fails', async () => {
  const clock = new FakeClock(0);
  let calls = 0;
  let fail = false;
  const rf = new RuntimeFeatures({
    clock, logger: silentLogger,
    status: async () => {
      calls++;
      if (fail) throw new Error('down');
      return { runtime_handlers: [], features: { supplemental_groups_policy: true } };
    },
  });
  assert.deepEqual(rf.current(), NO_RUNTIME_FEATURES);
  assert.equal((await rf.get()).supplementalGroupsPolicy, true);
  await rf.get();
  assert.equal(calls, 1);
  clock.advance(61_000);
  fail = true;
  assert.equal((await rf.get()).supplementalGroupsPolicy, true);
  assert.equal(calls, 2);
});

function fakeClient(objects: Record<string, unknown>, calls: string[]): KubeClient {
  return {
    server: 'https://x',
    request: async <T>(_m: string, path: string): Promise<T> => {
      calls.push(path);
      if (path.endsWith('/broken')) throw new KubeApiError('Transient', 500, 'InternalError', 'boom');
      const name = path.split('/').pop() ?? '';
      if (!(name in objects)) throw new KubeApiError('NotFound', 404, 'NotFound', 'not found');
      return objects[name] as T;
    },
    watch: async () => undefined,
    reload: async () => undefined,
    close: () => undefined,
  };
}

void test('RuntimeClass: the handler from node.k8s.io/v1, upstream NotFound for an unknown class, cached for 30 s', async () => {
  const calls: string[] = [];
  const clock = new FakeClock(0);
  const rc = new ApiRuntimeClasses({ client: fakeClient({ gvisor: { handler: 'runsc' } }, calls), clock });
  assert.equal(await rc.lookupRuntimeHandler(undefined), '');
  assert.equal(await rc.lookupRuntimeHandler(''), '');
  assert.equal(await rc.lookupRuntimeHandler('gvisor'), 'runsc');
  assert.equal(await rc.lookupRuntimeHandler('gvisor'), 'runsc');
  assert.deepEqual(calls, ['/apis/node.k8s.io/v1/runtimeclasses/gvisor']);
  await assert.rejects(rc.lookupRuntimeHandler('x'), (e) => isNotFound(e) && (e as Error).message === 'runtimeclass.node.k8s.io "x" not found');
  await assert.rejects(rc.lookupRuntimeHandler('broken'), /failed to lookup RuntimeClass broken: boom/);
  await assert.rejects(STANDALONE_RUNTIME_CLASSES.lookupRuntimeHandler('gvisor'), (e) => isUnsupported(e) && /without an API server/.test(String(e)));
  assert.equal(await STANDALONE_RUNTIME_CLASSES.lookupRuntimeHandler(undefined), '');
});

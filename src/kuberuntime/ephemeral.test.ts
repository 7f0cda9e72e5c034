import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerConfig } from '../cri/types.ts';
import type { ContainerRuntimeStatus, PodRuntimeState } from '../pleg/runtime-state.ts';
import { ContainerStartError } from './errors.ts';
import { applyEphemeralContainerConfig, ephemeralContainerSpec, ephemeralTargetId } from './ephemeral.ts';
import { ANNOTATION_CONTAINER_TYPE } from './labels.ts';

const ctr = (name: string, id: string, s: ContainerRuntimeStatus['state']): ContainerRuntimeStatus => ({
  id, name, sandboxId: 's', attempt: 0, state: s, createdAtMs: 1, startedAtMs: 1, finishedAtMs: 0, exitCode: 0, reason: '', message: '',
  image: 'busybox', imageRef: 'sha256:x', hash: 'h', restartCount: 0, terminationMessagePath: '', gracePeriodSeconds: null,
});
const state = (containers: ContainerRuntimeStatus[]): PodRuntimeState => ({ uid: 'u', name: 'p', namespace: 'ns', sandboxes: [], containers });
const config = (pid: 'POD' | 'CONTAINER' | 'NODE'): ContainerConfig => ({
  annotations: { [ANNOTATION_CONTAINER_TYPE]: 'regular', other: 'x' },
  linux: { security_context: { namespace_options: { network: 'POD', pid, ipc: 'POD' } } },
});

void test('the spec of an ephemeral container is its common part', () => {
  assert.deepEqual(ephemeralContainerSpec({ name: 'd', image: 'busybox', targetContainerName: 'main', stdin: true }), { name: 'd', image: 'busybox', stdin: true });
});

void test('the target must run; its ID is the namespace target', () => {
  assert.equal(ephemeralTargetId({ name: 'd' }, state([])), null, 'no target');
  assert.equal(ephemeralTargetId({ name: 'd', targetContainerName: 'main' }, state([ctr('main', 'c1', 'running')])), 'c1');
  for (const s of [state([]), state([ctr('main', 'c1', 'exited')])]) {
    assert.throws(() => ephemeralTargetId({ name: 'd', targetContainerName: 'main' }, s), (e: ContainerStartError) => e.reason === 'CreateContainerConfigError' && e.message === 'unable to find target container main');
  }
});

void test('TARGET pid namespace only where the pod gives each container its own', () => {
  const own = config('CONTAINER');
  applyEphemeralContainerConfig(own, 'c1');
  assert.deepEqual(own.linux?.security_context?.namespace_options, { network: 'POD', pid: 'TARGET', ipc: 'POD', target_id: 'c1' });
  assert.deepEqual(own.annotations, { [ANNOTATION_CONTAINER_TYPE]: 'ephemeral', other: 'x' });
  for (const pid of ['POD', 'NODE'] as const) {
    const shared = config(pid);
    applyEphemeralContainerConfig(shared, 'c1');
    assert.equal(shared.linux?.security_context?.namespace_options?.pid, pid);
    assert.equal(shared.linux?.security_context?.namespace_options?.target_id, undefined);
  }
  const noTarget = config('CONTAINER');
  applyEphemeralContainerConfig(noTarget, null);
  assert.equal(noTarget.linux?.security_context?.namespace_options?.pid, 'CONTAINER');
});

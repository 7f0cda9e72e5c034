import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../kube/types.ts';
import { isInvalidInput } from '../common/errors.ts';
import {
  computePodQOS,
  effectiveRequests,
  getPodQOS,
  hasPodLevelResources,
  isCriticalPod,
  isMirrorPod,
  isNodeCriticalPod,
  isStaticPod,
} from './qos.ts';

type List = Record<string, string>;
const ctr = (name: string, requests?: List, limits?: List): Container => ({ name, resources: { requests, limits } });
const pod = (containers: Container[], initContainers: Container[] = []): Pod => ({ spec: { containers, initContainers } });
const both = (cpu: string, memory: string): List => ({ cpu, memory });

test('effectiveRequests defaults missing requests to limits', () => {
  assert.deepEqual(effectiveRequests(undefined), {});
  assert.deepEqual(effectiveRequests({ limits: both('1', '1Gi'), requests: { cpu: '500m' } }), { cpu: '500m', memory: '1Gi' });
});

test('BestEffort: nothing requested or limited', () => {
  assert.equal(computePodQOS(pod([ctr('a')])), 'BestEffort');
  assert.equal(computePodQOS(pod([ctr('a'), ctr('b')])), 'BestEffort');
  assert.equal(computePodQOS({}), 'BestEffort');
});

test('BestEffort: zero quantities and non-QoS resources do not count', () => {
  assert.equal(computePodQOS(pod([ctr('a', both('0', '0'))])), 'BestEffort');
  assert.equal(computePodQOS(pod([ctr('a', { 'nvidia.com/gpu': '1' }, { 'nvidia.com/gpu': '1', 'ephemeral-storage': '1Gi' })])), 'BestEffort');
});

test('Guaranteed: cpu and memory limits equal requests in every container', () => {
  assert.equal(computePodQOS(pod([ctr('a', both('100m', '100Mi'), both('100m', '100Mi'))])), 'Guaranteed');
  assert.equal(computePodQOS(pod([ctr('a', both('1', '1Gi'), both('1000m', '1024Mi')), ctr('b', both('2', '2G'), both('2', '2G'))])), 'Guaranteed');
});

test('Guaranteed: requests default to limits', () => {
  assert.equal(computePodQOS(pod([ctr('a', undefined, both('1', '1Gi'))])), 'Guaranteed');
  assert.equal(computePodQOS(pod([ctr('a', { cpu: '1' }, both('1', '1Gi'))])), 'Guaranteed');
});

test('Guaranteed: extra non-QoS resources are ignored', () => {
  const lim = { ...both('1', '1Gi'), 'nvidia.com/gpu': '2' };
  assert.equal(computePodQOS(pod([ctr('a', { ...both('1', '1Gi'), 'nvidia.com/gpu': '1' }, lim)])), 'Guaranteed');
});

test('Guaranteed: init containers count like regular ones', () => {
  const g = ctr('g', both('1', '1Gi'), both('1', '1Gi'));
  assert.equal(computePodQOS(pod([g], [ctr('init', both('1', '1Gi'), both('1', '1Gi'))])), 'Guaranteed');
  assert.equal(computePodQOS(pod([g], [ctr('init')])), 'Burstable');
  assert.equal(computePodQOS(pod([ctr('a')], [ctr('init', { cpu: '1' })])), 'Burstable');
});

test('Burstable cases', () => {
  const g = ctr('g', both('1', '1Gi'), both('1', '1Gi'));
  assert.equal(computePodQOS(pod([ctr('a', both('100m', '100Mi'), both('200m', '100Mi'))])), 'Burstable');
  assert.equal(computePodQOS(pod([ctr('a', { cpu: '1' }, { cpu: '1' })])), 'Burstable'); // no memory limit
  assert.equal(computePodQOS(pod([ctr('a', { memory: '1Gi' })])), 'Burstable');
  assert.equal(computePodQOS(pod([g, ctr('b')])), 'Burstable');
  assert.equal(computePodQOS(pod([ctr('a', both('1', '1Gi'), { cpu: '1', memory: '0' })])), 'Burstable'); // zero limit
  assert.equal(computePodQOS(pod([ctr('a', undefined, { cpu: '1', memory: '1Gi' }), ctr('b', { cpu: '1' })])), 'Burstable');
});

test('Guaranteed compares the sums, exactly (upstream quirk kept)', () => {
  // Per container requests differ from limits, but the sums agree: 0.1 + 0.2 == 0.15 + 0.15.
  const a = ctr('a', both('0.1', '1Gi'), both('0.15', '1Gi'));
  const b = ctr('b', both('0.2', '1Gi'), both('0.15', '1Gi'));
  assert.equal(computePodQOS(pod([a, b])), 'Guaranteed');
});

test('pod-level resources decide alone when set', () => {
  const containers = [ctr('a'), ctr('b', { cpu: '1' })];
  const withPodLevel = (requests?: List, limits?: List): Pod => ({ spec: { containers, resources: { requests, limits } } });
  assert.equal(computePodQOS(withPodLevel(undefined, both('2', '2Gi'))), 'Guaranteed');
  assert.equal(computePodQOS(withPodLevel(both('1', '1Gi'), both('2', '2Gi'))), 'Burstable');
  assert.equal(computePodQOS(withPodLevel({ cpu: '1' })), 'Burstable');
  assert.equal(computePodQOS(withPodLevel(undefined, { cpu: '2' })), 'Burstable');
  // Only non-QoS resources at pod level: containers decide.
  assert.equal(hasPodLevelResources(withPodLevel({ 'hugepages-2Mi': '2Mi' })), false);
  assert.equal(computePodQOS(withPodLevel({ 'hugepages-2Mi': '2Mi' })), 'Burstable');
});

test('getPodQOS prefers status.qosClass', () => {
  const p: Pod = { ...pod([ctr('a')]), status: { qosClass: 'Guaranteed' } };
  assert.equal(getPodQOS(p), 'Guaranteed');
  assert.equal(getPodQOS({ ...p, status: {} }), 'BestEffort');
  assert.equal(getPodQOS({ ...p, status: { qosClass: 'Bogus' } }), 'BestEffort');
});

test('a bad quantity is InvalidInput', () => {
  assert.throws(() => computePodQOS(pod([ctr('a', { cpu: 'lots' })])), isInvalidInput);
});

test('critical pods', () => {
  const withMeta = (annotations: List, priority?: number, priorityClassName?: string): Pod => ({
    metadata: { annotations },
    spec: { containers: [], priority, priorityClassName },
  });
  assert.equal(isStaticPod(withMeta({ 'kubernetes.io/config.source': 'file' })), true);
  assert.equal(isStaticPod(withMeta({ 'kubernetes.io/config.source': 'api' })), false);
  assert.equal(isStaticPod(withMeta({})), false);
  assert.equal(isMirrorPod(withMeta({ 'kubernetes.io/config.mirror': 'abc' })), true);
  assert.equal(isCriticalPod(withMeta({}, 2_000_000_000)), true);
  assert.equal(isCriticalPod(withMeta({}, 1_999_999_999)), false);
  assert.equal(isCriticalPod(withMeta({ 'kubernetes.io/config.source': 'http' })), true);
  assert.equal(isNodeCriticalPod(withMeta({ 'kubernetes.io/config.source': 'file' }, undefined, 'system-node-critical')), true);
  assert.equal(isNodeCriticalPod(withMeta({}, 2_000_001_000, 'system-node-critical')), true);
  assert.equal(isNodeCriticalPod(withMeta({ 'kubernetes.io/config.source': 'file' }, undefined, 'system-cluster-critical')), false);
  assert.equal(isNodeCriticalPod(withMeta({}, 0, 'system-node-critical')), false);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MACHINE } from './test-util.ts';
import {
  aggregateErrors,
  buildNode,
  formatTime,
  KUBELET_VERSION,
  nodeStatus,
  nodeStatusHasChanged,
  nodeStatusPatch,
  reconcileExistingNode,
  updateNode,
  type NodeParams,
  type NodeStatusInputs,
} from './node-object.ts';
import { applyStrategicMerge } from './fake-api.test-util.ts';
import type { Node, NodeCondition } from './types.ts';

const T0 = Date.parse('2025-01-02T03:04:05.678Z');


const PARAMS: NodeParams = { nodeName: 'n1', hostname: 'n1', nodeLabels: {}, registerWithTaints: [] };

function inputs(over: Partial<NodeStatusInputs> = {}): NodeStatusInputs {
  return {
    nowMs: T0,
    machine: MACHINE,
    maxPods: 110,
    kubeletPort: 10250,
    addresses: [
      { type: 'InternalIP', address: '192.0.2.2' },
      { type: 'Hostname', address: 'n1' },
    ],
    runtime: { type: 'containerd', version: 'v1.7.24' },
    readyErrors: [],
    ...over,
  };
}

const cond = (node: Node | { conditions?: NodeCondition[] }, type: string): NodeCondition => {
  const list = 'metadata' in node ? node.status?.conditions : node.conditions;
  const c = list?.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  return c;
};

test('buildNode: upstream default labels, --node-labels over them, taints, attach/detach annotation', () => {
  const node = buildNode(
    { ...PARAMS, nodeLabels: { 'example.com/role': 'test', 'kubernetes.io/arch': 'override' }, registerWithTaints: [{ key: 'k', value: '', effect: 'NoSchedule' }, { key: 'a', value: 'b', effect: 'NoExecute' }] },
    inputs(),
  );
  assert.equal(node.metadata.name, 'n1');
  assert.deepEqual(node.metadata.labels, {
    'kubernetes.io/hostname': 'n1',
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'override',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
    'example.com/role': 'test',
  });
  assert.deepEqual(node.spec?.taints, [
    { key: 'k', effect: 'NoSchedule' },
    { key: 'a', value: 'b', effect: 'NoExecute' },
  ]);
  assert.deepEqual(node.metadata.annotations, { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' });
  // no not-ready taint: the API server's TaintNodesByCondition admission adds it
  assert.equal(buildNode(PARAMS, inputs()).spec?.taints, undefined);
});

test('buildNode: registering unschedulable adds the unschedulable taint once', () => {
  const node = buildNode({ ...PARAMS, registerSchedulable: false }, inputs());
  assert.equal(node.spec?.unschedulable, true);
  assert.deepEqual(node.spec?.taints, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]);
});

test('status: capacity and allocatable (100Mi memory and 10% nodefs reserved, huge pages)', () => {
  const s = nodeStatus(undefined, inputs());
  assert.deepEqual(s.capacity, {
    cpu: '2',
    memory: '24684084Ki',
    'hugepages-2Mi': '0',
    'hugepages-1Gi': '0',
    pods: '110',
    'ephemeral-storage': '100Gi',
  });
  // memory: 25276502016 − 104857600; storage: 107374182400 − int(107374182400 × float32(0.1))
  assert.deepEqual(s.allocatable, {
    cpu: '2',
    memory: '24581684Ki',
    'hugepages-2Mi': '0',
    'hugepages-1Gi': '0',
    pods: '110',
    'ephemeral-storage': '96636764000',
  });
  const withHuge = nodeStatus(undefined, inputs({ machine: { ...MACHINE, hugePages: [{ pageSizeKiB: 2048, numPages: 512 }] } }));
  assert.equal(withHuge.capacity?.['hugepages-2Mi'], '1Gi');
  assert.equal(withHuge.allocatable?.memory, `${24_581_684 - 1024 * 1024}Ki`);
});

test('status: allocatable takes out kubeReserved, systemReserved and the configured hard eviction thresholds', () => {
  const s = nodeStatus(undefined, inputs({
    allocatable: {
      kubeReserved: { cpu: '100m', memory: '1Gi' },
      systemReserved: { cpu: '150m', 'ephemeral-storage': '10Gi' },
      evictionHard: { 'memory.available': '500Mi', 'nodefs.available': '5Gi' },
      mergeDefaultEvictionSettings: false,
    },
  }));
  assert.equal(s.allocatable?.cpu, '1750m');
  assert.equal(s.allocatable?.memory, `${24_684_084 - 1024 * 1024 - 500 * 1024}Ki`);
  assert.equal(s.allocatable?.['ephemeral-storage'], '85Gi');
  assert.equal(s.allocatable?.pods, '110');
});

test('status: nodeInfo, addresses, daemon endpoints', () => {
  const s = nodeStatus(undefined, inputs());
  assert.deepEqual(s.nodeInfo, {
    machineID: 'mid',
    systemUUID: '',
    bootID: 'boot-1',
    kernelVersion: '6.1.0-test',
    osImage: 'Debian GNU/Linux 12 (bookworm)',
    containerRuntimeVersion: 'containerd://v1.7.24',
    kubeletVersion: KUBELET_VERSION,
    kubeProxyVersion: '',
    operatingSystem: 'linux',
    architecture: 'amd64',
  });
  assert.match(KUBELET_VERSION, /^v1\.34\.2\+tskubelet$/);
  assert.deepEqual(s.addresses, [
    { type: 'InternalIP', address: '192.0.2.2' },
    { type: 'Hostname', address: 'n1' },
  ]);
  assert.deepEqual(s.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
  assert.equal(nodeStatus(undefined, inputs({ runtime: { type: 'containerd', version: '' } })).nodeInfo?.containerRuntimeVersion, 'containerd://Unknown');
});

test('status: conditions of a healthy new node, Ready last, with upstream reasons', () => {
  const s = nodeStatus(undefined, inputs());
  const now = formatTime(T0);
  assert.equal(now, '2025-01-02T03:04:05Z');
  assert.deepEqual(s.conditions, [
    { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
  ]);
});

test('conditions: heartbeat moves, lastTransitionTime holds while the status holds, and moves on a flip', () => {
  const s0 = nodeStatus(undefined, inputs());
  const s1 = nodeStatus(s0, inputs({ nowMs: T0 + 10_000 }));
  assert.equal(cond(s1, 'Ready').lastHeartbeatTime, formatTime(T0 + 10_000));
  assert.equal(cond(s1, 'Ready').lastTransitionTime, formatTime(T0));
  assert.equal(cond(s1, 'MemoryPressure').lastTransitionTime, formatTime(T0));
  assert.equal(nodeStatusHasChanged(s0, s1), false, 'heartbeat only');

  const s2 = nodeStatus(s1, inputs({ nowMs: T0 + 20_000, readyErrors: ['container runtime is down'] }));
  assert.deepEqual({ ...cond(s2, 'Ready') }, {
    type: 'Ready',
    status: 'False',
    reason: 'KubeletNotReady',
    message: 'container runtime is down',
    lastHeartbeatTime: formatTime(T0 + 20_000),
    lastTransitionTime: formatTime(T0 + 20_000),
  });
  assert.equal(nodeStatusHasChanged(s1, s2), true);
  // a different message with the same status keeps the transition time, but is a change
  const s3 = nodeStatus(s2, inputs({ nowMs: T0 + 30_000, readyErrors: ['container runtime is down', 'PLEG is not healthy: pleg was last seen active 200s ago; threshold is 180s'] }));
  assert.equal(cond(s3, 'Ready').message, '[container runtime is down, PLEG is not healthy: pleg was last seen active 200s ago; threshold is 180s]');
  assert.equal(cond(s3, 'Ready').lastTransitionTime, formatTime(T0 + 20_000));
  assert.equal(nodeStatusHasChanged(s2, s3), true);
  const s4 = nodeStatus(s3, inputs({ nowMs: T0 + 40_000 }));
  assert.equal(cond(s4, 'Ready').status, 'True');
  assert.equal(cond(s4, 'Ready').lastTransitionTime, formatTime(T0 + 40_000));
});

test('conditions: pressure flips to True with upstream reasons', () => {
  const s0 = nodeStatus(undefined, inputs());
  const s1 = nodeStatus(s0, inputs({ nowMs: T0 + 10_000, pressure: { memory: true, disk: true, pid: true } }));
  assert.deepEqual([cond(s1, 'MemoryPressure').reason, cond(s1, 'DiskPressure').reason, cond(s1, 'PIDPressure').reason], ['KubeletHasInsufficientMemory', 'KubeletHasDiskPressure', 'KubeletHasInsufficientPID']);
  assert.equal(cond(s1, 'DiskPressure').message, 'kubelet has disk pressure');
  assert.equal(cond(s1, 'PIDPressure').lastTransitionTime, formatTime(T0 + 10_000));
});

test('Ready is False when a required capacity is missing', () => {
  const s = nodeStatus(undefined, inputs({ machine: { ...MACHINE, ephemeralStorageCapacityBytes: undefined } }));
  assert.equal(cond(s, 'Ready').status, 'False');
  assert.equal(cond(s, 'Ready').message, 'missing node capacity for resources: ephemeral-storage');
});

test('aggregateErrors: upstream utilerrors format', () => {
  assert.equal(aggregateErrors([]), '');
  assert.equal(aggregateErrors(['a']), 'a');
  assert.equal(aggregateErrors(['a', 'b', 'a']), '[a, b]');
});

test('change detection: quantities compare by value, omitted zero values equal empty ones, other conditions kept', () => {
  const s0 = nodeStatus(undefined, inputs());
  const fromServer = structuredClone(s0);
  fromServer.capacity!.memory = `${24_684_084 * 1024}`; // same value, other spelling
  fromServer.nodeInfo!.kubeProxyVersion = undefined; // the server may omit empty strings
  fromServer.conditions!.push({ type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated' });
  const { node, changed } = updateNode({ metadata: { name: 'n1', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } }, status: fromServer }, inputs({ nowMs: T0 + 10_000 }));
  assert.equal(changed, false);
  assert.equal(node.status?.conditions?.length, 5, 'a condition owned by someone else is kept');
});

test('updateNode: a removed os/arch label is restored and counts as a change', () => {
  const original: Node = { metadata: { name: 'n1', labels: { 'kubernetes.io/os': 'linux' } }, status: nodeStatus(undefined, inputs()) };
  const { node, changed } = updateNode(original, inputs({ nowMs: T0 + 10_000 }));
  assert.equal(changed, true);
  assert.equal(node.metadata.labels?.['kubernetes.io/arch'], 'amd64');
  assert.deepEqual(nodeStatusPatch(original, node).metadata, { labels: { 'kubernetes.io/arch': 'amd64' } });
});

test('nodeStatusPatch: only what changed; conditions merged by type; addresses replaced; applying it gives the new node', () => {
  const original = buildNode(PARAMS, inputs());
  const { node: next } = updateNode(original, inputs({ nowMs: T0 + 10_000, addresses: [{ type: 'InternalIP', address: '192.0.2.9' }, { type: 'Hostname', address: 'n1' }] }));
  const patch = nodeStatusPatch(original, next) as { status: Record<string, unknown>; metadata?: unknown };
  assert.equal(patch.metadata, undefined);
  assert.deepEqual(Object.keys(patch.status).sort(), ['addresses', 'conditions']);
  assert.deepEqual(patch.status.addresses, [{ type: 'InternalIP', address: '192.0.2.9' }, { type: 'Hostname', address: 'n1' }, { $patch: 'replace' }]);
  assert.equal((patch.status.conditions as unknown[]).length, 4, 'every heartbeat moved');
  assert.deepEqual(applyStrategicMerge(original, patch), next);
  assert.deepEqual(nodeStatusPatch(next, next), {});
});

test('nodeStatusPatch: a removed map key is sent as null', () => {
  const a: Node = { metadata: { name: 'n' }, status: { capacity: { cpu: '2', 'hugepages-1Gi': '0' } } };
  const b: Node = { metadata: { name: 'n' }, status: { capacity: { cpu: '2' } } };
  assert.deepEqual(nodeStatusPatch(a, b), { status: { capacity: { 'hugepages-1Gi': null } } });
});

test('reconcileExistingNode: default labels re-asserted, other labels and taints untouched', () => {
  const initial = buildNode({ ...PARAMS, nodeLabels: { 'example.com/x': 'new' } }, inputs());
  const existing: Node = structuredClone(initial);
  existing.metadata.labels = { 'kubernetes.io/hostname': 'old', 'example.com/x': 'old', 'custom/y': 'kept' };
  existing.spec = { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] };
  const { node, changed } = reconcileExistingNode(initial, existing);
  assert.equal(changed, true);
  assert.deepEqual(node.metadata.labels, {
    'kubernetes.io/hostname': 'n1',
    'example.com/x': 'old', // not a default label: upstream leaves it
    'custom/y': 'kept',
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
  });
  assert.deepEqual(node.spec?.taints, existing.spec.taints);
  assert.equal(reconcileExistingNode(initial, node).changed, false, 'idempotent');
});

test('reconcileExistingNode: extended resources zeroed, huge page sizes updated and removed, missing lists filled', () => {
  const initial = buildNode(PARAMS, inputs({ machine: { ...MACHINE, hugePages: [{ pageSizeKiB: 2048, numPages: 2 }] } }));
  const existing: Node = {
    metadata: { name: 'n1', labels: { ...initial.metadata.labels }, annotations: { ...initial.metadata.annotations } },
    status: {
      capacity: { cpu: '2', 'example.com/gpu': '4', 'hugepages-2Mi': '0', 'hugepages-1Gi': '1Gi' },
      allocatable: { cpu: '2', 'example.com/gpu': '4', 'hugepages-2Mi': '0', 'hugepages-1Gi': '1Gi' },
    },
  };
  const { node, changed } = reconcileExistingNode(initial, existing);
  assert.equal(changed, true);
  assert.deepEqual(node.status?.capacity, { cpu: '2', 'example.com/gpu': '0', 'hugepages-2Mi': '4Mi' });
  assert.deepEqual(node.status?.allocatable, { cpu: '2', 'example.com/gpu': '0', 'hugepages-2Mi': '4Mi' });
  const bare = reconcileExistingNode(initial, { metadata: { name: 'n1', labels: { ...initial.metadata.labels }, annotations: { ...initial.metadata.annotations } } });
  assert.equal(bare.changed, true);
  assert.deepEqual(bare.node.status?.capacity, initial.status?.capacity);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { applyPodDefaults, defaultImagePullPolicy } from './defaults.ts';

test('defaultImagePullPolicy: latest or untagged → Always, tagged or digest → IfNotPresent', () => {
  const cases: [string, string][] = [
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['busybox:1.36', 'IfNotPresent'],
    ['127.0.0.1:5000/busybox', 'Always'],
    ['127.0.0.1:5000/busybox:1.36', 'IfNotPresent'],
    ['127.0.0.1:5000/busybox:latest', 'Always'],
    ['registry.example:443/team/app', 'Always'],
    ['busybox@sha256:' + 'a'.repeat(64), 'IfNotPresent'],
    ['127.0.0.1:5000/busybox@sha256:' + 'a'.repeat(64), 'IfNotPresent'],
    ['busybox:1.36@sha256:' + 'a'.repeat(64), 'IfNotPresent'],
    // As upstream: the tag decides, even with a digest.
    ['busybox:latest@sha256:' + 'a'.repeat(64), 'Always'],
  ];
  for (const [image, want] of cases) assert.equal(defaultImagePullPolicy(image), want, image);
});

const minimal = (): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
});

test('applyPodDefaults: pod-level defaults, without mutating the input', () => {
  const input = minimal();
  const before = structuredClone(input);
  const pod = applyPodDefaults(input);
  assert.deepEqual(input, before);
  assert.equal(pod.metadata?.namespace, 'default');
  assert.equal(pod.spec?.restartPolicy, 'Always');
  assert.equal(pod.spec?.terminationGracePeriodSeconds, 30);
  assert.equal(pod.spec?.dnsPolicy, 'ClusterFirst');
  assert.equal(pod.spec?.schedulerName, 'default-scheduler');
  assert.deepEqual(pod.spec?.securityContext, {});
  assert.equal(pod.spec?.enableServiceLinks, true);
  const c = pod.spec?.containers[0];
  assert.equal(c?.imagePullPolicy, 'IfNotPresent');
  assert.equal(c?.terminationMessagePath, '/dev/termination-log');
  assert.equal(c?.terminationMessagePolicy, 'File');
  assert.deepEqual(applyPodDefaults(pod), pod, 'idempotent');
});

test('applyPodDefaults: explicit values are kept, zero grace period included', () => {
  const input = minimal();
  input.metadata = { name: 'p', namespace: 'kube-system' };
  input.spec = {
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 0,
    enableServiceLinks: false,
    containers: [{ name: 'c', image: 'busybox', imagePullPolicy: 'Never' }],
  };
  const pod = applyPodDefaults(input);
  assert.equal(pod.metadata?.namespace, 'kube-system');
  assert.equal(pod.spec?.restartPolicy, 'Never');
  assert.equal(pod.spec?.terminationGracePeriodSeconds, 0);
  assert.equal(pod.spec?.enableServiceLinks, false);
  assert.equal(pod.spec?.containers[0]?.imagePullPolicy, 'Never');
});

test('applyPodDefaults: ports, env fieldRef, resources, probes, volumes, init containers', () => {
  const input = minimal();
  input.spec = {
    hostNetwork: true,
    initContainers: [{ name: 'i', image: 'busybox' }],
    containers: [
      {
        name: 'c',
        image: 'busybox:1.36',
        ports: [{ containerPort: 8080 }, { containerPort: 53, protocol: 'UDP', hostPort: 53 }],
        env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        resources: { limits: { cpu: 1 as unknown as string, memory: '64Mi' }, requests: { cpu: '100m' } },
        livenessProbe: { httpGet: { port: 8080 } },
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 },
      },
    ],
    volumes: [{ name: 'scratch' }, { name: 'host', hostPath: { path: '/tmp' } }],
  };
  const pod = applyPodDefaults(input);
  const c = pod.spec?.containers[0];
  assert.equal(pod.spec?.initContainers?.[0]?.imagePullPolicy, 'Always');
  assert.deepEqual(c?.ports, [
    { containerPort: 8080, protocol: 'TCP', hostPort: 8080 },
    { containerPort: 53, protocol: 'UDP', hostPort: 53 },
  ]);
  assert.equal(c?.env?.[0]?.valueFrom?.fieldRef?.apiVersion, 'v1');
  assert.deepEqual(c?.resources, { limits: { cpu: '1', memory: '64Mi' }, requests: { cpu: '100m', memory: '64Mi' } });
  assert.deepEqual(c?.livenessProbe, {
    httpGet: { port: 8080, path: '/', scheme: 'HTTP' },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.equal(c?.readinessProbe?.periodSeconds, 5);
  assert.deepEqual(pod.spec?.volumes, [
    { name: 'scratch', emptyDir: {} },
    { name: 'host', hostPath: { path: '/tmp', type: '' } },
  ]);
});

test('applyPodDefaults: requests default to limits only when only limits are set', () => {
  const input = minimal();
  input.spec = { containers: [{ name: 'c', image: 'x', resources: { limits: { memory: '1Gi' } } }] };
  assert.deepEqual(applyPodDefaults(input).spec?.containers[0]?.resources, { limits: { memory: '1Gi' }, requests: { memory: '1Gi' } });
  input.spec = { containers: [{ name: 'c', image: 'x', resources: { requests: { memory: '1Gi' } } }] };
  assert.deepEqual(applyPodDefaults(input).spec?.containers[0]?.resources, { requests: { memory: '1Gi' } });
});

test('applyPodDefaults: tolerates fields of the wrong type (left for validation)', () => {
  const input = { apiVersion: 'v1', kind: 'Pod', metadata: 'x', spec: { containers: 'nope', volumes: 3 } } as unknown as Pod;
  assert.doesNotThrow(() => applyPodDefaults(input));
});

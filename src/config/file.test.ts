import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import { parseKubeletConfigFile } from './file.ts';

const HEADER = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n';

const rejects = (text: string, message: string | RegExp): void => {
  assert.throws(() => parseKubeletConfigFile(text), (err: unknown) => {
    assert.ok(isInvalidInput(err), String(err));
    if (typeof message === 'string') assert.equal((err as Error).message, message);
    else assert.match((err as Error).message, message);
    return true;
  });
};

void test('reads implemented fields with their types', () => {
  const { values, passThrough } = parseKubeletConfigFile(`${HEADER}
staticPodPath: /etc/kubernetes/manifests
fileCheckFrequency: 5s
syncFrequency: 1m30s
runtimeRequestTimeout: 500ms
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
healthzPort: 0
healthzBindAddress: 0.0.0.0
readOnlyPort: 10255
cgroupDriver: systemd
cgroupsPerQOS: false
maxPods: 50
podPidsLimit: 4096
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
containerLogMaxSize: 50Mi
containerLogMaxFiles: 3
registerNode: false
registerWithTaints:
  - key: dedicated
    value: gpu
    effect: NoSchedule
  - key: spot
    effect: NoExecute
logging:
  format: text
  verbosity: 4
`);
  assert.deepEqual(values, {
    staticPodPath: '/etc/kubernetes/manifests',
    fileCheckFrequencyMs: 5000,
    syncFrequencyMs: 90_000,
    runtimeRequestTimeoutMs: 500,
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    healthzPort: 0,
    healthzBindAddress: '0.0.0.0',
    readOnlyPort: 10255,
    cgroupDriver: 'systemd',
    cgroupsPerQOS: false,
    maxPods: 50,
    podPidsLimit: 4096,
    clusterDNS: ['10.96.0.10'],
    clusterDomain: 'cluster.local',
    containerLogMaxSize: '50Mi',
    containerLogMaxFiles: 3,
    registerNode: false,
    registerWithTaints: [
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'spot', value: '', effect: 'NoExecute' },
    ],
    verbosity: 4,
  });
  assert.deepEqual(passThrough, { logging: { format: 'text' } });
});

void test('header only: nothing set', () => {
  assert.deepEqual(parseKubeletConfigFile(HEADER), { values: {}, passThrough: {} });
});

void test('null values count as unset', () => {
  assert.deepEqual(parseKubeletConfigFile(`${HEADER}maxPods: null\nfailSwapOn:\n`).values, {});
});

void test('keeps valid upstream fields it does not implement, for /configz', () => {
  const { values, passThrough } = parseKubeletConfigFile(`${HEADER}
failSwapOn: false
rotateCertificates: true
nodeStatusUpdateFrequency: 10s
memoryThrottlingFactor: 0.9
providerID: kind://docker/n1
`);
  assert.deepEqual(values, {});
  assert.deepEqual(passThrough, {
    failSwapOn: false,
    rotateCertificates: true,
    nodeStatusUpdateFrequency: '10s',
    memoryThrottlingFactor: 0.9,
    providerID: 'kind://docker/n1',
  });
});

void test('qosReserved and featureGates are settings: a map of strings and a map of booleans', () => {
  assert.deepEqual(parseKubeletConfigFile(`${HEADER}qosReserved: {memory: 50%}\nfeatureGates: {QOSReserved: true, SidecarContainers: true}\n`).values, {
    qosReserved: { memory: '50%' },
    featureGates: { QOSReserved: true, SidecarContainers: true },
  });
  rejects(`${HEADER}qosReserved: [a]\n`, /field "qosReserved": must be a map of memory .* got \["a"\]/);
  rejects(`${HEADER}qosReserved: {memory: 50}\n`, /field "qosReserved": must be a map of memory/);
  rejects(`${HEADER}featureGates: {QOSReserved: "true"}\n`, /field "featureGates": must be a map of feature gate names to true or false, got \{"QOSReserved":"true"\}/);
});

void test('allowedUnsafeSysctls is a setting: a list of namespaced sysctls or patterns', () => {
  assert.deepEqual(parseKubeletConfigFile(`${HEADER}allowedUnsafeSysctls: [net.core.somaxconn, 'kernel.msg*']\n`).values, { allowedUnsafeSysctls: ['net.core.somaxconn', 'kernel.msg*'] });
  rejects(`${HEADER}allowedUnsafeSysctls: net.core.somaxconn\n`, /field "allowedUnsafeSysctls"/);
});

void test('unknown fields are errors naming the field', () => {
  rejects(`${HEADER}podManifestPath: /x\n`, 'invalid KubeletConfiguration: unknown field "podManifestPath"');
  // Flag-only settings are not KubeletConfiguration fields upstream either.
  rejects(`${HEADER}rootDir: /x\n`, 'invalid KubeletConfiguration: unknown field "rootDir"');
  rejects(`${HEADER}hostnameOverride: n\n`, 'invalid KubeletConfiguration: unknown field "hostnameOverride"');
  rejects(`${HEADER}toString: 1\n`, 'invalid KubeletConfiguration: unknown field "toString"');
  rejects(`${HEADER}bogus: null\n`, 'invalid KubeletConfiguration: unknown field "bogus"');
  rejects(`${HEADER}logging: {verbose: 2}\n`, 'invalid KubeletConfiguration: unknown field "logging.verbose"');
  rejects(`${HEADER}registerWithTaints: [{key: a, effect: NoSchedule, color: red}]\n`, /field "registerWithTaints"/);
});

void test('wrong types are errors naming the field and the expectation', () => {
  rejects(`${HEADER}healthzPort: abc\n`,
    'invalid KubeletConfiguration: field "healthzPort": must be an integer between 0 and 65535, got "abc"');
  rejects(`${HEADER}healthzPort: "10248"\n`, /field "healthzPort": must be an integer between 0 and 65535, got "10248"/);
  rejects(`${HEADER}maxPods: 1.5\n`, /field "maxPods": must be a positive integer, got 1.5/);
  rejects(`${HEADER}cgroupsPerQOS: yes\n`, /field "cgroupsPerQOS": must be a boolean, got "yes"/);
  rejects(`${HEADER}cgroupDriver: sysv\n`, /field "cgroupDriver": must be one of "cgroupfs", "systemd", got "sysv"/);
  rejects(`${HEADER}clusterDNS: 10.96.0.10\n`, /field "clusterDNS": must be a list of IP addresses, got "10.96.0.10"/);
  rejects(`${HEADER}staticPodPath: 5\n`, /field "staticPodPath": must be a string, got 5/);
  rejects(`${HEADER}registerWithTaints: [{key: a, effect: Sometimes}]\n`, /field "registerWithTaints": must be taints/);
  rejects(`${HEADER}logging: {verbosity: high}\n`, /field "logging.verbosity": must be a non-negative integer, got "high"/);
  rejects(`${HEADER}logging: text\n`, /field "logging": must be a mapping/);
  rejects(`${HEADER}failSwapOn: "no"\n`, 'invalid KubeletConfiguration: field "failSwapOn": must be a boolean, got "no"');
  rejects(`${HEADER}nodeStatusUpdateFrequency: 10\n`, /field "nodeStatusUpdateFrequency": must be a duration/);
  rejects(`${HEADER}topologyManagerPolicyOptions: [a]\n`, /field "topologyManagerPolicyOptions": must be a mapping/);
  rejects(`${HEADER}evictionHard: [a]\n`, /field "evictionHard": must be a map of eviction signals/);
  rejects(`${HEADER}kubeReserved: {cpu: 1}\n`, /field "kubeReserved": must be a map of cpu, memory/);
});

void test('durations must be Go duration strings', () => {
  rejects(`${HEADER}syncFrequency: 60\n`, /field "syncFrequency": must be a duration greater than 0 such as "20s" or "1m30s", got 60/);
  rejects(`${HEADER}syncFrequency: 1 minute\n`, /field "syncFrequency": .* got "1 minute"/);
  rejects(`${HEADER}fileCheckFrequency: 20S\n`, /field "fileCheckFrequency"/);
  assert.deepEqual(parseKubeletConfigFile(`${HEADER}syncFrequency: 2h\n`).values, { syncFrequencyMs: 7_200_000 });
});

void test('header, document shape and YAML errors', () => {
  rejects('', /the document must be a mapping, got null/);
  rejects('- a\n', /the document must be a mapping/);
  rejects('kind: KubeletConfiguration\n', /field "apiVersion": must be "kubelet.config.k8s.io\/v1beta1", got nothing/);
  rejects('apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n', /field "apiVersion"/);
  rejects('apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n', /field "kind": must be "KubeletConfiguration"/);
  rejects(`${HEADER}maxPods: 1\nmaxPods: 2\n`, /malformed YAML: .*unique/i);
  rejects(`${HEADER}maxPods: [1\n`, /malformed YAML/);
  rejects(`${HEADER}---\n${HEADER}`, /malformed YAML/);
});

void test('relative paths are anchored to the config file directory', () => {
  const { values, passThrough } = parseKubeletConfigFile(
    `${HEADER}staticPodPath: manifests\nresolvConf: ''\npodLogsDir: /var/log/pods\ntlsCertFile: pki/kubelet.crt\n`,
    '/etc/kubelet/config.yaml',
  );
  assert.deepEqual(values, { staticPodPath: '/etc/kubelet/manifests', resolvConf: '', podLogsDir: '/var/log/pods', tlsCertFile: '/etc/kubelet/pki/kubelet.crt' });
  assert.deepEqual(passThrough, {});
});

void test('authentication and authorization: nested settings, unknown sub-fields are errors', () => {
  const { values } = parseKubeletConfigFile(`${HEADER}
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false, cacheTTL: 10s}
  x509: {clientCAFile: ca.crt}
authorization:
  mode: AlwaysAllow
  webhook: {cacheAuthorizedTTL: 1m, cacheUnauthorizedTTL: 5s}
`, '/etc/kubelet/config.yaml');
  assert.deepEqual(values, {
    anonymousAuthEnabled: true, authenticationWebhookEnabled: false, authenticationWebhookCacheTTLMs: 10_000,
    clientCAFile: '/etc/kubelet/ca.crt', authorizationMode: 'AlwaysAllow',
    authorizationWebhookCacheAuthorizedTTLMs: 60_000, authorizationWebhookCacheUnauthorizedTTLMs: 5_000,
  });
  assert.throws(() => parseKubeletConfigFile(`${HEADER}authentication: {x509: {clientCA: a}}\n`), /unknown field "authentication.x509.clientCA"/);
  assert.throws(() => parseKubeletConfigFile(`${HEADER}authorization: {mode: RBAC}\n`), /field "authorization.mode": must be one of "AlwaysAllow", "Webhook"/);
  assert.throws(() => parseKubeletConfigFile(`${HEADER}authentication: 3\n`), /field "authentication": must be a mapping/);
});

void test('node allocatable and eviction settings are read as maps, lists and durations', () => {
  const { values, passThrough } = parseKubeletConfigFile(`${HEADER}
kubeReserved: {cpu: 100m, memory: 256Mi}
systemReserved: {memory: 1Gi, ephemeral-storage: 1Gi}
enforceNodeAllocatable: [pods]
evictionHard: {memory.available: 200Mi, nodefs.available: 5%}
evictionSoft: {memory.available: 500Mi}
evictionSoftGracePeriod: {memory.available: 1m30s}
evictionMinimumReclaim: {memory.available: 0Mi}
evictionPressureTransitionPeriod: 30s
evictionMaxPodGracePeriod: 60
mergeDefaultEvictionSettings: true
`);
  assert.deepEqual(passThrough, {});
  assert.deepEqual(values, {
    kubeReserved: { cpu: '100m', memory: '256Mi' },
    systemReserved: { memory: '1Gi', 'ephemeral-storage': '1Gi' },
    enforceNodeAllocatable: ['pods'],
    evictionHard: { 'memory.available': '200Mi', 'nodefs.available': '5%' },
    evictionSoft: { 'memory.available': '500Mi' },
    evictionSoftGracePeriod: { 'memory.available': '1m30s' },
    evictionMinimumReclaim: { 'memory.available': '0Mi' },
    evictionPressureTransitionPeriodMs: 30_000,
    evictionMaxPodGracePeriod: 60,
    mergeDefaultEvictionSettings: true,
  });
});

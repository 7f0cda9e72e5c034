import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../kube/types.ts';
import { applyPodDefaults } from './defaults.ts';
import { isDns1123Label, isDns1123Subdomain, isEnvVarName, isIanaSvcName, validatePod } from './validation.ts';

test('name predicates', () => {
  assert.ok(isDns1123Label('web-1'));
  assert.ok(!isDns1123Label('Web'));
  assert.ok(!isDns1123Label('-web'));
  assert.ok(!isDns1123Label('a'.repeat(64)));
  assert.ok(!isDns1123Label('a.b'));
  assert.ok(isDns1123Subdomain('a.b-c.d'));
  assert.ok(!isDns1123Subdomain('a..b'));
  assert.ok(!isDns1123Subdomain('a'.repeat(254)));
  assert.ok(isIanaSvcName('http'));
  assert.ok(isIanaSvcName('h2c-8080'));
  assert.ok(!isIanaSvcName('8080'), 'needs a letter');
  assert.ok(!isIanaSvcName('a--b'));
  assert.ok(!isIanaSvcName('abcdefghijklmnop'), '16 characters');
  assert.ok(isEnvVarName('MY_VAR'));
  assert.ok(isEnvVarName('my.var-1'));
  assert.ok(!isEnvVarName('A=B'));
  assert.ok(!isEnvVarName(''));
  assert.ok(!isEnvVarName('A\nB'));
});

const valid = (): Pod =>
  applyPodDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web' },
    spec: {
      initContainers: [{ name: 'init', image: 'busybox:1.36' }, { name: 'sidecar', image: 'busybox:1.36', restartPolicy: 'Always', readinessProbe: { exec: { command: ['true'] } } }],
      containers: [
        {
          name: 'main',
          image: 'busybox:1.36',
          ports: [{ containerPort: 8080, name: 'http' }],
          env: [{ name: 'A', value: 'x' }, { name: 'N', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } }],
          resources: { requests: { cpu: '100m', memory: '16Mi' }, limits: { cpu: '1', memory: '64Mi' } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
          livenessProbe: { httpGet: { port: 'http' } },
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  });

const fields = (pod: unknown): string[] => validatePod(pod).map((e) => e.field);

test('validatePod: a full valid pod has no errors', () => {
  assert.deepEqual(validatePod(valid()), []);
});

test('validatePod: each broken field is reported by path', () => {
  const cases: [string, (p: Pod) => void][] = [
    ['metadata.name', (p) => (p.metadata!.name = 'Web')],
    ['metadata.namespace', (p) => (p.metadata!.namespace = 'a.b')],
    ['metadata.labels["app"]', (p) => (p.metadata!.labels = { app: 1 as unknown as string })],
    ['spec.containers', (p) => (p.spec!.containers = [])],
    ['spec.restartPolicy', (p) => (p.spec!.restartPolicy = 'Sometimes')],
    ['spec.terminationGracePeriodSeconds', (p) => (p.spec!.terminationGracePeriodSeconds = -1)],
    ['spec.hostNetwork', (p) => ((p.spec as unknown as Record<string, unknown>).hostNetwork = 'yes')],
    ['spec.containers[0].name', (p) => (p.spec!.containers[0]!.name = 'init')],
    ['spec.containers[0].name', (p) => (p.spec!.containers[0]!.name = 'Main')],
    ['spec.containers[0].image', (p) => (p.spec!.containers[0]!.image = '')],
    ['spec.containers[0].imagePullPolicy', (p) => (p.spec!.containers[0]!.imagePullPolicy = 'Sometimes')],
    ['spec.containers[0].restartPolicy', (p) => (p.spec!.containers[0]!.restartPolicy = 'Always')],
    ['spec.initContainers[0].restartPolicy', (p) => (p.spec!.initContainers![0]!.restartPolicy = 'OnFailure')],
    ['spec.initContainers[0].livenessProbe', (p) => (p.spec!.initContainers![0]!.livenessProbe = { exec: { command: ['true'] } })],
    ['spec.containers[0].ports[0].containerPort', (p) => (p.spec!.containers[0]!.ports![0]!.containerPort = 0)],
    ['spec.containers[0].ports[0].protocol', (p) => (p.spec!.containers[0]!.ports![0]!.protocol = 'HTTP')],
    ['spec.containers[0].ports[1].name', (p) => p.spec!.containers[0]!.ports!.push({ containerPort: 9090, name: 'http', protocol: 'TCP' })],
    ['spec.containers[0].ports[0].name', (p) => (p.spec!.containers[0]!.ports![0]!.name = 'a-very-long-port-name')],
    ['spec.containers[0].env[0].name', (p) => (p.spec!.containers[0]!.env![0]!.name = 'A=B')],
    ['spec.containers[0].env[1].valueFrom.fieldRef.fieldPath', (p) => (p.spec!.containers[0]!.env![1]!.valueFrom!.fieldRef!.fieldPath = 'spec.bogus')],
    ['spec.containers[0].resources.limits["memory"]', (p) => (p.spec!.containers[0]!.resources!.limits!.memory = '64 MB')],
    ['spec.containers[0].resources.requests["cpu"]', (p) => (p.spec!.containers[0]!.resources!.requests!.cpu = '2')],
    ['spec.containers[0].volumeMounts[0].name', (p) => (p.spec!.containers[0]!.volumeMounts![0]!.name = 'nope')],
    ['spec.containers[0].livenessProbe', (p) => (p.spec!.containers[0]!.livenessProbe = { exec: { command: ['x'] }, httpGet: { port: 80 } })],
    ['spec.containers[0].livenessProbe.successThreshold', (p) => (p.spec!.containers[0]!.livenessProbe!.successThreshold = 2)],
    ['spec.volumes[0]', (p) => (p.spec!.volumes![0] = { name: 'data', emptyDir: {}, hostPath: { path: '/x' } })],
  ];
  for (const [field, mutate] of cases) {
    const pod = valid();
    mutate(pod);
    assert.ok(fields(pod).includes(field), `${field}: got ${JSON.stringify(validatePod(pod))}`);
  }
});

test('validatePod: host ports must be unique and equal container ports on the host network', () => {
  const pod = valid();
  pod.spec!.hostNetwork = true;
  pod.spec!.containers[0]!.ports = [{ containerPort: 8080, hostPort: 9090, protocol: 'TCP' }];
  assert.ok(fields(pod).includes('spec.containers[0].ports[0].hostPort'));
  const other = valid();
  other.spec!.containers.push({ name: 'second', image: 'x', ports: [{ containerPort: 81, hostPort: 80, protocol: 'TCP' }] });
  other.spec!.containers[0]!.ports = [{ containerPort: 80, hostPort: 80, protocol: 'TCP' }];
  assert.deepEqual(fields(other), ['spec.containers[1].ports[0].hostPort']);
});

test('validatePod: not an object, wrong kind', () => {
  assert.deepEqual(fields(null), ['']);
  assert.ok(fields({ apiVersion: 'v2', kind: 'Deployment', metadata: { name: 'x', namespace: 'default' }, spec: { containers: [] } }).includes('kind'));
});

test('validatePod: hostPath types, subPath / subPathExpr and mountPropagation as upstream', () => {
  const withMount = (mount: Record<string, unknown>, privileged = false, hostPath: Record<string, unknown> = { path: '/srv/data' }): Pod => {
    const pod = valid();
    pod.spec!.volumes!.push({ name: 'host', hostPath: hostPath as { path: string } });
    const c = pod.spec!.containers[0]!;
    c.volumeMounts = [{ name: 'host', mountPath: '/host', ...mount }];
    if (privileged) c.securityContext = { privileged: true };
    return pod;
  };
  const errorsOf = (pod: Pod): string[] => validatePod(pod).map((e) => `${e.field}: ${e.message}`);
  const vm = 'spec.containers[0].volumeMounts[0]';
  assert.deepEqual(errorsOf(withMount({})), []);
  for (const type of ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']) {
    assert.deepEqual(errorsOf(withMount({}, false, { path: '/srv/data', type })), [], type);
  }
  assert.deepEqual(fields(withMount({}, false, { path: '/srv/data', type: 'Dir' })), ['spec.volumes[1].hostPath.type']);
  assert.deepEqual(fields(withMount({}, false, { path: '/srv/../etc' })), ['spec.volumes[1].hostPath.path']);
  assert.deepEqual(errorsOf(withMount({ subPath: 'a/b', mountPropagation: 'HostToContainer' })), []);
  assert.deepEqual(errorsOf(withMount({ subPathExpr: '$(POD_NAME)/logs', mountPropagation: 'None' })), []);
  assert.deepEqual(errorsOf(withMount({ subPath: '/etc' })), [`${vm}.subPath: "/etc": must be a relative path`]);
  assert.deepEqual(errorsOf(withMount({ subPath: 'a/../../etc' })), [`${vm}.subPath: "a/../../etc": must not contain '..'`]);
  assert.deepEqual(errorsOf(withMount({ subPathExpr: '../$(X)' })), [`${vm}.subPathExpr: "../$(X)": must not contain '..'`]);
  assert.deepEqual(errorsOf(withMount({ subPath: 'a', subPathExpr: 'b' })), [`${vm}.subPathExpr: subPathExpr and subPath are mutually exclusive`]);
  assert.deepEqual(fields(withMount({ mountPropagation: 'Shared' })), [`${vm}.mountPropagation`]);
  assert.deepEqual(errorsOf(withMount({ mountPropagation: 'Bidirectional' })), [`${vm}.mountPropagation: Bidirectional mount propagation is available only to privileged containers`]);
  assert.deepEqual(errorsOf(withMount({ mountPropagation: 'Bidirectional' }, true)), []);
});

test('security contexts: ids, profiles, procMount, sysctls and host namespaces as upstream validation', () => {
  const fields = (spec: Record<string, unknown>, container: Record<string, unknown> = {}): string[] => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox', ...container }], ...spec } };
    return validatePod(pod).map((e) => `${e.field}: ${e.message}`);
  };
  assert.deepEqual(fields({ securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, supplementalGroups: [3], sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }], seccompProfile: { type: 'RuntimeDefault' } } }), []);
  assert.deepEqual(fields({ securityContext: { runAsUser: -1 } }), ['spec.securityContext.runAsUser: must be an integer between 0 and 2147483647, inclusive, got -1']);
  assert.deepEqual(fields({ securityContext: { seccompProfile: { type: 'Localhost' } } }), ['spec.securityContext.seccompProfile.localhostProfile: must be set when seccomp type is Localhost']);
  assert.deepEqual(fields({}, { securityContext: { seccompProfile: { type: 'RuntimeDefault', localhostProfile: 'x.json' } } }), ['spec.containers[0].securityContext.seccompProfile.localhostProfile: can only be set when seccomp type is Localhost']);
  assert.deepEqual(fields({}, { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: '../x.json' } } }), ['spec.containers[0].securityContext.seccompProfile.localhostProfile: "../x.json": must not contain \'..\'']);
  assert.deepEqual(fields({}, { securityContext: { appArmorProfile: { type: 'Localhost' } } }), ['spec.containers[0].securityContext.appArmorProfile.localhostProfile: must be set when AppArmor type is Localhost']);
  assert.deepEqual(fields({}, { securityContext: { procMount: 'Unmasked' } }), ['spec.containers[0].securityContext.procMount: `hostUsers` must be false to use `Unmasked`']);
  assert.deepEqual(fields({ hostUsers: false }, { securityContext: { procMount: 'Unmasked' } }), []);
  assert.deepEqual(fields({}, { securityContext: { privileged: true, allowPrivilegeEscalation: false } }), ['spec.containers[0].securityContext: cannot set `allowPrivilegeEscalation` to false and `privileged` to true']);
  assert.deepEqual(fields({ hostNetwork: true, securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }] } }), ["spec.securityContext.sysctls[0].name: may not be specified when 'hostNetwork' is true"]);
  assert.deepEqual(fields({ securityContext: { sysctls: [{ name: 'kernel.shm_rmid_forced', value: '1' }, { name: 'kernel/shm_rmid_forced', value: '1' }] } }), ['spec.securityContext.sysctls[1].name: duplicate sysctl "kernel/shm_rmid_forced"']);
  assert.deepEqual(fields({ hostUsers: false, hostNetwork: true }), ['spec.hostNetwork: when `hostUsers` is false']);
  assert.deepEqual(fields({ shareProcessNamespace: true, hostPID: true }), ['spec.shareProcessNamespace: ShareProcessNamespace and HostPID cannot both be enabled']);
  assert.deepEqual(fields({ securityContext: { supplementalGroupsPolicy: 'Loose' } }), ['spec.securityContext.supplementalGroupsPolicy: unsupported value "Loose": must be one of "Merge", "Strict"']);
});

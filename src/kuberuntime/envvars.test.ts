import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, EnvVar, Pod } from '../kube/types.ts';
import type { ConfigMap, PodObjectSource, Secret, Service } from '../kube/object-cache.ts';
import { isInvalidInput, isNotFound, isTransient, isUnsupported } from '../common/errors.ts';
import {
  buildEnvironment,
  envReferences,
  expandContainerCommandAndArgs,
  expandVariables,
  fromServices,
  makeEnvironment,
  resolveEnvSources,
  serviceEnvironment,
  type EnvOptions,
  type EnvSources,
} from './envvars.ts';

const vars: Record<string, string> = { VAR_A: 'A', VAR_B: 'B', VAR_C: 'C', VAR_REF: '$(VAR_A)', VAR_EMPTY: '' };
const lookup = (name: string): string | undefined => (Object.hasOwn(vars, name) ? vars[name] : undefined);

test('expandVariables: references, escapes and leftovers as upstream expansion', () => {
  const cases: [string, string][] = [
    ['$(VAR_A)', 'A'],
    ['___$(VAR_B)___', '___B___'],
    ['$(VAR_A)-$(VAR_A)', 'A-A'],
    ['$(VAR_A)$(VAR_B)$(VAR_C)', 'ABC'],
    ['foo\\$(VAR_C)bar', 'foo\\Cbar'],
    ['$(VAR_DNE)', '$(VAR_DNE)'],
    ['$(VAR_EMPTY)', ''],
    ['$(VAR_REF)', '$(VAR_A)'], // one pass: values are not expanded again
    ['$$(VAR_A)', '$(VAR_A)'],
    ['$$$(VAR_A)', '$A'],
    ['$$$$(VAR_A)', '$$(VAR_A)'],
    ['f000-$$VAR_A', 'f000-$VAR_A'],
    ['$$', '$'],
    ['$$$', '$$'],
    ['$', '$'],
    ['foo$', 'foo$'],
    ['$VAR_A', '$VAR_A'],
    ['$(VAR_A', '$(VAR_A'],
    ['$(VAR_A$(VAR_B)', '$(VAR_A$(VAR_B)'],
    ['$(', '$('],
    ['$()', '$()'],
    ['$((VAR_A))', '$((VAR_A))'],
    ['$(VAR_A)$(', 'A$('],
    ['?_$(VAR_A)_$(VAR_B)_$', '?_A_B_$'],
    ['', ''],
    ['no refs', 'no refs'],
    ['$é$(VAR_A)', '$éA'],
  ];
  for (const [input, want] of cases) assert.equal(expandVariables(input, lookup), want, input);
});

const ctr = (env: EnvVar[], extra: Partial<Container> = {}): Container => ({ name: 'app', env, ...extra });
const basePod = (containers: Container[] = [], extra: Partial<Pod> = {}): Pod => ({
  metadata: { name: 'web', namespace: 'prod', uid: 'uid-1', labels: { app: 'web', tier: 'front' }, annotations: { note: 'a "b"\n' } },
  spec: { containers, nodeName: 'node-a', serviceAccountName: 'sa' },
  ...extra,
});
const env = (c: Container, pod = basePod([c]), opts: EnvOptions = {}): Record<string, string> =>
  Object.fromEntries(makeEnvironment(c, pod, opts).map((e) => [e.name, e.value]));

test('makeEnvironment: values in order, expanded against earlier variables', () => {
  const c = ctr([
    { name: 'A', value: 'a' },
    { name: 'B', value: '$(A)-b' },
    { name: 'C', value: '$(D)-c' }, // D is declared later: left as is
    { name: 'D', value: 'd' },
    { name: 'SELF', value: '$(SELF)' },
    { name: 'EMPTY' },
    { name: 'ESC', value: '$$(A)' },
  ]);
  assert.deepEqual(makeEnvironment(c, basePod([c])), [
    { name: 'A', value: 'a' },
    { name: 'B', value: 'a-b' },
    { name: 'C', value: '$(D)-c' },
    { name: 'D', value: 'd' },
    { name: 'SELF', value: '$(SELF)' },
    { name: 'EMPTY', value: '' },
    { name: 'ESC', value: '$(A)' },
  ]);
  assert.deepEqual(makeEnvironment({ name: 'x' }, basePod()), []);
});

test('makeEnvironment: a repeated name keeps its first place and its last value', () => {
  const c = ctr([
    { name: 'A', value: '1' },
    { name: 'B', value: '$(A)' },
    { name: 'A', value: '2' },
    { name: 'C', value: '$(A)' },
  ]);
  assert.deepEqual(makeEnvironment(c, basePod([c])), [
    { name: 'A', value: '2' },
    { name: 'B', value: '1' },
    { name: 'C', value: '2' },
  ]);
});

const field = (name: string, fieldPath: string, apiVersion?: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath, apiVersion } } });

test('makeEnvironment: fieldRef', () => {
  const c = ctr([
    field('NAME', 'metadata.name'),
    field('NS', 'metadata.namespace', 'v1'),
    field('UID', 'metadata.uid'),
    field('APP', "metadata.labels['app']"),
    field('MISSING', "metadata.labels['nope']"),
    field('NOTE', "metadata.annotations['note']"),
    field('LABELS', 'metadata.labels'),
    field('ANNOTATIONS', 'metadata.annotations'),
    field('NODE', 'spec.nodeName'),
    field('HOST', 'spec.host'),
    field('SA', 'spec.serviceAccountName'),
    field('POD_IP', 'status.podIP'),
    field('POD_IPS', 'status.podIPs'),
    field('HOST_IP', 'status.hostIP'),
    field('HOST_IPS', 'status.hostIPs'),
    { name: 'REF', value: '$(NAME).$(NS)' },
  ]);
  assert.deepEqual(env(c, basePod([c]), { podIPs: ['10.0.0.5', 'fd00::5'], hostIPs: ['192.168.1.2', 'fd01::2'] }), {
    NAME: 'web',
    NS: 'prod',
    UID: 'uid-1',
    APP: 'web',
    MISSING: '',
    NOTE: 'a "b"\n',
    LABELS: 'app="web"\ntier="front"',
    ANNOTATIONS: 'note="a \\"b\\"\\n"',
    NODE: 'node-a',
    HOST: 'node-a',
    SA: 'sa',
    POD_IP: '10.0.0.5',
    POD_IPS: '10.0.0.5,fd00::5',
    HOST_IP: '192.168.1.2',
    HOST_IPS: '192.168.1.2,fd01::2',
    REF: 'web.prod',
  });
});

test('makeEnvironment: fieldRef fallbacks', () => {
  const c = ctr([field('NODE', 'spec.nodeName'), field('IP', 'status.podIP'), field('IPS', 'status.podIPs'), field('HOST', 'status.hostIP'), field('SA', 'spec.serviceAccountName')]);
  const pod: Pod = { metadata: { name: 'p' }, spec: { containers: [c] } };
  assert.deepEqual(env(c, pod, { nodeName: 'opt-node', podIP: '10.1.1.1', hostIP: '1.2.3.4' }), {
    NODE: 'opt-node',
    IP: '10.1.1.1',
    IPS: '10.1.1.1',
    HOST: '1.2.3.4',
    SA: '',
  });
  const noIP = ctr([field('IP', 'status.podIP'), field('IPS', 'status.podIPs'), field('LABELS', 'metadata.labels')]);
  assert.deepEqual(env(noIP, pod), { IP: '', IPS: '', LABELS: '' });
});

test('makeEnvironment: bad fieldRefs are InvalidInput naming the variable', () => {
  const bad: [EnvVar, RegExp][] = [
    [field('X', 'spec.restartPolicy'), /env var X: unsupported fieldPath: spec.restartPolicy/],
    [field('X', 'status.phase'), /unsupported fieldPath/],
    [field('X', 'metadata.generateName'), /env var X: field label not supported: metadata.generateName/],
    [field('X', "metadata.name['a']"), /does not support subscript/],
    [field('X', 'metadata.name', 'v2'), /unsupported pod version: v2/],
  ];
  for (const [v, msg] of bad) {
    assert.throws(() => makeEnvironment(ctr([v]), basePod()), (err: unknown) => isInvalidInput(err) && msg.test((err as Error).message), v.valueFrom?.fieldRef?.fieldPath);
  }
});

test('makeEnvironment: status.hostIP before the node IP is known is Transient', () => {
  for (const opts of [{}, { hostIP: '' }, { hostIPs: [] }]) {
    assert.throws(() => makeEnvironment(ctr([field('H', 'status.hostIPs')]), basePod(), opts), (err: unknown) => isTransient(err) && /env var H/.test((err as Error).message));
  }
});

const resField = (name: string, resource: string, divisor?: string, containerName?: string): EnvVar => ({
  name,
  valueFrom: { resourceFieldRef: { resource, divisor, containerName } },
});

test('makeEnvironment: resourceFieldRef with divisors, rounding up', () => {
  const c = ctr(
    [
      resField('CPU_LIMIT', 'limits.cpu'),
      resField('CPU_LIMIT_M', 'limits.cpu', '1m'),
      resField('CPU_REQ_M', 'requests.cpu', '1m'),
      resField('CPU_REQ_ZERO_DIV', 'requests.cpu', '0'),
      resField('MEM_LIMIT', 'limits.memory'),
      resField('MEM_LIMIT_MI', 'limits.memory', '1Mi'),
      resField('MEM_REQ_K', 'requests.memory', '1k'),
      resField('EPH', 'limits.ephemeral-storage', '1Gi'),
      resField('HUGE', 'limits.hugepages-2Mi', '2Mi'),
      resField('HUGE_REQ', 'requests.hugepages-2Mi'),
    ],
    {
      resources: {
        requests: { cpu: '250m', memory: '1500' },
        limits: { cpu: '1500m', memory: '1.5Mi', 'ephemeral-storage': '1.5Gi', 'hugepages-2Mi': '4Mi' },
      },
    },
  );
  assert.deepEqual(env(c), {
    CPU_LIMIT: '2',
    CPU_LIMIT_M: '1500',
    CPU_REQ_M: '250',
    CPU_REQ_ZERO_DIV: '1',
    MEM_LIMIT: '1572864',
    MEM_LIMIT_MI: '2',
    MEM_REQ_K: '2',
    EPH: '2',
    HUGE: '2',
    HUGE_REQ: '4194304', // requests default to limits
  });
});

test('makeEnvironment: missing limits come from node allocatable', () => {
  const c = ctr([resField('CPU', 'limits.cpu', '1m'), resField('MEM', 'limits.memory'), resField('REQ', 'requests.cpu', '1m')], {
    resources: { limits: { memory: '0' } },
  });
  assert.deepEqual(env(c, basePod([c]), { allocatable: { cpu: '4', memory: '8Gi' } }), { CPU: '4000', MEM: String(8 * 2 ** 30), REQ: '0' });
  assert.deepEqual(env(c), { CPU: '0', MEM: '0', REQ: '0' });
});

test('makeEnvironment: resourceFieldRef naming another container', () => {
  const me = ctr([resField('SIDE', 'limits.memory', '1Mi', 'side'), resField('INIT', 'limits.cpu', '1m', 'init'), resField('MINE', 'limits.cpu', '1m', 'app')], {
    resources: { limits: { cpu: '100m' } },
  });
  const side: Container = { name: 'side', resources: {} };
  const init: Container = { name: 'init', resources: {} };
  const pod = basePod([me, side], { spec: { containers: [me, side], initContainers: [init] } });
  // Regular containers get allocatable defaults; init containers named by name do not (as upstream).
  assert.deepEqual(env(me, pod, { allocatable: { cpu: '2', memory: '1Gi' } }), { SIDE: '1024', INIT: '0', MINE: '100' });
  assert.throws(() => makeEnvironment(ctr([resField('X', 'limits.cpu', undefined, 'ghost')]), pod), (err: unknown) => isInvalidInput(err) && /env var X: container ghost not found/.test((err as Error).message));
});

test('makeEnvironment: unsupported or bad resources are InvalidInput', () => {
  for (const resource of ['limits.nvidia.com/gpu', 'cpu', 'requests', 'status.cpu', 'limits.pods']) {
    assert.throws(() => makeEnvironment(ctr([resField('X', resource)]), basePod()), (err: unknown) => isInvalidInput(err) && /unsupported container resource/.test((err as Error).message), resource);
  }
  const bad = ctr([resField('X', 'limits.cpu')], { resources: { limits: { cpu: 'lots' } } });
  assert.throws(() => makeEnvironment(bad, basePod([bad])), isInvalidInput);
  assert.throws(() => makeEnvironment(ctr([resField('X', 'limits.cpu', 'abc')]), basePod()), isInvalidInput);
});

test('makeEnvironment: without an API server, configMap, secret, file and envFrom sources are Unsupported', () => {
  const cases: [Container, RegExp][] = [
    [ctr([{ name: 'CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }]), /^couldn't get configMap prod\/cfg, no kubeClient defined$/],
    [ctr([{ name: 'S', valueFrom: { secretKeyRef: { name: 'sec', key: 'k', optional: true } } }]), /^couldn't get secret prod\/sec, no kubeClient defined$/],
    [ctr([{ name: 'F', valueFrom: { fileKeyRef: { path: 'p', key: 'k', volumeName: 'v' } } }]), /env var F: fileKeyRef/],
    [ctr([], { envFrom: [{ configMapRef: { name: 'cfg' } }] }), /^couldn't get configMap prod\/cfg, no kubeClient defined$/],
    [ctr([], { envFrom: [{ secretRef: { name: 'sec', optional: true } }] }), /^couldn't get secret prod\/sec, no kubeClient defined$/],
  ];
  for (const [c, msg] of cases) assert.throws(() => makeEnvironment(c, basePod([c])), (err: unknown) => isUnsupported(err) && msg.test((err as Error).message));
});

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const cfg: ConfigMap = { metadata: { name: 'cfg', namespace: 'prod' }, data: { mode: 'fast', 'log.level': 'debug', shared: 'from-cm' }, binaryData: { bin: b64('nope') } };
const sec: Secret = { metadata: { name: 'sec', namespace: 'prod' }, data: { password: b64('s3cr=t\n'), shared: b64('from-secret') } };
const sources = (extra: Partial<EnvSources> = {}): EnvSources => ({
  configMaps: new Map<string, ConfigMap | null>([['cfg', cfg], ['gone', null]]),
  secrets: new Map<string, Secret | null>([['sec', sec], ['gone', null]]),
  serviceEnv: new Map(),
  ...extra,
});

test('makeEnvironment: configMapKeyRef and secretKeyRef from fetched objects', () => {
  const c = ctr([
    { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } },
    { name: 'PASS', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
    { name: 'BIN', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'bin', optional: true } } }, // binaryData is not env
    { name: 'OPT_CM', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k', optional: true } } },
    { name: 'OPT_KEY', valueFrom: { secretKeyRef: { name: 'sec', key: 'nope', optional: true } } },
    { name: 'REF', value: '$(MODE)/$(OPT_CM)' },
  ]);
  assert.deepEqual(makeEnvironment(c, basePod([c]), { sources: sources() }), [
    { name: 'MODE', value: 'fast' },
    { name: 'PASS', value: 's3cr=t\n' },
    { name: 'REF', value: 'fast/$(OPT_CM)' },
  ]);
});

test('makeEnvironment: a missing non-optional reference fails with upstream message', () => {
  const cases: [EnvVar[], Container['envFrom'], string][] = [
    [[{ name: 'X', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k' } } }], undefined, 'configmap "gone" not found'],
    [[{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }], undefined, 'secret "gone" not found'],
    [[{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }], undefined, "couldn't find key k in ConfigMap prod/cfg"],
    [[{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }], undefined, "couldn't find key k in Secret prod/sec"],
    [[], [{ configMapRef: { name: 'gone' } }], 'configmap "gone" not found'],
    [[], [{ secretRef: { name: 'gone' } }], 'secret "gone" not found'],
  ];
  for (const [envs, envFrom, msg] of cases) {
    const c = ctr(envs, envFrom ? { envFrom } : {});
    assert.throws(() => makeEnvironment(c, basePod([c]), { sources: sources() }), (err: unknown) => isNotFound(err) && (err as Error).message === msg, msg);
  }
});

test('buildEnvironment: envFrom with prefixes, optional sources, env overriding envFrom', () => {
  const c = ctr([{ name: 'CFG_mode', value: 'override' }, { name: 'USE', value: '$(CFG_mode)-$(SEC_password)' }], {
    envFrom: [
      { configMapRef: { name: 'cfg' }, prefix: 'CFG_' },
      { secretRef: { name: 'sec' }, prefix: 'SEC_' },
      { configMapRef: { name: 'gone', optional: true } },
      { secretRef: { name: 'gone', optional: true } },
      { configMapRef: { name: 'cfg' } }, // later sources win on the same name
      { secretRef: { name: 'sec' } },
    ],
  });
  const { env, warnings } = buildEnvironment(c, basePod([c]), { sources: sources() });
  assert.deepEqual(Object.fromEntries(env.map((e) => [e.name, e.value])), {
    CFG_mode: 'override',
    'CFG_log.level': 'debug',
    CFG_shared: 'from-cm',
    SEC_password: 's3cr=t\n',
    SEC_shared: 'from-secret',
    mode: 'fast',
    'log.level': 'debug',
    shared: 'from-secret',
    password: 's3cr=t\n',
    USE: 'override-s3cr=t\n',
  });
  assert.deepEqual(warnings, []);
  // The envFrom variables come first, in their order; a variable declared in env keeps its place.
  assert.equal(env[0]?.name, 'CFG_mode');
});

test('buildEnvironment: envFrom keys that cannot be variable names are skipped with a warning', () => {
  const odd: ConfigMap = { data: { good: '1', 'b=ad': '2', 'tab\tkey': '3' } };
  const c = ctr([], { envFrom: [{ configMapRef: { name: 'odd' } }] });
  const { env, warnings } = buildEnvironment(c, basePod([c]), { sources: sources({ configMaps: new Map([['odd', odd]]) }) });
  assert.deepEqual(env, [{ name: 'good', value: '1' }]);
  assert.deepEqual(warnings, ['Keys [b=ad, tab\tkey] from the EnvFrom configMap prod/odd were skipped since they are considered invalid environment variable names.']);
});

const svc = (namespace: string, name: string, clusterIP: string, ports: { port: number; name?: string; protocol?: string }[]): Service => ({
  metadata: { name, namespace },
  spec: { clusterIP, ports },
});

test('fromServices: docker-link style variables as upstream envvars.FromServices', () => {
  const vars = fromServices([
    svc('prod', 'my-db', '10.0.0.7', [{ port: 5432, name: 'sql' }, { port: 53, name: 'dns-udp', protocol: 'UDP' }]),
    svc('prod', 'headless', 'None', [{ port: 80 }]),
    svc('prod', 'v6', 'fd00::1', [{ port: 443 }]),
  ]);
  assert.deepEqual(Object.fromEntries(vars.map((e) => [e.name, e.value])), {
    MY_DB_SERVICE_HOST: '10.0.0.7',
    MY_DB_SERVICE_PORT: '5432',
    MY_DB_SERVICE_PORT_SQL: '5432',
    MY_DB_SERVICE_PORT_DNS_UDP: '53',
    MY_DB_PORT: 'tcp://10.0.0.7:5432',
    MY_DB_PORT_5432_TCP: 'tcp://10.0.0.7:5432',
    MY_DB_PORT_5432_TCP_PROTO: 'tcp',
    MY_DB_PORT_5432_TCP_PORT: '5432',
    MY_DB_PORT_5432_TCP_ADDR: '10.0.0.7',
    MY_DB_PORT_53_UDP: 'udp://10.0.0.7:53',
    MY_DB_PORT_53_UDP_PROTO: 'udp',
    MY_DB_PORT_53_UDP_PORT: '53',
    MY_DB_PORT_53_UDP_ADDR: '10.0.0.7',
    V6_SERVICE_HOST: 'fd00::1',
    V6_SERVICE_PORT: '443',
    V6_PORT: 'tcp://[fd00::1]:443',
    V6_PORT_443_TCP: 'tcp://[fd00::1]:443',
    V6_PORT_443_TCP_PROTO: 'tcp',
    V6_PORT_443_TCP_PORT: '443',
    V6_PORT_443_TCP_ADDR: 'fd00::1',
  });
});

test('serviceEnvironment: the kubernetes service always, the namespace services with enableServiceLinks', () => {
  const all = [
    svc('default', 'kubernetes', '10.96.0.1', [{ port: 443, name: 'https' }]),
    svc('default', 'other', '10.96.0.9', [{ port: 80 }]),
    svc('prod', 'web', '10.96.0.2', [{ port: 8080 }]),
    svc('dev', 'web-dev', '10.96.0.3', [{ port: 8080 }]),
  ];
  const names = (m: Map<string, string>): string[] => [...m.keys()].filter((k) => k.endsWith('_SERVICE_HOST')).sort();
  assert.deepEqual(names(serviceEnvironment(all, 'prod', true)), ['KUBERNETES_SERVICE_HOST', 'WEB_SERVICE_HOST']);
  assert.deepEqual(names(serviceEnvironment(all, 'prod', false)), ['KUBERNETES_SERVICE_HOST']);
  assert.deepEqual(names(serviceEnvironment(all, 'default', true)), ['KUBERNETES_SERVICE_HOST', 'OTHER_SERVICE_HOST']);
  assert.equal(serviceEnvironment(all, 'prod', false).get('KUBERNETES_SERVICE_PORT_HTTPS'), '443');
  // A service named kubernetes in the pod's namespace wins when links are on.
  const shadow = [...all, svc('prod', 'kubernetes', '10.96.0.50', [{ port: 1 }])];
  assert.equal(serviceEnvironment(shadow, 'prod', true).get('KUBERNETES_SERVICE_HOST'), '10.96.0.50');
  assert.equal(serviceEnvironment(shadow, 'prod', false).get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
});

test('makeEnvironment: service variables come last, feed $(VAR) expansion, and never override env', () => {
  const serviceEnv = serviceEnvironment([svc('prod', 'web', '10.96.0.2', [{ port: 8080 }])], 'prod', true);
  const c = ctr([
    { name: 'URL', value: 'http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)' },
    { name: 'WEB_SERVICE_PORT', value: '9999' },
    { name: 'AFTER', value: '$(WEB_SERVICE_PORT)' },
  ]);
  const env = makeEnvironment(c, basePod([c]), { sources: sources({ serviceEnv }) });
  const obj = Object.fromEntries(env.map((e) => [e.name, e.value]));
  assert.equal(obj.URL, 'http://10.96.0.2:8080');
  assert.equal(obj.AFTER, '9999');
  assert.equal(env.filter((e) => e.name === 'WEB_SERVICE_PORT').length, 1);
  assert.equal(obj.WEB_SERVICE_PORT, '9999');
  assert.deepEqual(env.slice(0, 3).map((e) => e.name), ['URL', 'WEB_SERVICE_PORT', 'AFTER']);
  assert.equal(obj.WEB_PORT_8080_TCP_ADDR, '10.96.0.2');
});

test('envReferences: the ConfigMaps and Secrets a container needs', () => {
  const c = ctr(
    [
      { name: 'A', valueFrom: { configMapKeyRef: { name: 'c1', key: 'k' } } },
      { name: 'B', valueFrom: { secretKeyRef: { name: 's1', key: 'k' } } },
      { name: 'C', value: 'literal', valueFrom: { secretKeyRef: { name: 'unused', key: 'k' } } },
    ],
    { envFrom: [{ configMapRef: { name: 'c2' } }, { secretRef: { name: 's1' } }] },
  );
  assert.deepEqual(envReferences(c), { configMaps: ['c2', 'c1'], secrets: ['s1'] });
});

/** A PodObjectSource over fixed objects, counting calls. */
function fakeSource(objs: { configMaps?: ConfigMap[]; secrets?: Secret[]; services?: Service[]; failServices?: boolean }): PodObjectSource & { calls: string[] } {
  const calls: string[] = [];
  const find = <T extends { metadata?: { namespace?: string; name?: string } }>(list: T[] | undefined, ns: string, name: string): T | null =>
    list?.find((o) => o.metadata?.namespace === ns && o.metadata?.name === name) ?? null;
  return {
    calls,
    getConfigMap: async (ns, name) => (calls.push(`cm ${ns}/${name}`), find(objs.configMaps, ns, name)),
    getSecret: async (ns, name) => (calls.push(`secret ${ns}/${name}`), find(objs.secrets, ns, name)),
    listServices: async (ns) => {
      calls.push(`services ${ns}`);
      if (objs.failServices) throw new Error('connection refused');
      return (objs.services ?? []).filter((s) => s.metadata?.namespace === ns);
    },
    requestServiceAccountToken: () => Promise.reject(new Error('not used')),
    forgetPod: () => undefined,
  };
}

test('resolveEnvSources: fetches what is referenced, 404 as null, services of the namespace and default', async () => {
  const c = ctr([{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } }], { envFrom: [{ secretRef: { name: 'missing', optional: true } }] });
  const source = fakeSource({ configMaps: [cfg], services: [svc('default', 'kubernetes', '10.96.0.1', [{ port: 443 }]), svc('prod', 'web', '10.96.0.2', [{ port: 80 }])] });
  const pod = basePod([c]);
  const got = await resolveEnvSources(pod, c, source, AbortSignal.timeout(5_000));
  assert.equal(got.configMaps.get('cfg'), cfg);
  assert.equal(got.secrets.get('missing'), null);
  assert.equal(got.serviceEnv.get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
  assert.equal(got.serviceEnv.get('WEB_SERVICE_HOST'), '10.96.0.2');
  assert.deepEqual([...source.calls].sort(), ['cm prod/cfg', 'secret prod/missing', 'services default', 'services prod']);
  assert.deepEqual(makeEnvironment(c, pod, { sources: got }).slice(0, 1), [{ name: 'A', value: 'fast' }]);

  const noLinks = basePod([c], { spec: { containers: [c], enableServiceLinks: false } });
  const source2 = fakeSource({ configMaps: [cfg] });
  await resolveEnvSources(noLinks, c, source2, AbortSignal.timeout(5_000));
  assert.ok(!source2.calls.includes('services prod'));
});

test('resolveEnvSources: services that cannot be listed fail an API pod, not a static pod', async () => {
  const c = ctr([]);
  const source = fakeSource({ failServices: true });
  await assert.rejects(resolveEnvSources(basePod([c]), c, source, AbortSignal.timeout(5_000)), (err: unknown) => isTransient(err) && /failed to list services when setting up env vars/.test((err as Error).message));
  const staticPod = basePod([c]);
  staticPod.metadata = { ...staticPod.metadata, annotations: { 'kubernetes.io/config.source': 'file' } };
  const got = await resolveEnvSources(staticPod, c, source, AbortSignal.timeout(5_000));
  assert.equal(got.serviceEnv.size, 0);
});

test('makeEnvironment: a value wins over valueFrom, an empty value does not', () => {
  const c = ctr([
    { name: 'V', value: 'literal', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } },
    { name: 'E', value: '', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ]);
  assert.deepEqual(env(c), { V: 'literal', E: 'web' });
});

test('expandContainerCommandAndArgs', () => {
  const c: Container = { name: 'a', command: ['/bin/$(CMD)', '$$(CMD)'], args: ['--port=$(PORT)', '$(UNKNOWN)', '$(PORT)$(PORT)'] };
  const built = [
    { name: 'CMD', value: 'server' },
    { name: 'PORT', value: '8080' },
  ];
  assert.deepEqual(expandContainerCommandAndArgs(c, built), {
    command: ['/bin/server', '$(CMD)'],
    args: ['--port=8080', '$(UNKNOWN)', '80808080'],
  });
  assert.deepEqual(expandContainerCommandAndArgs({ name: 'b' }, built), { command: [], args: [] });
});

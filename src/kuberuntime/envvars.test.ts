import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, EnvVar, Pod } from '../kube/types.ts';
import { isInvalidInput, isTransient, isUnsupported } from '../common/errors.ts';
import { expandContainerCommandAndArgs, expandVariables, makeEnvironment, type EnvOptions } from './envvars.ts';

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

test('makeEnvironment: configMap, secret, file and envFrom sources are Unsupported', () => {
  const cases: [Container, RegExp][] = [
    [ctr([{ name: 'CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }]), /env var CM: couldn't get configMap prod\/cfg/],
    [ctr([{ name: 'S', valueFrom: { secretKeyRef: { name: 'sec', key: 'k', optional: true } } }]), /env var S: couldn't get secret prod\/sec/],
    [ctr([{ name: 'F', valueFrom: { fileKeyRef: { path: 'p', key: 'k', volumeName: 'v' } } }]), /env var F: fileKeyRef/],
    [ctr([], { envFrom: [{ configMapRef: { name: 'cfg' } }] }), /envFrom configMap cfg/],
    [ctr([], { envFrom: [{ secretRef: { name: 'sec' } }] }), /envFrom secret sec/],
  ];
  for (const [c, msg] of cases) assert.throws(() => makeEnvironment(c, basePod([c])), (err: unknown) => isUnsupported(err) && msg.test((err as Error).message));
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

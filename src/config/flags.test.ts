import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import { parseFlags, usage } from './flags.ts';
import { SETTINGS } from './schema.ts';

const rejects = (argv: string[], message: string | RegExp): void => {
  assert.throws(() => parseFlags(argv), (err: unknown) => {
    assert.ok(isInvalidInput(err), String(err));
    if (typeof message === 'string') assert.equal((err as Error).message, message);
    else assert.match((err as Error).message, message);
    return true;
  });
};

void test('--flag=value and --flag value', () => {
  const { values, configPath, help } = parseFlags([
    '--pod-manifest-path=/etc/kubernetes/manifests',
    '--container-runtime-endpoint', 'unix:///run/crio/crio.sock',
    '--config', '/etc/kubelet.yaml',
    '--healthz-port=0',
    '--max-pods', '20',
  ]);
  assert.deepEqual(values, {
    staticPodPath: '/etc/kubernetes/manifests',
    containerRuntimeEndpoint: 'unix:///run/crio/crio.sock',
    healthzPort: 0,
    maxPods: 20,
  });
  assert.equal(configPath, '/etc/kubelet.yaml');
  assert.equal(help, false);
});

void test('booleans: bare, =true, =false, Go spellings', () => {
  assert.deepEqual(parseFlags(['--cgroups-per-qos']).values, { cgroupsPerQOS: true });
  assert.deepEqual(parseFlags(['--cgroups-per-qos=false']).values, { cgroupsPerQOS: false });
  assert.deepEqual(parseFlags(['--register-node=0', '--serialize-image-pulls=T']).values, {
    registerNode: false,
    serializeImagePulls: true,
  });
  // A bool flag never takes the next argument: "false" is then a stray positional argument.
  rejects(['--register-node', 'false'], 'unknown command: false');
  rejects(['--register-node=nope'], 'invalid argument "nope" for flag --register-node: must be a boolean');
});

void test('verbosity: -v 2, -v=2, -v2, --v=2, --v 2', () => {
  for (const argv of [['-v', '2'], ['-v=2'], ['-v2'], ['--v=2'], ['--v', '2']]) {
    assert.deepEqual(parseFlags(argv).values, { verbosity: 2 }, argv.join(' '));
  }
  rejects(['-v', 'high'], 'invalid argument "high" for flag --v: must be a non-negative integer');
});

void test('durations, lists, labels, taints', () => {
  const { values } = parseFlags([
    '--file-check-frequency=5s',
    '--sync-frequency', '1m30s',
    '--runtime-request-timeout=500ms',
    '--cluster-dns=10.96.0.10,fd00::a',
    '--cluster-dns', '10.96.0.11',
    '--node-labels=a=1,example.com/b=2',
    '--node-labels', 'c=3',
    '--register-with-taints=dedicated=gpu:NoSchedule,spot:PreferNoSchedule',
  ]);
  assert.deepEqual(values, {
    fileCheckFrequencyMs: 5000,
    syncFrequencyMs: 90_000,
    runtimeRequestTimeoutMs: 500,
    clusterDNS: ['10.96.0.10', 'fd00::a', '10.96.0.11'],
    nodeLabels: { a: '1', 'example.com/b': '2', c: '3' },
    registerWithTaints: [
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'spot', value: '', effect: 'PreferNoSchedule' },
    ],
  });
  rejects(['--sync-frequency=60'], /^invalid argument "60" for flag --sync-frequency: must be a duration greater than 0/);
  rejects(['--node-labels=a'], /^invalid argument "a" for flag --node-labels: must be key=value labels/);
  rejects(['--register-with-taints=k=v:Maybe'], /for flag --register-with-taints: must be taints/);
});

void test('cgroup driver enum and ints are typed per flag', () => {
  assert.deepEqual(parseFlags(['--cgroup-driver=systemd']).values, { cgroupDriver: 'systemd' });
  rejects(['--cgroup-driver=sysv'], 'invalid argument "sysv" for flag --cgroup-driver: must be one of "cgroupfs", "systemd"');
  rejects(['--healthz-port=abc'], 'invalid argument "abc" for flag --healthz-port: must be an integer between 0 and 65535');
});

void test('repeated scalar flags: last wins; underscores read as dashes; empty values', () => {
  assert.deepEqual(parseFlags(['--port=1', '--port=2']).values, { port: 2 });
  assert.deepEqual(parseFlags(['--pod_manifest_path=/m']).values, { staticPodPath: '/m' });
  assert.deepEqual(parseFlags(['--hostname-override=', '--cluster-dns=']).values, { hostnameOverride: '', clusterDNS: [] });
  // A value flag takes the next argument even when it looks like a flag (pflag behaviour).
  assert.deepEqual(parseFlags(['--kubeconfig', '--x']).values, { kubeconfig: '--x' });
});

void test('unknown flags, missing values, positional arguments', () => {
  rejects(['--foo'], 'unknown flag: --foo');
  rejects(['--foo=1'], 'unknown flag: --foo');
  rejects(['--staticPodPath=/x'], 'unknown flag: --staticPodPath');
  rejects(['-x'], "unknown shorthand flag: 'x' in -x");
  rejects(['--max-pods'], 'flag needs an argument: --max-pods');
  rejects(['--config'], 'flag needs an argument: --config');
  rejects(['run'], 'unknown command: run');
  rejects(['--', 'run'], 'unknown command: run');
  rejects(['---x'], 'bad flag syntax: ---x');
  assert.deepEqual(parseFlags(['--']).values, {});
});

void test('--help and -h', () => {
  assert.equal(parseFlags(['--help']).help, true);
  assert.equal(parseFlags(['-h']).help, true);
  assert.equal(parseFlags(['--help=false']).help, false);
  assert.equal(parseFlags([]).help, false);
});

void test('usage lists every flag once with a description', () => {
  const text = usage();
  const flags = Object.values(SETTINGS).flatMap((s) => (s.flag === undefined ? [] : [s.flag]));
  for (const flag of [...flags, 'config', 'help']) {
    const lines = text.split('\n').filter((l) => new RegExp(`^\\s+(-., )?--${flag}\\s`).test(l));
    assert.equal(lines.length, 1, flag);
    assert.ok((lines[0] ?? '').trim().split(/\s{2,}/)[1], `description of --${flag}`);
  }
  assert.match(text, /--sync-frequency duration\s+.*\(default 1m0s\)/);
  assert.match(text, /-v, --v int/);
  assert.match(text, /--pod-infra-container-image string\s+.*\(default "127\.0\.0\.1:5000\/pause:3\.10"\)/);
});

void test('eviction and reservation flags: langle and equals maps merge when repeated', () => {
  const { values } = parseFlags([
    '--eviction-hard=memory.available<1Gi,nodefs.available<10%', '--eviction-hard', 'imagefs.available<20%',
    '--eviction-soft-grace-period=memory.available=1m', '--kube-reserved=cpu=100m,memory=1Gi',
    '--enforce-node-allocatable=pods', '--eviction-pressure-transition-period=30s', '--eviction-max-pod-grace-period=20',
  ]);
  assert.deepEqual(values, {
    evictionHard: { 'memory.available': '1Gi', 'nodefs.available': '10%', 'imagefs.available': '20%' },
    evictionSoftGracePeriod: { 'memory.available': '1m' },
    kubeReserved: { cpu: '100m', memory: '1Gi' },
    enforceNodeAllocatable: ['pods'],
    evictionPressureTransitionPeriodMs: 30_000,
    evictionMaxPodGracePeriod: 20,
  });
  rejects(['--eviction-hard=memory.available=1Gi'], /--eviction-hard: must be/);
  assert.match(usage(), /--eviction-hard mapStringString\s+.*\(default imagefs\.available<15%,memory\.available<100Mi,nodefs\.available<10%,nodefs\.inodesFree<5%\)/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import { loadConfig, resolveConfig } from './load.ts';
import type { LoadEnv } from './load.ts';
import { SETTINGS, SETTING_KEYS } from './schema.ts';
import { KUBELET_DEFAULTS } from './types.ts';
import type { KubeletConfig } from './types.ts';
import { configProblems } from './validate.ts';

const HEADER = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n';

/** An env with a fixed host name and an in-memory file system. */
function fakeEnv(files: Record<string, string> = {}, host = 'Node-A'): LoadEnv {
  return {
    hostname: () => host,
    readFile: (path) => {
      const text = files[path];
      return text === undefined
        ? Promise.reject(Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' }))
        : Promise.resolve(text);
    },
  };
}

async function load(argv: string[], env: LoadEnv = fakeEnv()): Promise<KubeletConfig> {
  const out = await loadConfig(argv, env);
  assert.ok('config' in out, 'expected a config');
  return out.config;
}

async function rejects(argv: string[], env: LoadEnv, message: string | RegExp): Promise<void> {
  await assert.rejects(loadConfig(argv, env), (err: unknown) => {
    assert.ok(isInvalidInput(err), String(err));
    if (typeof message === 'string') assert.equal((err as Error).message, message);
    else assert.match((err as Error).message, message);
    return true;
  });
}

void test('no flags: upstream defaults, node name from the host name (lower-cased)', async () => {
  const config = await load([]);
  assert.deepEqual(config, { ...KUBELET_DEFAULTS, nodeName: 'node-a', passThrough: {} });
  assert.equal(config.staticPodPath, '');
  assert.equal(config.fileCheckFrequencyMs, 20_000);
  assert.equal(config.syncFrequencyMs, 60_000);
  assert.equal(config.runtimeRequestTimeoutMs, 120_000);
  assert.equal(config.containerRuntimeEndpoint, 'unix:///run/containerd/containerd.sock');
  assert.equal(config.podInfraContainerImage, '127.0.0.1:5000/pause:3.10');
  assert.deepEqual(configProblems(config), []);
});

void test('every default has the type of its setting kind and passes its rule', () => {
  for (const key of SETTING_KEYS) {
    const { kind, rule } = SETTINGS[key];
    const v: unknown = KUBELET_DEFAULTS[key];
    const expected = { string: 'string', enum: 'string', bool: 'boolean', int: 'number', duration: 'number' } as const;
    if (kind in expected) assert.equal(typeof v, expected[kind as keyof typeof expected], key);
    else assert.equal(typeof v, 'object', key);
    if (rule) assert.ok(rule.test(v), key);
  }
});

void test('precedence: flag beats file beats default', async () => {
  const env = fakeEnv({ '/etc/kubelet.yaml': `${HEADER}maxPods: 50\nhealthzPort: 0\nsyncFrequency: 30s\nlogging: {verbosity: 3}\n` });
  const config = await load(['--config=/etc/kubelet.yaml', '--max-pods=20', '-v', '5'], env);
  assert.equal(config.maxPods, 20); // flag over file
  assert.equal(config.verbosity, 5); // flag over file's logging.verbosity
  assert.equal(config.healthzPort, 0); // file over default
  assert.equal(config.syncFrequencyMs, 30_000); // file over default
  assert.equal(config.port, 10250); // default
  // Order on the command line does not matter: flags always win over the file.
  assert.equal((await load(['--max-pods=20', '--config', '/etc/kubelet.yaml'], env)).maxPods, 20);
});

void test('pass-through fields reach the config for /configz', async () => {
  const env = fakeEnv({ '/c.yaml': `${HEADER}failSwapOn: false\ncpuManagerPolicy: none\n` });
  const config = await load(['--config', '/c.yaml'], env);
  assert.deepEqual(config.passThrough, { failSwapOn: false, cpuManagerPolicy: 'none' });
});

void test('nodeName: --hostname-override wins, trimmed and lower-cased; must be a DNS-1123 subdomain', async () => {
  assert.equal((await load(['--hostname-override', ' Worker-1.Example.COM '])).nodeName, 'worker-1.example.com');
  assert.equal((await load(['--hostname-override='])).nodeName, 'node-a');
  await rejects(['--hostname-override=bad_name'], fakeEnv(), /nodeName \(from --hostname-override or the host name\): must be a DNS-1123 subdomain .*got "bad_name"/);
  await rejects([], fakeEnv({}, ''), /nodeName .* got ""/);
});

void test('invalid merged values stop start-up naming field and flag', async () => {
  await rejects(['--healthz-port=70000'], fakeEnv(),
    'invalid configuration: field "healthzPort" (flag --healthz-port): must be an integer between 0 and 65535, got 70000');
  const env = fakeEnv({ '/c.yaml': `${HEADER}maxPods: 0\ncontainerLogMaxSize: ten\n` });
  await rejects(['--config=/c.yaml'], env,
    /^invalid configuration: field "maxPods" \(flag --max-pods\): must be a positive integer, got 0; field "containerLogMaxSize" .*got "ten"$/);
  // A valid flag repairs an invalid file value: only the merged result is validated.
  assert.equal((await load(['--config=/c.yaml', '--max-pods=10', '--container-log-max-size=1Mi'], env)).maxPods, 10);
  await rejects(['--node-labels=kubernetes.io/role=x'], fakeEnv(), /^invalid configuration: flag --node-labels: must be key=value labels/);
  await rejects(['--register-with-taints=-bad:NoSchedule'], fakeEnv(), /flag --register-with-taints/);
  await rejects(['--cluster-dns=dns.local'], fakeEnv(), /field "clusterDNS" \(flag --cluster-dns\): must be a list of IP addresses/);
  await rejects(['--node-ip=10.0.0.1,10.0.0.2'], fakeEnv(), /flag --node-ip/);
  await rejects(['--address=localhost'], fakeEnv(), /field "address" \(flag --address\): must be an IP address, got "localhost"/);
  await rejects(['--sync-frequency=0s'], fakeEnv(), /field "syncFrequency" \(flag --sync-frequency\): must be a duration greater than 0/);
  await rejects(['--pod-logs-dir=logs'], fakeEnv(), /field "podLogsDir" \(flag --pod-logs-dir\): must be an absolute, normalized path/);
  await rejects(['--container-runtime-endpoint=tcp://1.2.3.4:1'], fakeEnv(), /field "containerRuntimeEndpoint"/);
  await rejects(['--container-log-max-files=1'], fakeEnv(), /field "containerLogMaxFiles" .*at least 2/);
  await rejects(['--pod-max-pids=-2'], fakeEnv(), /field "podPidsLimit"/);
});

void test('config file errors name the path', async () => {
  await rejects(['--config=/missing.yaml'], fakeEnv(), /^failed to read kubelet config file "\/missing.yaml": ENOENT/);
  const env = fakeEnv({ '/c.yaml': `${HEADER}healthzPort: abc\n` });
  await rejects(['--config', '/c.yaml'], env,
    'failed to load kubelet config file "/c.yaml": invalid KubeletConfiguration: field "healthzPort": must be an integer between 0 and 65535, got "abc"');
});

void test('unknown flag stops start-up; --help returns the usage', async () => {
  await rejects(['--foo'], fakeEnv(), 'unknown flag: --foo');
  const out = await loadConfig(['--help', '--config=/missing.yaml'], fakeEnv());
  assert.ok('help' in out);
  assert.match(out.help, /^Usage: tskubelet/);
  assert.match(out.help, /--pod-manifest-path string/);
});

void test('resolution: bare socket paths become unix URLs; empty cgroupRoot with cgroupsPerQOS is /', () => {
  const c = resolveConfig(undefined, { containerRuntimeEndpoint: '/run/crio/crio.sock', imageServiceEndpoint: '/run/img.sock', cgroupRoot: '' }, 'h');
  assert.equal(c.containerRuntimeEndpoint, 'unix:///run/crio/crio.sock');
  assert.equal(c.imageServiceEndpoint, 'unix:///run/img.sock');
  assert.equal(c.cgroupRoot, '/');
  assert.equal(resolveConfig(undefined, { cgroupRoot: '', cgroupsPerQOS: false }, 'h').cgroupRoot, '');
  assert.equal(resolveConfig(undefined, {}, 'h').imageServiceEndpoint, '');
});

void test('reads a real file with the default reader', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/tskubelet-config-`);
  try {
    await writeFile(`${dir}/kubelet.yaml`, `${HEADER}staticPodPath: manifests\n`);
    const out = await loadConfig(['--config', `${dir}/kubelet.yaml`, '--hostname-override=n1']);
    assert.ok('config' in out);
    assert.equal(out.config.staticPodPath, `${dir}/manifests`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('eviction settings are validated, soft thresholds need a grace period', async () => {
  await rejects(['--eviction-hard=memory.avail<1Gi'], fakeEnv(), /field "evictionHard" \(flag --eviction-hard\): must be a map of eviction signals/);
  await rejects(['--eviction-hard=memory.available<-1Gi'], fakeEnv(), /field "evictionHard"/);
  await rejects(['--eviction-soft=memory.available<1Gi'], fakeEnv(), /eviction settings: grace period must be specified for the soft eviction threshold memory.available/);
  await rejects(['--enforce-node-allocatable=pods,kube-reserved'], fakeEnv(), /field "enforceNodeAllocatable"/);
  await rejects(['--system-reserved=gpu=1'], fakeEnv(), /field "systemReserved"/);
  const config = await load(['--eviction-soft=memory.available<1Gi', '--eviction-soft-grace-period=memory.available=30s', '--enforce-node-allocatable=none']);
  assert.deepEqual(config.evictionSoft, { 'memory.available': '1Gi' });
  assert.deepEqual(config.enforceNodeAllocatable, ['none']);
});

void test('image GC settings: upstream defaults, flags, low below high', async () => {
  const d = await load([]);
  assert.deepEqual([d.imageGCHighThresholdPercent, d.imageGCLowThresholdPercent, d.imageMinimumGCAgeMs], [85, 80, 120_000]);
  const c = await load(['--image-gc-high-threshold=50', '--image-gc-low-threshold=40', '--minimum-image-ttl-duration=0s']);
  assert.deepEqual([c.imageGCHighThresholdPercent, c.imageGCLowThresholdPercent, c.imageMinimumGCAgeMs], [50, 40, 0]);
  await rejects(['--image-gc-high-threshold=50', '--image-gc-low-threshold=50'], fakeEnv(), /imageGCLowThresholdPercent \(50\) must be less than imageGCHighThresholdPercent \(50\)/);
  await rejects(['--image-gc-high-threshold=101'], fakeEnv(), /field "imageGCHighThresholdPercent"/);
});

void test('container GC flags (flag only, upstream defaults) and imageMaximumGCAge (field only, above the minimum age)', async () => {
  const d = await load([]);
  assert.deepEqual([d.minimumGCAgeMs, d.maxPerPodContainerCount, d.maxContainerCount, d.imageMaximumGCAgeMs], [0, 1, -1, 0]);
  const c = await load(['--minimum-container-ttl-duration=1m', '--maximum-dead-containers-per-container=3', '--maximum-dead-containers', '-1']);
  assert.deepEqual([c.minimumGCAgeMs, c.maxPerPodContainerCount, c.maxContainerCount], [60_000, 3, -1]);
  await rejects(['--maximum-dead-containers=x'], fakeEnv(), /--maximum-dead-containers/);
  await rejects(['--minimum-container-ttl-duration=-1s'], fakeEnv(), /flag --minimum-container-ttl-duration/);
  await rejects(['--image-maximum-gc-age=1h'], fakeEnv(), /unknown flag: --image-maximum-gc-age/);
  const files = { '/c.yaml': `${HEADER}imageMaximumGCAge: 1h\n` };
  assert.equal((await load(['--config', '/c.yaml'], fakeEnv(files))).imageMaximumGCAgeMs, 3_600_000);
  await rejects(['--config', '/c.yaml', '--minimum-image-ttl-duration=2h'], fakeEnv(files), /imageMaximumGCAge \(1h0m0s\) must be greater than imageMinimumGCAge \(2h0m0s\)/);
  await rejects(['--config', '/m.yaml'], fakeEnv({ '/m.yaml': `${HEADER}imageMaximumGCAge: 2m\n` }), /imageMaximumGCAge \(2m0s\) must be greater than imageMinimumGCAge \(2m0s\)/);
  for (const field of ['minimumGCAge', 'maxPerPodContainerCount', 'maxContainerCount']) {
    await rejects(['--config', '/f.yaml'], fakeEnv({ '/f.yaml': `${HEADER}${field}: 1\n` }), new RegExp(`unknown field "${field}"`));
  }
});

void test('qosReserved (--qos-reserved) and featureGates (--feature-gates): typed, validated at start-up as upstream', async () => {
  const d = await load([]);
  assert.deepEqual([d.qosReserved, d.featureGates], [{}, {}]);
  const c = await load(['--feature-gates=QOSReserved=true,SidecarContainers=true', '--qos-reserved=memory=50%']);
  assert.deepEqual(c.qosReserved, { memory: '50%' });
  assert.deepEqual(c.featureGates, { QOSReserved: true, SidecarContainers: true });
  // As upstream, --feature-gates is merged gate by gate over the file's (a flag wins for its gate).
  const files = { '/c.yaml': `${HEADER}featureGates: {QOSReserved: false, SidecarContainers: true}\nqosReserved: {memory: 10%}\n` };
  const f = await load(['--config', '/c.yaml', '--feature-gates=QOSReserved=true'], fakeEnv(files));
  assert.deepEqual([f.featureGates, f.qosReserved], [{ QOSReserved: true, SidecarContainers: true }, { memory: '10%' }]);
  for (const bad of ['memory=101%', 'memory=50', 'memory=-1%', 'memory=x%', 'cpu=50%']) {
    await rejects([`--qos-reserved=${bad}`], fakeEnv(), /^invalid configuration: field "qosReserved" \(flag --qos-reserved\): must be a map of memory/);
  }
  assert.deepEqual((await load(['--qos-reserved=memory=0%'])).qosReserved, { memory: '0%' });
  assert.deepEqual((await load(['--qos-reserved=memory=100%'])).qosReserved, { memory: '100%' });
  await rejects(['--feature-gates=Bogus=true'], fakeEnv(), 'invalid configuration: field "featureGates" (flag --feature-gates): unrecognized feature gate: Bogus');
  await rejects(['--feature-gates=SidecarContainers=false'], fakeEnv(),
    'invalid configuration: field "featureGates" (flag --feature-gates): cannot set feature gate SidecarContainers to false, feature is locked to true');
  await rejects(['--config', '/g.yaml'], fakeEnv({ '/g.yaml': `${HEADER}featureGates: {NotAGate: false}\n` }), /unrecognized feature gate: NotAGate/);
  await rejects(['--feature-gates=QOSReserved'], fakeEnv(), /invalid argument "QOSReserved" for flag --feature-gates: must be a map of feature gate names to true or false/);
  await rejects(['--feature-gates=QOSReserved=yes'], fakeEnv(), /flag --feature-gates/);
});

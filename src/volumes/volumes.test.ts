import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, readdir, readlink, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { V1Volume as Volume } from '@kubernetes/client-node';
import type { Container, Pod } from '../kube/types.ts';
import type { ConfigMap, PodObjectSource, Secret, TokenRequestOptions } from '../kube/object-cache.ts';
import { isInvalidInput, isUnsupported } from '../common/errors.ts';
import { silentLogger } from '../observability/logger.ts';
import { SystemMounter, type Mounter } from './mounter.ts';
import { VolumeManager, VolumeSetUpError } from './volumes.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A source over mutable maps; tokens are numbered. */
function fakeSource() {
  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  const tokenCalls: { ns: string; sa: string; opts: TokenRequestOptions }[] = [];
  const forgotten: string[] = [];
  let token = 'token-1';
  let failTokens = false;
  const source: PodObjectSource = {
    getConfigMap: async (ns, name) => configMaps.get(`${ns}/${name}`) ?? null,
    getSecret: async (ns, name) => secrets.get(`${ns}/${name}`) ?? null,
    listServices: async () => [],
    requestServiceAccountToken: async (ns, sa, opts) => {
      tokenCalls.push({ ns, sa, opts });
      if (failTokens) throw new Error('apiserver down');
      return { token, expirationTimestamp: '2030-01-01T00:00:00Z' };
    },
    forgetPod: (uid) => void forgotten.push(uid),
  };
  return {
    source,
    configMaps,
    secrets,
    tokenCalls,
    forgotten,
    setToken: (t: string) => void (token = t),
    setFailTokens: (f: boolean) => void (failTokens = f),
  };
}

/** A mounter that only records (the folders stay plain folders). */
function fakeMounter(): Mounter & { mounts: string[]; unmounts: string[] } {
  const mounts: string[] = [];
  const unmounts: string[] = [];
  return {
    mounts,
    unmounts,
    mountTmpfs: async (dir) => {
      if (!mounts.includes(dir)) mounts.push(dir);
    },
    bindMount: async (_source, target) => void mounts.push(target),
    mountPointsUnder: async (dir) => mounts.filter((m) => m.startsWith(`${dir}/`) && !unmounts.includes(m)),
    unmount: async (dir) => void unmounts.push(dir),
  };
}

async function setup(standalone = false) {
  const rootDir = await mkdtemp(path.join(tmpdir(), 'volumes-'));
  const src = fakeSource();
  const mounter = fakeMounter();
  const vm = new VolumeManager({ source: standalone ? null : src.source, mounter, logger: silentLogger, config: { rootDir, allocatable: { cpu: '2', memory: '4Gi' } } });
  return { rootDir, src, mounter, vm, cleanup: () => rm(rootDir, { recursive: true, force: true }) };
}

const signal = (): AbortSignal => AbortSignal.timeout(5_000);

const app: Container = {
  name: 'app',
  volumeMounts: [
    { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    { name: 'cfg', mountPath: '/etc/cfg' },
    { name: 'sec', mountPath: '/etc/sec' },
    { name: 'info', mountPath: '/etc/info' },
    { name: 'scratch', mountPath: '/scratch' },
  ],
};

const pod = (extra: Partial<Pod['spec']> = {}, containers: Container[] = [app]): Pod => ({
  metadata: { name: 'web', namespace: 'prod', uid: 'uid-1', labels: { app: 'web' } },
  spec: {
    serviceAccountName: 'builder',
    containers,
    volumes: [
      {
        name: 'kube-api-access-abcde',
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
      { name: 'cfg', configMap: { name: 'app-config', defaultMode: 0o640, items: [{ key: 'app.yaml', path: 'conf/app.yaml' }] } },
      { name: 'sec', secret: { secretName: 'app-secret', defaultMode: 0o400 } },
      { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
      { name: 'scratch', emptyDir: {} },
    ],
    ...extra,
  },
});

function fillObjects(src: ReturnType<typeof fakeSource>): void {
  src.configMaps.set('prod/kube-root-ca.crt', { data: { 'ca.crt': 'CA-PEM' } });
  src.configMaps.set('prod/app-config', { data: { 'app.yaml': 'level: debug' } });
  src.secrets.set('prod/app-secret', { data: { password: b64('hunter2') } });
}

test('containerMounts: projected service-account, configMap, secret, downwardAPI and emptyDir volumes', async () => {
  const { rootDir, src, mounter, vm, cleanup } = await setup();
  try {
    fillObjects(src);
    const mounts = await vm.containerMounts(pod(), app, signal());
    const vols = `${rootDir}/pods/uid-1/volumes`;
    assert.deepEqual(
      mounts.map((m) => [m.container_path, m.host_path, m.readonly]),
      [
        ['/var/run/secrets/kubernetes.io/serviceaccount', `${vols}/kubernetes.io~projected/kube-api-access-abcde`, true],
        ['/etc/cfg', `${vols}/kubernetes.io~configmap/cfg`, true],
        ['/etc/sec', `${vols}/kubernetes.io~secret/sec`, true],
        ['/etc/info', `${vols}/kubernetes.io~downward-api/info`, true],
        ['/scratch', `${vols}/kubernetes.io~empty-dir/scratch`, false],
      ],
    );
    const sa = `${vols}/kubernetes.io~projected/kube-api-access-abcde`;
    assert.equal(await readFile(`${sa}/token`, 'utf8'), 'token-1');
    assert.equal(await readFile(`${sa}/ca.crt`, 'utf8'), 'CA-PEM');
    assert.equal(await readFile(`${sa}/namespace`, 'utf8'), 'prod');
    assert.equal(await readlink(`${sa}/token`), '..data/token');
    assert.deepEqual(src.tokenCalls, [{ ns: 'prod', sa: 'builder', opts: { audiences: [], expirationSeconds: 3607, boundPod: { name: 'web', uid: 'uid-1' } } }]);
    assert.equal(await readFile(`${vols}/kubernetes.io~configmap/cfg/conf/app.yaml`, 'utf8'), 'level: debug');
    assert.equal((await stat(`${vols}/kubernetes.io~configmap/cfg/conf/app.yaml`)).mode & 0o777, 0o640);
    assert.equal(await readFile(`${vols}/kubernetes.io~secret/sec/password`, 'utf8'), 'hunter2');
    assert.equal((await stat(`${vols}/kubernetes.io~secret/sec/password`)).mode & 0o777, 0o400);
    assert.equal(await readFile(`${vols}/kubernetes.io~downward-api/info/labels`, 'utf8'), 'app="web"');
    assert.ok((await stat(`${vols}/kubernetes.io~empty-dir/scratch`)).isDirectory());
    // Secrets and tokens on tmpfs; configMap and downwardAPI on disk.
    assert.deepEqual(mounter.mounts.sort(), [sa, `${vols}/kubernetes.io~secret/sec`].sort());
  } finally {
    await cleanup();
  }
});

test('containerMounts: a missing object is a VolumeSetUpError with the FailedMount message; optional is empty', async () => {
  const { rootDir, src, vm, cleanup } = await setup();
  try {
    fillObjects(src);
    src.configMaps.delete('prod/app-config');
    const c: Container = { name: 'c', volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }] };
    await assert.rejects(vm.containerMounts(pod({}, [c]), c, signal()), (err: unknown) => err instanceof VolumeSetUpError && err.volume === 'cfg' && err.message === 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found');
    await assert.rejects(lstat(`${rootDir}/pods/uid-1/volumes/kubernetes.io~configmap/cfg`), { code: 'ENOENT' }, 'nothing is created before the data is there');

    const p = pod({}, [c]);
    p.spec!.volumes = [{ name: 'cfg', configMap: { name: 'app-config', optional: true } }];
    const [m] = await vm.containerMounts(p, c, signal());
    assert.deepEqual((await readdir(m?.host_path ?? '')).filter((n) => !n.startsWith('..')), []);

    // A missing key, a token that cannot be had.
    src.configMaps.set('prod/app-config', { data: {} });
    await assert.rejects(vm.containerMounts(pod({}, [c]), c, signal()), /MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: app.yaml/);
    src.setFailTokens(true);
    const sa: Container = { name: 's', volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/sa' }] };
    await assert.rejects(vm.containerMounts(pod({}, [sa]), sa, signal()), /MountVolume.SetUp failed for volume "kube-api-access-abcde" : apiserver down/);
  } finally {
    await cleanup();
  }
});

test('containerMounts: paths from keys and items cannot leave the volume', async () => {
  const { rootDir, src, vm, cleanup } = await setup();
  try {
    const c: Container = { name: 'c', volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }] };
    const cases: [Volume[], RegExp][] = [
      [[{ name: 'cfg', configMap: { name: 'x', items: [{ key: 'k', path: '../../../../etc/evil' }] } }], /must not contain '\.\.'/],
      [[{ name: 'cfg', configMap: { name: 'x', items: [{ key: 'k', path: '/etc/evil' }] } }], /must be relative path/],
      [[{ name: 'cfg', configMap: { name: 'x', items: [{ key: 'k', path: '..data/evil' }] } }], /must not start with '\.\.'/],
      [[{ name: 'cfg', downwardAPI: { items: [{ path: 'a/../../b', fieldRef: { fieldPath: 'metadata.name' } }] } }], /must not contain '\.\.'/],
    ];
    src.configMaps.set('prod/x', { data: { k: 'v' } });
    for (const [volumes, msg] of cases) {
      const p = pod({}, [c]);
      p.spec!.volumes = volumes;
      await assert.rejects(vm.containerMounts(p, c, signal()), (err: unknown) => err instanceof VolumeSetUpError && msg.test(err.message), msg.source);
    }
    await assert.rejects(lstat(`${rootDir}/etc`), { code: 'ENOENT' });
    await assert.rejects(lstat(`${rootDir}/pods/uid-1/volumes/kubernetes.io~configmap/etc`), { code: 'ENOENT' });
  } finally {
    await cleanup();
  }
});

test('containerMounts: standalone, API-backed volumes are Unsupported; downwardAPI works', async () => {
  const { vm, cleanup } = await setup(true);
  try {
    const c = (name: string): Container => ({ name: 'c', volumeMounts: [{ name, mountPath: '/m' }] });
    await assert.rejects(vm.containerMounts(pod(), c('cfg'), signal()), (err: unknown) => isUnsupported(err) && /needs an API server/.test((err as Error).message));
    await assert.rejects(vm.containerMounts(pod(), c('sec'), signal()), isUnsupported);
    await assert.rejects(vm.containerMounts(pod(), c('kube-api-access-abcde'), signal()), (err: unknown) => isUnsupported(err) && /projected serviceAccountToken source needs an API server/.test((err as Error).message));
    const [m] = await vm.containerMounts(pod(), c('info'), signal());
    assert.equal(await readFile(`${m?.host_path ?? ''}/labels`, 'utf8'), 'app="web"');
    const p = pod();
    p.spec!.volumes!.push({ name: 'remote', nfs: { server: 'nfs.example', path: '/export' } });
    await assert.rejects(vm.containerMounts(p, c('remote'), signal()), (err: unknown) => isUnsupported(err) && /volume type nfs is not supported/.test((err as Error).message));
  } finally {
    await cleanup();
  }
});

test('refreshPod: re-writes set-up volumes (token, configMap, labels); failures keep the old content', async () => {
  const { rootDir, src, vm, cleanup } = await setup();
  try {
    fillObjects(src);
    const only: Container = { name: 'c', volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/sa' }, { name: 'cfg', mountPath: '/cfg' }, { name: 'info', mountPath: '/info' }] };
    const p = pod({}, [only]);
    await vm.containerMounts(p, only, signal());
    const vols = `${rootDir}/pods/uid-1/volumes`;
    const v1 = await readlink(`${vols}/kubernetes.io~projected/kube-api-access-abcde/..data`);

    await vm.refreshPod(p, signal());
    assert.equal(await readlink(`${vols}/kubernetes.io~projected/kube-api-access-abcde/..data`), v1, 'nothing changed: nothing written');

    src.setToken('token-2');
    src.configMaps.set('prod/app-config', { data: { 'app.yaml': 'level: info' } });
    const relabeled: Pod = { ...p, metadata: { ...p.metadata, labels: { app: 'web', v: '2' } } };
    await vm.refreshPod(relabeled, signal());
    assert.equal(await readFile(`${vols}/kubernetes.io~projected/kube-api-access-abcde/token`, 'utf8'), 'token-2');
    assert.equal(await readFile(`${vols}/kubernetes.io~configmap/cfg/conf/app.yaml`, 'utf8'), 'level: info');
    assert.equal(await readFile(`${vols}/kubernetes.io~downward-api/info/labels`, 'utf8'), 'app="web"\nv="2"');
    // The secret volume was never set up (no container mounts it): refresh does not create it.
    await assert.rejects(lstat(`${vols}/kubernetes.io~secret`), { code: 'ENOENT' });

    src.setFailTokens(true);
    src.configMaps.delete('prod/app-config');
    await vm.refreshPod(relabeled, signal());
    assert.equal(await readFile(`${vols}/kubernetes.io~projected/kube-api-access-abcde/token`, 'utf8'), 'token-2');
    assert.equal(await readFile(`${vols}/kubernetes.io~configmap/cfg/conf/app.yaml`, 'utf8'), 'level: info');

    // A new manager (kubelet restart) refreshes what is on disk.
    src.setFailTokens(false);
    src.setToken('token-3');
    const restarted = new VolumeManager({ source: src.source, mounter: fakeMounter(), logger: silentLogger, config: { rootDir } });
    await restarted.refreshPod(relabeled, signal());
    assert.equal(await readFile(`${vols}/kubernetes.io~projected/kube-api-access-abcde/token`, 'utf8'), 'token-3');
  } finally {
    await cleanup();
  }
});

test('tearDownPod: unmounts the tmpfs volumes, removes the folders, forgets the tokens', async () => {
  const { rootDir, src, mounter, vm, cleanup } = await setup();
  try {
    fillObjects(src);
    await vm.containerMounts(pod(), app, signal());
    await vm.tearDownPod('uid-1');
    assert.deepEqual(mounter.unmounts.sort(), mounter.mounts.sort());
    await assert.rejects(lstat(`${rootDir}/pods/uid-1/volumes`), { code: 'ENOENT' });
    assert.deepEqual(src.forgotten, ['uid-1']);
    await vm.tearDownPod('uid-1'); // idempotent
  } finally {
    await cleanup();
  }
});

test('fsGroup: volume files group-owned and group-readable, the token 0640 (root only)', async () => {
  if (process.getuid?.() !== 0) {
    assert.fail('needs root to chown: run the tests as root (npm test does, through scripts/setup.sh)');
  }
  const { rootDir, src, vm, cleanup } = await setup();
  try {
    fillObjects(src);
    const c: Container = { name: 'c', volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/sa' }, { name: 'sec', mountPath: '/sec' }] };
    await vm.containerMounts(pod({ securityContext: { fsGroup: 4321 } }, [c]), c, signal());
    const sa = `${rootDir}/pods/uid-1/volumes/kubernetes.io~projected/kube-api-access-abcde`;
    const token = await stat(`${sa}/token`);
    assert.equal(token.gid, 4321);
    assert.equal(token.mode & 0o777, 0o640);
    const pw = await stat(`${rootDir}/pods/uid-1/volumes/kubernetes.io~secret/sec/password`);
    assert.equal(pw.gid, 4321);
    assert.equal(pw.mode & 0o777, 0o440);
    assert.equal((await stat(sa)).gid, 4321);
  } finally {
    await cleanup();
  }
});

test('hostPath: the host path itself, readOnly and mountPropagation from the volumeMount; type checks fail as FailedMount', async () => {
  const { rootDir, vm, cleanup } = await setup(true);
  try {
    const hostDir = path.join(rootDir, 'host-data');
    const p = pod();
    p.spec!.volumes!.push({ name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } }, { name: 'file', hostPath: { path: hostDir, type: 'File' } });
    const c: Container = {
      name: 'c',
      volumeMounts: [
        { name: 'host', mountPath: '/rw' },
        { name: 'host', mountPath: '/ro', readOnly: true, mountPropagation: 'HostToContainer' },
        { name: 'scratch', mountPath: '/scratch', mountPropagation: 'None' },
      ],
    };
    const mounts = await vm.containerMounts(p, c, signal());
    assert.deepEqual(
      mounts.map((m) => [m.container_path, m.host_path, m.readonly, m.propagation]),
      [
        ['/rw', hostDir, false, 'PROPAGATION_PRIVATE'],
        ['/ro', hostDir, true, 'PROPAGATION_HOST_TO_CONTAINER'],
        ['/scratch', `${rootDir}/pods/uid-1/volumes/kubernetes.io~empty-dir/scratch`, false, 'PROPAGATION_PRIVATE'],
      ],
    );
    assert.ok((await stat(hostDir)).isDirectory(), 'DirectoryOrCreate made it');

    const bidi: Container = { name: 'c', volumeMounts: [{ name: 'host', mountPath: '/b', mountPropagation: 'Bidirectional' }] };
    await assert.rejects(vm.containerMounts(p, bidi, signal()), (err: unknown) => isInvalidInput(err) && (err as Error).message === 'volumeMount "host" of container "c": Bidirectional mount propagation is available only to privileged containers');
    const [m] = await vm.containerMounts(p, { ...bidi, securityContext: { privileged: true } }, signal());
    assert.equal(m?.propagation, 'PROPAGATION_BIDIRECTIONAL');

    const f: Container = { name: 'c', volumeMounts: [{ name: 'file', mountPath: '/f' }] };
    await assert.rejects(vm.setUpVolumes(p, f, signal()), (err: unknown) => err instanceof VolumeSetUpError && err.message === `MountVolume.SetUp failed for volume "file" : hostPath type check failed: ${hostDir} is not a file`);
  } finally {
    await cleanup();
  }
});

test('setUpVolumes then containerMounts: each volume is set up once per container start', async () => {
  const { src, vm, cleanup } = await setup();
  try {
    fillObjects(src);
    let fetches = 0;
    const get = src.source.getConfigMap;
    src.source.getConfigMap = async (ns, name, s) => {
      fetches++;
      return get(ns, name, s);
    };
    const c: Container = { name: 'c', volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] };
    const p = pod({}, [c]);
    await vm.setUpVolumes(p, c, signal());
    await vm.containerMounts(p, c, signal());
    assert.equal(fetches, 1);
    await vm.containerMounts(p, c, signal()); // alone: sets up again
    assert.equal(fetches, 2);
  } finally {
    await cleanup();
  }
});

test('subPath and subPathExpr: made inside the volume and bound per container and index; expansion failures', async () => {
  const { rootDir, mounter, vm, cleanup } = await setup(true);
  try {
    const c: Container = {
      name: 'writer',
      volumeMounts: [
        { name: 'scratch', mountPath: '/all' },
        { name: 'scratch', mountPath: '/mine', subPathExpr: 'pods/$(POD_NAME)' },
        { name: 'scratch', mountPath: '/logs', subPath: 'logs' },
      ],
    };
    const p = pod({}, [c]);
    const mounts = await vm.containerMounts(p, c, signal(), [{ name: 'POD_NAME', value: 'web' }]);
    const pods = `${rootDir}/pods/uid-1`;
    assert.deepEqual(mounts.map((m) => m.host_path), [`${pods}/volumes/kubernetes.io~empty-dir/scratch`, `${pods}/volume-subpaths/scratch/writer/1`, `${pods}/volume-subpaths/scratch/writer/2`]);
    const made = await stat(`${pods}/volumes/kubernetes.io~empty-dir/scratch/pods/web`);
    assert.equal(made.mode & 0o777, 0o777, "the volume's mode");
    assert.ok((await stat(`${pods}/volumes/kubernetes.io~empty-dir/scratch/logs`)).isDirectory());
    assert.deepEqual(mounter.mounts.filter((m) => m.includes('volume-subpaths')), [`${pods}/volume-subpaths/scratch/writer/1`, `${pods}/volume-subpaths/scratch/writer/2`]);

    await assert.rejects(vm.containerMounts(p, c, signal(), []), (err: unknown) => isInvalidInput(err) && (err as Error).message === 'missing value for POD_NAME');
    await assert.rejects(vm.containerMounts(p, c, signal(), [{ name: 'POD_NAME', value: '../../etc' }]), { message: "unable to provision SubPath `pods/../../etc`: must not contain '..'" });
    const abs: Container = { name: 'a', volumeMounts: [{ name: 'scratch', mountPath: '/x', subPath: '/etc' }] };
    await assert.rejects(vm.containerMounts(p, abs, signal()), { message: 'error SubPath `/etc` must not be an absolute path' });

    await vm.tearDownPod('uid-1');
    await assert.rejects(lstat(`${pods}/volume-subpaths`), { code: 'ENOENT' });
    await assert.rejects(lstat(`${pods}/volumes`), { code: 'ENOENT' });
  } finally {
    await cleanup();
  }
});

test('subPath escapes are refused with upstream message; configMap subPaths do not follow updates; tearDownPod unmounts (root only)', async () => {
  if (process.getuid?.() !== 0) {
    assert.fail('needs root to mount: run the tests as root (npm test does, through scripts/setup.sh)');
  }
  const rootDir = await mkdtemp(path.join(tmpdir(), 'volumes-'));
  const src = fakeSource();
  const mounter = new SystemMounter();
  const vm = new VolumeManager({ source: src.source, mounter, logger: silentLogger, config: { rootDir } });
  try {
    fillObjects(src);
    const scratch = `${rootDir}/pods/uid-1/volumes/kubernetes.io~empty-dir/scratch`;
    await vm.containerMounts(pod(), { name: 'init', volumeMounts: [{ name: 'scratch', mountPath: '/s' }] }, signal());
    await symlink('/', `${scratch}/escape`);
    const bad: Container = { name: 'app', volumeMounts: [{ name: 'scratch', mountPath: '/etc-of-host', subPath: 'escape/etc' }] };
    await assert.rejects(vm.containerMounts(pod(), bad, signal()), (err: unknown) => isInvalidInput(err) && (err as Error).message === 'failed to prepare subPath for volumeMount "scratch" of container "app"');
    const madeUnder: Container = { name: 'app', volumeMounts: [{ name: 'scratch', mountPath: '/x', subPath: 'escape/tskubelet-volumes-test' }] };
    await assert.rejects(vm.containerMounts(pod(), madeUnder, signal()), { message: 'failed to create subPath directory for volumeMount "scratch" of container "app"' });
    await assert.rejects(stat('/tskubelet-volumes-test'), { code: 'ENOENT' });
    assert.deepEqual(await mounter.mountPointsUnder(rootDir), []);

    const cfg: Container = { name: 'app', volumeMounts: [{ name: 'cfg', mountPath: '/etc/app.yaml', subPath: 'conf/app.yaml' }] };
    const [m] = await vm.containerMounts(pod(), cfg, signal());
    assert.equal(m?.readonly, true);
    assert.equal(await readFile(m?.host_path ?? '', 'utf8'), 'level: debug');
    src.configMaps.set('prod/app-config', { data: { 'app.yaml': 'level: info' } });
    await vm.refreshPod(pod(), signal());
    assert.equal(await readFile(`${rootDir}/pods/uid-1/volumes/kubernetes.io~configmap/cfg/conf/app.yaml`, 'utf8'), 'level: info');
    assert.equal(await readFile(m?.host_path ?? '', 'utf8'), 'level: debug', 'the subPath mount keeps the file it was made with (upstream)');
    const [again] = await vm.containerMounts(pod(), cfg, signal());
    assert.equal(await readFile(again?.host_path ?? '', 'utf8'), 'level: info', 'a container restart gets the new file');

    await vm.tearDownPod('uid-1');
    assert.deepEqual(await mounter.mountPointsUnder(rootDir), []);
    await assert.rejects(lstat(`${rootDir}/pods/uid-1/volume-subpaths`), { code: 'ENOENT' });
  } finally {
    for (const p of await mounter.mountPointsUnder(rootDir)) await mounter.unmount(p);
    await rm(rootDir, { recursive: true, force: true });
  }
});

test('tearDownPod: throws and keeps the folders while something stays mounted below the pod', async () => {
  const { rootDir, cleanup } = await setup(true);
  try {
    const stuck = `${rootDir}/pods/uid-1/volumes/kubernetes.io~empty-dir/scratch`;
    const mounter: Mounter = {
      mountTmpfs: async () => undefined,
      bindMount: async () => undefined,
      mountPointsUnder: async (dir) => (stuck.startsWith(`${dir}/`) || stuck === dir ? [stuck] : []),
      unmount: async () => undefined, // "succeeds" but the mount stays
    };
    const vm = new VolumeManager({ source: null, mounter, logger: silentLogger, config: { rootDir } });
    await vm.containerMounts(pod(), { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/s' }] }, signal());
    await assert.rejects(vm.tearDownPod('uid-1'), /still mounted below its folder/);
    assert.ok((await stat(stuck)).isDirectory(), 'nothing removed');
  } finally {
    await cleanup();
  }
});

test('cleanupOrphanedPodDirs: tears down and removes the folders of pods not active', async () => {
  const { rootDir, vm, cleanup } = await setup(true);
  try {
    await vm.containerMounts({ ...pod(), metadata: { ...pod().metadata, uid: 'gone' } }, { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/s' }] }, signal());
    await vm.containerMounts(pod(), { name: 'c', volumeMounts: [{ name: 'scratch', mountPath: '/s' }] }, signal());
    assert.deepEqual(await vm.cleanupOrphanedPodDirs(new Set(['uid-1'])), ['gone']);
    assert.deepEqual(await readdir(`${rootDir}/pods`), ['uid-1']);
  } finally {
    await cleanup();
  }
});

// hostPath volumes, volumeMount subPath / subPathExpr and mountPropagation against the real
// containerd (integration, standalone static pods):
//   - hostPath Directory read (read-only) from a container, DirectoryOrCreate making the folder,
//     a File type check failing (ContainerCreating, FailedMount) and retried once the file exists;
//   - subPath into an emptyDir written by an init container and read by another container,
//     subPathExpr with $(POD_NAME) from the downward API;
//   - the escapes: symlinks planted by an init container in an emptyDir (`escape -> /`, and to a
//     sibling pod's volume, absolute and relative) used as subPaths are refused with
//     CreateContainerConfigError; the host's /etc and the sibling's data are never visible;
//   - HostToContainer propagation: a mount made on the host later shows up in the container
//     (and not in a container with the default None).
// The containers print what they see; the test reads their CRI log files under /var/log/pods.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Pod } from '../src/kube/types.ts';
import { parseMountInfo } from '../src/volumes/mounter.ts';
import { BUSYBOX_IMAGE, POD_LOGS_DIR, SLEEP_UNTIL_TERM, assertNodeReady, poll, withKubelet, type Harness } from './harness.ts';

const run = promisify(execFile);

before(assertNodeReady);

/** A container has printed what it prints (image present: seconds), ms. */
const OUTPUT_TIMEOUT_MS = 30_000;
/** A refused container start shows in the status (first sync), ms. */
const STATUS_TIMEOUT_MS = 30_000;

/** The text lines a container printed (CRI log format `<time> <stream> <P|F> <text>`). */
async function containerOutput(pod: Pod, container: string): Promise<string[]> {
  const m = pod.metadata ?? {};
  const text = await readFile(path.join(POD_LOGS_DIR, `${m.namespace}_${m.name}_${m.uid}`, container, '0.log'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(3).join(' '));
}

/** Waits until the container printed DONE; resolves to its lines. */
function waitForOutput(h: Harness, pod: Pod, container: string): Promise<string[]> {
  return poll(
    async () => {
      const lines = await containerOutput(pod, container);
      return lines.includes('DONE') ? lines : undefined;
    },
    OUTPUT_TIMEOUT_MS,
    `${pod.metadata?.name}/${container} to print DONE`,
    () => h.logTail(40),
  );
}

/** A busybox container running `script` with sh -c, then sleeping until SIGTERM. */
function container(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: BUSYBOX_IMAGE, command: ['sh', '-c', `${script}; ${SLEEP_UNTIL_TERM}`], ...extra };
}

/** A static pod manifest (JSON is YAML). */
function manifest(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, ...spec } });
}

/** Mount points of this process's mount table at or below `dir`. */
async function mountsBelow(dir: string): Promise<string[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((p) => p === dir || p.startsWith(`${dir}/`));
}

const waitingOf = (pod: Pod, name: string) =>
  [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((s) => s.name === name)?.state?.waiting;
const runningOf = (pod: Pod, name: string) => !!pod.status?.containerStatuses?.find((s) => s.name === name)?.state?.running;

/** The kubelet's event log records with `reason`. */
const events = (h: Harness, reason: string): string[] => h.logRecords().filter((r) => r.reason === reason).map((r) => String(r.msg));

test('hostPath: Directory read-only, DirectoryOrCreate makes the folder, a File type check fails until the file exists', async (t) => {
  const host = await mkdtemp(path.join(tmpdir(), 'tskubelet-hostpath-'));
  try {
    await withKubelet(t, async (h) => {
      await writeFile(path.join(host, 'greeting'), 'hello from the host');
      const created = path.join(host, 'created/deeper');
      const config = path.join(host, 'conf/app.conf');
      await h.writeManifest('host.yaml', manifest('host', {
        volumes: [
          { name: 'data', hostPath: { path: host, type: 'Directory' } },
          { name: 'made', hostPath: { path: created, type: 'DirectoryOrCreate' } },
        ],
        containers: [
          container('reader', 'echo GREETING=$(cat /host/greeting); touch /host/written 2>/dev/null && echo WRITE=ok || echo WRITE=refused; echo made > /made/by-container; echo DONE', {
            volumeMounts: [{ name: 'data', mountPath: '/host', readOnly: true }, { name: 'made', mountPath: '/made' }],
          }),
        ],
      }));
      await h.writeManifest('file.yaml', manifest('file', {
        volumes: [{ name: 'config', hostPath: { path: config, type: 'File' } }],
        containers: [container('app', 'echo CONFIG=$(cat /etc/app.conf); echo DONE', { volumeMounts: [{ name: 'config', mountPath: '/etc/app.conf', readOnly: true }] })],
      }));

      const pod = await h.waitForPod('host', (p) => runningOf(p, 'reader'), OUTPUT_TIMEOUT_MS, 'reader running');
      const lines = await waitForOutput(h, pod, 'reader');
      assert.ok(lines.includes('GREETING=hello from the host'), JSON.stringify(lines));
      assert.ok(lines.includes('WRITE=refused'), `readOnly: ${JSON.stringify(lines)}`);
      await assert.rejects(stat(path.join(host, 'written')), { code: 'ENOENT' });
      assert.equal(((await stat(created)).mode & 0o777).toString(8), '755', 'DirectoryOrCreate: 0755');
      assert.equal(await readFile(path.join(created, 'by-container'), 'utf8'), 'made\n', 'the host folder itself, no copy');

      // File: the check fails (the folder and the file are missing), the container waits.
      const message = `MountVolume.SetUp failed for volume "config" : hostPath type check failed: ${config} is not a file`;
      const waiting = await h.waitForPod('file', (p) => waitingOf(p, 'app')?.message === message, STATUS_TIMEOUT_MS, 'app waiting on its hostPath');
      assert.equal(waitingOf(waiting, 'app')?.reason, 'ContainerCreating');
      assert.ok(events(h, 'FailedMount').includes(message), 'a FailedMount event');
      await assert.rejects(stat(config), { code: 'ENOENT' }, 'File never creates anything');
      // Retried: once the file is there, the container starts with it.
      await mkdir(path.dirname(config));
      await writeFile(config, 'level=debug');
      const started = await h.waitForPod('file', (p) => runningOf(p, 'app'), OUTPUT_TIMEOUT_MS, 'app running once the file exists');
      assert.ok((await waitForOutput(h, started, 'app')).includes('CONFIG=level=debug'));
    });
  } finally {
    await rm(host, { recursive: true, force: true });
  }
});

test('subPath and subPathExpr: an init container writes below a subPath, other containers read it; $(POD_NAME) from the downward API', (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('sub.yaml', manifest('sub', {
      volumes: [{ name: 'shared', emptyDir: {} }],
      initContainers: [
        {
          name: 'writer',
          image: BUSYBOX_IMAGE,
          command: ['sh', '-c', 'echo from-init > /out/file'],
          volumeMounts: [{ name: 'shared', mountPath: '/out', subPath: 'deep/data' }],
        },
      ],
      containers: [
        container('whole', 'echo WHOLE=$(cat /all/deep/data/file); echo DONE', { volumeMounts: [{ name: 'shared', mountPath: '/all' }] }),
        container('sub', 'echo SUB=$(cat /in/file); echo ENTRIES=$(ls /in | tr "\\n" " "); echo DONE', { volumeMounts: [{ name: 'shared', mountPath: '/in', subPath: 'deep/data', readOnly: true }] }),
        container('expr', 'echo mine > /mine/own; echo DONE', {
          env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          volumeMounts: [{ name: 'shared', mountPath: '/mine', subPathExpr: 'per-pod/$(POD_NAME)' }],
        }),
      ],
    }));
    const pod = await h.waitForPod('sub', (p) => ['whole', 'sub', 'expr'].every((c) => runningOf(p, c)), OUTPUT_TIMEOUT_MS, 'all containers running');
    const uid = pod.metadata!.uid!;
    assert.ok((await waitForOutput(h, pod, 'whole')).includes('WHOLE=from-init'));
    const sub = await waitForOutput(h, pod, 'sub');
    assert.ok(sub.includes('SUB=from-init'), JSON.stringify(sub));
    assert.ok(sub.includes('ENTRIES=file'), `the container sees the subPath only: ${JSON.stringify(sub)}`);
    await waitForOutput(h, pod, 'expr');
    const volume = path.join(h.rootDir, 'pods', uid, 'volumes/kubernetes.io~empty-dir/shared');
    assert.equal(await readFile(path.join(volume, 'per-pod', h.podName('sub'), 'own'), 'utf8'), 'mine\n');
    // The bind targets, per container and volumeMount index.
    const subpaths = path.join(h.rootDir, 'pods', uid, 'volume-subpaths/shared');
    assert.deepEqual((await readdir(subpaths)).sort(), ['expr', 'sub', 'writer']);
    assert.equal((await mountsBelow(subpaths)).length, 3);

    await h.removeManifest('sub.yaml');
    await h.waitFor((pods) => !pods.some((p) => p.metadata?.uid === uid), 30_000, 'the pod gone');
    await poll(async () => (await mountsBelow(path.join(h.rootDir, 'pods', uid))).length === 0 && (await stat(path.join(h.rootDir, 'pods', uid)).catch(() => null)) === null, 30_000, 'no mount and no folder left of the pod');
  }));

test('subPath escapes through planted symlinks are refused: the host and a sibling pod stay invisible', (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('victim.yaml', manifest('victim', {
      volumes: [{ name: 'data', emptyDir: {} }],
      containers: [container('holder', 'echo TOP-SECRET > /data/secret; echo DONE', { volumeMounts: [{ name: 'data', mountPath: '/data' }] })],
    }));
    const victim = await h.waitForPod('victim', (p) => runningOf(p, 'holder'), OUTPUT_TIMEOUT_MS, 'victim running');
    await waitForOutput(h, victim, 'holder');
    const victimUid = victim.metadata!.uid!;
    const victimVolume = path.join(h.rootDir, 'pods', victimUid, 'volumes/kubernetes.io~empty-dir/data');

    const plant = [
      'ln -s / /vol/escape',
      `ln -s ${victimVolume} /vol/sibling`,
      `ln -s ../../../../${victimUid}/volumes/kubernetes.io~empty-dir/data /vol/sibling-rel`,
      'mkdir -p /vol/honest',
      'echo fine > /vol/honest/file',
    ].join(' && ');
    const thief = (name: string, subPath: string): Record<string, unknown> =>
      container(name, 'echo SEEN-HOSTNAME=$(cat /stolen/hostname 2>&1); echo SEEN-SECRET=$(cat /stolen/secret 2>&1); echo DONE', { volumeMounts: [{ name: 'vol', mountPath: '/stolen', subPath }] });
    await h.writeManifest('thief.yaml', manifest('thief', {
      volumes: [{ name: 'vol', emptyDir: {} }],
      initContainers: [{ name: 'plant', image: BUSYBOX_IMAGE, command: ['sh', '-c', plant], volumeMounts: [{ name: 'vol', mountPath: '/vol' }] }],
      containers: [
        thief('etc', 'escape/etc'),
        thief('root', 'escape'),
        thief('sibling', 'sibling'),
        thief('sibling-rel', 'sibling-rel'),
        container('honest', 'echo HONEST=$(cat /data/file); echo DONE', { volumeMounts: [{ name: 'vol', mountPath: '/data', subPath: 'honest' }] }),
      ],
    }));
    const thieves = ['etc', 'root', 'sibling', 'sibling-rel'];
    const refused = await h.waitForPod(
      'thief',
      (p) => runningOf(p, 'honest') && thieves.every((c) => waitingOf(p, c)?.reason === 'CreateContainerConfigError'),
      STATUS_TIMEOUT_MS,
      'honest running, every thief waiting with CreateContainerConfigError',
    );
    for (const c of thieves) {
      assert.equal(waitingOf(refused, c)?.message, `failed to prepare subPath for volumeMount "vol" of container "${c}"`, c);
      assert.ok(events(h, 'Failed').includes(`Error: failed to prepare subPath for volumeMount "vol" of container "${c}"`), `a Failed event for ${c}`);
    }
    assert.ok((await waitForOutput(h, refused, 'honest')).includes('HONEST=fine'), 'a subPath inside the volume works in the same pod');

    // Never started: no container in the runtime, no log, no bind target.
    const uid = refused.metadata!.uid!;
    const rt = await h.runtimePod(uid);
    assert.deepEqual(rt.containers.map((c) => c.name).sort(), ['honest', 'plant']);
    for (const c of thieves) await assert.rejects(containerOutput(refused, c), { code: 'ENOENT' });
    const subpaths = path.join(h.rootDir, 'pods', uid, 'volume-subpaths');
    assert.deepEqual(await mountsBelow(subpaths), [path.join(subpaths, 'vol/honest/0')]);
    // Still refused on the retries (10 s apart), and the victim's data untouched.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const later = (await h.getPod('thief'))!;
    for (const c of thieves) assert.equal(waitingOf(later, c)?.reason, 'CreateContainerConfigError', `${c} after a retry`);
    assert.equal(await readFile(path.join(victimVolume, 'secret'), 'utf8'), 'TOP-SECRET\n');
  }));

test('mountPropagation HostToContainer: a mount made on the host later shows in the container, not with None', async (t) => {
  // containerd wants the host path on a shared (or slave) mount: make a shared bind of a temp folder.
  const host = await mkdtemp(path.join(tmpdir(), 'tskubelet-propagation-'));
  await run('mount', ['--bind', host, host]);
  await run('mount', ['--make-shared', host]);
  try {
    await withKubelet(t, async (h) => {
      const watch = (label: string): string =>
        `while [ ! -e /host/ready ]; do sleep 0.2; done; echo ${label}=$(cat /host/sub/file 2>/dev/null || echo missing); echo DONE`;
      await h.writeManifest('prop.yaml', manifest('prop', {
        volumes: [{ name: 'host', hostPath: { path: host, type: 'Directory' } }],
        containers: [
          container('slave', watch('SLAVE'), { volumeMounts: [{ name: 'host', mountPath: '/host', mountPropagation: 'HostToContainer' }] }),
          container('private', watch('PRIVATE'), { volumeMounts: [{ name: 'host', mountPath: '/host' }] }),
        ],
      }));
      const pod = await h.waitForPod('prop', (p) => runningOf(p, 'slave') && runningOf(p, 'private'), OUTPUT_TIMEOUT_MS, 'both running');
      await mkdir(path.join(host, 'sub'));
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(host, 'sub')]);
      await writeFile(path.join(host, 'sub/file'), 'propagated');
      await writeFile(path.join(host, 'ready'), '');
      assert.ok((await waitForOutput(h, pod, 'slave')).includes('SLAVE=propagated'));
      assert.ok((await waitForOutput(h, pod, 'private')).includes('PRIVATE=missing'));
    });
  } finally {
    for (const p of (await mountsBelow(host)).sort((a, b) => b.length - a.length)) await run('umount', ['-l', p]).catch(() => undefined);
    await rm(host, { recursive: true, force: true });
  }
});

// Resource management on the real runtime (integration): the QoS cgroup hierarchy with the pod
// cgroups and their limits (cgroupfs, cgroup v1 here; v2 files where they exist), the containers'
// oom_score_adj, a container over its memory limit OOMKilled and restarted, the pod cgroup gone
// with its pod; and in cluster mode, node memory pressure: a BestEffort pod evicted before a
// Burstable one within its requests, the MemoryPressure condition and its taint.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { getContainerOOMScoreAdjust } from '../src/cm/resources.ts';
import { SLEEP_UNTIL_TERM, BUSYBOX_IMAGE, assertNodeReady, containerIdOf, poll, withKubelet } from './harness.ts';
import { ClusterNode, busybox, nodeCondition } from './cluster-harness.ts';

const CGROUP = '/sys/fs/cgroup';
const START_TIMEOUT_MS = 60_000;
const Mi = 1024 * 1024;

before(assertNodeReady);

/** The cgroup folder of a controller: v1 per-controller hierarchy, or the v2 unified one. */
async function controllerDir(controller: 'cpu' | 'memory' | 'pids'): Promise<{ dir: string; v2: boolean }> {
  try {
    await access(path.join(CGROUP, 'cgroup.controllers'));
    return { dir: CGROUP, v2: true };
  } catch {
    return { dir: path.join(CGROUP, controller), v2: false };
  }
}

async function cgroupFile(controller: 'cpu' | 'memory' | 'pids', cgroup: string, v1File: string, v2File: string): Promise<string> {
  const { dir, v2 } = await controllerDir(controller);
  return (await readFile(path.join(dir, cgroup, v2 ? v2File : v1File), 'utf8')).trim();
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

async function memTotal(): Promise<number> {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m![1]) * 1024;
}

const manifest = (name: string, containers: string, extra = ''): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
${extra}  containers:
${containers}`;

const container = (name: string, resources: string, command = SLEEP_UNTIL_TERM): string => `  - name: ${name}
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(command)}]
    resources:
${resources}`;

test('QoS cgroups: pod cgroups made with their limits, containers with theirs and their oom_score_adj, removed with the pod', { timeout: 180_000 }, (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('guaranteed.yaml', manifest('guaranteed', container('main', `      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: 250m, memory: 64Mi}
`)));
    await h.writeManifest('burstable.yaml', manifest('burstable', container('main', `      requests: {cpu: 100m, memory: 32Mi}
      limits: {memory: 128Mi}
`)));
    await h.writeManifest('besteffort.yaml', manifest('besteffort', container('main', '      {}\n')));
    const running = (p: Pod): boolean => p.status?.phase === 'Running' && !!p.status.containerStatuses?.[0]?.state?.running;
    const g = await h.waitForPod('guaranteed', running, START_TIMEOUT_MS, 'Running');
    const b = await h.waitForPod('burstable', running, START_TIMEOUT_MS, 'Running');
    const e = await h.waitForPod('besteffort', running, START_TIMEOUT_MS, 'Running');
    assert.equal(g.status?.qosClass, 'Guaranteed');
    assert.equal(b.status?.qosClass, 'Burstable');
    assert.equal(e.status?.qosClass, 'BestEffort');
    const gCg = `/kubepods/pod${g.metadata!.uid}`;
    const bCg = `/kubepods/burstable/pod${b.metadata!.uid}`;
    const eCg = `/kubepods/besteffort/pod${e.metadata!.uid}`;
    const { v2 } = await controllerDir('cpu');
    t.diagnostic(`cgroup ${v2 ? 'v2' : 'v1'}; guaranteed pod cgroup ${gCg}`);
    const shares = (cg: string): Promise<string> => cgroupFile('cpu', cg, 'cpu.shares', 'cpu.weight');
    const quota = async (cg: string): Promise<string> => v2 ? (await cgroupFile('cpu', cg, '', 'cpu.max')).split(' ')[0]! : cgroupFile('cpu', cg, 'cpu.cfs_quota_us', '');
    const memLimit = (cg: string): Promise<string> => cgroupFile('memory', cg, 'memory.limit_in_bytes', 'memory.max');
    const pidsMax = (cg: string): Promise<string> => cgroupFile('pids', cg, 'pids.max', 'pids.max');
    const unlimitedMemory = (text: string): boolean => text === 'max' || Number(text) > 2 ** 62;

    // Pod level (made by tskubelet before the sandbox: the runtime never sets pids.max or a pod memory limit).
    assert.equal(await shares(gCg), v2 ? '10' : '256');
    assert.equal(await quota(gCg), '25000');
    assert.equal(await memLimit(gCg), String(64 * Mi));
    assert.equal(await pidsMax(gCg), '100');
    assert.equal(await shares(bCg), v2 ? '4' : '102');
    assert.ok(['-1', 'max'].includes(await quota(bCg)), 'a Burstable pod without cpu limits has no CFS quota');
    assert.equal(await memLimit(bCg), String(128 * Mi), 'every container limits memory: the pod cgroup does');
    assert.equal(await pidsMax(bCg), '100');
    assert.equal(await shares(eCg), v2 ? '1' : '2');
    assert.ok(unlimitedMemory(await memLimit(eCg)));

    // QoS level: burstable = the Burstable pods' cpu requests (100m), besteffort = 2; kubepods = node allocatable.
    assert.equal(await shares('/kubepods/burstable'), v2 ? '4' : '102');
    assert.equal(await shares('/kubepods/besteffort'), v2 ? '1' : '2');
    assert.equal(await memLimit('/kubepods'), String(await memTotal()), 'kubepods is limited to node allocatable (capacity: nothing reserved)');

    // Container level, in its cgroup below the pod's (the runtime's, from the CRI resources).
    const gId = containerIdOf(g.status!.containerStatuses![0]!.containerID);
    const bId = containerIdOf(b.status!.containerStatuses![0]!.containerID);
    assert.equal(await memLimit(`${gCg}/${gId}`), String(64 * Mi));
    assert.equal(await quota(`${gCg}/${gId}`), '25000');
    assert.equal(await memLimit(`${bCg}/${bId}`), String(128 * Mi));
    assert.equal(await shares(`${bCg}/${bId}`), v2 ? '4' : '102');

    // oom_score_adj: Burstable 1000 - 1000 × request / capacity; Guaranteed -997, which this
    // kernel refuses: the runtime clamps it, and tskubelet says so once, not per pod.
    const pidOf = async (cg: string): Promise<number> => Number((await cgroupFile('memory', cg, 'cgroup.procs', 'cgroup.procs')).split('\n')[0]);
    const oomOf = async (cg: string): Promise<number> => Number((await readFile(`/proc/${await pidOf(cg)}/oom_score_adj`, 'utf8')).trim());
    const bSpec = b.spec!.containers[0]!;
    assert.equal(await oomOf(`${bCg}/${bId}`), getContainerOOMScoreAdjust(b, bSpec, await memTotal()));
    const gOom = await oomOf(`${gCg}/${gId}`);
    const refusals = h.logRecords().filter((r) => String(r.msg).includes('refuses negative oom_score_adj'));
    if (gOom === -997) assert.equal(refusals.length, 0);
    else {
      t.diagnostic(`the Guaranteed container's oom_score_adj is ${gOom} (the kernel refused -997)`);
      assert.equal(refusals.length, 1, 'the refusal is logged once, at start');
    }

    // Removing a pod removes its cgroup, and the burstable shares follow.
    await h.removeManifest('burstable.yaml');
    const { dir: memDir } = await controllerDir('memory');
    await poll(async () => !(await exists(path.join(memDir, bCg))), 40_000, 'the burstable pod cgroup to be removed');
    const { dir: cpuDir } = await controllerDir('cpu');
    assert.equal(await exists(path.join(cpuDir, bCg)), false);
    await poll(async () => (await shares('/kubepods/burstable')) === (v2 ? '1' : '2'), 10_000, 'the burstable shares to drop back to the minimum');
    await h.removeManifest('guaranteed.yaml');
    await h.removeManifest('besteffort.yaml');
    await poll(async () => !(await exists(path.join(memDir, gCg))) && !(await exists(path.join(memDir, eCg))), 40_000, 'the other pod cgroups to be removed');
  }, { extraArgs: ['--pod-max-pids=100'] }));

test('a container over its memory limit is OOMKilled (exit code 137) and restarted', { timeout: 120_000 }, (t) =>
  withKubelet(t, async (h) => {
    // dd's 64 MiB buffer does not fit in 16 MiB: the kernel kills it (it is the container's process).
    await h.writeManifest('oom.yaml', `
apiVersion: v1
kind: Pod
metadata:
  name: oom
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: ${BUSYBOX_IMAGE}
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
    resources:
      limits: {memory: 16Mi}
`);
    const pod = await h.waitForPod('oom', (p) => {
      const s = p.status?.containerStatuses?.[0];
      return (s?.restartCount ?? 0) >= 1 && s?.lastState?.terminated?.reason === 'OOMKilled';
    }, 60_000, 'OOMKilled and restarted');
    const s = pod.status!.containerStatuses![0]!;
    assert.equal(s.lastState?.terminated?.exitCode, 137);
    assert.equal(s.lastState?.terminated?.reason, 'OOMKilled');
    assert.equal(pod.status?.phase, 'Running', 'restartPolicy Always: the pod keeps running');
  }));

/** Builds an empty image with a config of its own (a unique image ID) and pushes it to the local registry. */
async function pushUniqueImage(ref: string): Promise<void> {
  const run = promisify(execFile);
  const dir = await mkdtemp(path.join(tmpdir(), 'gc-image-'));
  try {
    await run('umoci', ['init', '--layout', `${dir}/oci`]);
    await run('umoci', ['new', '--image', `${dir}/oci:gc`]);
    await run('umoci', ['config', '--image', `${dir}/oci:gc`, '--config.label', `tskubelet.test=${randomBytes(8).toString('hex')}`, '--config.cmd', '/bin/true']);
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${dir}/oci:gc`, `docker://${ref}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('disk pressure: node-level reclaim removes an unused image, never one in use', { timeout: 180_000 }, (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('user.yaml', manifest('user', container('main', '      {}\n')));
    await h.waitForPod('user', (p) => p.status?.phase === 'Running', START_TIMEOUT_MS, 'Running');
    const unused = '127.0.0.1:5000/gc-test:latest';
    await pushUniqueImage(unused);
    await h.cri.pullImage(unused, undefined, undefined);
    assert.ok(await h.cri.imageStatus(unused), 'the unused image is there');
    // imagefs.available<99% holds at once: DiskPressure; the eviction manager reclaims node-level
    // resources first (dead containers, unused images) and cannot evict the (critical) static pod.
    await poll(async () => (await h.cri.imageStatus(unused)) === null, 60_000, 'the unused image to be removed', () => h.logTail(30));
    assert.ok(await h.cri.imageStatus(BUSYBOX_IMAGE), 'the image in use stays');
    assert.equal((await h.getPod('user'))?.status?.phase, 'Running');
    assert.ok(h.logRecords().some((r) => r.msg === 'Removing image to free bytes'));
  }, { extraArgs: ['--eviction-hard=imagefs.available<99%', '--minimum-image-ttl-duration=0s'] }));

// --- node memory pressure (cluster mode: the Node's condition and taint, API pods) -------------

/** The node's available memory as the eviction manager sees it: MemTotal − root cgroup working set. */
async function availableMemory(): Promise<number> {
  const total = await memTotal();
  const { dir, v2 } = await controllerDir('memory');
  if (v2) {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
    return Number(m![1]) * 1024;
  }
  const usage = Number((await readFile(path.join(dir, 'memory.usage_in_bytes'), 'utf8')).trim());
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(await readFile(path.join(dir, 'memory.stat'), 'utf8'))?.[1] ?? 0);
  return total - (usage - inactive);
}

let cluster: ClusterNode | undefined;

/** The cluster node of the eviction tests, started once with a memory.available threshold. */
async function clusterNode(thresholdMi: number): Promise<ClusterNode> {
  if (cluster) return cluster;
  cluster = await ClusterNode.create({ extraArgs: [`--eviction-hard=memory.available<${thresholdMi}Mi`, '--eviction-pressure-transition-period=30s'] });
  await cluster.start();
  await cluster.waitForNodeReady();
  return cluster;
}
/** The BestEffort pod fills FILL MiB; the threshold is MARGIN MiB below the memory available at start (other work on a shared 2-core machine moves it by a GiB or so). */
const FILL_MIB = 5120;
const MARGIN_MIB = 3072;

after(async () => {
  await cluster?.cleanup();
});

test('memory pressure: a BestEffort pod is evicted before a Burstable one within its requests; MemoryPressure and its taint', { timeout: 300_000 }, async (t) => {
  // The threshold sits MARGIN below what is available now: the kubelet and the pods' own small
  // usage stay above it; the BestEffort pod's FILL (a memory-backed emptyDir) crosses it.
  const thresholdMi = Math.floor((await availableMemory()) / Mi) - MARGIN_MIB;
  t.diagnostic(`eviction threshold memory.available<${thresholdMi}Mi`);
  const n = await clusterNode(thresholdMi);
  await n.inNamespace(t, 'evict', async (ns) => {
    await n.createPod(ns, 'within', {
      terminationGracePeriodSeconds: 1,
      containers: [busybox('main', SLEEP_UNTIL_TERM, { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } } })],
    });
    const running = (p: Pod): boolean => p.status?.phase === 'Running';
    await n.waitForPod(ns, 'within', running, START_TIMEOUT_MS, 'Running');
    await n.createPod(ns, 'hog', {
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: 'mem', emptyDir: { medium: 'Memory' } }],
      containers: [busybox('fill', `dd if=/dev/zero of=/mem/fill bs=1M count=${FILL_MIB} && echo filled; ${SLEEP_UNTIL_TERM}`, { volumeMounts: [{ name: 'mem', mountPath: '/mem' }] })],
    });
    const evicted = await n.waitForPod(ns, 'hog', (p) => p.status?.phase === 'Failed', 120_000, 'evicted (Failed)');
    const within = await n.getPod(ns, 'within');
    assert.equal(within?.status?.phase, 'Running', 'the Burstable pod within its requests is still running');
    assert.equal(evicted.status?.reason, 'Evicted');
    assert.match(
      evicted.status?.message ?? '',
      new RegExp(`^The node was low on resource: memory\\. Threshold quantity: ${thresholdMi}Mi, available: \\d+(Ki|Mi|Gi)?\\. Container fill was using \\d+(Ki|Mi|Gi)?, request is 0, has larger consumption of memory\\. $`),
    );
    const disruption = evicted.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
    assert.equal(disruption?.status, 'True');
    assert.equal(disruption?.reason, 'TerminationByKubelet');
    t.diagnostic(evicted.status?.message ?? '');
    const events = await n.events(ns, evicted.metadata?.uid);
    assert.ok(events.some((e) => e.reason === 'Evicted' && e.type === 'Warning'), `an Evicted event: ${JSON.stringify(events.map((e) => e.reason))}`);

    const node = await n.until(async () => {
      const nd = await n.getNode();
      return nodeCondition(nd, 'MemoryPressure') === 'True' ? nd : undefined;
    }, 30_000, 'the Node to report MemoryPressure');
    assert.equal(node.status?.conditions?.find((c) => c.type === 'MemoryPressure')?.reason, 'KubeletHasInsufficientMemory');
    // The node lifecycle controller (not the kubelet) taints the node by condition.
    await n.until(async () => (await n.getNode())?.spec?.taints?.some((x) => x.key === 'node.kubernetes.io/memory-pressure' && x.effect === 'NoSchedule'), 60_000, 'the memory-pressure taint');

    // The evicted pod's containers are stopped and its memory-backed volume torn down: the
    // pressure clears after the transition period, and the Burstable pod keeps running.
    await n.until(async () => nodeCondition(await n.getNode(), 'MemoryPressure') === 'False', 90_000, 'MemoryPressure to clear');
    assert.equal((await n.getPod(ns, 'within'))?.status?.phase, 'Running');
  });
});

test('an emptyDir written past its sizeLimit gets its pod evicted', { timeout: 240_000 }, async (t) => {
  const n = await clusterNode(Math.floor((await availableMemory()) / Mi) - MARGIN_MIB);
  await n.inNamespace(t, 'sizelimit', async (ns) => {
    await n.createPod(ns, 'writer', {
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '5Mi' } }],
      containers: [busybox('main', `dd if=/dev/zero of=/scratch/big bs=1M count=20; ${SLEEP_UNTIL_TERM}`, { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] })],
    });
    // Volume usage is measured at most once a minute (upstream volumeStatsAggPeriod).
    const evicted = await n.waitForPod(ns, 'writer', (p) => p.status?.phase === 'Failed', 150_000, 'evicted (Failed)');
    assert.equal(evicted.status?.reason, 'Evicted');
    assert.equal(evicted.status?.message, 'Usage of EmptyDir volume "scratch" exceeds the limit "5Mi". ');
    assert.equal(evicted.status?.containerStatuses?.[0]?.state?.terminated !== undefined, true, 'its container is stopped');
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { FakeClock } from '../common/clock.ts';
import type { Container as CriContainer, ContainerStats as CriContainerStats, PodSandbox, PodSandboxStats, PodSandboxStatsFilter } from '../cri/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { CriStatsProvider, type StatsRuntime } from './provider.ts';

const T0 = 1_795_908_497_000; // ms
const NS = (ms: number): number => ms * 1e6;
const u = (value: number): { value: number } => ({ value });
const UID = 'uid-1';
const POD_CGROUP = `/kubepods/burstable/pod${UID}`;

let dir = '';
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stats-provider-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sandbox(id: string, uid: string, state: PodSandbox['state']): PodSandbox {
  return { id, metadata: { name: `pod-${uid}`, uid, namespace: 'default', attempt: 0 }, state, created_at: NS(T0 - 60_000), labels: {}, annotations: {}, runtime_handler: '' };
}

const busy = {
  id: 'c-busy',
  pod_sandbox_id: 'sb1',
  metadata: { name: 'busy', attempt: 0 },
  image: null,
  image_ref: 'sha256:abc',
  state: 'CONTAINER_RUNNING',
  created_at: NS(T0 - 50_000),
  labels: {},
  annotations: {},
} as unknown as CriContainer;

/**
 * containerd 1.6's ListPodSandboxStats: without a filter it reads every sandbox it has, and a
 * stopped one whose pod cgroup is gone fails the whole call; with a filter (even empty) it
 * skips the sandboxes that are not ready. CPU counters move as the fake clock does.
 */
class FakeContainerd implements StatsRuntime {
  readonly filters: (PodSandboxStatsFilter | undefined)[] = [];
  /** Calls of ListPodSandboxStats and ListContainerStats (each wakes every pod's shim). */
  statsCalls = 0;
  containers: CriContainer[] = [busy];
  readonly sandboxes = [sandbox('sb1', UID, 'SANDBOX_READY'), sandbox('sb-old', 'uid-old', 'SANDBOX_NOTREADY')];
  /** ListPodSandboxStats fails whatever the filter (e.g. a container's task gone mid-call). */
  failing = false;
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  /** The pod uses 0.25 cores (busy 0.2 of them) since T0 - 10 s. */
  podCpuNs(): number {
    return (this.clock.now() - T0 + 10_000) * 0.25e6;
  }
  /** busy uses 0.2 cores since T0 - 10 s. */
  busyCpuNs(): number {
    return (this.clock.now() - T0 + 10_000) * 0.2e6;
  }
  private busyStats(): CriContainerStats {
    const t = this.clock.now();
    return {
      attributes: { id: 'c-busy', metadata: { name: 'busy', attempt: 0 }, labels: {}, annotations: {} },
      cpu: { timestamp: NS(t), usage_core_nano_seconds: u(this.busyCpuNs()), usage_nano_cores: u(0), psi: null },
      memory: { timestamp: NS(t), working_set_bytes: u(1_000_000), available_bytes: u(0), usage_bytes: u(1_000_000), rss_bytes: u(1024), page_faults: u(1), major_page_faults: u(0), psi: null },
      writable_layer: null,
      swap: null,
      io: null,
    } as unknown as CriContainerStats;
  }
  listPodSandbox(): Promise<PodSandbox[]> {
    return Promise.resolve(this.sandboxes);
  }
  listContainers(): Promise<CriContainer[]> {
    return Promise.resolve(this.containers);
  }
  listContainerStats(): Promise<CriContainerStats[]> {
    this.statsCalls++;
    return Promise.resolve([this.busyStats()]);
  }
  listPodSandboxStats(filter?: PodSandboxStatsFilter): Promise<PodSandboxStats[]> {
    this.filters.push(filter);
    this.statsCalls++;
    if (this.failing) return Promise.reject(new Error('CRI ListPodSandboxStats: failed to decode sandbox container metrics for sandbox "sb1": not found'));
    const stopped = this.sandboxes.find((s) => s.state !== 'SANDBOX_READY');
    if (!filter && stopped) {
      return Promise.reject(new Error(`CRI ListPodSandboxStats: failed to obtain metrics for sandbox "${stopped.id}": failed to load sandbox cgroup: cgroups: cgroup deleted`));
    }
    const t = this.clock.now();
    return Promise.resolve([
      {
        attributes: { id: 'sb1', metadata: this.sandboxes[0]!.metadata, labels: {}, annotations: {} },
        linux: {
          cpu: { timestamp: NS(t), usage_core_nano_seconds: u(this.podCpuNs()), usage_nano_cores: u(0), psi: null },
          memory: { timestamp: NS(t), working_set_bytes: u(3_000_000), available_bytes: u(0), usage_bytes: u(3_000_000), rss_bytes: u(2048), page_faults: u(5), major_page_faults: u(0), psi: null },
          network: null,
          process: { timestamp: NS(t), process_count: u(3) },
          containers: [this.busyStats()],
          io: null,
        },
        windows: null,
      } as unknown as PodSandboxStats,
    ]);
  }
  imageFsInfo(): ReturnType<StatsRuntime['imageFsInfo']> {
    return Promise.resolve({ imageFilesystems: [], containerFilesystems: [] });
  }
  listImages(): ReturnType<StatsRuntime['listImages']> {
    return Promise.resolve([]);
  }
}

/** A cgroup v1 tree (cpu, cpuacct and memory apart, as on this project's CI node) with the pod's cgroup, and a /proc. */
async function fixture(name: string): Promise<{ cgroupMount: string; procRoot: string; rootDir: string; writePodCgroup: (usageNs: number) => Promise<void> }> {
  const base = path.join(dir, name);
  const cgroupMount = path.join(base, 'cgroup');
  const procRoot = path.join(base, 'proc');
  const rootDir = path.join(base, 'root');
  for (const d of [path.join(cgroupMount, 'cpu'), path.join(cgroupMount, 'cpuacct', POD_CGROUP), path.join(cgroupMount, 'memory', POD_CGROUP), procRoot, rootDir]) await mkdir(d, { recursive: true });
  await writeFile(path.join(cgroupMount, 'cpuacct', 'cpuacct.usage'), '1000000000000\n');
  await writeFile(path.join(procRoot, 'meminfo'), 'MemTotal: 4000000 kB\nMemFree: 1000000 kB\n');
  await writeFile(path.join(cgroupMount, 'memory', POD_CGROUP, 'memory.usage_in_bytes'), '5000000\n');
  await writeFile(path.join(cgroupMount, 'memory', POD_CGROUP, 'memory.stat'), 'total_inactive_file 1000000\ntotal_rss 2000000\n');
  await writeFile(path.join(cgroupMount, 'memory', POD_CGROUP, 'memory.limit_in_bytes'), '67108864\n');
  const writePodCgroup = (usageNs: number): Promise<void> => writeFile(path.join(cgroupMount, 'cpuacct', POD_CGROUP, 'cpuacct.usage'), `${usageNs}\n`);
  return { cgroupMount, procRoot, rootDir, writePodCgroup };
}

function provider(runtime: StatsRuntime, clock: FakeClock, fx: { cgroupMount: string; procRoot: string; rootDir: string }): CriStatsProvider {
  return new CriStatsProvider({ runtime, nodeName: 'node-a', rootDir: fx.rootDir, podLogsDir: path.join(fx.rootDir, 'logs'), cgroupRoot: '/', clock, logger: silentLogger, cgroupMount: fx.cgroupMount, procRoot: fx.procRoot });
}

test('a stopped sandbox of another pod does not cost the pods their pod-level stats: the filter is empty, never absent', async () => {
  const clock = new FakeClock(T0);
  const runtime = new FakeContainerd(clock);
  const fx = await fixture('stopped-sandbox');
  await fx.writePodCgroup(1); // not to be used: the runtime answers
  const p = provider(runtime, clock, fx);
  for (const full of [true, false]) {
    await p.summaryMs(undefined, { full });
    clock.advance(3_000);
    const s = await p.summaryMs(undefined, { full });
    const pod = s.pods.find((x) => x.podRef.uid === UID);
    assert.ok(pod, 'the ready pod is listed');
    assert.equal(pod.cpu?.usageNanoCores, 250_000_000, `full=${full}: the pod's rate, from the runtime's pod-level stats`);
    assert.equal(pod.cpu?.usageCoreNanoSeconds, runtime.podCpuNs());
    assert.equal(pod.containers.find((c) => c.name === 'busy')?.cpu?.usageNanoCores, 200_000_000);
    assert.equal(pod.memory?.workingSetBytes, 3_000_000);
    if (full) assert.deepEqual(pod.process_stats, { process_count: 3 });
    assert.equal(s.pods.length, 1, 'the stopped sandbox is not a pod of the summary');
    clock.advance(3_000);
  }
  assert.ok(runtime.filters.length > 0 && runtime.filters.every((f) => f !== undefined), 'ListPodSandboxStats always gets a filter');
});

test('ListPodSandboxStats failing: the pod CPU and memory come from the pod cgroup, and the rate goes on across the two sources', async () => {
  const clock = new FakeClock(T0);
  const runtime = new FakeContainerd(clock);
  const fx = await fixture('failing');
  const p = provider(runtime, clock, fx);
  await p.summaryMs(undefined, { full: false }); // from the runtime
  clock.advance(3_000);
  runtime.failing = true;
  await fx.writePodCgroup(runtime.podCpuNs()); // the same counter the runtime reads (the sandbox's cgroup parent)
  let s = await p.summaryMs(undefined, { full: false });
  let pod = s.pods.find((x) => x.podRef.uid === UID);
  assert.ok(pod);
  assert.equal(pod.cpu?.usageNanoCores, 250_000_000, 'runtime sample, then cgroup sample: one rate');
  assert.equal(pod.cpu?.time, T0 + 3_000);
  assert.deepEqual(pod.memory, { time: T0 + 3_000, availableBytes: 67108864 - 4_000_000, usageBytes: 5_000_000, workingSetBytes: 4_000_000, rssBytes: 2_000_000 });
  assert.equal(pod.containers.find((c) => c.name === 'busy')?.cpu?.usageNanoCores, 200_000_000, 'containers from ListContainerStats');

  clock.advance(2_000);
  await fx.writePodCgroup(runtime.podCpuNs());
  s = await p.summaryMs(undefined, { full: true });
  pod = s.pods.find((x) => x.podRef.uid === UID);
  assert.equal(pod?.cpu?.usageNanoCores, 250_000_000, 'cgroup to cgroup, full summary');
});

test('runtimeStats false: no CRI stats call; pod and container CPU and memory from their cgroups, processes from cgroup.procs', async () => {
  const clock = new FakeClock(T0);
  const runtime = new FakeContainerd(clock);
  const exited = { ...busy, id: 'c-done', metadata: { name: 'done', attempt: 0 }, state: 'CONTAINER_EXITED' } as CriContainer;
  runtime.containers = [busy, exited];
  const fx = await fixture('no-runtime-stats');
  const busyCgroup = `${POD_CGROUP}/c-busy`;
  for (const d of [path.join(fx.cgroupMount, 'cpuacct', busyCgroup), path.join(fx.cgroupMount, 'memory', busyCgroup), path.join(fx.cgroupMount, 'cpuacct', POD_CGROUP, 'sb1')]) await mkdir(d, { recursive: true });
  await writeFile(path.join(fx.cgroupMount, 'memory', busyCgroup, 'memory.usage_in_bytes'), '1500000\n');
  await writeFile(path.join(fx.cgroupMount, 'memory', busyCgroup, 'memory.stat'), 'total_inactive_file 500000\ntotal_rss 1024\n');
  await writeFile(path.join(fx.cgroupMount, 'memory', busyCgroup, 'memory.limit_in_bytes'), '9223372036854771712\n');
  await writeFile(path.join(fx.cgroupMount, 'cpuacct', POD_CGROUP, 'sb1', 'cgroup.procs'), '101\n');
  await writeFile(path.join(fx.cgroupMount, 'cpuacct', busyCgroup, 'cgroup.procs'), '201\n202\n');
  await writeFile(path.join(fx.cgroupMount, 'cpuacct', POD_CGROUP, 'cgroup.procs'), '');
  const writeCounters = async (): Promise<void> => {
    await fx.writePodCgroup(runtime.podCpuNs());
    await writeFile(path.join(fx.cgroupMount, 'cpuacct', busyCgroup, 'cpuacct.usage'), `${runtime.busyCpuNs()}\n`);
  };
  const p = provider(runtime, clock, fx);

  await p.summaryMs(undefined, { full: true }); // the runtime's samples first: the rates go on across the sources
  const calls = runtime.statsCalls;
  assert.ok(calls > 0);
  clock.advance(3_000);
  await writeCounters();
  let s = await p.summaryMs(undefined, { full: true, runtimeStats: false });
  assert.equal(runtime.statsCalls, calls, 'neither ListPodSandboxStats nor ListContainerStats');
  let pod = s.pods.find((x) => x.podRef.uid === UID);
  assert.ok(pod);
  assert.equal(pod.cpu?.usageNanoCores, 250_000_000);
  assert.deepEqual(pod.memory, { time: T0 + 3_000, availableBytes: 67108864 - 4_000_000, usageBytes: 5_000_000, workingSetBytes: 4_000_000, rssBytes: 2_000_000 });
  assert.deepEqual(pod.process_stats, { process_count: 3 }, 'pause 1 + busy 2, as containerd counts its tasks');
  assert.deepEqual(pod.containers.map((c) => c.name).sort(), ['busy', 'done'], 'every container, as the runtime has stats for exited ones too');
  const done = pod.containers.find((x) => x.name === 'done');
  assert.ok(done && !done.cpu && !done.memory, 'an exited container has no cgroup: no CPU or memory');
  const c = pod.containers.find((x) => x.name === 'busy');
  assert.equal(c?.cpu?.usageNanoCores, 200_000_000);
  assert.deepEqual(c?.memory, { time: T0 + 3_000, usageBytes: 1_500_000, workingSetBytes: 1_000_000, rssBytes: 1024 }, 'no limit: no availableBytes');
  assert.equal(c?.rootfs, undefined, 'no writable layer without the runtime');
  assert.equal(c?.logs, undefined);
  assert.equal(pod['ephemeral-storage']?.usedBytes, undefined, 'no volume, no writable layer: nothing counted');

  // CPU and memory only, without the runtime: still no CRI stats call
  clock.advance(2_000);
  await writeCounters();
  s = await p.summaryMs(undefined, { full: false, runtimeStats: false });
  assert.equal(runtime.statsCalls, calls);
  pod = s.pods.find((x) => x.podRef.uid === UID);
  assert.equal(pod?.cpu?.usageNanoCores, 250_000_000);
  assert.equal(pod?.process_stats, undefined);
});

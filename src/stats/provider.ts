// The stats provider behind /stats/summary, /metrics/resource and /metrics/cadvisor (upstream:
// the CRI stats provider with cAdvisor for the host). It reads the runtime's CRI stats, the
// host's cgroups (v1 or v2, cgroupfs layout under <cgroupRoot>/kubepods) and /proc, and the
// filesystems, then hands plain data to the pure builders (summary.ts, resource-metrics.ts,
// cadvisor-metrics.ts). Nothing runs in the background: each call reads what it needs; volume
// disk usage is cached for VOLUME_STATS_PERIOD_MS, as upstream's volume stats are. CRI stats
// calls wake every pod's shim (containerd 1.6 asks each task for its cgroup metrics and pids), so
// a caller that needs no writable-layer usage (the eviction manager, most of the time) passes
// runtimeStats false and gets CPU, memory and processes from the cgroups in-process instead.
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { ImageService, RuntimeService } from '../cri/client.ts';
import type { Container as CriContainer, ContainerStats as CriContainerStats, PodSandbox, PodSandboxStats } from '../cri/types.ts';
import { KUBEPODS_CGROUP } from '../cm/resources.ts';
import { podLogDirectory } from '../logs/paths.ts';
import { readMachineInfo, type MachineInfo } from '../node/machine.ts';
import type { Logger } from '../observability/logger.ts';
import { cadvisorMetricsText, type CadvisorContainer, type CadvisorFilesystem } from './cadvisor-metrics.ts';
import { CGROUP_MOUNT, childCgroups, cgroupPids, cgroupProcessCount, detectCgroupLayout, readCgroup, type CgroupLayout, type CgroupSample } from './cgroup.ts';
import { CpuRateCache } from './cpu-rate.ts';
import {
  TMPFS_MAGIC,
  diskUsage,
  mountOf,
  parseBootTimeMs,
  parseLoadavgProcs,
  parseMeminfo,
  parseMountInfo,
  parseNetDev,
  readFsInfo,
  readText,
  type DiskUsage,
  type FsInfo,
  type InterfaceCounters,
  type MountEntry,
} from './procfs.ts';
import { resourceMetricsText } from './resource-metrics.ts';
import { buildSummary, nsToMs, type ContainerInputs, type HostInputs, type PodInputs, type VolumeInputs } from './summary.ts';
import { toApiSummary, type Summary, type SummaryMs } from './types.ts';

/** How long a volume's measured disk usage is reused, ms (upstream volumeStatsAggPeriod, 1 min). */
export const VOLUME_STATS_PERIOD_MS = 60_000;

/** The CRI calls the provider makes. */
export type StatsRuntime = Pick<RuntimeService, 'listPodSandbox' | 'listContainers' | 'listPodSandboxStats' | 'listContainerStats'> &
  Pick<ImageService, 'imageFsInfo' | 'listImages'>;

export interface StatsProviderDeps {
  runtime: StatsRuntime;
  nodeName: string;
  /** The kubelet root dir (its filesystem is the node's `fs`; pod volumes are under <rootDir>/pods). */
  rootDir: string;
  /** Where container logs are (/var/log/pods). */
  podLogsDir: string;
  /** --cgroup-root ('/' by default): pods are under <cgroupRoot>/kubepods. */
  cgroupRoot: string;
  clock: Clock;
  logger: Logger;
  /** For tests: where the cgroup hierarchies and /proc are. */
  cgroupMount?: string;
  procRoot?: string;
}

/** What a summaryMs call reads. */
export interface SummaryOptions {
  /**
   * true (default): the whole summary (node filesystems, system containers, rlimit, pods'
   * volumes, ephemeral storage, network, processes, containers' logs and writable layers);
   * false: CPU and memory only, as upstream's GetCPUAndMemoryStats (/metrics/resource).
   */
  full?: boolean;
  /**
   * true (default): the pods' and containers' stats come from CRI ListPodSandboxStats (or
   * ListContainerStats), which makes containerd ask every pod's shim for its tasks' metrics.
   * false: no CRI stats call at all; CPU and memory come from the pod and container cgroups,
   * the process count from the pod cgroup's cgroup.procs (upstream's cAdvisor sources), and the
   * containers have no `rootfs` (writable layer) nor `logs`, so a pod's ephemeral-storage counts
   * its volumes only. For the eviction manager when it needs no container disk usage.
   */
  runtimeStats?: boolean;
}

/** The stats the kubelet serves. */
export interface StatsProvider {
  /** /stats/summary. Rejects when the runtime cannot be listed (the server answers 500). */
  summary(signal?: AbortSignal): Promise<Summary>;
  /**
   * The summary with millisecond times (for callers inside the kubelet, e.g. eviction). Rejects
   * when the runtime cannot be listed (ListPodSandbox, ListContainers; ImageFsInfo when full).
   */
  summaryMs(signal?: AbortSignal, options?: SummaryOptions): Promise<SummaryMs>;
  /** /metrics/resource. Never rejects (except on abort): a failure is resource_scrape_error 1. */
  resourceMetrics(signal?: AbortSignal): Promise<string>;
  /** /metrics/cadvisor. Never rejects (except on abort): a runtime failure is container_scrape_error 1. */
  cadvisorMetrics(signal?: AbortSignal): Promise<string>;
}

interface RuntimeView {
  sandboxes: PodSandbox[];
  containers: CriContainer[];
}

interface HostView {
  nowMs: number;
  root: CgroupSample | null;
  meminfo: Record<string, number>;
  bootTimeMs?: number;
}

export class CriStatsProvider implements StatsProvider {
  private readonly deps: StatsProviderDeps;
  private readonly rates = new CpuRateCache();
  private readonly procRoot: string;
  private layout: Promise<CgroupLayout> | null = null;
  private machine: Promise<MachineInfo | null> | null = null;
  private readonly volumeCache = new Map<string, { timeMs: number; usage: Promise<DiskUsage | null> }>();

  constructor(deps: StatsProviderDeps) {
    this.deps = deps;
    this.procRoot = deps.procRoot ?? '/proc';
  }

  async summary(signal?: AbortSignal): Promise<Summary> {
    return toApiSummary(await this.summaryMs(signal, { full: true, runtimeStats: true }));
  }

  async summaryMs(signal?: AbortSignal, options: SummaryOptions = {}): Promise<SummaryMs> {
    const full = options.full ?? true;
    const runtimeStats = options.runtimeStats ?? true;
    const layout = await this.cgroupLayout();
    const [runtime, host] = await Promise.all([this.readRuntime(signal), this.readHost(layout)]);
    const sandboxStats = runtimeStats ? await this.readPodSandboxStats(signal) : { bySandbox: new Map<string, PodSandboxStats>(), containers: [] };
    let podIndex = full ? await this.podCgroups(layout) : null;
    const podCgroupOf = async (uid: string): Promise<string | undefined> => (podIndex ??= await this.podCgroups(layout)).get(uid);
    const hostInputs = full ? await this.readHostFull(layout, host, signal) : this.hostBasics(host);
    const logsFs = full ? await readFsInfo(this.deps.podLogsDir) : null;
    const fsByMount = new Map<string, Promise<FsInfo | null>>();
    const fsOf = (mp: string): Promise<FsInfo | null> => {
      let p = fsByMount.get(mp);
      if (!p) fsByMount.set(mp, (p = readFsInfo(mp)));
      return p;
    };

    const pods: PodInputs[] = [];
    for (const sandbox of latestReadySandboxes(runtime.sandboxes)) {
      signal?.throwIfAborted();
      const meta = sandbox.metadata;
      const uid = meta?.uid ?? '';
      const stats = sandboxStats.bySandbox.get(sandbox.id);
      const containerStats = new Map<string, CriContainerStats>();
      for (const cs of stats?.linux?.containers ?? []) if (cs.attributes) containerStats.set(cs.attributes.id, cs);
      for (const cs of sandboxStats.containers) if (cs.attributes && !containerStats.has(cs.attributes.id)) containerStats.set(cs.attributes.id, cs);
      const containers: ContainerInputs[] = [];
      for (const c of runtime.containers.filter((x) => x.pod_sandbox_id === sandbox.id)) {
        const cs = containerStats.get(c.id);
        const input: ContainerInputs = { container: c, stats: cs };
        if (!runtimeStats) {
          // the container's cgroup (cgroupfs driver: <pod cgroup>/<container ID>); an exited
          // container's is gone (runc removes it), as the runtime then reports no CPU or memory
          const podCgroup = c.state === 'CONTAINER_RUNNING' ? await podCgroupOf(uid) : undefined;
          input.cgroup = podCgroup ? await readCgroup(layout, `${podCgroup}/${c.id}`, this.deps.clock.now()) : null;
        }
        if (full && cs) {
          const mp = cs.writable_layer?.fs_id?.mountpoint;
          input.rootFsInfo = mp ? await fsOf(mp) : null;
          input.logs = await this.containerLogUsage(meta, c.metadata?.name ?? '', signal);
        }
        containers.push(input);
      }
      const pod: PodInputs = { sandbox, stats, containers, volumes: [], logsFs };
      if (!stats?.linux?.cpu || !stats.linux.memory) {
        // No pod-level stats from the runtime (ListPodSandboxStats failed, or left this pod out):
        // the pod cgroup stands in for CPU and memory, as cAdvisor's is upstream's source. It is
        // the cgroup the runtime reads (the sandbox's cgroup parent), so the CPU rate goes on.
        const podCgroup = await podCgroupOf(uid);
        if (podCgroup) pod.cgroup = await readCgroup(layout, podCgroup, this.deps.clock.now());
      }
      if (full) {
        pod.volumes = await this.podVolumes(uid, host.nowMs, signal);
        const podCgroup = await podCgroupOf(uid);
        if (podCgroup) pod.interfaces = await this.netnsInterfaces(layout, `${podCgroup}/${sandbox.id}`);
        if (podCgroup && !stats?.linux?.process?.process_count) pod.processCount = await cgroupProcessCount(layout, podCgroup);
      }
      pods.push(pod);
    }
    const summary = buildSummary({ host: hostInputs, pods }, (key, usage, time) => this.rates.update(key, usage, time), full);
    this.rates.prune(host.nowMs);
    return summary;
  }

  async resourceMetrics(signal?: AbortSignal): Promise<string> {
    let summary: SummaryMs | null = null;
    try {
      summary = await this.summaryMs(signal, { full: false, runtimeStats: true });
    } catch (err) {
      if (isAbort(err) && signal?.aborted) throw err;
      this.deps.logger.error({ component: 'stats', err: errorMessage(err) }, 'Error getting summary for resourceMetric prometheus endpoint');
    }
    return resourceMetricsText(summary);
  }

  async cadvisorMetrics(signal?: AbortSignal): Promise<string> {
    const layout = await this.cgroupLayout();
    const host = await this.readHost(layout);
    const machine = await this.machineInfo();
    const containers: CadvisorContainer[] = [];
    let scrapeError = false;
    const blank = { name: '', image: '', container: '', pod: '', namespace: '' };
    const mounts = parseMountInfo((await readText(path.join(this.procRoot, 'self/mountinfo'))) ?? '');
    if (host.root) {
      const rootFilesystems = await this.hostFilesystems(mounts, signal);
      containers.push({ ...blank, id: '/', sample: host.root, startTimeMs: host.bootTimeMs, interfaces: await this.hostInterfaces(), filesystems: rootFilesystems });
    }
    const kubepods = path.posix.join('/', this.deps.cgroupRoot, KUBEPODS_CGROUP);
    for (const name of [kubepods, `${kubepods}/burstable`, `${kubepods}/besteffort`]) {
      const s = await readCgroup(layout, name, this.deps.clock.now());
      if (s) containers.push({ ...blank, id: name, sample: s, startTimeMs: s.createdMs });
    }
    try {
      const [runtime, stats, images] = await Promise.all([
        this.readRuntime(signal),
        this.deps.runtime.listContainerStats(undefined, signal),
        this.deps.runtime.listImages(signal),
      ]);
      const imageNames = new Map<string, string>();
      for (const img of images) if (img.repo_tags[0]) imageNames.set(img.id, img.repo_tags[0]);
      const statsById = new Map(stats.filter((s) => s.attributes).map((s) => [s.attributes!.id, s]));
      const sandboxById = new Map(runtime.sandboxes.map((s) => [s.id, s]));
      const containerById = new Map(runtime.containers.map((c) => [c.id, c]));
      const fsCache = new Map<string, Promise<FsInfo | null>>();
      for (const [uid, podCgroup] of await this.podCgroups(layout)) {
        signal?.throwIfAborted();
        const sandboxes = runtime.sandboxes.filter((s) => s.metadata?.uid === uid);
        // a pod cgroup the runtime has no sandbox for is a leftover of a removed pod: skipped
        if (sandboxes.length === 0) continue;
        const meta = latestReadySandboxes(sandboxes)[0]?.metadata ?? sandboxes[0]?.metadata;
        const podLabels = { pod: meta?.name ?? '', namespace: meta?.namespace ?? '' };
        const podSample = await readCgroup(layout, podCgroup, this.deps.clock.now());
        if (!podSample) continue;
        const pod: CadvisorContainer = { ...blank, ...podLabels, id: podCgroup, sample: podSample, startTimeMs: podSample.createdMs };
        containers.push(pod);
        for (const child of await childCgroups(layout, podCgroup)) {
          const id = `${podCgroup}/${child}`;
          const sample = await readCgroup(layout, id, this.deps.clock.now());
          if (!sample) continue;
          const sandbox = sandboxById.get(child);
          const container = containerById.get(child);
          if (sandbox) {
            const interfaces = await this.netnsInterfaces(layout, id);
            pod.interfaces ??= interfaces;
            containers.push({ ...blank, ...podLabels, id, name: child, sample, startTimeMs: nsToMs(sandbox.created_at), interfaces });
          } else if (container) {
            const ref = container.image_ref || container.image?.image || '';
            const entry: CadvisorContainer = {
              id,
              name: child,
              image: imageNames.get(ref) ?? imageNames.get(container.image?.image ?? '') ?? container.image?.image ?? '',
              container: container.metadata?.name ?? '',
              ...podLabels,
              sample,
              startTimeMs: nsToMs(container.created_at),
            };
            const wl = statsById.get(child)?.writable_layer;
            const mp = wl?.fs_id?.mountpoint;
            if (wl?.used_bytes && mp) {
              let info = fsCache.get(mp);
              if (!info) fsCache.set(mp, (info = readFsInfo(mp)));
              entry.filesystems = [filesystemOf(mounts, mp, wl.used_bytes.value, await info)];
            }
            containers.push(entry);
          } else {
            containers.push({ ...blank, id, sample, startTimeMs: sample.createdMs });
          }
        }
      }
    } catch (err) {
      if (isAbort(err) && signal?.aborted) throw err;
      scrapeError = true;
      this.deps.logger.error({ component: 'stats', err: errorMessage(err) }, 'Error getting containers for cadvisor metrics');
    }
    return cadvisorMetricsText({
      nowMs: this.deps.clock.now(),
      containers,
      scrapeError,
      machine: machine
        ? {
            bootID: machine.bootID,
            machineID: machine.machineID,
            systemUUID: machine.systemUUID,
            numCores: machine.numCores,
            memoryBytes: machine.memoryCapacityBytes,
            swapBytes: host.meminfo.SwapTotal,
          }
        : undefined,
    });
  }

  private cgroupLayout(): Promise<CgroupLayout> {
    this.layout ??= detectCgroupLayout(this.deps.cgroupMount ?? CGROUP_MOUNT);
    return this.layout;
  }

  private machineInfo(): Promise<MachineInfo | null> {
    this.machine ??= readMachineInfo(this.deps.rootDir).catch((err: unknown) => {
      this.deps.logger.warn({ component: 'stats', err: errorMessage(err) }, 'cannot read machine info');
      this.machine = null; // try again next time
      return null;
    });
    return this.machine;
  }

  private async readRuntime(signal?: AbortSignal): Promise<RuntimeView> {
    const [sandboxes, containers] = await Promise.all([this.deps.runtime.listPodSandbox(undefined, signal), this.deps.runtime.listContainers(undefined, signal)]);
    return { sandboxes, containers };
  }

  /**
   * ListPodSandboxStats (pod-level CPU, memory, network, processes, and the containers'); a
   * runtime without it, or a failed call (an error other than an abort), falls back to
   * ListContainerStats, and summaryMs then reads the pods' CPU and memory from their cgroups.
   */
  private async readPodSandboxStats(signal?: AbortSignal): Promise<{ bySandbox: Map<string, PodSandboxStats>; containers: CriContainerStats[] }> {
    try {
      // An empty filter, never none (upstream passes an empty one too): without a filter,
      // containerd 1.6/1.7 reads every sandbox it has and one stopped sandbox (e.g. its pod cgroup
      // already deleted) fails the whole call; with a filter it skips the sandboxes not ready.
      const list = await this.deps.runtime.listPodSandboxStats({}, signal);
      return { bySandbox: new Map(list.filter((s) => s.attributes).map((s) => [s.attributes!.id, s])), containers: [] };
    } catch (err) {
      if (signal?.aborted) throw err;
      this.deps.logger.debug({ component: 'stats', err: errorMessage(err) }, 'ListPodSandboxStats failed; using ListContainerStats');
      return { bySandbox: new Map(), containers: await this.deps.runtime.listContainerStats(undefined, signal) };
    }
  }

  private async readHost(layout: CgroupLayout): Promise<HostView> {
    const [meminfoText, statText] = await Promise.all([readText(path.join(this.procRoot, 'meminfo')), readText(path.join(this.procRoot, 'stat'))]);
    const meminfo = parseMeminfo(meminfoText ?? '');
    const nowMs = this.deps.clock.now();
    const root = await readCgroup(layout, '/', nowMs, meminfo);
    return { nowMs, root, meminfo, bootTimeMs: parseBootTimeMs(statText ?? '') };
  }

  private hostBasics(h: HostView): HostInputs {
    return {
      nodeName: this.deps.nodeName,
      nowMs: h.nowMs,
      bootTimeMs: h.bootTimeMs,
      root: h.root,
      systemContainers: [],
      memoryCapacityBytes: h.meminfo.MemTotal,
      meminfo: h.meminfo,
      interfaces: [],
      rootFs: null,
      imageFs: [],
      containerFs: [],
      rlimit: {},
    };
  }

  private async readHostFull(layout: CgroupLayout, h: HostView, signal?: AbortSignal): Promise<HostInputs> {
    const out = this.hostBasics(h);
    const pods = await readCgroup(layout, path.posix.join('/', this.deps.cgroupRoot, KUBEPODS_CGROUP), h.nowMs);
    if (pods) out.systemContainers.push({ name: 'pods', sample: pods });
    const [interfaces, rootFs, fsInfo, pidMax, loadavg] = await Promise.all([
      this.hostInterfaces(),
      readFsInfo(this.deps.rootDir),
      this.deps.runtime.imageFsInfo(signal),
      readText(path.join(this.procRoot, 'sys/kernel/pid_max')),
      readText(path.join(this.procRoot, 'loadavg')),
    ]);
    out.interfaces = interfaces;
    out.rootFs = rootFs;
    out.imageFs = await Promise.all(fsInfo.imageFilesystems.map(async (usage) => ({ usage, info: usage.fs_id ? await readFsInfo(usage.fs_id.mountpoint) : null })));
    out.containerFs = await Promise.all(fsInfo.containerFilesystems.map(async (usage) => ({ usage, info: usage.fs_id ? await readFsInfo(usage.fs_id.mountpoint) : null })));
    const maxpid = Number.parseInt(pidMax ?? '', 10);
    out.rlimit = { maxpid: Number.isFinite(maxpid) ? maxpid : undefined, curproc: parseLoadavgProcs(loadavg ?? '') };
    return out;
  }

  private async hostInterfaces(): Promise<InterfaceCounters[]> {
    return parseNetDev((await readText(path.join(this.procRoot, 'net/dev'))) ?? '');
  }

  /** The interfaces of the network namespace of a process of `cgroup` (none when it has no process). */
  private async netnsInterfaces(layout: CgroupLayout, cgroup: string): Promise<InterfaceCounters[] | undefined> {
    for (const pid of (await cgroupPids(layout, cgroup)).slice(0, 3)) {
      const text = await readText(path.join(this.procRoot, String(pid), 'net/dev'));
      if (text !== undefined) return parseNetDev(text);
    }
    return undefined;
  }

  /** Pod UID -> pod cgroup name, from the folders under kubepods and its QoS levels. */
  private async podCgroups(layout: CgroupLayout): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const kubepods = path.posix.join('/', this.deps.cgroupRoot, KUBEPODS_CGROUP);
    for (const parent of [kubepods, `${kubepods}/burstable`, `${kubepods}/besteffort`]) {
      for (const child of await childCgroups(layout, parent)) {
        const m = /^pod(.+)$/.exec(child);
        if (m) out.set(m[1]!, `${parent}/${child}`);
      }
    }
    return out;
  }

  private async containerLogUsage(meta: PodSandbox['metadata'], container: string, signal?: AbortSignal): Promise<DiskUsage | null> {
    if (!meta || !container) return null;
    try {
      return await diskUsage(path.join(podLogDirectory(this.deps.podLogsDir, meta.namespace, meta.name, meta.uid), container), signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      return null;
    }
  }

  /** The pod's volumes (<rootDir>/pods/<uid>/volumes/<plugin>/<name>) with their cached disk usage. */
  private async podVolumes(uid: string, nowMs: number, signal?: AbortSignal): Promise<VolumeInputs[]> {
    if (!uid || uid.includes('/') || uid.startsWith('.')) return [];
    const base = path.join(this.deps.rootDir, 'pods', uid, 'volumes');
    let plugins: string[];
    try {
      plugins = await readdir(base);
    } catch {
      return [];
    }
    const out: VolumeInputs[] = [];
    for (const plugin of plugins.sort()) {
      let names: string[];
      try {
        names = await readdir(path.join(base, plugin));
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        const dir = path.join(base, plugin, name);
        const fs = await readFsInfo(dir);
        const cached = this.cachedUsage(dir, nowMs, signal);
        const usage = await cached.usage;
        out.push({ name, usage, fs, timeMs: cached.timeMs, ephemeral: isEphemeralVolume(plugin, fs) });
      }
    }
    return out;
  }

  private cachedUsage(dir: string, nowMs: number, signal?: AbortSignal): { timeMs: number; usage: Promise<DiskUsage | null> } {
    const hit = this.volumeCache.get(dir);
    if (hit && nowMs - hit.timeMs < VOLUME_STATS_PERIOD_MS) return hit;
    const entry = { timeMs: nowMs, usage: diskUsage(dir, signal).catch(() => null) };
    this.volumeCache.set(dir, entry);
    for (const [k, v] of this.volumeCache) if (nowMs - v.timeMs > 10 * VOLUME_STATS_PERIOD_MS) this.volumeCache.delete(k);
    return entry;
  }

  /** cAdvisor's root filesystems: the devices of the kubelet root dir and of the image filesystem. */
  private async hostFilesystems(mounts: MountEntry[], signal?: AbortSignal): Promise<CadvisorFilesystem[]> {
    const dirs = [this.deps.rootDir];
    try {
      const fs = await this.deps.runtime.imageFsInfo(signal);
      for (const u of [...fs.imageFilesystems, ...fs.containerFilesystems]) if (u.fs_id?.mountpoint) dirs.push(u.fs_id.mountpoint);
    } catch (err) {
      if (signal?.aborted) throw err;
    }
    const out = new Map<string, CadvisorFilesystem>();
    for (const d of dirs) {
      const info = await readFsInfo(d);
      const device = mountOf(mounts, d)?.source;
      if (!info || !device || out.has(device)) continue;
      out.set(device, { device, usageBytes: info.usedBytes, limitBytes: info.capacityBytes, inodes: info.inodes, inodesFree: info.inodesFree });
    }
    return [...out.values()];
  }
}

/** cAdvisor reports a container's writable layer on the device holding it, with that filesystem's size as the limit. */
function filesystemOf(mounts: MountEntry[], mountpoint: string, usedBytes: number, info: FsInfo | null): CadvisorFilesystem {
  const fs: CadvisorFilesystem = { device: mountOf(mounts, mountpoint)?.source ?? mountpoint, usageBytes: usedBytes };
  if (info) {
    fs.limitBytes = info.capacityBytes;
    fs.inodes = info.inodes;
    fs.inodesFree = info.inodesFree;
  }
  return fs;
}

/**
 * Whether a volume counts in the pod's ephemeral storage (upstream IsLocalEphemeralVolume: emptyDir
 * on disk, configMap, gitRepo); never one on a tmpfs (emptyDir medium Memory).
 */
export function isEphemeralVolume(pluginDir: string, fs: FsInfo | null): boolean {
  if (fs?.type === TMPFS_MAGIC) return false;
  return ['kubernetes.io~empty-dir', 'kubernetes.io~configmap', 'kubernetes.io~git-repo'].includes(pluginDir);
}

/** Ready sandboxes, the newest per pod UID (upstream lists one sandbox per pod). */
export function latestReadySandboxes(list: readonly PodSandbox[]): PodSandbox[] {
  const byUid = new Map<string, PodSandbox>();
  for (const s of list) {
    if (s.state !== 'SANDBOX_READY') continue;
    const uid = s.metadata?.uid ?? s.id;
    const prev = byUid.get(uid);
    if (!prev || s.created_at > prev.created_at) byUid.set(uid, s);
  }
  return [...byUid.values()];
}

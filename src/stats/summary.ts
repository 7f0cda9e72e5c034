// Builds the Summary (upstream summary.go + cri_stats_provider.go) from what the provider read:
// the host's cgroups and /proc, the filesystems, and the runtime's CRI stats. Pure: the CPU
// rates come from a callback over the provider's cache.
import type { Container as CriContainer, ContainerStats as CriContainerStats, FilesystemUsage, PodSandbox, PodSandboxStats } from '../cri/types.ts';
import type { CgroupMemory, CgroupSample } from './cgroup.ts';
import { isIgnoredInterface, type DiskUsage, type FsInfo, type InterfaceCounters } from './procfs.ts';
import type {
  ContainerStats,
  CPUStats,
  FsStats,
  InterfaceStats,
  MemoryStats,
  NetworkStats,
  PodStats,
  SummaryMs,
  VolumeStats,
} from './types.ts';

/** Upstream's default network interface: its counters are also the NetworkStats' own fields. */
export const DEFAULT_INTERFACE = 'eth0';

/** Rate of a cumulative CPU counter (ns at ms), in nanocores; undefined without an earlier sample. */
export type RateFn = (key: string, usageNs: number, timeMs: number) => number | undefined;

export interface HostInputs {
  nodeName: string;
  nowMs: number;
  /** Boot time (the root cgroup's start), ms. */
  bootTimeMs?: number;
  /** The root cgroup ("/"). */
  root: CgroupSample | null;
  /** System containers by upstream name ("pods" = the pods' cgroup). */
  systemContainers: { name: string; sample: CgroupSample }[];
  /** MemTotal, bytes: the node's memory "limit". */
  memoryCapacityBytes?: number;
  /** /proc/meminfo, bytes. */
  meminfo: Readonly<Record<string, number>>;
  /** The host's interfaces (/proc/net/dev of the kubelet's network namespace). */
  interfaces: InterfaceCounters[];
  /** The filesystem of the kubelet root dir. */
  rootFs: FsInfo | null;
  /** CRI ImageFsInfo with the statfs of each filesystem's mount point. */
  imageFs: { usage: FilesystemUsage; info: FsInfo | null }[];
  containerFs: { usage: FilesystemUsage; info: FsInfo | null }[];
  rlimit: { maxpid?: number; curproc?: number };
}

export interface ContainerInputs {
  container: CriContainer;
  stats?: CriContainerStats;
  /** du of the container's log folder. */
  logs?: DiskUsage | null;
  /** statfs of the writable layer's filesystem (CRI fs_id.mountpoint). */
  rootFsInfo?: FsInfo | null;
  /**
   * The container's cgroup (<pod cgroup>/<container ID>), read when the runtime's stats were not
   * asked for: CPU and memory come from it then, under the same rate key as the runtime's; null
   * when it is gone (an exited container). A container with neither `stats` nor `cgroup` read
   * (undefined) is left out, as upstream lists the containers the runtime has stats for.
   */
  cgroup?: CgroupSample | null;
}

export interface VolumeInputs {
  name: string;
  usage: DiskUsage | null;
  /** statfs of the volume's filesystem. */
  fs: FsInfo | null;
  /** Counted in the pod's ephemeral storage (emptyDir on disk, configMap, ...; not tmpfs). */
  ephemeral: boolean;
  /** When `usage` was measured, ms. */
  timeMs: number;
}

export interface PodInputs {
  sandbox: PodSandbox;
  stats?: PodSandboxStats;
  containers: ContainerInputs[];
  /**
   * The pod cgroup, read when the runtime gave no pod-level CPU or memory: they come from it
   * then (upstream's cAdvisor source), under the same rate key as the runtime's.
   */
  cgroup?: CgroupSample | null;
  /** Processes in the pod cgroup and below, when the runtime gave no process count. */
  processCount?: number;
  /** The pod's network namespace interfaces (/proc/<pid>/net/dev of a process of the pod), when read. */
  interfaces?: InterfaceCounters[];
  volumes: VolumeInputs[];
  /** The filesystem of the pod log folder. */
  logsFs: FsInfo | null;
}

export interface SummaryInputs {
  host: HostInputs;
  pods: PodInputs[];
}

export const nsToMs = (ns: number): number => ns / 1e6;

/** A CRI timestamp (ns), or `fallbackMs` when the runtime left it 0. */
function criTime(ns: number | undefined, fallbackMs: number): number {
  return ns ? nsToMs(ns) : fallbackMs;
}

const val = (v: { value: number } | null | undefined): number | undefined => (v ? v.value : undefined);

function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function cgroupCpu(key: string, s: CgroupSample, rate: RateFn): CPUStats<number> | undefined {
  if (!s.cpu) return undefined;
  return compact({ time: s.timeMs, usageNanoCores: rate(key, s.cpu.usageNs, s.timeMs), usageCoreNanoSeconds: s.cpu.usageNs });
}

function cgroupMemory(m: CgroupMemory | undefined, timeMs: number, limit: number | undefined): MemoryStats<number> | undefined {
  if (!m) return undefined;
  return compact({
    time: timeMs,
    availableBytes: limit !== undefined ? Math.max(0, limit - m.workingSetBytes) : undefined,
    usageBytes: m.usageBytes,
    workingSetBytes: m.workingSetBytes,
    rssBytes: m.rssBytes,
    pageFaults: m.pageFaults,
    majorPageFaults: m.majorPageFaults,
  });
}

function interfaceStats(i: InterfaceCounters): InterfaceStats {
  return { name: i.name, rxBytes: i.rxBytes, rxErrors: i.rxErrors, txBytes: i.txBytes, txErrors: i.txErrors };
}

/** cAdvisor-style network stats: every interface but the ignored ones, eth0's also inline. */
export function networkFromInterfaces(list: readonly InterfaceCounters[], timeMs: number): NetworkStats<number> | undefined {
  const kept = list.filter((i) => !isIgnoredInterface(i.name));
  if (kept.length === 0) return undefined;
  const interfaces = kept.map(interfaceStats);
  const def = interfaces.find((i) => i.name === DEFAULT_INTERFACE);
  return { time: timeMs, ...(def ?? {}), interfaces };
}

function networkFromCri(stats: PodSandboxStats | undefined, nowMs: number): NetworkStats<number> | undefined {
  const n = stats?.linux?.network;
  if (!n) return undefined;
  const toIface = (i: { name: string; rx_bytes: { value: number } | null; rx_errors: { value: number } | null; tx_bytes: { value: number } | null; tx_errors: { value: number } | null }): InterfaceStats =>
    compact({ name: i.name, rxBytes: val(i.rx_bytes), rxErrors: val(i.rx_errors), txBytes: val(i.tx_bytes), txErrors: val(i.tx_errors) });
  const interfaces = n.interfaces.map(toIface);
  const def = n.default_interface ? toIface(n.default_interface) : undefined;
  if (def && !interfaces.some((i) => i.name === def.name)) interfaces.unshift(def);
  return { time: criTime(n.timestamp, nowMs), ...(def ?? {}), interfaces };
}

function fsStats(info: FsInfo | null | undefined, timeMs: number): FsStats<number> {
  const s: FsStats<number> = { time: timeMs };
  if (info) {
    s.availableBytes = info.availableBytes;
    s.capacityBytes = info.capacityBytes;
    s.inodesFree = info.inodesFree;
    s.inodes = info.inodes;
  }
  return s;
}

function runtimeFs(list: { usage: FilesystemUsage; info: FsInfo | null }[], nowMs: number): FsStats<number> | undefined {
  const first = list[0];
  if (!first) return undefined;
  return compact({ ...fsStats(first.info, criTime(first.usage.timestamp, nowMs)), usedBytes: val(first.usage.used_bytes), inodesUsed: val(first.usage.inodes_used) });
}

function criCpu(key: string, cpu: CriContainerStats['cpu'], nowMs: number, rate: RateFn): CPUStats<number> | undefined {
  const usage = val(cpu?.usage_core_nano_seconds);
  if (!cpu || usage === undefined) return undefined;
  const time = criTime(cpu.timestamp, nowMs);
  return compact({ time, usageNanoCores: rate(key, usage, time), usageCoreNanoSeconds: usage });
}

function criMemory(m: CriContainerStats['memory'], nowMs: number): MemoryStats<number> | undefined {
  if (!m) return undefined;
  const available = val(m.available_bytes);
  return compact({
    time: criTime(m.timestamp, nowMs),
    // containerd reports 0 when there is no limit: absent, as upstream without a limit
    availableBytes: available ? available : undefined,
    usageBytes: val(m.usage_bytes),
    workingSetBytes: val(m.working_set_bytes),
    rssBytes: val(m.rss_bytes),
    pageFaults: val(m.page_faults),
    majorPageFaults: val(m.major_page_faults),
  });
}

function containerStats(c: ContainerInputs, logsFs: FsInfo | null, nowMs: number, rate: RateFn): ContainerStats<number> {
  const s = c.stats;
  const out: ContainerStats<number> = {
    name: c.container.metadata?.name ?? '',
    startTime: nsToMs(c.container.created_at),
  };
  const key = `container:${c.container.id}`;
  const cg = c.cgroup;
  // one rate key whatever the source: both are the container cgroup's cumulative usage
  const cpu = criCpu(key, s?.cpu ?? null, nowMs, rate) ?? (cg ? cgroupCpu(key, cg, rate) : undefined);
  if (cpu) out.cpu = cpu;
  const memory = criMemory(s?.memory ?? null, nowMs) ?? (cg ? cgroupMemory(cg.memory, cg.timeMs, cg.spec.memoryLimitBytes) : undefined);
  if (memory) out.memory = memory;
  if (s?.swap) {
    out.swap = compact({ time: criTime(s.swap.timestamp, nowMs), swapAvailableBytes: val(s.swap.swap_available_bytes), swapUsageBytes: val(s.swap.swap_usage_bytes) });
  }
  if (s?.writable_layer) {
    const wl = s.writable_layer;
    out.rootfs = compact({ ...fsStats(c.rootFsInfo, criTime(wl.timestamp, nowMs)), usedBytes: val(wl.used_bytes), inodesUsed: val(wl.inodes_used) });
  }
  if (c.logs) out.logs = { ...fsStats(logsFs, nowMs), usedBytes: c.logs.bytes, inodesUsed: c.logs.inodes };
  return out;
}

const add = (a: number | undefined, b: number | undefined): number | undefined => (b === undefined ? a : (a ?? 0) + b);

/** Upstream calcEphemeralStorage: containers' writable layers and logs, plus the ephemeral volumes. */
function ephemeralStorage(containers: ContainerStats<number>[], volumes: VolumeInputs[], logsFs: FsInfo | null, nowMs: number): FsStats<number> {
  const out = fsStats(logsFs, nowMs);
  for (const c of containers) {
    if (!c.rootfs) continue;
    out.usedBytes = add(out.usedBytes, c.rootfs.usedBytes);
    out.inodesUsed = add(out.inodesUsed, c.rootfs.inodesUsed);
    if (c.logs) {
      out.usedBytes = add(out.usedBytes, c.logs.usedBytes);
      out.inodesUsed = add(out.inodesUsed, c.logs.inodesUsed);
    }
  }
  for (const v of volumes) {
    if (!v.ephemeral || !v.usage) continue;
    out.usedBytes = add(out.usedBytes, v.usage.bytes);
    out.inodesUsed = add(out.inodesUsed, v.usage.inodes);
  }
  return out;
}

function volumeStats(v: VolumeInputs): VolumeStats<number> {
  const s: VolumeStats<number> = { ...fsStats(v.fs, v.timeMs), name: v.name };
  if (v.usage) {
    s.usedBytes = v.usage.bytes;
    s.inodesUsed = v.usage.inodes;
  }
  return s;
}

/**
 * Upstream removeTerminatedContainers: per container name, the running instances, or the newest
 * one when none runs.
 */
export function latestContainers(list: readonly ContainerInputs[]): ContainerInputs[] {
  const byName = new Map<string, ContainerInputs[]>();
  for (const c of [...list].sort((a, b) => a.container.created_at - b.container.created_at)) {
    const name = c.container.metadata?.name ?? '';
    byName.set(name, [...(byName.get(name) ?? []), c]);
  }
  const out: ContainerInputs[] = [];
  for (const group of byName.values()) {
    const running = group.filter((c) => c.container.state === 'CONTAINER_RUNNING');
    out.push(...(running.length > 0 ? running : [group[group.length - 1]!]));
  }
  return out;
}

function podStats(p: PodInputs, nowMs: number, rate: RateFn, full: boolean): PodStats<number> {
  const meta = p.sandbox.metadata;
  const uid = meta?.uid ?? '';
  const containers = latestContainers(p.containers)
    .filter((c) => c.stats || c.cgroup !== undefined) // upstream lists the containers the runtime has stats for
    .map((c) => containerStats(c, p.logsFs, nowMs, rate));
  const out: PodStats<number> = {
    podRef: { name: meta?.name ?? '', namespace: meta?.namespace ?? '', uid },
    startTime: nsToMs(p.sandbox.created_at),
    containers,
  };
  const linux = p.stats?.linux;
  const cg = p.cgroup;
  // one rate key whatever the source: both are the pod cgroup's cumulative usage
  const cpu = criCpu(`pod:${uid}`, linux?.cpu ?? null, nowMs, rate) ?? (cg ? cgroupCpu(`pod:${uid}`, cg, rate) : undefined);
  if (cpu) out.cpu = cpu;
  const memory = criMemory(linux?.memory ?? null, nowMs) ?? (cg ? cgroupMemory(cg.memory, cg.timeMs, cg.spec.memoryLimitBytes) : undefined);
  if (memory) out.memory = memory;
  if (!full) return out;
  const network = p.interfaces ? networkFromInterfaces(p.interfaces, nowMs) : networkFromCri(p.stats, nowMs);
  if (network) out.network = network;
  if (p.volumes.length > 0) out.volume = p.volumes.map(volumeStats);
  out['ephemeral-storage'] = ephemeralStorage(containers, p.volumes, p.logsFs, nowMs);
  const procs = val(linux?.process?.process_count) ?? p.processCount;
  if (procs !== undefined) out.process_stats = { process_count: procs };
  return out;
}

/**
 * The summary. `full` false gives what upstream's GetCPUAndMemoryStats gives (node, pods and
 * containers with CPU and memory only), which /metrics/resource uses.
 */
export function buildSummary(input: SummaryInputs, rate: RateFn, full = true): SummaryMs {
  const h = input.host;
  const root = h.root;
  const node: SummaryMs['node'] = {
    nodeName: h.nodeName,
    startTime: h.bootTimeMs ?? root?.createdMs ?? h.nowMs,
  };
  if (root) {
    const cpu = cgroupCpu('node', root, rate);
    if (cpu) node.cpu = cpu;
    const memory = cgroupMemory(root.memory, root.timeMs, h.memoryCapacityBytes);
    if (memory) node.memory = memory;
  }
  const swapTotal = h.meminfo.SwapTotal;
  const swapFree = h.meminfo.SwapFree;
  if (swapTotal !== undefined && swapFree !== undefined) {
    node.swap = { time: root?.timeMs ?? h.nowMs, swapAvailableBytes: swapFree, swapUsageBytes: swapTotal - swapFree };
  }
  if (full) {
    node.systemContainers = h.systemContainers.map(({ name, sample }) =>
      compact({
        name,
        startTime: sample.createdMs ?? h.nowMs,
        cpu: cgroupCpu(`system:${name}`, sample, rate),
        memory: cgroupMemory(sample.memory, sample.timeMs, sample.spec.memoryLimitBytes),
      }),
    );
    const network = networkFromInterfaces(h.interfaces, h.nowMs);
    if (network) node.network = network;
    if (h.rootFs) node.fs = { ...fsStats(h.rootFs, h.nowMs), usedBytes: h.rootFs.usedBytes, inodesUsed: h.rootFs.inodes - h.rootFs.inodesFree };
    const imageFs = runtimeFs(h.imageFs, h.nowMs);
    const containerFs = runtimeFs(h.containerFs, h.nowMs) ?? imageFs;
    if (imageFs || containerFs) node.runtime = compact({ imageFs, containerFs });
    node.rlimit = compact({ time: h.nowMs, maxpid: h.rlimit.maxpid, curproc: h.rlimit.curproc });
  }
  return { node, pods: input.pods.map((p) => podStats(p, h.nowMs, rate, full)) };
}

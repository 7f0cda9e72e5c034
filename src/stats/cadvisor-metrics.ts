// /metrics/cadvisor: the container series cAdvisor exports through the kubelet (cAdvisor's
// metrics/prometheus.go with the kubelet's label function: container, id, image, name,
// namespace, pod, blank when unknown), for the cgroups the kubelet can read: the root ("/"), the
// pods' cgroups (/kubepods, the QoS levels), each pod's cgroup (container="") and each
// container's and sandbox's cgroup. Usage series carry the sample time (ms) as cAdvisor does;
// spec series and container_start_time_seconds do not. Pure.
import { renderFamilies, type MetricFamily, type MetricType } from '../metrics/exposition.ts';
import type { CgroupSample } from './cgroup.ts';
import type { InterfaceCounters } from './procfs.ts';

export interface CadvisorFilesystem {
  /** The device (mount source) holding the data, cAdvisor's `device` label. */
  device: string;
  usageBytes: number;
  limitBytes?: number;
  inodes?: number;
  inodesFree?: number;
}

export interface CadvisorContainer {
  /** The cgroup name, cAdvisor's `id` ("/", "/kubepods/besteffort/pod<uid>/<container id>"). */
  id: string;
  /** The runtime's container or sandbox ID; '' for plain cgroups. */
  name: string;
  image: string;
  /** The Kubernetes container name; '' for sandboxes, pod cgroups and plain cgroups. */
  container: string;
  pod: string;
  namespace: string;
  sample: CgroupSample;
  /** Creation time, ms (container_start_time_seconds is written in whole seconds). */
  startTimeMs?: number;
  /** Network interfaces of the cgroup's network namespace (root, pod cgroups, sandboxes). */
  interfaces?: InterfaceCounters[];
  filesystems?: CadvisorFilesystem[];
}

export interface MachineFacts {
  bootID: string;
  machineID: string;
  systemUUID: string;
  numCores: number;
  memoryBytes: number;
  swapBytes?: number;
}

export interface CadvisorInputs {
  nowMs: number;
  containers: CadvisorContainer[];
  machine?: MachineFacts;
  /** Reading the containers failed (container_scrape_error 1). */
  scrapeError: boolean;
}

/** cAdvisor's specMemoryValue: "unlimited" is written as 0. */
const specMemory = (v: number | undefined): number => v ?? 0;

interface Def {
  name: string;
  help: string;
  type: MetricType;
}

const D = {
  cpuUsage: { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', type: 'counter' },
  cpuUser: { name: 'container_cpu_user_seconds_total', help: 'Cumulative user cpu time consumed in seconds.', type: 'counter' },
  cpuSystem: { name: 'container_cpu_system_seconds_total', help: 'Cumulative system cpu time consumed in seconds.', type: 'counter' },
  cfsPeriods: { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.', type: 'counter' },
  cfsThrottledPeriods: { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.', type: 'counter' },
  cfsThrottledSeconds: { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.', type: 'counter' },
  memCache: { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.', type: 'gauge' },
  memRss: { name: 'container_memory_rss', help: 'Size of RSS in bytes.', type: 'gauge' },
  memMapped: { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.', type: 'gauge' },
  memSwap: { name: 'container_memory_swap', help: 'Container swap usage in bytes.', type: 'gauge' },
  memFailcnt: { name: 'container_memory_failcnt', help: 'Number of memory usage hits limits', type: 'counter' },
  memUsage: { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed', type: 'gauge' },
  memMaxUsage: { name: 'container_memory_max_usage_bytes', help: 'Maximum memory usage recorded in bytes', type: 'gauge' },
  memWorkingSet: { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', type: 'gauge' },
  fsInodesFree: { name: 'container_fs_inodes_free', help: 'Number of available Inodes', type: 'gauge' },
  fsInodes: { name: 'container_fs_inodes_total', help: 'Number of Inodes', type: 'gauge' },
  fsLimit: { name: 'container_fs_limit_bytes', help: 'Number of bytes that can be consumed by the container on this filesystem.', type: 'gauge' },
  fsUsage: { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', type: 'gauge' },
  rxBytes: { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received', type: 'counter' },
  rxPackets: { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received', type: 'counter' },
  rxDropped: { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving', type: 'counter' },
  rxErrors: { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving', type: 'counter' },
  txBytes: { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted', type: 'counter' },
  txPackets: { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted', type: 'counter' },
  txDropped: { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting', type: 'counter' },
  txErrors: { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting', type: 'counter' },
  lastSeen: { name: 'container_last_seen', help: 'Last time a container was seen by the exporter', type: 'gauge' },
  startTime: { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.', type: 'gauge' },
  specCpuPeriod: { name: 'container_spec_cpu_period', help: 'CPU period of the container.', type: 'gauge' },
  specCpuQuota: { name: 'container_spec_cpu_quota', help: 'CPU quota of the container.', type: 'gauge' },
  specCpuShares: { name: 'container_spec_cpu_shares', help: 'CPU share of the container.', type: 'gauge' },
  specMemLimit: { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', type: 'gauge' },
  scrapeError: { name: 'container_scrape_error', help: '1 if there was an error while getting container metrics, 0 otherwise', type: 'gauge' },
  machineCores: { name: 'machine_cpu_cores', help: 'Number of logical CPU cores.', type: 'gauge' },
  machineMemory: { name: 'machine_memory_bytes', help: 'Amount of memory installed on the machine.', type: 'gauge' },
  machineSwap: { name: 'machine_swap_bytes', help: 'Amount of swap memory available on the machine.', type: 'gauge' },
} satisfies Record<string, Def>;

type Key = keyof typeof D;

const NETWORK: [Key, keyof InterfaceCounters][] = [
  ['rxBytes', 'rxBytes'],
  ['rxPackets', 'rxPackets'],
  ['rxDropped', 'rxDropped'],
  ['rxErrors', 'rxErrors'],
  ['txBytes', 'txBytes'],
  ['txPackets', 'txPackets'],
  ['txDropped', 'txDropped'],
  ['txErrors', 'txErrors'],
];

/** The families of /metrics/cadvisor. */
export function cadvisorMetricFamilies(input: CadvisorInputs): MetricFamily[] {
  const fams = new Map<Key, MetricFamily>();
  for (const [k, d] of Object.entries(D) as [Key, Def][]) fams.set(k, { ...d, samples: [] });
  const put = (k: Key, labels: Record<string, string>, value: number | undefined, timestampMs?: number): void => {
    if (value === undefined) return;
    fams.get(k)!.samples.push(timestampMs === undefined ? { labels, value } : { labels, value, timestampMs });
  };

  put('scrapeError', {}, input.scrapeError ? 1 : 0);
  const m = input.machine;
  if (m) {
    const ml = { boot_id: m.bootID, machine_id: m.machineID, system_uuid: m.systemUUID };
    put('machineCores', ml, m.numCores);
    put('machineMemory', ml, m.memoryBytes);
    put('machineSwap', ml, m.swapBytes);
  }

  for (const c of input.containers) {
    const base = { container: c.container, id: c.id, image: c.image, name: c.name, namespace: c.namespace, pod: c.pod };
    const s = c.sample;
    const ts = s.timeMs;
    // spec series (no timestamp)
    if (c.startTimeMs !== undefined) put('startTime', base, Math.floor(c.startTimeMs / 1000));
    if (s.spec.cpuShares !== undefined) {
      put('specCpuPeriod', base, s.spec.cpuPeriodUs);
      put('specCpuQuota', base, s.spec.cpuQuotaUs);
      put('specCpuShares', base, s.spec.cpuShares);
    }
    if (s.memory) put('specMemLimit', base, specMemory(s.spec.memoryLimitBytes));
    // usage series
    put('lastSeen', base, Math.floor(input.nowMs / 1000), input.nowMs);
    if (s.cpu) {
      if (s.cpu.usageNs > 0) put('cpuUsage', { ...base, cpu: 'total' }, s.cpu.usageNs / 1e9, ts);
      put('cpuUser', base, s.cpu.userNs === undefined ? undefined : s.cpu.userNs / 1e9, ts);
      put('cpuSystem', base, s.cpu.systemNs === undefined ? undefined : s.cpu.systemNs / 1e9, ts);
      if (s.spec.cpuQuotaUs !== undefined) {
        put('cfsPeriods', base, s.cpu.periods, ts);
        put('cfsThrottledPeriods', base, s.cpu.throttledPeriods, ts);
        put('cfsThrottledSeconds', base, s.cpu.throttledNs === undefined ? undefined : s.cpu.throttledNs / 1e9, ts);
      }
    }
    if (s.memory) {
      put('memCache', base, s.memory.cacheBytes, ts);
      put('memRss', base, s.memory.rssBytes, ts);
      put('memMapped', base, s.memory.mappedFileBytes, ts);
      put('memSwap', base, s.memory.swapBytes, ts);
      put('memFailcnt', base, s.memory.failcnt, ts);
      put('memUsage', base, s.memory.usageBytes, ts);
      put('memMaxUsage', base, s.memory.maxUsageBytes, ts);
      put('memWorkingSet', base, s.memory.workingSetBytes, ts);
    }
    for (const fs of c.filesystems ?? []) {
      const l = { ...base, device: fs.device };
      put('fsUsage', l, fs.usageBytes, ts);
      put('fsLimit', l, fs.limitBytes, ts);
      put('fsInodes', l, fs.inodes, ts);
      put('fsInodesFree', l, fs.inodesFree, ts);
    }
    for (const i of c.interfaces ?? []) {
      const l = { ...base, interface: i.name };
      for (const [k, field] of NETWORK) put(k, l, i[field] as number, ts);
    }
  }
  return [...fams.values()];
}

/** The /metrics/cadvisor exposition text. */
export function cadvisorMetricsText(input: CadvisorInputs): string {
  return renderFamilies(cadvisorMetricFamilies(input));
}

// The Summary API (/stats/summary), upstream k8s.io/kubelet/pkg/apis/stats/v1alpha1, with its
// JSON field names. In the API, times are metav1.Time strings (RFC 3339, whole seconds, UTC);
// inside the kubelet the same shapes carry milliseconds (`T = number`, SummaryMs), which
// /metrics/resource needs for its timestamps; toApiSummary converts. An absent field is a value
// that could not be read.

export interface Summary<T = string> {
  node: NodeStats<T>;
  pods: PodStats<T>[];
}

export interface NodeStats<T = string> {
  nodeName: string;
  /** System cgroups: upstream lists "pods" always, "kubelet", "runtime", "misc" only when configured. */
  systemContainers?: ContainerStats<T>[];
  startTime: T;
  cpu?: CPUStats<T>;
  memory?: MemoryStats<T>;
  swap?: SwapStats<T>;
  network?: NetworkStats<T>;
  /** The filesystem of the kubelet root dir. */
  fs?: FsStats<T>;
  runtime?: RuntimeStats<T>;
  rlimit?: RlimitStats<T>;
}

export interface RlimitStats<T = string> {
  time: T;
  /** /proc/sys/kernel/pid_max. */
  maxpid?: number;
  /** Processes (and threads) on the node. */
  curproc?: number;
}

export interface RuntimeStats<T = string> {
  imageFs?: FsStats<T>;
  containerFs?: FsStats<T>;
}

export interface InterfaceStats {
  name: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}

/** The default interface's stats inline (when there is an eth0), and every interface. */
export interface NetworkStats<T = string> extends Partial<InterfaceStats> {
  time: T;
  interfaces?: InterfaceStats[];
}

export interface CPUStats<T = string> {
  time: T;
  /** Average rate over the last sampling interval, in billionths of a core. */
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats<T = string> {
  time: T;
  /** Limit (or node capacity) minus working set; absent when there is no limit. */
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface SwapStats<T = string> {
  time: T;
  swapAvailableBytes?: number;
  swapUsageBytes?: number;
}

export interface FsStats<T = string> {
  time: T;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

export interface ContainerStats<T = string> {
  name: string;
  startTime: T;
  cpu?: CPUStats<T>;
  memory?: MemoryStats<T>;
  swap?: SwapStats<T>;
  rootfs?: FsStats<T>;
  logs?: FsStats<T>;
}

export interface PodReference {
  name: string;
  namespace: string;
  uid: string;
}

export interface VolumeStats<T = string> extends FsStats<T> {
  name: string;
  pvcRef?: { name: string; namespace: string };
}

export interface ProcessStats {
  process_count?: number;
}

export interface PodStats<T = string> {
  podRef: PodReference;
  startTime: T;
  containers: ContainerStats<T>[];
  cpu?: CPUStats<T>;
  memory?: MemoryStats<T>;
  swap?: SwapStats<T>;
  network?: NetworkStats<T>;
  volume?: VolumeStats<T>[];
  'ephemeral-storage'?: FsStats<T>;
  process_stats?: ProcessStats;
}

/** metav1.Time's JSON: RFC 3339 in UTC with whole seconds ("2024-05-01T10:00:00Z"). */
export function apiTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The summary as the kubelet holds it: times in milliseconds since the epoch. */
export type SummaryMs = Summary<number>;

/** The API form of a summary: every `time` and `startTime` (ms) becomes a metav1.Time string. */
export function toApiSummary(s: SummaryMs): Summary {
  return convertTimes(s) as Summary;
}

function convertTimes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(convertTimes);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = (k === 'time' || k === 'startTime') && typeof x === 'number' ? apiTime(x) : convertTimes(x);
  }
  return out;
}

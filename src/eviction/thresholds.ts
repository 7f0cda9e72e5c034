// Eviction signals and thresholds (upstream pkg/kubelet/eviction/api/types.go and helpers.go):
// parsing the configuration, observing the signals in a stats summary, and deciding which
// thresholds are met, for how long, and which node conditions they raise. Pure.
import { invalidInput } from '../common/errors.ts';
import type { KubeletConfig } from '../config/types.ts';
import { formatQuantityNanos, formatOf, parseQuantityNanos } from '../cm/quantity.ts';
import type { SummaryMs } from '../stats/types.ts';
import { parseGoDuration } from '../config/values.ts';

export const SIGNALS = [
  'memory.available',
  'allocatableMemory.available',
  'nodefs.available',
  'nodefs.inodesFree',
  'imagefs.available',
  'imagefs.inodesFree',
  'containerfs.available',
  'containerfs.inodesFree',
  'pid.available',
] as const;
export type Signal = (typeof SIGNALS)[number];

/** What an eviction reclaims for a signal (upstream signalToResource; inodes and pids are internal names). */
export type ReclaimResource = 'memory' | 'ephemeral-storage' | 'inodes' | 'pids';
export const SIGNAL_RESOURCE: Readonly<Record<Signal, ReclaimResource>> = {
  'memory.available': 'memory',
  'allocatableMemory.available': 'memory',
  'nodefs.available': 'ephemeral-storage',
  'nodefs.inodesFree': 'inodes',
  'imagefs.available': 'ephemeral-storage',
  'imagefs.inodesFree': 'inodes',
  'containerfs.available': 'ephemeral-storage',
  'containerfs.inodesFree': 'inodes',
  'pid.available': 'pids',
};

export type PressureCondition = 'MemoryPressure' | 'DiskPressure' | 'PIDPressure';
/** The node condition a met threshold raises (upstream signalToNodeCondition). */
export const SIGNAL_CONDITION: Readonly<Record<Signal, PressureCondition>> = {
  'memory.available': 'MemoryPressure',
  'allocatableMemory.available': 'MemoryPressure',
  'nodefs.available': 'DiskPressure',
  'nodefs.inodesFree': 'DiskPressure',
  'imagefs.available': 'DiskPressure',
  'imagefs.inodesFree': 'DiskPressure',
  'containerfs.available': 'DiskPressure',
  'containerfs.inodesFree': 'DiskPressure',
  'pid.available': 'PIDPressure',
};

/** A threshold's amount: an absolute quantity (with its text's format, for messages) or a fraction of capacity. */
export type ThresholdValue = { quantityNanos: bigint; format: 'DecimalSI' | 'BinarySI' } | { percentage: number };

/** "signal < value"; hard when gracePeriodMs is 0 (upstream's only operator is LessThan). */
export interface Threshold {
  signal: Signal;
  value: ThresholdValue;
  gracePeriodMs: number;
  minReclaim?: ThresholdValue;
}

/** Upstream DefaultEvictionHard on Linux. */
export const DEFAULT_EVICTION_HARD: Readonly<Record<string, string>> = Object.freeze({
  'memory.available': '100Mi',
  'nodefs.available': '10%',
  'nodefs.inodesFree': '5%',
  'imagefs.available': '15%',
});

export type EvictionSettings = Pick<
  KubeletConfig,
  'evictionHard' | 'evictionSoft' | 'evictionSoftGracePeriod' | 'evictionMinimumReclaim' | 'enforceNodeAllocatable' | 'mergeDefaultEvictionSettings'
>;

const isSignal = (s: string): s is Signal => (SIGNALS as readonly string[]).includes(s);

function signalOf(name: string): Signal {
  if (!isSignal(name)) throw invalidInput(`unsupported eviction signal ${name}`);
  return name;
}

/** Upstream parsePercentage: float32(value) / 100 in float32. */
function parsePercentage(text: string): number {
  const body = text.slice(0, -1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) throw invalidInput(`invalid percentage ${JSON.stringify(text)}`);
  return Math.fround(Math.fround(Number(body)) / 100);
}

/** One "signal < value" statement; null for "0%" and "100%", which upstream ignores. Throws InvalidInput. */
export function parseThresholdStatement(name: string, text: string): Threshold | null {
  const signal = signalOf(name);
  if (text.endsWith('%')) {
    if (text === '0%' || text === '100%') return null;
    const percentage = parsePercentage(text);
    if (percentage < 0) throw invalidInput(`eviction percentage threshold ${signal} must be >= 0%: ${text}`);
    if (percentage > 1) throw invalidInput(`eviction percentage threshold ${signal} must be <= 100%: ${text}`);
    return { signal, value: { percentage }, gracePeriodMs: 0 };
  }
  const nanos = parseQuantityNanos(text);
  if (nanos <= 0n) throw invalidInput(`eviction threshold ${signal} must be positive: ${text}`);
  return { signal, value: { quantityNanos: nanos, format: formatOf(text) }, gracePeriodMs: 0 };
}

function parseMinimumReclaim(name: string, text: string): ThresholdValue {
  const signal = signalOf(name);
  if (text.endsWith('%')) {
    const percentage = parsePercentage(text);
    if (percentage <= 0) throw invalidInput(`eviction percentage minimum reclaim ${signal} must be positive: ${text}`);
    return { percentage };
  }
  const nanos = parseQuantityNanos(text);
  if (nanos < 0n) throw invalidInput(`negative eviction minimum reclaim specified for ${signal}`);
  return { quantityNanos: nanos, format: formatOf(text) };
}

/** The evictionHard in effect: with mergeDefaultEvictionSettings, the defaults fill the signals left out. */
export function effectiveEvictionHard(s: Pick<EvictionSettings, 'evictionHard' | 'mergeDefaultEvictionSettings'>): Record<string, string> {
  return s.mergeDefaultEvictionSettings ? { ...DEFAULT_EVICTION_HARD, ...s.evictionHard } : { ...s.evictionHard };
}

/**
 * Upstream ParseThresholdConfig: the hard thresholds, then the soft ones (each must have a
 * grace period), each with its minimum reclaim; with enforceNodeAllocatable 'pods', a hard
 * memory.available threshold is copied to allocatableMemory.available. Throws InvalidInput
 * naming the signal or value.
 */
export function parseThresholdConfig(s: EvictionSettings): Threshold[] {
  const out: Threshold[] = [];
  for (const [name, text] of Object.entries(effectiveEvictionHard(s))) {
    const t = parseThresholdStatement(name, text);
    if (t) out.push(t);
  }
  const grace = new Map<Signal, number>();
  for (const [name, text] of Object.entries(s.evictionSoftGracePeriod)) {
    const signal = signalOf(name);
    const ms = parseGoDuration(text);
    if (ms === undefined) throw invalidInput(`invalid eviction grace period ${JSON.stringify(text)} for ${signal}`);
    if (ms < 0) throw invalidInput(`invalid eviction grace period specified: ${text}, must be a positive value`);
    grace.set(signal, ms);
  }
  for (const [name, text] of Object.entries(s.evictionSoft)) {
    const t = parseThresholdStatement(name, text);
    if (!t) continue;
    const ms = grace.get(t.signal);
    if (ms === undefined) throw invalidInput(`grace period must be specified for the soft eviction threshold ${t.signal}`);
    out.push({ ...t, gracePeriodMs: ms });
  }
  const reclaim = new Map<Signal, ThresholdValue>();
  for (const [name, text] of Object.entries(s.evictionMinimumReclaim)) reclaim.set(signalOf(name), parseMinimumReclaim(name, text));
  for (const t of out) {
    const r = reclaim.get(t.signal);
    if (r) t.minReclaim = r;
  }
  if (s.enforceNodeAllocatable.includes('pods')) {
    for (const t of [...out]) {
      if (t.signal === 'memory.available' && isHardEvictionThreshold(t)) out.push({ ...t, signal: 'allocatableMemory.available' });
    }
  }
  return out;
}

/** The problem with the eviction settings ('' when none): for the configuration's validation. */
export function thresholdConfigProblem(s: EvictionSettings): string {
  try {
    parseThresholdConfig(s);
    return '';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export const isHardEvictionThreshold = (t: Threshold): boolean => t.gracePeriodMs === 0;

/**
 * Upstream GetThresholdQuantity, in units: the quantity itself (rounded up to a whole unit, as
 * Value()), or capacity × percentage truncated (int64(float64(capacity) × float64(percentage))).
 */
export function thresholdQuantity(value: ThresholdValue, capacity: number): number {
  if ('percentage' in value) return Math.trunc(capacity * value.percentage);
  const whole = value.quantityNanos / 1_000_000_000n;
  return Number(value.quantityNanos % 1_000_000_000n === 0n ? whole : whole + 1n);
}

/** The threshold's quantity as upstream prints it: the configured text's canonical form, or a BinarySI number for a percentage. */
export function formatThresholdQuantity(value: ThresholdValue, capacity: number): string {
  if ('percentage' in value) return formatQuantityNanos(BigInt(thresholdQuantity(value, capacity)) * 1_000_000_000n, 'BinarySI');
  return formatQuantityNanos(value.quantityNanos, value.format);
}

/** One observed signal: what is available, out of what capacity, measured when (ms). */
export interface Observation {
  available: number;
  capacity: number;
  timeMs?: number;
}
export type Observations = Partial<Record<Signal, Observation>>;

/**
 * Upstream makeSignalObservations over the node part of a summary: memory.available from the
 * node's memory (capacity = available + working set; swap is not counted), allocatableMemory
 * from the "pods" system container, nodefs from the node fs, imagefs and containerfs from the
 * runtime's, pid.available = max pid − processes.
 */
export function makeSignalObservations(summary: SummaryMs): Observations {
  const out: Observations = {};
  const node = summary.node;
  const mem = node.memory;
  if (mem?.availableBytes !== undefined && mem.workingSetBytes !== undefined) {
    out['memory.available'] = { available: mem.availableBytes, capacity: mem.availableBytes + mem.workingSetBytes, timeMs: mem.time };
  }
  const pods = node.systemContainers?.find((c) => c.name === 'pods')?.memory;
  if (pods?.availableBytes !== undefined && pods.workingSetBytes !== undefined) {
    out['allocatableMemory.available'] = { available: pods.availableBytes, capacity: pods.availableBytes + pods.workingSetBytes, timeMs: pods.time };
  }
  const fsPair = (fs: NonNullable<SummaryMs['node']['fs']> | undefined, bytes: Signal, inodes: Signal): void => {
    if (!fs) return;
    if (fs.availableBytes !== undefined && fs.capacityBytes !== undefined) out[bytes] = { available: fs.availableBytes, capacity: fs.capacityBytes, timeMs: fs.time };
    if (fs.inodesFree !== undefined && fs.inodes !== undefined) out[inodes] = { available: fs.inodesFree, capacity: fs.inodes, timeMs: fs.time };
  };
  fsPair(node.fs, 'nodefs.available', 'nodefs.inodesFree');
  fsPair(node.runtime?.imageFs, 'imagefs.available', 'imagefs.inodesFree');
  fsPair(node.runtime?.containerFs, 'containerfs.available', 'containerfs.inodesFree');
  const rl = node.rlimit;
  if (rl?.maxpid !== undefined && rl.curproc !== undefined) {
    out['pid.available'] = { available: rl.maxpid - rl.curproc, capacity: rl.maxpid, timeMs: rl.time };
  }
  return out;
}

/**
 * Upstream thresholdsMet: the thresholds whose signal's available amount is below the threshold
 * (plus its minimum reclaim when enforceMinReclaim). A signal without an observation is skipped.
 */
export function thresholdsMet(thresholds: readonly Threshold[], observations: Observations, enforceMinReclaim: boolean): Threshold[] {
  return thresholds.filter((t) => {
    const o = observations[t.signal];
    if (!o) return false;
    let quantity = thresholdQuantity(t.value, o.capacity);
    if (enforceMinReclaim && t.minReclaim) quantity += thresholdQuantity(t.minReclaim, o.capacity);
    return quantity > o.available;
  });
}

/** An identity for a threshold (upstream uses the struct as a map key). */
export function thresholdKey(t: Threshold): string {
  const v = (x: ThresholdValue | undefined): string => (x === undefined ? '' : 'percentage' in x ? `${x.percentage}%` : `${x.quantityNanos}n`);
  return `${t.signal}<${v(t.value)}/${t.gracePeriodMs}/${v(t.minReclaim)}`;
}

/** Upstream mergeThresholds: a, then the thresholds of b not in a. */
export function mergeThresholds(a: readonly Threshold[], b: readonly Threshold[]): Threshold[] {
  const keys = new Set(a.map(thresholdKey));
  return [...a, ...b.filter((t) => !keys.has(thresholdKey(t)))];
}

/** When each met threshold was first seen met (upstream thresholdsFirstObservedAt), by thresholdKey. */
export type ObservedAt = Map<string, { threshold: Threshold; atMs: number }>;

export function thresholdsFirstObservedAt(thresholds: readonly Threshold[], last: ObservedAt, nowMs: number): ObservedAt {
  const out: ObservedAt = new Map();
  for (const t of thresholds) {
    const key = thresholdKey(t);
    out.set(key, { threshold: t, atMs: last.get(key)?.atMs ?? nowMs });
  }
  return out;
}

/** Upstream thresholdsMetGracePeriod: the thresholds met for at least their grace period. */
export function thresholdsMetGracePeriod(observedAt: ObservedAt, nowMs: number): Threshold[] {
  return [...observedAt.values()].filter(({ threshold, atMs }) => nowMs - atMs >= threshold.gracePeriodMs).map((x) => x.threshold);
}

/** Upstream nodeConditions: the conditions the thresholds raise, each once, in order. */
export function nodeConditionsOf(thresholds: readonly Threshold[]): PressureCondition[] {
  return [...new Set(thresholds.map((t) => SIGNAL_CONDITION[t.signal]))];
}

/** Upstream nodeConditionsLastObservedAt: the conditions seen now get `now`, the others keep their time. */
export function nodeConditionsLastObservedAt(conditions: readonly PressureCondition[], last: ReadonlyMap<PressureCondition, number>, nowMs: number): Map<PressureCondition, number> {
  const out = new Map(last);
  for (const c of conditions) out.set(c, nowMs);
  return out;
}

/** Upstream nodeConditionsObservedSince: the conditions seen within the transition period. */
export function nodeConditionsObservedSince(observedAt: ReadonlyMap<PressureCondition, number>, periodMs: number, nowMs: number): PressureCondition[] {
  const order: PressureCondition[] = ['MemoryPressure', 'DiskPressure', 'PIDPressure'];
  return order.filter((c) => {
    const at = observedAt.get(c);
    return at !== undefined && nowMs - at < periodMs;
  });
}

/** Upstream thresholdsUpdatedStats: the thresholds whose signal was measured again since the last round. */
export function thresholdsUpdatedStats(thresholds: readonly Threshold[], observations: Observations, last: Observations): Threshold[] {
  return thresholds.filter((t) => {
    const o = observations[t.signal];
    if (!o) return false;
    const prev = last[t.signal];
    return !prev || o.timeMs === undefined || prev.timeMs === undefined || o.timeMs > prev.timeMs;
  });
}

const isMemorySignal = (s: Signal): boolean => s === 'memory.available' || s === 'allocatableMemory.available';

/** Upstream byEvictionPriority: memory first (stable here; upstream's sort is not). */
export function sortByEvictionPriority(thresholds: readonly Threshold[]): Threshold[] {
  return [...thresholds].sort((a, b) => Number(isMemorySignal(b.signal)) - Number(isMemorySignal(a.signal)));
}

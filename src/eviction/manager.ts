// The eviction manager (upstream pkg/kubelet/eviction/eviction_manager.go): every 10 s it reads the
// stats summary, observes the eviction signals, keeps the node's pressure conditions, and when a
// threshold has been met for its grace period it first reclaims node-level resources (dead
// containers, unused images) for a disk signal, then evicts ONE pod, ranked as upstream, and
// waits (at most 30 s) for it to be cleaned up before looking again. Pods over their local storage
// limits (emptyDir sizeLimit, ephemeral-storage limits) are evicted whatever the node's state.
// It also admits pods: under pressure it rejects BestEffort pods (memory) or every pod (disk, pid).
// The decisions are the pure functions of thresholds.ts and ranking.ts; stats-needs.ts decides
// when the summary must carry the runtime's CRI stats (containers' writable layers), which wake
// every pod's shim: only with an ephemeral-storage limit or a disk signal at its threshold.
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Pod, PodCondition } from '../kube/types.ts';
import type { AdmitResult } from '../lifecycle/admission.ts';
import type { Logger } from '../observability/logger.ts';
import type { SummaryMs } from '../stats/types.ts';
import type { KubeletConfig } from '../config/types.ts';
import { getPodQOS, isCriticalPod } from '../cm/qos.ts';
import {
  EVICTION_REASON,
  containerEphemeralStorageViolation,
  emptyDirLimitViolation,
  evictionMessage,
  nodeConditionMessage,
  podEphemeralStorageViolation,
  rankFor,
  statsByUID,
  type PodStatsOf,
} from './ranking.ts';
import { needsRuntimeStats, type EvictionSummaryOptions } from './stats-needs.ts';
import {
  SIGNAL_RESOURCE,
  isHardEvictionThreshold,
  makeSignalObservations,
  mergeThresholds,
  nodeConditionsLastObservedAt,
  nodeConditionsObservedSince,
  nodeConditionsOf,
  parseThresholdConfig,
  sortByEvictionPriority,
  thresholdsFirstObservedAt,
  thresholdsMet,
  thresholdsMetGracePeriod,
  thresholdsUpdatedStats,
  type ObservedAt,
  type Observations,
  type PressureCondition,
  type Signal,
  type Threshold,
} from './thresholds.ts';

/** How often the signals are observed, ms (upstream evictionMonitoringPeriod: 10 s, cAdvisor's housekeeping). */
export const EVICTION_MONITORING_PERIOD_MS = 10_000;
/** After an eviction, how long to wait for the pod's resources to be reclaimed, and how often to look (upstream podCleanupTimeout / PollFreq). */
export const POD_CLEANUP_TIMEOUT_MS = 30_000;
export const POD_CLEANUP_POLL_MS = 1_000;
/** Grace period of a pod evicted for a hard threshold or a local storage limit, s (upstream immediateEvictionGracePeriodSeconds). */
export const IMMEDIATE_EVICTION_GRACE_PERIOD_S = 1;
/** The pod condition an eviction for node pressure adds (upstream DisruptionTarget / TerminationByKubelet). */
export const DISRUPTION_TARGET = 'DisruptionTarget';
export const TERMINATION_BY_KUBELET = 'TerminationByKubelet';

export type EvictionConfig = Pick<
  KubeletConfig,
  | 'evictionHard'
  | 'evictionSoft'
  | 'evictionSoftGracePeriod'
  | 'evictionMinimumReclaim'
  | 'enforceNodeAllocatable'
  | 'mergeDefaultEvictionSettings'
  | 'evictionPressureTransitionPeriodMs'
  | 'evictionMaxPodGracePeriod'
>;

export interface EvictPodOptions {
  /** Status reason is always "Evicted"; this is the status message. */
  message: string;
  /** Overrides the pod's grace period, s. */
  gracePeriodSeconds: number;
  /** A condition to add to the pod's status (DisruptionTarget for node pressure). */
  condition?: PodCondition;
}

/** What the manager needs of the kubelet's pods (upstream ActivePodsFunc, killPodFunc, PodCleanedUpFunc). */
export interface EvictablePods {
  /** Admitted pods that are not terminal: the candidates. */
  activePods(): Pod[];
  /**
   * Stops the pod for good, with phase Failed, reason Evicted and `message`; resolves once its
   * containers are stopped. Rejects when it could not be done.
   */
  evictPod(pod: Pod, opts: EvictPodOptions, signal: AbortSignal): Promise<void>;
  /** True once the evicted pod's resources on the node are reclaimed. */
  podCleanedUp(uid: string): boolean;
}

/** Node-level reclaim for disk pressure (upstream ContainerGC.DeleteAllUnusedContainers, ImageGC.DeleteUnusedImages). */
export interface NodeReclaimer {
  deleteAllUnusedContainers(signal: AbortSignal): Promise<void>;
  deleteUnusedImages(signal: AbortSignal): Promise<void>;
}

export interface EvictionManagerDeps {
  config: EvictionConfig;
  /**
   * The full stats summary (node memory and filesystems, pods' memory, processes and volumes;
   * with `runtimeStats`, also the containers' writable layers and logs). Rejects when the stats
   * cannot be read.
   */
  summary: (signal: AbortSignal, options: EvictionSummaryOptions) => Promise<SummaryMs>;
  pods: EvictablePods;
  /** Whether the runtime's images are on a filesystem other than the kubelet root dir's. */
  dedicatedImageFs: (signal: AbortSignal) => Promise<boolean>;
  reclaimer?: NodeReclaimer;
  recorder: EventRecorder;
  clock: Clock;
  logger: Logger;
  /** Called when the set of pressure conditions changes (e.g. to post the node status at once). */
  onConditionsChanged?: (conditions: readonly PressureCondition[]) => void;
  monitoringPeriodMs?: number;
}

/** The pressure the node reports (NodeStatusInputs.pressure). */
export interface NodePressure {
  memory: boolean;
  disk: boolean;
  pid: boolean;
}

export class EvictionManager {
  private readonly deps: EvictionManagerDeps;
  private readonly log: Logger;
  private thresholds: Threshold[];
  private nodeConditions: PressureCondition[] = [];
  private nodeConditionsLastObservedAt = new Map<PressureCondition, number>();
  private thresholdsFirstObservedAt: ObservedAt = new Map();
  private thresholdsMetList: Threshold[] = [];
  private lastObservations: Observations = {};
  private dedicatedImageFs: boolean | null = null;

  /** Throws InvalidInput when the thresholds do not parse (the configuration's validation catches it first). */
  constructor(deps: EvictionManagerDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'eviction' });
    this.thresholds = parseThresholdConfig(deps.config);
  }

  /** The thresholds in effect (after start: without containerfs ones, which mirror nodefs/imagefs upstream). */
  configuredThresholds(): readonly Threshold[] {
    return this.thresholds;
  }

  /** The node's pressure conditions as of the last round. */
  conditions(): readonly PressureCondition[] {
    return this.nodeConditions;
  }

  pressure(): NodePressure {
    const has = (c: PressureCondition): boolean => this.nodeConditions.includes(c);
    return { memory: has('MemoryPressure'), disk: has('DiskPressure'), pid: has('PIDPressure') };
  }

  /**
   * Upstream's eviction admit handler: with no pressure every pod is admitted; critical pods
   * always; under memory pressure alone, pods other than BestEffort, and BestEffort pods that
   * tolerate the memory-pressure taint; anything else is rejected with reason Evicted.
   */
  admit(pod: Pod): AdmitResult {
    const conditions = this.nodeConditions;
    if (conditions.length === 0 || isCriticalPod(pod)) return { admit: true };
    if (conditions.length === 1 && conditions[0] === 'MemoryPressure') {
      if (getPodQOS(pod) !== 'BestEffort') return { admit: true };
      const tolerates = (pod.spec?.tolerations ?? []).some(
        (t) => (!t.effect || t.effect === 'NoSchedule') && ((t.operator === 'Exists' && (!t.key || t.key === MEMORY_PRESSURE_TAINT)) || (t.key === MEMORY_PRESSURE_TAINT && (t.value ?? '') === '')),
      );
      if (tolerates) return { admit: true };
    }
    this.log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, nodeConditions: conditions }, 'Failed to admit pod to node');
    return { admit: false, reason: EVICTION_REASON, message: nodeConditionMessage(conditions) };
  }

  /** Observes and evicts every monitoring period until the signal aborts. Never rejects otherwise. */
  async run(signal: AbortSignal): Promise<void> {
    const period = this.deps.monitoringPeriodMs ?? EVICTION_MONITORING_PERIOD_MS;
    while (!signal.aborted) {
      let evicted: Pod[] = [];
      try {
        evicted = await this.synchronize(signal);
      } catch (err) {
        if (isAbort(err) && signal.aborted) return;
        this.log.error({ err: errorMessage(err) }, 'Eviction manager: failed to synchronize');
      }
      try {
        if (evicted.length > 0) await this.waitForPodsCleanup(evicted, signal);
        else await this.deps.clock.sleep(period, signal);
      } catch (err) {
        if (isAbort(err) && signal.aborted) return;
        throw err;
      }
    }
  }

  /**
   * One round (upstream synchronize). Resolves to the pods evicted (none, one for node pressure,
   * or every pod over a local storage limit). Rejects when the stats cannot be read.
   */
  async synchronize(signal: AbortSignal): Promise<Pod[]> {
    const { clock } = this.deps;
    if (this.dedicatedImageFs === null) {
      this.dedicatedImageFs = await this.deps.dedicatedImageFs(signal);
      const dropped = this.thresholds.filter((t) => t.signal.startsWith('containerfs.'));
      if (dropped.length > 0) this.log.warn({ signals: dropped.map((t) => t.signal) }, 'containerfs thresholds are ignored: the container filesystem is the node or image filesystem here');
      this.thresholds = this.thresholds.filter((t) => !t.signal.startsWith('containerfs.'));
      this.log.info({ dedicatedImageFs: this.dedicatedImageFs }, 'Eviction manager: filesystem detection');
    }
    const activePods = this.deps.pods.activePods();
    // The runtime's stats (writable layers) only when a decision reads them: decided on the last
    // round's observations, and again on this round's when the summary was read without them.
    const runtimeStats = needsRuntimeStats(activePods, this.thresholds, this.lastObservations);
    let summary = await this.deps.summary(signal, { runtimeStats });
    let observations = makeSignalObservations(summary);
    if (!runtimeStats && needsRuntimeStats(activePods, this.thresholds, observations)) {
      summary = await this.deps.summary(signal, { runtimeStats: true });
      observations = makeSignalObservations(summary);
    }
    const stats = statsByUID(summary.pods);

    let thresholds = thresholdsMet(this.thresholds, observations, false);
    if (this.thresholdsMetList.length > 0) thresholds = mergeThresholds(thresholds, thresholdsMet(this.thresholdsMetList, observations, true));
    const now = clock.now();
    const firstObservedAt = thresholdsFirstObservedAt(thresholds, this.thresholdsFirstObservedAt, now);
    const lastObservedAt = nodeConditionsLastObservedAt(nodeConditionsOf(thresholds), this.nodeConditionsLastObservedAt, now);
    const conditions = nodeConditionsObservedSince(lastObservedAt, this.deps.config.evictionPressureTransitionPeriodMs, now);
    thresholds = thresholdsMetGracePeriod(firstObservedAt, now);

    const changed = conditions.join() !== this.nodeConditions.join();
    this.nodeConditions = conditions;
    this.thresholdsFirstObservedAt = firstObservedAt;
    this.nodeConditionsLastObservedAt = lastObservedAt;
    this.thresholdsMetList = thresholds;
    thresholds = thresholdsUpdatedStats(thresholds, observations, this.lastObservations);
    this.lastObservations = observations;
    if (changed) {
      this.log.info({ nodeConditions: conditions }, 'Eviction manager: node conditions changed');
      this.deps.onConditionsChanged?.(conditions);
    }

    const evicted = await this.localStorageEviction(activePods, stats, signal);
    if (evicted.length > 0) return evicted;
    if (thresholds.length === 0) {
      this.log.debug('Eviction manager: no resources are starved');
      return [];
    }
    const toReclaim = sortByEvictionPriority(thresholds)[0]!;
    const resource = SIGNAL_RESOURCE[toReclaim.signal];
    this.log.info({ resourceName: resource, signal: toReclaim.signal }, 'Eviction manager: attempting to reclaim');
    if (await this.reclaimNodeLevelResources(toReclaim.signal, signal)) {
      this.log.info({ resourceName: resource }, 'Eviction manager: able to reduce resource pressure without evicting pods.');
      return [];
    }
    if (activePods.length === 0) {
      this.log.error('Eviction manager: eviction thresholds have been met, but no pods are active to evict');
      return [];
    }
    const ranked = [...activePods];
    rankFor(toReclaim, this.dedicatedImageFs)(ranked, stats);
    this.log.info({ resourceName: resource, pods: ranked.map(podRef) }, 'Eviction manager: pods ranked for eviction');
    for (const pod of ranked) {
      const grace = isHardEvictionThreshold(toReclaim) ? IMMEDIATE_EVICTION_GRACE_PERIOD_S : softGracePeriod(pod, this.deps.config.evictionMaxPodGracePeriod);
      const { message } = evictionMessage(resource, pod, stats, thresholds, observations);
      const condition: PodCondition = { type: DISRUPTION_TARGET, status: 'True', reason: TERMINATION_BY_KUBELET, message };
      if (await this.evictPod(pod, grace, message, condition, signal)) return [pod];
    }
    this.log.info('Eviction manager: unable to evict any pods from the node');
    return [];
  }

  /** Upstream localStorageEviction: every pod over an emptyDir sizeLimit or an ephemeral-storage limit. */
  private async localStorageEviction(pods: readonly Pod[], stats: PodStatsOf, signal: AbortSignal): Promise<Pod[]> {
    const evicted: Pod[] = [];
    for (const pod of pods) {
      const s = stats(pod);
      if (!s) continue;
      const message = emptyDirLimitViolation(s, pod) ?? podEphemeralStorageViolation(s, pod) ?? containerEphemeralStorageViolation(s, pod, this.dedicatedImageFs ?? false);
      if (message && (await this.evictPod(pod, IMMEDIATE_EVICTION_GRACE_PERIOD_S, message, undefined, signal))) evicted.push(pod);
    }
    return evicted;
  }

  /** Upstream reclaimNodeLevelResources: true when the disk thresholds are resolved without evicting. */
  private async reclaimNodeLevelResources(sig: Signal, signal: AbortSignal): Promise<boolean> {
    const r = this.deps.reclaimer;
    if (!r || SIGNAL_RESOURCE[sig] === 'memory' || SIGNAL_RESOURCE[sig] === 'pids') return false;
    // With a dedicated image filesystem, nodefs holds only logs and volumes: nothing to reclaim there.
    if (this.dedicatedImageFs && sig.startsWith('nodefs.')) return false;
    for (const [what, fn] of [['containers', () => r.deleteAllUnusedContainers(signal)], ['images', () => r.deleteUnusedImages(signal)]] as const) {
      try {
        await fn();
      } catch (err) {
        if (isAbort(err) && signal.aborted) throw err;
        this.log.info({ what, err: errorMessage(err) }, 'Eviction manager: unexpected error when attempting to reduce resource pressure');
      }
    }
    // only the node's observations are read: no pod's writable layer is needed
    const observations = makeSignalObservations(await this.deps.summary(signal, { runtimeStats: false }));
    return thresholdsMet(this.thresholds, observations, true).length === 0;
  }

  /** Upstream evictPod: never a critical pod; records the Evicted event, then kills the pod. */
  private async evictPod(pod: Pod, gracePeriodSeconds: number, message: string, condition: PodCondition | undefined, signal: AbortSignal): Promise<boolean> {
    if (isCriticalPod(pod)) {
      this.log.error({ pod: podRef(pod) }, 'Eviction manager: cannot evict a critical pod');
      return false;
    }
    this.deps.recorder.event(pod, 'Warning', EVICTION_REASON, message);
    try {
      await this.deps.pods.evictPod(pod, { message, gracePeriodSeconds, ...(condition ? { condition } : {}) }, signal);
      this.log.info({ pod: podRef(pod), podUID: pod.metadata?.uid }, 'Eviction manager: pod is evicted successfully');
    } catch (err) {
      if (isAbort(err) && signal.aborted) throw err;
      this.log.error({ pod: podRef(pod), podUID: pod.metadata?.uid, err: errorMessage(err) }, 'Eviction manager: pod failed to evict');
    }
    return true;
  }

  private async waitForPodsCleanup(pods: readonly Pod[], signal: AbortSignal): Promise<void> {
    const { clock } = this.deps;
    const deadline = clock.now() + POD_CLEANUP_TIMEOUT_MS;
    while (clock.now() < deadline) {
      await clock.sleep(POD_CLEANUP_POLL_MS, signal);
      if (pods.every((p) => this.deps.pods.podCleanedUp(p.metadata?.uid ?? ''))) {
        this.log.info({ pods: pods.map(podRef) }, 'Eviction manager: pods successfully cleaned up');
        return;
      }
    }
    this.log.info({ pods: pods.map(podRef) }, 'Eviction manager: timed out waiting for pods to be cleaned up');
  }
}

export const MEMORY_PRESSURE_TAINT = 'node.kubernetes.io/memory-pressure';

const podRef = (pod: Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/**
 * The grace period of a pod evicted for a soft threshold: evictionMaxPodGracePeriod, but never
 * more than the pod's own terminationGracePeriodSeconds (the cap upstream documents).
 */
export function softGracePeriod(pod: Pod, maxPodGracePeriod: number): number {
  const own = pod.spec?.terminationGracePeriodSeconds;
  const cap = Math.max(0, maxPodGracePeriod);
  return typeof own === 'number' && own >= 0 ? Math.min(cap, own) : cap;
}

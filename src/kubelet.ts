// The composition root of pod handling: builds the managers, wires the data flow
//   pod sources -> admission -> pod workers -> runtime manager -> PLEG -> status manager
//   probe manager: its results feed pod actions (restarts) and the status (started, ready);
//   a readiness change regenerates the status at once, a startup/liveness change syncs the pod.
//   pod cgroups (deps.podCgroups) are made before a pod's sandbox and removed after it;
//   the eviction manager (built in main.ts) calls evictPod and reads activePods;
//   metrics (deps.metrics) are observed on syncs, PLEG relists and probe runs.
// and owns start/stop order. Start: runtime check, pod workers, PLEG, sources, servers.
// Stop runs once, in reverse order.
import { availableParallelism, release, totalmem } from 'node:os';
import type { CriClient } from './cri/client.ts';
import type { Clock } from './common/clock.ts';
import { removePodCgroups } from './cm/pod-cgroups.ts';
import { Backoff, CRASH_LOOP_BACKOFF, IMAGE_PULL_BACKOFF } from './common/backoff.ts';
import { errorMessage } from './common/errors.ts';
import type { KubeletConfig } from './config/types.ts';
import { LoggingEventRecorder, type EventRecorder } from './kube/events.ts';
import type { Pod, PodStatus } from './kube/types.ts';
import type { PodChange } from './podconfig/pod-config.ts';
import type { KubeClient } from './kube/client.ts';
import { isNotFound as isApiNotFound } from './common/errors.ts';
import type { MirrorPodManager } from './kube/mirror-pods.ts';
import type { ApiStatusWriter } from './status/api-writer.ts';
import { admitPod, type AdmissionNode, type AdmitResult } from './lifecycle/admission.ts';
import type { PodCgroups } from './cm/container-manager.ts';
import type { EvictPodOptions } from './eviction/manager.ts';
import { EVICTION_REASON } from './eviction/ranking.ts';
import { admitPodSecurity, appArmorHostError } from './lifecycle/security-admission.ts';
import { SysctlAllowlist } from './lifecycle/sysctl.ts';
import { ApiRuntimeClasses, STANDALONE_RUNTIME_CLASSES } from './kuberuntime/runtime-class.ts';
import { RuntimeFeatures } from './kuberuntime/runtime-features.ts';
import { API_SOURCE } from './podconfig/api-source.ts';
import { CONFIG_SOURCE_ANNOTATION } from './podconfig/manifest.ts';
import { isStaticPod } from './cm/qos.ts';
import { ImageManager } from './kuberuntime/images.ts';
import { ApiPodObjectSource } from './kube/object-cache.ts';
import { NodeDockerConfig } from './credentialprovider/node-config.ts';
import { PodPullCredentials } from './credentialprovider/pull-credentials.ts';
import { VolumeManager } from './volumes/volumes.ts';
import { SystemMounter } from './volumes/mounter.ts';
import { KubeRuntimeManager, readTerminationMessage } from './kuberuntime/runtime-manager.ts';
import type { ProbeResults } from './kuberuntime/pod-actions.ts';
import { CONTAINER_LOGS_DIR, containerLogRelativePath, podLogDirectory } from './logs/paths.ts';
import { HandlerRunner } from './prober/handlers.ts';
import { ExecGate } from './prober/exec-gate.ts';
import { ProbeManager } from './prober/manager.ts';
import { nodeAddress } from './node/address.ts';
import type { Logger } from './observability/logger.ts';
import { GenericPleg } from './pleg/generic.ts';
import { readPodRuntimeState, type PodRuntimeState } from './pleg/runtime-state.ts';
import { PodWorkers, type PodSyncer } from './podworkers/pod-workers.ts';
import { generatePodStatus } from './status/generate.ts';
import { StatusManager } from './status/status-manager.ts';
import { PROBE_RESULT_LABELS, PROBE_TYPE_LABELS, type KubeletMetrics } from './metrics/kubelet-metrics.ts';
import { compareText } from './common/compare.ts';

/** The statuses of the conditions a pod's readiness gates name, as one comparable string. */
function readinessGateConditions(pod: Pod): string {
  const gates = pod.spec?.readinessGates ?? [];
  if (gates.length === 0) return '';
  return gates.map((g) => `${g.conditionType}=${pod.status?.conditions?.find((c) => c.type === g.conditionType)?.status ?? ''}`).join(',');
}

/** Pods synced at once: enough to start a burst of pods quickly on two cores. */
const MAX_CONCURRENT_SYNCS = 16;
/** Exec probes the runtime runs at once (two per core; src/prober/exec-gate.ts says why), and how long a slow one counts. */
const EXEC_PROBES_AT_ONCE = 2 * availableParallelism();
const EXEC_PROBE_HOLD_MS = 1_000;

export interface KubeletDeps {
  config: KubeletConfig;
  cri: CriClient;
  clock: Clock;
  logger: Logger;
  recorder?: EventRecorder;
  /** True once every pod source has sent its first snapshot (upstream SeenAllSources). */
  sourcesReady: () => boolean;
  /** The API-server edge, when the node is part of a cluster (null: standalone). */
  api?: KubeletApiDeps | null;
  /** Where pod, PLEG and probe metrics go (none: not measured). */
  metrics?: KubeletMetrics;
  /** The pod cgroups (QoS container manager); absent: pod cgroups are only removed. */
  podCgroups?: PodCgroups;
  /** Admission checks run before the others (upstream's eviction manager handler comes first). */
  admitHandlers?: { admit(pod: Pod): AdmitResult }[];
}

/** What the kubelet uses of the API server when it is part of a cluster. */
export interface KubeletApiDeps {
  client: KubeClient;
  mirrorPods: MirrorPodManager;
  statusWriter: ApiStatusWriter;
  /** The node as admission sees it; null while unknown (pods are then admitted unchecked). */
  admissionNode: () => AdmissionNode | null;
}

const isTerminalPhase = (phase: string | undefined): boolean => phase === 'Succeeded' || phase === 'Failed';
const fromApiServer = (pod: Pod): boolean => pod.metadata?.annotations?.[CONFIG_SOURCE_ANNOTATION] === API_SOURCE;
const podRef = (pod: Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export class Kubelet implements PodSyncer {
  readonly statusManager: StatusManager;
  readonly podWorkers: PodWorkers;
  readonly pleg: GenericPleg;
  /** Liveness, readiness and startup probes of every pod (its counters feed the metrics). */
  readonly probeManager: ProbeManager;
  private readonly deps: KubeletDeps;
  private readonly runtimeManager: KubeRuntimeManager;
  private readonly volumeManager: VolumeManager;
  readonly hostIP: string;
  private readonly pods = new Map<string, Pod>(); // desired pods by UID, from the sources
  private runtimeName = 'containerd';
  /** What each syncing pod's last status was generated from, to regenerate it when readiness changes. */
  private readonly statusInputs = new Map<string, { pod: Pod; state: PodRuntimeState; waiting: Map<string, { reason: string; message: string }>; initFailed: boolean }>();
  /** Termination messages of exited containers: by pod UID, then container ID (read once each). */
  private readonly terminationMessages = new Map<string, Map<string, string>>();
  /** Pods that admission rejected: they never run. */
  private readonly rejected = new Set<string>();
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  /** When each pod was first seen, until it first runs (kubelet_pod_start_duration_seconds). */
  private readonly firstSeenMs = new Map<string, number>();
  private podDirsCleaned = false;
  /** What the runtime supports (user namespaces, supplementalGroupsPolicy), read at start-up. */
  private readonly runtimeFeatures: RuntimeFeatures;
  /** Sysctls pods may set: the safe ones plus allowedUnsafeSysctls. */
  private readonly sysctlAllowlist: SysctlAllowlist;
  /** Why this node cannot enforce AppArmor (null: it can), checked once at start-up as upstream. */
  private readonly appArmorHostError: string | null;
  /** Pods synced at least once (the pod worker duration's create vs sync). */
  private readonly syncedOnce = new Set<string>();
  /** Pods being or having been evicted: their final status and grace period, who waits for the kill, whether it is cleaned up. */
  private readonly evictions = new Map<string, { opts: EvictPodOptions; done: PromiseWithResolvers<void>; cleaned: boolean }>();

  constructor(deps: KubeletDeps) {
    this.deps = deps;
    const { config, cri, clock, logger } = deps;
    this.log = logger.child({ component: 'kubelet' });
    const recorder = deps.recorder ?? new LoggingEventRecorder({ logger });
    this.recorder = recorder;
    this.hostIP = nodeAddress(config.nodeIP, config.nodeName);
    this.statusManager = new StatusManager({ clock });
    const objectSource = deps.api ? new ApiPodObjectSource({ client: deps.api.client, clock }) : null;
    this.volumeManager = new VolumeManager({ source: objectSource, mounter: new SystemMounter(), logger, config: { rootDir: config.rootDir } });
    this.probeManager = new ProbeManager({
      runtime: new ExecGate(cri, { limit: EXEC_PROBES_AT_ONCE, releaseAfterMs: EXEC_PROBE_HOLD_MS, clock }),
      clock,
      logger,
      recorder,
      podStatus: (uid) => this.statusManager.getPodStatus(uid),
      onResultChange: (uid, change) => this.probeResultChanged(uid, change.probeType),
      onProbe: deps.metrics ? (r) => deps.metrics!.countProbe({ ...r, probeType: PROBE_TYPE_LABELS[r.probeType] }, PROBE_RESULT_LABELS[r.result], r.durationMs / 1000) : undefined,
      onWorkerExit: deps.metrics ? (p) => deps.metrics!.forgetProbe({ ...p, probeType: PROBE_TYPE_LABELS[p.probeType] }) : undefined,
    });
    this.runtimeFeatures = new RuntimeFeatures({ status: (signal) => cri.statusResponse(signal), clock, logger });
    this.sysctlAllowlist = SysctlAllowlist.forNode(release(), config.allowedUnsafeSysctls);
    this.appArmorHostError = appArmorHostError();
    this.runtimeManager = new KubeRuntimeManager({
      security: {
        images: cri,
        runtimeClasses: deps.api ? new ApiRuntimeClasses({ client: deps.api.client, clock }) : STANDALONE_RUNTIME_CLASSES,
        features: this.runtimeFeatures,
      },
      hooks: new HandlerRunner({ runtime: cri, clock, recorder }),
      objectSource,
      volumes: this.volumeManager,
      runtime: cri,
      imageManager: new ImageManager({
        images: cri,
        backoff: new Backoff(IMAGE_PULL_BACKOFF, clock),
        clock,
        recorder,
        serializePulls: config.serializeImagePulls,
        // The pod's imagePullSecrets, then the node's docker config (<rootDir>/config.json, ~/.docker/config.json, ...).
        credentials: new PodPullCredentials({ secrets: objectSource, node: new NodeDockerConfig({ rootDir: config.rootDir, clock, logger }), recorder, logger }),
      }),
      crashBackoff: new Backoff(CRASH_LOOP_BACKOFF, clock),
      containerGC: { minAgeMs: config.minimumGCAgeMs, maxPerPodContainer: config.maxPerPodContainerCount },
      clock,
      recorder,
      logger,
      config: {
        nodeName: config.nodeName,
        nodeHostname: config.nodeName,
        rootDir: config.rootDir,
        podLogsDir: config.podLogsDir,
        containerLogsDir: CONTAINER_LOGS_DIR,
        cgroupRoot: config.cgroupRoot,
        cgroupsPerQOS: config.cgroupsPerQOS,
        clusterDNS: [...config.clusterDNS],
        clusterDomain: config.clusterDomain,
        resolvConf: config.resolvConf,
        podPidsLimit: config.podPidsLimit,
        memoryCapacityBytes: totalmem(),
        hostIP: this.hostIP,
      },
    });
    this.podWorkers = new PodWorkers({ syncer: this, clock, logger, resyncIntervalMs: config.syncFrequencyMs, maxConcurrentSyncs: MAX_CONCURRENT_SYNCS });
    this.pleg = new GenericPleg({
      runtime: cri,
      clock,
      logger,
      onPodChanged: (uid) => this.podWorkers.podChanged(uid),
      onRelist: (uids) => this.cleanupOrphans(uids),
      onRelistTimed: deps.metrics ? (seconds, interval) => deps.metrics!.observePlegRelist(seconds, interval) : undefined,
    });
  }

  /** Waits until the runtime answers (upstream checks every 5 s), then records its name. */
  async waitForRuntime(signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const v = await this.deps.cri.version(AbortSignal.any([signal, AbortSignal.timeout(5_000)]));
        this.runtimeName = v.runtime_name || 'containerd';
        this.log.info({ runtime: v.runtime_name, runtimeVersion: v.runtime_version, criVersion: v.runtime_api_version }, 'container runtime is up');
        await this.runtimeFeatures.refresh(signal);
        return;
      } catch (err) {
        signal.throwIfAborted();
        if (attempt === 0 || attempt % 12 === 0) this.log.error({ endpoint: this.deps.config.containerRuntimeEndpoint, err: errorMessage(err) }, 'container runtime is not answering; retrying every 5s');
        await this.deps.clock.sleep(5_000, signal);
      }
    }
  }

  /**
   * Applies what changed in the pod sources: new pods are admitted and start, changed pods
   * update, pods marked for deletion terminate gracefully, removed pods stop. A refreshed pod
   * (its status changed, e.g. by our own write) is kept without a sync (upstream
   * HandlePodReconcile), unless the conditions of its readiness gates changed: a syncing pod
   * syncs then (rejected and terminating pods have no syncing worker).
   */
  applyPodChange(change: PodChange): void {
    for (const pod of change.removed) {
      this.pods.delete(pod.metadata?.uid ?? '');
      this.podWorkers.terminatePod(pod);
    }
    for (const pod of change.refreshed) {
      const uid = pod.metadata?.uid ?? '';
      const old = this.pods.get(uid);
      if (!old) continue;
      this.pods.set(uid, pod);
      this.podWorkers.refreshPod(pod);
      // Upstream NeedToReconcilePodReadiness: a syncing pod whose gates' conditions changed.
      if (readinessGateConditions(old) !== readinessGateConditions(pod)) this.podWorkers.podChanged(uid);
    }
    const added = [...change.added].sort((a, b) => compareText(String(a.metadata?.creationTimestamp ?? ''), String(b.metadata?.creationTimestamp ?? '')));
    for (const pod of [...added, ...change.updated]) {
      const uid = pod.metadata?.uid ?? '';
      if (!this.pods.has(uid) && !this.syncedOnce.has(uid)) this.firstSeenMs.set(uid, this.deps.clock.now());
      this.pods.set(uid, pod);
      if (pod.metadata?.deletionTimestamp) {
        this.podWorkers.terminatePod(pod);
        continue;
      }
      if (this.rejected.has(uid)) continue;
      if (this.podWorkers.state(uid) === 'terminated' && !this.admit(pod)) continue;
      if (!isTerminalPhase(pod.status?.phase)) this.probeManager.addPod(pod);
      this.podWorkers.syncPod(pod);
    }
  }

  /** Stops what runs beside the pod workers (the probe workers); resolves when they ended. */
  async stop(): Promise<void> {
    await this.probeManager.stop();
  }

  /**
   * Admission of a pod the kubelet does not run yet (upstream canAdmitPod): a rejected pod is
   * Failed with upstream's reason and never runs. Pods the API already reports terminal are not
   * checked; the node checks (resources, ports, affinity, taints) only once the node is known,
   * the security checks (sysctls, AppArmor, supplementalGroupsPolicy) always.
   */
  private admit(pod: Pod): boolean {
    if (isTerminalPhase(pod.status?.phase)) return true;
    const uid = pod.metadata?.uid ?? '';
    const result = this.admitResult(pod, uid);
    if (result.admit) return true;
    this.rejected.add(uid);
    this.log.warn({ pod: podRef(pod), podUID: uid, reason: result.reason }, result.message);
    this.recorder.event(pod, 'Warning', result.reason, result.message);
    this.statusManager.setPodStatus(pod, { phase: 'Failed', reason: result.reason, message: result.message, startTime: undefined, conditions: [] });
    return false;
  }

  private admitResult(pod: Pod, uid: string): AdmitResult {
    for (const h of this.deps.admitHandlers ?? []) {
      const r = h.admit(pod);
      if (!r.admit) return r;
    }
    const security = admitPodSecurity(pod, {
      sysctls: this.sysctlAllowlist,
      appArmorHostError: this.appArmorHostError,
      supplementalGroupsPolicySupported: this.runtimeFeatures.current().supplementalGroupsPolicy,
      standalone: !this.deps.api,
    });
    const node = this.deps.api?.admissionNode() ?? null;
    if (!security.admit || !node) return security;
    const active = [...this.pods.values()].filter((p) => {
      const u = p.metadata?.uid ?? '';
      return u !== uid && !this.rejected.has(u) && this.podWorkers.state(u) !== 'terminated' && !isTerminalPhase(this.statusManager.getPodStatus(u)?.phase);
    });
    return admitPod(pod, active, node);
  }

  /**
   * Pods admitted, syncing and not terminal (upstream GetActivePods): the eviction candidates and
   * what the QoS cgroups are sized for.
   */
  activePods(): Pod[] {
    return [...this.pods.values()].filter((p) => {
      const u = p.metadata?.uid ?? '';
      return !this.rejected.has(u) && !this.evictions.has(u) && this.podWorkers.state(u) === 'syncing' && !isTerminalPhase(p.status?.phase) && !isTerminalPhase(this.statusManager.getPodStatus(u)?.phase);
    });
  }

  /** Every pod UID the kubelet knows: desired by a source, or handled by a worker. */
  knownPodUIDs(): Set<string> {
    return new Set([...this.pods.keys(), ...this.podWorkers.knownPods()]);
  }

  /**
   * Evicts a pod (upstream killPodFunc with the eviction's status): it stops within
   * opts.gracePeriodSeconds (never less than 2 s) and ends Failed with reason Evicted, opts.message
   * and opts.condition; its volumes are torn down. Resolves once its containers are stopped;
   * rejects when that takes longer than the grace period + 60 s or the signal aborts.
   */
  async evictPod(pod: Pod, opts: EvictPodOptions, signal: AbortSignal): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    let entry = this.evictions.get(uid);
    if (!entry) {
      entry = { opts, done: Promise.withResolvers<void>(), cleaned: false };
      entry.done.promise.catch(() => undefined);
      this.evictions.set(uid, entry);
    }
    this.podWorkers.syncPod(this.pods.get(uid) ?? pod);
    const both = AbortSignal.any([signal, AbortSignal.timeout((Math.max(opts.gracePeriodSeconds, 2) + 60) * 1000)]);
    const done = entry.done.promise;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(both.reason as Error);
      if (both.aborted) return onAbort();
      both.addEventListener('abort', onAbort, { once: true });
      done.then(() => {
        both.removeEventListener('abort', onAbort);
        resolve();
      }, reject);
    });
  }

  /** True once an evicted pod's containers are stopped and its volumes torn down, or it is gone (upstream PodCleanedUpFunc). */
  podCleanedUp(uid: string): boolean {
    const entry = this.evictions.get(uid);
    return !entry || entry.cleaned || this.podWorkers.state(uid) !== 'syncing';
  }

  /** Pods the runtime has that no source wants and no worker handles: kill and remove them. */
  private cleanupOrphans(runtimeUIDs: Set<string>): void {
    if (!this.deps.sourcesReady()) return; // until every source has spoken, any pod may still be wanted
    const known = this.podWorkers.knownPods();
    for (const uid of runtimeUIDs) {
      if (known.has(uid) || this.pods.has(uid)) continue;
      this.log.info({ podUID: uid }, 'removing a pod that no source defines any more');
      this.podWorkers.terminatePod({ metadata: { uid } });
    }
    if (!this.podDirsCleaned) {
      // Once after start-up: folders (and mounts) of pods that are gone everywhere, as upstream.
      this.podDirsCleaned = true;
      const active = new Set([...known, ...this.pods.keys(), ...runtimeUIDs]);
      this.volumeManager.cleanupOrphanedPodDirs(active).then(
        (removed) => removed.length > 0 && this.log.info({ podUIDs: removed }, 'removed the folders of pods that no longer exist'),
        (err: unknown) => this.log.warn({ err: errorMessage(err) }, 'cleaning up orphaned pod folders failed'),
      );
    }
  }

  async syncPod(pod: Pod, signal: AbortSignal): Promise<{ requeueAfterMs: number | null }> {
    const uid = pod.metadata?.uid ?? '';
    const startMs = this.deps.clock.now();
    try {
      return await this.syncPodOnce(pod, uid, signal);
    } finally {
      this.deps.metrics?.observePodWorker(this.syncedOnce.has(uid) ? 'sync' : 'create', (this.deps.clock.now() - startMs) / 1000);
      this.syncedOnce.add(uid);
    }
  }

  private async syncPodOnce(pod: Pod, uid: string, signal: AbortSignal): Promise<{ requeueAfterMs: number | null }> {
    const { cri } = this.deps;
    const mirror = this.deps.api && isStaticPod(pod) ? this.deps.api.mirrorPods.ensureMirrorPod(pod, signal) : null;
    let state = await readPodRuntimeState(cri, uid, signal);
    const eviction = this.evictions.get(uid);
    if (eviction || isTerminalPhase(pod.status?.phase) || isTerminalPhase(this.statusManager.getPodStatus(uid)?.phase)) {
      // A terminal pod never runs again (upstream: the pod worker goes straight to terminated).
      if (state.containers.some((c) => c.state === 'running') || state.sandboxes.some((s) => s.ready)) {
        if (eviction) this.probeManager.stopLivenessAndStartup(uid);
        await this.runtimeManager.killPod(pod, state, eviction ? eviction.opts.gracePeriodSeconds : null, signal);
        state = await readPodRuntimeState(cri, uid, signal);
      }
      await this.setStatus(pod, state, new Map(), false, !!eviction);
      if (eviction && !eviction.cleaned) {
        eviction.done.resolve();
        // Upstream tears down a terminated pod's volumes: a memory-backed emptyDir holds its memory until then.
        await this.volumeManager.tearDownPod(uid);
        eviction.cleaned = true;
      }
      await mirror;
      return { requeueAfterMs: null };
    }
    // Upstream order: the status shows what the runtime reports before this sync acts on it, so
    // an exit reaches the API before the sandbox is stopped or the container restarted.
    const last = this.statusInputs.get(uid);
    if (last) await this.setStatus(pod, state, last.waiting, last.initFailed);
    await this.deps.podCgroups?.ensurePod(pod);
    const result = await this.runtimeManager.syncPod(pod, state, signal, this.probeResults(uid, state));
    // Keeps tokens, configMaps and secrets in the pod's volumes current.
    await this.volumeManager.refreshPod(pod, signal);
    if (result.changed) state = await readPodRuntimeState(cri, uid, signal);
    await this.setStatus(pod, state, result.waiting, result.initFailed);
    if (result.runtimeMs > 0) this.log.debug({ pod: podRef(pod), podUID: uid, runtimeMs: Math.round(result.runtimeMs * 10) / 10 }, 'runtime time in this sync');
    await mirror;
    return { requeueAfterMs: result.requeueAfterMs };
  }

  /** What the probes say about the pod's running containers, for its pod actions. */
  private probeResults(uid: string, state: PodRuntimeState): ProbeResults {
    const failed = new Map<string, 'liveness' | 'startup'>();
    const notStarted = new Set<string>();
    for (const c of state.containers) {
      if (c.state !== 'running') continue;
      const why = this.probeManager.failure(c.id);
      if (why) failed.set(c.id, why);
      if (!this.probeManager.isStarted(uid, c.name, c.id)) notStarted.add(c.id);
    }
    return { failed, notStarted };
  }

  /**
   * A probe result changed. Readiness: the pod's status is regenerated at once from its last
   * runtime state (upstream SetContainerReadiness; no runtime call, so a flip reaches the status
   * in milliseconds). Startup and liveness: the pod syncs (a sidecar may start the next init
   * container; a failed container is killed and restarted).
   */
  private probeResultChanged(uid: string, probeType: 'liveness' | 'readiness' | 'startup'): void {
    if (probeType !== 'readiness') {
      this.podWorkers.podChanged(uid);
      return;
    }
    const last = this.statusInputs.get(uid);
    if (!last || this.podWorkers.state(uid) !== 'syncing') return;
    this.generateStatus(last.pod, last.state, last.waiting, last.initFailed, false, this.terminationMessages.get(uid) ?? new Map());
  }

  /** Generates the pod's API status from the runtime's state and hands it to the status manager. */
  private async setStatus(pod: Pod, state: PodRuntimeState, waiting: Map<string, { reason: string; message: string }>, initFailed: boolean, podIsTerminal = false): Promise<void> {
    const terminationMessages = await this.readTerminationMessages(pod, state);
    if (podIsTerminal) this.statusInputs.delete(state.uid);
    else this.statusInputs.set(state.uid, { pod, state, waiting, initFailed });
    this.generateStatus(pod, state, waiting, initFailed, podIsTerminal, terminationMessages);
  }

  private generateStatus(
    pod: Pod, state: PodRuntimeState, waiting: Map<string, { reason: string; message: string }>, initFailed: boolean, podIsTerminal: boolean, terminationMessages: Map<string, string>,
  ): void {
    const uid = pod.metadata?.uid ?? '';
    const status = generatePodStatus(pod, state, {
      hostIP: this.hostIP,
      runtimeName: this.runtimeName,
      waiting,
      terminationMessages,
      initFailed,
      podIsTerminal,
      nowISO: new Date(this.deps.clock.now()).toISOString(),
      // Called for running containers only; it may trigger a readiness probe run (upstream).
      probes: (name, id) => this.probeManager.containerProbeStatus(uid, name, id, true),
    });
    this.applyEviction(pod, status);
    this.statusManager.setPodStatus(pod, status);
    const firstSeen = this.firstSeenMs.get(uid);
    if (firstSeen !== undefined && status.phase === 'Running' && status.containerStatuses?.every((c) => c.state?.running)) {
      this.firstSeenMs.delete(uid);
      this.deps.metrics?.observePodStart((this.deps.clock.now() - firstSeen) / 1000);
    }
  }

  /**
   * An evicted pod's status is Failed with reason Evicted, its message and condition (upstream's
   * PodStatusFunc of the eviction). A pod the API already reports evicted stays so after a restart.
   */
  private applyEviction(pod: Pod, status: PodStatus): void {
    const opts = this.evictions.get(pod.metadata?.uid ?? '')?.opts;
    const recorded = pod.status?.phase === 'Failed' && pod.status.reason === EVICTION_REASON ? pod.status : undefined;
    if (!opts && !recorded) return;
    status.phase = 'Failed';
    status.reason = EVICTION_REASON;
    status.message = opts?.message ?? recorded?.message;
    const c = opts?.condition ?? recorded?.conditions?.find((x) => x.type === 'DisruptionTarget');
    if (c) status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), { type: c.type, status: c.status, reason: c.reason, message: c.message }];
  }

  /**
   * Stops the pod within its grace period and removes what it has. A pod deleted through the
   * API gets its final status written and is then removed from the API (grace period 0, as
   * upstream); a static pod's mirror pod is deleted.
   */
  async terminatePod(pod: Pod, signal: AbortSignal): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const startMs = this.deps.clock.now();
    try {
      await this.terminatePodOnce(pod, uid, signal);
    } finally {
      this.deps.metrics?.observePodWorker('kill', (this.deps.clock.now() - startMs) / 1000);
    }
    this.firstSeenMs.delete(uid);
    this.syncedOnce.delete(uid);
  }

  private async terminatePodOnce(pod: Pod, uid: string, signal: AbortSignal): Promise<void> {
    // Nothing restarts a container while the pod stops; readiness keeps being probed (upstream).
    this.probeManager.stopLivenessAndStartup(uid);
    this.statusInputs.delete(uid);
    let state = await readPodRuntimeState(this.deps.cri, uid, signal);
    const desired = pod.spec ? pod : null;
    const deletionGrace = pod.metadata?.deletionTimestamp ? pod.metadata.deletionGracePeriodSeconds : undefined;
    await this.runtimeManager.killPod(desired, state, typeof deletionGrace === 'number' ? deletionGrace : null, signal);
    const api = this.deps.api;
    const deletedThroughApi = !!(api && desired && fromApiServer(pod) && pod.metadata?.deletionTimestamp);
    if (api && deletedThroughApi) {
      state = await readPodRuntimeState(this.deps.cri, uid, signal);
      await this.setStatus(pod, state, new Map(), false, true);
      api.statusWriter.setPodStatus(pod, this.statusManager.getPodStatus(uid)!);
      await api.statusWriter.flush(uid);
    }
    if (api && desired && isStaticPod(pod)) await api.mirrorPods.deleteMirrorPod(pod, signal);
    const name = pod.metadata?.name || state.name;
    const namespace = pod.metadata?.namespace || state.namespace;
    const names = name && namespace ? { name, namespace } : null;
    await this.volumeManager.tearDownPod(uid); // unmounts tmpfs volumes before the pod folder goes
    await this.runtimeManager.removePod(uid, state, names, signal);
    if (this.deps.podCgroups) await this.deps.podCgroups.podRemoved(uid);
    else if (this.deps.config.cgroupsPerQOS) await removePodCgroups(uid, this.deps.config.cgroupRoot);
    // Removed from the API only once its resources on the node are reclaimed (upstream
    // PodResourcesAreReclaimed), so "gone from the API" means gone from the node too.
    if (api && deletedThroughApi) await this.deletePodFromApi(api, pod, signal);
    this.terminationMessages.delete(uid);
    this.statusInputs.delete(uid);
    this.probeManager.removePod(uid);
    this.rejected.delete(uid);
    this.evictions.get(uid)?.done.reject(new Error('the pod was removed before its eviction completed'));
    this.evictions.delete(uid);
    this.statusManager.removePod(uid);
    api?.statusWriter.forget(uid);
    this.log.info({ pod: names ? `${names.namespace}/${names.name}` : undefined, podUID: uid }, 'pod terminated and removed');
  }

  private async deletePodFromApi(api: KubeletApiDeps, pod: Pod, signal: AbortSignal): Promise<void> {
    const m = pod.metadata ?? {};
    try {
      await api.client.request('DELETE', `/api/v1/namespaces/${encodeURIComponent(m.namespace ?? '')}/pods/${encodeURIComponent(m.name ?? '')}`, {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: m.uid } },
        signal,
      });
    } catch (err) {
      if (!isApiNotFound(err)) throw err;
    }
  }

  /**
   * Reads each newly exited container's termination message once (its file, or with
   * FallbackToLogsOnError the end of its log; capped as upstream). Resolves to the pod's
   * messages by container ID; those of containers the runtime no longer has are forgotten.
   */
  private async readTerminationMessages(pod: Pod, state: PodRuntimeState): Promise<Map<string, string>> {
    const specs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
    const m = pod.metadata ?? {};
    const previous = this.terminationMessages.get(state.uid);
    const messages = new Map<string, string>();
    await Promise.all(
      state.containers.map(async (c) => {
        if (c.state !== 'exited') return;
        const known = previous?.get(c.id);
        if (known !== undefined) {
          messages.set(c.id, known);
          return;
        }
        const policy = specs.find((s) => s.name === c.name)?.terminationMessagePolicy;
        let logPath = '';
        try {
          logPath = `${podLogDirectory(this.deps.config.podLogsDir, m.namespace ?? '', m.name ?? '', m.uid ?? '')}/${containerLogRelativePath(c.name, c.restartCount)}`;
        } catch (err) {
          this.log.debug({ container: c.name, err: errorMessage(err) }, 'no log path for the termination message');
        }
        messages.set(c.id, await readTerminationMessage(c, policy, logPath));
      }),
    );
    if (messages.size > 0) this.terminationMessages.set(state.uid, messages);
    else this.terminationMessages.delete(state.uid);
    return messages;
  }
}

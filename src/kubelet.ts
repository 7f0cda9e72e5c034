// The composition root: builds the managers, wires the data flow
//   pod sources -> pod workers -> runtime manager -> PLEG -> status manager
// and owns start/stop order. Start: runtime check, pod workers, PLEG, sources, servers.
// Stop runs once, in reverse order.
import { constants as fsConstants, open } from 'node:fs/promises';
import { totalmem } from 'node:os';
import type { CriClient } from './cri/client.ts';
import type { Clock } from './common/clock.ts';
import { removePodCgroups } from './cm/pod-cgroups.ts';
import { Backoff, CRASH_LOOP_BACKOFF, IMAGE_PULL_BACKOFF } from './common/backoff.ts';
import { errorMessage, isNotFound } from './common/errors.ts';
import type { KubeletConfig } from './config/types.ts';
import { LoggingEventRecorder, type EventRecorder } from './kube/events.ts';
import type { Pod } from './kube/types.ts';
import type { PodChange } from './podconfig/pod-config.ts';
import { ImageManager } from './kuberuntime/images.ts';
import { KubeRuntimeManager } from './kuberuntime/runtime-manager.ts';
import { CONTAINER_LOGS_DIR } from './logs/paths.ts';
import { nodeAddress } from './node/address.ts';
import type { Logger } from './observability/logger.ts';
import { GenericPleg } from './pleg/generic.ts';
import { readPodRuntimeState, type PodRuntimeState } from './pleg/runtime-state.ts';
import { PodWorkers, type PodSyncer } from './podworkers/pod-workers.ts';
import { generatePodStatus } from './status/generate.ts';
import { StatusManager } from './status/status-manager.ts';

/** Pods synced at once: enough to start a burst of pods quickly on two cores. */
const MAX_CONCURRENT_SYNCS = 16;
/** Termination messages are capped as upstream (4096 bytes per container). */
const MAX_TERMINATION_MESSAGE_BYTES = 4096;

export interface KubeletDeps {
  config: KubeletConfig;
  cri: CriClient;
  clock: Clock;
  logger: Logger;
  recorder?: EventRecorder;
  /** True once every pod source has sent its first snapshot (upstream SeenAllSources). */
  sourcesReady: () => boolean;
}

export class Kubelet implements PodSyncer {
  readonly statusManager: StatusManager;
  readonly podWorkers: PodWorkers;
  readonly pleg: GenericPleg;
  private readonly deps: KubeletDeps;
  private readonly runtimeManager: KubeRuntimeManager;
  private readonly hostIP: string;
  private readonly pods = new Map<string, Pod>(); // desired pods by UID, from the sources
  private runtimeName = 'containerd';
  private readonly terminationMessages = new Map<string, string>(); // by container id
  /** Per pod UID: waiting reasons from its last sync, for the status. */
  private readonly waiting = new Map<string, Map<string, { reason: string; message: string }>>();
  private readonly log: Logger;

  constructor(deps: KubeletDeps) {
    this.deps = deps;
    const { config, cri, clock, logger } = deps;
    this.log = logger.child({ component: 'kubelet' });
    const recorder = deps.recorder ?? new LoggingEventRecorder({ logger });
    this.hostIP = nodeAddress(config.nodeIP);
    this.statusManager = new StatusManager({ clock });
    this.runtimeManager = new KubeRuntimeManager({
      runtime: cri,
      imageManager: new ImageManager({
        images: cri,
        backoff: new Backoff(IMAGE_PULL_BACKOFF, clock),
        clock,
        recorder,
        serializePulls: config.serializeImagePulls,
      }),
      crashBackoff: new Backoff(CRASH_LOOP_BACKOFF, clock),
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
    });
  }

  /** Waits until the runtime answers (upstream checks every 5 s), then records its name. */
  async waitForRuntime(signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const v = await this.deps.cri.version(AbortSignal.any([signal, AbortSignal.timeout(5_000)]));
        this.runtimeName = v.runtime_name || 'containerd';
        this.log.info({ runtime: v.runtime_name, runtimeVersion: v.runtime_version, criVersion: v.runtime_api_version }, 'container runtime is up');
        return;
      } catch (err) {
        signal.throwIfAborted();
        if (attempt === 0 || attempt % 12 === 0) this.log.error({ endpoint: this.deps.config.containerRuntimeEndpoint, err: errorMessage(err) }, 'container runtime is not answering; retrying every 5s');
        await this.deps.clock.sleep(5_000, signal);
      }
    }
  }

  /** Applies what changed in the pod sources: new pods start, changed pods update, removed pods stop. */
  applyPodChange(change: PodChange): void {
    for (const pod of change.removed) {
      this.pods.delete(pod.metadata?.uid ?? '');
      this.podWorkers.terminatePod(pod);
    }
    for (const pod of [...change.added, ...change.updated]) {
      this.pods.set(pod.metadata?.uid ?? '', pod);
      this.podWorkers.syncPod(pod);
    }
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
  }

  async syncPod(pod: Pod, signal: AbortSignal): Promise<{ requeueAfterMs: number | null }> {
    const uid = pod.metadata?.uid ?? '';
    const { cri } = this.deps;
    let state = await readPodRuntimeState(cri, uid, signal);
    const result = await this.runtimeManager.syncPod(pod, state, signal);
    if (result.changed) state = await readPodRuntimeState(cri, uid, signal);
    this.waiting.set(uid, result.waiting);
    await this.readTerminationMessages(state);
    const status = generatePodStatus(pod, state, {
      hostIP: this.hostIP,
      runtimeName: this.runtimeName,
      waiting: result.waiting,
      terminationMessages: this.terminationMessages,
      initFailed: result.initFailed,
      nowISO: new Date(this.deps.clock.now()).toISOString(),
    });
    this.statusManager.setPodStatus(pod, status);
    if (result.runtimeMs > 0) this.log.debug({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: uid, runtimeMs: Math.round(result.runtimeMs * 10) / 10 }, 'runtime time in this sync');
    return { requeueAfterMs: result.requeueAfterMs };
  }

  async terminatePod(pod: Pod, signal: AbortSignal): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const state = await readPodRuntimeState(this.deps.cri, uid, signal);
    const desired = pod.spec ? pod : null;
    await this.runtimeManager.killPod(desired, state, null, signal);
    const name = pod.metadata?.name || state.name;
    const namespace = pod.metadata?.namespace || state.namespace;
    const names = name && namespace ? { name, namespace } : null;
    await this.runtimeManager.removePod(uid, state, names, signal);
    if (this.deps.config.cgroupsPerQOS) await removePodCgroups(uid, this.deps.config.cgroupRoot);
    for (const c of state.containers) this.terminationMessages.delete(c.id);
    this.waiting.delete(uid);
    this.statusManager.removePod(uid);
    this.log.info({ pod: names ? `${names.namespace}/${names.name}` : undefined, podUID: uid }, 'pod terminated and removed');
  }

  /** Reads each newly exited container's termination message file once (capped, never following a symlink). */
  private async readTerminationMessages(state: PodRuntimeState): Promise<void> {
    for (const c of state.containers) {
      if (c.state !== 'exited' || !c.terminationMessagePath || this.terminationMessages.has(c.id)) continue;
      let text = '';
      try {
        const fh = await open(c.terminationMessagePath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
        try {
          const buf = Buffer.alloc(MAX_TERMINATION_MESSAGE_BYTES);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          text = buf.subarray(0, bytesRead).toString('utf8');
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (!isNotFound(err) && (err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.debug({ container: c.name, err: errorMessage(err) }, 'could not read termination message');
      }
      this.terminationMessages.set(c.id, text);
    }
  }
}

// ProbeManager (upstream pkg/kubelet/prober/prober_manager.go): one worker per container probe
// (liveness, readiness, startup) of every pod the kubelet runs, and the three result sets the
// kubelet reads:
//   - status generation asks containerProbeStatus() whether a running container has started
//     (no startup probe, or it succeeded) and is ready (started, and no readiness probe or it
//     succeeded: unknown is not ready);
//   - pod actions ask failure() which running containers failed liveness or startup (they are
//     killed and restarted per the restart policy) and isStarted() (sidecars start in order).
// A readiness or startup change, and a liveness failure, call onResultChange so the pod syncs.
import type { Clock } from '../common/clock.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod, PodStatus } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { ExecRunner } from './exec.ts';
import { Prober, type ProbeRunner } from './prober.ts';
import { containerProbe, ResultsManager, type ProbeResult, type ProbeType } from './results.ts';
import { ProbeWorker, type ProbeCounts } from './worker.ts';

export interface ProbeManagerDeps {
  runtime: ExecRunner;
  clock: Clock;
  logger: Logger;
  recorder: EventRecorder;
  /** The pod's latest status (the status manager's): what the workers probe against. */
  podStatus: (podUID: string) => PodStatus | undefined;
  /** A probe result changed in a way the pod's status or actions must see: sync the pod soon. */
  onResultChange: (podUID: string, change: { probeType: ProbeType; container: string; containerId: string; result: ProbeResult }) => void;
  /** Runs the probes (default: the real Prober over `runtime`, HTTP, TCP and gRPC). */
  prober?: ProbeRunner;
  /** In [0, 1), for the first run's jitter (default Math.random). */
  random?: () => number;
  /** After each probe run, for metrics. */
  onProbe?: (info: ProbeRunInfo) => void;
  /** A worker ended (its pod or container went, or the manager stopped): its metric series go. */
  onWorkerExit?: (info: ProbeIdentity) => void;
}

/** Which probe: its type, pod and container. */
export interface ProbeIdentity {
  probeType: ProbeType;
  pod: string;
  namespace: string;
  podUID: string;
  container: string;
}

export interface ProbeRunInfo extends ProbeIdentity {
  result: 'success' | 'failure' | 'unknown';
  durationMs: number;
}

export interface WorkerCounts extends ProbeCounts {
  probeType: ProbeType;
  pod: string;
  namespace: string;
  podUID: string;
  container: string;
}

const PROBE_TYPES: readonly ProbeType[] = ['liveness', 'readiness', 'startup'];
const workerKey = (podUID: string, container: string, type: ProbeType): string => `${podUID}/${container}/${type}`;
const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';
const identity = (w: ProbeWorker): ProbeIdentity => ({
  probeType: w.type, pod: w.pod.metadata?.name ?? '', namespace: w.pod.metadata?.namespace ?? '', podUID: w.podUID, container: w.container.name,
});

export class ProbeManager {
  readonly liveness = new ResultsManager();
  readonly readiness = new ResultsManager();
  readonly startup = new ResultsManager();
  /** Runs of every worker so far, by probe type (kept when workers end). */
  readonly totals: Record<ProbeType, { successful: number; failed: number; unknown: number }> = {
    liveness: { successful: 0, failed: 0, unknown: 0 },
    readiness: { successful: 0, failed: 0, unknown: 0 },
    startup: { successful: 0, failed: 0, unknown: 0 },
  };
  private readonly deps: ProbeManagerDeps;
  private readonly prober: ProbeRunner;
  private readonly workers = new Map<string, ProbeWorker>();
  private readonly startedAtMs: number;
  private stopped = false;

  constructor(deps: ProbeManagerDeps) {
    this.deps = deps;
    this.prober = deps.prober ?? new Prober({ runtime: deps.runtime, recorder: deps.recorder });
    this.startedAtMs = deps.clock.now();
  }

  private resultsOf(type: ProbeType): ResultsManager {
    return type === 'liveness' ? this.liveness : type === 'readiness' ? this.readiness : this.startup;
  }

  /**
   * Starts a worker for each probe of the pod's containers and sidecars that has none yet
   * (upstream AddPod). Idempotent; probes are immutable in the API, so an existing worker is kept.
   */
  addPod(pod: Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata?.uid ?? '';
    const containers = [...(pod.spec?.initContainers ?? []).filter(isSidecar), ...(pod.spec?.containers ?? [])];
    for (const container of containers) {
      for (const type of PROBE_TYPES) {
        const spec = containerProbe(container, type);
        const key = workerKey(uid, container.name, type);
        if (!spec || this.workers.has(key)) continue;
        const worker = new ProbeWorker(
          {
            clock: this.deps.clock,
            prober: this.prober,
            results: this.resultsOf(type),
            logger: this.deps.logger.child({ component: 'prober' }),
            podStatus: this.deps.podStatus,
            managerStartedAtMs: this.startedAtMs,
            random: this.deps.random ?? Math.random,
            onChange: (w, containerId, result) => this.deps.onResultChange(w.podUID, { probeType: w.type, container: w.container.name, containerId, result }),
            onProbe: (w, result, durationMs) => this.recordRun(w, result, durationMs),
            onExit: (w) => {
              const k = workerKey(w.podUID, w.container.name, w.type);
              if (this.workers.get(k) === w) this.workers.delete(k);
              this.deps.onWorkerExit?.(identity(w));
            },
          },
          type,
          pod,
          container,
          spec,
        );
        this.workers.set(key, worker);
        worker.start();
      }
    }
  }

  private recordRun(w: ProbeWorker, result: 'success' | 'failure' | 'unknown', durationMs: number): void {
    const t = this.totals[w.type];
    if (result === 'success') t.successful++;
    else if (result === 'failure') t.failed++;
    else t.unknown++;
    this.deps.onProbe?.({ ...identity(w), result, durationMs });
  }

  private podWorkers(podUID: string): ProbeWorker[] {
    return [...this.workers.values()].filter((w) => w.podUID === podUID);
  }

  /**
   * The pod is terminating: its liveness and startup probes stop, so that nothing restarts a
   * container during its graceful stop; readiness keeps running (upstream StopLivenessAndStartup).
   */
  stopLivenessAndStartup(podUID: string): void {
    for (const w of this.podWorkers(podUID)) if (w.type !== 'readiness') this.stopWorker(w);
  }

  /** The pod is gone: every worker of it stops and its results are dropped (upstream RemovePod). */
  removePod(podUID: string): void {
    for (const w of this.podWorkers(podUID)) this.stopWorker(w);
  }

  /** Stops the workers of every pod not in `desired` (upstream CleanupPods). */
  cleanupPods(desired: ReadonlySet<string>): void {
    for (const w of [...this.workers.values()]) if (!desired.has(w.podUID)) this.stopWorker(w);
  }

  private stopWorker(w: ProbeWorker): void {
    w.stop();
    const k = workerKey(w.podUID, w.container.name, w.type);
    if (this.workers.get(k) === w) this.workers.delete(k);
  }

  hasWorker(podUID: string, container: string, type: ProbeType): boolean {
    return this.workers.has(workerKey(podUID, container, type));
  }

  /** Whether a running container has started: its startup probe succeeded, or it has none. Pure. */
  isStarted(podUID: string, container: string, containerId: string): boolean {
    const r = this.startup.get(containerId);
    if (r !== undefined) return r === 'success';
    return !this.hasWorker(podUID, container, 'startup');
  }

  /**
   * The started and ready flags of one container for its status (upstream UpdatePodStatus):
   * started = running and (no startup probe or it succeeded); ready = started and (no readiness
   * probe or it succeeded). A started container that is not ready yet gets its readiness probe
   * run at once (upstream's manual trigger), so readiness follows a start without a period's wait.
   */
  containerProbeStatus(podUID: string, container: string, containerId: string, running: boolean): { started: boolean; ready: boolean } {
    if (!running) return { started: false, ready: false };
    const started = this.isStarted(podUID, container, containerId);
    if (!started) return { started, ready: false };
    if (this.readiness.get(containerId) === 'success') return { started, ready: true };
    const w = this.workers.get(workerKey(podUID, container, 'readiness'));
    if (!w) return { started, ready: true };
    w.trigger();
    return { started, ready: false };
  }

  /** Why a running container must be restarted: its liveness or startup probe failed; null otherwise. */
  failure(containerId: string): 'liveness' | 'startup' | null {
    if (this.liveness.get(containerId) === 'failure') return 'liveness';
    if (this.startup.get(containerId) === 'failure') return 'startup';
    return null;
  }

  /** Per worker counts (live workers only), for metrics. */
  workerCounts(): WorkerCounts[] {
    return [...this.workers.values()].map((w) => ({
      probeType: w.type, pod: w.pod.metadata?.name ?? '', namespace: w.pod.metadata?.namespace ?? '', podUID: w.podUID, container: w.container.name, ...w.counts,
    }));
  }

  get workerCount(): number {
    return this.workers.size;
  }

  /** Stops every worker and resolves once all have ended. No worker starts afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.workers.values()];
    for (const w of all) this.stopWorker(w);
    await Promise.all(all.map((w) => w.stopped));
  }
}

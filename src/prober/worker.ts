// One probe worker per container probe (upstream pkg/kubelet/prober/worker.go). Each worker has
// its own timer: it probes on a fixed tick of periodSeconds (like Go's ticker: a probe slower
// than the period delays only this worker's next run, at most one tick is kept pending, ticks
// never drift), so probes of different pods never wait for each other.
//
// Each run reads the pod's latest status from the status manager (the container's ID, whether
// it runs, since when, whether it has started) and:
//   no status / no container yet      -> wait
//   pod Succeeded or Failed           -> the worker ends
//   a new container ID                -> forget the old result, start from the initial value
//                                        (readiness: failure, liveness: success, startup: unknown)
//   container not running             -> failure (silently); ends when it will never restart
//   within initialDelaySeconds        -> wait
//   startup probe: container started  -> wait;  other probes: not started -> wait
//   otherwise                         -> probe; the result changes after successThreshold
//                                        successes or failureThreshold failures in a row
// A liveness or startup failure holds the worker until the container is replaced.
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { Container, ContainerStatus, Pod, PodStatus } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { ProbeRunner } from './prober.ts';
import type { Probe, ProbeResult, ProbeType, ResultsManager } from './results.ts';
import { runtimeContainerID } from '../status/container-id.ts';

/** Defaults of the API for unset (or zero) probe fields (pkg/apis/core/v1/defaults.go). */
export const DEFAULT_PERIOD_SECONDS = 10;
export const DEFAULT_SUCCESS_THRESHOLD = 1;
export const DEFAULT_FAILURE_THRESHOLD = 3;

const positive = (v: number | undefined, dflt: number): number => (typeof v === 'number' && v > 0 ? v : dflt);

/** The value a result starts from for a new container (upstream worker.initialValue). */
export function initialResult(type: ProbeType): ProbeResult {
  return type === 'readiness' ? 'failure' : type === 'liveness' ? 'success' : 'unknown';
}

/** Counts of probe runs, for metrics (upstream prober_probe_total by result). */
export interface ProbeCounts {
  successful: number;
  failed: number;
  /** Runs that could not be made (the prober errored): their result was thrown away. */
  unknown: number;
  /** Duration of the last run, ms. */
  lastDurationMs: number;
}

export interface ProbeWorkerDeps {
  clock: Clock;
  prober: ProbeRunner;
  results: ResultsManager;
  logger: Logger;
  /** The pod's latest status as the status manager holds it; undefined while there is none. */
  podStatus: (podUID: string) => PodStatus | undefined;
  /** When the probe manager started (ms): the first run is jittered only within one period of it. */
  managerStartedAtMs: number;
  /** In [0, 1): the jitter fraction. */
  random: () => number;
  /** A result changed in a way the pod's sync must see (never called for initial values). */
  onChange: (worker: ProbeWorker, containerId: string, result: ProbeResult) => void;
  /** After each probe run that was made (for metrics). */
  onProbe?: (worker: ProbeWorker, result: 'success' | 'failure' | 'unknown', durationMs: number) => void;
  /** The worker ended (stopped or no longer needed). */
  onExit: (worker: ProbeWorker) => void;
}

export class ProbeWorker {
  readonly type: ProbeType;
  readonly pod: Pod;
  readonly container: Container;
  readonly spec: Probe;
  readonly counts: ProbeCounts = { successful: 0, failed: 0, unknown: 0, lastDurationMs: 0 };
  private readonly deps: ProbeWorkerDeps;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  /** The current wait (aborted by stop(), and by trigger() when triggerable). */
  private wait: { ctl: AbortController; triggerable: boolean } | null = null;
  /** The probe in flight (aborted by stop()). */
  private inflight: AbortController | null = null;
  private triggered = false;
  private containerId = '';
  private lastResult: ProbeResult | null = null;
  private resultRun = 0;
  private onHold = false;
  private running: Promise<void> | null = null;

  constructor(deps: ProbeWorkerDeps, type: ProbeType, pod: Pod, container: Container, spec: Probe) {
    this.deps = deps;
    this.type = type;
    this.pod = pod;
    this.container = container;
    this.spec = spec;
    this.log = deps.logger.child({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: pod.metadata?.uid, container: container.name, probeType: type });
  }

  get podUID(): string {
    return this.pod.metadata?.uid ?? '';
  }

  get periodMs(): number {
    return positive(this.spec.periodSeconds, DEFAULT_PERIOD_SECONDS) * 1000;
  }

  /** Starts the loop (once). It never rejects; `stopped` resolves when it ended. */
  start(): void {
    this.running ??= this.run();
  }

  /** Resolves when the loop has ended (after stop(), or by itself). */
  get stopped(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Ends the worker: an in-flight probe is aborted, its results are removed. Idempotent. */
  stop(): void {
    const reason = new DOMException('probe worker stopped', 'AbortError');
    this.stopping.abort(reason);
    this.wait?.ctl.abort(reason);
    this.inflight?.abort(reason);
  }

  get isStopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Runs the probe now instead of at the next tick (upstream manualTriggerCh; non-blocking). */
  trigger(): void {
    this.triggered = true;
    if (this.wait?.triggerable) this.wait.ctl.abort();
  }

  private async run(): Promise<void> {
    const { clock } = this.deps;
    const period = this.periodMs;
    try {
      // After a kubelet restart every worker starts at once: spread their first runs over a period.
      if (period > clock.now() - this.deps.managerStartedAtMs) await this.sleep(this.deps.random() * period, false);
      this.triggered = false;
      let nextTick = clock.now() + period;
      while (!this.stopping.signal.aborted) {
        if (!(await this.doProbe())) break;
        // Wait for the next tick or a trigger; a tick missed while probing is run at once.
        if (this.triggered) {
          this.triggered = false;
          continue;
        }
        const now = clock.now();
        if (now >= nextTick) {
          nextTick += period * (Math.floor((now - nextTick) / period) + 1);
          continue;
        }
        const woke = await this.sleep(nextTick - now, true);
        if (woke === 'tick') nextTick += period;
        else this.triggered = false;
      }
    } catch (err) {
      if (!isAbort(err)) this.log.error({ err: errorMessage(err) }, 'probe worker failed');
    } finally {
      if (this.containerId) this.deps.results.remove(this.containerId);
      this.stopping.abort();
      this.deps.onExit(this);
    }
  }

  /**
   * Sleeps `ms`; a trigger (when allowed) ends it early. Rejects when the worker stops. One
   * short-lived controller per wait (no signal combined with the worker's long-lived one).
   */
  private async sleep(ms: number, triggerable: boolean): Promise<'tick' | 'trigger'> {
    this.stopping.signal.throwIfAborted();
    const wait = { ctl: new AbortController(), triggerable };
    this.wait = wait;
    try {
      await this.deps.clock.sleep(ms, wait.ctl.signal);
      return 'tick';
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      return 'trigger';
    } finally {
      if (this.wait === wait) this.wait = null;
    }
  }

  private setResult(containerId: string, result: ProbeResult, notify: boolean): void {
    const changed = this.deps.results.set(containerId, result);
    if (!changed || !notify) return;
    // Upstream syncs the pod on readiness and startup changes, and on liveness failures.
    if (this.type === 'liveness' && result !== 'failure') return;
    this.deps.onChange(this, containerId, result);
  }

  /** One iteration (upstream doProbe). Resolves to whether the worker should keep going; never rejects. */
  async doProbe(): Promise<boolean> {
    try {
      return await this.probeOnce();
    } catch (err) {
      if (this.stopping.signal.aborted) return false;
      this.log.error({ err: errorMessage(err) }, 'probe iteration failed');
      return true;
    }
  }

  private async probeOnce(): Promise<boolean> {
    const { clock } = this.deps;
    const status = this.deps.podStatus(this.podUID);
    if (!status) return true; // not created yet, or already gone
    if (status.phase === 'Failed' || status.phase === 'Succeeded') {
      this.log.debug({ phase: status.phase }, 'pod is terminated, ending the probe worker');
      return false;
    }
    const c = findStatus(status.containerStatuses, this.container.name) ?? findStatus(status.initContainerStatuses, this.container.name);
    if (!c) return true; // the container is not created yet, or was removed
    const id = runtimeContainerID(c.containerID);
    if (id !== this.containerId) {
      if (this.containerId) this.deps.results.remove(this.containerId);
      this.containerId = id;
      this.setResult(id, initialResult(this.type), false);
      this.onHold = false; // a new container: probe it
      this.lastResult = null;
      this.resultRun = 0;
    }
    if (this.onHold) return true;

    if (!c.state?.running) {
      this.setResult(id, 'failure', false);
      // Ends when the container will not be restarted.
      const restarts = this.container.restartPolicy === 'Always' || this.pod.spec?.restartPolicy !== 'Never';
      return !c.state?.terminated || restarts;
    }
    if (this.pod.metadata?.deletionTimestamp && this.type !== 'readiness') {
      this.setResult(id, 'success', false); // a quiet shutdown: no restart while terminating
      return false;
    }
    const startedAt = Date.parse(String(c.state.running.startedAt ?? ''));
    if (Number.isFinite(startedAt) && Math.trunc((clock.now() - startedAt) / 1000) < (this.spec.initialDelaySeconds ?? 0)) return true;
    if (c.started) {
      if (this.type === 'startup') return true; // done once started; kept for the next container
    } else if (this.type !== 'startup') {
      return true; // liveness and readiness wait for the startup probe
    }

    const t0 = clock.now();
    let result: 'success' | 'failure';
    const inflight = new AbortController();
    this.inflight = inflight;
    try {
      result = await this.deps.prober.probe(this.type, this.spec, { pod: this.pod, container: this.container, containerId: id, podIP: status.podIP ?? '' }, inflight.signal);
    } catch (err) {
      if (this.stopping.signal.aborted) return false;
      this.counts.unknown++;
      this.deps.onProbe?.(this, 'unknown', clock.now() - t0);
      this.log.debug({ err: errorMessage(err) }, 'probe errored; result discarded');
      return true; // a prober error: the result is thrown away
    } finally {
      this.inflight = null;
    }
    if (this.stopping.signal.aborted) return false;
    const duration = clock.now() - t0;
    this.counts.lastDurationMs = duration;
    if (result === 'success') this.counts.successful++;
    else this.counts.failed++;
    this.deps.onProbe?.(this, result, duration);

    if (this.lastResult === result) this.resultRun++;
    else {
      this.lastResult = result;
      this.resultRun = 1;
    }
    const threshold = result === 'failure' ? positive(this.spec.failureThreshold, DEFAULT_FAILURE_THRESHOLD) : positive(this.spec.successThreshold, DEFAULT_SUCCESS_THRESHOLD);
    if (this.resultRun < threshold) return true; // below the threshold: the result stands

    this.setResult(id, result, true);
    if ((this.type === 'liveness' || this.type === 'startup') && result === 'failure') {
      // The container will be restarted: stop probing it until a new one shows up.
      this.onHold = true;
      this.resultRun = 0;
    }
    return true;
  }
}

function findStatus(list: ContainerStatus[] | undefined, name: string): ContainerStatus | undefined {
  const s = list?.find((x) => x.name === name);
  return s?.containerID ? s : undefined;
}

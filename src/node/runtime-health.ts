// The container runtime's health as the Ready condition sees it (upstream Kubelet.updateRuntimeUp
// and runtimeState): the runtime's CRI Status is asked periodically; RuntimeReady false or
// NetworkReady false makes the node NotReady with the runtime's own reason, and a runtime that
// has not answered for RUNTIME_SYNC_THRESHOLD_MS is "down".
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { RuntimeService } from '../cri/client.ts';
import type { RuntimeStatus } from '../cri/types.ts';
import type { Logger } from '../observability/logger.ts';
import { aggregateErrors } from './node-object.ts';

/** Upstream maxWaitForContainerRuntime: a runtime silent this long (ms) is "container runtime is down". */
export const RUNTIME_SYNC_THRESHOLD_MS = 30_000;
/** Upstream checks the runtime every 5 s (ms). */
export const RUNTIME_CHECK_PERIOD_MS = 5_000;
/** Deadline of one CRI Status call, ms (the runtime must answer well within the check period). */
const STATUS_TIMEOUT_MS = 4_000;

export interface RuntimeHealth {
  readonly ready: boolean;
  /** Why not ready ('' when ready), in upstream's words; several reasons as "[a, b]". */
  readonly message: string;
}

/** upstream RuntimeCondition.String(): "Type=bool reason:R message:M"; "<nil>" when absent. */
function describeCondition(c: { type: string; status: boolean; reason: string; message: string } | undefined): string {
  return c ? `${c.type}=${c.status} reason:${c.reason} message:${c.message}` : '<nil>';
}

/**
 * The runtime's own errors from one CRI Status answer (upstream updateRuntimeUp): network first
 * (it is reported even when the runtime is not ready), then runtime.
 */
export function runtimeStatusErrors(status: RuntimeStatus): { network: string | undefined; runtime: string | undefined } {
  const find = (type: string): RuntimeStatus['conditions'][number] | undefined => status.conditions.find((c) => c.type === type);
  const network = find('NetworkReady');
  const runtime = find('RuntimeReady');
  return {
    network: network?.status ? undefined : `container runtime network not ready: ${describeCondition(network)}`,
    runtime: runtime?.status ? undefined : `container runtime not ready: ${describeCondition(runtime)}`,
  };
}

export interface RuntimeHealthDeps {
  runtime: Pick<RuntimeService, 'status'>;
  clock: Clock;
  logger: Logger;
}

export class RuntimeHealthTracker {
  private readonly deps: RuntimeHealthDeps;
  /** When the runtime last answered Status with RuntimeReady true, ms; 0 = never. */
  private lastSyncMs = 0;
  private runtimeError: string | undefined;
  /** Upstream starts with ErrNetworkUnknown until the first answer. */
  private networkError: string | undefined = 'network state unknown';
  private last: RuntimeHealth | undefined;

  constructor(deps: RuntimeHealthDeps) {
    this.deps = deps;
  }

  /**
   * Asks the runtime once (blocks up to ~4 s) and returns the health; never rejects (a failed
   * call only ages the last success), except when `signal` aborts.
   */
  async check(signal?: AbortSignal): Promise<RuntimeHealth> {
    try {
      const status = await this.deps.runtime.status(AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(STATUS_TIMEOUT_MS)]));
      const errs = runtimeStatusErrors(status);
      this.networkError = errs.network;
      this.runtimeError = errs.runtime;
      if (!errs.runtime) this.lastSyncMs = this.deps.clock.now();
    } catch (err) {
      if (signal?.aborted) throw err;
      this.deps.logger.warn({ component: 'node-status', err: errorMessage(err) }, 'container runtime sanity check failed');
    }
    return this.current();
  }

  /** The health as of the last check, without calling the runtime (upstream runtimeErrors + networkErrors). */
  current(): RuntimeHealth {
    const errors: string[] = [];
    if (this.lastSyncMs === 0) errors.push('container runtime status check may not have completed yet');
    else if (this.deps.clock.now() - this.lastSyncMs >= RUNTIME_SYNC_THRESHOLD_MS) errors.push('container runtime is down');
    if (this.runtimeError) errors.push(this.runtimeError);
    if (this.networkError) errors.push(this.networkError);
    const message = aggregateErrors(errors);
    return { ready: message === '', message };
  }

  /**
   * Checks every RUNTIME_CHECK_PERIOD_MS until the signal aborts; calls onChange when readiness or
   * its message changed (e.g. NodeStatusUpdater.updateNow). Never rejects except on abort.
   */
  async run(signal: AbortSignal, onChange: (health: RuntimeHealth) => void = () => {}): Promise<void> {
    while (!signal.aborted) {
      try {
        const h = await this.check(signal);
        if (!this.last || this.last.ready !== h.ready || this.last.message !== h.message) {
          if (this.last) onChange(h);
          this.last = h;
        }
        await this.deps.clock.sleep(RUNTIME_CHECK_PERIOD_MS, signal);
      } catch (err) {
        if (isAbort(err) && signal.aborted) return;
        throw err;
      }
    }
  }
}

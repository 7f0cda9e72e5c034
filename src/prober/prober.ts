// Prober: runs one probe of a container and records what upstream records (pkg/kubelet/prober
// prober.go): an Unhealthy event for each failed run, a ProbeWarning for a redirect that was not
// followed, an Unhealthy "errored" event when the probe could not be run at all (that result is
// thrown away by the worker).
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { errorMessage, invalidInput } from '../common/errors.ts';
import { execProbe, expandProbeCommand, type ExecRunner } from './exec.ts';
import { grpcProbe } from './grpc.ts';
import { buildHttpGetRequest, httpProbe } from './http.ts';
import { resolveContainerPort } from './net.ts';
import { probeTypeTitle, type Probe, type ProbeOutcome, type ProbeType } from './results.ts';
import { tcpProbe } from './tcp.ts';

/** Attempts per probe run when the probe cannot be run at all (upstream maxProbeRetries). */
export const MAX_PROBE_RETRIES = 3;
/** timeoutSeconds when unset (the API's default). */
const DEFAULT_TIMEOUT_SECONDS = 1;

export interface ProbeTarget {
  pod: Pod;
  container: Container;
  containerId: string;
  /** status.podIP: the pod's IP, or the host's for a host-network pod. */
  podIP: string;
}

/** Runs probes; replaceable in tests of the workers. */
export interface ProbeRunner {
  /**
   * Runs the probe (retrying a run that errored, up to 3 times) and records events. Resolves to
   * success or failure; rejects when the probe could not be run (the caller discards that run)
   * or when `signal` aborts.
   */
  probe(type: ProbeType, spec: Probe, target: ProbeTarget, signal: AbortSignal): Promise<'success' | 'failure'>;
}

export interface ProberDeps {
  runtime: ExecRunner;
  recorder: EventRecorder;
}

export const probeTimeoutSeconds = (spec: Probe): number => (spec.timeoutSeconds && spec.timeoutSeconds > 0 ? spec.timeoutSeconds : DEFAULT_TIMEOUT_SECONDS);

/**
 * One run of a probe handler (upstream runProbe). Resolves with the outcome; rejects with a
 * prober error (bad port, no handler, the runtime could not exec) or the signal's reason.
 */
export function runProbeHandler(runtime: ExecRunner, spec: Probe, target: ProbeTarget, signal: AbortSignal): Promise<ProbeOutcome> {
  const timeoutSeconds = probeTimeoutSeconds(spec);
  const timeoutMs = timeoutSeconds * 1000;
  const { container, podIP } = target;
  if (spec.exec) return execProbe(runtime, target.containerId, expandProbeCommand(spec.exec.command ?? [], container), timeoutSeconds, signal);
  if (spec.httpGet) return httpProbe(buildHttpGetRequest(spec.httpGet, container, podIP, 'probe'), timeoutMs, signal);
  if (spec.tcpSocket) {
    const port = resolveContainerPort(spec.tcpSocket.port, container);
    return tcpProbe(spec.tcpSocket.host || podIP, port, timeoutMs, signal);
  }
  if (spec.grpc) return grpcProbe(podIP, spec.grpc.port, spec.grpc.service ?? '', timeoutMs, signal);
  return Promise.reject(invalidInput(`missing probe handler for ${target.pod.metadata?.name}_${target.pod.metadata?.namespace}(${target.pod.metadata?.uid}):${container.name}`));
}

export class Prober implements ProbeRunner {
  private readonly deps: ProberDeps;

  constructor(deps: ProberDeps) {
    this.deps = deps;
  }

  async probe(type: ProbeType, spec: Probe, target: ProbeTarget, signal: AbortSignal): Promise<'success' | 'failure'> {
    const title = probeTypeTitle(type);
    let outcome: ProbeOutcome | null = null;
    let lastError: unknown = null;
    for (let attempt = 0; attempt < MAX_PROBE_RETRIES && !outcome; attempt++) {
      try {
        outcome = await runProbeHandler(this.deps.runtime, spec, target, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        lastError = err;
      }
    }
    const { recorder } = this.deps;
    if (!outcome) {
      recorder.event(target.pod, 'Warning', 'Unhealthy', `${title} probe errored and resulted in unknown state: ${errorMessage(lastError)}`);
      throw lastError;
    }
    switch (outcome.result) {
      case 'success':
        return 'success';
      case 'warning':
        recorder.event(target.pod, 'Warning', 'ProbeWarning', `${title} probe warning: ${outcome.output}`);
        return 'success';
      case 'failure':
        recorder.event(target.pod, 'Warning', 'Unhealthy', `${title} probe failed: ${outcome.output}`);
        return 'failure';
      default:
        return 'failure';
    }
  }
}

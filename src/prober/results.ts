// Probe results per container ID (upstream pkg/kubelet/prober/results). One ResultsManager per
// probe type; workers write, the kubelet reads (status generation, pod actions). Plain data: a
// result belongs to one container instance and is removed with its worker or when the worker
// sees a new instance of its container.
import type { Container, Pod } from '../kube/types.ts';

export type ProbeType = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';

/** What one run of a probe found (upstream probe.Result + output): warning counts as success. */
export interface ProbeOutcome {
  result: 'success' | 'warning' | 'failure' | 'unknown';
  output: string;
}

/** The probe of one container of a given type, or undefined. */
export function containerProbe(container: Container, type: ProbeType): Probe | undefined {
  switch (type) {
    case 'liveness':
      return container.livenessProbe ?? undefined;
    case 'readiness':
      return container.readinessProbe ?? undefined;
    case 'startup':
      return container.startupProbe ?? undefined;
  }
}

export type Probe = NonNullable<Container['livenessProbe']>;
export type LifecycleHandler = NonNullable<NonNullable<Container['lifecycle']>['postStart']>;

/** "Liveness", "Readiness", "Startup": as upstream prints probe types in events. */
export function probeTypeTitle(type: ProbeType): string {
  return type[0]!.toUpperCase() + type.slice(1);
}

export const podKey = (pod: Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export class ResultsManager {
  private readonly results = new Map<string, ProbeResult>();

  get(containerId: string): ProbeResult | undefined {
    return this.results.get(containerId);
  }

  /** Records a result; returns true when it differs from the previous one (or there was none). */
  set(containerId: string, result: ProbeResult): boolean {
    const prev = this.results.get(containerId);
    this.results.set(containerId, result);
    return prev !== result;
  }

  remove(containerId: string): void {
    this.results.delete(containerId);
  }

  get size(): number {
    return this.results.size;
  }
}

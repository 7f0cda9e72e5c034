// A one-line summary of a pod's status for logs, as `kubectl get pods` shows it.
import type { Pod, PodStatus } from '../kube/types.ts';

export interface PodStatusSummary {
  pod: string;
  podUID: string;
  phase: string;
  ready: string; // e.g. "1/2"
  status: string; // kubectl's STATUS column: Running, Init:0/1, CrashLoopBackOff, Completed, ...
  restarts: number;
  podIP: string;
}

export function describePodStatus(pod: Pod, status: PodStatus): PodStatusSummary {
  const containers = status.containerStatuses ?? [];
  const inits = status.initContainerStatuses ?? [];
  let shown: string = status.phase ?? 'Unknown';
  const sidecar = (name: string): boolean => pod.spec?.initContainers?.some((c) => c.name === name && c.restartPolicy === 'Always') ?? false;
  const initIndex = inits.findIndex((s) => !(s.state?.terminated?.exitCode === 0) && !(sidecar(s.name) && s.started));
  if (initIndex >= 0) {
    const s = inits[initIndex]!;
    const r = s.state?.waiting?.reason ?? s.state?.terminated?.reason;
    shown = r && r !== 'PodInitializing' && r !== 'ContainerCreating' ? `Init:${r}` : `Init:${initIndex}/${inits.length}`;
  } else {
    for (const s of containers) {
      const r = s.state?.waiting?.reason ?? (s.state?.terminated ? s.state.terminated.reason : undefined);
      if (r) shown = r;
    }
    if (containers.some((s) => s.state?.running) && status.phase === 'Running' && !containers.some((s) => s.state?.waiting)) shown = 'Running';
  }
  return {
    pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`,
    podUID: pod.metadata?.uid ?? '',
    phase: status.phase ?? 'Unknown',
    ready: `${containers.filter((s) => s.ready).length}/${containers.length}`,
    status: shown,
    restarts: [...inits, ...containers].reduce((n, s) => n + (s.restartCount ?? 0), 0),
    podIP: status.podIP ?? '',
  };
}

// The container garbage collection policy (upstream kubecontainer.GCPolicy), shared by the GC
// loop (container-gc.ts) and the in-sync pruning of a pod's dead containers (pod-actions.ts), so
// that both keep the same dead instances. Plain data and pure functions only.

export interface ContainerGCPolicy {
  /** A dead container is not removed before this long after its creation, ms (upstream MinAge). */
  minAgeMs: number;
  /** Dead instances kept per pod and container name; < 0: no limit (upstream MaxPerPodContainer). */
  maxPerPodContainer: number;
  /** Dead containers kept on the node in total; < 0: no limit (upstream MaxContainers). */
  maxContainers: number;
}

/** Upstream's flag defaults: no minimum age, one dead instance per container, no node limit. */
export const DEFAULT_CONTAINER_GC_POLICY: Readonly<ContainerGCPolicy> = Object.freeze({ minAgeMs: 0, maxPerPodContainer: 1, maxContainers: -1 });

/** The policy of DeleteAllUnusedContainers (disk pressure): no dead container is kept. */
export const KEEP_NO_DEAD_CONTAINERS: Readonly<ContainerGCPolicy> = Object.freeze({ minAgeMs: 0, maxPerPodContainer: 0, maxContainers: 0 });

/**
 * How many dead instances of one container of a pod that still exists are kept: the policy's
 * maxPerPodContainer, but when it is at least 1 never fewer than the pod status needs (the
 * newest dead instance, and while that one is the newest instance of all, also the one before:
 * it is the status' lastState, what `kubectl logs --previous` reads). null: no limit. Pure.
 */
export function deadInstancesToKeep(maxPerPodContainer: number, newestInstanceIsDead: boolean): number | null {
  if (maxPerPodContainer < 0) return null;
  if (maxPerPodContainer === 0) return 0;
  return Math.max(maxPerPodContainer, newestInstanceIsDead ? 2 : 1);
}

// Node-level reclaim of dead containers under disk pressure (upstream containerGC
// DeleteAllUnusedContainers: the GC policy with nothing kept). In normal operation the kubelet
// already keeps one dead container per pod and name (maxPerPodContainer 1, pod-actions.ts) and
// removes everything of a pod that is gone; under disk pressure the last ones go too.
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import type { RuntimeService } from '../cri/client.ts';
import type { Logger } from '../observability/logger.ts';
import { LABEL_MANAGED_BY } from '../kuberuntime/labels.ts';

/**
 * Removes every exited container this agent created (another client's containers in the same
 * runtime are never touched); resolves to how many went. Rejects when the runtime cannot be listed.
 */
export async function deleteAllUnusedContainers(runtime: Pick<RuntimeService, 'listContainers' | 'removeContainer'>, logger: Logger, signal: AbortSignal): Promise<number> {
  const dead = (await runtime.listContainers(undefined, signal)).filter((c) => c.state === 'CONTAINER_EXITED' && c.labels?.[LABEL_MANAGED_BY]);
  let removed = 0;
  for (const c of dead) {
    try {
      await runtime.removeContainer(c.id, signal);
      removed++;
    } catch (err) {
      if (isAbort(err) && signal.aborted) throw err;
      if (!isNotFound(err)) logger.warn({ component: 'container-gc', containerID: c.id, err: errorMessage(err) }, 'Failed to remove a dead container');
    }
  }
  if (removed > 0) logger.info({ component: 'container-gc', removed }, 'removed dead containers to reclaim disk');
  return removed;
}

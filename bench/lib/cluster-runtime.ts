// What the cluster benchmark asks the container runtime directly (CRI): the sandboxes and
// containers of the bench's namespaces (by the io.kubernetes.pod.namespace label tskubelet puts
// on both), to check that a round left nothing and to remove leftovers after a failure.
import type { RuntimeService } from '../../src/cri/client.ts';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from '../../src/kuberuntime/labels.ts';
import type { BenchLeftovers } from './runtime.ts';

/**
 * The runtime's sandboxes and containers whose pod namespace passes `match` (e.g. one namespace,
 * or every bench namespace). Containers are matched by their own namespace label and by their
 * pod UID (a container whose labels were lost still goes with its sandbox).
 */
export async function findNamespacePods(cri: RuntimeService, match: (namespace: string) => boolean, signal?: AbortSignal): Promise<BenchLeftovers> {
  const [sandboxes, containers] = await Promise.all([cri.listPodSandbox(undefined, signal), cri.listContainers(undefined, signal)]);
  const mine = sandboxes.filter((s) => match(s.labels[LABEL_POD_NAMESPACE] ?? ''));
  const uids = new Set(mine.map((s) => s.labels[LABEL_POD_UID] ?? ''));
  const cs = containers.filter((c) => match(c.labels[LABEL_POD_NAMESPACE] ?? '') || uids.has(c.labels[LABEL_POD_UID] ?? ''));
  return { sandboxIds: mine.map((s) => s.id), containerIds: cs.map((c) => c.id), podNames: mine.map((s) => `${s.labels[LABEL_POD_NAMESPACE] ?? ''}/${s.labels[LABEL_POD_NAME] ?? s.id}`) };
}

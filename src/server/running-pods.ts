// /runningpods: what the runtime runs, as upstream's kubecontainer Pod.ToAPIPod shows it (name,
// namespace, uid and the running containers' names and images), from CRI labels; sandboxes
// without our identity labels are skipped.
import type { RuntimeService } from '../cri/client.ts';
import type { Container, PodSandbox } from '../cri/types.ts';
import type { Pod, PodList } from '../kube/types.ts';
import { LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from '../kuberuntime/labels.ts';

/** Groups running sandboxes and containers into API pods (pure). */
export function toRunningPods(sandboxes: readonly PodSandbox[], containers: readonly Container[]): Pod[] {
  const pods = new Map<string, Pod>();
  const podOf = (labels: Record<string, string>): Pod | undefined => {
    const uid = labels[LABEL_POD_UID];
    if (!uid || !labels[LABEL_POD_NAME]) return undefined;
    let pod = pods.get(uid);
    if (!pod) {
      pod = { metadata: { name: labels[LABEL_POD_NAME], namespace: labels[LABEL_POD_NAMESPACE] ?? '', uid }, spec: { containers: [] } };
      pods.set(uid, pod);
    }
    return pod;
  };
  for (const s of sandboxes) podOf(s.labels);
  for (const c of containers) {
    const pod = podOf(c.labels);
    const name = c.labels[LABEL_CONTAINER_NAME];
    if (pod && name) pod.spec!.containers.push({ name, image: c.image?.image ?? c.image_ref });
  }
  return [...pods.values()];
}

export async function runningPodList(runtime: Pick<RuntimeService, 'listPodSandbox' | 'listContainers'>, signal: AbortSignal): Promise<PodList> {
  const [sandboxes, containers] = await Promise.all([
    runtime.listPodSandbox({ state: { state: 'SANDBOX_READY' } }, signal),
    runtime.listContainers({ state: { state: 'CONTAINER_RUNNING' } }, signal),
  ]);
  return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: toRunningPods(sandboxes, containers) };
}

// Mirror pods: the API server's read-only copies of static pods (upstream pkg/kubelet/pod/
// mirror_client.go), so that `kubectl get pods` shows them and their status. A mirror pod has
// the static pod's name, namespace, labels and spec, the annotation kubernetes.io/config.mirror
// = the static pod's config hash, and the Node as its owner (NodeRestriction requires it).
import { errorMessage, isNotFound } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { isAlreadyExists, type KubeClient } from './client.ts';
import type { Pod } from './types.ts';

export const CONFIG_MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
export const CONFIG_HASH_ANNOTATION = 'kubernetes.io/config.hash';

export interface MirrorPodManagerDeps {
  client: KubeClient;
  nodeName: string;
  logger: Logger;
  /** The Node's UID, for the owner reference; undefined until the node is registered. */
  nodeUID: () => string | undefined;
  /** Called when the set of mirror pods changed (so statuses can be written to new ones). */
  onChange?: () => void;
}

const key = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;
const podPath = (namespace: string, name: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;

/** The mirror pod for a static pod. Pure. */
export function buildMirrorPod(staticPod: Pod, nodeName: string, nodeUID: string): Pod {
  const m = staticPod.metadata ?? {};
  const hash = m.annotations?.[CONFIG_HASH_ANNOTATION] ?? m.uid ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      labels: m.labels,
      annotations: { ...m.annotations, [CONFIG_MIRROR_ANNOTATION]: hash },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUID, controller: true }],
    },
    spec: { ...staticPod.spec, containers: staticPod.spec?.containers ?? [], nodeName },
  };
}

export class MirrorPodManager {
  private readonly deps: MirrorPodManagerDeps;
  private readonly log: Logger;
  private mirrors = new Map<string, Pod>(); // by namespace/name

  constructor(deps: MirrorPodManagerDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'mirror-pods' });
  }

  /** The mirror pods the API server has for this node (from the API pod source). */
  setMirrorPods(pods: Pod[]): void {
    const next = new Map(pods.map((p) => [key(p.metadata?.namespace, p.metadata?.name), p]));
    const changed = next.size !== this.mirrors.size || [...next].some(([k, p]) => this.mirrors.get(k)?.metadata?.uid !== p.metadata?.uid);
    this.mirrors = next;
    if (changed) this.deps.onChange?.();
  }

  /** The current mirror pod of a static pod, if it matches its config hash and is not being deleted. */
  mirrorFor(staticPod: Pod): Pod | undefined {
    const mirror = this.mirrors.get(key(staticPod.metadata?.namespace, staticPod.metadata?.name));
    const hash = staticPod.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] ?? staticPod.metadata?.uid;
    if (!mirror || mirror.metadata?.deletionTimestamp || mirror.metadata?.annotations?.[CONFIG_MIRROR_ANNOTATION] !== hash) return undefined;
    return mirror;
  }

  /** Creates the static pod's mirror pod, replacing an outdated one. Errors are logged, not thrown. */
  async ensureMirrorPod(staticPod: Pod, signal?: AbortSignal): Promise<void> {
    if (this.mirrorFor(staticPod)) return;
    const nodeUID = this.deps.nodeUID();
    if (!nodeUID) return; // the node is not registered yet: the next sync creates it
    const m = staticPod.metadata ?? {};
    const existing = this.mirrors.get(key(m.namespace, m.name));
    try {
      if (existing && !existing.metadata?.deletionTimestamp) await this.delete(existing, signal);
      const created = await this.deps.client.request<Pod>('POST', `/api/v1/namespaces/${encodeURIComponent(m.namespace ?? '')}/pods`, {
        body: buildMirrorPod(staticPod, this.deps.nodeName, nodeUID),
        signal,
      });
      this.mirrors.set(key(m.namespace, m.name), created);
      this.deps.onChange?.();
      this.log.info({ pod: key(m.namespace, m.name) }, 'created mirror pod');
    } catch (err) {
      if (isAlreadyExists(err)) return; // the watch will tell us about it
      this.log.warn({ pod: key(m.namespace, m.name), err: errorMessage(err) }, 'could not create mirror pod');
    }
  }

  /** Deletes the mirror pod of a static pod that is gone. Errors are logged, not thrown. */
  async deleteMirrorPod(staticPod: Pod, signal?: AbortSignal): Promise<void> {
    const mirror = this.mirrors.get(key(staticPod.metadata?.namespace, staticPod.metadata?.name));
    if (!mirror) return;
    try {
      await this.delete(mirror, signal);
    } catch (err) {
      this.log.warn({ pod: key(mirror.metadata?.namespace, mirror.metadata?.name), err: errorMessage(err) }, 'could not delete mirror pod');
    }
  }

  private async delete(mirror: Pod, signal?: AbortSignal): Promise<void> {
    const m = mirror.metadata ?? {};
    try {
      await this.deps.client.request('DELETE', podPath(m.namespace ?? '', m.name ?? ''), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: m.uid } },
        signal,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.mirrors.delete(key(m.namespace, m.name));
  }
}

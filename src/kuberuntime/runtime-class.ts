// RuntimeClass -> CRI runtime handler (upstream pkg/kubelet/runtimeclass Manager). Upstream
// watches RuntimeClasses with an informer; here a sandbox creation (rare) GETs the class, with
// a short cache. The empty name is the default handler (''). A class that does not exist is
// upstream's NotFound (`runtimeclass.node.k8s.io "x" not found`): the sandbox is not created,
// the pod waits (FailedCreatePodSandBox) and is retried, so a class created later is picked up.
import type { Clock } from '../common/clock.ts';
import { errorMessage, KubeletError, notFound, unsupported } from '../common/errors.ts';
import { KubeApiError, type KubeClient } from '../kube/client.ts';

export interface RuntimeClassLookup {
  /** The handler of the named RuntimeClass ('' for none). Rejects NotFound for an unknown class, Unsupported without an API server, or with the API's error. */
  lookupRuntimeHandler(runtimeClassName: string | undefined, signal?: AbortSignal): Promise<string>;
}

/** upstream's NotFound message for a RuntimeClass (group resource runtimeclass.node.k8s.io). */
export const runtimeClassNotFound = (name: string): Error => notFound(`runtimeclass.node.k8s.io ${JSON.stringify(name)} not found`);

/** Standalone (no API server): only the default class can be resolved. */
export const STANDALONE_RUNTIME_CLASSES: RuntimeClassLookup = {
  lookupRuntimeHandler(name: string | undefined): Promise<string> {
    if (!name) return Promise.resolve('');
    return Promise.reject(standaloneRuntimeClassError(name));
  },
};

/** Why a pod naming a RuntimeClass cannot run on a node without an API server (upstream would silently use the default handler). */
export const standaloneRuntimeClassError = (name: string): Error =>
  unsupported(`RuntimeClass ${JSON.stringify(name)} cannot be resolved: the kubelet runs without an API server (standalone), so spec.runtimeClassName must be empty`);

/** How long a RuntimeClass read from the API is reused, ms (upstream's informer sees changes at once; a class's handler is immutable). */
export const RUNTIME_CLASS_TTL_MS = 30_000;

interface RuntimeClassObject {
  handler?: string;
}

export interface ApiRuntimeClassesDeps {
  client: KubeClient;
  clock: Clock;
}

/** RuntimeClassLookup over the API server (node.k8s.io/v1), caching found classes RUNTIME_CLASS_TTL_MS; a 404 is never cached. */
export class ApiRuntimeClasses implements RuntimeClassLookup {
  private readonly deps: ApiRuntimeClassesDeps;
  private readonly cache = new Map<string, { handler: string; fetchedAt: number }>();

  constructor(deps: ApiRuntimeClassesDeps) {
    this.deps = deps;
  }

  async lookupRuntimeHandler(name: string | undefined, signal?: AbortSignal): Promise<string> {
    if (!name) return '';
    const now = this.deps.clock.now();
    const hit = this.cache.get(name);
    if (hit && now - hit.fetchedAt < RUNTIME_CLASS_TTL_MS) return hit.handler;
    let rc: RuntimeClassObject;
    try {
      rc = await this.deps.client.request<RuntimeClassObject>('GET', `/apis/node.k8s.io/v1/runtimeclasses/${encodeURIComponent(name)}`, signal ? { signal } : {});
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) {
        this.cache.delete(name);
        throw runtimeClassNotFound(name);
      }
      throw new KubeletError(err instanceof KubeletError ? err.code : 'Transient', `failed to lookup RuntimeClass ${name}: ${errorMessage(err)}`, { cause: err });
    }
    const handler = rc.handler ?? '';
    this.cache.set(name, { handler, fetchedAt: this.deps.clock.now() });
    return handler;
  }
}

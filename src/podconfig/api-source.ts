// The API server as a pod source (upstream pkg/kubelet/config/apiserver.go): lists and watches
// the pods bound to this node (fieldSelector spec.nodeName=<node>), and sends full snapshots to
// PodConfig like the file source does. Mirror pods (the API's copies of static pods) are not
// pods to run: they are reported separately, to the mirror pod manager.
//
// Watch protocol: list (resourceVersion R) -> watch from R with bookmarks; a watch that ends is
// resumed from the last resourceVersion seen; 410 Gone relists; any other failure retries
// after a backoff (0.8 s doubling to 10 s, reset once a watch delivers), so an API outage
// only pauses updates: every pod keeps running meanwhile. (Upstream's reflector caps at 30 s;
// 10 s lets deletions made during an outage be carried out sooner once it ends.)
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { KubeClient } from '../kube/client.ts';
import { isGone } from '../kube/client.ts';
import type { Pod, PodList } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import { CONFIG_MIRROR_ANNOTATION, CONFIG_SOURCE_ANNOTATION } from './manifest.ts';
import type { PodSource } from './pod-config.ts';

export const API_SOURCE = 'api';
/** Retry after a failed list or watch, ms: from the first value doubling to the cap. */
const RETRY_INITIAL_MS = 800;
const RETRY_MAX_MS = 10_000;
/** Server-side watch timeout, s: randomised in [5, 10) min as upstream's reflector does. */
const WATCH_TIMEOUT_MIN_S = 300;

export interface ApiServerSourceDeps {
  client: KubeClient;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  /** Full snapshot of the pods to run (not mirror pods); synchronous, must not throw. */
  onPods: (pods: Pod[]) => void;
  /** Full snapshot of the mirror pods on this node; synchronous, must not throw. */
  onMirrorPods?: (pods: Pod[]) => void;
}

const isMirror = (pod: Pod): boolean => pod.metadata?.annotations?.[CONFIG_MIRROR_ANNOTATION] !== undefined;

/** A pod as received, marked as coming from the API server (upstream's config.source annotation). */
function fromApi(pod: Pod): Pod {
  return { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [CONFIG_SOURCE_ANNOTATION]: API_SOURCE } } };
}

export class ApiServerSource implements PodSource {
  private readonly deps: ApiServerSourceDeps;
  private readonly log: Logger;
  private readonly pods = new Map<string, Pod>(); // by UID, as the API has them
  /** Each received pod's fromApi copy: a snapshot re-sends the same objects for unchanged pods. */
  private readonly marked = new WeakMap<Pod, Pod>();
  private resourceVersion = '';

  constructor(deps: ApiServerSourceDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'apiserver-source' });
  }

  /** Lists and watches until the signal aborts; never rejects (failures are retried). */
  async run(signal: AbortSignal): Promise<void> {
    let delay = 0;
    while (!signal.aborted) {
      try {
        if (!this.resourceVersion) await this.list(signal);
        await this.watchOnce(signal, () => (delay = 0));
      } catch (err) {
        if (isAbort(err) && signal.aborted) return;
        if (isGone(err)) {
          this.log.info('watch expired (410 Gone), listing again');
          this.resourceVersion = '';
          continue;
        }
        delay = Math.min(RETRY_MAX_MS, delay ? delay * 2 : RETRY_INITIAL_MS);
        this.log.warn({ err: errorMessage(err), retryInMs: delay }, 'pod list/watch failed; pods keep running, retrying');
        try {
          await this.deps.clock.sleep(delay, signal);
        } catch {
          return;
        }
      }
    }
  }

  private selector(): Record<string, string> {
    return { fieldSelector: `spec.nodeName=${this.deps.nodeName}` };
  }

  private async list(signal: AbortSignal): Promise<void> {
    const list = await this.deps.client.request<PodList>('GET', '/api/v1/pods', { query: this.selector(), signal, timeoutMs: 60_000 });
    this.pods.clear();
    for (const pod of list.items ?? []) if (pod.metadata?.uid) this.pods.set(pod.metadata.uid, pod);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.send();
  }

  private async watchOnce(signal: AbortSignal, onProgress: () => void): Promise<void> {
    const timeoutSeconds = WATCH_TIMEOUT_MIN_S + Math.floor(Math.random() * WATCH_TIMEOUT_MIN_S);
    await this.deps.client.watch(
      '/api/v1/pods',
      { ...this.selector(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (type, object) => {
        const pod = object as Pod;
        const rv = pod.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        onProgress();
        if (type === 'BOOKMARK') return;
        const uid = pod.metadata?.uid;
        if (!uid) return;
        if (type === 'DELETED') this.pods.delete(uid);
        else this.pods.set(uid, pod);
        this.send();
      },
      signal,
    );
  }

  private send(): void {
    const all = [...this.pods.values()];
    try {
      this.deps.onPods(all.filter((p) => !isMirror(p)).map((p) => {
        let marked = this.marked.get(p);
        if (!marked) this.marked.set(p, (marked = fromApi(p)));
        return marked;
      }));
      this.deps.onMirrorPods?.(all.filter(isMirror));
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'pod snapshot handler failed');
    }
  }
}

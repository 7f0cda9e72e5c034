// The single writer of pod statuses to the API server (upstream status_manager.go syncPod).
// It patches a pod's status only when it differs from what it last wrote, one request at a
// time per pod, the newest status winning; a failed write is retried with backoff. A static
// pod's status goes to its mirror pod. Conditions that the kubelet does not own (readiness
// gates, conditions set by controllers) are kept as the API has them.
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import { isConflict, type KubeClient } from '../kube/client.ts';
import type { Pod, PodStatus } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';

/** Condition types the kubelet owns; any other type in the API's status is kept. */
export const KUBELET_CONDITIONS = new Set(['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
/** Retry of a failed status write, ms. */
const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 30_000;

/** Where a pod's status is written: itself, or for a static pod its mirror pod. null: nowhere (yet). */
export type StatusTarget = (pod: Pod) => { name: string; namespace: string; uid: string } | null;

export interface ApiStatusWriterDeps {
  client: KubeClient;
  clock: Clock;
  logger: Logger;
  target: StatusTarget;
}

interface Entry {
  pod: Pod;
  status: PodStatus;
  written: string; // JSON of the last status written, '' when none
  running: Promise<void> | null;
  dirty: boolean;
  retryMs: number;
}

/** The status to write: the kubelet's, plus the API's conditions of types the kubelet does not own. */
export function mergeStatus(apiPod: Pod, status: PodStatus): PodStatus {
  const foreign = (apiPod.status?.conditions ?? []).filter((c) => !KUBELET_CONDITIONS.has(c.type));
  return { ...status, conditions: [...(status.conditions ?? []), ...foreign] };
}

const isTerminalPhase = (phase: string | undefined): boolean => phase === 'Succeeded' || phase === 'Failed';

/**
 * True when the API's copy of a pod disagrees with the kubelet's status on what another writer
 * may have changed: the phase or the status of a condition the kubelet owns (upstream
 * needsReconcile; e.g. the node lifecycle controller sets Ready=False on the pods of a node it
 * lost, and the kubelet must set it back once it reports again). A terminal phase in the API is
 * final: never reconciled. Pure.
 */
export function needsReconcile(apiStatus: PodStatus | undefined, want: PodStatus): boolean {
  if (isTerminalPhase(apiStatus?.phase)) return false;
  if ((apiStatus?.phase ?? '') !== (want.phase ?? '')) return true;
  const api = new Map((apiStatus?.conditions ?? []).map((c) => [c.type, c.status]));
  return (want.conditions ?? []).some((c) => KUBELET_CONDITIONS.has(c.type) && api.get(c.type) !== c.status);
}

export class ApiStatusWriter {
  private readonly deps: ApiStatusWriterDeps;
  private readonly log: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly stopping = new AbortController();

  constructor(deps: ApiStatusWriterDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'status-writer' });
  }

  /** A pod's status changed: write it soon. Never blocks. */
  setPodStatus(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata?.uid ?? '';
    let e = this.entries.get(uid);
    if (!e) this.entries.set(uid, (e = { pod, status, written: '', running: null, dirty: false, retryMs: 0 }));
    e.pod = pod;
    e.status = status;
    e.dirty = true;
    if (!e.running) e.running = this.drain(uid, e);
  }

  /** Resolves once the pod's latest status is written (or could not be: the pod is gone). */
  async flush(uid: string): Promise<void> {
    const e = this.entries.get(uid);
    while (e?.running) await e.running;
  }

  /** Writes every known status again if it differs from what was written (e.g. a mirror pod appeared). */
  rewriteAll(): void {
    for (const [uid, e] of this.entries) {
      e.dirty = true;
      if (!e.running) e.running = this.drain(uid, e);
    }
  }

  /**
   * The API's current copies of pods (from the API pod source): a status that another writer
   * changed since the kubelet wrote it (needsReconcile) is written again. Never blocks.
   */
  reconcile(apiPods: Pod[]): void {
    for (const p of apiPods) {
      const uid = p.metadata?.uid ?? '';
      const e = this.entries.get(uid);
      // Nothing written yet, or a write in flight: that write settles it.
      if (!e || e.running || !e.written || !needsReconcile(p.status, e.status)) continue;
      e.pod = { ...e.pod, status: p.status };
      e.written = '';
      e.dirty = true;
      e.running = this.drain(uid, e);
    }
  }

  /** Forgets a pod (after it is deleted). */
  forget(uid: string): void {
    this.entries.delete(uid);
  }

  stop(): void {
    this.stopping.abort(new DOMException('stopping', 'AbortError'));
  }

  private async drain(uid: string, e: Entry): Promise<void> {
    try {
      while (e.dirty && !this.stopping.signal.aborted) {
        e.dirty = false;
        try {
          await this.write(e);
          e.retryMs = 0;
        } catch (err) {
          if (isAbort(err)) return;
          if (isNotFound(err) || isConflict(err)) {
            this.log.debug({ podUID: uid, err: errorMessage(err) }, 'pod is gone or was replaced; status not written');
            return;
          }
          e.retryMs = Math.min(RETRY_MAX_MS, e.retryMs ? e.retryMs * 2 : RETRY_INITIAL_MS);
          this.log.warn({ podUID: uid, err: errorMessage(err), retryInMs: e.retryMs }, 'writing pod status failed');
          e.dirty = true;
          await this.deps.clock.sleep(e.retryMs, this.stopping.signal).catch(() => undefined);
        }
      }
    } finally {
      e.running = null;
    }
  }

  private async write(e: Entry): Promise<void> {
    const target = this.deps.target(e.pod);
    if (!target) return; // a static pod whose mirror pod does not exist yet: written once it does
    const status = mergeStatus(e.pod, e.status);
    const json = JSON.stringify({ target, status });
    if (json === e.written) return;
    await this.deps.client.request('PATCH', `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.name)}/status`, {
      // The UID precondition: never write onto a newer pod of the same name.
      body: { metadata: { uid: target.uid }, status },
      contentType: 'application/merge-patch+json',
      signal: this.stopping.signal,
    });
    e.written = json;
  }
}

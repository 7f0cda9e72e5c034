// Pod configuration: merges the full snapshots each pod source sends (the static pod files, the
// API server) into a stream of changes for the pod workers, as upstream's
// pkg/kubelet/config/config.go (PodConfig, podStorage.merge) in incremental mode.
import type { Pod } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import { CONFIG_SEEN_ANNOTATION, canonicalJson } from './manifest.ts';

/** What changed in one source's pods. Pods are shared: consumers must treat them as read-only. */
export interface PodChange {
  /** The source that sent the snapshot ('file'). */
  source: string;
  /** True for the first snapshot of the source, sent even when empty: the source is now synced. */
  initial: boolean;
  /** Pods whose UID the source did not have before. */
  added: Pod[];
  /** Pods with a known UID and a different spec, labels, annotations or deletion mark, config.seen kept. */
  updated: Pod[];
  /**
   * Pods with a known UID whose newer object differs in nothing of that (its status, its
   * resourceVersion...): nothing to do but keep the newer object (upstream checkAndUpdatePod's
   * reconcile case, which does not sync the pod), config.seen kept.
   */
  refreshed: Pod[];
  /** Pods whose UID the source no longer has (as last known). */
  removed: Pod[];
}

/** A source of pods: runs until `signal` aborts, sending full snapshots to the callback it was made with. */
export interface PodSource {
  run(signal: AbortSignal): Promise<void>;
}

const uidOf = (pod: Pod): string => pod.metadata?.uid ?? '';

/**
 * semanticKey of each pod object seen: pods are read-only once a source sent them, and a source
 * sends the same objects again in every snapshot (the API source sends all its pods on each
 * watch event), so each pod's key is computed once, not once per snapshot.
 */
const semanticKeys = new WeakMap<Pod, string>();

/**
 * What of a pod, when it changes, the kubelet acts on (upstream podsDifferSemantically): spec,
 * labels, annotations but config.seen, the deletion mark. Not the status, which the kubelet
 * writes itself: each status write comes back as a watch event.
 */
function semanticKey(pod: Pod): string {
  let key = semanticKeys.get(pod);
  if (key === undefined) {
    const m = pod.metadata ?? {};
    const annotations = { ...m.annotations };
    delete annotations[CONFIG_SEEN_ANNOTATION];
    key = canonicalJson([pod.spec, m.labels, annotations, m.deletionTimestamp, m.deletionGracePeriodSeconds]);
    semanticKeys.set(pod, key);
  }
  return key;
}

/** `pod` with the first-seen time (config.seen) of `old`, the pod it replaces. */
function keepFirstSeen(old: Pod, pod: Pod): Pod {
  const firstSeen = old.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION];
  if (firstSeen === pod.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION]) return pod; // already does (or neither has one): no copy
  const annotations = { ...pod.metadata?.annotations };
  if (firstSeen !== undefined) annotations[CONFIG_SEEN_ANNOTATION] = firstSeen;
  else delete annotations[CONFIG_SEEN_ANNOTATION];
  return { ...pod, metadata: { ...pod.metadata, annotations } };
}

/**
 * Compares a source's known pods (by UID) with its new full snapshot. Added: new UIDs; removed:
 * UIDs gone; updated: same UID, semantically different (semanticKey); refreshed: same UID, a
 * different object, semantically the same. Updated and refreshed pods keep the first-seen time of
 * the known one (upstream checkAndUpdatePod). Pods without a UID are ignored; a UID twice in
 * `next` counts once (the first). Pure (each pod's key is memoized by object, so the pods must
 * not be changed once diffed).
 */
export function diffPods(prev: ReadonlyMap<string, Pod>, next: readonly Pod[]): { added: Pod[]; updated: Pod[]; refreshed: Pod[]; removed: Pod[] } {
  const added: Pod[] = [];
  const updated: Pod[] = [];
  const refreshed: Pod[] = [];
  const seen = new Set<string>();
  for (const pod of next) {
    const uid = uidOf(pod);
    if (uid === '' || seen.has(uid)) continue;
    seen.add(uid);
    const old = prev.get(uid);
    if (old === undefined) added.push(pod);
    else if (old !== pod) (semanticKey(old) !== semanticKey(pod) ? updated : refreshed).push(keepFirstSeen(old, pod));
  }
  const removed = [...prev.values()].filter((p) => !seen.has(uidOf(p)));
  return { added, updated, refreshed, removed };
}

export interface PodConfigDeps {
  logger: Logger;
  /** Called synchronously for each change; an exception is logged, not propagated to the source. */
  onChange: (change: PodChange) => void;
}

/**
 * Owns the pod sources and their pods. Each source sends full snapshots (upstream's SET
 * operation) to the callback from `channel(source)`; PodConfig turns them into PodChanges:
 * one for the first snapshot of a source (even empty), then one per snapshot that changed
 * something.
 */
export class PodConfig {
  private readonly deps: PodConfigDeps;
  private readonly logger: Logger;
  private readonly bySource = new Map<string, Map<string, Pod>>();
  private readonly sources: { name: string; source: PodSource }[] = [];

  constructor(deps: PodConfigDeps) {
    this.deps = deps;
    this.logger = deps.logger.child({ component: 'podconfig' });
  }

  /** The callback a source calls with each full snapshot of its pods (upstream Channel). */
  channel(source: string): (pods: Pod[]) => void {
    return (pods) => this.update(source, pods);
  }

  /** Adds a source, made with its snapshot callback; it starts with `run`. */
  addSource(name: string, create: (onPods: (pods: Pod[]) => void) => PodSource): void {
    this.sources.push({ name, source: create(this.channel(name)) });
  }

  /** Runs every added source until `signal` aborts; resolves once they all returned. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(
      this.sources.map(async ({ name, source }) => {
        try {
          await source.run(signal);
        } catch (err) {
          if (!isAbort(err)) this.logger.error({ source: name, err: errorMessage(err) }, 'pod source failed');
        }
      }),
    );
  }

  /** True once every source added with addSource has sent its first snapshot (upstream SeenAllSources). */
  seenAllSources(): boolean {
    return this.sources.every(({ name }) => this.bySource.has(name));
  }

  /** All current pods, of every source. */
  pods(): Pod[] {
    return [...this.bySource.values()].flatMap((m) => [...m.values()]);
  }

  private update(source: string, pods: Pod[]): void {
    const prev = this.bySource.get(source);
    const initial = prev === undefined;
    const known = prev ?? new Map<string, Pod>();
    const diff = diffPods(known, pods);
    for (const p of diff.removed) known.delete(uidOf(p));
    for (const p of [...diff.added, ...diff.updated, ...diff.refreshed]) known.set(uidOf(p), p);
    this.bySource.set(source, known);
    if (!initial && diff.added.length + diff.updated.length + diff.refreshed.length + diff.removed.length === 0) return;
    this.logger.debug(
      { source, added: diff.added.length, updated: diff.updated.length, refreshed: diff.refreshed.length, removed: diff.removed.length },
      'pod configuration changed',
    );
    try {
      this.deps.onChange({ source, initial, ...diff });
    } catch (err) {
      this.logger.error({ source, err: errorMessage(err) }, 'pod change handler failed');
    }
  }
}

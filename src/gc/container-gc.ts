// Container garbage collection (upstream pkg/kubelet/kuberuntime/kuberuntime_gc.go): every
// minute, remove the dead containers the policy does not keep, then the dead sandboxes nothing
// uses any more. Only what this agent created (LABEL_MANAGED_BY) is ever touched.
//   containers: not running, older than minAge; grouped by (pod UID, container name), newest
//     first. A deleted pod's go (once every source has sent its pods); otherwise each group keeps
//     maxPerPodContainer (with the minimum the status needs, policy.ts), then the node total is
//     cut to maxContainers (an equal share per group, at least 1, then the oldest overall).
//   sandboxes: a sandbox is active while ready or while it has containers. A deleted pod loses
//     every inactive one; a pod that exists keeps its newest, whatever its state.
// The pod sync also prunes dead containers with the same policy (pod-actions.ts); the eviction
// manager calls deleteAllUnusedContainers under disk pressure (the same GC, nothing kept).
import { unlink } from 'node:fs/promises';
import type { Clock } from '../common/clock.ts';
import { runEvery } from '../common/periodic.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import type { RuntimeService } from '../cri/client.ts';
import { LABEL_CONTAINER_NAME, LABEL_MANAGED_BY, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from '../kuberuntime/labels.ts';
import { CONTAINER_LOGS_DIR, containerLogSymlink } from '../logs/paths.ts';
import type { Logger } from '../observability/logger.ts';
import type { RuntimeContainerState } from '../pleg/runtime-state.ts';
import { deadInstancesToKeep, KEEP_NO_DEAD_CONTAINERS, type ContainerGCPolicy } from './policy.ts';

/** How often containers are garbage collected, ms (upstream ContainerGCPeriod, 1 min). */
export const CONTAINER_GC_PERIOD_MS = 60_000;

/**
 * A container still in state created is left alone for this long after its creation, ms: the
 * kubelet starts what it creates at once, so only a start that failed (or is still in flight,
 * bounded by the default runtime request timeout of 2 min) leaves one behind.
 */
export const CREATED_CONTAINER_GRACE_MS = 2 * 60_000;

/** What GC needs of one container (plain data, from CRI ListContainers). */
export interface GCContainer {
  id: string;
  podUID: string;
  /** The container's name in the pod spec. */
  name: string;
  sandboxId: string;
  state: RuntimeContainerState;
  createdAtMs: number;
}

/** What GC needs of one sandbox (from CRI ListPodSandbox). */
export interface GCSandbox {
  id: string;
  podUID: string;
  ready: boolean;
  createdAtMs: number;
}

const newestFirst = (a: { createdAtMs: number }, b: { createdAtMs: number }): number => b.createdAtMs - a.createdAtMs;

/**
 * Upstream evictContainers: the containers to remove under `policy` at `nowMs`. `podDeleted`
 * says whether a pod is gone for good (false for every pod until all sources are ready). Running
 * containers, containers younger than minAge and recently created ones are never chosen. Pure.
 */
export function containersToRemove(containers: readonly GCContainer[], policy: ContainerGCPolicy, nowMs: number, podDeleted: (uid: string) => boolean): GCContainer[] {
  const key = (c: GCContainer): string => `${c.podUID}\u0000${c.name}`;
  // Whether each group's newest instance (of any state) is dead: its status then names the one before.
  const newest = new Map<string, GCContainer>();
  for (const c of containers) {
    const n = newest.get(key(c));
    if (!n || c.createdAtMs > n.createdAtMs) newest.set(key(c), c);
  }
  const units = new Map<string, GCContainer[]>();
  for (const c of containers) {
    if (c.state === 'running') continue;
    if (c.createdAtMs > nowMs - policy.minAgeMs) continue;
    if (c.state === 'created' && nowMs - c.createdAtMs < CREATED_CONTAINER_GRACE_MS) continue;
    const unit = units.get(key(c)) ?? [];
    unit.push(c);
    units.set(key(c), unit);
  }
  const remove: GCContainer[] = [];
  const keepNewest = (unit: GCContainer[], n: number): GCContainer[] => {
    remove.push(...unit.slice(n));
    return unit.slice(0, n);
  };
  for (const [k, unit] of units) {
    unit.sort(newestFirst);
    if (podDeleted(unit[0]!.podUID)) {
      keepNewest(unit, 0);
      units.delete(k);
      continue;
    }
    const keep = deadInstancesToKeep(policy.maxPerPodContainer, newest.get(k)?.state === 'exited');
    if (keep !== null) units.set(k, keepNewest(unit, keep));
  }
  const remaining = (): number => [...units.values()].reduce((n, u) => n + u.length, 0);
  if (policy.maxContainers >= 0 && remaining() > policy.maxContainers) {
    // Upstream enforceMaxContainerPolicy: an equal share per group (at least one), then the oldest overall.
    const groups = [...units.values()].filter((u) => u.length > 0).length;
    const share = Math.max(1, Math.trunc(policy.maxContainers / groups));
    for (const [k, unit] of units) units.set(k, keepNewest(unit, share));
    const left = [...units.values()].flat().sort(newestFirst);
    if (left.length > policy.maxContainers) remove.push(...left.slice(policy.maxContainers));
  }
  return remove;
}

/**
 * Upstream evictSandboxes: the sandboxes to remove, given the containers left after container GC.
 * Never an active one (ready, or with containers); a pod that exists keeps its newest. Pure.
 */
export function sandboxesToRemove(sandboxes: readonly GCSandbox[], containers: readonly Pick<GCContainer, 'sandboxId'>[], podDeleted: (uid: string) => boolean): GCSandbox[] {
  const used = new Set(containers.map((c) => c.sandboxId));
  const byPod = new Map<string, GCSandbox[]>();
  for (const s of sandboxes) byPod.set(s.podUID, [...(byPod.get(s.podUID) ?? []), s]);
  const remove: GCSandbox[] = [];
  for (const [uid, list] of byPod) {
    list.sort(newestFirst);
    const candidates = podDeleted(uid) ? list : list.slice(1);
    remove.push(...candidates.filter((s) => !s.ready && !used.has(s.id)));
  }
  return remove;
}

export interface ContainerGCDeps {
  runtime: Pick<RuntimeService, 'listContainers' | 'listPodSandbox' | 'stopContainer' | 'removeContainer' | 'stopPodSandbox' | 'removePodSandbox'>;
  policy: ContainerGCPolicy;
  /** True once every pod source has sent its pods (upstream allSourcesReady): until then no pod counts as deleted. */
  sourcesReady: () => boolean;
  /** The UIDs of the pods the kubelet knows (desired, or still handled by a pod worker); any other pod is deleted. */
  knownPods: () => ReadonlySet<string>;
  /** Where the containers' log symlinks are (default /var/log/containers); they go with their container. */
  containerLogsDir?: string;
  clock: Clock;
  logger: Logger;
}

const CONTAINER_STATES: Readonly<Record<string, RuntimeContainerState>> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
};
const NS_PER_MS = 1e6;
const OURS = { label_selector: { [LABEL_MANAGED_BY]: 'true' } };

export class ContainerGC {
  private readonly deps: ContainerGCDeps;
  private readonly log: Logger;

  constructor(deps: ContainerGCDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'container-gc' });
  }

  /** Runs GC now and every CONTAINER_GC_PERIOD_MS until the signal aborts; failures are logged. */
  run(signal: AbortSignal): Promise<void> {
    return runEvery(this.deps.clock, CONTAINER_GC_PERIOD_MS, signal, (s) => this.garbageCollect(s), (err) => this.log.warn({ err: errorMessage(err) }, 'Container garbage collection failed'));
  }

  /**
   * One GC round (upstream GarbageCollect) under `policy` (default: the configured one). Resolves
   * to how many containers and sandboxes were removed; a removal that fails is logged and skipped.
   * Rejects when the runtime cannot be listed, or with the abort reason.
   */
  async garbageCollect(signal: AbortSignal, policy: ContainerGCPolicy = this.deps.policy): Promise<{ containers: number; sandboxes: number }> {
    const [listed, listedSandboxes] = await Promise.all([this.deps.runtime.listContainers(OURS, signal), this.deps.runtime.listPodSandbox(OURS, signal)]);
    const ours = listed.filter((c) => c.labels?.[LABEL_MANAGED_BY]);
    const containers = ours.map((c): GCContainer => ({
      id: c.id,
      podUID: c.labels[LABEL_POD_UID] ?? '',
      name: c.labels[LABEL_CONTAINER_NAME] ?? c.metadata?.name ?? '',
      sandboxId: c.pod_sandbox_id,
      state: CONTAINER_STATES[c.state] ?? 'unknown',
      createdAtMs: c.created_at / NS_PER_MS,
    }));
    const sourcesReady = this.deps.sourcesReady();
    const known = this.deps.knownPods();
    const podDeleted = (uid: string): boolean => sourcesReady && !known.has(uid);

    const removedIds = new Set<string>();
    for (const c of containersToRemove(containers, policy, this.deps.clock.now(), podDeleted)) {
      const labels = ours.find((x) => x.id === c.id)?.labels ?? {};
      if (await this.removeContainer(c, labels, signal)) removedIds.add(c.id);
    }
    const sandboxes = listedSandboxes
      .filter((s) => s.labels?.[LABEL_MANAGED_BY])
      .map((s): GCSandbox => ({ id: s.id, podUID: s.labels[LABEL_POD_UID] ?? s.metadata?.uid ?? '', ready: s.state === 'SANDBOX_READY', createdAtMs: s.created_at / NS_PER_MS }));
    let sandboxesRemoved = 0;
    for (const s of sandboxesToRemove(sandboxes, containers.filter((c) => !removedIds.has(c.id)), podDeleted)) {
      if (await this.removeSandbox(s, signal)) sandboxesRemoved++;
    }
    this.log.debug({ listedContainers: containers.length, listedSandboxes: sandboxes.length, sourcesReady, removedContainers: removedIds.size, removedSandboxes: sandboxesRemoved }, 'Container garbage collection round');
    if (removedIds.size > 0 || sandboxesRemoved > 0) this.log.info({ containers: removedIds.size, sandboxes: sandboxesRemoved }, 'Container garbage collection removed dead containers and sandboxes');
    return { containers: removedIds.size, sandboxes: sandboxesRemoved };
  }

  /**
   * Upstream DeleteAllUnusedContainers (the eviction manager, under disk pressure): a GC round
   * that keeps no dead container. Resolves to how many containers went.
   */
  async deleteAllUnusedContainers(signal: AbortSignal): Promise<number> {
    this.log.info('Attempting to delete unused containers');
    return (await this.garbageCollect(signal, KEEP_NO_DEAD_CONTAINERS)).containers;
  }

  /** Removes one container (killed first when its state is unknown, as upstream) and its log symlink; false when it failed. */
  private async removeContainer(c: GCContainer, labels: Record<string, string>, signal: AbortSignal): Promise<boolean> {
    try {
      if (c.state === 'unknown') await this.deps.runtime.stopContainer(c.id, 0, signal);
      await this.deps.runtime.removeContainer(c.id, signal);
    } catch (err) {
      if (isAbort(err) && signal.aborted) throw err;
      if (!isNotFound(err)) {
        this.log.warn({ podUID: c.podUID, container: c.name, containerID: c.id, err: errorMessage(err) }, 'Failed to remove container');
        return false;
      }
    }
    this.log.debug({ podUID: c.podUID, container: c.name, containerID: c.id }, 'Removed dead container');
    try {
      const link = containerLogSymlink(labels[LABEL_POD_NAME] ?? '', labels[LABEL_POD_NAMESPACE] ?? '', c.name, c.id, this.deps.containerLogsDir ?? CONTAINER_LOGS_DIR);
      await unlink(link).catch(() => undefined);
    } catch {
      // no safe symlink path from these labels: nothing of ours to remove
    }
    return true;
  }

  /**
   * Upstream removeSandbox: StopPodSandbox first (the kubelet normally stopped it already; this
   * guards against the rare case it did not), then RemovePodSandbox. False when it failed.
   */
  private async removeSandbox(s: GCSandbox, signal: AbortSignal): Promise<boolean> {
    try {
      await this.deps.runtime.stopPodSandbox(s.id, signal);
      await this.deps.runtime.removePodSandbox(s.id, signal);
    } catch (err) {
      if (isAbort(err) && signal.aborted) throw err;
      if (!isNotFound(err)) {
        this.log.warn({ podUID: s.podUID, sandboxID: s.id, err: errorMessage(err) }, 'Failed to remove sandbox');
        return false;
      }
    }
    this.log.debug({ podUID: s.podUID, sandboxID: s.id }, 'Removed sandbox');
    return true;
  }
}

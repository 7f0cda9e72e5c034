// The kubelet's cgroup hierarchy with the cgroupfs driver (upstream pkg/kubelet/cm:
// containerManagerImpl's node allocatable cgroup, qosContainerManagerImpl, podContainerManagerImpl):
//   <cgroupRoot>/kubepods                  Guaranteed pods; limited to node allocatable
//   <cgroupRoot>/kubepods/burstable        cpu shares = the Burstable pods' summed cpu requests;
//                                          with QOSReserved, memory = allocatable − reserved
//                                          share of the Guaranteed pods' memory requests
//   <cgroupRoot>/kubepods/besteffort       cpu shares = 2; with QOSReserved, memory = the
//                                          burstable limit − reserved share of the Burstable requests
//   .../pod<uid>                           one per pod, with its cpu, memory and pids limits,
//                                          made before its sandbox (the sandbox's cgroup_parent)
// QoS shares are updated when a pod cgroup is made or removed and every minute; pod cgroups of
// pods the kubelet no longer knows are removed then too. It also applies the kubelet's own
// oom_score_adj (-999) once and says so, once, when the kernel refuses negative values: the
// runtime then clamps the -997 of Guaranteed containers too.
import { readFile, writeFile } from 'node:fs/promises';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import { featureEnabled, QOS_RESERVED } from '../config/features.ts';
import type { KubeletConfig } from '../config/types.ts';
import type { Pod } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import { kubepodsCgroupConfig, kubepodsResources, nodeAllocatableAbsolute, type ResourceNanos } from './allocatable.ts';
import { CgroupfsManager, type CgroupManager, type CgroupResources } from './cgroup-manager.ts';
import { removePodCgroups } from './pod-cgroups.ts';
import { getPodQOS } from './qos.ts';
import { memoryReservePercent, qosMemoryLimits, qosMemoryRequests, retryMemoryLimit } from './qos-reserved.ts';
import { nanosToValue } from './quantity.ts';
import { KUBELET_OOM_SCORE_ADJ, podCgroupName, podResourceLimits, qosCgroupCpuShares, qosCgroupName, QUOTA_PERIOD_US } from './resources.ts';

/** How often the QoS cgroups are brought up to date (upstream periodicQOSCgroupUpdateInterval, 1 min). */
export const QOS_CGROUP_UPDATE_PERIOD_MS = 60_000;

/** What the kubelet calls around a pod's life (the role interface of this manager). */
export interface PodCgroups {
  /**
   * Before the pod's sandbox is created (called on every sync, cheap when done): makes the pod
   * cgroup with the pod's limits when it does not exist, then updates the QoS cgroups. Never
   * rejects: a failure is logged (the runtime then makes the cgroup without limits).
   */
  ensurePod(pod: Pod): Promise<void>;
  /** After every container of the pod is gone: removes its pod cgroup, updates the QoS cgroups. Never rejects. */
  podRemoved(uid: string): Promise<void>;
}

export interface ContainerManagerDeps {
  config: Pick<KubeletConfig, 'cgroupRoot' | 'cgroupsPerQOS' | 'podPidsLimit' | 'kubeReserved' | 'systemReserved' | 'enforceNodeAllocatable' | 'qosReserved' | 'featureGates'>;
  /** The node's capacity: CPUs and MemTotal. */
  machine: { numCores: number; memoryCapacityBytes: number };
  /** Pods admitted and not terminal (the Burstable ones decide the burstable shares). */
  activePods: () => Pod[];
  /** Every pod UID the kubelet knows (desired or still being stopped): their cgroups are kept. */
  knownPods: () => Set<string>;
  clock: Clock;
  logger: Logger;
  cgroups?: CgroupManager;
  /** Where /proc is (pid_max, the kubelet's oom_score_adj); for tests. */
  procRoot?: string;
  /** Cgroup mount point for removals; for tests. */
  cgroupMount?: string;
}

const NANO = 1_000_000_000n;

export class ContainerManager implements PodCgroups {
  private readonly deps: ContainerManagerDeps;
  private readonly cgroups: CgroupManager;
  private readonly log: Logger;
  private readonly procRoot: string;
  /** Pods whose cgroup this manager made or found, so the orphan sweep leaves them alone. */
  private readonly ensured = new Set<string>();
  /** Pods whose cgroup could not be made: logged once each. */
  private readonly failed = new Set<string>();
  private kubepods: CgroupResources | null = null;
  private kubepodsApplied = false;
  private qosReady = false;
  /** Node allocatable memory without eviction thresholds, bytes (upstream GetNodeAllocatableAbsolute); set by start(). */
  private allocatableMemory: bigint | undefined;
  /** Percentage of memory requests reserved (qosReserved.memory) when QOSReserved is on; else undefined. */
  private readonly memoryReserve: number | undefined;

  constructor(deps: ContainerManagerDeps) {
    this.deps = deps;
    this.cgroups = deps.cgroups ?? new CgroupfsManager(deps.cgroupMount ? { mount: deps.cgroupMount } : {});
    this.log = deps.logger.child({ component: 'container-manager' });
    this.procRoot = deps.procRoot ?? '/proc';
    this.memoryReserve = featureEnabled(deps.config.featureGates, QOS_RESERVED) ? memoryReservePercent(deps.config.qosReserved) : undefined;
  }

  /**
   * Start-up (upstream containerManagerImpl.Start with the QoS manager's Start): the kubelet's
   * oom_score_adj, then kubepods with its node allocatable limits, burstable and besteffort, and
   * the empty cgroups of pods nobody knows removed (only empty ones can be: a running pod's stays).
   * Resolves when done; never rejects (failures are logged and retried by run()).
   */
  async start(): Promise<void> {
    await this.applyOwnOOMScoreAdj();
    if (!this.deps.config.cgroupsPerQOS) return;
    const pidMax = Number.parseInt((await readFile(`${this.procRoot}/sys/kernel/pid_max`, 'utf8').catch(() => '')).trim(), 10);
    const capacity: ResourceNanos = new Map([
      ['cpu', BigInt(this.deps.machine.numCores) * NANO],
      ['memory', BigInt(this.deps.machine.memoryCapacityBytes) * NANO],
    ]);
    if (Number.isSafeInteger(pidMax) && pidMax > 0) capacity.set('pid', BigInt(pidMax) * NANO);
    this.kubepods = kubepodsCgroupConfig(kubepodsResources(capacity, this.deps.config));
    const allocatable = nodeAllocatableAbsolute(capacity, this.deps.config).get('memory');
    this.allocatableMemory = allocatable === undefined ? undefined : BigInt(nanosToValue(allocatable));
    await this.ensureKubepods();
    await this.updateQosCgroups();
    // Pods removed while no kubelet ran (e.g. by CRI directly) leave empty pod cgroups behind.
    await this.removeOrphanedPodCgroups();
  }

  /** Every minute until the signal aborts: the QoS cgroups, kubepods if it failed, orphaned pod cgroups. */
  async run(signal: AbortSignal): Promise<void> {
    if (!this.deps.config.cgroupsPerQOS) return;
    while (!signal.aborted) {
      try {
        await this.deps.clock.sleep(QOS_CGROUP_UPDATE_PERIOD_MS, signal);
      } catch (err) {
        if (isAbort(err) && signal.aborted) return;
        throw err;
      }
      if (!this.kubepodsApplied) await this.ensureKubepods();
      await this.updateQosCgroups();
      await this.removeOrphanedPodCgroups();
    }
  }

  async ensurePod(pod: Pod): Promise<void> {
    if (!this.deps.config.cgroupsPerQOS) return;
    const uid = pod.metadata?.uid ?? '';
    const cfg = this.deps.config;
    try {
      const name = podCgroupName(getPodQOS(pod), uid, cfg.cgroupRoot);
      this.ensured.add(uid);
      if (await this.cgroups.exists(name)) return;
      if (!this.qosReady) await this.ensureQosCgroups();
      // As upstream (UpdateQOSCgroups, then the pod cgroup): with QOSReserved the lower classes
      // give up the new pod's reserved share before it starts.
      await this.updateQosCgroups();
      const limits = podResourceLimits(pod, { cpuCFSQuota: true, cpuCFSQuotaPeriodUs: QUOTA_PERIOD_US, podPidsLimit: cfg.podPidsLimit });
      await this.cgroups.create(name, limits);
      this.log.debug({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: uid, cgroup: name, limits }, 'pod cgroup created');
      this.failed.delete(uid);
    } catch (err) {
      if (this.failed.has(uid)) return;
      this.failed.add(uid);
      this.log.warn({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: uid, err: errorMessage(err) }, 'could not create the pod cgroup with its limits; the runtime creates it without them');
    }
  }

  async podRemoved(uid: string): Promise<void> {
    this.ensured.delete(uid);
    this.failed.delete(uid);
    if (!this.deps.config.cgroupsPerQOS) return;
    try {
      await removePodCgroups(uid, this.deps.config.cgroupRoot, this.deps.cgroupMount);
    } catch (err) {
      this.log.warn({ podUID: uid, err: errorMessage(err) }, 'could not remove the pod cgroup');
    }
    await this.updateQosCgroups();
  }

  /** Upstream enforceNodeAllocatableCgroups: kubepods created, or updated, with its limits. */
  private async ensureKubepods(): Promise<void> {
    const name = qosCgroupName('Guaranteed', this.deps.config.cgroupRoot);
    const limits = this.kubepods ?? {};
    try {
      if (await this.cgroups.exists(name)) await this.cgroups.update(name, limits);
      else await this.cgroups.create(name, limits);
      this.kubepodsApplied = true;
      this.log.info({ cgroup: name, ...limits }, 'Updated Node Allocatable limit across pods');
    } catch (err) {
      this.log.warn({ cgroup: name, err: errorMessage(err) }, 'Failed to update Node Allocatable Limits; retrying in a minute');
    }
  }

  /** Creates burstable and besteffort when missing (upstream qosContainerManagerImpl.Start). */
  private async ensureQosCgroups(): Promise<void> {
    const root = this.deps.config.cgroupRoot;
    if (!(await this.cgroups.exists(qosCgroupName('Guaranteed', root)))) await this.cgroups.create(qosCgroupName('Guaranteed', root), this.kubepods ?? {});
    for (const qos of ['Burstable', 'BestEffort'] as const) {
      const name = qosCgroupName(qos, root);
      if (!(await this.cgroups.exists(name))) await this.cgroups.create(name, {});
    }
    this.qosReady = true;
  }

  /**
   * Upstream UpdateCgroups: the QoS classes' cpu shares from the active pods and, with the
   * QOSReserved gate and qosReserved.memory, their memory limits (setMemoryReserve). Never rejects.
   */
  private async updateQosCgroups(): Promise<void> {
    if (!this.deps.config.cgroupsPerQOS) return;
    const root = this.deps.config.cgroupRoot;
    try {
      if (!this.qosReady) await this.ensureQosCgroups();
      const pods = this.deps.activePods();
      const shares = qosCgroupCpuShares(pods);
      const burstable = qosCgroupName('Burstable', root);
      const bestEffort = qosCgroupName('BestEffort', root);
      const memory = this.memoryReserve === undefined ? null : qosMemoryLimits(this.allocatableMemory, qosMemoryRequests(pods), this.memoryReserve);
      if (memory === null) {
        await this.cgroups.update(burstable, { cpuShares: shares.burstable });
        await this.cgroups.update(bestEffort, { cpuShares: shares.bestEffort });
        return;
      }
      await this.applyMemoryReserve([[burstable, shares.burstable, memory.burstable], [bestEffort, shares.bestEffort, memory.bestEffort]]);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'Failed to update QoS cgroup configuration');
    }
  }

  /**
   * The QoS cgroups' cpu shares and memory limits (upstream UpdateCgroups with QOSReserved): all
   * updated; when one fails (the kernel refuses a limit below a cgroup's usage), a class already
   * using more than its limit is limited to its usage instead (retrySetMemoryReserve) and all are
   * updated again. Rejects when the second round fails. A limit of 0 or less is never written
   * (v1 refuses it; v2 would read it as "max"): it counts as a failed update.
   */
  private async applyMemoryReserve(classes: [name: string, cpuShares: number, limit: bigint][]): Promise<void> {
    const write = async (name: string, cpuShares: number, limit: bigint): Promise<boolean> => {
      await this.cgroups.update(name, limit > 0n ? { cpuShares, memoryLimitBytes: Number(limit) } : { cpuShares });
      return limit > 0n;
    };
    let ok = true;
    for (const [name, cpuShares, limit] of classes) ok = (await write(name, cpuShares, limit).catch(() => false)) && ok;
    this.log.debug({ percentReserve: this.memoryReserve, limits: Object.fromEntries(classes.map(([n, , l]) => [n, String(l)])) }, 'QoS memory limits');
    if (ok) return;
    for (const c of classes) {
      try {
        c[2] = retryMemoryLimit(c[2], await this.cgroups.memoryUsage(c[0]));
      } catch (err) {
        this.log.debug({ cgroup: c[0], err: errorMessage(err) }, 'Failed to get resource stats');
        break; // as upstream: the remaining classes keep the limits first tried
      }
    }
    const failures: string[] = [];
    for (const [name, cpuShares, limit] of classes) {
      if (!(await write(name, cpuShares, limit))) failures.push(`${name}: memory limit ${limit} cannot be set`);
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  /** Pod cgroups of pods the kubelet does not know (upstream cleanupOrphanedPodCgroups); only empty ones go. */
  private async removeOrphanedPodCgroups(): Promise<void> {
    const root = this.deps.config.cgroupRoot;
    const known = this.deps.knownPods();
    const removed: string[] = [];
    for (const qos of ['Guaranteed', 'Burstable', 'BestEffort'] as const) {
      for (const child of await this.cgroups.children(qosCgroupName(qos, root))) {
        const uid = /^pod(.+)$/.exec(child)?.[1];
        if (!uid || known.has(uid) || this.ensured.has(uid)) continue;
        if ((await removePodCgroups(uid, root, this.deps.cgroupMount).catch(() => 0)) > 0) removed.push(uid);
      }
    }
    if (removed.length > 0) this.log.info({ podUIDs: removed }, 'removed the cgroups of pods that no longer exist');
  }

  /**
   * Upstream applies --oom-score-adj (-999) to the kubelet itself at start. Where the kernel
   * refuses negative values (these machines), that is said once here: the runtime clamps the
   * -997 of Guaranteed and node-critical containers the same way, so no pod logs it again.
   */
  private async applyOwnOOMScoreAdj(): Promise<void> {
    const file = `${this.procRoot}/self/oom_score_adj`;
    try {
      await writeFile(file, String(KUBELET_OOM_SCORE_ADJ));
    } catch (err) {
      const current = (await readFile(file, 'utf8').catch(() => '?')).trim();
      this.log.warn(
        { oomScoreAdj: KUBELET_OOM_SCORE_ADJ, current, err: errorMessage(err) },
        'the kernel refuses negative oom_score_adj values here: the kubelet keeps its current score, and the runtime clamps the -997 of Guaranteed and node-critical containers (containerd restrict_oom_score_adj) to its own',
      );
    }
  }
}

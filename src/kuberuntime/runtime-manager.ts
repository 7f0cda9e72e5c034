// KubeRuntimeManager: turns a pod spec into CRI calls (upstream kuberuntime_manager.go SyncPod,
// KillPod). It decides nothing itself beyond what computePodActions returns; it executes the
// actions in order and reports what it could not do as waiting reasons.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import type { RuntimeService } from '../cri/client.ts';
import type { Mount, PodSandboxConfig } from '../cri/types.ts';
import { crashLoopBackoffKey, type Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import { containerLogRelativePath, containerLogSymlink, podLogDirectory, safeComponent } from '../logs/paths.ts';
import { type PodRuntimeState, latestContainer } from '../pleg/runtime-state.ts';
import { containerLinuxResources, podSandboxCgroupParent } from '../cm/resources.ts';
import { buildContainerConfig, managedHostsFile } from './container-config.ts';
import { podDnsSettings } from './dns.ts';
import { ContainerStartError } from './errors.ts';
import type { ImageManager } from './images.ts';
import { hashContainer } from './labels.ts';
import { computePodActions, isSidecar } from './pod-actions.ts';
import { buildSandboxConfig, podHostname } from './sandbox-config.ts';
import { buildEnvironment, expandContainerCommandAndArgs, resolveEnvSources } from './envvars.ts';
import { containerVolumeMounts, VolumeSetUpError, type PodVolumes } from '../volumes/volumes.ts';
import type { PodObjectSource } from '../kube/object-cache.ts';

export interface RuntimeManagerConfig {
  nodeName: string;
  nodeHostname: string;
  rootDir: string; // pod data: <rootDir>/pods/<uid>
  podLogsDir: string;
  containerLogsDir: string; // /var/log/containers
  cgroupRoot: string;
  cgroupsPerQOS: boolean;
  clusterDNS: string[];
  clusterDomain: string;
  resolvConf: string;
  podPidsLimit: number;
  memoryCapacityBytes: number;
  hostIP: string; // status.hostIP, for env fieldRefs
}

export interface RuntimeManagerDeps {
  runtime: RuntimeService;
  imageManager: ImageManager;
  crashBackoff: Backoff; // CrashLoopBackOff: 10 s doubling to 300 s
  clock: Clock;
  recorder: EventRecorder;
  logger: Logger;
  config: RuntimeManagerConfig;
  /** ConfigMaps, Secrets and Services for env references; absent/null: standalone (references are Unsupported). */
  objectSource?: PodObjectSource | null;
  /** Sets up the volumes a container mounts; absent: emptyDir on disk only (containerVolumeMounts). */
  volumes?: PodVolumes;
}

/** Why a container is not running, for its waiting state (upstream's reasonCache). */
export interface WaitingReason {
  reason: string;
  message: string;
}

export interface SyncResult {
  /** Per container name: why it could not be started in this sync. */
  waiting: Map<string, WaitingReason>;
  /** Sync again after this many ms (back-off ends), or null when only a runtime event should. */
  requeueAfterMs: number | null;
  /** Whether this sync changed anything in the runtime (so the state must be read again). */
  changed: boolean;
  /** Time spent in RunPodSandbox + CreateContainer + StartContainer, ms. */
  runtimeMs: number;
  /** Set when the pod failed because an init container failed and restartPolicy is Never. */
  initFailed: boolean;
}

const DEFAULT_GRACE_PERIOD_S = 30;

export class KubeRuntimeManager {
  private readonly deps: RuntimeManagerDeps;
  private readonly hostResolvConf: Promise<string>;

  constructor(deps: RuntimeManagerDeps) {
    this.deps = deps;
    this.hostResolvConf = deps.config.resolvConf ? readFile(deps.config.resolvConf, 'utf8').catch(() => '') : Promise.resolve('');
  }

  podDir(uid: string): string {
    return `${this.deps.config.rootDir}/pods/${safeComponent('pod UID', uid)}`;
  }

  private logDir(pod: Pod): string {
    const m = pod.metadata ?? {};
    return podLogDirectory(this.deps.config.podLogsDir, m.namespace ?? '', m.name ?? '', m.uid ?? '');
  }

  /** Brings the runtime in line with the pod spec: one step of the pod's lifecycle. */
  async syncPod(pod: Pod, state: PodRuntimeState, signal: AbortSignal): Promise<SyncResult> {
    const result: SyncResult = { waiting: new Map(), requeueAfterMs: null, changed: false, runtimeMs: 0, initFailed: false };
    const actions = computePodActions(pod, state);
    const log = this.podLogger(pod);
    result.initFailed = actions.initFailed;

    if (actions.killPod) {
      log.debug({ createSandbox: actions.createSandbox }, 'killing pod before (re)creating its sandbox or because it is done');
      await this.killPod(pod, state, null, signal);
      result.changed = true;
      if (!actions.createSandbox) return result;
    }
    for (const k of actions.containersToKill) {
      this.deps.recorder.event(pod, 'Normal', 'Killing', k.message);
      await this.stopContainer(k.id, gracePeriodSeconds(pod), signal);
      result.changed = true;
    }
    for (const id of actions.containersToRemove) await this.removeContainer(pod, id, signal);

    let sandboxId = actions.sandboxId;
    const sandboxConfig = await this.sandboxConfig(pod, actions.createSandbox ? actions.attempt : (state.sandboxes[0]?.attempt ?? 0));
    let podIPs = state.sandboxes[0]?.ips ?? [];
    if (actions.createSandbox) {
      try {
        ({ sandboxId, podIPs } = await this.createSandbox(pod, sandboxConfig, actions.attempt, result, signal));
      } catch (err) {
        if (isAbort(err)) throw err;
        const msg = `Failed to create pod sandbox: ${errorMessage(err)}`;
        this.deps.recorder.event(pod, 'Warning', 'FailedCreatePodSandBox', msg);
        for (const c of pod.spec?.containers ?? []) result.waiting.set(c.name, { reason: 'ContainerCreating', message: msg });
        result.requeueAfterMs = 10_000;
        return result;
      }
      result.changed = true;
    }

    const starts: Container[] = actions.nextInitContainer ? [actions.nextInitContainer] : actions.containersToStart;
    const start = (c: Container, isInit: boolean): Promise<void> =>
      this.startContainer(pod, c, isInit, sandboxId, sandboxConfig, podIPs, state, result, signal);
    if (actions.nextInitContainer) {
      await start(actions.nextInitContainer, true);
    } else {
      // Sidecars start in order, each before the next; regular containers start together.
      for (const c of starts.filter(isSidecar)) await start(c, true);
      await Promise.all(starts.filter((c) => !isSidecar(c)).map((c) => start(c, false)));
    }
    return result;
  }

  private podLogger(pod: Pod): Logger {
    return this.deps.logger.child({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: pod.metadata?.uid });
  }

  private async sandboxConfig(pod: Pod, attempt: number): Promise<PodSandboxConfig> {
    const cfg = this.deps.config;
    const dns = podDnsSettings(
      {
        namespace: pod.metadata?.namespace ?? 'default',
        dnsPolicy: pod.spec?.dnsPolicy ?? 'ClusterFirst',
        hostNetwork: pod.spec?.hostNetwork ?? false,
        dnsConfig: pod.spec?.dnsConfig,
      },
      { clusterDNS: cfg.clusterDNS, clusterDomain: cfg.clusterDomain, hostResolvConf: await this.hostResolvConf },
    );
    return buildSandboxConfig(pod, {
      attempt,
      nodeHostname: cfg.nodeHostname,
      logDirectory: this.logDir(pod),
      cgroupParent: podSandboxCgroupParent(pod, { cgroupRoot: cfg.cgroupRoot, cgroupsPerQOS: cfg.cgroupsPerQOS }),
      dns,
    });
  }

  private async createSandbox(pod: Pod, config: PodSandboxConfig, attempt: number, result: SyncResult, signal: AbortSignal): Promise<{ sandboxId: string; podIPs: string[] }> {
    const { runtime } = this.deps;
    const uid = pod.metadata?.uid ?? '';
    await mkdir(this.logDir(pod), { recursive: true, mode: 0o755 });
    await mkdir(this.podDir(uid), { recursive: true, mode: 0o750 });
    const t0 = performance.now();
    let sandboxId: string;
    try {
      sandboxId = await runtime.runPodSandbox(config, pod.spec?.runtimeClassName ?? '', signal);
    } catch (err) {
      // A failed sandbox keeps its name reserved until removed: remove what it left behind.
      await this.removeFailedSandboxes(uid, attempt);
      throw err;
    } finally {
      result.runtimeMs += performance.now() - t0;
    }
    const status = await runtime.podSandboxStatus(sandboxId, signal);
    const podIPs = [status.network?.ip ?? '', ...(status.network?.additional_ips ?? []).map((x) => x.ip)].filter(Boolean);
    if (!pod.spec?.hostNetwork) {
      const hosts = managedHostsFile(pod, podIPs, podHostname(pod, this.deps.config.nodeHostname));
      await writeFile(`${this.podDir(uid)}/etc-hosts`, hosts, { mode: 0o644 });
    }
    this.podLogger(pod).debug({ sandboxId, podIPs }, 'sandbox ready');
    return { sandboxId, podIPs };
  }

  private async removeFailedSandboxes(uid: string, attempt: number): Promise<void> {
    const { runtime } = this.deps;
    try {
      const sandboxes = await runtime.listPodSandbox({ label_selector: { 'io.kubernetes.pod.uid': uid } });
      for (const s of sandboxes) {
        if (s.state === 'SANDBOX_READY' || (s.metadata?.attempt ?? 0) !== attempt) continue;
        await runtime.stopPodSandbox(s.id).catch(() => undefined);
        await runtime.removePodSandbox(s.id).catch(() => undefined);
      }
    } catch (err) {
      this.deps.logger.warn({ podUID: uid, err: errorMessage(err) }, 'could not clean up a failed sandbox');
    }
  }

  /** Pulls, creates and starts one container; failures become its waiting reason. */
  private async startContainer(
    pod: Pod, container: Container, isInit: boolean, sandboxId: string, sandboxConfig: PodSandboxConfig,
    podIPs: string[], state: PodRuntimeState, result: SyncResult, signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.startContainerOrThrow(pod, container, isInit, sandboxId, sandboxConfig, podIPs, state, result, signal);
    } catch (err) {
      if (isAbort(err)) throw err;
      const startErr = err instanceof ContainerStartError ? err : new ContainerStartError('RunContainerError', errorMessage(err), { cause: err });
      result.waiting.set(container.name, { reason: startErr.reason, message: startErr.message });
      const retry = startErr.retryAfterMs ?? 10_000;
      result.requeueAfterMs = result.requeueAfterMs === null ? retry : Math.min(result.requeueAfterMs, retry);
      this.podLogger(pod).info({ container: container.name, reason: startErr.reason }, startErr.message);
    }
  }

  private async startContainerOrThrow(
    pod: Pod, container: Container, isInit: boolean, sandboxId: string, sandboxConfig: PodSandboxConfig,
    podIPs: string[], state: PodRuntimeState, result: SyncResult, signal: AbortSignal,
  ): Promise<void> {
    const { runtime, recorder, crashBackoff, clock } = this.deps;
    const uid = pod.metadata?.uid ?? '';
    const last = latestContainer(state, container.name);
    if (last && last.state === 'exited') {
      // CrashLoopBackOff: wait after each exit, 10 s doubling to 300 s (upstream doBackOff).
      const m = pod.metadata ?? {};
      const key = crashLoopBackoffKey({ name: m.name ?? '', namespace: m.namespace ?? '', uid }, container.name, hashContainer(container));
      if (crashBackoff.isInBackOffSince(key, last.finishedAtMs)) {
        const delay = crashBackoff.delay(key);
        const msg = `back-off ${Math.round(delay / 1000)}s restarting failed container=${container.name} pod=${pod.metadata?.name}_${pod.metadata?.namespace}(${uid})`;
        recorder.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${container.name} in pod ${pod.metadata?.name}_${pod.metadata?.namespace}(${uid})`);
        throw new ContainerStartError('CrashLoopBackOff', msg, { retryAfterMs: Math.max(1, last.finishedAtMs + delay - clock.now()) });
      }
      crashBackoff.next(key, last.finishedAtMs);
    }

    const imageRef = await this.deps.imageManager.ensureImage(pod, container, sandboxConfig, signal);
    const restartCount = last ? last.restartCount + 1 : 0;
    let envs: { key: string; value: string }[];
    let command: string[];
    let args: string[];
    const podDir = this.podDir(uid);
    const mounts: Mount[] = [];
    try {
      // Volumes first: upstream mounts them before any container is created.
      mounts.push(...(this.deps.volumes ? await this.deps.volumes.containerMounts(pod, container, signal) : await containerVolumeMounts(pod, container, podDir)));
      const objectSource = this.deps.objectSource;
      const sources = objectSource ? await resolveEnvSources(pod, container, objectSource, signal) : undefined;
      const built = buildEnvironment(container, pod, { podIP: podIPs[0], podIPs, nodeName: this.deps.config.nodeName, hostIP: this.deps.config.hostIP, ...(sources ? { sources } : {}) });
      for (const warning of built.warnings) recorder.event(pod, 'Warning', 'InvalidEnvironmentVariableNames', warning);
      ({ command, args } = expandContainerCommandAndArgs(container, built.env));
      envs = built.env.map((e) => ({ key: e.name, value: e.value }));
    } catch (err) {
      if (isAbort(err) || signal.aborted) throw err;
      const msg = errorMessage(err);
      if (err instanceof VolumeSetUpError) {
        // Upstream: FailedMount, and the pod's containers stay ContainerCreating until the volume is there.
        recorder.event(pod, 'Warning', 'FailedMount', msg);
        throw new ContainerStartError('ContainerCreating', msg, { retryAfterMs: 5_000, cause: err });
      }
      recorder.event(pod, 'Warning', 'Failed', `Error: ${msg}`);
      throw new ContainerStartError('CreateContainerConfigError', msg, { code: 'InvalidInput', retryAfterMs: 10_000, cause: err });
    }

    const logDir = this.logDir(pod);
    const logPath = containerLogRelativePath(container.name, restartCount);
    await mkdir(`${logDir}/${container.name}`, { recursive: true, mode: 0o755 });
    if (!pod.spec?.hostNetwork) mounts.push({ container_path: '/etc/hosts', host_path: `${podDir}/etc-hosts`, readonly: false });
    let terminationMessageHostPath = '';
    if (container.terminationMessagePath) {
      const dir = `${podDir}/containers/${safeComponent('container name', container.name)}`;
      await mkdir(dir, { recursive: true, mode: 0o750 });
      terminationMessageHostPath = `${dir}/${randomBytes(4).toString('hex')}`;
      await writeFile(terminationMessageHostPath, '', { mode: 0o666 });
      mounts.push({ container_path: container.terminationMessagePath, host_path: terminationMessageHostPath, readonly: false });
    }
    const config = buildContainerConfig(pod, container, {
      restartCount,
      imageRef,
      envs,
      command,
      args,
      mounts,
      logPath,
      resources: containerLinuxResources(container, { cpuCFSQuota: true, cpuCFSQuotaPeriodUs: 100_000, pod, memoryCapacityBytes: this.deps.config.memoryCapacityBytes }),
      terminationMessageHostPath,
      isInit,
    });

    const containerId = await this.runtimeStep(pod, result, 'CreateContainerError', () => runtime.createContainer(sandboxId, config, sandboxConfig, signal));
    result.changed = true;
    recorder.event(pod, 'Normal', 'Created', `Created container ${container.name}`);
    await this.runtimeStep(pod, result, 'RunContainerError', () => runtime.startContainer(containerId, signal));
    recorder.event(pod, 'Normal', 'Started', `Started container ${container.name}`);
    await this.linkContainerLog(pod, container.name, containerId, `${logDir}/${logPath}`);
  }

  /**
   * One runtime call of a container start: its time counts as the runtime's own time, and a
   * failure becomes `reason` (upstream's CreateContainerError, RunContainerError) with an event.
   */
  private async runtimeStep<T>(pod: Pod, result: SyncResult, reason: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } catch (err) {
      if (isAbort(err)) throw err;
      const msg = errorMessage(err);
      this.deps.recorder.event(pod, 'Warning', 'Failed', `Error: ${msg}`);
      throw new ContainerStartError(reason, msg, { cause: err });
    } finally {
      result.runtimeMs += performance.now() - started;
    }
  }

  private async linkContainerLog(pod: Pod, containerName: string, containerId: string, target: string): Promise<void> {
    const m = pod.metadata ?? {};
    const link = containerLogSymlink(m.name ?? '', m.namespace ?? '', containerName, containerId, this.deps.config.containerLogsDir);
    try {
      await mkdir(this.deps.config.containerLogsDir, { recursive: true, mode: 0o755 });
      await symlink(target, link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') this.podLogger(pod).warn({ container: containerName, err: errorMessage(err) }, 'could not create the container log symlink');
    }
  }

  private async stopContainer(id: string, graceSeconds: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.deps.runtime.stopContainer(id, graceSeconds, signal);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Stops every running container (all at once, each with the grace period) and then every
   * sandbox of the pod. `pod` may be null for a pod the agent no longer knows (an orphan): each
   * container's grace period then comes from its annotation, as upstream.
   */
  async killPod(pod: Pod | null, state: PodRuntimeState, graceOverrideSeconds: number | null, signal?: AbortSignal): Promise<void> {
    const running = state.containers.filter((c) => c.state === 'running' || c.state === 'created' || c.state === 'unknown');
    await Promise.all(
      running.map(async (c) => {
        if (pod && c.state === 'running') this.deps.recorder.event(pod, 'Normal', 'Killing', `Stopping container ${c.name}`);
        const grace = graceOverrideSeconds ?? (pod ? gracePeriodSeconds(pod) : (c.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_S));
        await this.stopContainer(c.id, grace, signal);
      }),
    );
    for (const s of state.sandboxes) {
      try {
        await this.deps.runtime.stopPodSandbox(s.id, signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** Removes the pod's containers, sandboxes, log symlinks and data folders (after killPod). */
  async removePod(uid: string, state: PodRuntimeState, names: { name: string; namespace: string } | null, signal?: AbortSignal): Promise<void> {
    const { runtime } = this.deps;
    for (const c of state.containers) await this.removeContainer(null, c.id, signal, names ? { ...names, container: c.name } : null);
    for (const s of state.sandboxes) {
      try {
        await runtime.removePodSandbox(s.id, signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    await rm(this.podDir(uid), { recursive: true, force: true });
    if (names) await rm(podLogDirectory(this.deps.config.podLogsDir, names.namespace, names.name, uid), { recursive: true, force: true });
  }

  private async removeContainer(pod: Pod | null, id: string, signal?: AbortSignal, names?: { name: string; namespace: string; container: string } | null): Promise<void> {
    let status;
    try {
      status = await this.deps.runtime.containerStatus(id, signal);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const n = names ?? (pod ? { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', container: status.metadata?.name ?? '' } : null);
    try {
      await this.deps.runtime.removeContainer(id, signal);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (n) await unlink(containerLogSymlink(n.name, n.namespace, n.container, id, this.deps.config.containerLogsDir)).catch(() => undefined);
  }
}

export function gracePeriodSeconds(pod: Pod): number {
  const g = pod.spec?.terminationGracePeriodSeconds;
  return typeof g === 'number' && g >= 0 ? g : DEFAULT_GRACE_PERIOD_S;
}

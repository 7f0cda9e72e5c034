// KubeRuntimeManager: turns a pod spec into CRI calls (upstream kuberuntime_manager.go SyncPod,
// KillPod). It decides nothing itself beyond what computePodActions returns; it executes the
// actions in order and reports what it could not do as waiting reasons.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import type { RuntimeService } from '../cri/client.ts';
import type { Mount, PodSandboxConfig } from '../cri/types.ts';
import { crashLoopBackoffKey, type Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import { containerLogRelativePath, containerLogSymlink, podLogDirectory, safeComponent } from '../logs/paths.ts';
import { type ContainerRuntimeStatus, type PodRuntimeState, latestContainer } from '../pleg/runtime-state.ts';
import { HandlerRunner } from '../prober/handlers.ts';
import { containerLinuxResources, podSandboxCgroupParent } from '../cm/resources.ts';
import { buildContainerConfig, managedHostsFile } from './container-config.ts';
import { podDnsSettings } from './dns.ts';
import { ContainerStartError } from './errors.ts';
import { applyEphemeralContainerConfig, ephemeralContainerSpec, ephemeralTargetId, type EphemeralContainer } from './ephemeral.ts';
import type { ImageManager } from './images.ts';
import { hashContainer } from './labels.ts';
import { computePodActions, isSidecar, NO_PROBE_RESULTS, type KillReason, type ProbeResults } from './pod-actions.ts';
import { buildSandboxConfig, podHostnameAndDomain } from './sandbox-config.ts';
import { containerSecurityContext, imageUser, NODE_USER_NAMESPACE, verifyRunAsNonRoot, type ImageUser, type LinuxContainerSecurityContext } from './security-context.ts';
import { checkLocalhostSeccompProfile } from './seccomp-profile.ts';
import { STANDALONE_RUNTIME_CLASSES, type RuntimeClassLookup } from './runtime-class.ts';
import { NO_RUNTIME_FEATURES, userNamespaceFor, type RuntimeFeatures } from './runtime-features.ts';
import type { ImageService } from '../cri/client.ts';
import { buildEnvironment, expandContainerCommandAndArgs, resolveEnvSources } from './envvars.ts';
import { containerVolumeMounts, VolumeSetUpError, type PodVolumes } from '../volumes/volumes.ts';
import type { PodObjectSource } from '../kube/object-cache.ts';
import type { ContainerGCPolicy } from '../gc/policy.ts';

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
  /** Runs postStart and preStop hooks; absent: a HandlerRunner over `runtime`. */
  hooks?: Pick<HandlerRunner, 'run'>;
  /** What security contexts need beyond the pod; absent: no image user (root assumed), no RuntimeClasses, no runtime features. */
  security?: RuntimeSecurityDeps;
  /** The container GC policy the sync prunes dead containers by; absent: upstream's defaults. */
  containerGC?: Pick<ContainerGCPolicy, 'minAgeMs' | 'maxPerPodContainer'>;
}

/** The node facts security contexts are resolved against. */
export interface RuntimeSecurityDeps {
  /** CRI ImageStatus, for the user an image runs as (runAsNonRoot, runAsUser). */
  images: Pick<ImageService, 'imageStatus'>;
  /** RuntimeClass -> handler (STANDALONE_RUNTIME_CLASSES without an API server). */
  runtimeClasses: RuntimeClassLookup;
  /** The runtime's handlers and features (user namespaces); null: none known. */
  features: Pick<RuntimeFeatures, 'get'> | null;
  /** Where Localhost seccomp profiles live; default <rootDir>/seccomp (upstream seccompProfileRoot). */
  seccompProfileRoot?: string;
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
/**
 * Every stop gives the container at least this long between SIGTERM and SIGKILL, whatever the
 * grace period left after preStop and sidecar ordering (upstream minimumGracePeriodInSeconds, s).
 */
export const MINIMUM_GRACE_PERIOD_S = 2;

export class KubeRuntimeManager {
  private readonly deps: RuntimeManagerDeps;
  private readonly hostResolvConf: Promise<string>;
  private readonly hooks: Pick<HandlerRunner, 'run'>;

  constructor(deps: RuntimeManagerDeps) {
    this.deps = deps;
    this.hooks = deps.hooks ?? new HandlerRunner({ runtime: deps.runtime, clock: deps.clock, recorder: deps.recorder });
    this.hostResolvConf = deps.config.resolvConf ? readFile(deps.config.resolvConf, 'utf8').catch(() => '') : Promise.resolve('');
  }

  podDir(uid: string): string {
    return `${this.deps.config.rootDir}/pods/${safeComponent('pod UID', uid)}`;
  }

  private logDir(pod: Pod): string {
    const m = pod.metadata ?? {};
    return podLogDirectory(this.deps.config.podLogsDir, m.namespace ?? '', m.name ?? '', m.uid ?? '');
  }

  /**
   * Brings the runtime in line with the pod spec: one step of the pod's lifecycle. `probes` says
   * which running containers failed liveness/startup (restarted) and which have not started.
   */
  async syncPod(pod: Pod, state: PodRuntimeState, signal: AbortSignal, probes: ProbeResults = NO_PROBE_RESULTS): Promise<SyncResult> {
    const result: SyncResult = { waiting: new Map(), requeueAfterMs: null, changed: false, runtimeMs: 0, initFailed: false };
    const actions = computePodActions(pod, state, probes, this.deps.containerGC);
    const log = this.podLogger(pod);
    result.initFailed = actions.initFailed;

    if (actions.killPod) {
      log.debug({ createSandbox: actions.createSandbox }, 'killing pod before (re)creating its sandbox or because it is done');
      await this.killPod(pod, state, null, signal);
      result.changed = true;
      if (!actions.createSandbox) return result;
    }
    for (const k of actions.containersToKill) {
      const status = state.containers.find((c) => c.id === k.id);
      if (!status) continue;
      await this.killContainer(pod, status, { message: k.message, reason: k.reason, podIP: this.hookPodIP(pod, state.sandboxes[0]?.ips ?? []) }, signal);
      result.changed = true;
    }
    for (const id of actions.containersToRemove) await this.removeContainer(pod, id, signal);

    let sandboxId = actions.sandboxId;
    let sandboxConfig: PodSandboxConfig;
    let podIPs = state.sandboxes[0]?.ips ?? [];
    if (!actions.createSandbox) sandboxConfig = await this.sandboxConfig(pod, state.sandboxes[0]?.attempt ?? 0);
    else {
      try {
        // upstream generatePodSandboxConfig + LookupRuntimeHandler: a bad hostname, an unknown
        // RuntimeClass or a user namespace the runtime cannot give fail the sandbox creation.
        const runtimeHandler = await this.runtimeHandler(pod, signal);
        sandboxConfig = await this.sandboxConfig(pod, actions.attempt);
        ({ sandboxId, podIPs } = await this.createSandbox(pod, sandboxConfig, runtimeHandler, actions.attempt, result, signal));
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

    const start = (c: Container, isInit: boolean, ephemeral: EphemeralContainer | null = null): Promise<void> =>
      this.startContainer(pod, c, isInit, sandboxId, sandboxConfig, podIPs, state, result, signal, ephemeral);
    // Ephemeral containers first, as upstream: a debugger starts even while an init container fails.
    for (const ec of actions.ephemeralContainersToStart) await start(ephemeralContainerSpec(ec), false, ec);
    // Sidecars being restarted first, in order, each before the next; then the next init
    // container, or the regular containers.
    for (const c of actions.containersToStart.filter(isSidecar)) await start(c, true);
    if (actions.nextInitContainer) await start(actions.nextInitContainer, true);
    else await startInOrder(actions.containersToStart.filter((c) => !isSidecar(c)), (c) => start(c, false));
    return result;
  }

  /** The IP a lifecycle hook's httpGet goes to by default: the pod's, or the host's for a host-network pod. */
  private hookPodIP(pod: Pod, podIPs: string[]): string {
    return pod.spec?.hostNetwork ? this.deps.config.hostIP : (podIPs[0] ?? '');
  }

  private podLogger(pod: Pod): Logger {
    return this.deps.logger.child({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: pod.metadata?.uid });
  }

  /**
   * The runtime handler of the pod's RuntimeClass, after checking that the runtime gives the pod
   * the user namespace it asks for (upstream NamespacesForPod). Rejects with the reason the
   * sandbox cannot be created.
   */
  private async runtimeHandler(pod: Pod, signal: AbortSignal): Promise<string> {
    const sec = this.deps.security;
    const handler = await (sec?.runtimeClasses ?? STANDALONE_RUNTIME_CLASSES).lookupRuntimeHandler(pod.spec?.runtimeClassName, signal);
    if (handler) this.podLogger(pod).debug({ runtimeHandler: handler }, 'running pod with runtime handler');
    userNamespaceFor(pod, handler, pod.spec?.hostUsers === false ? ((await sec?.features?.get(signal)) ?? NO_RUNTIME_FEATURES) : NO_RUNTIME_FEATURES);
    return handler;
  }

  private get seccompProfileRoot(): string {
    return this.deps.security?.seccompProfileRoot ?? `${this.deps.config.rootDir}/seccomp`;
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
      clusterDomain: cfg.clusterDomain,
      userns: pod.spec?.hostUsers === false ? null : NODE_USER_NAMESPACE,
    });
  }

  private async createSandbox(pod: Pod, config: PodSandboxConfig, runtimeHandler: string, attempt: number, result: SyncResult, signal: AbortSignal): Promise<{ sandboxId: string; podIPs: string[] }> {
    const { runtime } = this.deps;
    const uid = pod.metadata?.uid ?? '';
    await mkdir(this.logDir(pod), { recursive: true, mode: 0o755 });
    await mkdir(this.podDir(uid), { recursive: true, mode: 0o750 });
    const t0 = performance.now();
    let sandboxId: string;
    try {
      sandboxId = await runtime.runPodSandbox(config, runtimeHandler, signal);
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
      const { hostname, domain } = podHostnameAndDomain(pod, this.deps.config.clusterDomain);
      const hosts = managedHostsFile(pod, podIPs, hostname, domain);
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
    podIPs: string[], state: PodRuntimeState, result: SyncResult, signal: AbortSignal, ephemeral: EphemeralContainer | null = null,
  ): Promise<void> {
    try {
      await this.startContainerOrThrow(pod, container, isInit, sandboxId, sandboxConfig, podIPs, state, result, signal, ephemeral);
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
    podIPs: string[], state: PodRuntimeState, result: SyncResult, signal: AbortSignal, ephemeral: EphemeralContainer | null = null,
  ): Promise<void> {
    const { runtime, recorder, crashBackoff, clock } = this.deps;
    const uid = pod.metadata?.uid ?? '';
    const last = latestContainer(state, container.name);
    // The newest exited instance: the running one may just have been killed by a probe.
    const lastExited = state.containers.find((c) => c.name === container.name && c.state === 'exited');
    if (lastExited) {
      // CrashLoopBackOff: wait after each exit, 10 s doubling to 300 s (upstream doBackOff).
      const m = pod.metadata ?? {};
      const key = crashLoopBackoffKey({ name: m.name ?? '', namespace: m.namespace ?? '', uid }, container.name, hashContainer(container));
      if (crashBackoff.isInBackOffSince(key, lastExited.finishedAtMs)) {
        const delay = crashBackoff.delay(key);
        const msg = `back-off ${Math.round(delay / 1000)}s restarting failed container=${container.name} pod=${pod.metadata?.name}_${pod.metadata?.namespace}(${uid})`;
        recorder.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${container.name} in pod ${pod.metadata?.name}_${pod.metadata?.namespace}(${uid})`);
        throw new ContainerStartError('CrashLoopBackOff', msg, { retryAfterMs: Math.max(1, lastExited.finishedAtMs + delay - clock.now()) });
      }
      crashBackoff.next(key, lastExited.finishedAtMs);
    }

    const imageRef = await this.deps.imageManager.ensureImage(pod, container, sandboxConfig, signal);
    const restartCount = last ? last.restartCount + 1 : 0;
    const targetId = ephemeral ? this.ephemeralTarget(pod, ephemeral, state) : null;
    let envs: { key: string; value: string }[];
    let command: string[];
    let args: string[];
    const podDir = this.podDir(uid);
    const mounts: Mount[] = [];
    try {
      // Volumes first: upstream mounts them before any container is created.
      const volumes = this.deps.volumes;
      if (volumes) await volumes.setUpVolumes(pod, container, signal);
      const objectSource = this.deps.objectSource;
      const sources = objectSource ? await resolveEnvSources(pod, container, objectSource, signal) : undefined;
      const built = buildEnvironment(container, pod, { podIP: podIPs[0], podIPs, nodeName: this.deps.config.nodeName, hostIP: this.deps.config.hostIP, ...(sources ? { sources } : {}) });
      for (const warning of built.warnings) recorder.event(pod, 'Warning', 'InvalidEnvironmentVariableNames', warning);
      ({ command, args } = expandContainerCommandAndArgs(container, built.env));
      envs = built.env.map((e) => ({ key: e.name, value: e.value }));
      // The mounts after the environment, as upstream makeMounts: subPathExpr expands it.
      mounts.push(...(volumes ? await volumes.containerMounts(pod, container, signal, built.env) : await containerVolumeMounts(pod, container, podDir)));
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

    const securityContext = await this.containerSecurity(pod, container, imageRef, signal);

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
      securityContext,
    });
    if (ephemeral) applyEphemeralContainerConfig(config, targetId);

    const containerId = await this.runtimeStep(pod, result, 'CreateContainerError', () => runtime.createContainer(sandboxId, config, sandboxConfig, signal));
    result.changed = true;
    recorder.event(pod, 'Normal', 'Created', `Created container ${container.name}`);
    await this.runtimeStep(pod, result, 'RunContainerError', () => runtime.startContainer(containerId, signal));
    recorder.event(pod, 'Normal', 'Started', `Started container ${container.name}`);
    await this.linkContainerLog(pod, container.name, containerId, `${logDir}/${logPath}`);
    const postStart = container.lifecycle?.postStart;
    if (postStart) await this.runPostStartHook(pod, container, containerId, podIPs, postStart, signal);
  }

  /**
   * The container's CRI security context (upstream generateContainerConfig: getImageUser,
   * verifyRunAsNonRoot, determineEffectiveSecurityContext), with a Localhost seccomp profile
   * checked on disk. What cannot be applied is CreateContainerConfigError with a Failed event:
   * the container is not created rather than run with less confinement than asked.
   */
  private async containerSecurity(pod: Pod, container: Container, imageRef: string, signal: AbortSignal): Promise<LinuxContainerSecurityContext> {
    const sec = this.deps.security;
    try {
      const user: ImageUser = imageUser(sec ? await sec.images.imageStatus(imageRef, signal) : null);
      const nonRoot = verifyRunAsNonRoot(pod, container, user);
      if (nonRoot) throw new ContainerStartError('CreateContainerConfigError', nonRoot, { code: 'InvalidInput', retryAfterMs: 10_000 });
      const sc = containerSecurityContext(pod, container, { imageUser: user, seccompProfileRoot: this.seccompProfileRoot, userns: pod.spec?.hostUsers === false ? null : NODE_USER_NAMESPACE });
      if (sc.seccomp?.profile_type === 'Localhost') await checkLocalhostSeccompProfile(sc.seccomp.localhost_ref ?? '');
      return sc;
    } catch (err) {
      if (isAbort(err) || signal.aborted) throw err;
      const msg = errorMessage(err);
      this.deps.recorder.event(pod, 'Warning', 'Failed', `Error: ${msg}`);
      throw err instanceof ContainerStartError ? err : new ContainerStartError('CreateContainerConfigError', msg, { code: 'InvalidInput', retryAfterMs: 10_000, cause: err });
    }
  }

  /** The target container an ephemeral container joins; CreateContainerConfigError with an event when it does not run. */
  private ephemeralTarget(pod: Pod, ec: EphemeralContainer, state: PodRuntimeState): string | null {
    try {
      return ephemeralTargetId(ec, state);
    } catch (err) {
      this.deps.recorder.event(pod, 'Warning', 'Failed', `Error: ${errorMessage(err)}`);
      throw err;
    }
  }

  /**
   * Runs the postStart hook inside the container start, as upstream: the sync (and so the
   * status, generated after it) waits for the hook. A failed hook records FailedPostStartHook,
   * kills the container (it restarts per the restart policy) and fails the start with
   * PostStartHookError and the hook's message.
   */
  private async runPostStartHook(
    pod: Pod, container: Container, containerId: string, podIPs: string[], hook: NonNullable<NonNullable<Container['lifecycle']>['postStart']>, signal: AbortSignal,
  ): Promise<void> {
    const podIP = this.hookPodIP(pod, podIPs);
    try {
      await this.hooks.run({ pod, container, containerId, podIP }, hook, signal);
    } catch (err) {
      if (isAbort(err) || signal.aborted) throw err;
      const msg = errorMessage(err);
      this.podLogger(pod).info({ container: container.name, err: msg }, 'postStart hook failed');
      // The hook's output stays out of the event: it may hold secrets (upstream).
      this.deps.recorder.event(pod, 'Warning', 'FailedPostStartHook', 'PostStartHook failed');
      const status: ContainerRuntimeStatus = { ...placeholderStatus(containerId, container.name), state: 'running' };
      try {
        await this.killContainer(pod, status, { message: 'FailedPostStartHook', reason: 'FailedPostStartHook', podIP }, signal);
      } catch (killErr) {
        if (isAbort(killErr)) throw killErr;
        this.podLogger(pod).warn({ container: container.name, err: errorMessage(killErr) }, 'could not kill the container after its postStart hook failed');
      }
      throw new ContainerStartError('PostStartHookError', msg, { cause: err });
    }
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
   * Stops one container as upstream killContainer: a Killing event, the preStop hook (it counts
   * against the grace period), the wait for its turn (sidecars after the regular containers),
   * then StopContainer with what is left of the grace period, never less than 2 s. `pod` null:
   * an orphan, with the grace period from the container's annotation and no hook.
   */
  private async killContainer(
    pod: Pod | null, c: ContainerRuntimeStatus,
    opts: { message?: string; reason?: KillReason; graceOverrideSeconds?: number | null; podIP: string; ordering?: TerminationOrdering | null },
    signal?: AbortSignal,
  ): Promise<void> {
    const spec = pod ? findContainerSpec(pod, c.name) : undefined;
    let grace = pod ? killGracePeriodSeconds(pod, spec, opts.reason ?? '') : (c.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_S);
    try {
      if (pod && c.state === 'running') this.deps.recorder.event(pod, 'Normal', 'Killing', opts.message || `Stopping container ${c.name}`);
      if (typeof opts.graceOverrideSeconds === 'number') grace = opts.graceOverrideSeconds;
      const preStop = spec?.lifecycle?.preStop;
      if (pod && spec && preStop && grace > 0 && c.state === 'running') {
        grace -= await this.executePreStopHook(pod, spec, c.id, preStop, grace, opts.podIP, signal);
      }
      if (opts.ordering && grace > 0) grace -= Math.trunc(await opts.ordering.waitForTurn(c.name, grace, signal));
      grace = Math.max(grace, MINIMUM_GRACE_PERIOD_S);
      this.deps.logger.debug({ pod: pod ? `${pod.metadata?.namespace}/${pod.metadata?.name}` : undefined, container: c.name, gracePeriodSeconds: grace }, 'killing container with a grace period');
      await this.stopContainer(c.id, grace, signal);
    } finally {
      opts.ordering?.containerTerminated(c.name);
    }
  }

  /**
   * Runs the preStop hook for at most `graceSeconds` (upstream executePreStopHook): the stop goes
   * on when the grace period is over even if the hook still runs. Resolves to the whole seconds
   * it took. A failed hook records FailedPreStopHook and the stop goes on.
   */
  private async executePreStopHook(
    pod: Pod, container: Container, containerId: string, hook: NonNullable<NonNullable<Container['lifecycle']>['preStop']>,
    graceSeconds: number, podIP: string, signal?: AbortSignal,
  ): Promise<number> {
    const { clock, recorder } = this.deps;
    const started = clock.now();
    const hookSignal = signal ?? new AbortController().signal;
    const run = this.hooks.run({ pod, container, containerId, podIP }, hook, hookSignal).then(
      () => undefined,
      (err: unknown) => {
        if (isAbort(err) || hookSignal.aborted) return;
        this.podLogger(pod).info({ container: container.name, err: errorMessage(err) }, 'preStop hook failed');
        recorder.event(pod, 'Warning', 'FailedPreStopHook', 'PreStop hook failed');
      },
    );
    const timerDone = new AbortController();
    const timer = clock.sleep(graceSeconds * 1000, AbortSignal.any([timerDone.signal, hookSignal])).then(
      () => this.podLogger(pod).info({ container: container.name, gracePeriodSeconds: graceSeconds }, 'preStop hook did not complete within the grace period'),
      () => undefined,
    );
    await Promise.race([run, timer]);
    timerDone.abort();
    signal?.throwIfAborted();
    return Math.trunc((clock.now() - started) / 1000);
  }

  /**
   * Stops every running container and then every sandbox of the pod. Containers stop at the same
   * time, each with its grace period (preStop first); in a pod with sidecars, the sidecars get
   * SIGTERM only once every regular container has stopped, in reverse order (upstream
   * terminationOrdering), within the grace period left. `pod` may be null for a pod the agent no
   * longer knows (an orphan): each container's grace period then comes from its annotation.
   */
  async killPod(pod: Pod | null, state: PodRuntimeState, graceOverrideSeconds: number | null, signal?: AbortSignal): Promise<void> {
    const running = state.containers.filter((c) => c.state === 'running' || c.state === 'created' || c.state === 'unknown');
    const ordering = pod && (pod.spec?.initContainers ?? []).some(isSidecar)
      ? new TerminationOrdering(pod, running.filter((c) => c.state === 'running').map((c) => c.name), this.deps.clock)
      : null;
    const podIP = pod ? this.hookPodIP(pod, state.sandboxes[0]?.ips ?? []) : '';
    await Promise.all(running.map((c) => this.killContainer(pod, c, { graceOverrideSeconds, podIP, ordering }, signal)));
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
    await rm(this.podDir(uid), { recursive: true, force: true });
    if (names) await rm(podLogDirectory(this.deps.config.podLogsDir, names.namespace, names.name, uid), { recursive: true, force: true });
    // The sandboxes go last: once the runtime has none, nothing of the pod is left on the node.
    for (const s of state.sandboxes) {
      try {
        await runtime.removePodSandbox(s.id, signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
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

/**
 * The grace period of one kill (upstream setTerminationGracePeriod): the pod's deletion grace
 * period when it is being deleted; for a liveness or startup failure, that probe's
 * terminationGracePeriodSeconds when set; otherwise the pod's.
 */
export function killGracePeriodSeconds(pod: Pod, container: Container | undefined, reason: KillReason): number {
  const deletion = pod.metadata?.deletionGracePeriodSeconds;
  if (typeof deletion === 'number') return deletion;
  const probe = reason === 'LivenessProbe' ? container?.livenessProbe : reason === 'StartupProbe' ? container?.startupProbe : undefined;
  const g = probe?.terminationGracePeriodSeconds;
  if (typeof g === 'number' && g >= 0) return g;
  return gracePeriodSeconds(pod);
}

function findContainerSpec(pod: Pod, name: string): Container | undefined {
  return (pod.spec?.containers ?? []).find((c) => c.name === name) ?? (pod.spec?.initContainers ?? []).find((c) => c.name === name);
}

function placeholderStatus(id: string, name: string): ContainerRuntimeStatus {
  return {
    id, name, sandboxId: '', attempt: 0, state: 'running', createdAtMs: 0, startedAtMs: 0, finishedAtMs: 0, exitCode: 0, reason: '', message: '',
    image: '', imageRef: '', hash: '', restartCount: 0, terminationMessagePath: '', gracePeriodSeconds: null,
  };
}

/**
 * Starts containers in spec order: those without a postStart hook together, but a container's
 * postStart hook holds back the containers after it (upstream starts them one by one, each with
 * its hook, so later containers may rely on an earlier one's hook having run).
 */
export async function startInOrder(containers: Container[], start: (c: Container) => Promise<void>): Promise<void> {
  let batch: Promise<void>[] = [];
  for (const c of containers) {
    batch.push(start(c));
    if (c.lifecycle?.postStart) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
}

/**
 * The stop order of a pod with sidecars (upstream terminationOrdering): every sidecar waits
 * until every regular container has stopped and then until the sidecar after it (in spec order)
 * has stopped, so sidecars stop last, in reverse order. Containers that are not running do not
 * hold anyone back.
 */
export class TerminationOrdering {
  private readonly terminated = new Map<string, { done: Promise<void>; resolve: () => void }>();
  private readonly prereqs = new Map<string, Promise<void>[]>();
  private readonly clock: Clock;

  constructor(pod: Pod, runningNames: string[], clock: Clock) {
    this.clock = clock;
    const running = new Set(runningNames);
    const channel = (name: string): Promise<void> => {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.terminated.set(name, { done, resolve });
      if (!running.has(name)) resolve();
      return done;
    };
    const mains = (pod.spec?.containers ?? []).map((c) => channel(c.name));
    let later: string | null = null;
    for (const c of [...(pod.spec?.initContainers ?? [])].reverse()) {
      void channel(c.name);
      if (!isSidecar(c)) continue;
      const waits = [...mains];
      if (later) waits.push(this.terminated.get(later)!.done);
      this.prereqs.set(c.name, waits);
      later = c.name;
    }
  }

  /** Waits until the container may stop, at most `graceSeconds`; resolves to the seconds waited. */
  async waitForTurn(name: string, graceSeconds: number, signal?: AbortSignal): Promise<number> {
    const waits = this.prereqs.get(name);
    if (!waits || graceSeconds <= 0) return 0;
    const started = this.clock.now();
    const timeUp = new AbortController();
    const timer = this.clock.sleep(graceSeconds * 1000, signal ? AbortSignal.any([signal, timeUp.signal]) : timeUp.signal).catch(() => undefined);
    await Promise.race([Promise.all(waits), timer]);
    timeUp.abort();
    signal?.throwIfAborted();
    return (this.clock.now() - started) / 1000;
  }

  /** The container has stopped: those waiting for it may go. */
  containerTerminated(name: string): void {
    this.terminated.get(name)?.resolve();
  }
}

/** Termination message caps, as upstream (kubecontainer.MaxContainerTerminationMessage*). */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
export const MAX_TERMINATION_MESSAGE_LOG_BYTES = 2048;
export const MAX_TERMINATION_MESSAGE_LOG_LINES = 80;
/** How much of a log file's end is read to find its last lines (bytes): more than 80 lines' worth of short lines, and far more than 2048 bytes of text. */
const LOG_TAIL_READ_BYTES = 64 * 1024;

/**
 * The termination message of an exited container (upstream getTerminationMessage and
 * readLastStringFromContainerLogs): the last 4096 bytes of its message file (never following
 * a symlink); with FallbackToLogsOnError, when the file is empty or missing and the container
 * failed (exit code not 0, and it could run), the last 80 lines of its log, at most 2048 bytes.
 * Never rejects: a read error becomes the message, as upstream.
 */
export async function readTerminationMessage(
  c: Pick<ContainerRuntimeStatus, 'exitCode' | 'reason' | 'terminationMessagePath'>, policy: string | undefined, logPath: string,
): Promise<string> {
  const fallbackToLogs = policy === 'FallbackToLogsOnError' && c.exitCode !== 0 && c.reason !== 'ContainerCannotRun';
  let text = '';
  if (c.terminationMessagePath) {
    try {
      text = (await readFileTail(c.terminationMessagePath, MAX_TERMINATION_MESSAGE_BYTES)).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `Error on reading termination log ${c.terminationMessagePath}: ${errorMessage(err)}`;
    }
  }
  if (text !== '' || !fallbackToLogs) return text;
  try {
    const tail = await readFileTail(logPath, LOG_TAIL_READ_BYTES);
    return criLogTail(tail.toString('utf8'), MAX_TERMINATION_MESSAGE_LOG_LINES, MAX_TERMINATION_MESSAGE_LOG_BYTES, !tail.fromStart);
  } catch (err) {
    return `Error on reading termination message from logs: ${errorMessage(err)}`;
  }
}

/** The last `max` bytes of a file (upstream tail.ReadAtMost), never following a symlink; fromStart: the whole file. */
async function readFileTail(path: string, max: number): Promise<Buffer & { fromStart: boolean }> {
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, max);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, size - length);
    return Object.assign(buf.subarray(0, bytesRead), { fromStart: length === size });
  } finally {
    await fh.close();
  }
}

/**
 * The text of the last `maxLines` lines of a CRI log (`<time> <stream> <P|F> <text>`, both
 * streams; a full line ends with a newline, a partial one does not), then its last `maxBytes`
 * bytes. `firstLineCut`: the content starts in the middle of the file, its first line is dropped. Pure.
 */
export function criLogTail(content: string, maxLines: number, maxBytes: number, firstLineCut = false): string {
  const lines = content.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (firstLineCut) lines.shift();
  const parsed: string[] = [];
  for (const line of lines.slice(-maxLines)) {
    const m = /^\S+ (?:stdout|stderr) (\S+) (.*)$/s.exec(line);
    if (!m) continue;
    parsed.push(m[1]!.split(':')[0] === 'P' ? m[2]! : `${m[2]!}\n`);
  }
  const text = Buffer.from(parsed.join(''), 'utf8');
  return text.subarray(Math.max(0, text.length - maxBytes)).toString('utf8');
}

// computePodActions: the pure decision at the heart of a pod sync. Given the pod's spec and the
// runtime's state for it, what must change? (upstream: kuberuntime_manager.go computePodActions)
// The caller executes the actions in order: kill, remove, sandbox, init container, containers.
import type { Container, Pod } from '../kube/types.ts';
import type { ContainerRuntimeStatus, PodRuntimeState, SandboxState } from '../pleg/runtime-state.ts';
import { latestContainer } from '../pleg/runtime-state.ts';
import { ephemeralContainersToStart, type EphemeralContainer } from './ephemeral.ts';
import { hashContainer } from './labels.ts';
import { DEFAULT_CONTAINER_GC_POLICY, deadInstancesToKeep, type ContainerGCPolicy } from '../gc/policy.ts';

/** Why a container is killed, when it changes its grace period (upstream containerKillReason). */
export type KillReason = 'LivenessProbe' | 'StartupProbe' | 'FailedPostStartHook' | '';

export interface ContainerToKill {
  id: string;
  name: string;
  message: string; // why, for the Killing event and the log
  reason: KillReason;
}

/**
 * What the probes say about the pod's running containers, by container ID (plain data, from
 * the probe manager): which failed liveness or startup (to be killed and restarted per the
 * restart policy), and which have not started yet (their startup probe has not succeeded).
 */
export interface ProbeResults {
  failed: ReadonlyMap<string, 'liveness' | 'startup'>;
  notStarted: ReadonlySet<string>;
}

export const NO_PROBE_RESULTS: ProbeResults = { failed: new Map(), notStarted: new Set() };

export interface PodActions {
  /** Stop every container and the sandbox (the sandbox changed, or nothing is left to run). */
  killPod: boolean;
  createSandbox: boolean;
  /** The attempt number of the sandbox to create (one more than the newest). */
  attempt: number;
  /** The ready sandbox to start containers in, when not creating one. */
  sandboxId: string;
  /** The init container to start next (first run or restart after failure), if any. */
  nextInitContainer: Container | null;
  /** An init container failed and the restart policy is Never: the pod has failed. */
  initFailed: boolean;
  /**
   * Regular containers and sidecars to (re)start, in spec order. Sidecars here are restarted
   * (they ran before); the runtime starts them first, in order.
   */
  containersToStart: Container[];
  /**
   * Ephemeral containers to start (never restarted: only those the runtime has no container of).
   * Started in the existing sandbox only, even before the pod has initialized.
   */
  ephemeralContainersToStart: EphemeralContainer[];
  containersToKill: ContainerToKill[];
  /** Dead containers beyond those the container GC policy keeps per name (see deadContainersToRemove). */
  containersToRemove: string[];
}

export const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';

/** Whether a container that is not running should be started again (kubecontainer.ShouldContainerBeRestarted). */
export function shouldContainerBeRestarted(pod: Pod, status: ContainerRuntimeStatus | undefined): boolean {
  if (!status) return true;
  if (status.state === 'running') return false;
  if (status.state === 'created' || status.state === 'unknown') return true;
  const policy = pod.spec?.restartPolicy ?? 'Always';
  if (policy === 'Never') return false;
  if (policy === 'OnFailure') return status.exitCode !== 0;
  return true;
}

/** Whether a new sandbox is needed, and with which attempt (upstream podSandboxChanged). */
export function podSandboxChanged(pod: Pod, sandboxes: SandboxState[]): { create: boolean; attempt: number; sandboxId: string } {
  const newest = sandboxes[0];
  if (!newest) return { create: true, attempt: 0, sandboxId: '' };
  const next = { create: true, attempt: newest.attempt + 1, sandboxId: newest.id };
  if (sandboxes.filter((s) => s.ready).length > 1) return next;
  if (!newest.ready) return next;
  if (!pod.spec?.hostNetwork && !newest.ip) return next;
  return { create: false, attempt: newest.attempt, sandboxId: newest.id };
}

function noActions(): PodActions {
  return {
    killPod: false,
    createSandbox: false,
    attempt: 0,
    sandboxId: '',
    nextInitContainer: null,
    initFailed: false,
    containersToStart: [],
    ephemeralContainersToStart: [],
    containersToKill: [],
    containersToRemove: [],
  };
}

/**
 * The in-sync part of container GC: per name, the exited instances beyond what the policy keeps
 * (deadInstancesToKeep: maxPerPodContainer, but at least the newest dead one, and two while the
 * newest instance is dead). Only with maxPerPodContainer >= 1 and no minimum age: otherwise the
 * container GC loop (src/gc/container-gc.ts) does all the pruning, with the same policy.
 */
function deadContainersToRemove(state: PodRuntimeState, gc: Pick<ContainerGCPolicy, 'minAgeMs' | 'maxPerPodContainer'>): string[] {
  if (gc.minAgeMs > 0 || gc.maxPerPodContainer < 1) return [];
  // state.containers lists each name's instances newest first.
  const newestDead = new Map<string, boolean>();
  const deadSeen = new Map<string, number>();
  const remove: string[] = [];
  for (const c of state.containers) {
    if (!newestDead.has(c.name)) newestDead.set(c.name, c.state === 'exited');
    if (c.state !== 'exited') continue;
    const n = (deadSeen.get(c.name) ?? 0) + 1;
    deadSeen.set(c.name, n);
    if (n > (deadInstancesToKeep(gc.maxPerPodContainer, newestDead.get(c.name) === true) ?? Infinity)) remove.push(c.id);
  }
  return remove;
}

/**
 * Walks the init containers in order (upstream computeInitContainerActions). Returns true when
 * the pod has initialized: every regular init container succeeded and every sidecar runs and has
 * started (its startup probe passed); otherwise sets the init container to start next (one at a
 * time, sidecars included), or initFailed. Once a regular container was created, the pod stays
 * initialized: regular init containers never run again and sidecars are kept running.
 */
function computeInitContainerActions(pod: Pod, state: PodRuntimeState, probes: ProbeResults, actions: PodActions): boolean {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  const podHasInitialized = (pod.spec?.containers ?? []).some((c) => {
    const s = latestContainer(state, c.name);
    return s?.state === 'running' || s?.state === 'created';
  });
  for (const c of pod.spec?.initContainers ?? []) {
    const status = latestContainer(state, c.name);
    if (isSidecar(c)) {
      if (!status || status.state !== 'running') {
        if (podHasInitialized) {
          actions.containersToStart.push(c); // kept running while the pod runs
          continue;
        }
        actions.nextInitContainer = c; // first start, or a restart before the pod initialized
        return false;
      }
      const failed = probes.failed.get(status.id);
      const changed = status.hash !== hashContainer(c);
      if (failed || changed) {
        const why = changed ? 'definition changed' : `failed ${failed} probe`;
        actions.containersToKill.push({ id: status.id, name: c.name, message: `Init container ${c.name} ${why}`, reason: changed ? '' : killReason(failed) });
        actions.containersToStart.push(c);
        if (podHasInitialized) continue;
        return false;
      }
      // The next init container starts only once this sidecar has started.
      if (!podHasInitialized && probes.notStarted.has(status.id)) return false;
      continue;
    }
    if (podHasInitialized) continue;
    if (!status || status.state === 'created' || status.state === 'unknown') {
      actions.nextInitContainer = c;
      return false;
    }
    if (status.state === 'running') return false; // wait for it to finish
    if (status.exitCode === 0) continue;
    if (policy === 'Never') {
      actions.initFailed = true;
      actions.killPod = true;
      return false;
    }
    actions.nextInitContainer = c; // restart the failed init container (under back-off)
    return false;
  }
  return true;
}

const killReason = (failed: 'liveness' | 'startup' | undefined): KillReason => (failed === 'liveness' ? 'LivenessProbe' : failed === 'startup' ? 'StartupProbe' : '');

/**
 * What the sync must do for the pod. `probes` says which running containers failed liveness or
 * startup (killed, and restarted unless the restart policy is Never) and which have not started;
 * `gc` how many dead instances per name are kept (containersToRemove).
 */
export function computePodActions(
  pod: Pod,
  state: PodRuntimeState,
  probes: ProbeResults = NO_PROBE_RESULTS,
  gc: Pick<ContainerGCPolicy, 'minAgeMs' | 'maxPerPodContainer'> = DEFAULT_CONTAINER_GC_POLICY,
): PodActions {
  const actions = noActions();
  const spec = pod.spec;
  const containers = spec?.containers ?? [];
  const initContainers = spec?.initContainers ?? [];
  const sandbox = podSandboxChanged(pod, state.sandboxes);
  actions.attempt = sandbox.attempt;
  actions.sandboxId = sandbox.sandboxId;

  if (sandbox.create) {
    // Everything in the old sandbox goes; what starts in the new one depends on what already ran.
    actions.killPod = state.sandboxes.some((s) => s.ready) || state.containers.some((c) => c.state === 'running');
    const policy = spec?.restartPolicy ?? 'Always';
    if (policy === 'Never' && sandbox.attempt > 0 && state.containers.length > 0) {
      return actions; // the pod ran once and must not run again
    }
    const toStart = containers.filter((c) => {
      const last = latestContainer(state, c.name);
      return !(policy === 'OnFailure' && last?.state === 'exited' && last.exitCode === 0);
    });
    if (toStart.length === 0) return actions; // every container succeeded: nothing to run
    actions.createSandbox = true;
    actions.sandboxId = '';
    if (initContainers.length > 0) actions.nextInitContainer = initContainers[0]!;
    else actions.containersToStart = toStart;
    return actions;
  }

  actions.containersToRemove = deadContainersToRemove(state, gc);
  // Ephemeral containers may start even if initialization is not complete (upstream).
  actions.ephemeralContainersToStart = ephemeralContainersToStart(pod, state);
  const initDone = computeInitContainerActions(pod, state, probes, actions);
  if (!initDone) return actions;

  let keepCount = 0;
  const restartOnFailure = (spec?.restartPolicy ?? 'Always') !== 'Never';
  for (const c of containers) {
    const status = latestContainer(state, c.name);
    if (!status || status.state !== 'running') {
      if (shouldContainerBeRestarted(pod, status)) actions.containersToStart.push(c);
      continue;
    }
    const failed = probes.failed.get(status.id);
    let message: string;
    let reason: KillReason = '';
    let restart = restartOnFailure;
    if (status.hash !== hashContainer(c)) {
      message = `Container ${c.name} definition changed`;
      restart = true;
    } else if (failed) {
      message = `Container ${c.name} failed ${failed} probe`;
      reason = killReason(failed);
    } else {
      keepCount++;
      continue;
    }
    // Killed, and restarted in the same sync unless the restart policy is Never.
    if (restart) {
      message += ', will be restarted';
      actions.containersToStart.push(c);
    }
    actions.containersToKill.push({ id: status.id, name: c.name, message, reason });
  }
  if (actions.containersToStart.filter((c) => !isSidecar(c)).length === 0 && keepCount === 0) {
    // Every regular container has finished and none restarts: stop the sandbox (and sidecars).
    actions.killPod = true;
    actions.containersToStart = [];
    actions.ephemeralContainersToStart = [];
  }
  return actions;
}

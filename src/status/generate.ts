// The API status of a pod, generated from its spec and the runtime's state (upstream
// kubelet_pods.go generateAPIPodStatus, getPhase, convertToAPIContainerStatuses). Pure.
import type { Container, ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from '../kube/types.ts';
import type { ContainerRuntimeStatus, PodRuntimeState } from '../pleg/runtime-state.ts';
import type { WaitingReason } from '../kuberuntime/runtime-manager.ts';
import { getPodQOS } from '../cm/qos.ts';
import { ephemeralContainerSpec } from '../kuberuntime/ephemeral.ts';
import { statusContainerID } from './container-id.ts';

export interface StatusInputs {
  hostIP: string;
  runtimeName: string; // prefixes container IDs: containerd://<id>
  /** Per container name: the reason it is waiting, from the last sync. */
  waiting: Map<string, WaitingReason>;
  /** Termination messages read from the containers' message files, by container id. */
  terminationMessages: Map<string, string>;
  /** True when an init container failed and the restart policy is Never. */
  initFailed: boolean;
  /** True when the pod is being deleted and all its containers are stopped: the phase becomes terminal. */
  podIsTerminal?: boolean;
  nowISO: string;
  /**
   * The probes' view of a running container (the probe manager's): started = its startup probe
   * succeeded or it has none; ready = started and its readiness probe succeeded or it has none.
   * Absent: every running container is started and ready.
   */
  probes?: (containerName: string, containerId: string) => { started: boolean; ready: boolean };
}

/**
 * Termination messages of one pod share this many bytes, split evenly between its containers
 * (upstream MaxPodTerminationMessageLogLength, applied in the status manager's normalizeStatus).
 */
export const MAX_POD_TERMINATION_MESSAGE_BYTES = 12 * 1024;

function toISO(ms: number): string | undefined {
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}

function terminatedState(c: ContainerRuntimeStatus, runtimeName: string, message: string | undefined): ContainerState {
  const reason = c.reason || (c.exitCode === 0 ? 'Completed' : 'Error');
  // The runtime's message, then what the container wrote (upstream convertToKubeContainerStatus).
  const msg = [c.message, message].filter(Boolean).join(': ') || undefined;
  return {
    terminated: {
      exitCode: c.exitCode,
      reason,
      ...(msg ? { message: msg } : {}),
      startedAt: toISO(c.startedAtMs) as unknown as Date,
      finishedAt: toISO(c.finishedAtMs) as unknown as Date,
      containerID: statusContainerID(runtimeName, c.id),
    },
  };
}

/**
 * One container's status. An ephemeral container is never probed and never ready, and has no
 * `started` (upstream's prober sets it for regular and init containers only).
 */
function containerStatus(spec: Container, state: PodRuntimeState, inputs: StatusInputs, defaultWaiting: string, ephemeral = false): ContainerStatus {
  const all = state.containers.filter((c) => c.name === spec.name);
  const cur = all[0];
  const prev = all[1];
  const waitingReason = inputs.waiting.get(spec.name);
  const status: ContainerStatus = { name: spec.name, image: spec.image ?? '', imageID: '', ready: false, restartCount: 0, ...(ephemeral ? {} : { started: false }) };
  const lastOf = (c: ContainerRuntimeStatus | undefined): ContainerState =>
    c && c.state === 'exited' ? terminatedState(c, inputs.runtimeName, inputs.terminationMessages.get(c.id)) : {};
  if (!cur) {
    status.state = { waiting: { reason: waitingReason?.reason ?? defaultWaiting, ...(waitingReason?.message ? { message: waitingReason.message } : {}) } };
    status.lastState = {};
    return status;
  }
  status.restartCount = cur.restartCount;
  status.imageID = cur.imageRef;
  status.containerID = statusContainerID(inputs.runtimeName, cur.id);
  if (cur.state === 'running') {
    status.state = { running: { startedAt: toISO(cur.startedAtMs) as unknown as Date } };
    status.lastState = lastOf(prev);
    if (!ephemeral) {
      const probed = inputs.probes ? inputs.probes(spec.name, cur.id) : { started: true, ready: true };
      status.started = probed.started;
      status.ready = probed.started && probed.ready;
    }
  } else if (cur.state === 'exited' && !waitingReason) {
    status.state = terminatedState(cur, inputs.runtimeName, inputs.terminationMessages.get(cur.id));
    status.lastState = lastOf(prev);
  } else {
    // Created but not started, or exited and waiting to be restarted (e.g. CrashLoopBackOff).
    const reason = waitingReason?.reason ?? 'ContainerCreating';
    status.state = { waiting: { reason, ...(waitingReason?.message ? { message: waitingReason.message } : {}) } };
    status.lastState = cur.state === 'exited' ? lastOf(cur) : lastOf(prev);
  }
  return status;
}

const isRestartableInit = (c: Container): boolean => c.restartPolicy === 'Always';

/** The pod phase from its container statuses (upstream getPhase). */
export function podPhase(pod: Pod, initStatuses: ContainerStatus[], statuses: ContainerStatus[], podIsTerminal = false): PodStatus['phase'] {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  let pendingInit = 0;
  let failedInit = 0;
  (pod.spec?.initContainers ?? []).forEach((c, i) => {
    const s = initStatuses[i];
    if (isRestartableInit(c)) {
      if (!s?.state?.running || !s.started) pendingInit++;
      return;
    }
    if (!s) pendingInit++;
    else if (s.state?.running) pendingInit++;
    else if (s.state?.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.state?.waiting && s.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else pendingInit++;
  });
  let unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  if (pendingInit > 0 || failedInit > 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(type: string, ok: boolean, reason?: string, message?: string): PodCondition {
  return { type, status: ok ? 'True' : 'False', ...(ok || !reason ? {} : { reason }), ...(ok || !message ? {} : { message }) };
}

/** The pod's conditions (upstream status/generate.go). lastTransitionTime is added by the status manager. */
export function podConditions(pod: Pod, phase: PodStatus['phase'], sandboxReady: boolean, initStatuses: ContainerStatus[], statuses: ContainerStatus[]): PodCondition[] {
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const inits = pod.spec?.initContainers ?? [];
  const incompleteInit = inits
    .filter((c, i) => {
      const s = initStatuses[i];
      if (isRestartableInit(c)) return !(s?.started ?? false);
      return !(s?.state?.terminated && s.state.terminated.exitCode === 0);
    })
    .map((c) => c.name);
  const initialized = incompleteInit.length === 0 || (terminal && phase === 'Succeeded');
  const sidecarStatuses = initStatuses.filter((_, i) => isRestartableInit(inits[i]!));
  const unready = [...sidecarStatuses, ...statuses].filter((s) => !s.ready).map((s) => s.name);
  const containersReady = unready.length === 0;
  let notReadyReason = 'ContainersNotReady';
  let notReadyMessage = `containers with unready status: [${unready.join(' ')}]`;
  if (terminal) {
    notReadyReason = 'PodCompleted';
    notReadyMessage = '';
  } else if (!initialized) {
    notReadyReason = 'ContainersNotInitialized';
    notReadyMessage = `containers with incomplete status: [${incompleteInit.join(' ')}]`;
  }
  // Readiness gates (upstream GeneratePodReadyCondition): only once the containers are ready.
  const gateProblems: string[] = [];
  for (const g of pod.spec?.readinessGates ?? []) {
    const c = pod.status?.conditions?.find((x) => x.type === g.conditionType);
    if (!c) gateProblems.push(`corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`);
    else if (c.status !== 'True') gateProblems.push(`the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`);
  }
  const containersOk = containersReady && !terminal;
  const ready = containersOk && gateProblems.length === 0;
  return [
    condition('PodReadyToStartContainers', sandboxReady),
    condition('Initialized', initialized, 'ContainersNotInitialized', `containers with incomplete status: [${incompleteInit.join(' ')}]`),
    condition('Ready', ready, containersOk ? 'ReadinessGatesNotReady' : notReadyReason, containersOk ? gateProblems.join(', ') : notReadyMessage),
    condition('ContainersReady', containersOk, notReadyReason, notReadyMessage),
    condition('PodScheduled', true),
  ];
}

/** Caps every terminated message so the pod's messages fit MAX_POD_TERMINATION_MESSAGE_BYTES together (upstream normalizeStatus). */
function capTerminationMessages(pod: Pod, statuses: ContainerStatus[]): void {
  const count = (pod.spec?.containers ?? []).length + (pod.spec?.initContainers ?? []).length + (pod.spec?.ephemeralContainers ?? []).length;
  const perContainer = count > 0 ? Math.floor(MAX_POD_TERMINATION_MESSAGE_BYTES / count) : MAX_POD_TERMINATION_MESSAGE_BYTES;
  for (const s of statuses) {
    for (const st of [s.state, s.lastState]) {
      const t = st?.terminated;
      if (t?.message && Buffer.byteLength(t.message) > perContainer) t.message = Buffer.from(t.message).subarray(0, perContainer).toString('utf8');
    }
  }
}

export function generatePodStatus(pod: Pod, state: PodRuntimeState, inputs: StatusInputs): PodStatus {
  const sandbox = state.sandboxes[0];
  // Upstream's default waiting reason: PodInitializing for every container of a pod with init containers.
  const defaultWaiting = (pod.spec?.initContainers ?? []).length > 0 ? 'PodInitializing' : 'ContainerCreating';
  const initStatuses = (pod.spec?.initContainers ?? []).map((c) => containerStatus(c, state, inputs, defaultWaiting));
  const statuses = (pod.spec?.containers ?? []).map((c) => containerStatus(c, state, inputs, defaultWaiting));
  // Ephemeral containers: waiting, running or terminated as any container, but never restarted.
  const ephemeralStatuses = (pod.spec?.ephemeralContainers ?? []).map((ec) => containerStatus(ephemeralContainerSpec(ec), state, inputs, defaultWaiting, true));
  // A regular init container that succeeded counts as ready, as upstream's prober manager has it.
  (pod.spec?.initContainers ?? []).forEach((c, i) => {
    const s = initStatuses[i]!;
    if (!isRestartableInit(c) && s.state?.terminated?.exitCode === 0) s.ready = true;
  });
  capTerminationMessages(pod, [...initStatuses, ...statuses, ...ephemeralStatuses]);
  let phase = podPhase(pod, initStatuses, statuses, inputs.podIsTerminal);
  if (inputs.initFailed) phase = 'Failed';
  const sandboxReady = !!sandbox?.ready && (!!pod.spec?.hostNetwork || !!sandbox.ip);
  const podIPs = pod.spec?.hostNetwork ? (inputs.hostIP ? [inputs.hostIP] : []) : sandbox?.ready ? sandbox.ips : [];
  return {
    phase,
    conditions: podConditions(pod, phase, sandboxReady, initStatuses, statuses),
    hostIP: inputs.hostIP || undefined,
    hostIPs: inputs.hostIP ? [{ ip: inputs.hostIP }] : undefined,
    podIP: podIPs[0],
    podIPs: podIPs.length ? podIPs.map((ip) => ({ ip })) : undefined,
    initContainerStatuses: initStatuses.length ? initStatuses : undefined,
    containerStatuses: statuses,
    ephemeralContainerStatuses: ephemeralStatuses.length ? ephemeralStatuses : undefined,
    qosClass: getPodQOS(pod),
  };
}

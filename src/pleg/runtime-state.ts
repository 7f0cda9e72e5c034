// The runtime's view of one pod, read from CRI: its sandboxes and containers, newest first.
// Pod workers read it fresh at each sync (readPodRuntimeState); the PLEG only detects changes.
import type { RuntimeService } from '../cri/client.ts';
import { isNotFound } from '../common/errors.ts';
import {
  ANNOTATION_CONTAINER_HASH,
  ANNOTATION_GRACE_PERIOD,
  ANNOTATION_RESTART_COUNT,
  ANNOTATION_TERMINATION_MESSAGE_PATH,
  LABEL_CONTAINER_NAME,
  LABEL_POD_UID,
} from '../kuberuntime/labels.ts';

export interface SandboxState {
  id: string;
  attempt: number;
  ready: boolean;
  createdAtMs: number;
  ip: string; // '' when none (host network, or not ready)
  ips: string[];
}

export type RuntimeContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerRuntimeStatus {
  id: string;
  name: string;
  sandboxId: string;
  attempt: number;
  state: RuntimeContainerState;
  createdAtMs: number;
  startedAtMs: number; // 0 when never started
  finishedAtMs: number; // 0 when not finished
  exitCode: number;
  reason: string; // runtime's reason, e.g. OOMKilled, Completed, Error, ContainerCannotRun
  message: string;
  image: string; // the image as the spec names it
  imageRef: string; // the image id the runtime resolved (sha256:...)
  hash: string; // ANNOTATION_CONTAINER_HASH
  restartCount: number; // ANNOTATION_RESTART_COUNT
  terminationMessagePath: string; // host-side file, '' when none
  gracePeriodSeconds: number | null; // ANNOTATION_GRACE_PERIOD: for stopping it when the pod spec is gone
}

export interface PodRuntimeState {
  uid: string;
  /** Name and namespace from the newest sandbox's metadata ('' without sandbox): what an orphan is known by. */
  name: string;
  namespace: string;
  sandboxes: SandboxState[]; // newest first
  containers: ContainerRuntimeStatus[]; // newest first
}

const NS_PER_MS = 1e6;

const CONTAINER_STATES: Record<string, RuntimeContainerState> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
};

/** Reads the pod's sandboxes and containers from the runtime, with full container statuses. */
export async function readPodRuntimeState(runtime: RuntimeService, uid: string, signal?: AbortSignal): Promise<PodRuntimeState> {
  const selector = { label_selector: { [LABEL_POD_UID]: uid } };
  const [sandboxList, containerList] = await Promise.all([runtime.listPodSandbox(selector, signal), runtime.listContainers(selector, signal)]);
  const sandboxes = await Promise.all(
    sandboxList.map(async (s): Promise<SandboxState> => {
      const ready = s.state === 'SANDBOX_READY';
      let ip = '';
      let ips: string[] = [];
      if (ready) {
        try {
          const status = await runtime.podSandboxStatus(s.id, signal);
          ip = status.network?.ip ?? '';
          ips = [ip, ...(status.network?.additional_ips ?? []).map((x) => x.ip)].filter(Boolean);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      return { id: s.id, attempt: s.metadata?.attempt ?? 0, ready, createdAtMs: s.created_at / NS_PER_MS, ip, ips };
    }),
  );
  const statuses = await Promise.all(
    containerList.map(async (c) => {
      try {
        return await runtime.containerStatus(c.id, signal);
      } catch (err) {
        if (isNotFound(err)) return null; // removed between list and status
        throw err;
      }
    }),
  );
  const containers: ContainerRuntimeStatus[] = [];
  for (const s of statuses) {
    if (!s) continue;
    containers.push({
      id: s.id,
      name: s.labels[LABEL_CONTAINER_NAME] ?? s.metadata?.name ?? '',
      sandboxId: containerList.find((c) => c.id === s.id)?.pod_sandbox_id ?? '',
      attempt: s.metadata?.attempt ?? 0,
      state: CONTAINER_STATES[s.state] ?? 'unknown',
      createdAtMs: s.created_at / NS_PER_MS,
      startedAtMs: s.started_at / NS_PER_MS,
      finishedAtMs: s.finished_at / NS_PER_MS,
      exitCode: s.exit_code,
      reason: s.reason,
      message: s.message,
      image: s.image?.image ?? '',
      imageRef: s.image_ref,
      hash: s.annotations[ANNOTATION_CONTAINER_HASH] ?? '',
      restartCount: Number.parseInt(s.annotations[ANNOTATION_RESTART_COUNT] ?? '0', 10) || 0,
      terminationMessagePath: s.annotations[ANNOTATION_TERMINATION_MESSAGE_PATH] ?? '',
      gracePeriodSeconds: parseGracePeriod(s.annotations[ANNOTATION_GRACE_PERIOD]),
    });
  }
  sandboxes.sort((a, b) => b.createdAtMs - a.createdAtMs);
  containers.sort((a, b) => b.createdAtMs - a.createdAtMs);
  const newest = [...sandboxList].sort((a, b) => b.created_at - a.created_at)[0];
  return { uid, name: newest?.metadata?.name ?? '', namespace: newest?.metadata?.namespace ?? '', sandboxes, containers };
}

function parseGracePeriod(text: string | undefined): number | null {
  const n = Number(text);
  return text && Number.isInteger(n) && n >= 0 ? n : null;
}

/** The newest container with this name, or undefined. */
export function latestContainer(state: PodRuntimeState, name: string): ContainerRuntimeStatus | undefined {
  return state.containers.find((c) => c.name === name);
}

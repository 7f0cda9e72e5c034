// What the benchmark asks the container runtime directly (CRI): when each bench pod's sandbox
// was created and its containers created and started, and removal of bench pods left behind.
// Bench pods are recognised by the pod label BENCH_LABEL (its value is the run id), which the
// runtime keeps on the sandbox; containers by their io.kubernetes.pod.uid label. Also every
// benchmark's pre-flight check of the runtime (checkRuntime).
import type { ImageService, RuntimeService } from '../../src/cri/client.ts';
import type { VersionResponse } from '../../src/cri/types.ts';
import { errorMessage, isNotFound } from '../../src/common/errors.ts';
import { LABEL_POD_NAME, LABEL_POD_UID } from '../../src/kuberuntime/labels.ts';
import { BENCH_IMAGE, PAUSE_IMAGE } from './manifests.ts';

/** The runtime the benchmarks measure: containerd's CRI socket, as a path and as an endpoint. */
export const RUNTIME_SOCKET = '/run/containerd/containerd.sock';
export const RUNTIME_ENDPOINT = `unix://${RUNTIME_SOCKET}`;

/**
 * Pre-flight: containerd answers (within 5 s) and has the bench and pause images. Resolves to its
 * version; throws with what to run otherwise (rethrows the abort when `signal` aborted).
 */
export async function checkRuntime(cri: Pick<RuntimeService, 'version'> & Pick<ImageService, 'imageStatus'>, signal: AbortSignal): Promise<VersionResponse> {
  let version: VersionResponse;
  try {
    version = await cri.version(AbortSignal.any([signal, AbortSignal.timeout(5_000)]));
  } catch (err) {
    signal.throwIfAborted();
    throw new Error(`containerd does not answer at ${RUNTIME_ENDPOINT} (${errorMessage(err)}): run npm run setup`, { cause: err });
  }
  for (const image of [BENCH_IMAGE, PAUSE_IMAGE]) {
    if (!(await cri.imageStatus(image, signal))) throw new Error(`the runtime does not have ${image}: run npm run setup`);
  }
  return version;
}

/** Pod label carried by every bench pod (both phases); value: the bench run id. */
export const BENCH_LABEL = 'tskubelet-bench';
/** Label of tskubelet-created sandboxes (src/kuberuntime/labels.ts LABEL_MANAGED_BY). */
export const MANAGED_LABEL = 'io.kubernetes.tskubelet';

const NS_PER_MS = 1e6;

/** The runtime's record of one pod: times in wall-clock ms (from the runtime's ns timestamps). */
export interface RuntimePodTimes {
  name: string;
  uid: string;
  sandboxCreatedMs: number;
  /** Latest created_at / started_at over the pod's containers; NaN when a container never started. */
  containerCreatedMs: number;
  startedMs: number;
  containers: number;
  allRunning: boolean;
}

/**
 * Reads, for each pod name in `names` (the runtime's pod name label), its newest sandbox and its
 * containers' created/started times. One ListPodSandbox, one ListContainers and one
 * ContainerStatus per container. Pods the runtime does not have are absent from the result.
 */
export async function readPodTimes(cri: RuntimeService, names: ReadonlySet<string>, signal?: AbortSignal): Promise<Map<string, RuntimePodTimes>> {
  const [sandboxes, containers] = await Promise.all([cri.listPodSandbox(undefined, signal), cri.listContainers(undefined, signal)]);
  const out = new Map<string, RuntimePodTimes>();
  for (const s of sandboxes) {
    const name = s.labels[LABEL_POD_NAME] ?? '';
    if (!names.has(name)) continue;
    const prev = out.get(name);
    const createdMs = s.created_at / NS_PER_MS;
    if (prev && prev.sandboxCreatedMs >= createdMs) continue;
    out.set(name, { name, uid: s.labels[LABEL_POD_UID] ?? '', sandboxCreatedMs: createdMs, containerCreatedMs: Number.NaN, startedMs: Number.NaN, containers: 0, allRunning: false });
  }
  const byUid = new Map([...out.values()].map((p) => [p.uid, p]));
  const mine = containers.filter((c) => byUid.has(c.labels[LABEL_POD_UID] ?? ''));
  const statuses = await Promise.all(mine.map((c) => cri.containerStatus(c.id, signal).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)))));
  const created = new Map<string, number[]>();
  const started = new Map<string, number[]>();
  for (const p of out.values()) p.allRunning = true;
  for (const st of statuses) {
    if (!st) continue;
    const p = byUid.get(st.labels[LABEL_POD_UID] ?? '');
    if (!p) continue;
    p.containers++;
    push(created, p.name, st.created_at / NS_PER_MS);
    push(started, p.name, st.started_at > 0 ? st.started_at / NS_PER_MS : Number.NaN);
    if (st.state !== 'CONTAINER_RUNNING') p.allRunning = false;
  }
  for (const p of out.values()) {
    if (p.containers === 0) p.allRunning = false;
    p.containerCreatedMs = latest(created.get(p.name));
    p.startedMs = latest(started.get(p.name));
  }
  return out;
}

function push(m: Map<string, number[]>, key: string, v: number): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

/** The latest of the times; NaN when there is none or any is NaN (never happened). */
function latest(times: number[] | undefined): number {
  if (!times || times.length === 0 || times.some(Number.isNaN)) return Number.NaN;
  return Math.max(...times);
}

/** Sandboxes and containers of bench pods that the runtime still has. */
export interface BenchLeftovers {
  sandboxIds: string[];
  containerIds: string[];
  podNames: string[];
}

/**
 * Finds bench pods: sandboxes whose BENCH_LABEL is `runId` (any value when runId is null) and
 * the containers of their pod UIDs.
 */
export async function findBenchPods(cri: RuntimeService, runId: string | null, signal?: AbortSignal): Promise<BenchLeftovers> {
  const [sandboxes, containers] = await Promise.all([cri.listPodSandbox(undefined, signal), cri.listContainers(undefined, signal)]);
  const mine = sandboxes.filter((s) => (runId === null ? BENCH_LABEL in s.labels : s.labels[BENCH_LABEL] === runId));
  const uids = new Set(mine.map((s) => s.labels[LABEL_POD_UID] ?? ''));
  const cs = containers.filter((c) => uids.has(c.labels[LABEL_POD_UID] ?? ''));
  return { sandboxIds: mine.map((s) => s.id), containerIds: cs.map((c) => c.id), podNames: mine.map((s) => s.labels[LABEL_POD_NAME] ?? s.id) };
}

/**
 * Names of pods that a tskubelet created (MANAGED_LABEL) and that are not bench pods: a bench
 * tskubelet would remove them as orphans.
 */
export async function findForeignManagedPods(cri: RuntimeService, signal?: AbortSignal): Promise<string[]> {
  const sandboxes = await cri.listPodSandbox(undefined, signal);
  const names = sandboxes.filter((s) => s.labels[MANAGED_LABEL] && !(BENCH_LABEL in s.labels)).map((s) => s.labels[LABEL_POD_NAME] ?? s.id);
  return [...new Set(names)].sort();
}

/**
 * Stops (no grace) and removes the given containers, then the sandboxes, a few at a time.
 * NotFound counts as done. Resolves to the problems met (empty when all went).
 */
export async function removeRuntimePods(cri: RuntimeService, pods: BenchLeftovers, signal?: AbortSignal): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, op: () => Promise<void>): Promise<void> => {
    try {
      await op();
    } catch (err) {
      if (!isNotFound(err)) problems.push(`${what}: ${errorMessage(err)}`);
    }
  };
  await forEachLimit(pods.containerIds, 8, async (id) => {
    await attempt(`stop container ${id.slice(0, 12)}`, () => cri.stopContainer(id, 0, signal));
    await attempt(`remove container ${id.slice(0, 12)}`, () => cri.removeContainer(id, signal));
  });
  await forEachLimit(pods.sandboxIds, 8, async (id) => {
    await attempt(`stop sandbox ${id.slice(0, 12)}`, () => cri.stopPodSandbox(id, signal));
    await attempt(`remove sandbox ${id.slice(0, 12)}`, () => cri.removePodSandbox(id, signal));
  });
  return problems;
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first failure. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

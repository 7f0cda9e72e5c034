// What the two cluster benchmarks (cluster-pods.ts, compare.ts) share: the paths of the test
// control plane's kubeconfigs, the pre-flight check of containerd, the images and the API server,
// the removal of what a killed earlier run left (labelled namespaces and Nodes, their runtime
// pods, temp folders), and the clean-up of a run's log links and mounts.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CriClient } from '../../src/cri/client.ts';
import { errorMessage } from '../../src/common/errors.ts';
import { CONTAINER_LOGS_DIR } from '../../src/logs/paths.ts';
import { HttpKubeClient } from '../../src/kube/client.ts';
import { deleteNodeObjects } from './cluster-api.ts';
import { findNamespacePods } from './cluster-runtime.ts';
import { checkRuntime, removeRuntimePods, RUNTIME_ENDPOINT, RUNTIME_SOCKET } from './runtime.ts';

const CLUSTER_DIR = fileURLToPath(new URL('../../.cluster', import.meta.url));
export const ADMIN_KUBECONFIG = join(CLUSTER_DIR, 'admin.kubeconfig');
export const BOOTSTRAP_KUBECONFIG = join(CLUSTER_DIR, 'bootstrap.kubeconfig');
export const CLUSTER_HINT = 'run npm run cluster:up';

/**
 * Checks containerd (answering, with the bench and pause images), the kubeconfigs and the API
 * server; throws with what to run otherwise. The clients are handed to `keep` as soon as they
 * exist, so the caller closes them even when a later check fails.
 */
export async function connectBenchClients(keep: (c: { cri?: CriClient; admin?: HttpKubeClient }) => void, signal: AbortSignal): Promise<{ cri: CriClient; admin: HttpKubeClient; apiServer: string }> {
  if (!existsSync(RUNTIME_SOCKET)) throw new Error(`containerd is not running (no socket at ${RUNTIME_SOCKET}): run npm run setup`);
  for (const f of [ADMIN_KUBECONFIG, BOOTSTRAP_KUBECONFIG]) if (!existsSync(f)) throw new Error(`${f} is missing: ${CLUSTER_HINT}`);
  const cri = new CriClient({ runtimeEndpoint: RUNTIME_ENDPOINT, requestTimeoutMs: 60_000 });
  keep({ cri });
  await checkRuntime(cri, signal);
  const admin = await HttpKubeClient.fromKubeconfigFile(ADMIN_KUBECONFIG);
  keep({ admin });
  let version: { gitVersion?: string };
  try {
    version = await admin.request<{ gitVersion?: string }>('GET', '/version', { signal, timeoutMs: 5_000 });
  } catch (err) {
    signal.throwIfAborted();
    throw new Error(`the API server at ${admin.server} does not answer (${errorMessage(err)}): ${CLUSTER_HINT}`, { cause: err });
  }
  return { cri, admin, apiServer: `kube-apiserver ${version.gitVersion ?? 'unknown'}` };
}

export interface LeftoverMarks {
  /** Label (key) on the bench's namespaces and Nodes. */
  label: string;
  /** Prefix of the bench's namespaces (runtime pods are found by it). */
  namePrefix: string;
  /** Prefix of the bench's temp folders in os.tmpdir(). */
  tempPrefix: string;
  /** Called on each temp folder before it is removed (e.g. to unmount what is left in it). */
  beforeRemovingTemp?: (dir: string) => void;
  progress: (line: string) => void;
}

/** Removes what killed earlier runs left; throws when a runtime pod or a Node cannot be removed. */
export async function removeBenchLeftovers(admin: HttpKubeClient, cri: CriClient, m: LeftoverMarks, signal: AbortSignal): Promise<void> {
  const names = async (kind: 'namespaces' | 'nodes'): Promise<string[]> => {
    const list = await admin.request<{ items?: { metadata?: { name?: string } }[] }>('GET', `/api/v1/${kind}`, { query: { labelSelector: m.label }, signal });
    return (list.items ?? []).map((i) => i.metadata?.name ?? '').filter(Boolean);
  };
  const namespaces = await names('namespaces');
  const nodes = await names('nodes');
  const runtime = await findNamespacePods(cri, (ns) => ns.startsWith(m.namePrefix), signal);
  if (namespaces.length + nodes.length + runtime.sandboxIds.length + runtime.containerIds.length > 0) {
    m.progress(`removing leftovers of an earlier run: namespaces ${namespaces.join(', ') || '-'}, nodes ${nodes.join(', ') || '-'}, ${runtime.sandboxIds.length} runtime pod(s)`);
  }
  const problems = await removeRuntimePods(cri, runtime, signal);
  if (problems.length > 0) throw new Error(`cannot remove leftover bench pods from the runtime: ${problems.slice(0, 3).join('; ')}`);
  for (const ns of namespaces) {
    await admin.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }, signal }).catch(() => undefined);
    await admin.request('DELETE', `/api/v1/namespaces/${ns}`, { signal }).catch(() => undefined);
  }
  for (const node of nodes) {
    const p = await deleteNodeObjects(admin, node, signal);
    if (p.length > 0) throw new Error(`cannot remove the leftover node ${node}: ${p.join('; ')}`);
  }
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(m.tempPrefix)) continue;
    m.beforeRemovingTemp?.(join(tmpdir(), name));
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** Removes the /var/log/containers links of a namespace's containers (the agents remove them with the pods; this catches the rest). */
export function removeContainerLogLinks(ns: string): void {
  let names: string[];
  try {
    names = readdirSync(CONTAINER_LOGS_DIR);
  } catch {
    return;
  }
  for (const n of names) if (n.includes(`_${ns}_`)) rmSync(join(CONTAINER_LOGS_DIR, n), { force: true });
}

const mountPoints = (): string[] => readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '));

/**
 * Unmounts what is mounted at or under `dir` (the upstream kubelet's root dir is a bind mount of
 * itself; secret and token tmpfs volumes of pods a stopped agent did not tear down), deepest
 * first, so that the folder can be removed. A stacked mount is unmounted until it is gone, lazily
 * when a plain unmount fails; `onFailure` hears of a mount that stays.
 */
export function unmountUnder(dir: string, onFailure: (mount: string) => void = () => {}): void {
  let mounts: string[];
  try {
    mounts = mountPoints().filter((m) => m === dir || m.startsWith(`${dir}/`));
  } catch {
    return;
  }
  for (const m of [...new Set(mounts)].sort((a, b) => b.length - a.length)) {
    for (let i = 0; i < 4; i++) {
      try {
        execFileSync('umount', [m], { stdio: 'ignore' });
      } catch {
        try {
          execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        } catch {
          onFailure(m);
          break;
        }
      }
      if (!mountPoints().includes(m)) break;
    }
  }
}

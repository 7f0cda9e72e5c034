// What the cluster benchmark asks of the API server as admin: the bench pods, a recording watch
// of the bench namespace's pods (when each pod was added, bound, first given a status by the
// kubelet, Running and Ready, deleted), the node's readiness, the API server's own request
// latencies (/metrics) and the removal of everything the bench created.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, isAbort } from '../../src/common/errors.ts';
import { encodeSubject, nodeClientSubject, parseCertificateRequest } from '../../src/certificate/csr.ts';
import { CSR_PATH, type CertificateSigningRequest } from '../../src/certificate/request.ts';
import { isGone, KubeApiError, type KubeClient } from '../../src/kube/client.ts';
import type { Pod, PodList } from '../../src/kube/types.ts';
import { BENCH_IMAGE } from './manifests.ts';

/** Label on the bench's namespace, pods and Node (value: the run id): leftovers are found by it. */
export const CLUSTER_BENCH_LABEL = 'tskubelet-cluster-bench';
export const LEASE_NAMESPACE = 'kube-node-lease';

/** How a burst's pods reach the node: spec.nodeName set by the bench, or the scheduler binding them. */
export type Variant = 'direct' | 'scheduler';

/**
 * The container's script: sleeps an hour but exits at once on SIGTERM (a shell as PID 1 ignores
 * SIGTERM unless trapped; `sleep &` + `wait` lets the trap run), so deletions take no grace period.
 */
export const SLEEP_SCRIPT = 'trap "exit 0" TERM; sleep 3600 & wait';

export const isApiNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;

/**
 * One bench pod: an ordinary pod (default service account, so the API adds the projected token
 * volume; default grace period and service links), one busybox container. `direct` sets
 * spec.nodeName (the scheduler is bypassed); `scheduler` pins it with a nodeSelector on
 * kubernetes.io/hostname.
 */
export function benchPod(name: string, variant: Variant, nodeName: string, runId: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { [CLUSTER_BENCH_LABEL]: runId, [`${CLUSTER_BENCH_LABEL}/variant`]: variant } },
    spec: {
      ...(variant === 'direct' ? { nodeName } : { nodeSelector: { 'kubernetes.io/hostname': nodeName } }),
      containers: [{ name: 'sleep', image: BENCH_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', SLEEP_SCRIPT] }],
    },
  };
}

/** Condition Ready True. */
const isReady = (pod: Pod): boolean => (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Phase Running and condition Ready True. */
export const isRunningAndReady = (pod: Pod): boolean =>
  pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** What the watch saw of one pod: arrival times of the first event of each kind (ms, the bench's clock). */
export interface PodWatchTimeline {
  name: string;
  uid: string;
  /** metadata.creationTimestamp (the API's, whole seconds). */
  creationTimestampMs: number;
  addedMs?: number;
  /** First event with spec.nodeName set (direct pods: the ADDED event). */
  boundMs?: number;
  /** First event with status.startTime: the kubelet's first status write. */
  firstKubeletStatusMs?: number;
  /** First event with a container in state terminated (the agent reported an exit). */
  terminatedMs?: number;
  runningReadyMs?: number;
  /** Every change of the Ready condition as the watch saw it (the first event sets the start value). */
  readyChanges: { ready: boolean; atMs: number }[];
  /** First event with metadata.deletionTimestamp. */
  deletionSeenMs?: number;
  deletedMs?: number;
  /** Set when the watch had to list again (410 Gone): times after that point are list times. */
  relisted: boolean;
}

export interface PodWatchDeps {
  client: KubeClient;
  namespace: string;
  /** The bench's clock (ms since the epoch). */
  now: () => number;
  /** Non-fatal watch trouble (retried), for the report's warnings. */
  warn: (msg: string) => void;
}

/** Server-side watch timeout, s: long, the bench resumes from the last resourceVersion anyway. */
const WATCH_TIMEOUT_S = 1800;
/** Pause before re-watching after a failure, ms. */
const WATCH_RETRY_MS = 500;

/**
 * A list+watch of the pods of one namespace that records, per pod name, when each kind of event
 * first arrived. start() resolves once the initial list is done and the watch is open; the
 * watch then runs (resuming after an end, listing again after 410 Gone) until stop().
 */
export class PodWatchRecorder {
  private readonly deps: PodWatchDeps;
  private readonly pods = new Map<string, PodWatchTimeline>();
  private readonly stopper = new AbortController();
  private resourceVersion = '';
  private loop: Promise<void> | null = null;
  /** Events received (all kinds), for the report. */
  events = 0;

  constructor(deps: PodWatchDeps) {
    this.deps = deps;
  }

  /** Lists, then starts watching in the background; resolves once listed. Rejects when the list fails. */
  async start(signal: AbortSignal): Promise<void> {
    await this.list(signal, false);
    this.loop = this.run();
  }

  /** The timeline of a pod by name, undefined until an event named it. */
  get(name: string): PodWatchTimeline | undefined {
    return this.pods.get(name);
  }

  /** Ends the watch; resolves once it has. */
  async stop(): Promise<void> {
    this.stopper.abort(new DOMException('stopping', 'AbortError'));
    await this.loop;
  }

  private async list(signal: AbortSignal, relist: boolean): Promise<void> {
    const list = await this.deps.client.request<PodList>('GET', `/api/v1/namespaces/${this.deps.namespace}/pods`, { signal });
    const now = this.deps.now();
    const names = new Set<string>();
    for (const pod of list.items ?? []) {
      names.add(pod.metadata?.name ?? '');
      this.record(relist ? 'MODIFIED' : 'ADDED', pod, now, relist);
    }
    if (relist) {
      for (const t of this.pods.values()) {
        if (!names.has(t.name) && t.deletedMs === undefined) {
          t.deletedMs = now;
          t.relisted = true;
        }
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      try {
        await this.deps.client.watch(
          `/api/v1/namespaces/${this.deps.namespace}/pods`,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_S },
          (type, object) => {
            const at = this.deps.now();
            this.events++;
            const pod = object as Pod;
            if (pod.metadata?.resourceVersion) this.resourceVersion = pod.metadata.resourceVersion;
            if (type !== 'BOOKMARK') this.record(type, pod, at, false);
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted || isAbort(err)) return;
        if (isGone(err)) {
          this.deps.warn('the bench\'s pod watch expired (410 Gone) and listed again: some times are list times');
          await this.list(signal, true).catch((e: unknown) => this.deps.warn(`listing pods again failed: ${errorMessage(e)}`));
          continue;
        }
        this.deps.warn(`the bench's pod watch failed and was resumed: ${errorMessage(err)}`);
        await sleep(WATCH_RETRY_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  private record(type: string, pod: Pod, at: number, relisted: boolean): void {
    const name = pod.metadata?.name ?? '';
    if (!name) return;
    let t = this.pods.get(name);
    const uid = pod.metadata?.uid ?? '';
    if (!t || (uid && t.uid !== uid)) {
      t = { name, uid, creationTimestampMs: Date.parse(String(pod.metadata?.creationTimestamp ?? '')), readyChanges: [], relisted: false };
      this.pods.set(name, t);
    }
    const before = JSON.stringify(t);
    if (type === 'DELETED') {
      t.deletedMs ??= at;
    } else {
      t.addedMs ??= at;
      if (pod.spec?.nodeName) t.boundMs ??= at;
      if (pod.status?.startTime) t.firstKubeletStatusMs ??= at;
      if (isRunningAndReady(pod)) t.runningReadyMs ??= at;
      const ready = isReady(pod);
      if (t.readyChanges.at(-1)?.ready !== ready) t.readyChanges.push({ ready, atMs: at });
      if (pod.metadata?.deletionTimestamp) t.deletionSeenMs ??= at;
      if ((pod.status?.containerStatuses ?? []).some((c) => c.state?.terminated)) t.terminatedMs ??= at;
    }
    // A time first set by a list after 410 Gone is the list's time, not the event's.
    if (relisted && JSON.stringify(t) !== before) t.relisted = true;
  }
}

/** A Node as the bench reads it. */
interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { taints?: { key: string; effect: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Polls the Node until its Ready condition is True and it has no NoSchedule/NoExecute taint (the
 * node lifecycle controller removes node.kubernetes.io/not-ready once it sees Ready; until then
 * the scheduler would not place pods). `alive` is checked between polls (throw to give up).
 */
export async function waitNodeSchedulable(client: KubeClient, nodeName: string, timeoutMs: number, alive: () => void, signal: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'not registered';
  for (;;) {
    signal.throwIfAborted();
    alive();
    const node = await client.request<NodeLike>('GET', `/api/v1/nodes/${nodeName}`, { signal }).catch((err: unknown) => {
      if (isApiNotFound(err)) return null;
      throw err;
    });
    if (node) {
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
      const taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
      if (ready === 'True' && taints.length === 0) return;
      last = `Ready=${ready}, taints ${taints.map((t) => `${t.key}:${t.effect}`).join(', ') || 'none'}`;
    }
    if (Date.now() > until) throw new Error(`node ${nodeName} was not Ready and schedulable within ${timeoutMs / 1000} s (${last})`);
    await sleep(250, undefined, { signal });
  }
}

/**
 * Polls until the namespace's default ServiceAccount and kube-root-ca.crt ConfigMap exist (the
 * controller-manager makes both; pods are refused, or their token volume cannot be filled, before).
 */
export async function waitNamespaceReady(client: KubeClient, ns: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const path of [`/api/v1/namespaces/${ns}/serviceaccounts/default`, `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`]) {
    for (;;) {
      const found = await client.request('GET', path, { signal }).then(() => true, (err: unknown) => {
        if (isApiNotFound(err)) return false;
        throw err;
      });
      if (found) break;
      if (Date.now() > until) throw new Error(`${path} did not appear within ${timeoutMs / 1000} s (is kube-controller-manager running?)`);
      await sleep(200, undefined, { signal });
    }
  }
}

/** A GET of a non-JSON path (e.g. /metrics) with the kubeconfig's credentials; resolves to the body. */
export async function getText(kubeconfigFile: string, path: string, signal: AbortSignal): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigFile);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`${kubeconfigFile} names no server`);
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return new Promise<string>((resolve, reject) => {
    const req = httpsRequest(new URL(path, server), { ...opts, method: 'GET', signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) !== 200) reject(new Error(`GET ${path}: ${res.statusCode}: ${text.slice(0, 200)}`));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Count and total seconds of one kind of API request, from apiserver_request_duration_seconds. */
export interface RequestDurations {
  count: number;
  sumS: number;
}

/**
 * Parses the API server's /metrics text: apiserver_request_duration_seconds _count and _sum per
 * "VERB resource[/subresource]" (summed over scopes and versions). Pure.
 */
export function parseRequestDurations(metrics: string): Map<string, RequestDurations> {
  const out = new Map<string, RequestDurations>();
  const re = /^apiserver_request_duration_seconds_(count|sum)\{([^}]*)\} (\S+)$/;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('apiserver_request_duration_seconds_')) continue;
    const m = re.exec(line);
    if (!m) continue;
    const labels = new Map<string, string>();
    for (const l of (m[2] as string).matchAll(/(\w+)="([^"]*)"/g)) labels.set(l[1] as string, l[2] as string);
    const resource = labels.get('resource') ?? '';
    const sub = labels.get('subresource') ?? '';
    const key = `${labels.get('verb') ?? '?'} ${resource}${sub ? `/${sub}` : ''}`;
    const e = out.get(key) ?? { count: 0, sumS: 0 };
    if (m[1] === 'count') e.count += Number(m[3]);
    else e.sumS += Number(m[3]);
    out.set(key, e);
  }
  return out;
}

/** One kind of request over a window: how many, and their mean server-side time (ms). */
export interface RequestStat {
  request: string; // "VERB resource[/subresource]"
  count: number;
  meanMs: number;
  totalMs: number;
}

/** after − before per kind (those that happened), largest total time first. Pure. */
export function diffRequestDurations(before: ReadonlyMap<string, RequestDurations>, after: ReadonlyMap<string, RequestDurations>): RequestStat[] {
  const out: RequestStat[] = [];
  for (const [key, a] of after) {
    if (key.startsWith('WATCH')) continue; // long-running: their "duration" is the watch's life
    const b = before.get(key) ?? { count: 0, sumS: 0 };
    const count = a.count - b.count;
    if (count <= 0) continue;
    const totalMs = (a.sumS - b.sumS) * 1000;
    out.push({ request: key, count, meanMs: totalMs / count, totalMs });
  }
  return out.sort((x, y) => y.totalMs - x.totalMs);
}

/** The CSRs whose request names this node (its bootstrap's and any rotation's). */
export async function nodeCsrNames(client: KubeClient, nodeName: string, signal?: AbortSignal): Promise<string[]> {
  const ours = encodeSubject(nodeClientSubject(nodeName));
  const list = await client.request<{ items?: CertificateSigningRequest[] }>('GET', CSR_PATH, { signal });
  const names: string[] = [];
  for (const csr of list.items ?? []) {
    try {
      if (parseCertificateRequest(Buffer.from(csr.spec?.request ?? '', 'base64').toString()).subject.equals(ours)) names.push(csr.metadata?.name ?? '');
    } catch {
      // not a CSR we can parse: not ours
    }
  }
  return names.filter(Boolean);
}

/**
 * Deletes a node's API objects: the Node, its Lease, its events in `default` and its CSRs.
 * NotFound counts as done. Resolves to the problems met (empty when all went).
 */
export async function deleteNodeObjects(client: KubeClient, nodeName: string, signal?: AbortSignal): Promise<string[]> {
  const problems: string[] = [];
  const del = async (what: string, path: string, query?: Record<string, string>): Promise<void> => {
    await client.request('DELETE', path, { query, signal }).catch((err: unknown) => {
      if (!isApiNotFound(err)) problems.push(`${what}: ${errorMessage(err)}`);
    });
  };
  await del('node', `/api/v1/nodes/${nodeName}`);
  await del('lease', `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${nodeName}`);
  await del('node events', '/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${nodeName}` });
  const csrs = await nodeCsrNames(client, nodeName, signal).catch((err: unknown) => {
    problems.push(`listing CSRs: ${errorMessage(err)}`);
    return [] as string[];
  });
  for (const name of csrs) await del(`csr ${name}`, `${CSR_PATH}/${name}`);
  return problems;
}

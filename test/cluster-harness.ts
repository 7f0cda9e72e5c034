// Cluster test harness: a real tskubelet joins the REAL control plane (npm run cluster:up) as a
// node and runs pods from the API server on the real containerd.
//
// A ClusterNode wraps the standalone Harness (child process, logs kept, /healthz, CRI client,
// kill9, static pods) with the flags of cluster mode: the bootstrap kubeconfig of .cluster/, and
// a kubeconfig and cert dir in a temp folder of its own, so each node does its own TLS bootstrap.
// Its node name is `ctest-<hex>`. It talks to the API server as admin (HttpKubeClient over
// .cluster/admin.kubeconfig, or kubectl).
//
// The scheduler may place a pod on ANY Ready node of the cluster: tests pin their pods to this
// node with spec.nodeName (bare pods) or a nodeSelector kubernetes.io/hostname (Deployments).
//
// Cleanup (always, even when the test failed): each test's namespace is deleted and the harness
// waits until the kubelet has stopped and removed its pods (gone from the API and the runtime);
// what is left then is force-deleted (and reported as a failure). At the end the kubelet is
// stopped (Harness.cleanup), the runtime leftovers of the test namespaces are removed by CRI,
// and the Node, its Lease, its CSRs and its events are deleted; the temp folders are removed.
//
// TSKUBELET_TEST_LOG_DIR=<folder>: every kubelet log line of a node is also written there, as
// <node>.log, at cleanup (the log tail is printed on failure anyway).
//
// Any tskubelet removes the runtime pods it does not know, whatever their node: before starting,
// the harness waits until no other tskubelet (`src/main.ts`) runs on this machine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../src/common/errors.ts';
import { encodeSubject, nodeClientSubject, parseCertificateRequest } from '../src/certificate/csr.ts';
import { CSR_PATH, type CertificateSigningRequest } from '../src/certificate/request.ts';
import { HttpKubeClient, KubeApiError, type WatchEventType } from '../src/kube/client.ts';
import type { Pod, PodList } from '../src/kube/types.ts';
import type { Lease, Node } from '../src/node/types.ts';
import { LABEL_POD_NAMESPACE } from '../src/kuberuntime/labels.ts';
import { BUSYBOX_IMAGE, Harness, POLL_MS, assertNodeReady, newCriClient, poll, summarizePods, type RuntimePod } from './harness.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLUSTER_DIR = path.join(REPO_ROOT, '.cluster');
export const ADMIN_KUBECONFIG = path.join(CLUSTER_DIR, 'admin.kubeconfig');
export const BOOTSTRAP_KUBECONFIG = path.join(CLUSTER_DIR, 'bootstrap.kubeconfig');
export const KUBECTL = path.join(CLUSTER_DIR, 'bin', 'kubectl');
/** The failure hint when the control plane is not there. */
export const CLUSTER_HINT = 'run npm run cluster:up (it starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on 127.0.0.1)';
/** Where scripts/cluster.sh keeps the components' pid files (scripts/cluster/lib.sh PID_DIR). */
export const CLUSTER_PID_DIR = '/var/lib/tskubelet-cluster/pids';
export const LEASE_NAMESPACE = 'kube-node-lease';
/** The cluster CA (scripts/cluster/lib.sh PKI_DIR): it signs the API server's kubelet client certificate. */
export const CLUSTER_CA_FILE = '/var/lib/tskubelet-cluster/pki/ca.crt';

/** TLS bootstrap plus registration, on a loaded 2-core machine (normally 1-3 s), ms. */
const JOIN_TIMEOUT_MS = 60_000;
/** How long a test namespace's pods may take to be stopped and deleted by the kubelet, ms. */
const NAMESPACE_CLEANUP_TIMEOUT_MS = 60_000;
/** How long start() waits for another engineer's tskubelet to finish, ms. */
const OTHER_KUBELET_WAIT_MS = 10 * 60_000;
/** `scripts/cluster.sh up` when only the API server is missing: its start-up is 10-40 s. */
const CLUSTER_UP_TIMEOUT_MS = 180_000;
/** kube-apiserver's graceful shutdown can wait ~30 s for open requests; the outage needs no grace. */
const APISERVER_KILL_AFTER_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const isApiNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;

/** Runs a command; resolves to stdout; rejects with stderr in the message. */
function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** kubectl with the admin kubeconfig; resolves to its stdout. */
export function kubectl(args: string[], timeoutMs = 60_000): Promise<string> {
  return run(KUBECTL, ['--kubeconfig', ADMIN_KUBECONFIG, ...args], timeoutMs);
}

/**
 * Fails (never skips) with CLUSTER_HINT unless .cluster/ has the kubeconfigs and kubectl and the
 * API server answers; resolves to an admin client (close it when done).
 */
export async function assertClusterUp(): Promise<HttpKubeClient> {
  for (const file of [ADMIN_KUBECONFIG, BOOTSTRAP_KUBECONFIG, KUBECTL]) {
    try {
      await access(file);
    } catch {
      assert.fail(`${file} is missing: ${CLUSTER_HINT}`);
    }
  }
  const admin = await HttpKubeClient.fromKubeconfigFile(ADMIN_KUBECONFIG);
  try {
    await admin.request('GET', '/version', { timeoutMs: 5_000 });
  } catch (err) {
    admin.close();
    assert.fail(`the API server at ${admin.server} does not answer (${errorMessage(err)}): ${CLUSTER_HINT}`);
  }
  return admin;
}

/** `pgrep -af src/main.ts` lines of tskubelets running on this machine. */
export async function runningKubelets(): Promise<string[]> {
  try {
    return (await run('pgrep', ['-af', 'src/main.ts'], 5_000)).split('\n').filter((l) => l.trim() !== '');
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/**
 * Waits until no tskubelet other than `ownNode`'s runs (each one removes the runtime pods it does
 * not know). Throws after `timeoutMs` with the processes still running.
 */
export async function waitForNoOtherKubelet(ownNode: string, timeoutMs = OTHER_KUBELET_WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reported = false;
  for (;;) {
    const others = (await runningKubelets()).filter((l) => !l.includes(`--hostname-override ${ownNode} `));
    if (others.length === 0) return;
    if (Date.now() > deadline) throw new Error(`another tskubelet still runs on this machine after ${timeoutMs} ms:\n${others.join('\n')}`);
    if (!reported) {
      process.stderr.write(`# waiting for another tskubelet to finish before starting ${ownNode}:\n# ${others.join('\n# ')}\n`);
      reported = true;
    }
    await sleep(1_000);
  }
}

// --- the control plane's processes (fault tests) ------------------------------------------------

/** A control-plane component that scripts/cluster.sh runs (and keeps a pid file of). */
export type ClusterComponent = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

/** The pid of a running component, from scripts/cluster.sh's pid file (checked against /proc). */
export async function componentPid(name: ClusterComponent): Promise<number> {
  const pid = Number.parseInt((await readFile(path.join(CLUSTER_PID_DIR, `${name}.pid`), 'utf8').catch(() => '')).trim(), 10);
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!Number.isInteger(pid) || path.basename(cmd.split('\0')[0] ?? '') !== name) {
    throw new Error(`${CLUSTER_PID_DIR}/${name}.pid names pid ${pid}, which is not a running ${name}: ${CLUSTER_HINT}`);
  }
  return pid;
}

/** The pid of the running kube-apiserver. */
export const apiServerPid = (): Promise<number> => componentPid('kube-apiserver');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Stops ONLY kube-apiserver: SIGTERM, and resolves once it no longer accepts connections (it
 * closes its listener at once). `exited` resolves when its process is gone: its graceful
 * shutdown may hang on open requests, so it gets SIGKILL after APISERVER_KILL_AFTER_MS. etcd,
 * the controller-manager and the scheduler keep running. Await `exited` before clusterUp().
 */
export async function stopApiServer(): Promise<{ pid: number; exited: Promise<void> }> {
  const pid = await apiServerPid();
  const client = await HttpKubeClient.fromKubeconfigFile(ADMIN_KUBECONFIG);
  client.close();
  const port = Number(new URL(client.server).port || 443);
  const exited = terminate(pid, APISERVER_KILL_AFTER_MS);
  while (alive(pid) && (await listening(port))) await sleep(100);
  return { pid, exited };
}

/** SIGTERM, then SIGKILL after `killAfterMs`; resolves once the process is gone. */
async function terminate(pid: number, killAfterMs: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const killAt = Date.now() + killAfterMs;
  while (alive(pid)) {
    if (Date.now() > killAt) process.kill(pid, 'SIGKILL');
    await sleep(100);
  }
}

/**
 * Restarts kube-controller-manager and kube-scheduler (stop, then clusterUp). After an API-server
 * outage their informers resume only after their watch back-off (up to a minute): CSRs are not
 * approved and pods not scheduled meanwhile. A fault test calls this so the next tests find a
 * working control plane at once.
 */
export async function restartControllers(): Promise<void> {
  for (const name of ['kube-controller-manager', 'kube-scheduler'] as const) {
    const pid = await componentPid(name).catch(() => 0);
    if (pid) await terminate(pid, 10_000);
  }
  await clusterUp();
}

/** `bash scripts/cluster.sh up`: starts what of the control plane is missing; resolves when it is healthy. */
export async function clusterUp(): Promise<void> {
  await run('bash', [path.join(REPO_ROOT, 'scripts', 'cluster.sh'), 'up'], CLUSTER_UP_TIMEOUT_MS);
}

// --- objects --------------------------------------------------------------------------------------

/** A core/v1 Event as the API returns it (only the fields tests read). */
export interface ApiEvent {
  metadata?: { name?: string; namespace?: string };
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

/** The component that reported an event, as `kubectl describe` shows it in "From". */
export const eventFrom = (e: ApiEvent): string => e.source?.component || e.reportingComponent || '';

/** A condition's status of a pod ('True', 'False', 'Unknown' or undefined). */
export const podCondition = (pod: Pod | undefined, type: string): string | undefined => pod?.status?.conditions?.find((c) => c.type === type)?.status;

/** Phase Running, condition Ready True and every container ready. */
export const isRunningAndReady = (pod: Pod | undefined): boolean =>
  pod?.status?.phase === 'Running' &&
  podCondition(pod, 'Ready') === 'True' &&
  (pod.status.containerStatuses ?? []).length === (pod.spec?.containers ?? []).length &&
  (pod.status.containerStatuses ?? []).every((s) => s.ready);

/** A node condition's status. */
export const nodeCondition = (node: Node | undefined, type: string): string | undefined => node?.status?.conditions?.find((c) => c.type === type)?.status;

/** One busybox container (IfNotPresent from the local registry) running `sh -c script`. */
export function busybox(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], ...extra };
}

/** One event of a pod watch, with the time it arrived (ms since the epoch). */
export interface PodWatchEvent {
  type: WatchEventType;
  pod: Pod;
  atMs: number;
}

/** A running watch of a namespace's pods (stop() ends it). */
export interface PodWatch {
  readonly events: PodWatchEvent[];
  stop(): Promise<void>;
}

export interface ClusterNodeOptions {
  /** Extra tskubelet flags, after the cluster ones. */
  extraArgs?: string[];
}

export class ClusterNode {
  readonly harness: Harness;
  readonly admin: HttpKubeClient;
  readonly nodeName: string;
  /** Temp folder of the node's kubeconfig and cert dir. */
  readonly workDir: string;
  readonly kubeconfigPath: string;
  readonly certDir: string;
  /** Namespaces created by createNamespace and not yet deleted. */
  private readonly namespaces = new Set<string>();
  /** Every namespace ever created here (runtime leftovers are searched by these). */
  private readonly allNamespaces = new Set<string>();
  private lastPods: Pod[] = [];
  /** When the last start() spawned tskubelet (after waiting for other tskubelets), ms since the epoch. */
  startedAt = 0;

  private constructor(harness: Harness, admin: HttpKubeClient, workDir: string) {
    this.harness = harness;
    this.admin = admin;
    this.nodeName = harness.nodeName;
    this.workDir = workDir;
    this.kubeconfigPath = path.join(workDir, 'kubelet.kubeconfig');
    this.certDir = path.join(workDir, 'pki');
  }

  /**
   * Checks containerd and the control plane (failing with a hint, never skipping), and prepares
   * a node: temp folders, node name, ports. Does not start tskubelet.
   */
  static async create(opts: ClusterNodeOptions = {}): Promise<ClusterNode> {
    await assertNodeReady();
    const admin = await assertClusterUp();
    const workDir = await mkdtemp(path.join(tmpdir(), 'tskubelet-ctest-'));
    const harness = await Harness.create({
      nodeNamePrefix: 'ctest',
      extraArgs: [
        '--bootstrap-kubeconfig', BOOTSTRAP_KUBECONFIG,
        '--kubeconfig', path.join(workDir, 'kubelet.kubeconfig'),
        '--cert-dir', path.join(workDir, 'pki'),
        // The API server reaches the kubelet API on the node's address, with a client certificate of the cluster CA.
        '--address', '0.0.0.0',
        '--client-ca-file', CLUSTER_CA_FILE,
        ...(opts.extraArgs ?? []),
      ],
    });
    return new ClusterNode(harness, admin, workDir);
  }

  /**
   * Starts tskubelet (after waiting until no other tskubelet runs) and resolves once it is up
   * and its Node object exists. Use it for restarts too (after kill9 or stop).
   */
  async start(): Promise<void> {
    await waitForNoOtherKubelet(this.nodeName);
    this.startedAt = Date.now();
    await this.harness.start();
    await poll(
      () => this.getNode(),
      JOIN_TIMEOUT_MS,
      `node ${this.nodeName} to register`,
      () => this.harness.logTail(40),
    );
  }

  /** The Node, or undefined when it does not exist. */
  async getNode(): Promise<Node | undefined> {
    return this.admin.request<Node>('GET', `/api/v1/nodes/${this.nodeName}`).catch((err: unknown) => {
      if (isApiNotFound(err)) return undefined;
      throw err;
    });
  }

  /** The node's Lease in kube-node-lease, or undefined. */
  async getLease(): Promise<Lease | undefined> {
    return this.admin.request<Lease>('GET', `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${this.nodeName}`).catch((err: unknown) => {
      if (isApiNotFound(err)) return undefined;
      throw err;
    });
  }

  /** Waits until the Node's Ready condition is True; resolves to the Node. */
  waitForNodeReady(timeoutMs = JOIN_TIMEOUT_MS): Promise<Node> {
    let last: Node | undefined;
    return poll(
      async () => {
        last = await this.getNode();
        return nodeCondition(last, 'Ready') === 'True' ? last : undefined;
      },
      timeoutMs,
      `node ${this.nodeName} to be Ready`,
      () => `last node conditions: ${JSON.stringify(last?.status?.conditions ?? null)}\n${this.harness.logTail(40)}`,
    );
  }

  /**
   * Creates a namespace `<prefix>-<hex>` and waits for its default ServiceAccount (pods cannot be
   * created before it exists). It is deleted by deleteNamespace or at cleanup.
   */
  async createNamespace(prefix: string): Promise<string> {
    const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'tskubelet.test/node': this.nodeName } } } });
    this.namespaces.add(ns);
    this.allNamespaces.add(ns);
    await poll(() => this.admin.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`).then(() => true), 30_000, `the default ServiceAccount of ${ns}`);
    return ns;
  }

  /**
   * Deletes a namespace and waits until the kubelet has stopped its pods and removed them from
   * the API server and the runtime (starting the kubelet if it does not run). Throws, after
   * force-deleting what is left, when that takes longer than 60 s.
   */
  async deleteNamespace(ns: string): Promise<void> {
    this.namespaces.delete(ns);
    await this.admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch((err: unknown) => {
      if (!isApiNotFound(err)) throw err;
    });
    // The namespace controller deletes the pods too, but after an API-server restart its
    // informers may take minutes to notice; deleting them here (gracefully) does not depend on it.
    // The namespace is Terminating already: controllers cannot create new pods in it.
    await this.admin.request('DELETE', `/api/v1/namespaces/${ns}/pods`).catch((err: unknown) => {
      if (!isApiNotFound(err)) throw err;
    });
    if (!this.harness.running) await this.start();
    try {
      await poll(
        async () => {
          const pods = await this.listPods(ns);
          if (pods.length > 0) return false;
          const left = await this.runtimeOfNamespace(ns);
          return left.sandboxes.length === 0 && left.containers.length === 0;
        },
        NAMESPACE_CLEANUP_TIMEOUT_MS,
        `the pods of namespace ${ns} to be stopped and deleted by the kubelet`,
        () => `last pods: ${summarizePods(this.lastPods)}\n${this.harness.logTail(40)}`,
      );
    } catch (err) {
      for (const pod of await this.listPods(ns).catch(() => [] as Pod[])) {
        await this.admin.request('DELETE', `/api/v1/namespaces/${ns}/pods/${pod.metadata?.name}`, { body: { gracePeriodSeconds: 0 } }).catch(() => undefined);
      }
      throw err;
    }
  }

  /** The pod spec pinned to this node (spec.nodeName: the scheduler is bypassed). */
  pinned(spec: Record<string, unknown>): Record<string, unknown> {
    return { nodeName: this.nodeName, ...spec };
  }

  /** A nodeSelector for this node, for controllers' pod templates (the scheduler places them). */
  nodeSelector(): Record<string, string> {
    return { 'kubernetes.io/hostname': this.nodeName };
  }

  /** Creates a bare pod bound to this node: `spec` is merged over { nodeName }. */
  createPod(ns: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Promise<Pod> {
    return this.admin.request<Pod>('POST', `/api/v1/namespaces/${ns}/pods`, {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: this.pinned(spec) },
    });
  }

  /** A pod by name, or undefined when it does not exist. */
  async getPod(ns: string, name: string): Promise<Pod | undefined> {
    return this.admin.request<Pod>('GET', `/api/v1/namespaces/${ns}/pods/${name}`).catch((err: unknown) => {
      if (isApiNotFound(err)) return undefined;
      throw err;
    });
  }

  /** The pods of a namespace (optionally by label selector); remembered for timeout messages. */
  async listPods(ns: string, labelSelector?: string): Promise<Pod[]> {
    const list = await this.admin.request<PodList>('GET', `/api/v1/namespaces/${ns}/pods`, { query: { labelSelector } });
    this.lastPods = list.items ?? [];
    return this.lastPods;
  }

  /**
   * Polls the namespace's pods until `check` returns a value other than undefined/null/false and
   * resolves to it. Throws after `timeoutMs` with the last pods and the kubelet's log tail, or at
   * once when the kubelet process exits or an assertion in `check` fails.
   */
  async waitForPods<T>(ns: string, check: (pods: Pod[]) => T | undefined | null | false, timeoutMs: number, description: string, labelSelector?: string): Promise<T> {
    return poll(
      async () => {
        if (!this.harness.running) throw new assert.AssertionError({ message: `tskubelet is not running while waiting for: ${description}\n${this.harness.logTail()}` });
        return check(await this.listPods(ns, labelSelector));
      },
      timeoutMs,
      description,
      () => `last pods of ${ns}: ${summarizePods(this.lastPods)}\n${this.harness.logTail(60)}`,
    );
  }

  /**
   * Polls `check` until it resolves to a value other than undefined/null/false and resolves to
   * it; like waitForPods, but for any condition (events, runtime state, ...).
   */
  until<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, description: string): Promise<T> {
    return poll(
      () => {
        if (!this.harness.running) throw new assert.AssertionError({ message: `tskubelet is not running while waiting for: ${description}\n${this.harness.logTail()}` });
        return check();
      },
      timeoutMs,
      description,
      () => this.harness.logTail(60),
    );
  }

  /** Waits until the pod `name` satisfies `predicate`; resolves to it. */
  waitForPod(ns: string, name: string, predicate: (pod: Pod) => boolean, timeoutMs: number, description: string): Promise<Pod> {
    return this.waitForPods(ns, (pods) => pods.find((p) => p.metadata?.name === name && predicate(p)), timeoutMs, `pod ${ns}/${name}: ${description}`);
  }

  /** Waits until no pod named `name` with UID `uid` exists in the API. */
  async waitForPodGone(ns: string, name: string, uid: string, timeoutMs: number): Promise<void> {
    await this.waitForPods(ns, (pods) => !pods.some((p) => p.metadata?.name === name && p.metadata.uid === uid), timeoutMs, `pod ${ns}/${name} (${uid}) to be deleted from the API`);
  }

  /** The core/v1 events of a namespace (optionally of one object by UID). */
  async events(ns: string, uid?: string): Promise<ApiEvent[]> {
    const list = await this.admin.request<{ items?: ApiEvent[] }>('GET', `/api/v1/namespaces/${ns}/events`, {
      query: { fieldSelector: uid ? `involvedObject.uid=${uid}` : undefined },
    });
    return list.items ?? [];
  }

  /**
   * Starts watching a namespace's pods from now (after a list); every event is recorded with its
   * arrival time. The watch is not restarted when the server ends it (tests are short).
   */
  async watchPods(ns: string): Promise<PodWatch> {
    const list = await this.admin.request<PodList>('GET', `/api/v1/namespaces/${ns}/pods`);
    const events: PodWatchEvent[] = [];
    const ctrl = new AbortController();
    const running = this.admin
      .watch(`/api/v1/namespaces/${ns}/pods`, { resourceVersion: list.metadata?.resourceVersion, timeoutSeconds: 600 }, (type, object) => {
        events.push({ type, pod: object as Pod, atMs: Date.now() });
      }, ctrl.signal)
      .catch(() => undefined);
    return {
      events,
      stop: async () => {
        ctrl.abort();
        await running;
      },
    };
  }

  /** A pod's sandboxes and containers in the runtime, by UID. */
  runtimePod(uid: string): Promise<RuntimePod> {
    return this.harness.runtimePod(uid);
  }

  /** The runtime's sandboxes and containers of a namespace's pods. */
  async runtimeOfNamespace(ns: string): Promise<{ sandboxes: { id: string }[]; containers: { id: string }[] }> {
    const selector = { label_selector: { [LABEL_POD_NAMESPACE]: ns } };
    const [sandboxes, containers] = await Promise.all([this.harness.cri.listPodSandbox(selector), this.harness.cri.listContainers(selector)]);
    return { sandboxes, containers };
  }

  /** The last log lines of every kubelet process of this node. */
  logTail(lines?: number): string {
    return this.harness.logTail(lines);
  }

  /**
   * Runs one test in a fresh namespace `<prefix>-<hex>`, then deletes the namespace and waits
   * until its pods are gone (see deleteNamespace). On failure, prints the kubelet's log tail
   * and rethrows; a cleanup failure fails a passing test.
   */
  async inNamespace(t: TestContext, prefix: string, body: (ns: string) => Promise<void>): Promise<void> {
    const ns = await this.createNamespace(prefix);
    let failed = false;
    try {
      await body(ns);
    } catch (err) {
      failed = true;
      // Another tskubelet removes our pods as orphans (and we remove its pods): say so.
      const others = (await runningKubelets()).filter((l) => !l.includes(`--hostname-override ${this.nodeName} `));
      const note = others.length ? `\n### NOTE: another tskubelet runs on this machine now (it removes pods it does not know):\n### ${others.join('\n### ')}` : '';
      process.stderr.write(`\n### ${t.name} failed (namespace ${ns}); ${this.harness.logTail()}${note}\n`);
      throw err;
    } finally {
      try {
        await this.deleteNamespace(ns);
      } catch (err) {
        if (!failed) throw err;
        process.stderr.write(`### also: ${errorMessage(err)}\n`);
      }
    }
  }

  /**
   * Always call it (an `after` hook): deletes the namespaces left, stops tskubelet and cleans its
   * runtime state (Harness.cleanup), removes the runtime leftovers of the test namespaces, and
   * deletes the Node, its Lease, its CSRs and its events; removes the temp folders. Throws,
   * after doing all that, when something was left behind.
   */
  async cleanup(): Promise<void> {
    const problems: string[] = [];
    const keepLogs = process.env['TSKUBELET_TEST_LOG_DIR'];
    for (const ns of [...this.namespaces]) {
      await this.deleteNamespace(ns).catch((err: unknown) => problems.push(`namespace ${ns}: ${errorMessage(err)}`));
    }
    try {
      await this.harness.cleanup();
    } catch (err) {
      problems.push(errorMessage(err));
      await this.unmountLeftovers().catch((e: unknown) => problems.push(`unmounting leftovers: ${errorMessage(e)}`));
    }
    // The kubelet is stopped: whatever of the test namespaces is still in the runtime, remove by CRI.
    const cri = newCriClient();
    try {
      for (const ns of this.allNamespaces) {
        const selector = { label_selector: { [LABEL_POD_NAMESPACE]: ns } };
        const containers = await cri.listContainers(selector).catch(() => []);
        const sandboxes = await cri.listPodSandbox(selector).catch(() => []);
        if (containers.length + sandboxes.length > 0) problems.push(`namespace ${ns} left ${sandboxes.length} sandboxes and ${containers.length} containers in the runtime`);
        for (const c of containers) await cri.removeContainer(c.id).catch(() => undefined);
        for (const s of sandboxes) {
          await cri.stopPodSandbox(s.id).catch(() => undefined);
          await cri.removePodSandbox(s.id).catch(() => undefined);
        }
      }
    } finally {
      cri.close();
    }
    const del = async (what: string, p: string, query?: Record<string, string>): Promise<void> => {
      await this.admin.request('DELETE', p, { query }).catch((err: unknown) => {
        if (!isApiNotFound(err)) problems.push(`${what}: ${errorMessage(err)}`);
      });
    };
    await del('lease', `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${this.nodeName}`);
    await del('node', `/api/v1/nodes/${this.nodeName}`);
    await del('node events', '/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${this.nodeName}` });
    for (const name of await this.csrNames().catch(() => [] as string[])) await del(`csr ${name}`, `${CSR_PATH}/${name}`);
    this.admin.close();
    if (keepLogs) {
      const file = path.join(keepLogs, `${this.nodeName}.log`);
      await writeFile(file, `${this.harness.logLines.join('\n')}\n`).catch((err: unknown) => problems.push(`writing ${file}: ${errorMessage(err)}`));
    }
    await rm(this.workDir, { recursive: true, force: true }).catch((err: unknown) => problems.push(`removing ${this.workDir}: ${errorMessage(err)}`));
    if (problems.length > 0) throw new Error(`cleanup of node ${this.nodeName}: ${problems.join('; ')}`);
  }

  /**
   * Last resort after a failed cleanup: unmounts what is still mounted under the node's temp
   * folder (tmpfs of secret and projected volumes the kubelet had no time to tear down) and
   * removes the folder.
   */
  private async unmountLeftovers(): Promise<void> {
    const base = path.dirname(this.harness.rootDir);
    // mountinfo field 5 is the mount point (octal escapes for spaces, none in our paths).
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${base}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run('umount', ['-l', m], 10_000).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  }

  /** The CSRs whose request names this node (the bootstrap's and any rotation's). */
  async csrNames(): Promise<string[]> {
    const ours = encodeSubject(nodeClientSubject(this.nodeName));
    const list = await this.admin.request<{ items?: CertificateSigningRequest[] }>('GET', CSR_PATH);
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
}

/** Polls every POLL_MS; re-exported for tests that only import this module. */
export { POLL_MS, poll, summarizePods };

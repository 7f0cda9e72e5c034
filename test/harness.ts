// Integration test harness: runs a real tskubelet process against the real containerd.
//
// Each Harness owns a temporary manifest folder, a temporary --root-dir, a unique node name
// (itest-<hex>, so its static pods are named `<name>-itest-<hex>`) and two free ports. It keeps
// every stderr line of every kubelet process it started (printed on failure), talks to /pods
// and /healthz, and reads the runtime directly through the CRI client.
//
// Cleanup (always, even when the test failed): the manifests are removed and the harness waits
// until the runtime has nothing left of this node's pods; whatever is still there after that is
// removed through CRI directly (and reported as a failure); the kubelet is stopped, the temp
// folders are removed. Pods the kubelet does not know are orphans: any tskubelet removes them,
// whatever their node name, so the tests must run one file at a time (--test-concurrency=1).
import { AssertionError } from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CriClient } from '../src/cri/client.ts';
import type { Container as CriContainer, ContainerStatus as CriContainerStatus, PodSandbox } from '../src/cri/types.ts';
import { errorMessage, isNotFound } from '../src/common/errors.ts';
import type { Pod, PodList } from '../src/kube/types.ts';

export const RUNTIME_ENDPOINT = 'unix:///run/containerd/containerd.sock';
export const BUSYBOX_IMAGE = '127.0.0.1:5000/busybox:1.36';
export const POD_LOGS_DIR = '/var/log/pods';
export const CONTAINER_LOGS_DIR = '/var/log/containers';
import { ANNOTATION_RESTART_COUNT, LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_UID } from '../src/kuberuntime/labels.ts';
export { ANNOTATION_RESTART_COUNT, LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_UID };

/**
 * A shell command line that runs until SIGTERM and then exits 0 at once (`wait` is interrupted
 * by the trapped signal). Use it for long-running containers: a plain `sleep` loop as PID 1
 * ignores SIGTERM and would hold every stop for the whole grace period.
 */
export const SLEEP_UNTIL_TERM = "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done";

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const KUBELET_BIN = path.join(REPO_ROOT, 'bin', 'tskubelet');
/** Poll period of waitFor/poll (ms): often enough for second-scale assertions, light on 2 cores. */
export const POLL_MS = 150;
/** How long a kubelet may take to start (servers up, sources running), ms. */
const START_TIMEOUT_MS = 20_000;
/** How long SIGTERM may take before the harness sends SIGKILL, ms. */
const STOP_TIMEOUT_MS = 10_000;
/** How long cleanup waits for the kubelet to remove this node's pods, ms. */
const CLEANUP_TIMEOUT_MS = 40_000;
/** Log lines printed when a test fails. */
const LOG_TAIL_LINES = 80;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Live children of this test process: killed on exit, whatever happens. */
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Resolves to a TCP port that was free on 127.0.0.1 a moment ago (listen on 0, then close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/**
 * Calls `check` every POLL_MS until it resolves to a value other than undefined/null/false, and
 * resolves to that value. A rejection counts as "not yet", except a failed assertion, which
 * fails at once. After `timeoutMs`, throws with `description`, the last error and `detail()`.
 */
export async function poll<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  description: string,
  detail: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = '';
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      lastError = errorMessage(err);
    }
    if (Date.now() > deadline) {
      const extra = detail();
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${description}${lastError ? `\nlast error: ${lastError}` : ''}${extra ? `\n${extra}` : ''}`);
    }
    await sleep(POLL_MS);
  }
}

/** A CRI client for tests (close it when done). */
export function newCriClient(): CriClient {
  return new CriClient({ runtimeEndpoint: RUNTIME_ENDPOINT, requestTimeoutMs: 30_000 });
}

/**
 * Fails (throws) unless containerd answers on RUNTIME_ENDPOINT and has the busybox image.
 * Call it in a `before` hook of every integration test file: these tests must fail, not skip,
 * on a machine that is not set up.
 */
export async function assertNodeReady(): Promise<void> {
  const hint = "run 'npm run setup' as root (it installs and starts containerd and the local registry with the test images)";
  let cri: CriClient;
  try {
    cri = newCriClient();
  } catch (err) {
    throw new Error(`integration tests need the CRI client: ${errorMessage(err)}; ${hint}`, { cause: err });
  }
  try {
    try {
      await cri.version(AbortSignal.timeout(3_000));
    } catch (err) {
      throw new Error(`containerd does not answer on ${RUNTIME_ENDPOINT}: ${errorMessage(err)}; ${hint}`, { cause: err });
    }
    let image;
    try {
      image = await cri.imageStatus(BUSYBOX_IMAGE, AbortSignal.timeout(5_000));
    } catch (err) {
      throw new Error(`cannot ask containerd for ${BUSYBOX_IMAGE}: ${errorMessage(err)}; ${hint}`, { cause: err });
    }
    if (!image) {
      // The kubelet pulls IfNotPresent; the image must at least be pullable from the local registry.
      try {
        await cri.pullImage(BUSYBOX_IMAGE, undefined, undefined, AbortSignal.timeout(60_000));
      } catch (err) {
        throw new Error(`containerd does not have ${BUSYBOX_IMAGE} and cannot pull it: ${errorMessage(err)}; ${hint}`, { cause: err });
      }
    }
  } finally {
    cri.close();
  }
}

/** One container attempt as the runtime reports it, times in ms since the epoch (ns precision kept as fractions). */
export interface RuntimeContainer {
  id: string;
  name: string;
  sandboxId: string;
  state: CriContainerStatus['state'];
  attempt: number;
  restartCount: number;
  createdAtMs: number;
  startedAtMs: number;
  finishedAtMs: number;
  exitCode: number;
  reason: string;
}

export interface RuntimePod {
  sandboxes: PodSandbox[];
  containers: RuntimeContainer[];
}

function toRuntimeContainer(c: CriContainer, s: CriContainerStatus): RuntimeContainer {
  return {
    id: s.id,
    name: s.labels[LABEL_CONTAINER_NAME] ?? s.metadata?.name ?? '',
    sandboxId: c.pod_sandbox_id,
    state: s.state,
    attempt: s.metadata?.attempt ?? 0,
    restartCount: Number.parseInt(s.annotations[ANNOTATION_RESTART_COUNT] ?? '0', 10) || 0,
    createdAtMs: s.created_at / 1e6,
    startedAtMs: s.started_at / 1e6,
    finishedAtMs: s.finished_at / 1e6,
    exitCode: s.exit_code,
    reason: s.reason,
  };
}

/** A pod's sandboxes and containers in the runtime, selected by its UID label. */
export async function runtimePod(cri: CriClient, uid: string): Promise<RuntimePod> {
  const selector = { label_selector: { [LABEL_POD_UID]: uid } };
  const [sandboxes, list] = await Promise.all([cri.listPodSandbox(selector), cri.listContainers(selector)]);
  const containers: RuntimeContainer[] = [];
  for (const c of list) {
    try {
      containers.push(toRuntimeContainer(c, await cri.containerStatus(c.id)));
    } catch (err) {
      if (!isNotFound(err)) throw err; // removed between list and status
    }
  }
  containers.sort((a, b) => a.createdAtMs - b.createdAtMs);
  return { sandboxes, containers };
}

/** A compact view of pods for error messages: phase and each container's state. */
export function summarizePods(pods: Pod[]): string {
  const view = pods.map((p) => ({
    name: p.metadata?.name,
    uid: p.metadata?.uid,
    phase: p.status?.phase,
    conditions: Object.fromEntries((p.status?.conditions ?? []).map((c) => [c.type, c.status])),
    init: (p.status?.initContainerStatuses ?? []).map((s) => ({ name: s.name, restartCount: s.restartCount, state: s.state, lastState: s.lastState })),
    containers: (p.status?.containerStatuses ?? []).map((s) => ({ name: s.name, restartCount: s.restartCount, state: s.state, lastState: s.lastState })),
  }));
  return JSON.stringify(view, null, 1);
}

/** The container ID of a status (`containerd://<id>` -> `<id>`). */
export function containerIdOf(containerID: string | undefined): string {
  return (containerID ?? '').replace(/^[a-z]+:\/\//, '');
}

/** A parsed JSON log line of tskubelet (pino). */
export type LogRecord = Record<string, unknown> & { level?: number; msg?: string; time?: string };

export interface HarnessOptions {
  /** Extra flags for tskubelet, after the standard ones. */
  extraArgs?: string[];
  /** Node name prefix (default 'itest'): the node is named `<prefix>-<8 hex>`. */
  nodeNamePrefix?: string;
}

export class Harness {
  readonly nodeName: string;
  readonly manifestDir: string;
  readonly rootDir: string;
  readonly readOnlyPort: number;
  readonly healthzPort: number;
  /** The kubelet API's HTTPS port (--port). */
  readonly kubeletPort: number;
  readonly cri: CriClient;
  /** Every stderr/stdout line of every kubelet process, in order, prefixed with the process number. */
  readonly logLines: string[] = [];
  private readonly baseDir: string;
  private readonly extraArgs: string[];
  private child: ChildProcess | null = null;
  private childExit: Promise<number | null> | null = null;
  private exitInfo: string | null = null;
  private starts = 0;
  private lastPods: Pod[] = [];

  private constructor(baseDir: string, nodeName: string, ports: { readOnly: number; healthz: number; kubelet: number }, opts: HarnessOptions) {
    this.baseDir = baseDir;
    this.nodeName = nodeName;
    this.manifestDir = path.join(baseDir, 'manifests');
    this.rootDir = path.join(baseDir, 'root');
    this.readOnlyPort = ports.readOnly;
    this.healthzPort = ports.healthz;
    this.kubeletPort = ports.kubelet;
    this.extraArgs = opts.extraArgs ?? [];
    this.cri = newCriClient();
  }

  /** Makes the temp folders and picks a node name and ports; does not start tskubelet. */
  static async create(opts: HarnessOptions = {}): Promise<Harness> {
    const nodeName = `${opts.nodeNamePrefix ?? 'itest'}-${randomBytes(4).toString('hex')}`;
    const baseDir = await mkdtemp(path.join(tmpdir(), `tskubelet-${nodeName}-`));
    await mkdir(path.join(baseDir, 'manifests'));
    await mkdir(path.join(baseDir, 'root'));
    const ports: number[] = [];
    while (ports.length < 3) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    return new Harness(baseDir, nodeName, { readOnly: ports[0]!, healthz: ports[1]!, kubelet: ports[2]! }, opts);
  }

  /** The static pod name of a manifest's pod name on this node. */
  podName(name: string): string {
    return `${name}-${this.nodeName}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The flags every start uses (the same for restarts). */
  args(): string[] {
    return [
      '--pod-manifest-path', this.manifestDir,
      '--root-dir', this.rootDir,
      '--hostname-override', this.nodeName,
      '--read-only-port', String(this.readOnlyPort),
      '--healthz-port', String(this.healthzPort),
      '--port', String(this.kubeletPort),
      '--cert-dir', path.join(this.baseDir, 'pki'),
      '--address', '127.0.0.1',
      '--v=2',
      ...this.extraArgs,
    ];
  }

  /**
   * Starts a tskubelet process with args(); resolves once it logged 'tskubelet started' and
   * /healthz answers. Throws (with the log tail) when it exits or takes longer than 20 s.
   */
  async start(): Promise<void> {
    if (this.child) throw new Error('tskubelet is already running');
    const n = ++this.starts;
    const child = spawn(KUBELET_BIN, this.args(), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    this.child = child;
    this.exitInfo = null;
    const firstLine = this.logLines.length;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.logLines.push(`[${n}] ${line}`));
    }
    this.childExit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        if (this.child === child) this.child = null;
        resolve(code);
      });
      child.once('error', (err) => {
        liveChildren.delete(child);
        this.exitInfo = `could not be spawned: ${err.message}`;
        if (this.child === child) this.child = null;
        resolve(null);
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (this.child !== child) throw new Error(`tskubelet ${this.exitInfo} during start-up\n${this.logTail()}`);
      const started = this.logLines.slice(firstLine).some((l) => l.includes('"msg":"tskubelet started"'));
      if (started && (await this.healthz().catch(() => null))?.body === 'ok') return;
      if (Date.now() > deadline) throw new Error(`tskubelet did not start within ${START_TIMEOUT_MS} ms\n${this.logTail()}`);
      await sleep(50);
    }
  }

  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). Resolves to the exit code (null when killed). */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    const exited = this.childExit!;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, like a crash; resolves once the process is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = this.childExit!;
    child.kill('SIGKILL');
    await exited;
  }

  /** Writes a manifest atomically (a hidden temp file renamed into place: the source skips hidden files). */
  async writeManifest(fileName: string, text: string): Promise<string> {
    const file = path.join(this.manifestDir, fileName);
    const tmp = path.join(this.manifestDir, `.${fileName}.${randomBytes(3).toString('hex')}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, file);
    return file;
  }

  async removeManifest(fileName: string): Promise<void> {
    await unlink(path.join(this.manifestDir, fileName));
  }

  private async get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  }

  /** GET /healthz on the healthz port. */
  healthz(): Promise<{ status: number; body: string }> {
    return this.get(this.healthzPort, '/healthz');
  }

  /** GET a path on the read-only port. */
  readOnly(urlPath: string): Promise<{ status: number; body: string }> {
    return this.get(this.readOnlyPort, urlPath);
  }

  /** GET /pods: the PodList. */
  async getPodList(): Promise<PodList> {
    const res = await this.readOnly('/pods');
    if (res.status !== 200) throw new Error(`/pods answered ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as PodList;
  }

  /** The pods of /pods (also remembered for timeout messages). */
  async getPods(): Promise<Pod[]> {
    const pods = (await this.getPodList()).items;
    this.lastPods = pods;
    return pods;
  }

  /** The pod of /pods whose manifest name is `name` (i.e. `<name>-<node>`), if listed. */
  async getPod(name: string): Promise<Pod | undefined> {
    return (await this.getPods()).find((p) => p.metadata?.name === this.podName(name));
  }

  /**
   * Polls /pods every POLL_MS until `predicate` returns a value other than undefined/null/false,
   * and resolves to it. Throws after `timeoutMs` with `description`, the last /pods state and
   * the log tail; throws at once when the kubelet process exits.
   */
  async waitFor<T>(predicate: (pods: Pod[]) => T | undefined | null | false, timeoutMs: number, description: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      if (!this.child) throw new Error(`tskubelet ${this.exitInfo ?? 'is not running'} while waiting for: ${description}\n${this.logTail()}`);
      try {
        const value = predicate(await this.getPods());
        if (value !== undefined && value !== null && value !== false) return value;
        lastError = '';
      } catch (err) {
        if (err instanceof AssertionError) throw err; // a failed assertion in the predicate fails at once
        lastError = errorMessage(err);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for: ${description}${lastError ? `\nlast error: ${lastError}` : ''}\n` +
            `last /pods state: ${summarizePods(this.lastPods)}`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  /** Waits until the pod named `name` (manifest name) satisfies `predicate`; resolves to the pod. */
  waitForPod(name: string, predicate: (pod: Pod) => boolean, timeoutMs: number, description: string): Promise<Pod> {
    return this.waitFor((pods) => pods.find((p) => p.metadata?.name === this.podName(name) && predicate(p)), timeoutMs, `pod ${this.podName(name)}: ${description}`);
  }

  /** The runtime's sandboxes and containers of a pod, by UID. */
  runtimePod(uid: string): Promise<RuntimePod> {
    return runtimePod(this.cri, uid);
  }

  /** Sandboxes and containers in the runtime that belong to this node's pods (by pod name label). */
  async runtimeLeftovers(): Promise<{ sandboxes: PodSandbox[]; containers: CriContainer[] }> {
    const ours = (labels: Record<string, string>): boolean => (labels[LABEL_POD_NAME] ?? '').endsWith(`-${this.nodeName}`);
    const [sandboxes, containers] = await Promise.all([this.cri.listPodSandbox(), this.cri.listContainers()]);
    return { sandboxes: sandboxes.filter((s) => ours(s.labels)), containers: containers.filter((c) => ours(c.labels)) };
  }

  /** Parsed JSON log records of every kubelet process so far (non-JSON lines are skipped). */
  logRecords(): LogRecord[] {
    const out: LogRecord[] = [];
    for (const line of this.logLines) {
      const json = line.replace(/^\[\d+\] /, '');
      if (!json.startsWith('{')) continue;
      try {
        out.push(JSON.parse(json) as LogRecord);
      } catch {
        // a partial line at exit: skip
      }
    }
    return out;
  }

  /** The last log lines, for failure messages. */
  logTail(lines = LOG_TAIL_LINES): string {
    const tail = this.logLines.slice(-lines);
    const state = this.child ? `running, pid ${this.child.pid}` : (this.exitInfo ?? 'not started');
    return `--- tskubelet log (last ${tail.length} of ${this.logLines.length} lines, node ${this.nodeName}, ${state}) ---\n${tail.join('\n')}\n--- end of log ---`;
  }

  /**
   * Removes every manifest and waits until the runtime has nothing left of this node's pods
   * (starting a kubelet if none runs, so that it removes them), then stops the kubelet, removes
   * by CRI whatever is left, and removes the temp folders. Throws, after doing all that, when
   * the kubelet did not remove the pods itself.
   */
  async cleanup(): Promise<void> {
    const problems: string[] = [];
    try {
      if (!this.child) await this.start();
      for (const f of await readdir(this.manifestDir)) await rm(path.join(this.manifestDir, f), { force: true });
      const deadline = Date.now() + CLEANUP_TIMEOUT_MS;
      for (;;) {
        const left = await this.runtimeLeftovers();
        if (left.sandboxes.length === 0 && left.containers.length === 0) break;
        if (Date.now() > deadline) {
          problems.push(`the kubelet did not remove this node's pods within ${CLEANUP_TIMEOUT_MS} ms of their manifests' removal: ${left.sandboxes.length} sandboxes, ${left.containers.length} containers`);
          break;
        }
        await sleep(POLL_MS);
      }
    } catch (err) {
      problems.push(`cleanup: ${errorMessage(err)}`);
    } finally {
      try {
        const code = await this.stop();
        if (code !== 0 && code !== null) problems.push(`tskubelet exited with code ${code} on SIGTERM`);
      } catch (err) {
        problems.push(`stopping tskubelet: ${errorMessage(err)}`);
      }
      await this.forceRemoveLeftovers().catch((err: unknown) => problems.push(`removing leftovers: ${errorMessage(err)}`));
      await rm(this.baseDir, { recursive: true, force: true }).catch((err: unknown) => problems.push(`removing ${this.baseDir}: ${errorMessage(err)}`));
      this.cri.close();
    }
    if (problems.length > 0) throw new Error(`cleanup of node ${this.nodeName}: ${problems.join('; ')}\n${this.logTail()}`);
  }

  /** Last resort: stops and removes this node's sandboxes and containers by CRI, and their log files. */
  private async forceRemoveLeftovers(): Promise<void> {
    const left = await this.runtimeLeftovers();
    for (const c of left.containers) await this.cri.removeContainer(c.id).catch(() => undefined);
    for (const s of left.sandboxes) {
      await this.cri.stopPodSandbox(s.id).catch(() => undefined);
      await this.cri.removePodSandbox(s.id).catch(() => undefined);
    }
    const suffix = `-${this.nodeName}`;
    for (const d of await readdir(POD_LOGS_DIR).catch(() => [] as string[])) {
      if (d.split('_')[1]?.endsWith(suffix)) await rm(path.join(POD_LOGS_DIR, d), { recursive: true, force: true });
    }
    for (const f of await readdir(CONTAINER_LOGS_DIR).catch(() => [] as string[])) {
      if (f.split('_')[0]?.endsWith(suffix)) await rm(path.join(CONTAINER_LOGS_DIR, f), { force: true });
    }
  }
}

/**
 * Runs `body` with a started kubelet, then always cleans up. On failure, prints the kubelet's
 * log tail to stderr (the test runner shows it) and rethrows.
 */
export async function withKubelet(t: TestContext, body: (h: Harness) => Promise<void>, opts: HarnessOptions = {}): Promise<void> {
  const h = await Harness.create(opts);
  let failed = false;
  try {
    await h.start();
    await body(h);
  } catch (err) {
    failed = true;
    process.stderr.write(`\n### ${t.name} failed; ${h.logTail()}\n`);
    throw err;
  } finally {
    try {
      await h.cleanup();
    } catch (err) {
      if (!failed) throw err;
      process.stderr.write(`### also: ${errorMessage(err)}\n`);
    }
  }
}

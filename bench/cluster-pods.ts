// npm run bench:cluster: pod start as the API sees it. One tskubelet joins the real cluster
// (npm run cluster:up) as a node; the bench creates bursts of ordinary pods at once through the
// API server (admin client), watches them until Running and Ready, deletes them at once and
// watches them go. Issue 3's target, for a burst of 30: start latency p50 within 0.2 s of the
// runtime's own time (RunPodSandbox + CreateContainer + StartContainer, tskubelet's `runtimeMs`),
// p99 under 2 s, on a 2-core machine.
//
// Flow: lock -> wait until no other tskubelet and no `node --test` runs -> preflight (containerd,
// images, control plane; leftovers of earlier runs removed) -> tskubelet started (temp folders,
// TLS bootstrap, --v=2) -> Node Ready and schedulable -> namespace (its default ServiceAccount
// and root CA ConfigMap) -> pod watch -> warm-up burst (2 pods) -> N rounds, each a burst per
// variant (direct: spec.nodeName; scheduler: nodeSelector), the runtime checked empty after
// each -> report (Markdown on stdout and in bench/results/cluster-pods-<date>.md, raw .json).
// Progress goes to stderr. Always cleans up, on error and on Ctrl-C too: the pods are deleted
// (tskubelet stops and removes them), the namespace, tskubelet stopped, runtime leftovers removed
// by CRI, the Node, its Lease, CSRs and events deleted, temp folders removed. A second Ctrl-C
// kills tskubelet and force-deletes; a third exits at once.
// Exit: 0 done (whatever the verdict, unless --check), 1 error, 2 bad arguments, 3 the direct
// variant missed a target with --check, 130 interrupted.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriClient } from '../src/cri/client.ts';
import { errorMessage } from '../src/common/errors.ts';
import { HttpKubeClient } from '../src/kube/client.ts';
import type { Pod } from '../src/kube/types.ts';
import {
  benchPod, CLUSTER_BENCH_LABEL, deleteNodeObjects, diffRequestDurations, getText, isApiNotFound, parseRequestDurations,
  PodWatchRecorder, waitNamespaceReady, waitNodeSchedulable, type RequestDurations, type Variant,
} from './lib/cluster-api.ts';
import { renderMarkdown, summarizeBurst, variantVerdict, verdictLines, ms, type BurstResult, type ClusterBenchResult, type ClusterPodSample } from './lib/cluster-report.ts';
import { findNamespacePods } from './lib/cluster-runtime.ts';
import { ContainerdLogTail, parseContainerdLog } from './lib/containerd-log.ts';
import { containerdPid, gitCommit, listProcesses, machineBusyMs, machineFacts, processCpuMs, WallClock } from './lib/host.ts';
import { KubeletLog } from './lib/kubelet-log.ts';
import { UsageError, intOption, splitFlag, parseCommandLine } from './lib/args.ts';
import { KubeletProcess, saveKubeletLog, waitKubeletStarted } from './lib/kubelet-process.ts';
import { ADMIN_KUBECONFIG, BOOTSTRAP_KUBECONFIG, connectBenchClients, removeBenchLeftovers, removeContainerLogLinks, unmountUnder } from './lib/bench-cluster.ts';
import { freePorts } from './lib/ports.ts';
import { ApiSourceAdds, pairByRank } from './lib/podconfig-log.ts';
import { runtimeHelpersCpuMs } from './lib/proc-cpu.ts';
import { busyProcesses, describeBusy, waitForQuietMachine } from './lib/quiet.ts';
import { readPodTimes, removeRuntimePods } from './lib/runtime.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** scripts/cluster/lib.sh PID_DIR: the control plane's pid files, for their CPU time. */
const CLUSTER_PID_DIR = '/var/lib/tskubelet-cluster/pids';
const CONTROL_PLANE = ['kube-apiserver', 'etcd', 'kube-scheduler', 'kube-controller-manager'];
/** Node and namespace names: <prefix><hex>; leftovers of killed runs are found by the label too. */
const NAME_PREFIX = 'tsk-cbench-';
const TEMP_PREFIX = 'tskubelet-cluster-bench-';
const LOCK_FILE = join(tmpdir(), 'tskubelet-cluster-bench.lock');
const WARM_UP_PODS = 2;

/** Tuning (ms): how long each wait may take before the bench gives up with an error. */
const KUBELET_READY_TIMEOUT_MS = 60_000; // TLS bootstrap, healthz, 'tskubelet started'
const NODE_READY_TIMEOUT_MS = 60_000; // Node Ready and its not-ready taint removed
const NAMESPACE_READY_TIMEOUT_MS = 30_000; // default ServiceAccount and kube-root-ca.crt
const BURST_TIMEOUT_MS = 120_000; // every pod Running and Ready / every pod DELETED
const RUNTIME_GONE_TIMEOUT_MS = 60_000; // the runtime has none of the burst's sandboxes
const CLEANUP_PODS_TIMEOUT_MS = 60_000; // at the end: tskubelet stops and removes what is left
const NAMESPACE_GONE_TIMEOUT_MS = 30_000; // at the end: the namespace controller finishes
const SETTLE_MS = 1_000; // quiet time before each burst
const LOG_DRAIN_MS = 300; // after the last Running and Ready, for late log lines
const POLL_MS = 25; // checks of in-memory state (watch, log), no I/O
const RUNTIME_POLL_MS = 250; // CRI lists while waiting for the runtime to be empty
const WATCH_MS = 500; // scans of /proc for another tskubelet or a test run (a few ms of CPU each)

interface Options {
  rounds: number;
  pods: number;
  variants: Variant[];
  timeoutS: number;
  waitS: number;
  check: boolean;
  kubelet: string;
  outDir: string;
}

const USAGE = `Usage: npm run bench:cluster -- [options]
  --rounds N          rounds; each round is one burst per variant (default 3)
  --pods N            pods per burst (default 30)
  --variants LIST     direct,scheduler (default both): direct sets spec.nodeName, scheduler uses a
                      nodeSelector on kubernetes.io/hostname
  --timeout S         give up after S seconds once started (default 900)
  --wait S            wait up to S seconds for other tskubelets and test runs to end (default 1800)
  --check             exit 3 when the direct variant misses a target
  --kubelet PATH      the tskubelet command to measure (default bin/tskubelet)
  --out DIR           results folder (default bench/results)
Needs the control plane (npm run cluster:up) and containerd with the bench images (npm run setup).
`;

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { rounds: 3, pods: 30, variants: ['direct', 'scheduler'], timeoutS: 900, waitS: 1800, check: false, kubelet: join(ROOT, 'bin/tskubelet'), outDir: join(ROOT, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = splitFlag(a);
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--rounds': o.rounds = intOption(flag, value(), 1, 20); break;
      case '--pods': o.pods = intOption(flag, value(), 1, 100); break;
      case '--variants': {
        const list = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (list.length === 0 || list.some((v) => v !== 'direct' && v !== 'scheduler')) throw new UsageError(`--variants takes direct and/or scheduler, got ${JSON.stringify(list.join(','))}`);
        o.variants = [...new Set(list)] as Variant[];
        break;
      }
      case '--timeout': o.timeoutS = intOption(flag, value(), 60, 7200); break;
      case '--wait': o.waitS = intOption(flag, value(), 0, 7200); break;
      case '--check': o.check = true; break;
      case '--kubelet': o.kubelet = resolve(value() ?? ''); break;
      case '--out': o.outDir = resolve(value() ?? ''); break;
      case '-h': case '--help': throw new UsageError('');
      default: throw new UsageError(`unknown argument ${a}`);
    }
  }
  return o;
}

function progress(msg: string): void {
  process.stderr.write(`bench:cluster: ${msg}\n`);
}

class Interrupted extends Error {
  constructor(sig: string) {
    super(`interrupted by ${sig}`);
  }
}

/** Everything the clean-up must undo; filled in as the bench goes. */
interface State {
  runId: string;
  nodeName: string;
  lockTaken: boolean;
  tempRoot?: string;
  admin?: HttpKubeClient;
  cri?: CriClient;
  kubelet?: KubeletProcess;
  /** The bench's namespace once created. */
  namespace?: string;
  watch?: PodWatchRecorder;
  /** Set by a second Ctrl-C or when another tskubelet appeared: no waiting for tskubelet. */
  hurry: boolean;
  /** Stops the watch for other tskubelets and test runs. */
  unwatch: () => void;
  /** Aborts the bench with this error (from watchers). */
  fail: (err: Error) => void;
  /** Starts the overall deadline (once the machine is quiet). */
  armDeadline: () => void;
  /** What is being measured now, for warnings about test runs that started meanwhile. */
  phase: string;
  warnings: string[];
  loadavg?: [number, number, number];
}

async function main(): Promise<number> {
  const cmd = parseCommandLine('bench:cluster', USAGE, parseArgs);
  if ('exitCode' in cmd) return cmd.exitCode;
  const opts = cmd.opts;
  const stop = new AbortController();
  const hex = randomBytes(3).toString('hex');
  let deadline: NodeJS.Timeout | undefined;
  const state: State = {
    runId: `${Date.now().toString(36)}-${process.pid}`,
    nodeName: `${NAME_PREFIX}${hex}`,
    lockTaken: false,
    hurry: false,
    unwatch: () => undefined,
    fail: (err) => stop.abort(err),
    armDeadline: () => {
      deadline = setTimeout(() => stop.abort(new Error(`the bench did not finish within ${opts.timeoutS} s (--timeout)`)), opts.timeoutS * 1000);
      deadline.unref();
    },
    phase: 'start-up',
    warnings: [],
  };
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      progress(`${sig}: stopping and cleaning up (again to kill tskubelet and force-delete, a third time to exit at once)`);
      stop.abort(new Interrupted(sig));
    } else if (interrupts === 2) {
      progress(`${sig}: killing tskubelet and force-deleting the pods`);
      state.hurry = true;
      state.kubelet?.killNow();
    } else {
      progress(`${sig}: exiting now; node ${state.nodeName}, namespace ${state.namespace ?? '-'} and pods may remain (the next run removes them)`);
      process.exit(130);
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  let code = 0;
  try {
    const result = await run(opts, state, stop.signal);
    const md = renderMarkdown(result);
    const date = result.date.slice(0, 10);
    mkdirSync(opts.outDir, { recursive: true });
    const mdPath = join(opts.outDir, `cluster-pods-${date}.md`);
    writeFileSync(mdPath, md + '\n');
    writeFileSync(join(opts.outDir, `cluster-pods-${date}.json`), JSON.stringify(result, null, 1) + '\n');
    process.stdout.write(md + '\n');
    const summaries = result.bursts.map((b) => summarizeBurst(b, result.machine.nproc));
    for (const v of opts.variants) for (const line of verdictLines(variantVerdict(v, summaries))) progress(line);
    progress(`results written to ${mdPath} (and .json beside it)`);
    const direct = variantVerdict('direct', summaries);
    if (opts.check && direct.rounds > 0 && !(direct.overheadPass && direct.latencyPass)) code = 3;
  } catch (err) {
    if (err instanceof Interrupted || stop.signal.reason instanceof Interrupted) {
      code = 130;
    } else {
      const reason: unknown = stop.signal.aborted ? stop.signal.reason : err;
      progress(`ERROR: ${errorMessage(reason)}`);
      code = 1;
    }
  } finally {
    clearTimeout(deadline);
    await cleanUp(state);
  }
  return code;
}

async function run(opts: Options, state: State, signal: AbortSignal): Promise<ClusterBenchResult> {
  takeLock();
  state.lockTaken = true;
  await waitForQuietMachine(opts.waitS * 1000, progress, signal);
  state.armDeadline();
  state.loadavg = machineFacts().loadavg;
  const { cri, admin, apiServer } = await preflight(opts, state, signal);
  const containerd = await cri.version(signal);

  const tempRoot = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  state.tempRoot = tempRoot;
  const dirs = { root: join(tempRoot, 'root'), logs: join(tempRoot, 'pod-logs'), pki: join(tempRoot, 'pki') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const [healthzPort] = await freePorts(1);
  const kubeletArgs = [
    '--bootstrap-kubeconfig', BOOTSTRAP_KUBECONFIG, '--kubeconfig', join(tempRoot, 'kubelet.kubeconfig'), '--cert-dir', dirs.pki,
    '--root-dir', dirs.root, '--pod-logs-dir', dirs.logs, '--hostname-override', state.nodeName,
    '--node-labels', `${CLUSTER_BENCH_LABEL}=${state.runId}`, '--healthz-port', String(healthzPort), '--read-only-port', '0', '--v=2',
  ];

  const log = new KubeletLog();
  const adds = new ApiSourceAdds();
  progress(`starting ${opts.kubelet} as node ${state.nodeName} (log: ${join(tempRoot, 'kubelet.log')})`);
  const kubelet = new KubeletProcess({ command: opts.kubelet, args: kubeletArgs, cwd: ROOT, logFile: join(tempRoot, 'kubelet.log'), onLine: (l) => {
    log.addLine(l);
    adds.addLine(l);
  } });
  state.kubelet = kubelet;
  state.unwatch = watchMachine(state);
  const alive = (): void => {
    if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()}:\n${kubelet.tail().join('\n')}`);
  };
  await waitKubeletStarted(kubelet, () => log.started, healthzPort ?? 0, KUBELET_READY_TIMEOUT_MS, signal);
  progress('waiting for the Node to be Ready and schedulable');
  await waitNodeSchedulable(admin, state.nodeName, NODE_READY_TIMEOUT_MS, alive, signal);

  const ns = state.nodeName; // same name: easy to match by eye
  await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [CLUSTER_BENCH_LABEL]: state.runId } } }, signal });
  state.namespace = ns;
  await waitNamespaceReady(admin, ns, NAMESPACE_READY_TIMEOUT_MS, signal);

  const clock = new WallClock();
  const watch = new PodWatchRecorder({ client: admin, namespace: ns, now: () => clock.now(), warn: (m) => state.warnings.push(m) });
  await watch.start(signal);
  state.watch = watch;
  const criLog = new ContainerdLogTail();
  if (!criLog.available()) state.warnings.push("containerd's log (/var/log/containerd.log) is not readable here: the CRI calls' times are missing");
  const deps: BurstDeps = { admin, cri, kubelet, log, adds, clock, watch, criLog, ns, state, alive };

  progress(`warm-up: ${WARM_UP_PODS} pods`);
  state.phase = 'warm-up';
  await runBurst(0, 'direct', WARM_UP_PODS, deps, signal);

  const bursts: BurstResult[] = [];
  for (let r = 1; r <= opts.rounds; r++) {
    const order = r % 2 === 1 ? opts.variants : [...opts.variants].reverse();
    for (const variant of order) {
      await sleep(SETTLE_MS, undefined, { signal });
      state.phase = `round ${r} (${variant})`;
      progress(`round ${r}/${opts.rounds}, ${variant}: creating ${opts.pods} pods`);
      const burst = await runBurst(r, variant, opts.pods, deps, signal);
      const s = summarizeBurst(burst, machineFacts().nproc);
      progress(
        `round ${r}, ${variant}: latency p50 ${ms(s.latencyP50)} ms p99 ${ms(s.latencyP99)} ms, runtime p50 ${ms(s.runtimeP50)} ms, ` +
          `overhead p50 ${ms(s.overheadP50)} ms; delete p50 ${ms(s.deleteP50)} ms p99 ${ms(s.deleteP99)} ms`,
      );
      bursts.push(burst);
    }
  }
  state.phase = 'clean-up';
  await watch.stop();
  state.watch = undefined;

  return {
    date: new Date().toISOString(),
    commit: gitCommit(ROOT),
    machine: { ...machineFacts(), loadavg: state.loadavg },
    containerd: `${containerd.runtime_name} ${containerd.runtime_version} (CRI ${containerd.runtime_api_version})`,
    apiServer,
    nodeName: state.nodeName,
    podsPerBurst: opts.pods,
    rounds: opts.rounds,
    bursts,
    kubeletArgs: [opts.kubelet.startsWith(ROOT) ? opts.kubelet.slice(ROOT.length + 1) : opts.kubelet, ...kubeletArgs.map((a) => a.replace(tempRoot, '$TMP').replace(ROOT + '/', ''))],
    warnings: state.warnings,
  };
}

/** One cluster bench at a time (a second one's tskubelet would remove this one's pods). */
function takeLock(): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(LOCK_FILE, 'utf8').trim());
    const owner = listProcesses(false).find((p) => p.pid === pid);
    if (owner && owner.argv.some((a) => a.endsWith('bench/cluster-pods.ts'))) throw new Error(`another cluster bench is running (pid ${pid}); wait until it ends`);
    rmSync(LOCK_FILE, { force: true }); // stale: its bench is gone
  }
  throw new Error(`cannot take ${LOCK_FILE}`);
}

/** Checks containerd, the images and the control plane; removes what earlier runs left. */
async function preflight(opts: Options, state: State, signal: AbortSignal): Promise<{ cri: CriClient; admin: HttpKubeClient; apiServer: string }> {
  if (!existsSync(opts.kubelet)) throw new Error(`no tskubelet at ${opts.kubelet}`);
  const clients = await connectBenchClients((c) => Object.assign(state, c), signal);
  await removeBenchLeftovers(clients.admin, clients.cri, { label: CLUSTER_BENCH_LABEL, namePrefix: NAME_PREFIX, tempPrefix: TEMP_PREFIX, progress }, signal);
  return clients;
}


/**
 * Every WATCH_MS: another tskubelet (seen in two scans in a row) fails the bench at once (it and
 * ours would remove each other's pods: ours is killed first); a `node --test` run appearing is a
 * warning on the current phase (the numbers are disturbed). Returns the function that stops.
 */
function watchMachine(state: State): () => void {
  const warned = new Set<string>();
  let suspects = new Set<number>();
  const timer = setInterval(() => {
    const busy = busyProcesses(state.kubelet?.pid === undefined ? [] : [state.kubelet.pid]);
    // Seen twice in a row: a process that merely forked with a tskubelet command line has exec'd by then.
    const confirmed = busy.kubelets.filter((p) => suspects.has(p.pid));
    suspects = new Set(busy.kubelets.map((p) => p.pid));
    if (confirmed.length > 0) {
      clearInterval(timer);
      state.hurry = true;
      state.kubelet?.killNow();
      state.fail(new Error(`another tskubelet started meanwhile; ours was stopped so that neither removes the other's pods; run the bench again when it is gone:\n${describeBusy({ kubelets: confirmed, tests: [] })}`));
      return;
    }
    if (busy.tests.length > 0 && !warned.has(state.phase)) {
      warned.add(state.phase);
      const msg = `a test run (pid ${busy.tests.map((p) => p.pid).join(', ')}) ran during ${state.phase}: its numbers are disturbed`;
      state.warnings.push(msg);
      progress(`WARNING: ${msg}`);
    }
  }, WATCH_MS);
  timer.unref();
  return () => clearInterval(timer);
}

interface BurstDeps {
  admin: HttpKubeClient;
  cri: CriClient;
  kubelet: KubeletProcess;
  log: KubeletLog;
  /** When tskubelet's API source added each pod. */
  adds: ApiSourceAdds;
  clock: WallClock;
  watch: PodWatchRecorder;
  /** containerd's log, when this machine has it (the CRI calls' times). */
  criLog: ContainerdLogTail;
  ns: string;
  state: State;
  /** Throws when tskubelet has exited. */
  alive: () => void;
}

/** CPU time so far (ms) of the processes the report shows, and the machine's busy time. */
function cpuSnapshot(kubeletPid: number): Record<string, number> {
  const ctrd = containerdPid();
  const out: Record<string, number> = {
    machine: machineBusyMs(),
    tskubelet: processCpuMs(kubeletPid),
    containerd: processCpuMs(ctrd ?? 0),
    'runtime helpers': runtimeHelpersCpuMs(ctrd),
  };
  for (const name of CONTROL_PLANE) {
    let pid = 0;
    try {
      pid = Number(readFileSync(join(CLUSTER_PID_DIR, `${name}.pid`), 'utf8').trim());
      if (basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '') !== name) pid = 0;
    } catch {
      pid = 0;
    }
    out[name] = pid ? processCpuMs(pid) : Number.NaN;
  }
  const own = process.cpuUsage();
  out.bench = (own.user + own.system) / 1000;
  return out;
}

/** The API server's request counters, or null when /metrics cannot be read (the table is then empty). */
async function requestDurations(state: State, signal: AbortSignal): Promise<Map<string, RequestDurations> | null> {
  try {
    return parseRequestDurations(await getText(ADMIN_KUBECONFIG, '/metrics', AbortSignal.any([signal, AbortSignal.timeout(10_000)])));
  } catch (err) {
    signal.throwIfAborted();
    const msg = `could not read the API server's /metrics: ${errorMessage(err)}`;
    if (!state.warnings.includes(msg)) state.warnings.push(msg);
    return null;
  }
}

/** Polls `done` (in-memory checks) every POLL_MS until true; throws `onTimeout()` after `timeoutMs`. */
async function waitUntil(done: () => boolean, timeoutMs: number, alive: () => void, onTimeout: () => string, signal: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    signal.throwIfAborted();
    alive();
    if (Date.now() > until) throw new Error(onTimeout());
    await sleep(POLL_MS, undefined, { signal });
  }
}

/**
 * One burst: creates `count` pods at once, waits until each is Running and Ready in the watch,
 * reads the runtime's and the log's times, deletes them at once, waits until each is DELETED and
 * the runtime has none of them. Round 0 is the warm-up (its result is not reported).
 */
async function runBurst(round: number, variant: Variant, count: number, d: BurstDeps, signal: AbortSignal): Promise<BurstResult> {
  const { admin, clock, watch, ns } = d;
  const names = Array.from({ length: count }, (_, i) => `${round === 0 ? 'warm' : `r${round}`}-${variant === 'direct' ? 'd' : 's'}-p${String(i).padStart(2, '0')}`);
  const podsPath = `/api/v1/namespaces/${ns}/pods`;
  const describePending = (pending: string[], what: string): string => {
    const detail = pending.slice(0, 5).map((n) => {
      const t = d.log.pods.get(`${ns}/${n}`);
      const w = watch.get(n);
      return `${n}: watch ${w ? `added ${w.addedMs !== undefined}, bound ${w.boundMs !== undefined}, ready ${w.runningReadyMs !== undefined}` : 'never saw it'}; ` +
        `log ${t?.lastStatus ?? 'no status'}${t?.problems.length ? ` (${t.problems.slice(-1)[0]})` : ''}`;
    });
    return `round ${round} (${variant}): ${pending.length} pod(s) not ${what} after ${BURST_TIMEOUT_MS / 1000} s: ${detail.join('; ')}`;
  };

  // Open enough keep-alive connections first: the burst must not measure the bench's TLS handshakes.
  await Promise.all(names.map(() => admin.request('GET', '/version', { signal })));
  const before = await requestDurations(d.state, signal);
  d.criLog.mark();
  clock.calibrate();
  const cpu0 = cpuSnapshot(d.kubelet.pid ?? 0);
  const createCall = new Map<string, number>();
  const created = new Map<string, number>();
  const creates = names.map((name) => {
    const body = benchPod(name, variant, d.state.nodeName, d.state.runId);
    createCall.set(name, clock.now());
    return admin.request<Pod>('POST', podsPath, { body, signal }).then((pod) => {
      created.set(name, clock.now());
      return pod;
    });
  });
  await Promise.all(creates);
  await waitUntil(
    () => names.every((n) => watch.get(n)?.runningReadyMs !== undefined),
    BURST_TIMEOUT_MS,
    d.alive,
    () => describePending(names.filter((n) => watch.get(n)?.runningReadyMs === undefined), 'Running and Ready'),
    signal,
  );
  const cpu1 = cpuSnapshot(d.kubelet.pid ?? 0);
  const firstCall = Math.min(...createCall.values());
  const lastReady = Math.max(...names.map((n) => watch.get(n)?.runningReadyMs ?? Number.NaN));
  const after = await requestDurations(d.state, signal);
  await sleep(LOG_DRAIN_MS, undefined, { signal });
  const times = await readPodTimes(d.cri, new Set(names), signal);

  // Delete at once.
  const deleteCall = new Map<string, number>();
  const deletes = names.map((name) => {
    deleteCall.set(name, clock.now());
    return admin.request('DELETE', `${podsPath}/${name}`, { signal });
  });
  await Promise.all(deletes);
  const firstDelete = Math.min(...deleteCall.values());
  await waitUntil(
    () => names.every((n) => watch.get(n)?.deletedMs !== undefined),
    BURST_TIMEOUT_MS,
    d.alive,
    () => describePending(names.filter((n) => watch.get(n)?.deletedMs === undefined), 'DELETED'),
    signal,
  );
  const lastDeleted = Math.max(...names.map((n) => watch.get(n)?.deletedMs ?? Number.NaN));
  const nameSet = new Set(names);
  const runtimeUntil = Date.now() + RUNTIME_GONE_TIMEOUT_MS;
  for (;;) {
    const left = await findNamespacePods(d.cri, (n) => n === ns, signal);
    const mine = left.podNames.filter((p) => nameSet.has(p.slice(ns.length + 1)));
    if (left.sandboxIds.length + left.containerIds.length === 0) break;
    d.alive();
    if (Date.now() > runtimeUntil) {
      throw new Error(`round ${round} (${variant}): the runtime still has ${left.sandboxIds.length} sandbox(es) and ${left.containerIds.length} container(s) of the namespace ${RUNTIME_GONE_TIMEOUT_MS / 1000} s after the pods were deleted: ${(mine.length ? mine : left.podNames).slice(0, 5).join(', ')}`);
    }
    await sleep(RUNTIME_POLL_MS, undefined, { signal });
  }
  const runtimeGone = clock.now();
  const calls = parseContainerdLog(d.criLog.sinceMark(), ns);
  // Log times have whole ms: a pod added in the create call's own ms still counts.
  const kubeletSeen = pairByRank(d.adds.between(Math.floor(firstCall) - 1, lastReady), new Map(names.map((n) => [n, watch.get(n)?.boundMs ?? Number.NaN])));
  if (kubeletSeen.size === 0) d.state.warnings.push(`round ${round} (${variant}): tskubelet's API source additions could not be paired with the pods`);

  const pods: ClusterPodSample[] = names.map((name) => {
    const w = watch.get(name);
    const t = d.log.pods.get(`${ns}/${name}`);
    const rt = times.get(name);
    const c = calls.get(name);
    if (!rt || !rt.allRunning) throw new Error(`round ${round} (${variant}): the runtime does not show ${name} running although the API reported it Running and Ready`);
    if (!t || t.syncsWithRuntime === 0) throw new Error(`round ${round} (${variant}): no 'runtime time in this sync' log line for ${ns}/${name} (is --v=2 honoured?)`);
    const n = (x: number | undefined): number => x ?? Number.NaN;
    return {
      round,
      variant,
      name,
      uid: w?.uid ?? rt.uid,
      createCallMs: n(createCall.get(name)),
      createdMs: n(created.get(name)),
      creationTimestampMs: n(w?.creationTimestampMs),
      addedMs: n(w?.addedMs),
      boundMs: n(w?.boundMs),
      kubeletSeenMs: n(kubeletSeen.get(name)),
      sandboxCreatedMs: rt.sandboxCreatedMs,
      sandboxReadyMs: n(t.sandboxReadyMs),
      imageCheckedMs: n(t.imageCheckedMs),
      containerCreatedMs: rt.containerCreatedMs,
      createdEventMs: n(t.createdMs),
      startedMs: rt.startedMs,
      startedEventMs: n(t.startedMs),
      reportedRunningMs: n(t.reportedRunningMs),
      firstKubeletStatusMs: n(w?.firstKubeletStatusMs),
      runningReadyMs: n(w?.runningReadyMs),
      runtimeMs: t.runtimeMs,
      syncsWithRuntime: t.syncsWithRuntime,
      deleteCallMs: n(deleteCall.get(name)),
      deletionSeenMs: n(w?.deletionSeenMs),
      deletedMs: n(w?.deletedMs),
      runSandboxStartMs: n(c?.runSandbox.startMs),
      runSandboxEndMs: n(c?.runSandbox.endMs),
      createContainerStartMs: n(c?.createContainer.startMs),
      createContainerEndMs: n(c?.createContainer.endMs),
      startContainerStartMs: n(c?.startContainer.startMs),
      startContainerEndMs: n(c?.startContainer.endMs),
      stopContainerStartMs: n(c?.stopContainer.startMs),
      stopContainerEndMs: n(c?.stopContainer.endMs),
      stopSandboxStartMs: n(c?.stopSandbox.startMs),
      stopSandboxEndMs: n(c?.stopSandbox.endMs),
      removeSandboxStartMs: n(c?.removeSandbox.startMs),
      removeSandboxEndMs: n(c?.removeSandbox.endMs),
    };
  });
  if (pods.some((p) => watch.get(p.name)?.relisted)) d.state.warnings.push(`round ${round} (${variant}): some watch times are list times (the watch expired)`);
  const cpuMs: Record<string, number> = {};
  for (const k of Object.keys(cpu1)) cpuMs[k] = (cpu1[k] ?? Number.NaN) - (cpu0[k] ?? Number.NaN);
  return {
    round,
    variant,
    pods,
    startWallMs: lastReady - firstCall,
    deleteWallMs: lastDeleted - firstDelete,
    runtimeGoneMs: runtimeGone - firstDelete,
    cpuMs,
    apiRequests: before && after ? diffRequestDurations(before, after) : [],
  };
}

/**
 * Undoes everything, whatever happened; never throws, reports what it could not undo. Order:
 * the pods are deleted and tskubelet (when it still runs) stops and removes them; then the
 * namespace; tskubelet stops; what the runtime still has of the namespace is removed by CRI;
 * the Node, Lease, CSRs and node events are deleted; temp folders and the lock go.
 */
async function cleanUp(state: State): Promise<void> {
  const bounded = (msTimeout: number): AbortSignal => AbortSignal.timeout(msTimeout);
  const { admin, cri, kubelet, namespace: ns } = state;
  state.unwatch();
  await state.watch?.stop().catch(() => undefined);
  if (admin && ns) {
    try {
      const graceful = !state.hurry && kubelet?.running === true;
      const body = graceful ? undefined : { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 };
      await admin.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { body, signal: bounded(30_000) });
      if (graceful && cri && kubelet) {
        const until = Date.now() + CLEANUP_PODS_TIMEOUT_MS;
        while (!state.hurry && kubelet.running && Date.now() < until) {
          const apiLeft = await admin.request<{ items?: unknown[] }>('GET', `/api/v1/namespaces/${ns}/pods`, { signal: bounded(10_000) }).then((l) => l.items?.length ?? 0, () => -1);
          const rtLeft = await findNamespacePods(cri, (n) => n === ns, bounded(10_000)).then((l) => l.sandboxIds.length, () => -1);
          if (apiLeft === 0 && rtLeft === 0) break;
          await sleep(RUNTIME_POLL_MS);
        }
      }
    } catch (err) {
      progress(`clean-up: deleting the pods of ${ns}: ${errorMessage(err)}`);
    }
    await admin.request('DELETE', `/api/v1/namespaces/${ns}`, { signal: bounded(30_000) }).catch((err: unknown) => {
      if (!isApiNotFound(err)) progress(`clean-up: deleting namespace ${ns}: ${errorMessage(err)}`);
    });
  }
  try {
    await kubelet?.stop();
  } catch (err) {
    progress(`clean-up: stopping tskubelet: ${errorMessage(err)}`);
    kubelet?.killNow();
  }
  if (cri && ns) {
    let problems: string[] = [];
    for (let pass = 0; pass < 3; pass++) {
      try {
        const left = await findNamespacePods(cri, (n) => n === ns, bounded(20_000));
        if (left.sandboxIds.length + left.containerIds.length === 0) {
          problems = [];
          break;
        }
        if (pass === 0) progress(`clean-up: removing ${left.sandboxIds.length} pod(s) of ${ns} straight on the runtime`);
        problems = await removeRuntimePods(cri, left, bounded(60_000));
      } catch (err) {
        problems = [errorMessage(err)];
      }
      await sleep(1_000);
    }
    if (problems.length > 0) progress(`clean-up: could not remove every pod of ${ns} from the runtime (${problems.slice(0, 3).join('; ')}); the next run removes them`);
  }
  if (admin && state.kubelet) {
    // Pods that stayed in the API (tskubelet gone before it could confirm their deletion) hold up the namespace.
    if (ns) await admin.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }, signal: bounded(30_000) }).catch(() => undefined);
    const problems = await deleteNodeObjects(admin, state.nodeName, bounded(30_000)).catch((err: unknown) => [errorMessage(err)]);
    if (problems.length > 0) progress(`clean-up: node ${state.nodeName}: ${problems.join('; ')}`);
  }
  if (admin && ns) {
    const until = Date.now() + NAMESPACE_GONE_TIMEOUT_MS;
    for (;;) {
      const gone = await admin.request('GET', `/api/v1/namespaces/${ns}`, { signal: bounded(10_000) }).then(() => false, (err: unknown) => isApiNotFound(err));
      if (gone) break;
      if (Date.now() > until) {
        progress(`clean-up: namespace ${ns} is still terminating after ${NAMESPACE_GONE_TIMEOUT_MS / 1000} s (the namespace controller finishes it; the next run removes it otherwise)`);
        break;
      }
      await sleep(500);
    }
  }
  cri?.close();
  admin?.close();
  if (ns) removeContainerLogLinks(ns);
  saveKubeletLog(state.tempRoot, 'tskubelet-cluster-bench.last-kubelet.log', progress);
  if (state.tempRoot) {
    unmountUnder(state.tempRoot, (m) => progress(`clean-up: could not unmount ${m}`));
    rmSync(state.tempRoot, { recursive: true, force: true });
  }
  if (state.lockTaken) {
    try {
      if (readFileSync(LOCK_FILE, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK_FILE);
    } catch {
      // already gone
    }
  }
}

process.exitCode = await main();

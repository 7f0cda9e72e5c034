// npm run bench:compare: tskubelet side by side with the upstream kubelet (issue 7). The same
// scenarios run first with the upstream kubelet (built from the Go module registry at the control
// plane's version, scripts/upstream-kubelet.sh) and then with tskubelet, each as the only node of
// the test control plane (npm run cluster:up), on the same containerd, one agent at a time; both
// read the same KubeletConfiguration. Report: bench/results/<date>-compare.md (scenario, figure,
// upstream, tskubelet, ratio = tskubelet / upstream), a plot of the latency distributions
// (<date>-compare.svg, CDFs) and the raw numbers (<date>-compare.json).
//
// Scenarios (bench/lib/compare-scenarios.ts), per agent, in this order: density 0 (idle) ->
// burst (N pods at once) -> the other density tiers (the burst's pods are the first of them) ->
// churn (create and delete at a rate) -> status lag (exits stopped on the runtime, time to the
// terminated state in the API) -> probes (pods with a 1 s exec readiness probe, held).
//
// Flow: the upstream kubelet built if it is not (minutes, once per machine) -> preflight
// (containerd, images, control plane) -> the integration lock (`flock /tmp/tskubelet-integration.lock`,
// held for the whole run: any kubelet removes the runtime pods it does not know) -> a quiet
// machine (no other tskubelet or kubelet, no test run) -> leftovers of killed runs removed (and
// the host state a killed run's upstream kubelet changed put back) -> per round (--rounds) and agent: temp folders,
// config, agent started (TLS bootstrap with .cluster/bootstrap.kubeconfig, node
// bench-<agent>-<hex>), Node Ready, namespace, pod watch, warm-up (2 pods), scenarios; then its
// pods deleted through the API, the agent stopped, what the runtime still has of its namespace
// removed by CRI, its Node, Lease, CSRs and events deleted, its folders unmounted and removed,
// the host state put back (upstream) -> report. Always cleans up, on error and Ctrl-C too (a
// second Ctrl-C kills the agent at once; a third exits). Progress goes to stderr.
// Exit: 0 done, 1 error, 2 bad arguments, 130 interrupted.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriClient } from '../src/cri/client.ts';
import { errorMessage } from '../src/common/errors.ts';
import { HttpKubeClient } from '../src/kube/client.ts';
import { UsageError, intOption, splitFlag, parseCommandLine } from './lib/args.ts';
import { renderCdfSvg, type CdfPanel } from './lib/cdf-svg.ts';
import { deleteNodeObjects, isApiNotFound, PodWatchRecorder, waitNamespaceReady, waitNodeSchedulable } from './lib/cluster-api.ts';
import { findNamespacePods } from './lib/cluster-runtime.ts';
import { AGENTS, formatRatio, roundRows, ratio, renderCompareMarkdown, SCENARIOS, type Agent, type AgentRun, type CompareOptions, type CompareResult, type Scenario } from './lib/compare-report.ts';
import {
  COMPARE_LABEL, removeAll, runBurst, runChurn, runDensityTier, runLag, runProbes, startAll, type ScenarioContext,
} from './lib/compare-scenarios.ts';
import { gitCommit, listProcesses, machineFacts, WallClock } from './lib/host.ts';
import { holdIntegrationLock, INTEGRATION_LOCK, type HeldLock } from './lib/integration-lock.ts';
import { KubeletProcess } from './lib/kubelet-process.ts';
import { BOOTSTRAP_KUBECONFIG, connectBenchClients, removeBenchLeftovers, removeContainerLogLinks, unmountUnder } from './lib/bench-cluster.ts';
import { freePorts } from './lib/ports.ts';
import { busyProcesses, waitForQuietMachine } from './lib/quiet.ts';
import { removeRuntimePods } from './lib/runtime.ts';
import {
  agentArgs, kubeletConfigYaml, restoreHostState, restorePendingHostState, saveHostState, snapshotHostState, upstreamKubeletBinary,
  upstreamVersion, type HostState,
} from './lib/upstream-kubelet.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TEMP_PREFIX = 'tskubelet-compare-';
/** Node and namespace names: bench-<agent>-<hex>; the namespace's runtime pods are found by the prefix. */
const NAME_PREFIX = 'bench-';
/** The host state before the upstream kubelet ran, while it may be changed (see upstream-kubelet.ts). */
const HOST_STATE_FILE = join(tmpdir(), 'tskubelet-compare.host-state.json');
const WARM_UP_PODS = 2;

/** Tuning (ms). */
const AGENT_READY_TIMEOUT_MS = 60_000; // spawn -> /healthz ok (TLS bootstrap included)
const NODE_READY_TIMEOUT_MS = 60_000; // Node Ready and its not-ready taint removed
const NAMESPACE_READY_TIMEOUT_MS = 30_000; // default ServiceAccount and kube-root-ca.crt
const CLEANUP_PODS_BASE_MS = 60_000; // + 1 s per pod: the agent stops and deletes what is left
const NAMESPACE_GONE_TIMEOUT_MS = 30_000;
const WATCH_MS = 1_000; // scans of /proc for another kubelet or a test run
const NODE_EVENTS_LATE_MS = 6_000; // the node lifecycle controller's RemovingNode event comes within its 5 s period

interface Options extends CompareOptions {
  agents: Agent[];
  verbosity: number;
  waitS: number;
  timeoutS: number;
  tskubelet: string;
  upstream: string | undefined;
  outDir: string;
  quick: boolean;
  rounds: number;
}

const DEFAULTS: Omit<Options, 'tskubelet' | 'outDir' | 'upstream'> = {
  agents: [...AGENTS], scenarios: [...SCENARIOS], burstPods: 30, churnPods: 100, churnRate: 5, churnLifetimeS: 5, lagPods: 30,
  densityTiers: [0, 30, 110], probePods: 100, holdS: 40, windowS: 10, maxPods: 110, verbosity: 0, waitS: 1800, timeoutS: 1800, quick: false, rounds: 1,
};

const USAGE = `Usage: npm run bench:compare -- [options]
  --scenarios LIST    burst,churn,lag,density,probes (default all)
  --agents LIST       upstream,tskubelet (default both, upstream first)
  --rounds N          run the whole set N times (each round: upstream, then tskubelet) and report
                      each figure's median over the rounds and in how many rounds tskubelet was
                      ahead (default 1; single runs are noisy on a shared 2-CPU machine)
  --quick             a quick check: 5 pods per burst, 10 churned, 5 exits, density 0,5,10, 5 probe pods, 20 s holds
  --burst-pods N      pods created at once in burst (default 30)
  --churn-pods N      pods churned (default 100), --churn-rate N per second (default 5),
  --churn-lifetime S  each churned pod lives at least S seconds (default 5)
  --lag-pods N        exits in status lag (default 30)
  --density LIST      running pods per density tier (default 0,30,110)
  --probe-pods N      pods with a 1 s exec readiness probe (default 100)
  --hold S            seconds each density tier and the probes are held (default 40)
  --window S          CPU window (default 10)
  --max-pods N        the agents' maxPods (default 110, upstream's default)
  --v N               both agents' verbosity (default 0, upstream's default)
  --wait S            wait up to S seconds for the integration lock and a quiet machine (default 1800)
  --timeout S         give up after S seconds once the lock is held (default 1800 per round)
  --kubelet PATH      the tskubelet command (default bin/tskubelet)
  --upstream PATH     the upstream kubelet binary (default: scripts/upstream-kubelet.sh builds and caches it)
  --out DIR           results folder (default bench/results)
Needs the control plane (npm run cluster:up) and containerd with the bench images (npm run setup).
`;

function listOption<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T[] {
  const list = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0 || list.some((x) => !allowed.includes(x as T))) throw new UsageError(`${flag} takes a comma-separated list of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return allowed.filter((a) => list.includes(a));
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { ...DEFAULTS, agents: [...DEFAULTS.agents], scenarios: [...DEFAULTS.scenarios], densityTiers: [...DEFAULTS.densityTiers], tskubelet: join(ROOT, 'bin/tskubelet'), upstream: undefined, outDir: join(ROOT, 'bench/results') };
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = splitFlag(a);
    const value = (): string | undefined => inline ?? argv[++i];
    explicit.add(flag);
    switch (flag) {
      case '--scenarios': o.scenarios = listOption(flag, value(), SCENARIOS); break;
      case '--agents': o.agents = listOption(flag, value(), AGENTS); break;
      case '--quick': o.quick = true; break;
      case '--rounds': o.rounds = intOption(flag, value(), 1, 9); break;
      case '--burst-pods': o.burstPods = intOption(flag, value(), 1, 250); break;
      case '--churn-pods': o.churnPods = intOption(flag, value(), 1, 1000); break;
      case '--churn-rate': o.churnRate = intOption(flag, value(), 1, 50); break;
      case '--churn-lifetime': o.churnLifetimeS = intOption(flag, value(), 0, 300); break;
      case '--lag-pods': o.lagPods = intOption(flag, value(), 1, 250); break;
      case '--density': {
        const v = value() ?? '';
        const tiers = v.split(',').map((s) => s.trim()).filter(Boolean).map((s) => intOption(flag, s, 0, 250));
        if (tiers.length === 0) throw new UsageError(`--density takes a comma-separated list of pod counts, got ${JSON.stringify(v)}`);
        o.densityTiers = [...new Set(tiers)].sort((x, y) => x - y);
        break;
      }
      case '--probe-pods': o.probePods = intOption(flag, value(), 1, 250); break;
      case '--hold': o.holdS = intOption(flag, value(), 5, 600); break;
      case '--window': o.windowS = intOption(flag, value(), 1, 60); break;
      case '--max-pods': o.maxPods = intOption(flag, value(), 10, 250); break;
      case '--v': o.verbosity = intOption(flag, value(), 0, 10); break;
      case '--wait': o.waitS = intOption(flag, value(), 0, 7200); break;
      case '--timeout': o.timeoutS = intOption(flag, value(), 60, 7200); break;
      case '--kubelet': o.tskubelet = resolve(value() ?? ''); break;
      case '--upstream': o.upstream = resolve(value() ?? ''); break;
      case '--out': o.outDir = resolve(value() ?? ''); break;
      case '-h': case '--help': throw new UsageError('');
      default: throw new UsageError(`unknown argument ${a}`);
    }
  }
  if (o.quick) {
    // Only what was not given explicitly.
    const q: Partial<Options> = { burstPods: 5, churnPods: 10, lagPods: 5, densityTiers: [0, 5, 10], probePods: 5, holdS: 20 };
    const flagOf: Record<string, string> = { burstPods: '--burst-pods', churnPods: '--churn-pods', lagPods: '--lag-pods', densityTiers: '--density', probePods: '--probe-pods', holdS: '--hold' };
    for (const [k, v] of Object.entries(q)) if (!explicit.has(flagOf[k] as string)) (o as unknown as Record<string, unknown>)[k] = v;
  }
  if (!explicit.has('--timeout')) o.timeoutS *= o.rounds;
  if (o.windowS > o.holdS) throw new UsageError(`--window (${o.windowS} s) must not exceed --hold (${o.holdS} s)`);
  const most = Math.max(o.scenarios.includes('burst') ? o.burstPods : 0, o.scenarios.includes('density') ? Math.max(...o.densityTiers) : 0, o.scenarios.includes('probes') ? o.probePods : 0, o.scenarios.includes('lag') ? o.lagPods : 0);
  if (most > o.maxPods) throw new UsageError(`a scenario needs ${most} pods on the node, more than --max-pods ${o.maxPods}`);
  return o;
}

function progress(msg: string): void {
  process.stderr.write(`bench:compare: ${msg}\n`);
}

class Interrupted extends Error {
  constructor(sig: string) {
    super(`interrupted by ${sig}`);
  }
}

/** One agent's run: what its clean-up must undo. */
interface AgentSession {
  agent: Agent;
  nodeName: string;
  ns: string;
  tempRoot: string;
  kubelet?: KubeletProcess;
  watch?: PodWatchRecorder;
  nsCreated: boolean;
  hostState?: HostState;
  unwatch: () => void;
  cleaned: boolean;
}

/** Everything the clean-up must undo; filled in as the bench goes. */
interface State {
  runId: string;
  lock?: HeldLock;
  admin?: HttpKubeClient;
  cri?: CriClient;
  session?: AgentSession;
  /** Set by a second Ctrl-C or when another kubelet appeared: no waiting for the agent. */
  hurry: boolean;
  fail: (err: Error) => void;
  phase: string;
  warnings: string[];
  /** Every node name this run registered (their late events are swept at the end). */
  nodes: string[];
  lastNodeDeletedAt: number;
  /** When the lock was held and the machine quiet (the run's own time starts there). */
  lockedAt: number;
}

async function main(): Promise<number> {
  const cmd = parseCommandLine('bench:compare', USAGE, parseArgs);
  if ('exitCode' in cmd) return cmd.exitCode;
  const opts = cmd.opts;
  const stop = new AbortController();
  const state: State = { runId: `${Date.now().toString(36)}-${process.pid}`, hurry: false, fail: (err) => stop.abort(err), phase: 'start-up', warnings: [], nodes: [], lastNodeDeletedAt: 0, lockedAt: 0 };
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      progress(`${sig}: stopping and cleaning up (again to kill the agent at once, a third time to exit now)`);
      stop.abort(new Interrupted(sig));
    } else if (interrupts === 2) {
      progress(`${sig}: killing the agent; its pods are removed straight on the runtime`);
      state.hurry = true;
      state.session?.kubelet?.killNow();
    } else {
      progress(`${sig}: exiting now; node ${state.session?.nodeName ?? '-'}, its pods and (after the upstream kubelet) the host state may remain: the next run removes and restores them`);
      process.exit(130);
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  const started = Date.now();
  let deadline: NodeJS.Timeout | undefined;
  let code = 0;
  try {
    const armDeadline = (): void => {
      deadline = setTimeout(() => stop.abort(new Error(`the bench did not finish within ${opts.timeoutS} s (--timeout)`)), opts.timeoutS * 1000);
      deadline.unref();
    };
    const result = await run(opts, state, armDeadline, stop.signal);
    result.totalMs = Date.now() - state.lockedAt;
    result.waitedMs = state.lockedAt - started;
    writeResults(opts, result);
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
    if (state.session) await cleanUpAgent(state, state.session);
    if (state.admin) await sweepNodeEvents(state);
    state.cri?.close();
    state.admin?.close();
    await state.lock?.release();
    progress(`done in ${Math.round((Date.now() - started) / 1000)} s${state.lockedAt ? ` (${Math.round((Date.now() - state.lockedAt) / 1000)} s holding the lock)` : ''}`);
  }
  return code;
}

async function run(opts: Options, state: State, armDeadline: () => void, signal: AbortSignal): Promise<CompareResult> {
  const upstreamBin = opts.agents.includes('upstream') ? (opts.upstream ?? upstreamKubeletBinary(ROOT, progress)) : '';
  if (upstreamBin && !existsSync(upstreamBin)) throw new Error(`no upstream kubelet at ${upstreamBin}`);
  const { cri, admin, apiServer } = await preflight(opts, state, signal);
  const containerd = await cri.version(signal);

  state.lock = await holdIntegrationLock(opts.waitS, progress, signal);
  progress(`holding the integration lock (${state.lock.how === 'inherited' ? 'taken by a parent process' : 'taken'})`);
  await waitForQuietMachine(opts.waitS * 1000, progress, signal);
  const others = otherKubelets([]);
  if (others.length > 0) throw new Error(`another kubelet runs on this machine (it would remove the bench's pods and the bench its): ${others.map((o) => o.line).join('; ')}`);
  state.lockedAt = Date.now();
  armDeadline();
  const loadavg = machineFacts().loadavg;
  const pending = restorePendingHostState(HOST_STATE_FILE);
  if (pending) progress(`an earlier run was killed while the upstream kubelet had changed the host; put back: ${pending.restored.join('; ') || 'nothing differed'}${pending.problems.length ? `; problems: ${pending.problems.join('; ')}` : ''}`);
  await removeLeftovers(admin, cri, signal);

  const runs: AgentRun[] = [];
  let firstConfig = '';
  for (let round = 1; round <= opts.rounds; round++) {
    if (opts.rounds > 1) progress(`round ${round} of ${opts.rounds}`);
    for (const agent of opts.agents) {
      const hex = randomBytes(3).toString('hex');
      const session: AgentSession = {
        agent, nodeName: `${NAME_PREFIX}${agent}-${hex}`, ns: `${NAME_PREFIX}${agent}-${hex}`, tempRoot: mkdtempSync(join(tmpdir(), TEMP_PREFIX)),
        nsCreated: false, unwatch: () => undefined, cleaned: false,
      };
      state.session = session;
      state.nodes.push(session.nodeName);
      const t0 = Date.now();
      const { run: r, config } = await runAgent(opts, state, session, agent === 'upstream' ? upstreamBin : opts.tskubelet, signal);
      firstConfig ||= config.replaceAll(session.tempRoot, '$TMP');
      await cleanUpAgent(state, session);
      r.runMs = Date.now() - t0;
      r.round = round;
      runs.push(r);
      state.session = undefined;
    }
  }
  return {
    date: new Date().toISOString(),
    commit: gitCommit(ROOT),
    machine: { ...machineFacts(), loadavg },
    containerd: `${containerd.runtime_name} ${containerd.runtime_version} (CRI ${containerd.runtime_api_version})`,
    apiServer,
    rounds: opts.rounds,
    options: { scenarios: opts.scenarios, burstPods: opts.burstPods, churnPods: opts.churnPods, churnRate: opts.churnRate, churnLifetimeS: opts.churnLifetimeS, lagPods: opts.lagPods, densityTiers: opts.densityTiers, probePods: opts.probePods, holdS: opts.holdS, windowS: opts.windowS, maxPods: opts.maxPods },
    runs,
    kubeletConfig: firstConfig,
    totalMs: 0,
    waitedMs: 0,
    plotFile: '',
    warnings: state.warnings,
  };
}

/** Checks containerd, the images, the agents' commands and the control plane. */
async function preflight(opts: Options, state: State, signal: AbortSignal): Promise<{ cri: CriClient; admin: HttpKubeClient; apiServer: string }> {
  if (opts.agents.includes('tskubelet') && !existsSync(opts.tskubelet)) throw new Error(`no tskubelet at ${opts.tskubelet}`);
  return connectBenchClients((c) => Object.assign(state, c), signal);
}

/** "pid: command" of a process and its ancestors (up to 5), to tell who started it. */
function ancestry(pid: number): string {
  const chain: string[] = [];
  for (let p = pid, depth = 0; p > 1 && depth < 6; depth++) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      chain.push(`${p}: ${cmd.slice(0, 100)}`);
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
    } catch {
      break;
    }
  }
  return chain.join(' <- ');
}

/** Whether src/ has uncommitted changes (the measured tskubelet is then not the commit alone). */
function treeDirty(): boolean {
  try {
    return execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {
    return false;
  }
}

/** Kubelets of any kind running now, other than `own` (and their children): pid and ancestry. */
function otherKubelets(own: readonly number[]): { pid: number; line: string }[] {
  const busy = busyProcesses([...own]);
  const found = busy.kubelets.map((p) => p.pid);
  for (const p of listProcesses(false)) {
    if (basename(p.argv[0] ?? '') === 'kubelet' && !own.includes(p.pid)) found.push(p.pid);
  }
  return found.map((pid) => ({ pid, line: `kubelet ${ancestry(pid)}` }));
}

/** Removes what killed earlier runs left: labelled namespaces and Nodes, their runtime pods, temp folders. */
function removeLeftovers(admin: HttpKubeClient, cri: CriClient, signal: AbortSignal): Promise<void> {
  return removeBenchLeftovers(admin, cri, { label: COMPARE_LABEL, namePrefix: NAME_PREFIX, tempPrefix: TEMP_PREFIX, beforeRemovingTemp: (dir) => unmountUnder(dir), progress }, signal);
}

/** Polls the agent's /healthz until it answers ok; throws with its log's tail if it exits or times out. */
async function waitHealthy(session: AgentSession, port: number, signal: AbortSignal): Promise<void> {
  const kubelet = session.kubelet as KubeletProcess;
  const until = Date.now() + AGENT_READY_TIMEOUT_MS;
  for (;;) {
    signal.throwIfAborted();
    if (!kubelet.running) throw new Error(`${session.agent} ${kubelet.describeExit()} during start-up:\n${kubelet.tail().join('\n')}`);
    if (Date.now() > until) throw new Error(`${session.agent} did not answer /healthz within ${AGENT_READY_TIMEOUT_MS / 1000} s:\n${kubelet.tail().join('\n')}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) }).then((res) => res.ok, () => false);
    if (ok) return;
    await sleep(100, undefined, { signal });
  }
}

/**
 * Every WATCH_MS: another kubelet (seen in two scans in a row) fails the bench at once (it and
 * ours would remove each other's pods: ours is killed first); a `node --test` run appearing is a
 * warning on the current phase. Returns the function that stops watching.
 */
function watchMachine(state: State, session: AgentSession): () => void {
  const warned = new Set<string>();
  let suspects = new Set<number>();
  const timer = setInterval(() => {
    const own = session.kubelet?.pid === undefined ? [] : [session.kubelet.pid];
    const now = otherKubelets(own);
    const confirmed = now.filter((o) => suspects.has(o.pid));
    suspects = new Set(now.map((o) => o.pid));
    if (confirmed.length > 0) {
      clearInterval(timer);
      state.hurry = true;
      session.kubelet?.killNow();
      state.fail(new Error(`another kubelet started meanwhile although this bench holds ${INTEGRATION_LOCK}; ours was stopped so that neither removes the other's pods: ${confirmed.map((o) => o.line).join('; ')}`));
      return;
    }
    const tests = busyProcesses(own).tests;
    if (tests.length > 0 && !warned.has(state.phase)) {
      warned.add(state.phase);
      const msg = `a test run (pid ${tests.map((p) => p.pid).join(', ')}) ran during ${state.phase}: its numbers are disturbed`;
      state.warnings.push(msg);
      progress(`WARNING: ${msg}`);
    }
  }, WATCH_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Starts one agent, runs the selected scenarios against it, returns what they measured (clean-up is the caller's). */
async function runAgent(opts: Options, state: State, session: AgentSession, command: string, signal: AbortSignal): Promise<{ run: AgentRun; config: string }> {
  const admin = state.admin as HttpKubeClient;
  const cri = state.cri as CriClient;
  const { agent, nodeName, ns, tempRoot } = session;
  state.phase = `${agent}: start-up`;
  const dirs = { config: join(tempRoot, 'kubelet-config.yaml'), kubeconfig: join(tempRoot, 'kubelet.kubeconfig'), certDir: join(tempRoot, 'pki'), rootDir: join(tempRoot, 'root') };
  const podLogsDir = join(tempRoot, 'pod-logs');
  for (const d of [dirs.certDir, dirs.rootDir, podLogsDir]) mkdirSync(d, { recursive: true });
  const [healthzPort = 0, port = 0] = await freePorts(2);
  const config = kubeletConfigYaml({ podLogsDir, healthzPort, port, maxPods: opts.maxPods });
  writeFileSync(dirs.config, config);
  const args = agentArgs(agent, dirs, BOOTSTRAP_KUBECONFIG, nodeName, `${COMPARE_LABEL}=${state.runId}`, opts.verbosity);
  if (agent === 'upstream') {
    session.hostState = snapshotHostState();
    saveHostState(HOST_STATE_FILE, session.hostState);
  }
  progress(`${agent}: starting as node ${nodeName} (log: ${join(tempRoot, 'kubelet.log')})`);
  const t0 = Date.now();
  const kubelet = new KubeletProcess({ command, args, cwd: ROOT, logFile: join(tempRoot, 'kubelet.log'), onLine: () => undefined });
  session.kubelet = kubelet;
  session.unwatch = watchMachine(state, session);
  const alive = (): void => {
    if (!kubelet.running) throw new Error(`${agent} ${kubelet.describeExit()}:\n${kubelet.tail().join('\n')}`);
  };
  await waitHealthy(session, healthzPort, signal);
  await waitNodeSchedulable(admin, nodeName, NODE_READY_TIMEOUT_MS, alive, signal);
  const joinMs = Date.now() - t0;
  progress(`${agent}: node ${nodeName} Ready after ${(joinMs / 1000).toFixed(1)} s`);

  await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [COMPARE_LABEL]: state.runId } } }, signal });
  session.nsCreated = true;
  await waitNamespaceReady(admin, ns, NAMESPACE_READY_TIMEOUT_MS, signal);
  const clock = new WallClock();
  const watch = new PodWatchRecorder({ client: admin, namespace: ns, now: () => clock.now(), warn: (m) => state.warnings.push(`${agent}: ${m}`) });
  await watch.start(signal);
  session.watch = watch;
  const ctx: ScenarioContext = {
    admin, cri, watch, clock, ns, nodeName, runId: state.runId, agentPid: kubelet.pid ?? 0, alive,
    progress: (m) => progress(`${agent}: ${m}`), warn: (m) => state.warnings.push(`${agent}: ${m}`), signal,
  };

  state.phase = `${agent}: warm-up`;
  progress(`${agent}: warm-up (${WARM_UP_PODS} pods)`);
  const warm = Array.from({ length: WARM_UP_PODS }, (_, i) => `warm-${i}`);
  await startAll(ctx, warm, 'sleep');
  await removeAll(ctx, warm);

  const version = agent === 'upstream' ? upstreamVersion(command) : `tskubelet ${gitCommit(ROOT)}${treeDirty() ? ' + uncommitted changes in src/' : ''}`;
  const r: AgentRun = { agent, version, nodeName, command: [command.startsWith(ROOT) ? command.slice(ROOT.length + 1) : command, ...args.map((a) => a.replace(tempRoot, '$TMP').replace(`${ROOT}/`, ''))], joinMs, runMs: 0 };
  const has = (s: Scenario): boolean => opts.scenarios.includes(s);
  const tiers = has('density') ? [...opts.densityTiers] : [];
  const population: string[] = [];
  const hold = async (target: number): Promise<void> => {
    state.phase = `${agent}: density ${target}`;
    const h = await runDensityTier(ctx, target, population, opts.holdS, opts.windowS);
    (r.density ??= []).push(h);
    const cores = h.windows.map((w) => w.agentCores);
    progress(`${agent}: density ${target}: agent CPU mean ${(cores.reduce((a, b) => a + b, 0) / cores.length).toFixed(3)} cores, RSS ${Math.round(h.windows[h.windows.length - 1]?.agentRssMiB ?? Number.NaN)} MiB`);
  };
  if (tiers[0] === 0) await hold(tiers.shift() as number);
  if (has('burst')) {
    state.phase = `${agent}: burst`;
    progress(`${agent}: burst of ${opts.burstPods} pods`);
    const b = await runBurst(ctx, opts.burstPods);
    r.burst = b.result;
    population.push(...b.names);
    progress(`${agent}: burst: all Running and Ready after ${Math.round(b.result.wallMs)} ms`);
  }
  for (const t of tiers) await hold(t);
  if (population.length > 0) {
    state.phase = `${agent}: removing ${population.length} pods`;
    progress(`${agent}: deleting the ${population.length} running pods`);
    await removeAll(ctx, population.splice(0));
  }
  if (has('churn')) {
    state.phase = `${agent}: churn`;
    progress(`${agent}: churn: ${opts.churnPods} pods at ${opts.churnRate}/s`);
    r.churn = await runChurn(ctx, opts.churnPods, opts.churnRate, opts.churnLifetimeS);
  }
  if (has('lag')) {
    state.phase = `${agent}: status lag`;
    progress(`${agent}: status lag: ${opts.lagPods} pods`);
    r.lag = await runLag(ctx, opts.lagPods);
  }
  if (has('probes')) {
    state.phase = `${agent}: probes`;
    progress(`${agent}: probes: ${opts.probePods} pods`);
    r.probes = await runProbes(ctx, opts.probePods, opts.holdS, opts.windowS);
  }
  return { run: r, config };
}

/**
 * Undoes one agent's run, whatever happened; never throws, reports what it could not undo:
 * the pods are deleted through the API and the agent (when it still runs) stops them; the agent
 * stops; what the runtime still has of the namespace is removed by CRI; pods left in the API are
 * force-deleted with the namespace; the Node, its Lease, CSRs and events go; its folders are
 * unmounted and removed; after the upstream kubelet, the host state is put back.
 */
async function cleanUpAgent(state: State, s: AgentSession): Promise<void> {
  if (s.cleaned) return;
  s.cleaned = true;
  state.phase = `${s.agent}: clean-up`;
  const bounded = (ms: number): AbortSignal => AbortSignal.timeout(ms);
  const { admin, cri } = state;
  const kubelet = s.kubelet;
  if (admin && s.nsCreated && kubelet?.running && !state.hurry) {
    try {
      const left = await admin.request<{ items?: unknown[] }>('GET', `/api/v1/namespaces/${s.ns}/pods`, { signal: bounded(10_000) });
      const n = left.items?.length ?? 0;
      if (n > 0) {
        progress(`${s.agent}: clean-up: deleting ${n} pod(s) of ${s.ns}`);
        await admin.request('DELETE', `/api/v1/namespaces/${s.ns}/pods`, { signal: bounded(30_000) });
        const until = Date.now() + CLEANUP_PODS_BASE_MS + n * 1000;
        while (!state.hurry && kubelet.running && Date.now() < until) {
          const apiLeft = await admin.request<{ items?: unknown[] }>('GET', `/api/v1/namespaces/${s.ns}/pods`, { signal: bounded(10_000) }).then((l) => l.items?.length ?? 0, () => -1);
          const running = cri ? await cri.listPodSandbox({ label_selector: { 'io.kubernetes.pod.namespace': s.ns } }, bounded(10_000)).then((l) => l.filter((x) => x.state === 'SANDBOX_READY').length, () => -1) : 0;
          if (apiLeft === 0 && running === 0) break;
          await sleep(250);
        }
      }
    } catch (err) {
      progress(`${s.agent}: clean-up: deleting the pods of ${s.ns}: ${errorMessage(err)}`);
    }
  }
  s.unwatch();
  try {
    await kubelet?.stop();
  } catch (err) {
    progress(`${s.agent}: clean-up: stopping it: ${errorMessage(err)}`);
    kubelet?.killNow();
  }
  await s.watch?.stop().catch(() => undefined);
  if (cri) {
    let problems: string[] = [];
    for (let pass = 0; pass < 3; pass++) {
      try {
        const left = await findNamespacePods(cri, (n) => n === s.ns, bounded(20_000));
        if (left.sandboxIds.length + left.containerIds.length === 0) {
          problems = [];
          break;
        }
        if (pass === 0) progress(`${s.agent}: clean-up: removing ${left.sandboxIds.length} sandbox(es) and ${left.containerIds.length} container(s) of ${s.ns} straight on the runtime`);
        problems = await removeRuntimePods(cri, left, bounded(60_000));
      } catch (err) {
        problems = [errorMessage(err)];
      }
      await sleep(500);
    }
    if (problems.length > 0) {
      const msg = `${s.agent}: could not remove every pod of ${s.ns} from the runtime (${problems.slice(0, 3).join('; ')}); the next run removes them`;
      progress(`clean-up: ${msg}`);
      state.warnings.push(msg);
    }
  }
  if (admin) {
    if (s.nsCreated) {
      await admin.request('DELETE', `/api/v1/namespaces/${s.ns}/pods`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }, signal: bounded(30_000) }).catch(() => undefined);
      await admin.request('DELETE', `/api/v1/namespaces/${s.ns}`, { signal: bounded(30_000) }).catch((err: unknown) => {
        if (!isApiNotFound(err)) progress(`${s.agent}: clean-up: deleting namespace ${s.ns}: ${errorMessage(err)}`);
      });
    }
    if (kubelet) {
      const problems = await deleteNodeObjects(admin, s.nodeName, bounded(30_000)).catch((err: unknown) => [errorMessage(err)]);
      state.lastNodeDeletedAt = Date.now();
      if (problems.length > 0) progress(`${s.agent}: clean-up: node ${s.nodeName}: ${problems.join('; ')}`);
    }
    if (s.nsCreated) {
      const until = Date.now() + NAMESPACE_GONE_TIMEOUT_MS;
      for (;;) {
        const gone = await admin.request('GET', `/api/v1/namespaces/${s.ns}`, { signal: bounded(10_000) }).then(() => false, (err: unknown) => isApiNotFound(err));
        if (gone) break;
        if (Date.now() > until) {
          progress(`${s.agent}: clean-up: namespace ${s.ns} is still terminating (the namespace controller finishes it; the next run removes it otherwise)`);
          break;
        }
        await sleep(500);
      }
    }
  }
  removeContainerLogLinks(s.ns);
  const logCopy = join(tmpdir(), `tskubelet-compare.${s.agent}.log`);
  try {
    if (existsSync(join(s.tempRoot, 'kubelet.log'))) writeFileSync(logCopy, readFileSync(join(s.tempRoot, 'kubelet.log')));
    progress(`${s.agent}: its log: ${logCopy}`);
  } catch (err) {
    progress(`${s.agent}: could not keep its log: ${errorMessage(err)}`);
  }
  unmountUnder(s.tempRoot);
  rmSync(s.tempRoot, { recursive: true, force: true });
  if (s.hostState) {
    const r = restoreHostState(s.hostState);
    if (r.restored.length > 0) progress(`${s.agent}: host state put back: ${r.restored.join('; ')}`);
    if (r.problems.length > 0) {
      const msg = `${s.agent}: host state not fully put back: ${r.problems.join('; ')}`;
      progress(msg);
      state.warnings.push(msg);
    }
    try {
      unlinkSync(HOST_STATE_FILE);
    } catch {
      // already gone
    }
  }
}

/**
 * The node lifecycle controller reports a deleted Node ("RemovingNode", an event in `default`)
 * up to its monitor period (5 s) later: waits until that long after the last deletion, then
 * deletes the events of every node of this run. Never throws.
 */
async function sweepNodeEvents(state: State): Promise<void> {
  if (state.nodes.length === 0 || !state.admin) return;
  const wait = state.lastNodeDeletedAt + NODE_EVENTS_LATE_MS - Date.now();
  if (wait > 0) await sleep(wait);
  for (const node of state.nodes) {
    await state.admin.request('DELETE', '/api/v1/namespaces/default/events', { query: { fieldSelector: `involvedObject.name=${node}` }, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  }
}

// --- results ------------------------------------------------------------------------------------------

const COLORS: Record<Agent, string> = { upstream: '#1f77b4', tskubelet: '#d62728' };

/** The CDF panels: every latency distribution both agents' runs measured. */
function plotPanels(runs: readonly AgentRun[]): CdfPanel[] {
  const panel = (title: string, get: (r: AgentRun) => readonly number[] | undefined): CdfPanel | null => {
    // One series per agent: with several rounds, their samples pooled.
    const series = AGENTS.flatMap((agent) => {
      const own = runs.filter((r) => r.agent === agent).map(get).filter((v): v is readonly number[] => v !== undefined);
      return own.length ? [{ name: agent, color: COLORS[agent], values: own.flat() }] : [];
    });
    return series.length > 0 ? { title, unit: 'ms', series } : null;
  };
  const first = runs.find((r) => r.burst || r.churn || r.lag || r.probes);
  const panels = [
    panel(`burst: create → Running and Ready (${first?.burst?.pods ?? 0} pods at once)`, (r) => r.burst?.startMs),
    panel(`churn: create → Running and Ready (${first?.churn?.ratePerS ?? 0}/s)`, (r) => r.churn?.startMs),
    panel('churn: DELETE → gone from the API', (r) => r.churn?.deleteMs),
    panel('status lag: container exit → terminated in the API', (r) => r.lag?.lagMs),
    panel(`probes: readiness flip → new Ready value in the API (${first?.probes?.pods ?? 0} pods)`, (r) => r.probes?.readyLagMs),
    panel(`probe pods: create → Running and Ready (${first?.probes?.pods ?? 0} at once)`, (r) => r.probes?.start.startMs),
  ];
  return panels.filter((p): p is CdfPanel => p !== null);
}

/** Known differences between the two runs, for the report. */
function fairnessNotes(opts: Options): string[] {
  return [
    'Order: the upstream kubelet always runs first, then tskubelet, in one bench run; nothing else runs pods meanwhile (the integration lock is held throughout). The API server, etcd and containerd have served the first agent\'s pods when the second starts (stopped sandboxes of each agent are removed before the next starts).',
    'The upstream kubelet does work that tskubelet does only in part or not yet (see README "Not yet"), and pays for it in CPU and memory: cadvisor\'s container stats housekeeping (every container, every 10-15 s), the eviction manager, image and container garbage collection, the CPU/memory/device/DRA/topology managers, CSI and plugin watchers. Where tskubelet skips such work its CPU and RSS figures are for a smaller job.',
    'The upstream kubelet removes dead sandboxes and containers in its container GC (once a minute); tskubelet removes them when the pod goes. The bench waits only until the runtime *runs* none of a scenario\'s sandboxes before the next scenario, and removes what each agent left by CRI after it stopped; the upstream kubelet\'s GC work may fall into a later scenario\'s window.',
    'tskubelet runs on Node.js 24 (TypeScript by type stripping) from `bin/tskubelet`; the upstream kubelet is a static Go binary built here with CGO_ENABLED=0, -trimpath, stripped, like a release build. RSS: V8 keeps garbage until its next collection; Go\'s heap grows to twice the live heap (GOGC=100) before collecting.',
    `Both run at --v=${opts.verbosity}; the upstream kubelet also gets --pod-infra-container-image (only an image-GC hint in 1.34). Its own oom_score_adj (-999 by default) is refused on this machine, so both run with oomScoreAdj 0; the pods' negative values are clamped by containerd for both.`,
    'The upstream kubelet relists the runtime every second (Generic PLEG; Evented PLEG is alpha and off), which sets the floor of its status lag; tskubelet\'s behaviour is its own.',
    'The upstream kubelet changes the host: with protectKernelDefaults false it sets vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1; with cgroupsPerQOS it writes the QoS cgroups (kubepods limits, besteffort cpu.shares=2); it creates /var/lib/kubelet/device-plugins. The bench puts all of it back as they were once the upstream run is over, so tskubelet starts from the host as the bench found it.',
    'The bench itself (its watch, CRI calls, /proc reads) runs on the same two CPUs during both runs; a window\'s machine CPU includes it.',
  ];
}

function writeResults(opts: Options, result: CompareResult): void {
  const date = result.date.slice(0, 10);
  const base = `${date}-compare${opts.quick ? '-quick' : ''}${opts.rounds > 1 ? `-${opts.rounds}rounds` : ''}`;
  mkdirSync(opts.outDir, { recursive: true });
  result.plotFile = `${base}.svg`;
  const rows = roundRows(result.runs);
  const svg = renderCdfSvg(
    'Latency distributions: upstream kubelet vs tskubelet (empirical CDFs)',
    `${result.date}, ${result.machine.nproc} CPUs, ${result.containerd}, ${result.apiServer}; x: ms, y: fraction of pods`,
    plotPanels(result.runs),
  );
  writeFileSync(join(opts.outDir, result.plotFile), svg);
  const md = renderCompareMarkdown(result, fairnessNotes(opts));
  const mdPath = join(opts.outDir, `${base}.md`);
  writeFileSync(mdPath, md + '\n');
  writeFileSync(join(opts.outDir, `${base}.json`), JSON.stringify(result, null, 1) + '\n');
  process.stdout.write(md + '\n');
  for (const row of rows) progress(`${row.scenario}: ${row.figure}: ratio ${formatRatio(ratio(row.tskubelet, row.upstream))}`);
  progress(`results written to ${mdPath} (and .svg, .json beside it); whole run ${Math.round(result.totalMs / 1000)} s`);
}

process.exitCode = await main();

// npm run bench: how long tskubelet takes to start a burst of static pods, beside the time the
// runtime itself spends (RunPodSandbox + CreateContainer + StartContainer), and the same burst
// started by calling CRI directly (the runtime alone). The issue's target: tskubelet adds at
// most 100 ms at p50 over the runtime's own time on a 2-core machine.
//
// Flow: preflight (containerd answers, images present, no other tskubelet, leftovers of an
// earlier run removed) -> warm-up (2 pods straight on CRI) -> tskubelet started (child process,
// temp folders, free ports, --v=2) -> N rounds: write the manifests at once, wait until the log
// reports every pod Running, read the runtime's timestamps once, remove the manifests and wait
// until the runtime has none of the pods -> tskubelet stopped -> baseline on CRI -> report
// (Markdown on stdout and in bench/results/static-pods-<date>.md, raw data in .json).
// Progress goes to stderr. Always cleans up (pods, temp folders, the child), on error and on
// Ctrl-C too (a second Ctrl-C skips the wait for tskubelet; a third exits at once).
// Exit: 0 done (whatever the verdict, unless --check), 1 error, 2 bad arguments, 3 target
// missed with --check, 130 interrupted.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriClient } from '../src/cri/client.ts';
import { errorMessage } from '../src/common/errors.ts';
import { loadConfig } from '../src/config/load.ts';
import type { KubeletConfig } from '../src/config/types.ts';
import { CONTAINER_LOGS_DIR } from '../src/logs/paths.ts';
import { containerdPid, gitCommit, isBench, isTestRunOf, isTskubelet, listProcesses, machineBusyMs, machineFacts, processCpuMs, WallClock, type ProcessInfo } from './lib/host.ts';
import { KubeletLog } from './lib/kubelet-log.ts';
import { UsageError, intOption, splitFlag, parseCommandLine } from './lib/args.ts';
import { KubeletProcess, saveKubeletLog, waitKubeletStarted } from './lib/kubelet-process.ts';
import { manifestFile, manifestText, writeManifests } from './lib/manifests.ts';
import { freePorts } from './lib/ports.ts';
import { renderMarkdown, summarizeRound, verdict, type BenchResult, type KubeletPodSample, type RoundResult } from './lib/report.ts';
import { runBaseline, type BaselinePodSample } from './lib/runtime-baseline.ts';
import { checkRuntime, findBenchPods, findForeignManagedPods, readPodTimes, removeRuntimePods, RUNTIME_ENDPOINT, RUNTIME_SOCKET } from './lib/runtime.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Node name of the bench's tskubelet: pods are named <manifest name>-tsk-bench. */
const NODE_NAME = 'tsk-bench';
const TEMP_PREFIX = 'tskubelet-bench-';
const LOCK_FILE = join(tmpdir(), 'tskubelet-bench.lock');

/** Tuning (ms): how long each wait may take before the bench gives up with an error. */
const KUBELET_READY_TIMEOUT_MS = 30_000; // healthz answers and 'tskubelet started' logged
const ROUND_TIMEOUT_MS = 90_000; // every pod reported Running
const REMOVAL_TIMEOUT_MS = 60_000; // the runtime has none of the round's pods after the manifests went
const SETTLE_MS = 1_000; // quiet time before each round (tskubelet's relist and resyncs settle)
const LOG_DRAIN_MS = 300; // after the last Running line, for the runtime-time lines logged right after it
const POLL_MS = 25; // checks of the in-memory log state (no I/O)
const CLEANUP_PASSES = 3; // find-and-remove passes over bench pods at the end, 1 s apart
const WATCH_MS = 1_000; // scans of /proc for another tskubelet while the bench runs (a few ms of CPU each)

interface Options {
  rounds: number;
  pods: number;
  timeoutS: number;
  removeForeignPods: boolean;
  check: boolean;
  kubelet: string;
  outDir: string;
}

const USAGE = `Usage: npm run bench -- [options]
  --rounds N              rounds of tskubelet measurements (default 3)
  --pods N                pods per round and in the baseline (default 30)
  --timeout S             give up after S seconds in all (default 300)
  --remove-foreign-pods   proceed although the runtime has pods of another tskubelet (the bench's
                          tskubelet removes them as orphans); without it the bench refuses
  --check                 exit 3 when the overhead target is missed
  --kubelet PATH          the tskubelet command to measure (default bin/tskubelet)
  --out DIR               results folder (default bench/results)
`;

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { rounds: 3, pods: 30, timeoutS: 300, removeForeignPods: false, check: false, kubelet: join(ROOT, 'bin/tskubelet'), outDir: join(ROOT, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = splitFlag(a);
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--rounds': o.rounds = intOption(flag, value(), 1, 20); break;
      case '--pods': o.pods = intOption(flag, value(), 1, 100); break;
      case '--timeout': o.timeoutS = intOption(flag, value(), 30, 3600); break;
      case '--remove-foreign-pods': o.removeForeignPods = true; break;
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
  process.stderr.write(`bench: ${msg}\n`);
}

/** Everything the clean-up must undo; filled in as the bench goes. */
interface State {
  runId: string;
  lockTaken: boolean;
  tempRoot?: string;
  manifestDir?: string;
  cri?: CriClient;
  kubelet?: KubeletProcess;
  /** Set once the bench may have created pods (warm-up on): clean-up then asks the runtime. */
  touchedRuntime: boolean;
  /** Set by a second Ctrl-C: do not wait for tskubelet to remove the pods. */
  hurry: boolean;
  /** Stops the watch for other tskubelets. */
  unwatch: () => void;
  /** Aborts the bench with this error (from watchers). */
  fail: (err: Error) => void;
  /** Load average before the bench started anything. */
  loadavg?: [number, number, number];
}

async function main(): Promise<number> {
  const cmd = parseCommandLine('bench', USAGE, parseArgs);
  if ('exitCode' in cmd) return cmd.exitCode;
  const opts = cmd.opts;
  const stop = new AbortController();
  const state: State = { runId: `${Date.now().toString(36)}-${process.pid}`, lockTaken: false, touchedRuntime: false, hurry: false, unwatch: () => undefined, fail: (err) => stop.abort(err) };
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      progress(`${sig}: stopping and cleaning up (again to skip waiting for tskubelet, a third time to exit at once)`);
      stop.abort(new Interrupted(sig));
    } else if (interrupts === 2) {
      progress(`${sig}: killing tskubelet and removing the pods directly`);
      state.hurry = true;
      state.kubelet?.killNow();
    } else {
      progress(`${sig}: exiting now; pods and ${state.tempRoot ?? 'temp folders'} may remain (the next run removes leftover bench pods)`);
      process.exit(130);
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  const deadline = setTimeout(() => stop.abort(new Error(`the bench did not finish within ${opts.timeoutS} s (--timeout)`)), opts.timeoutS * 1000);
  deadline.unref();

  let code = 0;
  try {
    const result = await run(opts, state, stop.signal);
    const md = renderMarkdown(result);
    const date = result.date.slice(0, 10);
    mkdirSync(opts.outDir, { recursive: true });
    const mdPath = join(opts.outDir, `static-pods-${date}.md`);
    writeFileSync(mdPath, md + '\n');
    writeFileSync(join(opts.outDir, `static-pods-${date}.json`), JSON.stringify(result, null, 1) + '\n');
    process.stdout.write(md + '\n');
    progress(`results written to ${mdPath} (and .json beside it)`);
    const v = verdict(result.rounds.map((r) => summarizeRound(r, result.machine.nproc)));
    if (opts.check && !v.pass) code = 3;
  } catch (err) {
    if (err instanceof Interrupted || stop.signal.reason instanceof Interrupted) {
      code = 130;
    } else {
      const reason = stop.signal.aborted && !(stop.signal.reason instanceof Interrupted) ? stop.signal.reason : err;
      progress(`ERROR: ${errorMessage(reason)}`);
      code = 1;
    }
  } finally {
    clearTimeout(deadline);
    await cleanUp(state);
  }
  return code;
}

class Interrupted extends Error {
  constructor(sig: string) {
    super(`interrupted by ${sig}`);
  }
}

async function run(opts: Options, state: State, signal: AbortSignal): Promise<BenchResult> {
  const warnings: string[] = [];
  takeLock(state);
  const cri = await preflight(opts, state, warnings, signal);
  const containerd = await cri.version(signal);

  const tempRoot = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  state.tempRoot = tempRoot;
  const dirs = { manifests: join(tempRoot, 'manifests'), stage: join(tempRoot, 'stage'), root: join(tempRoot, 'root'), logs: join(tempRoot, 'pod-logs'), baseline: join(tempRoot, 'baseline') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  state.manifestDir = dirs.manifests;
  const [readOnlyPort, healthzPort] = await freePorts(2);
  const kubeletArgs = [
    '--pod-manifest-path', dirs.manifests, '--root-dir', dirs.root, '--pod-logs-dir', dirs.logs,
    '--hostname-override', NODE_NAME, '--read-only-port', String(readOnlyPort), '--healthz-port', String(healthzPort), '--v=2',
  ];
  const loaded = await loadConfig(kubeletArgs);
  if (!('config' in loaded)) throw new Error('unexpected --help in the tskubelet flags');
  const config: KubeletConfig = { ...loaded.config, rootDir: dirs.baseline };
  const clock = new WallClock();
  const baselineDeps = { cri, config, workDir: dirs.baseline, clock, runId: state.runId };

  progress('warm-up: 2 pods straight on CRI');
  state.touchedRuntime = true;
  state.unwatch = watchForOtherKubelets(state);
  const warm = await runBaseline(baselineDeps, 'bench-warm-p', 2, signal);
  await removeBenchPods(cri, state.runId, signal);
  const warmError = warm.find((w) => w.error)?.error;
  if (warmError) throw new Error(`the runtime cannot start a bench pod: ${warmError}`);

  const log = new KubeletLog();
  progress(`starting ${opts.kubelet} (log: ${join(tempRoot, 'kubelet.log')})`);
  const kubelet = new KubeletProcess({ command: opts.kubelet, args: kubeletArgs, cwd: ROOT, logFile: join(tempRoot, 'kubelet.log'), onLine: (l) => log.addLine(l) });
  state.kubelet = kubelet;
  await waitKubeletStarted(kubelet, () => log.started, healthzPort, KUBELET_READY_TIMEOUT_MS, signal);
  if (opts.removeForeignPods) await waitNoForeignPods(cri, kubelet, signal);
  const kubeletPid = kubelet.pid ?? 0;

  const rounds: RoundResult[] = [];
  for (let r = 1; r <= opts.rounds; r++) {
    await sleep(SETTLE_MS, undefined, { signal });
    progress(`round ${r}/${opts.rounds}: writing ${opts.pods} manifests`);
    const round = await runRound(r, opts.pods, { cri, kubelet, kubeletPid, log, clock, dirs, readOnlyPort, runId: state.runId }, signal);
    const s = summarizeRound(round, machineFacts().nproc);
    progress(`round ${r}: to running p50 ${s.toRunningP50.toFixed(0)} ms, runtime p50 ${s.runtimeP50.toFixed(0)} ms, overhead p50 ${s.overheadP50.toFixed(0)} ms, p99 ${s.overheadP99.toFixed(0)} ms`);
    rounds.push(round);
  }
  progress('stopping tskubelet');
  await kubelet.stop();
  const leftovers = await findBenchPods(cri, state.runId, signal);
  if (leftovers.sandboxIds.length > 0) warnings.push(`tskubelet left ${leftovers.sandboxIds.length} bench pod(s) behind after its manifests were removed`);
  await removeBenchPods(cri, state.runId, signal);

  await sleep(SETTLE_MS, undefined, { signal });
  progress(`runtime alone: ${opts.pods} pods straight on CRI`);
  const baseline: BaselinePodSample[] = await runBaseline(baselineDeps, 'bench-base-p', opts.pods, signal);
  progress('runtime alone: removing its pods');
  await removeBenchPods(cri, state.runId, signal);
  state.unwatch();
  const failed = baseline.filter((b) => b.error);
  if (failed.length > 0) warnings.push(`${failed.length} baseline pod(s) failed to start: ${failed[0]?.error}`);

  return {
    date: new Date().toISOString(),
    commit: gitCommit(ROOT),
    machine: { ...machineFacts(), loadavg: state.loadavg ?? machineFacts().loadavg },
    containerd: `${containerd.runtime_name} ${containerd.runtime_version} (CRI ${containerd.runtime_api_version})`,
    podsPerRound: opts.pods,
    rounds,
    baseline,
    kubeletArgs: [opts.kubelet.startsWith(ROOT) ? opts.kubelet.slice(ROOT.length + 1) : opts.kubelet, ...kubeletArgs.map((a) => a.replace(tempRoot, '$TMP'))],
    warnings,
  };
}

/** One bench at a time: a second one would remove the first one's pods as leftovers. */
function takeLock(state: State): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      state.lockTaken = true;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(LOCK_FILE, 'utf8').trim());
    const owner = listProcesses().find((p) => p.pid === pid);
    if (owner && isBench(owner.argv)) throw new Error(`another bench is running (pid ${pid}); wait until it ends`);
    rmSync(LOCK_FILE, { force: true }); // stale: its bench is gone
  }
  throw new Error(`cannot take ${LOCK_FILE}`);
}

/** Checks the machine can run the bench and removes what an earlier run left; returns the CRI client. */
async function preflight(opts: Options, state: State, warnings: string[], signal: AbortSignal): Promise<CriClient> {
  state.loadavg = machineFacts().loadavg;
  if (!existsSync(RUNTIME_SOCKET)) throw new Error(`containerd is not running (no socket at ${RUNTIME_SOCKET}): run npm run setup`);
  if (!existsSync(opts.kubelet)) throw new Error(`no tskubelet at ${opts.kubelet}`);
  let cri: CriClient;
  try {
    cri = new CriClient({ runtimeEndpoint: RUNTIME_ENDPOINT, requestTimeoutMs: 60_000 });
  } catch (err) {
    throw new Error(`${errorMessage(err)}`, { cause: err });
  }
  state.cri = cri;
  await checkRuntime(cri, signal);
  const others = otherKubelets(undefined);
  if (others.length > 0) {
    throw new Error(
      `another tskubelet is running (${others.map((p) => `pid ${p.pid}: ${p.argv.join(' ').slice(0, 120)}`).join('; ')}); ` +
        'it would remove the bench\'s pods (and the bench\'s tskubelet its pods): wait until it stops',
    );
  }
  const tests = listProcesses().filter((p) => isTestRunOf(p, ROOT));
  if (tests.length > 0) {
    throw new Error(`this project's tests are running (pid ${tests.map((p) => p.pid).join(', ')}): they share containerd and both CPUs; wait until they end`);
  }
  // No other bench runs (lock), so any bench pod or bench temp folder is a leftover.
  const leftovers = await findBenchPods(cri, null, signal);
  if (leftovers.sandboxIds.length + leftovers.containerIds.length > 0) {
    progress(`removing ${leftovers.sandboxIds.length} pod(s) left by an earlier bench run`);
    const problems = await removeRuntimePods(cri, leftovers, signal);
    if (problems.length > 0) throw new Error(`cannot remove the pods of an earlier bench run: ${problems[0]}`);
  }
  removeContainerLogLinks();
  for (const name of readdirSync(tmpdir())) {
    if (name.startsWith(TEMP_PREFIX)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const foreign = await findForeignManagedPods(cri, signal);
  if (foreign.length > 0) {
    const list = foreign.slice(0, 8).join(', ') + (foreign.length > 8 ? ', ...' : '');
    if (!opts.removeForeignPods) {
      throw new Error(
        `the runtime has ${foreign.length} pod(s) made by another tskubelet (${list}); the bench's tskubelet would remove them as orphans. ` +
          'Remove them (start tskubelet on their manifests and delete the manifests), or pass --remove-foreign-pods',
      );
    }
    warnings.push(`removed ${foreign.length} pod(s) of another tskubelet (--remove-foreign-pods): ${list}`);
    progress(`the bench's tskubelet will remove ${foreign.length} pod(s) of another tskubelet: ${list}`);
  }
  return cri;
}

/** tskubelet processes other than `mine` (the bench's own child). */
function otherKubelets(mine: number | undefined): ProcessInfo[] {
  return listProcesses(false).filter((p) => isTskubelet(p.argv) && p.pid !== mine && p.pid !== process.pid);
}

/**
 * From the first pod on: checks every WATCH_MS that no other tskubelet started (it would remove
 * the bench's pods, and the bench's tskubelet its pods). If one did, kills the bench's tskubelet
 * at once (so it removes nothing of the other's), makes the clean-up remove the bench's pods
 * itself, and fails the bench. Returns the function that stops watching.
 */
function watchForOtherKubelets(state: State): () => void {
  const timer = setInterval(() => {
    const others = otherKubelets(state.kubelet?.pid);
    if (others.length === 0) return;
    clearInterval(timer);
    state.hurry = true;
    state.kubelet?.killNow();
    state.fail(new Error(`another tskubelet started meanwhile (pid ${others.map((p) => p.pid).join(', ')}): stopped so that neither removes the other's pods; run the bench again when it is gone`));
  }, WATCH_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** With --remove-foreign-pods: waits until the bench's tskubelet has removed the other pods. */
async function waitNoForeignPods(cri: CriClient, kubelet: KubeletProcess, signal: AbortSignal): Promise<void> {
  const until = Date.now() + REMOVAL_TIMEOUT_MS;
  for (;;) {
    const foreign = await findForeignManagedPods(cri, signal);
    if (foreign.length === 0) return;
    if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()}:\n${kubelet.tail().join('\n')}`);
    if (Date.now() > until) throw new Error(`tskubelet did not remove the other tskubelet's pods within ${REMOVAL_TIMEOUT_MS / 1000} s: ${foreign.join(', ')}`);
    await sleep(250, undefined, { signal });
  }
}

interface RoundDeps {
  cri: CriClient;
  kubelet: KubeletProcess;
  kubeletPid: number;
  log: KubeletLog;
  clock: WallClock;
  dirs: { manifests: string; stage: string };
  readOnlyPort: number;
  runId: string;
}

/** One round: write the manifests at once, wait for every pod Running, measure, remove the manifests, wait until the pods are gone. */
async function runRound(round: number, count: number, d: RoundDeps, signal: AbortSignal): Promise<RoundResult> {
  const manifests = Array.from({ length: count }, (_, i) => {
    const name = `bench-r${round}-p${String(i).padStart(2, '0')}`;
    return { name, text: manifestText(name, d.runId), podName: `${name}-${NODE_NAME}` };
  });
  const podNames = new Set(manifests.map((m) => m.podName));
  const timeline = (podName: string) => d.log.pods.get(`default/${podName}`);
  const ctrdPid = containerdPid() ?? 0;

  d.clock.calibrate();
  const cpu0 = { busy: machineBusyMs(), kubelet: processCpuMs(d.kubeletPid), containerd: processCpuMs(ctrdPid), bench: process.cpuUsage() };
  const written = writeManifests(manifests, d.dirs.stage, d.dirs.manifests, () => d.clock.now());
  const firstWritten = Math.min(...written.values());

  const until = Date.now() + ROUND_TIMEOUT_MS;
  for (;;) {
    const pending = manifests.filter((m) => timeline(m.podName)?.reportedRunningMs === undefined);
    if (pending.length === 0) break;
    signal.throwIfAborted();
    if (!d.kubelet.running) throw new Error(`tskubelet ${d.kubelet.describeExit()} during round ${round}:\n${d.kubelet.tail().join('\n')}`);
    if (Date.now() > until) {
      const detail = pending.slice(0, 5).map((m) => {
        const t = timeline(m.podName);
        return `${m.podName}: ${t?.lastStatus ?? 'no status'}${t?.problems.length ? ` (${t.problems.slice(-1)[0]})` : ''}`;
      });
      const others = listProcesses().filter((p) => isTskubelet(p.argv) && p.pid !== d.kubelet.pid);
      throw new Error(
        `round ${round}: ${pending.length} pod(s) not reported Running after ${ROUND_TIMEOUT_MS / 1000} s: ${detail.join('; ')}` +
          (others.length ? `; another tskubelet started meanwhile (pid ${others.map((p) => p.pid).join(', ')}) and may have removed them` : ''),
      );
    }
    await sleep(POLL_MS, undefined, { signal });
  }
  const cpu1 = { busy: machineBusyMs(), kubelet: processCpuMs(d.kubeletPid), containerd: processCpuMs(ctrdPid), bench: process.cpuUsage(cpu0.bench) };
  const lastReported = Math.max(...manifests.map((m) => timeline(m.podName)?.reportedRunningMs ?? Number.NaN));
  await sleep(LOG_DRAIN_MS, undefined, { signal });

  const times = await readPodTimes(d.cri, podNames, signal);
  const seen = await readConfigSeen(d.readOnlyPort, signal);
  const pods: KubeletPodSample[] = manifests.map((m) => {
    const t = timeline(m.podName);
    const rt = times.get(m.podName);
    if (!rt || !rt.allRunning) throw new Error(`round ${round}: the runtime does not show ${m.podName} running although tskubelet reported it Running`);
    if (!t || t.syncsWithRuntime === 0) throw new Error(`round ${round}: no 'runtime time in this sync' log line for ${m.podName} (is --v=2 honoured?)`);
    return {
      round,
      name: m.podName,
      uid: rt.uid,
      writtenMs: written.get(m.name) ?? Number.NaN,
      seenMs: seen.get(m.podName) ?? Number.NaN,
      sandboxCreatedMs: rt.sandboxCreatedMs,
      sandboxReadyMs: t.sandboxReadyMs ?? Number.NaN,
      imageCheckedMs: t.imageCheckedMs ?? Number.NaN,
      containerCreatedMs: rt.containerCreatedMs,
      startedMs: rt.startedMs,
      reportedRunningMs: t.reportedRunningMs ?? Number.NaN,
      runtimeMs: t.runtimeMs,
      syncsWithRuntime: t.syncsWithRuntime,
    };
  });

  progress(`round ${round}: removing the manifests`);
  for (const m of manifests) rmSync(join(d.dirs.manifests, manifestFile(m.name)), { force: true });
  await waitPodsGone(d.cri, podNames, d.kubelet, signal);
  return {
    round,
    pods,
    wallMs: lastReported - firstWritten,
    machineBusyMs: cpu1.busy - cpu0.busy,
    kubeletCpuMs: cpu1.kubelet - cpu0.kubelet,
    containerdCpuMs: cpu1.containerd - cpu0.containerd,
    benchCpuMs: (cpu1.bench.user + cpu1.bench.system) / 1000,
  };
}

/** The config.seen annotation (the file source's first sight) of each pod, from /pods. */
async function readConfigSeen(port: number, signal: AbortSignal): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/pods`, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) });
  if (!res.ok) throw new Error(`GET /pods answered ${res.status}`);
  const list = (await res.json()) as { items?: { metadata?: { name?: string; annotations?: Record<string, string> } }[] };
  const out = new Map<string, number>();
  for (const p of list.items ?? []) {
    const seen = Date.parse(p.metadata?.annotations?.['kubernetes.io/config.seen'] ?? '');
    if (p.metadata?.name && !Number.isNaN(seen)) out.set(p.metadata.name, seen);
  }
  return out;
}

/** Waits until the runtime has no sandbox of these pods (tskubelet removes them after their manifests went). */
async function waitPodsGone(cri: CriClient, podNames: ReadonlySet<string>, kubelet: KubeletProcess, signal: AbortSignal): Promise<void> {
  const until = Date.now() + REMOVAL_TIMEOUT_MS;
  for (;;) {
    const left = await readPodTimes(cri, podNames, signal);
    if (left.size === 0) return;
    if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()} while removing pods:\n${kubelet.tail().join('\n')}`);
    if (Date.now() > until) throw new Error(`tskubelet did not remove ${left.size} pod(s) within ${REMOVAL_TIMEOUT_MS / 1000} s after their manifests were deleted: ${[...left.keys()].slice(0, 5).join(', ')}`);
    await sleep(250, undefined, { signal });
  }
}

/** Removes this run's bench pods straight on the runtime; throws if some cannot be removed. */
async function removeBenchPods(cri: CriClient, runId: string, signal?: AbortSignal): Promise<void> {
  const pods = await findBenchPods(cri, runId, signal);
  const problems = await removeRuntimePods(cri, pods, signal);
  if (problems.length > 0) throw new Error(`cannot remove bench pods: ${problems.slice(0, 3).join('; ')}`);
}

/** /var/log/containers links of bench pods (tskubelet removes them with the pods; this catches the rest). */
function removeContainerLogLinks(): void {
  let names: string[];
  try {
    names = readdirSync(CONTAINER_LOGS_DIR);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('bench-') && n.includes(`-${NODE_NAME}_default_`)) rmSync(join(CONTAINER_LOGS_DIR, n), { force: true });
}

/**
 * Undoes everything, whatever happened: the manifests go (so tskubelet removes its pods), then
 * tskubelet stops, then whatever bench pod remains is removed straight on the runtime, then the
 * temp folders and the lock. Never throws; reports what it could not undo.
 */
async function cleanUp(state: State): Promise<void> {
  const bounded = (ms: number): AbortSignal => AbortSignal.timeout(ms);
  const { cri, kubelet } = state;
  try {
    if (kubelet?.running) {
      if (state.manifestDir) for (const n of readdirSync(state.manifestDir)) rmSync(join(state.manifestDir, n), { force: true });
      if (cri) {
        const until = Date.now() + 30_000;
        while (!state.hurry && kubelet.running && Date.now() < until) {
          const left = await findBenchPods(cri, state.runId, bounded(10_000)).catch(() => null);
          if (left && left.sandboxIds.length === 0) break;
          await sleep(250);
        }
      }
      await kubelet.stop();
    }
  } catch (err) {
    progress(`clean-up: stopping tskubelet: ${errorMessage(err)}`);
    kubelet?.killNow();
  }
  if (cri && state.touchedRuntime) {
    // A few passes: a stop still in flight (from a killed tskubelet) can make a removal fail once.
    let problems: string[] = [];
    for (let pass = 0; pass < CLEANUP_PASSES; pass++) {
      try {
        const left = await findBenchPods(cri, state.runId, bounded(20_000));
        if (left.sandboxIds.length + left.containerIds.length === 0) {
          problems = [];
          break;
        }
        if (pass === 0) progress(`clean-up: removing ${left.sandboxIds.length} bench pod(s) straight on the runtime`);
        problems = await removeRuntimePods(cri, left, bounded(60_000));
      } catch (err) {
        problems = [errorMessage(err)];
      }
      await sleep(1_000);
    }
    if (problems.length > 0) progress(`clean-up: could not remove every bench pod (${problems.slice(0, 3).join('; ')}); the next run removes them`);
  }
  cri?.close();
  state.unwatch();
  removeContainerLogLinks();
  saveKubeletLog(state.tempRoot, 'tskubelet-bench.last-kubelet.log', progress);
  if (state.tempRoot) rmSync(state.tempRoot, { recursive: true, force: true });
  if (state.lockTaken) {
    try {
      if (readFileSync(LOCK_FILE, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK_FILE);
    } catch {
      // already gone
    }
  }
}

process.exitCode = await main();

// npm run bench:probes: how quickly readiness probe results reach the pod status, and what
// probing costs. Issue 4's target: with 100 pods each carrying a 1 s exec readiness probe,
// probe results reach the pod status with p99 lag under 1.5 s and tskubelet's CPU stays under
// 25% of one core.
//
// Flow: wait for a quiet machine (no other tskubelet, no `node --test`) -> preflight (containerd
// answers, images present, leftovers of earlier bench runs removed, no pods of another
// tskubelet) -> tskubelet started (child, temp folders, free ports, --v=2) -> N manifests
// written; each pod's busybox container makes /tmp/ready exist during even 10 s wall-clock slots
// and not during odd ones (checked every 0.2 s), its readiness probe is `test -f /tmp/ready`
// every 1 s -> once every pod runs, for --duration seconds: every readiness transition from
// tskubelet's 'pod status' log lines (lag = line time - the 10 s boundary it answers), CPU and
// RSS of tskubelet and containerd in 10 s windows, and the runtime's ExecSync latency (the bench
// itself runs the probe's command on one bench container per second) -> report (Markdown on
// stdout and in bench/results/probes-<date>[-<N>pods].md). Progress goes to stderr.
// Always cleans up: manifests removed, waits until the runtime has none of the bench pods,
// tskubelet stopped, leftovers removed straight on CRI, temp folders removed.
// Exit: 0 done (whatever the verdict), 1 error, 2 bad arguments, 130 interrupted.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriClient } from '../src/cri/client.ts';
import { errorMessage } from '../src/common/errors.ts';
import { CONTAINER_LOGS_DIR } from '../src/logs/paths.ts';
import { containerdPid, gitCommit, listProcesses, machineBusyMs, machineFacts, processCpuMs } from './lib/host.ts';
import { UsageError, intOption, splitFlag, parseCommandLine } from './lib/args.ts';
import { KubeletProcess, saveKubeletLog } from './lib/kubelet-process.ts';
import { BENCH_IMAGE } from './lib/manifests.ts';
import { freePorts } from './lib/ports.ts';
import { runtimeHelpersCpuMs } from './lib/proc-cpu.ts';
import { boundariesIn, parseReadinessLine, SLOT_MS, TransitionTracker, type Transition } from './lib/probe-lag.ts';
import { busyProcesses, describeBusy, waitForQuietMachine } from './lib/quiet.ts';
import { BENCH_LABEL, checkRuntime, findBenchPods, findForeignManagedPods, removeRuntimePods, RUNTIME_ENDPOINT } from './lib/runtime.ts';
import { percentile, summarize, type Summary } from './lib/stats.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Node name of the bench's tskubelet: pods are named <manifest name>-tsk-bench. */
const NODE_NAME = 'tsk-bench';
const TEMP_PREFIX = 'tskubelet-probes-';
const POD_PREFIX = 'probe-p';

/** Tuning (ms). */
const QUIET_TIMEOUT_MS = 30 * 60_000; // longest wait for other tskubelets / test runs to end
const KUBELET_READY_TIMEOUT_MS = 30_000; // healthz answers
const RUNNING_TIMEOUT_MS = 300_000; // every pod reported Running (100 pods on 2 cores take ~1 min)
const WARMUP_MS = 2_000; // after every pod runs, before the first counted boundary (first probes settle)
const DRAIN_MS = 3_000; // after the window, for the transitions of its last boundaries
const CPU_WINDOW_MS = 10_000; // CPU sampling window
const EXEC_SAMPLE_MS = 1_000; // the bench's own ExecSync, one per this period (1% of the probes' load at 100 pods)
const REMOVAL_TIMEOUT_MS = 120_000; // the runtime has none of the pods after the manifests went
/** Target of issue 4. */
const TARGET_LAG_P99_MS = 1_500;
const TARGET_CPU_PCT = 25;
/** The container checks its schedule every this many ms (its `sleep 0.2`). */
const CONTAINER_STEP_MS = 200;
const PROBE_PERIOD_S = 1;

interface Options {
  pods: number;
  durationS: number;
  kubelet: string;
  outDir: string;
  removeForeignPods: boolean;
}

const USAGE = `Usage: npm run bench:probes -- [options]
  --pods N          pods, each with a 1 s exec readiness probe (default 100)
  --duration S      measured seconds once every pod runs (default 60)
  --kubelet PATH    the tskubelet command to measure (default bin/tskubelet)
  --out DIR         results folder (default bench/results)
  --remove-foreign-pods  proceed although the runtime has pods of another tskubelet (the bench's
                    tskubelet removes them as orphans); without it the bench refuses
`;

class Interrupted extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { pods: 100, durationS: 60, kubelet: join(ROOT, 'bin/tskubelet'), outDir: join(ROOT, 'bench/results'), removeForeignPods: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = splitFlag(a);
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--pods': o.pods = intOption(flag, value(), 1, 300); break;
      case '--duration': o.durationS = intOption(flag, value(), 10, 3600); break;
      case '--kubelet': o.kubelet = resolve(value() ?? ''); break;
      case '--out': o.outDir = resolve(value() ?? ''); break;
      case '--remove-foreign-pods': o.removeForeignPods = true; break;
      case '-h': case '--help': throw new UsageError('');
      default: throw new UsageError(`unknown argument ${a}`);
    }
  }
  return o;
}

function progress(msg: string): void {
  process.stderr.write(`bench:probes: ${msg}\n`);
}

/** The shell loop of each bench container: ready in even 10 s slots, TERM ends it at once. */
const TOGGLE_SCRIPT =
  "trap 'exit 0' TERM; while true; do s=$(date +%s); " +
  'if [ $(( (s / 10) % 2 )) -eq 0 ]; then touch /tmp/ready; else rm -f /tmp/ready; fi; sleep 0.2; done';

/** The manifest of one probe bench pod (YAML; JSON strings are YAML strings). */
function probeManifest(name: string, runId: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    '  namespace: default',
    '  labels:',
    `    ${BENCH_LABEL}: "${runId}"`,
    'spec:',
    '  terminationGracePeriodSeconds: 2',
    '  containers:',
    '    - name: toggle',
    `      image: ${BENCH_IMAGE}`,
    '      imagePullPolicy: IfNotPresent',
    `      command: ["sh", "-c", ${JSON.stringify(TOGGLE_SCRIPT)}]`,
    '      readinessProbe:',
    '        exec:',
    '          command: ["test", "-f", "/tmp/ready"]',
    `        periodSeconds: ${PROBE_PERIOD_S}`,
    '        failureThreshold: 1',
    '        successThreshold: 1',
    '        timeoutSeconds: 1',
    '',
  ].join('\n');
}

/** One 10 s sample of CPU (% of one core) and RSS (MiB). */
interface CpuWindow {
  kubeletPct: number;
  containerdPct: number;
  helpersPct: number;
  machinePct: number;
  kubeletRssMiB: number;
  containerdRssMiB: number;
}

interface Result {
  date: string;
  commit: string;
  pods: number;
  durationS: number;
  startupS: number;
  windowStartMs: number;
  windowEndMs: number;
  boundaries: number;
  transitions: Transition[];
  spurious: Transition[];
  missing: number;
  cpu: CpuWindow[];
  execMs: number[];
  execErrors: number;
  loadavg: [number, number, number];
  containerd: string;
}

/** Everything the clean-up must undo. */
interface State {
  runId: string;
  tempRoot?: string;
  manifestDir?: string;
  cri?: CriClient;
  kubelet?: KubeletProcess;
  hurry: boolean;
}

async function main(): Promise<number> {
  const cmd = parseCommandLine('bench:probes', USAGE, parseArgs);
  if ('exitCode' in cmd) return cmd.exitCode;
  const opts = cmd.opts;
  const stop = new AbortController();
  const state: State = { runId: `probes-${Date.now().toString(36)}-${process.pid}`, hurry: false };
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      progress(`${sig}: stopping and cleaning up (again to kill tskubelet and remove the pods directly)`);
      stop.abort(new Interrupted(sig));
    } else {
      state.hurry = true;
      state.kubelet?.killNow();
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  let code = 0;
  try {
    const result = await run(opts, state, stop.signal);
    const md = renderReport(result);
    mkdirSync(opts.outDir, { recursive: true });
    const file = join(opts.outDir, `probes-${result.date.slice(0, 10)}${opts.pods === 100 ? '' : `-${opts.pods}pods`}.md`);
    writeFileSync(file, md + '\n');
    process.stdout.write(md + '\n');
    progress(`results written to ${file}`);
  } catch (err) {
    if (stop.signal.reason instanceof Interrupted) {
      code = 130;
    } else {
      progress(`ERROR: ${errorMessage(err)}`);
      code = 1;
    }
  } finally {
    await cleanUp(state);
  }
  return code;
}

async function run(opts: Options, state: State, signal: AbortSignal): Promise<Result> {
  await waitForQuietMachine(QUIET_TIMEOUT_MS, progress, signal);
  const mine = ancestors();
  const otherBench = listProcesses(false).filter((p) => !mine.has(p.pid) && p.argv.slice(1).some((a) => /bench\/(static-pods|cluster-pods|probes|all)\.ts$/.test(a)));
  if (otherBench.length > 0) throw new Error(`another bench is running (pid ${otherBench.map((p) => p.pid).join(', ')}); wait until it ends`);
  const loadavg = machineFacts().loadavg;

  const cri = new CriClient({ runtimeEndpoint: RUNTIME_ENDPOINT, requestTimeoutMs: 60_000 });
  state.cri = cri;
  const version = await checkRuntime(cri, signal);
  const leftovers = await findBenchPods(cri, null, signal);
  if (leftovers.sandboxIds.length + leftovers.containerIds.length > 0) {
    progress(`removing ${leftovers.sandboxIds.length} pod(s) left by an earlier bench run`);
    const problems = await removeRuntimePods(cri, leftovers, signal);
    if (problems.length > 0) throw new Error(`cannot remove the pods of an earlier bench run: ${problems[0]}`);
  }
  const foreign = await findForeignManagedPods(cri, signal);
  if (foreign.length > 0 && !opts.removeForeignPods) throw new Error(`the runtime has ${foreign.length} pod(s) of another tskubelet (${foreign.slice(0, 5).join(', ')}); the bench's tskubelet would remove them (pass --remove-foreign-pods to proceed)`);
  for (const name of readdirSync(tmpdir())) if (name.startsWith(TEMP_PREFIX)) rmSync(join(tmpdir(), name), { recursive: true, force: true });

  const tempRoot = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  state.tempRoot = tempRoot;
  const dirs = { manifests: join(tempRoot, 'manifests'), root: join(tempRoot, 'root'), logs: join(tempRoot, 'pod-logs') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  state.manifestDir = dirs.manifests;
  const [readOnlyPort, healthzPort] = await freePorts(2);
  const args = [
    '--pod-manifest-path', dirs.manifests, '--root-dir', dirs.root, '--pod-logs-dir', dirs.logs,
    '--hostname-override', NODE_NAME, '--read-only-port', String(readOnlyPort), '--healthz-port', String(healthzPort), '--v=2',
  ];

  const tracker = new TransitionTracker();
  const transitions: Transition[] = [];
  const running = new Set<string>();
  const onLine = (line: string): void => {
    const l = parseReadinessLine(line);
    if (!l) return;
    if (l.running) running.add(l.pod);
    const t = tracker.add(l);
    if (t) transitions.push(t);
  };
  progress(`starting ${opts.kubelet} (log: ${join(tempRoot, 'kubelet.log')})`);
  const kubelet = new KubeletProcess({ command: opts.kubelet, args, cwd: ROOT, logFile: join(tempRoot, 'kubelet.log'), onLine });
  state.kubelet = kubelet;
  await waitHealthy(kubelet, healthzPort, signal);
  const kubeletPid = kubelet.pid ?? 0;
  const ctrdPid = containerdPid() ?? 0;

  const watch = setInterval(() => {
    const busy = busyProcesses([kubeletPid]);
    if (busy.kubelets.length > 0) {
      state.hurry = true;
      kubelet.killNow();
      progress(`another tskubelet started meanwhile:\n${describeBusy(busy)}`);
    }
  }, 1_000);
  watch.unref();
  try {
    progress(`writing ${opts.pods} manifests`);
    const t0 = Date.now();
    for (let i = 0; i < opts.pods; i++) {
      const name = `${POD_PREFIX}${String(i).padStart(3, '0')}`;
      writeFileSync(join(dirs.manifests, `${name}.yaml`), probeManifest(name, state.runId));
    }
    const until = t0 + RUNNING_TIMEOUT_MS;
    let lastNote = 0;
    while (running.size < opts.pods) {
      signal.throwIfAborted();
      if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()}:\n${kubelet.tail().join('\n')}`);
      if (Date.now() > until) throw new Error(`only ${running.size}/${opts.pods} pods reported Running after ${RUNNING_TIMEOUT_MS / 1000} s`);
      if (Date.now() - lastNote > 10_000) {
        progress(`${running.size}/${opts.pods} pods running`);
        lastNote = Date.now();
      }
      await sleep(200, undefined, { signal });
    }
    const startupS = (Date.now() - t0) / 1000;
    progress(`all ${opts.pods} pods running after ${startupS.toFixed(1)} s`);

    const windowStartMs = Math.ceil((Date.now() + WARMUP_MS) / SLOT_MS) * SLOT_MS;
    const windowEndMs = windowStartMs + opts.durationS * 1000;
    const bench = await findBenchPods(cri, state.runId, signal);
    const containerIds = bench.containerIds;
    await sleep(windowStartMs - Date.now(), undefined, { signal });
    progress(`measuring for ${opts.durationS} s`);

    const cpu: CpuWindow[] = [];
    const execMs: number[] = [];
    let execErrors = 0;
    const sampler = (async () => {
      let prev = { at: performance.now(), k: processCpuMs(kubeletPid), c: processCpuMs(ctrdPid), h: runtimeHelpersCpuMs(ctrdPid), m: machineBusyMs() };
      let nextCpu = Date.now() + CPU_WINDOW_MS;
      let i = 0;
      while (Date.now() < windowEndMs) {
        await sleep(EXEC_SAMPLE_MS, undefined, { signal });
        const id = containerIds[i++ % Math.max(1, containerIds.length)];
        if (id) {
          const s = performance.now();
          try {
            await cri.execSync(id, ['test', '-f', '/tmp/ready'], 5, signal);
            execMs.push(performance.now() - s);
          } catch {
            execErrors++;
          }
        }
        if (Date.now() >= nextCpu) {
          const now = { at: performance.now(), k: processCpuMs(kubeletPid), c: processCpuMs(ctrdPid), h: runtimeHelpersCpuMs(ctrdPid), m: machineBusyMs() };
          const pct = (a: number, b: number): number => ((b - a) / (now.at - prev.at)) * 100;
          cpu.push({
            kubeletPct: pct(prev.k, now.k), containerdPct: pct(prev.c, now.c), helpersPct: pct(prev.h, now.h), machinePct: pct(prev.m, now.m),
            kubeletRssMiB: rssMiB(kubeletPid), containerdRssMiB: rssMiB(ctrdPid),
          });
          prev = now;
          nextCpu += CPU_WINDOW_MS;
        }
      }
    })();
    await sampler;
    await sleep(DRAIN_MS, undefined, { signal });
    if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()} during the measurement:\n${kubelet.tail().join('\n')}`);

    // Counted: transitions answering a boundary of the window. One per pod and boundary; any
    // further one (a flap) is spurious.
    const bounds = boundariesIn(windowStartMs, windowEndMs - 1);
    const inWindow = transitions.filter((t) => t.boundaryMs >= windowStartMs && t.boundaryMs < windowEndMs);
    const seen = new Set<string>();
    const counted: Transition[] = [];
    const spurious: Transition[] = [];
    for (const t of inWindow) {
      const key = `${t.pod}@${t.boundaryMs}`;
      if (seen.has(key) || t.lagMs >= SLOT_MS) spurious.push(t);
      else {
        seen.add(key);
        counted.push(t);
      }
    }
    return {
      date: new Date().toISOString(),
      commit: gitCommit(ROOT),
      pods: opts.pods,
      durationS: opts.durationS,
      startupS,
      windowStartMs,
      windowEndMs,
      boundaries: bounds.length,
      transitions: counted,
      spurious,
      missing: opts.pods * bounds.length - counted.length,
      cpu,
      execMs,
      execErrors,
      loadavg,
      containerd: `${version.runtime_name} ${version.runtime_version}`,
    };
  } finally {
    clearInterval(watch);
  }
}

/** This process and its ancestors (npm and its shell run the bench with its path in their argv). */
function ancestors(): Set<number> {
  const out = new Set<number>();
  for (let pid = process.pid; pid > 1 && !out.has(pid);) {
    out.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
    } catch {
      break;
    }
  }
  return out;
}

/** Resident set size of a process, MiB; NaN when unreadable. */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Waits until /healthz answers ok; throws if tskubelet exits or the wait times out. */
async function waitHealthy(kubelet: KubeletProcess, port: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + KUBELET_READY_TIMEOUT_MS;
  for (;;) {
    signal.throwIfAborted();
    if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()} during start-up:\n${kubelet.tail().join('\n')}`);
    if (Date.now() > until) throw new Error(`tskubelet's healthz did not answer within ${KUBELET_READY_TIMEOUT_MS / 1000} s:\n${kubelet.tail().join('\n')}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) }).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(200, undefined, { signal });
  }
}

/** Never throws: manifests go, pods go (by tskubelet, else straight on CRI), tskubelet stops, temp folders go. */
async function cleanUp(state: State): Promise<void> {
  const { cri, kubelet } = state;
  try {
    if (state.manifestDir) for (const n of readdirSync(state.manifestDir)) rmSync(join(state.manifestDir, n), { force: true });
    if (kubelet?.running && cri) {
      progress('clean-up: manifests removed, waiting until the runtime has none of the bench pods');
      const until = Date.now() + REMOVAL_TIMEOUT_MS;
      while (!state.hurry && kubelet.running && Date.now() < until) {
        const left = await findBenchPods(cri, state.runId, AbortSignal.timeout(10_000)).catch(() => null);
        if (left && left.sandboxIds.length === 0) break;
        await sleep(500);
      }
    }
    await kubelet?.stop();
  } catch (err) {
    progress(`clean-up: stopping tskubelet: ${errorMessage(err)}`);
    kubelet?.killNow();
  }
  if (cri) {
    for (let pass = 0; pass < 3; pass++) {
      try {
        const left = await findBenchPods(cri, state.runId, AbortSignal.timeout(20_000));
        if (left.sandboxIds.length + left.containerIds.length === 0) break;
        progress(`clean-up: removing ${left.sandboxIds.length} bench pod(s) straight on the runtime`);
        const problems = await removeRuntimePods(cri, left, AbortSignal.timeout(60_000));
        if (problems.length > 0) progress(`clean-up: ${problems.slice(0, 3).join('; ')}`);
      } catch (err) {
        progress(`clean-up: ${errorMessage(err)}`);
      }
      await sleep(1_000);
    }
    cri.close();
  }
  try {
    for (const n of readdirSync(CONTAINER_LOGS_DIR)) if (n.startsWith(POD_PREFIX) && n.includes(`-${NODE_NAME}_default_`)) rmSync(join(CONTAINER_LOGS_DIR, n), { force: true });
  } catch {
    // no such folder
  }
  saveKubeletLog(state.tempRoot, 'tskubelet-probes.last-kubelet.log', progress);
  if (state.tempRoot) rmSync(state.tempRoot, { recursive: true, force: true });
}

const ms = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(0));
const pct = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));
const lagRow = (label: string, s: Summary): string => `| ${label} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${s.n} |`;

function renderReport(r: Result): string {
  const m = machineFacts();
  const lag = summarize(r.transitions.map((t) => t.lagMs));
  const toReady = summarize(r.transitions.filter((t) => t.ready).map((t) => t.lagMs));
  const toUnready = summarize(r.transitions.filter((t) => !t.ready).map((t) => t.lagMs));
  const cpuOf = (f: (w: CpuWindow) => number): Summary => summarize(r.cpu.map(f));
  const kCpu = cpuOf((w) => w.kubeletPct);
  const lagPass = lag.n > 0 && lag.p99 < TARGET_LAG_P99_MS && r.missing === 0;
  const kP95 = percentile(r.cpu.map((w) => w.kubeletPct), 95);
  const cpuPass = kCpu.n > 0 && kP95 < TARGET_CPU_PCT;
  const exec = summarize(r.execMs);
  const cpuRow = (label: string, f: (w: CpuWindow) => number): string => {
    const s = cpuOf(f);
    return `| ${label} | ${pct(s.p50)} | ${pct(percentile(r.cpu.map(f), 95))} | ${pct(s.max)} | ${s.n} |`;
  };
  const rssRow = (label: string, s: Summary): string => `| ${label} | ${pct(s.p50)} | ${pct(s.max)} |`;
  return [
    `# tskubelet readiness probe benchmark, ${r.date}`,
    '',
    `${r.pods} static pods (busybox; the container creates /tmp/ready during even 10 s wall-clock slots and removes it during odd ones, checking every 0.2 s), ` +
      `each with an exec readiness probe \`test -f /tmp/ready\` (periodSeconds ${PROBE_PERIOD_S}, failureThreshold 1, successThreshold 1), ` +
      `on one tskubelet (\`--v=2\`). Measured for ${r.durationS} s once every pod ran (${r.boundaries} boundaries, from ${new Date(r.windowStartMs).toISOString()}); ` +
      `all ${r.pods} pods were reported Running ${r.startupS.toFixed(1)} s after their manifests were written.`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, kernel ${m.kernel}, Node.js ${m.node}, ${r.containerd}, commit ${r.commit}, ` +
      `load average at start ${r.loadavg.map((x) => x.toFixed(2)).join(' / ')}.`,
    '',
    '## Verdict',
    '',
    `- **${lagPass ? 'PASS' : 'FAIL'}**: readiness lag p99 = **${ms(lag.p99)} ms** (target < ${TARGET_LAG_P99_MS} ms)` +
      (r.missing > 0 ? `; ${r.missing} expected transition(s) never reached the status` : '; every expected transition reached the status'),
    `- **${cpuPass ? 'PASS' : 'FAIL'}**: tskubelet CPU p95 over ${kCpu.n} windows of ${CPU_WINDOW_MS / 1000} s = **${pct(kP95)}%** of one core (target < ${TARGET_CPU_PCT}%; p50 ${pct(kCpu.p50)}%, max ${pct(kCpu.max)}%; nearest-rank p95 of fewer than 20 windows is the max)`,
    '',
    '## Readiness lag',
    '',
    'Lag = time of the \'pod status\' log line that shows the new readiness (tskubelet\'s status manager, ms precision) − the 10 s boundary at which the container\'s schedule flipped. ' +
      'Nothing is subtracted, so the lag includes what no kubelet can avoid: the container notices the boundary up to ' +
      `${CONTAINER_STEP_MS} ms late (its \`sleep 0.2\` step), and the next probe runs up to ${PROBE_PERIOD_S * 1000} ms after that (the period), ` +
      `so lags up to ~${CONTAINER_STEP_MS + PROBE_PERIOD_S * 1000} ms are inherent (about ${(CONTAINER_STEP_MS + PROBE_PERIOD_S * 1000) / 2} ms on average) plus the exec itself.`,
    '',
    '| ms | p50 | p90 | p99 | max | n |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    lagRow('**all transitions**', lag),
    lagRow('to ready', toReady),
    lagRow('to not ready', toUnready),
    '',
    `Expected transitions: ${r.pods * r.boundaries} (${r.pods} pods × ${r.boundaries} boundaries); counted ${r.transitions.length}; missing ${r.missing}; ` +
      `spurious (a second transition for the same pod and boundary, or one ≥ 10 s late) ${r.spurious.length}.`,
    '',
    `## CPU (% of one core, ${CPU_WINDOW_MS / 1000} s windows) and memory`,
    '',
    '| % of one core | p50 | p95 | max | windows |',
    '| --- | ---: | ---: | ---: | ---: |',
    cpuRow('**tskubelet**', (w) => w.kubeletPct),
    cpuRow('containerd', (w) => w.containerdPct),
    cpuRow('containerd-shims (incl. runc exec children) + what containerd reaped', (w) => w.helpersPct),
    cpuRow(`whole machine (${m.nproc} CPUs)`, (w) => w.machinePct),
    '',
    '| RSS, MiB | p50 | max |',
    '| --- | ---: | ---: |',
    rssRow('tskubelet', cpuOf((w) => w.kubeletRssMiB)),
    rssRow('containerd', cpuOf((w) => w.containerdRssMiB)),
    '',
    '## Runtime ExecSync latency',
    '',
    `The bench's own ExecSync of \`test -f /tmp/ready\` on one bench container per second (round robin) during the measurement, under the probes' load (containerd logs ExecSync only when it fails, tskubelet does not log its duration).`,
    '',
    '| ms | p50 | p90 | p99 | max | n |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    lagRow('ExecSync', exec) + (r.execErrors > 0 ? ` (${r.execErrors} failed)` : ''),
  ].join('\n');
}

process.exitCode = await main();

// npm run bench:probe-cpu: tskubelet's own CPU per exec probe, without a container runtime and
// without the integration lock. A fake CRI RuntimeService (grpc-js, the CRI proto the client
// loads) runs in a child process on a unix socket in a temp dir and answers ExecSync at once
// (exit 0, a short stdout); this process runs the kubelet's probe path as src/kubelet.ts and
// src/main.ts wire it: ProbeManager (one worker per probe, real timers) -> Prober -> CriClient
// ExecSync (with the runtime-operation metrics observer) -> results -> onResultChange (the pod's
// status regenerated in the StatusManager on a readiness change) -> KubeletMetrics.countProbe;
// pino at info level into /dev/null, the LoggingEventRecorder.
//
// N pods with one 1 s exec readiness probe each probe for S seconds after a warm-up; reported:
// this process's CPU (process.cpuUsage) per probe run (µs) and per second (ms/s = millicores),
// the median over --repeats runs (each a fresh manager, client and metrics in this process).
// Run it under bin/tskubelet's V8 flags, bin/v8-flags (the npm script does). For a breakdown by module:
//   npm run bench:probe-cpu -- --repeats 1 --cpu-profile /tmp/probe.cpuprofile   (the measured window only)
//   bash scripts/node.sh bench/probe-cpu.ts --profile-summary /tmp/probe.cpuprofile
// (node's own --cpu-prof works too, but its profile also holds start-up: module compilation.)
// Exit: 0 done, 1 error, 2 bad arguments.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { pino } from 'pino';
import { realClock } from '../src/common/clock.ts';
import { CRI_LOADER_OPTIONS, CRI_PROTO_PATH, CriClient } from '../src/cri/client.ts';
import { LoggingEventRecorder } from '../src/kube/events.ts';
import type { Pod, PodStatus } from '../src/kube/types.ts';
import { KubeletMetrics, PROBE_RESULT_LABELS, PROBE_TYPE_LABELS } from '../src/metrics/kubelet-metrics.ts';
import { createLogger } from '../src/observability/logger.ts';
import { ProbeManager } from '../src/prober/manager.ts';
import { StatusManager } from '../src/status/status-manager.ts';
import { intOption, parseCommandLine, splitFlag, UsageError } from './lib/args.ts';
import { median } from './lib/stats.ts';

const SELF = fileURLToPath(import.meta.url);
/** Warm-up before each measured window, ms: every worker's jittered first run (within one period) is done, the JIT settled. */
const WARMUP_MS = 3_000;
/** Sampling interval of --cpu-profile, µs (V8's default is 1000: too coarse for ~1 ms of work per probe). */
const PROFILE_SAMPLING_US = 100;
/** bin/tskubelet's V8 flags (bin/v8-flags), which the npm script passes too. */
const EXPECTED_V8_FLAGS = readFileSync(fileURLToPath(new URL('../bin/v8-flags', import.meta.url)), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

interface Options {
  pods: number;
  seconds: number;
  repeats: number;
  /** The fake runtime answers ExecSync after this long (0: at once; containerd's runc exec takes tens of ms). */
  execDelayMs: number;
  /** Write a CPU profile of the (last) measured window here. */
  cpuProfile: string | undefined;
}

const USAGE = `usage: bench/probe-cpu.ts [--pods N (100)] [--seconds S (30)] [--repeats R (3)] [--exec-delay-ms MS (0)] [--cpu-profile FILE]
       bench/probe-cpu.ts --profile-summary FILE.cpuprofile
`;

function parseArgs(argv: string[]): Options {
  const o: Options = { pods: 100, seconds: 30, repeats: 3, execDelayMs: 0, cpuProfile: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = splitFlag(argv[i]!);
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--pods': o.pods = intOption(flag, value(), 1, 2000); break;
      case '--seconds': o.seconds = intOption(flag, value(), 1, 3600); break;
      case '--repeats': o.repeats = intOption(flag, value(), 1, 20); break;
      case '--exec-delay-ms': o.execDelayMs = intOption(flag, value(), 0, 10_000); break;
      case '--cpu-profile': o.cpuProfile = value(); break;
      case '--help': throw new UsageError('');
      default: throw new UsageError(`unknown argument ${flag}`);
    }
  }
  return o;
}

// ---- the fake runtime (child process) ----

async function serve(socket: string, delayMs: number): Promise<void> {
  const def = protoLoader.loadSync(CRI_PROTO_PATH, CRI_LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
  const server = new grpc.Server();
  const stdout = Buffer.from('ok\n');
  const empty = Buffer.alloc(0);
  server.addService(pkg.runtime.v1.RuntimeService.service, {
    ExecSync: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      const answer = (): void => cb(null, { stdout, stderr: empty, exit_code: 0 });
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => server.forceShutdown());
}

async function startRuntime(socket: string, delayMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SELF, '--serve', socket, String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fake runtime exited (${code})`)));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
  });
  child.removeAllListeners('exit');
  return child;
}

// ---- the agent side (this process) ----

function benchPod(i: number): { pod: Pod; status: PodStatus } {
  const uid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const pod: Pod = {
    metadata: { name: `probe-cpu-${i}`, namespace: 'default', uid },
    spec: {
      restartPolicy: 'Always',
      containers: [{ name: 'main', image: 'busybox', readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1, timeoutSeconds: 1 } }],
    },
  };
  const status: PodStatus = {
    phase: 'Running',
    podIP: `10.88.0.${(i % 250) + 2}`,
    conditions: [{ type: 'Ready', status: 'False' }],
    containerStatuses: [{
      name: 'main', image: 'busybox', imageID: '', restartCount: 0, ready: false, started: true,
      containerID: `containerd://${i.toString(16).padStart(64, '0')}`,
      state: { running: { startedAt: new Date(Date.now() - 60_000).toISOString() as unknown as Date } },
    }],
  };
  return { pod, status };
}

/** Times the main thread blocked (voluntary context switches: each is a sleep in epoll_wait and a wake-up). */
function mainThreadWaits(): number {
  const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${process.pid}/task/${process.pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/** CPU ticks (1/100 s) so far of each thread of this process, by thread name. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, 'N');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** One measured run: fresh client, metrics, status and probe managers. */
async function runOnce(opts: Options, socket: string): Promise<{ probes: number; cpuUs: number; wallS: number; errors: number; waits: number; threads: string }> {
  const logger = createLogger(0, pino.destination({ dest: '/dev/null', sync: true }));
  const metrics = new KubeletMetrics({ nodeName: 'bench', runningPods: () => opts.pods, containersByState: () => ({ running: opts.pods }) });
  const cri = new CriClient({
    runtimeEndpoint: `unix://${socket}`, requestTimeoutMs: 120_000,
    onOperation: (method, ms, error) => metrics.observeRuntimeOperation(method, ms / 1000, error !== null && error !== undefined),
  });
  const statusManager = new StatusManager({ clock: realClock });
  const pods = new Map<string, Pod>();
  for (let i = 0; i < opts.pods; i++) {
    const { pod, status } = benchPod(i);
    pods.set(pod.metadata!.uid!, pod);
    statusManager.setPodStatus(pod, status);
  }
  let errors = 0;
  const manager: ProbeManager = new ProbeManager({
    runtime: cri, clock: realClock, logger, recorder: new LoggingEventRecorder({ logger }),
    podStatus: (uid) => statusManager.getPodStatus(uid),
    // As the kubelet on a readiness change: the pod's status regenerated with the container's ready flag.
    onResultChange: (uid, change) => {
      const pod = pods.get(uid);
      const old = statusManager.getPodStatus(uid);
      if (!pod || !old) return;
      const { started, ready } = manager.containerProbeStatus(uid, change.container, change.containerId, true);
      const containerStatuses = old.containerStatuses?.map((c) => (c.name === change.container ? { ...c, started, ready } : c));
      statusManager.setPodStatus(pod, { ...old, containerStatuses, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] });
    },
    onProbe: (r) => {
      if (r.result === 'unknown') errors++;
      metrics.countProbe({ ...r, probeType: PROBE_TYPE_LABELS[r.probeType] }, PROBE_RESULT_LABELS[r.result], r.durationMs / 1000);
    },
  });
  const total = (): number => {
    const t = manager.totals.readiness;
    return t.successful + t.failed + t.unknown;
  };
  try {
    for (const pod of pods.values()) manager.addPod(pod);
    await sleep(WARMUP_MS);
    const session = opts.cpuProfile ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.setSamplingInterval', { interval: PROFILE_SAMPLING_US });
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const probes0 = total();
    const waits0 = mainThreadWaits();
    const threads0 = threadTicks();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(opts.seconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - t0) / 1000;
    const waits = mainThreadWaits() - waits0;
    const threads = [...threadTicks()].map(([name, t]) => [name, t - (threads0.get(name) ?? 0)] as const).filter(([, t]) => t > 0)
      .sort((a, b) => b[1] - a[1]).map(([name, t]) => `${name} ${t * 10} ms`).join(', ');
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(opts.cpuProfile!, JSON.stringify(profile));
      session.disconnect();
    }
    return { probes: total() - probes0, cpuUs: cpu.user + cpu.system, wallS, errors, waits, threads };
  } finally {
    await manager.stop();
    cri.close();
  }
}

async function bench(opts: Options): Promise<void> {
  const missing = EXPECTED_V8_FLAGS.filter((f) => !process.execArgv.includes(f));
  if (missing.length) process.stderr.write(`probe-cpu: note: not run with ${missing.join(' ')} (bin/tskubelet's V8 flags); use npm run bench:probe-cpu\n`);
  const dir = mkdtempSync(join(tmpdir(), 'tskubelet-probe-cpu-'));
  const socket = join(dir, 'cri.sock');
  const runtime = await startRuntime(socket, opts.execDelayMs);
  try {
    const perProbe: number[] = [];
    const perSecond: number[] = [];
    for (let r = 1; r <= opts.repeats; r++) {
      const res = await runOnce(opts, socket);
      const us = res.cpuUs / Math.max(1, res.probes);
      perProbe.push(us);
      perSecond.push(res.cpuUs / 1000 / res.wallS);
      process.stderr.write(
        `run ${r}/${opts.repeats}: ${res.probes} probes in ${res.wallS.toFixed(1)} s (${(res.probes / res.wallS).toFixed(1)}/s, ${res.errors} errored), ` +
        `CPU ${(res.cpuUs / 1000).toFixed(0)} ms: ${us.toFixed(0)} µs/probe, ${(res.cpuUs / 1000 / res.wallS).toFixed(1)} ms/s, ` +
        `${(res.waits / Math.max(1, res.probes)).toFixed(2)} main-thread wake-ups/probe; by thread: ${res.threads}\n`,
      );
    }
    process.stdout.write(
      `probe-cpu: ${opts.pods} exec readiness probes at 1 s, ExecSync answered after ${opts.execDelayMs} ms, ${opts.seconds} s x ${opts.repeats} (node ${process.version} ${process.execArgv.join(' ')})\n` +
      `  agent CPU per probe: median ${median(perProbe).toFixed(0)} µs (runs: ${perProbe.map((x) => x.toFixed(0)).join(', ')})\n` +
      `  agent CPU per second: median ${median(perSecond).toFixed(1)} ms/s = ${(median(perSecond) / 1000).toFixed(3)} cores\n` +
      (opts.cpuProfile
        ? `  CPU profile of the last window (the profiler's own cost is in the figures above): ${opts.cpuProfile}\n` +
          `    breakdown: bash scripts/node.sh bench/probe-cpu.ts --profile-summary ${opts.cpuProfile}\n`
        : `  breakdown: add --repeats 1 --cpu-profile FILE, then bash scripts/node.sh bench/probe-cpu.ts --profile-summary FILE\n`),
    );
  } finally {
    runtime.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- --profile-summary: self time of a .cpuprofile by module and by function ----

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const src = url.indexOf('/src/');
  if (src >= 0) return `src/${url.slice(src + 5).split('/')[0]}`;
  return url.split('/').slice(-2).join('/');
}

function summarizeProfile(file: string): void {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number };
  const total = prof.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const idle = prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const byModule = new Map<string, number>();
  const byFn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const parent = new Map<number, ProfileNode>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const fnName = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${moduleOf(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits || n.callFrame.functionName === '(idle)') continue;
    const mod = moduleOf(n.callFrame.url, n.callFrame.functionName);
    byModule.set(mod, (byModule.get(mod) ?? 0) + hits);
    byFn.set(fnName(n), (byFn.get(fnName(n)) ?? 0) + hits);
    const seen = new Set<string>();
    for (let p: ProfileNode | undefined = n; p; p = parent.get(p.id)) seen.add(fnName(p));
    for (const f of seen) inclusive.set(f, (inclusive.get(f) ?? 0) + hits);
  }
  const busy = total - idle;
  const top = (m: Map<string, number>, k: number): string =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, h]) => `  ${((100 * h) / busy).toFixed(1).padStart(5)}%  ${name}`).join('\n');
  process.stdout.write(`${file}: ${busy} busy samples of ${total}; self time by module:\n${top(byModule, 20)}\nby function (self):\n${top(byFn, 30)}\nby function (inclusive):\n${top(inclusive, 40)}\n`);
}

// ---- entry ----

const argv = process.argv.slice(2);
if (argv[0] === '--serve') {
  await serve(argv[1]!, Number(argv[2] ?? 0));
} else if (argv[0] === '--profile-summary') {
  summarizeProfile(argv[1] ?? '');
} else {
  const parsed = parseCommandLine('probe-cpu', USAGE, parseArgs);
  if ('exitCode' in parsed) process.exitCode = parsed.exitCode;
  else {
    try {
      await bench(parsed.opts);
    } catch (err) {
      process.stderr.write(`probe-cpu: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  }
}

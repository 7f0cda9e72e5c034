// The side-by-side benchmark's results (npm run bench:compare): what each agent's run measured,
// the comparison table (scenario, figure, upstream, tskubelet, ratio = tskubelet / upstream) and
// the Markdown report. Pure: plain data in, rows and text out.
import type { MachineFacts } from './host.ts';
import { machineTable, ms, table } from './markdown.ts';
import { median, percentile } from './stats.ts';

export type Agent = 'upstream' | 'tskubelet';
/** The agents in the order they run: upstream first, as the issue asks. */
export const AGENTS: readonly Agent[] = ['upstream', 'tskubelet'];

export type Scenario = 'burst' | 'churn' | 'lag' | 'density' | 'probes';
export const SCENARIOS: readonly Scenario[] = ['burst', 'churn', 'lag', 'density', 'probes'];

/** One 10 s window of CPU (cores: CPU seconds per wall second) and memory. */
export interface CpuWindow {
  /** The agent process, with what it reaped (mount(8) and other helpers it forks). */
  agentCores: number;
  containerdCores: number;
  /** containerd-shims with their reaped children (runc, exec'd probes) and what containerd reaped. */
  helpersCores: number;
  /** The whole machine (all CPUs). */
  machineCores: number;
  /** The agent's resident memory at the window's end, MiB. */
  agentRssMiB: number;
  /** The machine's MemAvailable at the window's end, MiB (what is left for more pods). */
  memAvailableMiB: number;
}

/** Pod start as the API sees it: per pod, the bench's create call → Running and Ready in its watch. */
export interface StartResult {
  pods: number;
  startMs: number[];
  /** First create call → last Running and Ready. */
  wallMs: number;
  /** The agent's CPU time over that wall time, ms. */
  agentCpuMs: number;
}

export interface ChurnResult {
  pods: number;
  ratePerS: number;
  /** How long each pod lives at least (create call → delete call), ms. */
  lifetimeMs: number;
  startMs: number[];
  /** DELETE call → DELETED in the watch. */
  deleteMs: number[];
  wallMs: number;
  agentCpuMs: number;
}

export interface LagResult {
  pods: number;
  /** Per pod: the terminated state first in the watch − the container's exit (CRI finished_at, ns). */
  lagMs: number[];
  /** Exits whose terminated state the watch never showed within the timeout. */
  missing: number;
}

export interface HoldResult {
  pods: number;
  windows: CpuWindow[];
}

export interface ProbeResult extends HoldResult {
  /** The probe pods' own start (they are created at once). */
  start: StartResult;
  /** Readiness flips during the hold (flag file removed / recreated). */
  flips: number;
  /** Per pod and flip: the flip → the first watch event with the new Ready value, ms. */
  readyLagMs: number[];
  /** Pod-flips whose new Ready value never reached the watch before the next flip. */
  readyMissing: number;
  /** Other Ready changes in those spans (flaps, e.g. a probe timing out). */
  readyExtra: number;
}

/** Everything one agent's run measured; a scenario not run stays undefined. */
export interface AgentRun {
  agent: Agent;
  /** "kubelet v1.34.2" or "tskubelet <commit>". */
  version: string;
  nodeName: string;
  /** Its command line, temp paths shown as $TMP. */
  command: string[];
  /** Spawn → Node Ready and schedulable, ms. */
  joinMs: number;
  burst?: StartResult;
  churn?: ChurnResult;
  lag?: LagResult;
  density?: HoldResult[];
  probes?: ProbeResult;
  /** Wall time of the agent's whole run (start to stopped and cleaned), ms. */
  runMs: number;
  /** Which round of the bench run (--rounds) this is, from 1; absent = 1. */
  round?: number;
}

export interface CompareOptions {
  scenarios: Scenario[];
  burstPods: number;
  churnPods: number;
  churnRate: number;
  churnLifetimeS: number;
  lagPods: number;
  densityTiers: number[];
  probePods: number;
  holdS: number;
  windowS: number;
  maxPods: number;
}

export interface CompareResult {
  date: string;
  commit: string;
  machine: MachineFacts;
  containerd: string;
  apiServer: string;
  options: CompareOptions;
  /** How many rounds ran (each agent once per round, upstream first). */
  rounds?: number;
  /** Every agent run, round by round. */
  runs: AgentRun[];
  /** The KubeletConfiguration both agents read (paths and ports of the first agent). */
  kubeletConfig: string;
  /** The whole bench from the lock held to the end of the clean-up, ms. */
  totalMs: number;
  /** How long it waited for the lock and a quiet machine (and built the upstream kubelet), ms. */
  waitedMs: number;
  /** The plot's file name, beside the report. */
  plotFile: string;
  warnings: string[];
}

/** One line of the comparison table; `better` says which way is good for the ratio. */
export interface CompareRow {
  scenario: string;
  figure: string;
  unit: 'ms' | 'cores' | 'MiB' | 's' | 'count';
  upstream: number;
  tskubelet: number;
  better: 'lower';
  /** With more than one round: each round's value per agent, in round order (the two above are their medians). */
  perRound?: { upstream: number[]; tskubelet: number[] };
}

/** tskubelet / upstream; NaN when either is missing or upstream is 0 (ratio undefined). */
export function ratio(tskubelet: number, upstream: number): number {
  if (!Number.isFinite(tskubelet) || !Number.isFinite(upstream) || upstream === 0) return Number.NaN;
  return tskubelet / upstream;
}

const p = (xs: readonly number[], q: number): number => percentile(xs, q);
const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const maxOf = (xs: readonly number[]): number => (xs.length ? Math.max(...xs) : Number.NaN);

/**
 * The comparison rows, in scenario order, for the figures both runs could have: latency
 * percentiles (nearest rank, so each is a measured value), CPU p50/p95 over windows, RSS max.
 */
export function compareRows(up: AgentRun | undefined, ts: AgentRun | undefined): CompareRow[] {
  const rows: CompareRow[] = [];
  const add = (scenario: string, figure: string, unit: CompareRow['unit'], get: (r: AgentRun) => number | undefined): void => {
    const u = up ? get(up) : undefined;
    const t = ts ? get(ts) : undefined;
    if (u === undefined && t === undefined) return;
    rows.push({ scenario, figure, unit, upstream: u ?? Number.NaN, tskubelet: t ?? Number.NaN, better: 'lower' });
  };
  const any = (f: (r: AgentRun) => unknown): boolean => [up, ts].some((r) => r !== undefined && f(r) !== undefined);

  if (any((r) => r.burst)) {
    const n = (up?.burst ?? ts?.burst)?.pods ?? 0;
    const s = `burst (${n} pods at once)`;
    for (const q of [50, 90, 99]) add(s, `start p${q}`, 'ms', (r) => (r.burst ? p(r.burst.startMs, q) : undefined));
    add(s, 'all Running and Ready (wall)', 'ms', (r) => r.burst?.wallMs);
    add(s, 'agent CPU time', 's', (r) => (r.burst ? r.burst.agentCpuMs / 1000 : undefined));
  }
  if (any((r) => r.churn)) {
    const c = (up?.churn ?? ts?.churn) as ChurnResult;
    const s = `churn (${c.pods} pods, ${c.ratePerS}/s)`;
    for (const q of [50, 99]) add(s, `start p${q}`, 'ms', (r) => (r.churn ? p(r.churn.startMs, q) : undefined));
    for (const q of [50, 99]) add(s, `delete → gone p${q}`, 'ms', (r) => (r.churn ? p(r.churn.deleteMs, q) : undefined));
    add(s, 'agent CPU time', 's', (r) => (r.churn ? r.churn.agentCpuMs / 1000 : undefined));
  }
  if (any((r) => r.lag)) {
    const n = (up?.lag ?? ts?.lag)?.pods ?? 0;
    const s = `status lag (${n} exits)`;
    for (const q of [50, 90, 99]) add(s, `exit → terminated in API p${q}`, 'ms', (r) => (r.lag ? p(r.lag.lagMs, q) : undefined));
  }
  const tiers = [...new Set([...(up?.density ?? []), ...(ts?.density ?? [])].map((d) => d.pods))].sort((a, b) => a - b);
  for (const pods of tiers) {
    const s = `density (${pods} pods)`;
    const tier = (r: AgentRun): HoldResult | undefined => r.density?.find((d) => d.pods === pods);
    holdRows(s, tier, add);
  }
  if (any((r) => r.probes)) {
    const n = (up?.probes ?? ts?.probes)?.pods ?? 0;
    const s = `probes (${n} pods, 1 s exec readiness)`;
    holdRows(s, (r) => r.probes, add);
    for (const q of [50, 90, 99]) add(s, `readiness flip → Ready in API p${q}`, 'ms', (r) => (r.probes?.readyLagMs.length ? p(r.probes.readyLagMs, q) : undefined));
    add(s, 'readiness changes missed + flaps', 'count', (r) => (r.probes?.readyLagMs ? r.probes.readyMissing + r.probes.readyExtra : undefined));
    for (const q of [50, 99]) add(s, `start p${q} (${n} pods at once)`, 'ms', (r) => (r.probes ? p(r.probes.start.startMs, q) : undefined));
  }
  return rows;
}

/** The runs of each round, in round order (a run without a round number is round 1). */
export function runsByRound(runs: readonly AgentRun[]): { up?: AgentRun; ts?: AgentRun }[] {
  const rounds = new Map<number, { up?: AgentRun; ts?: AgentRun }>();
  for (const r of runs) {
    const k = r.round ?? 1;
    const slot = rounds.get(k) ?? {};
    if (r.agent === 'upstream') slot.up = r;
    else slot.ts = r;
    rounds.set(k, slot);
  }
  return [...rounds.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

/**
 * The comparison rows over every round: for one round, compareRows; for more, each figure of
 * each agent is the median of its per-round values (the midpoint for an even count), and the
 * per-round values are kept (`perRound`) so that the report can say in how many rounds
 * tskubelet was ahead. Figures and their order are the first round's.
 */
export function roundRows(runs: readonly AgentRun[]): CompareRow[] {
  const rounds = runsByRound(runs).map((r) => compareRows(r.up, r.ts));
  if (rounds.length <= 1) return rounds[0] ?? [];
  const key = (row: CompareRow): string => `${row.scenario}\u0000${row.figure}`;
  const lookup = rounds.map((rows) => new Map(rows.map((row) => [key(row), row])));
  return (rounds[0] as CompareRow[]).map((first) => {
    const all = lookup.map((m) => m.get(key(first)));
    const upstream = all.map((row) => row?.upstream ?? Number.NaN);
    const tskubelet = all.map((row) => row?.tskubelet ?? Number.NaN);
    return { ...first, upstream: median(upstream), tskubelet: median(tskubelet), perRound: { upstream, tskubelet } };
  });
}

/** Per round, whether tskubelet was ahead (ratio < 1): "k of n"; '' for a row without rounds. */
export function roundsAhead(row: CompareRow): string {
  if (!row.perRound) return '';
  const ratios = row.perRound.tskubelet.map((t, i) => ratio(t, row.perRound?.upstream[i] ?? Number.NaN));
  return `${ratios.filter((r) => r < 1).length} of ${ratios.length}`;
}

function holdRows(s: string, get: (r: AgentRun) => HoldResult | undefined, add: (scenario: string, figure: string, unit: CompareRow['unit'], f: (r: AgentRun) => number | undefined) => void): void {
  const cores = (r: AgentRun): number[] | undefined => get(r)?.windows.map((w) => w.agentCores);
  add(s, 'agent CPU p50', 'cores', (r) => { const c = cores(r); return c ? p(c, 50) : undefined; });
  add(s, 'agent CPU p95', 'cores', (r) => { const c = cores(r); return c ? p(c, 95) : undefined; });
  add(s, 'agent RSS max', 'MiB', (r) => { const h = get(r); return h ? maxOf(h.windows.map((w) => w.agentRssMiB)) : undefined; });
}

/** A value of a row for the table: ms as markdown.ms, cores with 3 decimals, s with one, MiB and counts whole. */
export function formatValue(x: number, unit: CompareRow['unit']): string {
  if (!Number.isFinite(x)) return '–';
  switch (unit) {
    case 'ms': return ms(x);
    case 'cores': return x.toFixed(3);
    case 'MiB': return x.toFixed(0);
    case 's': return x.toFixed(1);
    case 'count': return x.toFixed(0);
  }
}

/** The ratio for the table, two decimals; '–' when undefined. */
export function formatRatio(r: number): string {
  return Number.isFinite(r) ? r.toFixed(2) : '–';
}

/** Context columns of a hold: mean over windows of containerd, the runtime's helpers and the machine. */
export function holdContext(h: HoldResult): { containerd: number; helpers: number; machine: number; minAvailableMiB: number } {
  return {
    containerd: mean(h.windows.map((w) => w.containerdCores)),
    helpers: mean(h.windows.map((w) => w.helpersCores)),
    machine: mean(h.windows.map((w) => w.machineCores)),
    minAvailableMiB: h.windows.length ? Math.min(...h.windows.map((w) => w.memAvailableMiB)) : Number.NaN,
  };
}

function minutes(msTotal: number): string {
  const s = Math.round(msTotal / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** The Markdown report. `fairness` are the known differences between the two runs, one per item. */
export function renderCompareMarkdown(r: CompareResult, fairness: readonly string[]): string {
  const up = r.runs.find((x) => x.agent === 'upstream');
  const ts = r.runs.find((x) => x.agent === 'tskubelet');
  const rows = roundRows(r.runs);
  const rounds = r.rounds ?? 1;
  const o = r.options;
  const out: string[] = [];
  out.push(`# tskubelet vs the upstream kubelet, ${r.date}`);
  out.push('');
  out.push(
    `The same scenarios, first with the upstream kubelet (${up?.version ?? 'not run'}), then with tskubelet (${ts?.version ?? 'not run'}), ` +
      (rounds > 1 ? `in ${rounds} rounds (each round: upstream, then tskubelet, each on a new node), ` : '') +
      'each as the only node of the test control plane, on the same containerd, one agent at a time. Pods are ordinary API pods ' +
      '(busybox `sh -c \'trap "exit 0" TERM; sleep 3600 & wait\'`, image present, `spec.nodeName` set by the bench, default service account ' +
      'with its projected token volume). Times come from the bench\'s own watch of the pods (admin client) and, for exits, from the ' +
      `runtime (CRI). Whole run, holding the integration lock: ${minutes(r.totalMs)} (before that, ${minutes(r.waitedMs)} waiting for the lock and a quiet machine).`,
  );
  out.push('');
  out.push('## Results');
  out.push('');
  out.push('ratio = tskubelet / upstream: below 1 tskubelet is faster or cheaper, above 1 it is behind. Percentiles are nearest-rank (each is a measured value; with n ≤ 100, p99 is the maximum).' +
    (rounds > 1 ? ` Each agent's figure is the median of its ${rounds} rounds' figures, the ratio that of the medians; "per round" lists each round's own ratio and "ahead" in how many rounds tskubelet's figure was below upstream's.` : ''));
  out.push('');
  const cells = (row: CompareRow): string[] => [
    row.scenario,
    `${row.figure} (${row.unit})`,
    formatValue(row.upstream, row.unit),
    formatValue(row.tskubelet, row.unit),
    formatRatio(ratio(row.tskubelet, row.upstream)),
  ];
  if (rounds > 1) {
    out.push(table(['scenario', 'figure', 'upstream', 'tskubelet', 'ratio', 'per round', 'ahead'], rows.map((row) => [
      ...cells(row),
      (row.perRound?.tskubelet ?? []).map((t, i) => formatRatio(ratio(t, row.perRound?.upstream[i] ?? Number.NaN))).join(' '),
      roundsAhead(row),
    ]), '--- | --- | ---: | ---: | ---: | ---: | ---:'));
  } else {
    out.push(table(['scenario', 'figure', 'upstream', 'tskubelet', 'ratio'], rows.map(cells), '--- | --- | ---: | ---: | ---:'));
  }
  out.push('');
  out.push(`![latency distributions](${r.plotFile})`);
  out.push('');
  const ahead = rows.filter((x) => ratio(x.tskubelet, x.upstream) < 1).length;
  const behind = rows.filter((x) => ratio(x.tskubelet, x.upstream) > 1);
  out.push(`tskubelet is ahead (ratio < 1) on ${ahead} of ${rows.length} figures and behind on ${behind.length}` +
    (behind.length ? `: ${behind.map((x) => `${x.scenario}: ${x.figure} (${formatRatio(ratio(x.tskubelet, x.upstream))})`).join('; ')}.` : '.'));
  if (rounds > 1) {
    const mixed = rows.filter((x) => ratio(x.tskubelet, x.upstream) < 1 && !roundsAhead(x).startsWith(`${rounds} `));
    out.push(mixed.length
      ? ` Ahead by the medians but not in every round: ${mixed.map((x) => `${x.scenario}: ${x.figure} (${roundsAhead(x)})`).join('; ')}.`
      : ' Every figure ahead by the medians was ahead in every round.');
  }
  out.push('');

  out.push('## Scenarios');
  out.push('');
  out.push(`- **burst**: ${o.burstPods} pods created at once; start = the bench's create call → Running and Ready in its watch.`);
  out.push(`- **churn**: ${o.churnPods} pods created at ${o.churnRate} per second; each is deleted once it is Running and Ready and at least ${o.churnLifetimeS} s old; start as above, delete → gone = DELETE call → DELETED in the watch.`);
  out.push(`- **status lag**: ${o.lagPods} running pods (restartPolicy Never); the bench stops their containers one at a time straight on the runtime (CRI StopContainer: SIGTERM, the shell exits 0), 0.25–0.55 s apart at random so the exits fall anywhere in a relist period; lag = the first watch event with the container terminated − the container's exit (CRI ContainerStatus finished_at, ns).`);
  out.push(`- **density**: ${o.densityTiers.join(', ')} running pods held ${o.holdS} s each; the agent's CPU (utime+stime of its process and what it reaped, /proc/<pid>/stat) in ${o.windowS} s windows, p50 and p95 over the windows (nearest rank: p95 of fewer than 20 windows is the max), RSS (/proc/<pid>/status VmRSS) at each window's end.`);
  out.push(`- **probes**: ${o.probePods} pods, each with an exec readiness probe (\`test -f /flag/ready\`, periodSeconds 1; /flag is a read-only hostPath of a bench folder), created at once, held ${o.holdS} s; CPU as for density. During the hold the bench removes the flag file 5 s in, recreates it 10 s later, and so on: readiness lag = the flip → the first watch event with the pod's new Ready value (up to 1 s of it is the probe period, plus the exec); missed = no such event before the next flip, flaps = other Ready changes meanwhile.`);
  out.push('');
  out.push('## Context of the holds (mean cores over the windows)');
  out.push('');
  const holdLines: string[][] = [];
  for (const run of r.runs) {
    for (const h of [...(run.density ?? []), ...(run.probes ? [run.probes] : [])]) {
      const c = holdContext(h);
      const what = run.probes === h ? `probes ${h.pods}` : `density ${h.pods}`;
      holdLines.push([rounds > 1 ? `${run.agent} (round ${run.round ?? 1})` : run.agent, what, String(h.windows.length), mean(h.windows.map((w) => w.agentCores)).toFixed(3), c.containerd.toFixed(3), c.helpers.toFixed(3), c.machine.toFixed(2), Number.isFinite(c.minAvailableMiB) ? c.minAvailableMiB.toFixed(0) : '–']);
    }
  }
  out.push(table(['agent', 'hold', 'windows', 'agent', 'containerd', 'shims + runc + reaped', `machine (of ${r.machine.nproc})`, 'MemAvailable min, MiB'], holdLines));
  out.push('');
  out.push('## The agents');
  out.push('');
  for (const run of r.runs) {
    out.push(`- **${run.agent}**${rounds > 1 ? ` round ${run.round ?? 1}` : ''} (${run.version}), node \`${run.nodeName}\`: joined (spawn → Node Ready and schedulable) in ${ms(run.joinMs)} ms; its part of the run took ${minutes(run.runMs)}.`);
    if ((run.round ?? 1) === 1) out.push(`  \`${run.command.join(' ')}\``);
  }
  out.push('');
  out.push('Both read the same KubeletConfiguration (only podLogsDir and the ports differ per run):');
  out.push('');
  out.push('```yaml');
  out.push(r.kubeletConfig.trimEnd());
  out.push('```');
  out.push('');
  out.push('## Known differences between the two runs');
  out.push('');
  for (const f of fairness) out.push(`- ${f}`);
  out.push('');
  out.push(machineTable(r.machine, r.containerd, r.commit, [['API server', r.apiServer], ['maxPods', String(o.maxPods)]]));
  if (r.warnings.length > 0) {
    out.push('');
    out.push('## Warnings');
    out.push('');
    for (const w of r.warnings) out.push(`- ${w}`);
  }
  return out.join('\n');
}

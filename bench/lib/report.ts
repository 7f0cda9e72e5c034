// The benchmark's results as data (what bench/results/*.json holds) and as Markdown. Pure.
import type { MachineFacts } from './host.ts';
import type { BaselinePodSample } from './runtime-baseline.ts';
import { median, percentile, summarize } from './stats.ts';
import { machineTable, ms, summaryRow, table } from './markdown.ts';

export { ms };

/** The target: tskubelet adds at most this much at p50 over the runtime's own time (ms). */
export const OVERHEAD_TARGET_MS = 100;

/** One pod started by tskubelet. Times are wall-clock ms since the epoch; NaN when not seen. */
export interface KubeletPodSample {
  round: number;
  name: string; // runtime pod name, <manifest name>-<node>
  uid: string;
  writtenMs: number; // right after the manifest's rename into the static pod path
  seenMs: number; // config.seen annotation (the file source's snapshot; ms precision)
  sandboxCreatedMs: number; // runtime's created_at of the sandbox
  sandboxReadyMs: number; // log 'sandbox ready'
  imageCheckedMs: number; // log event Pulled (image present)
  containerCreatedMs: number; // runtime's created_at of the container(s), latest
  startedMs: number; // runtime's started_at of the container(s), latest: "running"
  reportedRunningMs: number; // log 'pod status' Running (ms precision)
  runtimeMs: number; // sum of runtimeMs over its syncs
  syncsWithRuntime: number;
}

export interface RoundResult {
  round: number;
  pods: KubeletPodSample[];
  /** First manifest written to last pod reported Running, ms. */
  wallMs: number;
  /** Busy CPU of the machine (all cores) and of tskubelet and containerd over that window, ms. */
  machineBusyMs: number;
  kubeletCpuMs: number;
  containerdCpuMs: number;
  /** The bench process's own CPU over the window (log parsing, waiting), ms: to show it stays small. */
  benchCpuMs: number;
}

export interface BenchResult {
  date: string; // ISO
  commit: string;
  machine: MachineFacts;
  containerd: string; // runtime name and version
  podsPerRound: number;
  rounds: RoundResult[];
  baseline: BaselinePodSample[];
  kubeletArgs: string[];
  warnings: string[];
}

export const toRunning = (p: KubeletPodSample): number => p.startedMs - p.writtenMs;
export const toReported = (p: KubeletPodSample): number => p.reportedRunningMs - p.writtenMs;
export const overhead = (p: KubeletPodSample): number => toRunning(p) - p.runtimeMs;

/** Per round: the round's p50 of each metric and p99 of the overhead. */
export interface RoundSummary {
  round: number;
  toRunningP50: number;
  toReportedP50: number;
  runtimeP50: number;
  overheadP50: number;
  overheadP99: number;
  wallMs: number;
  busyPct: number; // machine busy CPU over the window, % of all cores
  kubeletCpuMs: number;
  containerdCpuMs: number;
  benchCpuMs: number;
}

export function summarizeRound(r: RoundResult, nproc: number): RoundSummary {
  return {
    round: r.round,
    toRunningP50: percentile(r.pods.map(toRunning), 50),
    toReportedP50: percentile(r.pods.map(toReported), 50),
    runtimeP50: percentile(r.pods.map((p) => p.runtimeMs), 50),
    overheadP50: percentile(r.pods.map(overhead), 50),
    overheadP99: percentile(r.pods.map(overhead), 99),
    wallMs: r.wallMs,
    busyPct: (100 * r.machineBusyMs) / (r.wallMs * nproc),
    kubeletCpuMs: r.kubeletCpuMs,
    containerdCpuMs: r.containerdCpuMs,
    benchCpuMs: r.benchCpuMs,
  };
}

/** The verdict: the median over rounds of the per-round overhead p50, against the target. */
export interface Verdict {
  pass: boolean;
  overheadP50: number; // median over rounds of per-round p50
  overheadP99: number; // median over rounds of per-round p99
}

export function verdict(rounds: readonly RoundSummary[]): Verdict {
  const p50 = median(rounds.map((r) => r.overheadP50));
  return { pass: p50 <= OVERHEAD_TARGET_MS, overheadP50: p50, overheadP99: median(rounds.map((r) => r.overheadP99)) };
}

/** The phase marks of a tskubelet pod, in order, with where each comes from. */
const MARKS: { label: string; source: string; at: (p: KubeletPodSample) => number }[] = [
  { label: 'manifest seen by the file source', source: 'config.seen annotation (/pods)', at: (p) => p.seenMs },
  { label: 'sandbox created', source: "runtime's sandbox created_at", at: (p) => p.sandboxCreatedMs },
  { label: 'sandbox ready', source: "log 'sandbox ready'", at: (p) => p.sandboxReadyMs },
  { label: 'image checked', source: 'log event Pulled', at: (p) => p.imageCheckedMs },
  { label: 'container created', source: "runtime's container created_at", at: (p) => p.containerCreatedMs },
  { label: 'container running', source: "runtime's started_at", at: (p) => p.startedMs },
  { label: 'reported Running', source: "log 'pod status' Running", at: (p) => p.reportedRunningMs },
];

/** The whole report as Markdown. */
export function renderMarkdown(r: BenchResult): string {
  const nproc = r.machine.nproc;
  const all = r.rounds.flatMap((x) => x.pods);
  const rounds = r.rounds.map((x) => summarizeRound(x, nproc));
  const v = verdict(rounds);
  const out: string[] = [];
  out.push(`# tskubelet static pod start-up benchmark, ${r.date}`, '');
  out.push(
    `${r.podsPerRound} static pod manifests (busybox \`sleep 3600\`, one container, imagePullPolicy IfNotPresent, image present) ` +
      `written at once into the static pod path of a running tskubelet (\`--v=2\`), ${r.rounds.length} round(s), ` +
      `each cleaned up before the next; then the same number of pods started by calling CRI directly, for the runtime alone.`,
    '',
  );
  out.push(
    machineTable(r.machine, r.containerd, r.commit),
    '',
  );

  out.push('## Verdict', '');
  out.push(
    `**${v.pass ? 'PASS' : 'FAIL'}**: tskubelet overhead p50 = **${ms(v.overheadP50)} ms** ` +
      `(target ≤ ${OVERHEAD_TARGET_MS} ms; median over rounds of each round's p50), overhead p99 = ${ms(v.overheadP99)} ms (median over rounds).`,
    '',
    'Overhead of a pod = (its container running, by the runtime\'s started_at, − its manifest written) − the runtime\'s own time for it ' +
      '(RunPodSandbox + CreateContainer + StartContainer, summed over its syncs: tskubelet\'s `runtimeMs`).',
    '',
  );

  out.push(`## tskubelet, all rounds (${all.length} pods)`, '');
  out.push(
    table(['ms', 'p50', 'p90', 'p99', 'max', 'n'], [
      summaryRow('manifest written → running (runtime\'s startedAt)', summarize(all.map(toRunning))),
      summaryRow('manifest written → reported Running (log)', summarize(all.map(toReported))),
      summaryRow('runtime\'s own time (sum of runtimeMs)', summarize(all.map((p) => p.runtimeMs))),
      summaryRow('**overhead** (to running − runtime\'s own time)', summarize(all.map(overhead))),
    ]),
    '',
  );

  out.push('## Per round', '');
  const roundRows = rounds.map((s) => [
    String(s.round), ms(s.toRunningP50), ms(s.toReportedP50), ms(s.runtimeP50), ms(s.overheadP50), ms(s.overheadP99),
    ms(s.wallMs), `${Math.round(s.busyPct)}%`, ms(s.kubeletCpuMs), ms(s.containerdCpuMs), ms(s.benchCpuMs),
  ]);
  const med = (f: (s: RoundSummary) => number): string => ms(median(rounds.map(f)));
  roundRows.push([
    '**median**', med((s) => s.toRunningP50), med((s) => s.toReportedP50), med((s) => s.runtimeP50), `**${med((s) => s.overheadP50)}**`,
    med((s) => s.overheadP99), med((s) => s.wallMs), `${Math.round(median(rounds.map((s) => s.busyPct)))}%`, med((s) => s.kubeletCpuMs), med((s) => s.containerdCpuMs), med((s) => s.benchCpuMs),
  ]);
  out.push(
    table(['round', 'to running p50', 'to reported p50', 'runtime p50', 'overhead p50', 'overhead p99', 'all running after', 'CPU busy', 'tskubelet CPU', 'containerd CPU', 'bench CPU'], roundRows),
    '',
    '"all running after": first manifest written → last pod reported Running. CPU busy: the whole machine over that window, % of all CPUs; ' +
      'tskubelet / containerd / bench CPU: each process\'s user+system CPU time (ms) over the same window (runc, the shims and CNI plugins ' +
      'are not in containerd\'s figure).',
    '',
  );

  const ok = r.baseline.filter((b) => !b.error);
  out.push(`## Runtime alone (the bench calls CRI directly, ${r.baseline.length} pods at once)`, '');
  out.push(
    table(['ms', 'p50', 'p90', 'p99', 'max', 'n'], [
      summaryRow('RunPodSandbox', summarize(ok.map((b) => b.sandboxMs))),
      summaryRow('CreateContainer', summarize(ok.map((b) => b.createMs))),
      summaryRow('StartContainer', summarize(ok.map((b) => b.startMs))),
      summaryRow('runtime\'s own time (the three)', summarize(ok.map((b) => b.runtimeMs))),
      summaryRow('first call → running (runtime\'s startedAt)', summarize(ok.map((b) => b.startedMs - b.t0Ms))),
    ]),
    '',
  );
  const kubeP50 = percentile(all.map(toRunning), 50);
  const baseP50 = percentile(ok.map((b) => b.startedMs - b.t0Ms), 50);
  out.push(
    `End to end, p50: tskubelet (manifest written → running) ${ms(kubeP50)} ms; runtime alone (first call → running, all ${r.baseline.length} at once) ` +
      `${ms(baseP50)} ms; difference ${ms(kubeP50 - baseP50)} ms. tskubelet does not call the runtime for every pod at once, so its calls ` +
      'contend less: compare its runtime time above with this one.',
    '',
  );
  if (ok.length < r.baseline.length) out.push(`${r.baseline.length - ok.length} baseline pod(s) failed: ${r.baseline.find((b) => b.error)?.error}`, '');

  out.push('## Where the time goes (tskubelet, all rounds)', '');
  const markRows: string[][] = [];
  let prev: ((p: KubeletPodSample) => number) | null = (p) => p.writtenMs;
  for (const m of MARKS) {
    const at = summarize(all.map((p) => m.at(p) - p.writtenMs));
    const before = prev;
    const step = summarize(all.map((p) => m.at(p) - (before ? before(p) : Number.NaN)));
    markRows.push([m.label, ms(at.p50), ms(at.p90), ms(step.p50), ms(step.p90), m.source]);
    prev = m.at;
  }
  out.push(
    table(['mark', 'since written p50', 'p90', 'step p50', 'step p90', 'from'], markRows, '--- | ---: | ---: | ---: | ---: | ---'),
    '',
    'Each step is measured per pod (this mark − the previous one) and then summarised. The runtime\'s created_at of a sandbox is ' +
      'taken inside RunPodSandbox (compare the baseline: first call → sandbox created_at p50 = ' +
      `${ms(percentile(ok.map((b) => b.sandboxCreatedMs - b.t0Ms), 50))} ms); started_at inside StartContainer.`,
    '',
  );

  if (r.warnings.length > 0) out.push('## Warnings', '', ...r.warnings.map((w) => `- ${w}`), '');
  out.push(
    '## Method',
    '',
    '- Percentiles are nearest-rank over the pods (with 30 pods, p99 = max). Times: wall clock; the bench\'s are sub-ms ' +
      '(performance.now pinned to Date.now at each phase), the runtime\'s are ns, tskubelet\'s log times are ms.',
    '- The runtime stamps started_at inside StartContainer, a little before the call returns; that tail counts in the runtime\'s own ' +
      'time but not in "to running", so the overhead is understated by it (about 10 ms at p50 here, measured with an instrumented build).',
    '- Manifests are written to a staging folder first, then renamed one by one into the static pod path; "written" = right after the rename.',
    '- The bench waits for the log (no polling while pods start), then reads the runtime once (ListPodSandbox, ListContainers, ContainerStatus) ' +
      'and /pods once.',
    `- tskubelet: \`${r.kubeletArgs.join(' ')}\``,
    '',
  );
  return out.join('\n');
}

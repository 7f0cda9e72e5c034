// The cluster benchmark's results as data (bench/results/cluster-pods-*.json) and as Markdown,
// and its verdict against issue 3's target. Pure.
import type { RequestStat, Variant } from './cluster-api.ts';
import type { MachineFacts } from './host.ts';
import { median, percentile, summarize } from './stats.ts';
import { machineTable, ms, summaryRow, table } from './markdown.ts';

export { ms };

/** Issue 3's targets: start latency − the runtime's own time at p50 (ms), start latency at p99 (ms). */
export const OVERHEAD_P50_TARGET_MS = 200;
export const LATENCY_P99_TARGET_MS = 2_000;

/** One pod of a burst. Times are wall-clock ms since the epoch (NaN: not seen); durations ms. */
export interface ClusterPodSample {
  round: number;
  variant: Variant;
  name: string;
  uid: string;
  createCallMs: number; // the bench, just before its POST of the pod
  createdMs: number; // the POST answered
  creationTimestampMs: number; // metadata.creationTimestamp (the API's; whole seconds)
  addedMs: number; // watch: ADDED
  boundMs: number; // watch: first event with spec.nodeName
  kubeletSeenMs: number; // log 'pod configuration changed' (API source) that added it, paired by order
  sandboxCreatedMs: number; // runtime: sandbox created_at (inside RunPodSandbox)
  sandboxReadyMs: number; // log 'sandbox ready'
  imageCheckedMs: number; // log event Pulled (image present)
  containerCreatedMs: number; // runtime: container created_at (inside CreateContainer)
  createdEventMs: number; // log event Created (CreateContainer returned)
  startedMs: number; // runtime: container started_at (inside StartContainer)
  startedEventMs: number; // log event Started (StartContainer returned)
  reportedRunningMs: number; // log 'pod status' Running (the status manager has it; the PATCH starts)
  firstKubeletStatusMs: number; // watch: first event with status.startTime
  runningReadyMs: number; // watch: phase Running and Ready True
  runtimeMs: number; // sum of the pod's 'runtime time in this sync' (RunPodSandbox + CreateContainer + StartContainer)
  syncsWithRuntime: number;
  deleteCallMs: number; // the bench, just before its DELETE
  deletionSeenMs: number; // watch: first event with deletionTimestamp
  deletedMs: number; // watch: DELETED
  /** containerd's log: when each CRI call arrived (Start) and returned (End); NaN without the log. */
  runSandboxStartMs: number;
  runSandboxEndMs: number;
  createContainerStartMs: number;
  createContainerEndMs: number;
  startContainerStartMs: number;
  startContainerEndMs: number;
  stopContainerStartMs: number;
  stopContainerEndMs: number;
  stopSandboxStartMs: number;
  stopSandboxEndMs: number;
  removeSandboxStartMs: number;
  removeSandboxEndMs: number;
}

/** One burst: N pods of one variant created at once, measured, deleted at once. */
export interface BurstResult {
  round: number;
  variant: Variant;
  pods: ClusterPodSample[];
  /** First create call → last pod Running and Ready (watch), ms. */
  startWallMs: number;
  /** First delete call → last DELETED (watch), ms. */
  deleteWallMs: number;
  /** First delete call → the runtime has none of the burst's sandboxes, ms. */
  runtimeGoneMs: number;
  /** User+system CPU (ms) over the start window, per process name; 'machine' is all CPUs' busy time. */
  cpuMs: Record<string, number>;
  /** API server requests over the start window (its own /metrics), all clients. */
  apiRequests: RequestStat[];
}

export interface ClusterBenchResult {
  date: string; // ISO
  commit: string;
  machine: MachineFacts;
  containerd: string;
  apiServer: string; // version
  nodeName: string;
  podsPerBurst: number;
  rounds: number;
  bursts: BurstResult[];
  kubeletArgs: string[];
  warnings: string[];
}

/** Start latency as the API sees it: the bench's create call → Running and Ready in the watch. */
export const latency = (p: ClusterPodSample): number => p.runningReadyMs - p.createCallMs;
/** The same from metadata.creationTimestamp (whole seconds: up to 1 s too long). */
export const latencyFromCreationTimestamp = (p: ClusterPodSample): number => p.runningReadyMs - p.creationTimestampMs;
export const overhead = (p: ClusterPodSample): number => latency(p) - p.runtimeMs;
export const deleteLatency = (p: ClusterPodSample): number => p.deletedMs - p.deleteCallMs;

/** Per burst: the percentiles the verdict and the tables use. */
export interface BurstSummary {
  round: number;
  variant: Variant;
  latencyP50: number;
  latencyP99: number;
  runtimeP50: number;
  overheadP50: number;
  overheadP99: number;
  deleteP50: number;
  deleteP99: number;
  startWallMs: number;
  deleteWallMs: number;
  runtimeGoneMs: number;
  busyPct: number; // machine busy over the start window, % of all CPUs
  cpuMs: Record<string, number>;
}

export function summarizeBurst(b: BurstResult, nproc: number): BurstSummary {
  const p = (f: (x: ClusterPodSample) => number, q: number): number => percentile(b.pods.map(f), q);
  return {
    round: b.round,
    variant: b.variant,
    latencyP50: p(latency, 50),
    latencyP99: p(latency, 99),
    runtimeP50: p((x) => x.runtimeMs, 50),
    overheadP50: p(overhead, 50),
    overheadP99: p(overhead, 99),
    deleteP50: p(deleteLatency, 50),
    deleteP99: p(deleteLatency, 99),
    startWallMs: b.startWallMs,
    deleteWallMs: b.deleteWallMs,
    runtimeGoneMs: b.runtimeGoneMs,
    busyPct: (100 * (b.cpuMs.machine ?? Number.NaN)) / (b.startWallMs * nproc),
    cpuMs: b.cpuMs,
  };
}

/** The verdict for one variant: the median over rounds of each round's p50 overhead and p99 latency. */
export interface VariantVerdict {
  variant: Variant;
  rounds: number;
  overheadP50: number;
  latencyP99: number;
  overheadPass: boolean;
  latencyPass: boolean;
}

export function variantVerdict(variant: Variant, summaries: readonly BurstSummary[]): VariantVerdict {
  const mine = summaries.filter((s) => s.variant === variant);
  const overheadP50 = median(mine.map((s) => s.overheadP50));
  const latencyP99 = median(mine.map((s) => s.latencyP99));
  return {
    variant,
    rounds: mine.length,
    overheadP50,
    latencyP99,
    overheadPass: overheadP50 <= OVERHEAD_P50_TARGET_MS,
    latencyPass: latencyP99 < LATENCY_P99_TARGET_MS,
  };
}

/** The two PASS/FAIL lines of a variant (plain text, for stderr and the report). */
export function verdictLines(v: VariantVerdict): string[] {
  const word = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  return [
    `${word(v.overheadPass)}: p50 overhead ≤ ${OVERHEAD_P50_TARGET_MS} ms: ${ms(v.overheadP50)} ms (${v.variant}; median over ${v.rounds} round(s))`,
    `${word(v.latencyPass)}: p99 latency < ${LATENCY_P99_TARGET_MS / 1000} s: ${ms(v.latencyP99)} ms (${v.variant}; median over ${v.rounds} round(s))`,
  ];
}

const VARIANT_TEXT: Record<Variant, string> = {
  direct: 'spec.nodeName set by the bench (the scheduler is bypassed)',
  scheduler: 'through the scheduler (nodeSelector kubernetes.io/hostname)',
};

interface Mark {
  label: string;
  source: string;
  at: (p: ClusterPodSample) => number;
}

/** The marks of a pod's start, in order, with where each comes from: with containerd's log of the CRI calls. */
const START_MARKS: Mark[] = [
  { label: 'POST answered', source: 'the bench', at: (p) => p.createdMs },
  { label: 'ADDED', source: 'watch', at: (p) => p.addedMs },
  { label: 'bound to the node', source: 'watch: first event with spec.nodeName', at: (p) => p.boundMs },
  { label: 'seen by tskubelet', source: "log 'pod configuration changed' of the API source (k-th addition = k-th bound pod)", at: (p) => p.kubeletSeenMs },
  { label: 'RunPodSandbox called', source: "containerd's log", at: (p) => p.runSandboxStartMs },
  { label: 'RunPodSandbox returned', source: "containerd's log", at: (p) => p.runSandboxEndMs },
  { label: 'sandbox ready', source: "log 'sandbox ready' (after PodSandboxStatus, /etc/hosts)", at: (p) => p.sandboxReadyMs },
  { label: 'image checked', source: 'log event Pulled', at: (p) => p.imageCheckedMs },
  { label: 'CreateContainer called', source: "containerd's log (volumes, token, env before it)", at: (p) => p.createContainerStartMs },
  { label: 'CreateContainer returned', source: "containerd's log", at: (p) => p.createContainerEndMs },
  { label: 'StartContainer called', source: "containerd's log", at: (p) => p.startContainerStartMs },
  { label: 'StartContainer returned', source: "containerd's log", at: (p) => p.startContainerEndMs },
  { label: 'status Running', source: "log 'pod status' (the status PATCH starts)", at: (p) => p.reportedRunningMs },
  { label: 'Running and Ready', source: 'watch', at: (p) => p.runningReadyMs },
];

/** The same without containerd's log: the runtime's created/started stamps and tskubelet's events. */
const START_MARKS_NO_CRI_LOG: Mark[] = [
  { label: 'POST answered', source: 'the bench', at: (p) => p.createdMs },
  { label: 'ADDED', source: 'watch', at: (p) => p.addedMs },
  { label: 'bound to the node', source: 'watch: first event with spec.nodeName', at: (p) => p.boundMs },
  { label: 'seen by tskubelet', source: "log 'pod configuration changed' of the API source (k-th addition = k-th bound pod)", at: (p) => p.kubeletSeenMs },
  { label: 'sandbox created', source: "runtime's sandbox created_at (inside RunPodSandbox)", at: (p) => p.sandboxCreatedMs },
  { label: 'sandbox ready', source: "log 'sandbox ready' (after RunPodSandbox, status, /etc/hosts)", at: (p) => p.sandboxReadyMs },
  { label: 'image checked', source: 'log event Pulled', at: (p) => p.imageCheckedMs },
  { label: 'container created', source: "runtime's container created_at (volumes, env, then CreateContainer)", at: (p) => p.containerCreatedMs },
  { label: 'CreateContainer returned', source: 'log event Created', at: (p) => p.createdEventMs },
  { label: 'container running', source: "runtime's started_at", at: (p) => p.startedMs },
  { label: 'StartContainer returned', source: 'log event Started', at: (p) => p.startedEventMs },
  { label: 'status Running', source: "log 'pod status' (the status PATCH starts)", at: (p) => p.reportedRunningMs },
  { label: 'Running and Ready', source: 'watch', at: (p) => p.runningReadyMs },
];

const DELETE_MARKS: Mark[] = [
  { label: 'deletionTimestamp set', source: 'watch', at: (p) => p.deletionSeenMs },
  { label: 'StopContainer called', source: "containerd's log", at: (p) => p.stopContainerStartMs },
  { label: 'StopContainer returned', source: "containerd's log (the container exits on SIGTERM)", at: (p) => p.stopContainerEndMs },
  { label: 'StopPodSandbox called', source: "containerd's log", at: (p) => p.stopSandboxStartMs },
  { label: 'StopPodSandbox returned', source: "containerd's log (network torn down)", at: (p) => p.stopSandboxEndMs },
  { label: 'DELETED', source: 'watch (tskubelet deleted it with grace 0 after its final status)', at: (p) => p.deletedMs },
  { label: 'RemovePodSandbox returned', source: "containerd's log (after the pod left the API)", at: (p) => p.removeSandboxEndMs },
];

/** Whether containerd's log gave the pods' CRI calls. */
export const hasCriLog = (pods: readonly ClusterPodSample[]): boolean => pods.some((p) => Number.isFinite(p.runSandboxStartMs));

/**
 * The start latency of a pod cut into consecutive parts (with containerd's log); they add up to
 * the latency exactly. The runtime's parts are the calls as containerd saw them (their sum is
 * close to tskubelet's runtimeMs, which also has the gRPC round trips).
 */
export const START_PARTS: { label: string; kubelet: boolean; part: (p: ClusterPodSample) => number }[] = [
  { label: 'API server (and scheduler): create call → bound, as the watch saw it', kubelet: false, part: (p) => p.boundMs - p.createCallMs },
  { label: 'watch delivery: bound (bench\'s watch) → tskubelet\'s API source had it (tskubelet\'s event loop delay included)', kubelet: true, part: (p) => p.kubeletSeenMs - p.boundMs },
  { label: 'tskubelet: seen → RunPodSandbox called (pod config, pod worker slot, runtime state read, sandbox config)', kubelet: true, part: (p) => p.runSandboxStartMs - p.kubeletSeenMs },
  { label: 'runtime: RunPodSandbox', kubelet: false, part: (p) => p.runSandboxEndMs - p.runSandboxStartMs },
  { label: 'tskubelet: RunPodSandbox returned → CreateContainer called (sandbox status, /etc/hosts, image, volumes incl. token, env)', kubelet: true, part: (p) => p.createContainerStartMs - p.runSandboxEndMs },
  { label: 'runtime: CreateContainer', kubelet: false, part: (p) => p.createContainerEndMs - p.createContainerStartMs },
  { label: 'tskubelet: CreateContainer returned → StartContainer called', kubelet: true, part: (p) => p.startContainerStartMs - p.createContainerEndMs },
  { label: 'runtime: StartContainer', kubelet: false, part: (p) => p.startContainerEndMs - p.startContainerStartMs },
  { label: 'tskubelet: StartContainer returned → Running and Ready in the watch (state read, status, PATCH; watch delivery)', kubelet: true, part: (p) => p.runningReadyMs - p.startContainerEndMs },
];

/**
 * Whether a pod waited for a sync slot: its RunPodSandbox came after the first pod of its burst
 * was reported Running (by then every pod had been seen; a later start means a busy worker pool).
 */
export function waitedForSlot(p: ClusterPodSample, burst: readonly ClusterPodSample[]): boolean {
  const firstRunning = Math.min(...burst.map((x) => x.reportedRunningMs).filter(Number.isFinite));
  return Number.isFinite(p.runSandboxStartMs) ? p.runSandboxStartMs > firstRunning : p.sandboxCreatedMs > firstRunning;
}

function marksTable(pods: readonly ClusterPodSample[], start: (p: ClusterPodSample) => number, marks: readonly Mark[]): string {
  const rows: string[][] = [];
  let prev = start;
  for (const m of marks) {
    if (!pods.some((p) => Number.isFinite(m.at(p)))) continue; // a source this run did not have
    const before = prev;
    const at = summarize(pods.map((p) => m.at(p) - start(p)));
    const step = summarize(pods.map((p) => m.at(p) - before(p)));
    rows.push([m.label, ms(at.p50), ms(at.p90), ms(at.max), ms(step.p50), ms(step.p90), ms(step.max), m.source]);
    prev = m.at;
  }
  return table(['mark', 'since call p50', 'p90', 'max', 'step p50', 'step p90', 'step max', 'from'], rows, '--- | ---: | ---: | ---: | ---: | ---: | ---: | ---');
}

/** Per request kind over a variant's bursts: requests per burst and the mean server-side time. */
function requestRows(bursts: readonly BurstResult[]): string[][] {
  const agg = new Map<string, { count: number; totalMs: number }>();
  for (const b of bursts) {
    for (const r of b.apiRequests) {
      const e = agg.get(r.request) ?? { count: 0, totalMs: 0 };
      e.count += r.count;
      e.totalMs += r.totalMs;
      agg.set(r.request, e);
    }
  }
  return [...agg.entries()]
    .sort((a, b) => b[1].totalMs - a[1].totalMs)
    .slice(0, 12)
    .map(([k, e]) => [k, (e.count / bursts.length).toFixed(1), ms(e.totalMs / e.count), ms(e.totalMs / bursts.length)]);
}

/** Processes whose CPU the report shows, in this order. */
export const CPU_PROCESSES = ['tskubelet', 'containerd', 'runtime helpers', 'kube-apiserver', 'etcd', 'kube-scheduler', 'kube-controller-manager', 'bench'];

/** The parts table of a variant: per part p50/p90/max and mean, and each mean's share of the mean latency. */
function partsTable(bursts: readonly BurstResult[]): string[] {
  const pods = bursts.flatMap((b) => b.pods);
  const mean = (xs: number[]): number => {
    const v = xs.filter(Number.isFinite);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
  };
  const meanLatency = mean(pods.map(latency));
  const rows = START_PARTS.map((part) => {
    const xs = pods.map(part.part);
    const s = summarize(xs);
    const m = mean(xs);
    return [part.label, ms(s.p50), ms(s.p90), ms(s.max), ms(m), `${Math.round((100 * m) / meanLatency)}%`];
  });
  const kubeletMean = mean(pods.map((p) => START_PARTS.filter((x) => x.kubelet).reduce((a, x) => a + x.part(p), 0)));
  rows.push(['**tskubelet\'s parts together**', '', '', '', `**${ms(kubeletMean)}**`, `${Math.round((100 * kubeletMean) / meanLatency)}%`]);
  rows.push(['start latency', ms(percentile(pods.map(latency), 50)), ms(percentile(pods.map(latency), 90)), ms(percentile(pods.map(latency), 100)), ms(meanLatency), '100%']);
  const waited = bursts.flatMap((b) => b.pods.filter((p) => waitedForSlot(p, b.pods)));
  const prompt = bursts.flatMap((b) => b.pods.filter((p) => !waitedForSlot(p, b.pods)));
  const before = (p: ClusterPodSample): number => p.runSandboxStartMs - p.boundMs;
  return [
    table(['part of the start latency, ms', 'p50', 'p90', 'max', 'mean', 'share of mean'], rows),
    '',
    `Pods whose RunPodSandbox came only after their burst's first pod was Running (they waited for a pod worker slot): ` +
      `**${waited.length} of ${pods.length}**; their "bound → RunPodSandbox called" p50 ${ms(percentile(waited.map(before), 50))} ms, ` +
      `max ${ms(percentile(waited.map(before), 100))} ms; the other pods' p50 ${ms(percentile(prompt.map(before), 50))} ms, max ${ms(percentile(prompt.map(before), 100))} ms. ` +
      `Start latency p50 of the pods that did not wait: ${ms(percentile(prompt.map(latency), 50))} ms, overhead p50 ${ms(percentile(prompt.map(overhead), 50))} ms.`,
    '',
  ];
}

/** The whole report as Markdown. */
export function renderMarkdown(r: ClusterBenchResult): string {
  const nproc = r.machine.nproc;
  const summaries = r.bursts.map((b) => summarizeBurst(b, nproc));
  const variants = [...new Set(r.bursts.map((b) => b.variant))];
  const out: string[] = [];
  out.push(`# tskubelet cluster pod start-up benchmark, ${r.date}`, '');
  out.push(
    `One tskubelet node (\`${r.nodeName}\`) in a real cluster (kube-apiserver, scheduler, controller-manager on this machine). ` +
      `Per round and variant, a burst of ${r.podsPerBurst} ordinary pods (busybox \`sh -c '${'trap "exit 0" TERM; sleep 3600 & wait'}'\`, image present, ` +
      'default service account with its projected token volume) is created at once by the bench (admin client), watched until every pod is ' +
      `Running and Ready, then deleted at once and watched until every pod is gone; ${r.rounds} round(s), the runtime checked empty between bursts. Variants: ` +
      variants.map((v) => `**${v}**: ${VARIANT_TEXT[v]}`).join('; ') + '.',
    '',
  );
  out.push(
    machineTable(r.machine, r.containerd, r.commit, [['API server', r.apiServer]]),
    '',
  );

  out.push('## Verdict', '');
  const verdicts = variants.map((v) => variantVerdict(v, summaries));
  for (const v of verdicts) {
    out.push(`${v.variant === 'direct' ? 'The kubelet\'s target (pods bound directly)' : 'Through the scheduler (for comparison)'}:`, '');
    for (const line of verdictLines(v)) out.push(`- **${line.replace(/^(PASS|FAIL)/, '$1**')}`);
    out.push('');
  }
  out.push(
    'Start latency of a pod = Running and Ready in the bench\'s watch − the bench\'s create call (client clock, taken just before the POST; ' +
      'creationTimestamp has whole seconds only, see the second row below). Overhead = start latency − the runtime\'s own time for the pod ' +
      '(RunPodSandbox + CreateContainer + StartContainer, summed over its syncs: tskubelet\'s `runtimeMs`). Each round\'s p50/p99 is ' +
      'over its burst (with 30 pods p99 = max); the verdict takes the median over rounds.',
    '',
  );

  for (const v of variants) {
    const bursts = r.bursts.filter((b) => b.variant === v);
    const pods = bursts.flatMap((b) => b.pods);
    out.push(`## ${v}: all rounds (${pods.length} pods)`, '');
    out.push(
      table(['ms', 'p50', 'p90', 'p99', 'max', 'n'], [
        summaryRow('**start latency** (create call → Running and Ready)', summarize(pods.map(latency))),
        summaryRow('start latency from creationTimestamp (whole s)', summarize(pods.map(latencyFromCreationTimestamp))),
        summaryRow('runtime\'s own time (sum of runtimeMs)', summarize(pods.map((p) => p.runtimeMs))),
        summaryRow('**overhead** (start latency − runtime\'s own time)', summarize(pods.map(overhead))),
        summaryRow('delete latency (DELETE call → DELETED)', summarize(pods.map(deleteLatency))),
      ]),
      '',
    );
    out.push(`### ${v}: where the start time goes`, '');
    if (hasCriLog(pods)) out.push(...partsTable(bursts));
    out.push(
      marksTable(pods, (p) => p.createCallMs, hasCriLog(pods) ? START_MARKS : START_MARKS_NO_CRI_LOG),
      '',
      'Each step is per pod (this mark − the previous one), then summarised; a negative step means the marks overlap (e.g. the log\'s ' +
        'ms-precision times against the runtime\'s ns ones, or a mark taken at a call\'s start against one at the previous call\'s end).',
      '',
    );
    out.push(`### ${v}: where the delete time goes`, '');
    out.push(marksTable(pods, (p) => p.deleteCallMs, DELETE_MARKS), '');
    out.push(`### ${v}: API server requests during the start bursts (all clients, its own /metrics)`, '');
    out.push(
      table(['request', 'per burst', 'mean ms', 'total ms per burst'], requestRows(bursts)),
      '',
    );
  }

  out.push('## Per burst', '');
  const cpuHead = CPU_PROCESSES.map((p) => `${p} CPU`);
  const rows = summaries.map((s) => [
    String(s.round), s.variant, ms(s.latencyP50), ms(s.latencyP99), ms(s.runtimeP50), ms(s.overheadP50), ms(s.overheadP99),
    ms(s.deleteP50), ms(s.deleteP99), ms(s.startWallMs), `${Math.round(s.busyPct)}%`, ...CPU_PROCESSES.map((p) => ms(s.cpuMs[p] ?? Number.NaN)),
  ]);
  out.push(
    table(['round', 'variant', 'latency p50', 'latency p99', 'runtime p50', 'overhead p50', 'overhead p99', 'delete p50', 'delete p99', 'all ready after', 'CPU busy', ...cpuHead], rows),
    '',
    '"all ready after": first create call → last pod Running and Ready. CPU busy: the whole machine over that window, % of all CPUs; ' +
      'the per-process columns are user+system CPU ms over the same window; "runtime helpers" are the containerd shims with the runc ' +
      'processes they reaped, plus the CNI plugins containerd reaped.',
    '',
  );

  if (r.warnings.length > 0) out.push('## Warnings', '', ...r.warnings.map((w) => `- ${w}`), '');
  out.push(
    '## Method',
    '',
    '- Percentiles are nearest-rank over the pods. Times are wall clock on one machine: the bench\'s sub-ms (performance.now pinned to ' +
      'Date.now), the runtime\'s ns, tskubelet\'s log ms; the watch times are when the bench\'s watch received the event.',
    '- The pods are created with 30 concurrent POSTs over one keep-alive agent, and deleted the same way (default grace period; the ' +
      'container exits on SIGTERM). Rounds alternate the variants; the runtime is checked empty before the next burst.',
    '- The runtime\'s times are read once after a burst is Running and Ready (ListPodSandbox, ListContainers, ContainerStatus); the API ' +
      'server\'s /metrics before the first create call and after the last pod is ready (outside the window).',
    '- A warm-up burst of 2 pods runs before the rounds (not reported): the first pods of a fresh node pay for cold caches and connections.',
    '- The CRI calls\' times come from containerd\'s own log (/var/log/containerd.log: its CRI plugin logs when each call arrives and ' +
      'returns, ns precision). "seen by tskubelet" pairs tskubelet\'s k-th \'pod configuration changed\' line of the API source (one pod ' +
      'added each) with the k-th pod bound in the bench\'s watch: the API server sends its events to every watcher in the same order.',
    '- CPU figures cover everything on the machine during the window, including other engineers\' work if any ran (see Warnings).',
    `- tskubelet: \`${r.kubeletArgs.join(' ')}\``,
    '',
  );
  return out.join('\n');
}

// Reads tskubelet's JSON log lines (pino, --v=2) into what the benchmark needs per pod: the
// runtime time of its syncs, when it was reported Running, and the phase marks (sandbox ready,
// image checked, container created and started) used to see where the time goes. Pure apart
// from the accumulating KubeletLog object, which only holds what the lines said.

/** One log line, the fields the benchmark reads. `timeMs` is the line's wall-clock time (ms since epoch). */
export interface LogLine {
  timeMs: number;
  level: number; // pino: 20 debug, 30 info, 40 warn, 50 error, 60 fatal
  msg: string;
  pod?: string; // "namespace/name"
  podUID?: string;
  component?: string;
  fields: Record<string, unknown>;
}

/** What the log says about one pod; times are wall-clock ms, undefined until seen. */
export interface PodLogTimeline {
  pod: string;
  podUID?: string;
  /** Sum of runtimeMs over the pod's syncs that called the runtime. */
  runtimeMs: number;
  syncsWithRuntime: number;
  sandboxReadyMs?: number; // 'sandbox ready' (after RunPodSandbox + PodSandboxStatus + /etc/hosts)
  imageCheckedMs?: number; // first 'Pulled' event (image present; after ImageStatus)
  createdMs?: number; // first 'Created' event (after CreateContainer)
  startedMs?: number; // first 'Started' event (after StartContainer)
  reportedRunningMs?: number; // first 'pod status' line with status Running
  lastStatus?: string;
  /** Warning and error lines about the pod (messages), for diagnosis. */
  problems: string[];
}

/** Parses one stderr line; null when it is not a JSON object with a msg and a time. */
export function parseLogLine(line: string): LogLine | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (!obj || typeof obj !== 'object') return null;
  const o = obj as Record<string, unknown>;
  if (typeof o.msg !== 'string') return null;
  const timeMs = typeof o.time === 'string' ? Date.parse(o.time) : typeof o.time === 'number' ? o.time : Number.NaN;
  if (Number.isNaN(timeMs)) return null;
  return {
    timeMs,
    level: typeof o.level === 'number' ? o.level : 30,
    msg: o.msg,
    pod: typeof o.pod === 'string' ? o.pod : undefined,
    podUID: typeof o.podUID === 'string' ? o.podUID : undefined,
    component: typeof o.component === 'string' ? o.component : undefined,
    fields: o,
  };
}

/** Accumulates the log lines of one tskubelet run. */
export class KubeletLog {
  readonly pods = new Map<string, PodLogTimeline>();
  /** Times of 'static pods changed' lines (the file source sent a new snapshot). */
  readonly snapshots: { timeMs: number; pods: number }[] = [];
  /** Error and fatal lines not about a pod. */
  readonly errors: string[] = [];
  started = false;

  /** Records one parsed line. */
  add(l: LogLine): void {
    if (l.msg === 'tskubelet started') this.started = true;
    if (l.msg === 'static pods changed') this.snapshots.push({ timeMs: l.timeMs, pods: Number(l.fields.pods ?? 0) });
    if (!l.pod) {
      if (l.level >= 50) this.errors.push(l.msg + (typeof l.fields.err === 'string' ? `: ${l.fields.err}` : ''));
      return;
    }
    const t = this.timeline(l.pod);
    if (l.podUID) t.podUID = l.podUID;
    if (l.msg === 'runtime time in this sync' && typeof l.fields.runtimeMs === 'number') {
      t.runtimeMs += l.fields.runtimeMs;
      t.syncsWithRuntime++;
    } else if (l.msg === 'pod status') {
      const status = typeof l.fields.status === 'string' ? l.fields.status : '';
      t.lastStatus = status;
      if (status === 'Running' && t.reportedRunningMs === undefined) t.reportedRunningMs = l.timeMs;
    } else if (l.msg === 'sandbox ready') {
      t.sandboxReadyMs ??= l.timeMs;
    } else if (l.component === 'events') {
      const reason = l.fields.reason;
      if (reason === 'Pulled') t.imageCheckedMs ??= l.timeMs;
      else if (reason === 'Created') t.createdMs ??= l.timeMs;
      else if (reason === 'Started') t.startedMs ??= l.timeMs;
    }
    if (l.level >= 40) t.problems.push(l.msg);
  }

  /** Feeds a raw line (ignored when it does not parse). */
  addLine(line: string): void {
    const l = parseLogLine(line);
    if (l) this.add(l);
  }

  private timeline(pod: string): PodLogTimeline {
    let t = this.pods.get(pod);
    if (!t) this.pods.set(pod, (t = { pod, runtimeMs: 0, syncsWithRuntime: 0, problems: [] }));
    return t;
  }
}

// The scenarios of the side-by-side benchmark (bench/compare.ts), run against whichever agent is
// the cluster's only node now: they talk to the API server (admin), watch the pods, read
// /proc for CPU and memory, and ask the runtime (CRI) for exit times. Agent-neutral: nothing
// here reads an agent's log.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CriClient } from '../../src/cri/client.ts';
import { isAbort } from '../../src/common/errors.ts';
import { KubeApiError, type HttpKubeClient } from '../../src/kube/client.ts';
import type { Pod } from '../../src/kube/types.ts';
import { LABEL_CONTAINER_NAME, LABEL_POD_NAME } from '../../src/kuberuntime/labels.ts';
import { SLEEP_SCRIPT, isApiNotFound, type PodWatchRecorder, type PodWatchTimeline } from './cluster-api.ts';
import { findNamespacePods } from './cluster-runtime.ts';
import type { ChurnResult, CpuWindow, HoldResult, LagResult, ProbeResult, StartResult } from './compare-report.ts';
import { containerdPid, machineBusyMs, processCpuMs, type WallClock } from './host.ts';
import { BENCH_IMAGE } from './manifests.ts';
import { procCpu, runtimeHelpersCpuMs } from './proc-cpu.ts';

/** Label on the bench's namespaces, pods and Nodes (value: the run id): leftovers are found by it. */
export const COMPARE_LABEL = 'tskubelet-compare-bench';
const CONTAINER = 'sleep';

/** Tuning (ms). */
const POLL_MS = 25; // checks of the in-memory watch state
const RUNTIME_POLL_MS = 250; // CRI lists while waiting for the runtime to stop a namespace's pods
const SETTLE_MS = 2_000; // quiet time before each scenario
const HOLD_SETTLE_MS = 5_000; // after the pods of a hold are Ready: their status writes and first probes settle
const READY_BASE_TIMEOUT_MS = 60_000; // + READY_PER_POD_MS per pod: waits for Running and Ready / DELETED
const READY_PER_POD_MS = 2_000;
const STOPPED_TIMEOUT_MS = 60_000; // the runtime runs none of the deleted pods' sandboxes
const LAG_GAP_MIN_MS = 250; // the gap between two exits: random in [MIN, MIN + SPAN)
const LAG_GAP_SPAN_MS = 300;
const LAG_TIMEOUT_MS = 60_000; // after the last exit, for its terminated state in the API
const STOP_TIMEOUT_S = 10; // CRI StopContainer's grace; the shell exits on TERM at once
const FLIP_FIRST_MS = 5_000; // probes: the first readiness flip, after the hold's start
const FLIP_EVERY_MS = 10_000; // probes: flips this far apart; a flip's transitions are looked for until the next one

/** What every scenario needs; `alive` throws once the agent has exited. */
export interface ScenarioContext {
  admin: HttpKubeClient;
  cri: CriClient;
  watch: PodWatchRecorder;
  clock: WallClock;
  ns: string;
  nodeName: string;
  runId: string;
  agentPid: number;
  alive: () => void;
  progress: (msg: string) => void;
  warn: (msg: string) => void;
  signal: AbortSignal;
}

export type PodKind = 'sleep' | 'exit' | 'probe';

/** The host folder whose `ready` file the probe pods' readiness probe tests (a read-only hostPath volume). */
export const probeFlagDir = (runId: string): string => `/run/${COMPARE_LABEL}-${runId}`;
const FLAG_MOUNT = '/flag';

/**
 * A bench pod bound to the node (spec.nodeName), one busybox container that sleeps and exits 0
 * at once on SIGTERM. 'exit' pods do not restart (restartPolicy Never); 'probe' pods carry an
 * exec readiness probe every second that passes while the bench's flag file exists
 * (`test -f /flag/ready`, the host's probeFlagDir mounted read-only).
 */
export function comparePod(name: string, kind: PodKind, nodeName: string, runId: string): Pod {
  const container: Record<string, unknown> = { name: CONTAINER, image: BENCH_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', SLEEP_SCRIPT] };
  const volumes: unknown[] = [];
  if (kind === 'probe') {
    container.readinessProbe = { exec: { command: ['test', '-f', `${FLAG_MOUNT}/ready`] }, periodSeconds: 1 };
    container.volumeMounts = [{ name: 'flag', mountPath: FLAG_MOUNT, readOnly: true }];
    volumes.push({ name: 'flag', hostPath: { path: probeFlagDir(runId), type: 'Directory' } });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { [COMPARE_LABEL]: runId, [`${COMPARE_LABEL}/kind`]: kind } },
    spec: { nodeName, ...(kind === 'exit' ? { restartPolicy: 'Never' } : {}), containers: [container as never], ...(volumes.length ? { volumes: volumes as never } : {}) },
  };
}

// --- CPU and memory ---------------------------------------------------------------------------------

interface CpuSnap {
  wallMs: number;
  agentMs: number;
  containerdMs: number;
  helpersMs: number;
  machineMs: number;
  rssMiB: number;
  memAvailableMiB: number;
}

/** MemAvailable of the machine, MiB; NaN when unreadable. */
function memAvailableMiB(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process, MiB (VmRSS); NaN when unreadable. */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The agent's CPU so far (its own and what it reaped), ms. */
export function agentCpuMs(pid: number): number {
  const c = procCpu(pid);
  return c.selfMs + c.childrenMs;
}

function cpuSnap(agentPid: number): CpuSnap {
  const ctrd = containerdPid();
  return {
    wallMs: performance.now(),
    agentMs: agentCpuMs(agentPid),
    containerdMs: ctrd ? processCpuMs(ctrd) : Number.NaN,
    helpersMs: runtimeHelpersCpuMs(ctrd),
    machineMs: machineBusyMs(),
    rssMiB: rssMiB(agentPid),
    memAvailableMiB: memAvailableMiB(),
  };
}

function windowOf(a: CpuSnap, b: CpuSnap): CpuWindow {
  const wall = b.wallMs - a.wallMs;
  return {
    agentCores: (b.agentMs - a.agentMs) / wall,
    containerdCores: (b.containerdMs - a.containerdMs) / wall,
    helpersCores: (b.helpersMs - a.helpersMs) / wall,
    machineCores: (b.machineMs - a.machineMs) / wall,
    agentRssMiB: b.rssMiB,
    memAvailableMiB: b.memAvailableMiB,
  };
}

/** Holds for `holdS` seconds, sampling every `windowS`: one CpuWindow per window. */
export async function sampleHold(ctx: ScenarioContext, holdS: number, windowS: number): Promise<CpuWindow[]> {
  const windows: CpuWindow[] = [];
  let prev = cpuSnap(ctx.agentPid);
  const count = Math.max(1, Math.floor(holdS / windowS));
  for (let i = 0; i < count; i++) {
    const due = prev.wallMs + windowS * 1000;
    while (performance.now() < due) {
      ctx.alive();
      await sleep(Math.min(500, Math.max(1, due - performance.now())), undefined, { signal: ctx.signal });
    }
    const next = cpuSnap(ctx.agentPid);
    windows.push(windowOf(prev, next));
    prev = next;
  }
  return windows;
}

// --- pods in bulk -------------------------------------------------------------------------------------

const timeoutFor = (pods: number): number => READY_BASE_TIMEOUT_MS + pods * READY_PER_POD_MS;

/** Polls the watch until `done` holds for every name; throws naming the pending ones after `timeoutMs`. */
export async function waitAll(ctx: ScenarioContext, names: readonly string[], done: (t: PodWatchTimeline | undefined) => boolean, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const pending = names.filter((n) => !done(ctx.watch.get(n)));
    if (pending.length === 0) return;
    ctx.signal.throwIfAborted();
    ctx.alive();
    if (Date.now() > until) throw new Error(`${pending.length} of ${names.length} pod(s) not ${what} after ${Math.round(timeoutMs / 1000)} s: ${pending.slice(0, 5).join(', ')}`);
    await sleep(POLL_MS, undefined, { signal: ctx.signal });
  }
}

/** Creates the pods at once; resolves to each one's create-call time (the bench's clock). */
export async function createAll(ctx: ScenarioContext, names: readonly string[], kind: PodKind): Promise<Map<string, number>> {
  // Open keep-alive connections first: the burst must not measure the bench's TLS handshakes.
  await Promise.all(names.slice(0, 32).map(() => ctx.admin.request('GET', '/version', { signal: ctx.signal })));
  const calls = new Map<string, number>();
  await Promise.all(names.map((name) => {
    calls.set(name, ctx.clock.now());
    return ctx.admin.request<Pod>('POST', `/api/v1/namespaces/${ctx.ns}/pods`, { body: comparePod(name, kind, ctx.nodeName, ctx.runId), signal: ctx.signal });
  }));
  return calls;
}

/** Deletes the pods at once; resolves to each one's delete-call time. */
export async function deleteAll(ctx: ScenarioContext, names: readonly string[]): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  await Promise.all(names.map(async (name) => {
    calls.set(name, ctx.clock.now());
    await deleteRetryingDrops(() => ctx.admin.request('DELETE', `/api/v1/namespaces/${ctx.ns}/pods/${name}`, { signal: ctx.signal }));
  }));
  return calls;
}

/**
 * Runs a DELETE, again (up to twice, 200 ms apart) when the connection dropped without an answer
 * (a keep-alive connection the API server closed as it was reused: "socket hang up"); a 404 on
 * a repeat means the first one went through. An answer of the API server is never repeated.
 */
export async function deleteRetryingDrops(del: () => Promise<unknown>, tries = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await del();
      return;
    } catch (err) {
      if (attempt > 1 && isApiNotFound(err)) return;
      if (err instanceof KubeApiError || isAbort(err) || attempt >= tries) throw err;
      await sleep(200);
    }
  }
}

/**
 * Waits until the runtime runs no sandbox of the namespace's pods (stopped ones may stay: the
 * upstream kubelet removes them in its container GC, once a minute).
 */
export async function waitRuntimeStopped(ctx: ScenarioContext): Promise<void> {
  const until = Date.now() + STOPPED_TIMEOUT_MS;
  for (;;) {
    const sandboxes = await ctx.cri.listPodSandbox({ label_selector: { 'io.kubernetes.pod.namespace': ctx.ns } }, ctx.signal);
    const ready = sandboxes.filter((s) => s.state === 'SANDBOX_READY');
    if (ready.length === 0) return;
    ctx.alive();
    if (Date.now() > until) throw new Error(`the runtime still runs ${ready.length} sandbox(es) of ${ctx.ns} ${STOPPED_TIMEOUT_MS / 1000} s after their pods were deleted`);
    await sleep(RUNTIME_POLL_MS, undefined, { signal: ctx.signal });
  }
}

/** Deletes the pods at once and waits until each is DELETED and the runtime runs none of them. */
export async function removeAll(ctx: ScenarioContext, names: readonly string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const calls = await deleteAll(ctx, names);
  await waitAll(ctx, names, (t) => t?.deletedMs !== undefined, 'DELETED', timeoutFor(names.length));
  await waitRuntimeStopped(ctx);
  return calls;
}

const isReady = (t: PodWatchTimeline | undefined): boolean => t?.runningReadyMs !== undefined;

/** Creates the pods at once and waits until every one is Running and Ready: their start latencies. */
export async function startAll(ctx: ScenarioContext, names: readonly string[], kind: PodKind): Promise<StartResult> {
  const cpu0 = agentCpuMs(ctx.agentPid);
  const calls = await createAll(ctx, names, kind);
  await waitAll(ctx, names, isReady, 'Running and Ready', timeoutFor(names.length));
  const cpu1 = agentCpuMs(ctx.agentPid);
  const startMs = names.map((n) => (ctx.watch.get(n)?.runningReadyMs ?? Number.NaN) - (calls.get(n) ?? Number.NaN));
  const first = Math.min(...calls.values());
  const last = Math.max(...names.map((n) => ctx.watch.get(n)?.runningReadyMs ?? Number.NaN));
  return { pods: names.length, startMs, wallMs: last - first, agentCpuMs: cpu1 - cpu0 };
}

export async function settle(ctx: ScenarioContext, ms = SETTLE_MS): Promise<void> {
  await sleep(ms, undefined, { signal: ctx.signal });
  ctx.alive();
}

// --- the scenarios ------------------------------------------------------------------------------------

/** burst: `pods` pods at once. The pods stay (the caller keeps them for density or removes them). */
export async function runBurst(ctx: ScenarioContext, pods: number): Promise<{ result: StartResult; names: string[] }> {
  const names = Array.from({ length: pods }, (_, i) => `burst-${String(i).padStart(3, '0')}`);
  await settle(ctx);
  const result = await startAll(ctx, names, 'sleep');
  return { result, names };
}

/**
 * One density tier: brings the running population to `target` pods (creating the missing ones
 * at once, or deleting the newest), lets it settle, then holds and samples.
 */
export async function runDensityTier(ctx: ScenarioContext, target: number, population: string[], holdS: number, windowS: number): Promise<HoldResult> {
  if (population.length > target) {
    const extra = population.splice(target);
    await removeAll(ctx, extra);
  } else if (population.length < target) {
    const first = population.length;
    const names = Array.from({ length: target - first }, (_, i) => `dens-${target}-${String(first + i).padStart(3, '0')}`);
    await startAll(ctx, names, 'sleep');
    population.push(...names);
  }
  await settle(ctx, HOLD_SETTLE_MS);
  ctx.progress(`density ${target}: holding ${holdS} s`);
  return { pods: target, windows: await sampleHold(ctx, holdS, windowS) };
}

/**
 * churn: `pods` pods created at `ratePerS` per second (on a fixed schedule); each is deleted once
 * it is Running and Ready and at least `lifetimeS` old. Ends when every pod is DELETED.
 */
export async function runChurn(ctx: ScenarioContext, pods: number, ratePerS: number, lifetimeS: number): Promise<ChurnResult> {
  const names = Array.from({ length: pods }, (_, i) => `churn-${String(i).padStart(3, '0')}`);
  await settle(ctx);
  await Promise.all(names.slice(0, 8).map(() => ctx.admin.request('GET', '/version', { signal: ctx.signal })));
  const cpu0 = agentCpuMs(ctx.agentPid);
  const intervalMs = 1000 / ratePerS;
  const createCall = new Map<string, number>();
  const created = new Set<string>();
  const deleteCall = new Map<string, number>();
  const inflight: Promise<unknown>[] = [];
  let failure: unknown;
  const track = (p: Promise<unknown>): void => {
    inflight.push(p.catch((err: unknown) => {
      failure ??= err;
    }));
  };
  const t0 = ctx.clock.now() + 50;
  const until = Date.now() + (pods / ratePerS) * 1000 + lifetimeS * 1000 + timeoutFor(pods);
  let next = 0;
  while (names.some((n) => ctx.watch.get(n)?.deletedMs === undefined)) {
    if (failure) throw failure;
    ctx.signal.throwIfAborted();
    ctx.alive();
    if (Date.now() > until) {
      const pending = names.filter((n) => ctx.watch.get(n)?.deletedMs === undefined);
      throw new Error(`churn: ${pending.length} pod(s) not DELETED in time (not ready: ${pending.filter((n) => !isReady(ctx.watch.get(n))).length}): ${pending.slice(0, 5).join(', ')}`);
    }
    const now = ctx.clock.now();
    while (next < pods && now >= t0 + next * intervalMs) {
      const name = names[next] as string;
      createCall.set(name, ctx.clock.now());
      track(ctx.admin.request('POST', `/api/v1/namespaces/${ctx.ns}/pods`, { body: comparePod(name, 'sleep', ctx.nodeName, ctx.runId), signal: ctx.signal }).then(() => created.add(name)));
      next++;
    }
    for (const name of created) {
      if (deleteCall.has(name)) continue;
      const t = ctx.watch.get(name);
      if (isReady(t) && now >= (createCall.get(name) ?? now) + lifetimeS * 1000) {
        deleteCall.set(name, ctx.clock.now());
        track(ctx.admin.request('DELETE', `/api/v1/namespaces/${ctx.ns}/pods/${name}`, { signal: ctx.signal }));
      }
    }
    await sleep(POLL_MS, undefined, { signal: ctx.signal });
  }
  await Promise.all(inflight);
  if (failure) throw failure;
  const cpu1 = agentCpuMs(ctx.agentPid);
  const firstCall = Math.min(...createCall.values());
  const lastGone = Math.max(...names.map((n) => ctx.watch.get(n)?.deletedMs ?? Number.NaN));
  await waitRuntimeStopped(ctx);
  return {
    pods,
    ratePerS,
    lifetimeMs: lifetimeS * 1000,
    startMs: names.map((n) => (ctx.watch.get(n)?.runningReadyMs ?? Number.NaN) - (createCall.get(n) ?? Number.NaN)),
    deleteMs: names.map((n) => (ctx.watch.get(n)?.deletedMs ?? Number.NaN) - (deleteCall.get(n) ?? Number.NaN)),
    wallMs: lastGone - firstCall,
    agentCpuMs: cpu1 - cpu0,
  };
}

/**
 * status lag: `pods` running pods (restartPolicy Never); their containers are stopped one at a
 * time straight on the runtime (CRI StopContainer; the shell exits 0 on SIGTERM), a random
 * 0.25-0.55 s apart; per pod, lag = the first watch event showing the container terminated − the
 * container's exit as the runtime recorded it (ContainerStatus finished_at, ns).
 */
export async function runLag(ctx: ScenarioContext, pods: number): Promise<LagResult> {
  const names = Array.from({ length: pods }, (_, i) => `exit-${String(i).padStart(3, '0')}`);
  await settle(ctx);
  await startAll(ctx, names, 'exit');
  await settle(ctx);
  const containers = await ctx.cri.listContainers({ label_selector: { 'io.kubernetes.pod.namespace': ctx.ns } }, ctx.signal);
  const idOf = new Map<string, string>();
  for (const c of containers) {
    if (c.state === 'CONTAINER_RUNNING' && c.labels[LABEL_CONTAINER_NAME] === CONTAINER) idOf.set(c.labels[LABEL_POD_NAME] ?? '', c.id);
  }
  const missingIds = names.filter((n) => !idOf.has(n));
  if (missingIds.length > 0) throw new Error(`status lag: the runtime has no running container for ${missingIds.slice(0, 5).join(', ')}`);
  ctx.progress(`status lag: stopping ${pods} containers one at a time`);
  for (const name of names) {
    await ctx.cri.stopContainer(idOf.get(name) as string, STOP_TIMEOUT_S, ctx.signal);
    await sleep(LAG_GAP_MIN_MS + Math.random() * LAG_GAP_SPAN_MS, undefined, { signal: ctx.signal });
  }
  const seen = (t: PodWatchTimeline | undefined): boolean => t?.terminatedMs !== undefined;
  let missing = 0;
  try {
    await waitAll(ctx, names, seen, 'shown terminated', LAG_TIMEOUT_MS);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    missing = names.filter((n) => !seen(ctx.watch.get(n))).length;
    ctx.warn(`status lag: ${missing} exit(s) never reached the API within ${LAG_TIMEOUT_MS / 1000} s`);
  }
  const lagMs: number[] = [];
  for (const name of names) {
    const t = ctx.watch.get(name)?.terminatedMs;
    if (t === undefined) continue;
    const st = await ctx.cri.containerStatus(idOf.get(name) as string, ctx.signal);
    if (!st || !(st.finished_at > 0)) {
      ctx.warn(`status lag: the runtime has no finished_at for ${name}`);
      continue;
    }
    lagMs.push(t - st.finished_at / 1e6);
  }
  await removeAll(ctx, names);
  return { pods, lagMs, missing };
}

/**
 * probes: `pods` pods with a 1 s exec readiness probe, created at once (the flag file present),
 * then held and sampled; during the hold the bench removes and recreates the flag file every
 * FLIP_EVERY_MS, and each pod's readiness lag is the first watch event showing the new Ready
 * value − the flip (missing when none came before the next flip).
 */
export async function runProbes(ctx: ScenarioContext, pods: number, holdS: number, windowS: number): Promise<ProbeResult> {
  const names = Array.from({ length: pods }, (_, i) => `probe-${String(i).padStart(3, '0')}`);
  const dir = probeFlagDir(ctx.runId);
  const flag = join(dir, 'ready');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(flag, '');
  try {
    await settle(ctx);
    const start = await startAll(ctx, names, 'probe');
    await settle(ctx, HOLD_SETTLE_MS);
    ctx.progress(`probes: ${pods} pods Ready; holding ${holdS} s, the readiness flag flipped every ${FLIP_EVERY_MS / 1000} s`);
    const flips: { ready: boolean; atMs: number }[] = [];
    const flipper = (async () => {
      const t0 = performance.now();
      for (let at = FLIP_FIRST_MS; at + FLIP_EVERY_MS <= holdS * 1000; at += FLIP_EVERY_MS) {
        await sleep(Math.max(0, t0 + at - performance.now()), undefined, { signal: ctx.signal });
        const ready = flips.length % 2 === 1;
        if (ready) writeFileSync(flag, '');
        else rmSync(flag);
        flips.push({ ready, atMs: ctx.clock.now() });
      }
    })();
    const [windows] = await Promise.all([sampleHold(ctx, holdS, windowS), flipper]);
    const { lagMs, missing, extra } = readinessLags(flips, names.map((n) => ctx.watch.get(n)?.readyChanges ?? []));
    await removeAll(ctx, names);
    return { pods, windows, start, flips: flips.length, readyLagMs: lagMs, readyMissing: missing, readyExtra: extra };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Per flip and pod: the first Ready change to the flip's value at or after it and before the next
 * flip (+ FLIP_EVERY_MS for the last) gives a lag; none is a miss; other changes in that span are
 * extra (flaps). Pure.
 */
export function readinessLags(flips: readonly { ready: boolean; atMs: number }[], pods: readonly (readonly { ready: boolean; atMs: number }[])[]): { lagMs: number[]; missing: number; extra: number } {
  const lagMs: number[] = [];
  let missing = 0;
  let extra = 0;
  flips.forEach((f, i) => {
    const until = flips[i + 1]?.atMs ?? f.atMs + FLIP_EVERY_MS;
    for (const changes of pods) {
      const span = changes.filter((c) => c.atMs >= f.atMs && c.atMs < until);
      const hit = span.find((c) => c.ready === f.ready);
      if (hit) lagMs.push(hit.atMs - f.atMs);
      else missing++;
      extra += span.length - (hit ? 1 : 0);
    }
  });
  return { lagMs, missing, extra };
}

/** The runtime's sandboxes and containers of the namespace (for the clean-up). */
export { findNamespacePods };

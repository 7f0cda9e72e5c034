import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Variant } from './cluster-api.ts';
import {
  START_PARTS, waitedForSlot, deleteLatency, latency, latencyFromCreationTimestamp, overhead, renderMarkdown, summarizeBurst, variantVerdict, verdictLines,
  type BurstResult, type ClusterBenchResult, type ClusterPodSample,
} from './cluster-report.ts';

function pod(i: number, round: number, variant: Variant, ready: number, runtime: number): ClusterPodSample {
  const c = 1_700_000_000_000 + round * 100_000 + i;
  return {
    round, variant, name: `p${i}`, uid: `u${i}`, createCallMs: c, createdMs: c + 10, creationTimestampMs: Math.floor((c + 5) / 1000) * 1000,
    addedMs: c + 12, boundMs: c + 12 + (variant === 'scheduler' ? 50 : 0), kubeletSeenMs: c + 20 + (variant === 'scheduler' ? 50 : 0), sandboxCreatedMs: c + 80, sandboxReadyMs: c + 300,
    imageCheckedMs: c + 305, containerCreatedMs: c + 350, createdEventMs: c + 380, startedMs: c + 400, startedEventMs: c + 420,
    reportedRunningMs: c + ready - 30, firstKubeletStatusMs: c + ready, runningReadyMs: c + ready, runtimeMs: runtime, syncsWithRuntime: 1,
    deleteCallMs: c + 5000, deletionSeenMs: c + 5010, deletedMs: c + 5600,
    runSandboxStartMs: c + 70, runSandboxEndMs: c + 290, createContainerStartMs: c + 320, createContainerEndMs: c + 375,
    startContainerStartMs: c + 385, startContainerEndMs: c + 415, stopContainerStartMs: c + 5020, stopContainerEndMs: c + 5100,
    stopSandboxStartMs: c + 5110, stopSandboxEndMs: c + 5400, removeSandboxStartMs: c + 5610, removeSandboxEndMs: c + 5630,
  };
}

function burst(round: number, variant: Variant, ready: number[], runtime = 400): BurstResult {
  return {
    round, variant, pods: ready.map((r, i) => pod(i, round, variant, r, runtime)), startWallMs: Math.max(...ready), deleteWallMs: 700, runtimeGoneMs: 900,
    cpuMs: { machine: 1000, tskubelet: 300, containerd: 200, 'kube-apiserver': 150, etcd: 50, 'kube-scheduler': 10, 'kube-controller-manager': 5, bench: 20 },
    apiRequests: [{ request: 'POST serviceaccounts/token', count: ready.length, meanMs: 12, totalMs: 12 * ready.length }],
  };
}

test('latency runs from the create call, overhead subtracts the runtime time, delete to DELETED', () => {
  const p = pod(0, 1, 'direct', 650, 400);
  assert.equal(latency(p), 650);
  assert.equal(overhead(p), 250);
  assert.equal(deleteLatency(p), 600);
  assert.ok(latencyFromCreationTimestamp(p) >= 650 && latencyFromCreationTimestamp(p) < 1650);
});

test('the verdict of a variant takes the median over rounds of p50 overhead and p99 latency', () => {
  const summaries = [
    burst(1, 'direct', [500, 550, 600]), burst(2, 'direct', [500, 600, 2500]), burst(3, 'direct', [700, 800, 900]),
    burst(1, 'scheduler', [3000, 3000, 3000]),
  ].map((b) => summarizeBurst(b, 2));
  const v = variantVerdict('direct', summaries);
  assert.equal(v.rounds, 3);
  assert.equal(v.overheadP50, 200); // round p50s: 150, 200, 400
  assert.equal(v.overheadPass, true);
  assert.equal(v.latencyP99, 900); // round p99s: 600, 2500, 900
  assert.equal(v.latencyPass, true);
  const s = variantVerdict('scheduler', summaries);
  assert.deepEqual([s.overheadPass, s.latencyPass], [false, false]);
  assert.match(verdictLines(s)[1] ?? '', /^FAIL: p99 latency < 2 s: 3000 ms \(scheduler/);
});

test('renderMarkdown has the verdict lines, both variants, the marks and the per-burst table', () => {
  const r: ClusterBenchResult = {
    date: '2026-01-01T00:00:00.000Z', commit: 'abc', containerd: 'containerd 1.6', apiServer: 'kube-apiserver v1.34.2', nodeName: 'tsk-cbench-1',
    machine: { nproc: 2, cpuModel: 'cpu', memoryGiB: 4, kernel: 'k', node: 'v24', loadavg: [0, 0, 0] },
    podsPerBurst: 3, rounds: 1, bursts: [burst(1, 'direct', [500, 550, 600]), burst(1, 'scheduler', [900, 950, 1000])], kubeletArgs: ['bin/tskubelet'], warnings: ['w1'],
  };
  const md = renderMarkdown(r);
  assert.match(md, /- \*\*PASS\*\*: p50 overhead ≤ 200 ms: 150 ms \(direct/);
  assert.match(md, /## direct: all rounds \(3 pods\)/);
  assert.match(md, /## scheduler: all rounds \(3 pods\)/);
  assert.match(md, /\| bound to the node \| 62 \|/);
  assert.match(md, /\| POST serviceaccounts\/token \| 3\.0 \| 12 \| 36 \|/);
  assert.match(md, /\| 1 \| scheduler \| 950 \|/);
  assert.match(md, /- w1/);
});

test('the start parts add up to the start latency; a pod started after the first Running waited for a slot', () => {
  const b = burst(1, 'direct', [500, 550, 600]);
  for (const p of b.pods) assert.equal(Math.round(START_PARTS.reduce((a, x) => a + x.part(p), 0) * 1000) / 1000, latency(p));
  const late = { ...pod(3, 1, 'direct', 900, 400) };
  late.runSandboxStartMs = Math.min(...b.pods.map((p) => p.reportedRunningMs)) + 1;
  assert.equal(waitedForSlot(late, [...b.pods, late]), true);
  assert.equal(waitedForSlot(b.pods[0]!, [...b.pods, late]), false);
});

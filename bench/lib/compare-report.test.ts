import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRows, formatRatio, formatValue, ratio, renderCompareMarkdown, roundRows, roundsAhead, runsByRound, type AgentRun, type CompareResult, type CompareRow, type CpuWindow } from './compare-report.ts';

const w = (agentCores: number, rss: number): CpuWindow => ({ agentCores, containerdCores: 0.1, helpersCores: 0.2, machineCores: 0.5, agentRssMiB: rss, memAvailableMiB: 20_000 });

function run(agent: 'upstream' | 'tskubelet', k: number): AgentRun {
  const lat = Array.from({ length: 10 }, (_, i) => (i + 1) * 100 * k);
  return {
    agent, version: agent, nodeName: `bench-${agent}`, command: [agent], joinMs: 1000, runMs: 60_000,
    burst: { pods: 10, startMs: lat, wallMs: 1000 * k, agentCpuMs: 500 * k },
    churn: { pods: 10, ratePerS: 5, lifetimeMs: 5000, startMs: lat, deleteMs: lat, wallMs: 9000, agentCpuMs: 700 * k },
    lag: { pods: 10, lagMs: lat, missing: 0 },
    density: [{ pods: 0, windows: [w(0.01 * k, 80 * k)] }, { pods: 30, windows: [w(0.02 * k, 90), w(0.04 * k, 100 * k)] }],
    probes: { pods: 10, windows: [w(0.1 * k, 120)], start: { pods: 10, startMs: lat, wallMs: 1, agentCpuMs: 1 }, flips: 1, readyLagMs: lat, readyMissing: k, readyExtra: 0 },
  };
}

test('ratio is tskubelet over upstream and undefined for 0 or missing', () => {
  assert.equal(ratio(50, 100), 0.5);
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(Number.NaN, 1)));
  assert.equal(formatRatio(0.5), '0.50');
  assert.equal(formatRatio(Number.NaN), '–');
  assert.equal(formatValue(0.01234, 'cores'), '0.012');
  assert.equal(formatValue(1234.4, 'ms'), '1234');
});

test('compareRows has every scenario figure with nearest-rank percentiles', () => {
  const rows = compareRows(run('upstream', 2), run('tskubelet', 1));
  const get = (scenario: string, figure: string): { upstream: number; tskubelet: number } => {
    const r = rows.find((x) => x.scenario.startsWith(scenario) && x.figure === figure);
    assert.ok(r, `${scenario} ${figure}`);
    return r;
  };
  assert.deepEqual([get('burst', 'start p50').upstream, get('burst', 'start p50').tskubelet], [1000, 500]);
  assert.deepEqual([get('burst', 'start p99').upstream, get('burst', 'start p99').tskubelet], [2000, 1000]);
  assert.equal(get('churn', 'delete → gone p50').tskubelet, 500);
  assert.equal(get('status lag', 'exit → terminated in API p90').upstream, 1800);
  assert.equal(get('density (30 pods)', 'agent CPU p95').upstream, 0.08);
  assert.equal(get('density (30 pods)', 'agent RSS max').upstream, 200);
  assert.equal(get('density (0 pods)', 'agent CPU p50').tskubelet, 0.01);
  assert.ok(get('probes', 'agent CPU p50'));
  assert.equal(get('probes', 'readiness flip → Ready in API p99').upstream, 2000);
  assert.equal(get('probes', 'readiness changes missed + flaps').tskubelet, 1);
  assert.ok(rows.every((r) => ratio(r.tskubelet, r.upstream) <= 1));
});

test('compareRows with one agent leaves the other NaN', () => {
  const rows = compareRows(run('upstream', 1), undefined);
  assert.ok(rows.length > 0);
  assert.ok(rows.every((r) => Number.isNaN(r.tskubelet)));
});

test('renderCompareMarkdown has the table, the plot and the fairness notes', () => {
  const result: CompareResult = {
    date: '2026-11-29T00:00:00.000Z', commit: 'abc', containerd: 'containerd 1.6', apiServer: 'kube-apiserver v1.34.2',
    machine: { nproc: 2, cpuModel: 'cpu', memoryGiB: 24, kernel: 'k', node: 'v24', loadavg: [0, 0, 0] },
    options: { scenarios: ['burst'], burstPods: 10, churnPods: 10, churnRate: 5, churnLifetimeS: 5, lagPods: 10, densityTiers: [0, 30], probePods: 10, holdS: 20, windowS: 10, maxPods: 110 },
    runs: [run('upstream', 2), run('tskubelet', 1)], kubeletConfig: 'kind: KubeletConfiguration\n', totalMs: 125_000, waitedMs: 5_000, plotFile: 'x.svg', warnings: ['w1'],
  };
  const md = renderCompareMarkdown(result, ['note one']);
  assert.match(md, /\| scenario \| figure \| upstream \| tskubelet \| ratio \|/);
  assert.match(md, /\| burst \(10 pods at once\) \| start p50 \(ms\) \| 1000 \| 500 \| 0\.50 \|/);
  assert.match(md, /!\[latency distributions\]\(x\.svg\)/);
  assert.match(md, /- note one/);
  assert.match(md, /- w1/);
  assert.match(md, /holding the integration lock: 2 min 05 s \(before that, 0 min 05 s waiting/);
  assert.match(md, /behind on 0/);
});

test('roundRows: the median of each agent over the rounds, with the per-round values', () => {
  const rounds = [[2, 1], [1, 1.5], [3, 1]].flatMap(([u, t], i) => [
    { ...run('upstream', u as number), round: i + 1 },
    { ...run('tskubelet', t as number), round: i + 1 },
  ]);
  const rows = roundRows(rounds);
  const burst = rows.find((x) => x.scenario.startsWith('burst') && x.figure === 'start p50');
  assert.ok(burst);
  assert.equal(burst.upstream, 1000); // median of 1000, 500, 1500
  assert.equal(burst.tskubelet, 500); // median of 500, 750, 500
  assert.deepEqual(burst.perRound, { upstream: [1000, 500, 1500], tskubelet: [500, 750, 500] });
  assert.equal(roundsAhead(burst), '2 of 3');
  // One round: compareRows as it is, no per-round values.
  const single = roundRows([run('upstream', 2), run('tskubelet', 1)]);
  assert.deepEqual(single, compareRows(run('upstream', 2), run('tskubelet', 1)));
  assert.equal(roundsAhead(single[0] as CompareRow), '');
  assert.equal(runsByRound(rounds).length, 3);
});

test('renderCompareMarkdown with rounds shows per-round ratios and where tskubelet was not ahead in every round', () => {
  const runs = [[2, 1], [1, 1.5], [3, 1]].flatMap(([u, t], i) => [
    { ...run('upstream', u as number), round: i + 1 },
    { ...run('tskubelet', t as number), round: i + 1 },
  ]);
  const result: CompareResult = {
    date: '2026-11-29T00:00:00.000Z', commit: 'abc', containerd: 'containerd 1.6', apiServer: 'kube-apiserver v1.34.2',
    machine: { nproc: 2, cpuModel: 'cpu', memoryGiB: 24, kernel: 'k', node: 'v24', loadavg: [0, 0, 0] },
    options: { scenarios: ['burst'], burstPods: 10, churnPods: 10, churnRate: 5, churnLifetimeS: 5, lagPods: 10, densityTiers: [0, 30], probePods: 10, holdS: 20, windowS: 10, maxPods: 110 },
    rounds: 3, runs, kubeletConfig: '', totalMs: 1, waitedMs: 0, plotFile: 'x.svg', warnings: [],
  };
  const md = renderCompareMarkdown(result, []);
  assert.match(md, /in 3 rounds/);
  assert.match(md, /\| burst \(10 pods at once\) \| start p50 \(ms\) \| 1000 \| 500 \| 0\.50 \| 0\.50 1\.50 0\.33 \| 2 of 3 \|/);
  assert.match(md, /Ahead by the medians but not in every round: burst \(10 pods at once\): start p50 \(2 of 3\)/);
  assert.match(md, /upstream \(round 2\)/);
});

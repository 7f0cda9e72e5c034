import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ms, overhead, renderMarkdown, summarizeRound, verdict, type BenchResult, type KubeletPodSample } from './report.ts';

function pod(i: number, round: number, over: number): KubeletPodSample {
  const w = 1_000_000 + i;
  return {
    round, name: `p${i}`, uid: `u${i}`, writtenMs: w, seenMs: w + 100, sandboxCreatedMs: w + 150, sandboxReadyMs: w + 400,
    imageCheckedMs: w + 405, containerCreatedMs: w + 450, startedMs: w + 500 + over, reportedRunningMs: w + 520 + over,
    runtimeMs: 500, syncsWithRuntime: 1,
  };
}

test('overhead is time to running minus the runtime time', () => {
  assert.equal(overhead(pod(0, 1, 80)), 80);
});

test('the verdict takes the median over rounds of each round p50', () => {
  const rounds = [40, 90, 300].map((o, r) => summarizeRound({ round: r + 1, pods: [pod(0, r + 1, o), pod(1, r + 1, o)], wallMs: 1000, machineBusyMs: 1000, kubeletCpuMs: 1, containerdCpuMs: 1, benchCpuMs: 1 }, 2));
  assert.deepEqual(verdict(rounds), { pass: true, overheadP50: 90, overheadP99: 90 });
  assert.equal(verdict(rounds.slice(2)).pass, false);
});

test('ms formats small values with a decimal and unknown as a dash', () => {
  assert.equal(ms(3.14159), '3.1');
  assert.equal(ms(123.6), '124');
  assert.equal(ms(Number.NaN), '–');
});

test('renderMarkdown has the verdict, the tables and the machine facts', () => {
  const result: BenchResult = {
    date: '2026-01-01T00:00:00.000Z', commit: 'abc', containerd: 'containerd 1.6 (CRI v1)', podsPerRound: 2, kubeletArgs: ['bin/tskubelet', '--v=2'], warnings: ['w1'],
    machine: { nproc: 2, cpuModel: 'cpu', memoryGiB: 4, kernel: 'k', node: 'v24', loadavg: [0, 0, 0] },
    rounds: [{ round: 1, pods: [pod(0, 1, 50), pod(1, 1, 60)], wallMs: 700, machineBusyMs: 1000, kubeletCpuMs: 100, containerdCpuMs: 200, benchCpuMs: 5 }],
    baseline: [{ name: 'b', t0Ms: 0, sandboxMs: 200, createMs: 50, startMs: 150, runtimeMs: 400, sandboxCreatedMs: 20, containerCreatedMs: 260, startedMs: 390 }],
  };
  const md = renderMarkdown(result);
  assert.match(md, /\*\*PASS\*\*: tskubelet overhead p50 = \*\*50 ms\*\*/);
  assert.match(md, /\| CPUs \(nproc\) \| 2 \|/);
  assert.match(md, /\| RunPodSandbox \| 200 \|/);
  assert.match(md, /- w1/);
});

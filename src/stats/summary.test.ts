import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container as CriContainer, ContainerStats as CriContainerStats, PodSandbox, PodSandboxStats } from '../cri/types.ts';
import type { CgroupSample } from './cgroup.ts';
import { CpuRateCache, MIN_RATE_INTERVAL_MS } from './cpu-rate.ts';
import { buildSummary, latestContainers, type SummaryInputs } from './summary.ts';
import { resourceMetricsText } from './resource-metrics.ts';
import { cadvisorMetricsText } from './cadvisor-metrics.ts';
import { toApiSummary } from './types.ts';
import { isEphemeralVolume, latestReadySandboxes } from './provider.ts';
import { TMPFS_MAGIC, type FsInfo } from './procfs.ts';

const T0 = 1_795_908_497_000; // ms
const NS = (ms: number): number => ms * 1e6;
const u = (value: number): { value: number } => ({ value });

const fsInfo: FsInfo = { capacityBytes: 1000_000, availableBytes: 400_000, usedBytes: 600_000, inodes: 1000, inodesFree: 900, type: 0xef53 };

function sample(timeMs: number, usageNs: number, ws = 2_000_000): CgroupSample {
  return {
    timeMs,
    createdMs: T0 - 3_600_000,
    cpu: { usageNs, userNs: usageNs / 2, systemNs: usageNs / 4 },
    memory: { usageBytes: ws + 500, workingSetBytes: ws, rssBytes: 1000, cacheBytes: 500, pageFaults: 7, majorPageFaults: 1 },
    spec: {},
  };
}

const sandbox: PodSandbox = {
  id: 'sb1',
  metadata: { name: 'web-0', uid: 'uid-1', namespace: 'default', attempt: 0 },
  state: 'SANDBOX_READY',
  created_at: NS(T0 - 60_000),
  labels: {},
  annotations: {},
  runtime_handler: '',
};

function criContainer(id: string, name: string, createdMs: number, state: CriContainer['state'] = 'CONTAINER_RUNNING'): CriContainer {
  return {
    id,
    pod_sandbox_id: 'sb1',
    metadata: { name, attempt: 0 },
    image: null,
    image_ref: 'sha256:abc',
    state,
    created_at: NS(createdMs),
    labels: {},
    annotations: {},
  } as unknown as CriContainer;
}

function criStats(id: string, name: string, timeMs: number, cpuNs: number, ws: number): CriContainerStats {
  return {
    attributes: { id, metadata: { name, attempt: 0 }, labels: {}, annotations: {} },
    cpu: { timestamp: NS(timeMs), usage_core_nano_seconds: u(cpuNs), usage_nano_cores: u(0), psi: null },
    memory: {
      timestamp: NS(timeMs),
      working_set_bytes: u(ws),
      available_bytes: u(0),
      usage_bytes: u(ws),
      rss_bytes: u(1024),
      page_faults: u(10),
      major_page_faults: u(0),
      psi: null,
    },
    writable_layer: { timestamp: 0, fs_id: { mountpoint: '/var/lib/containerd/snap' }, used_bytes: u(4096), inodes_used: u(3) },
    swap: null,
    io: null,
  } as unknown as CriContainerStats;
}

function podSandboxStats(timeMs: number, cpuNs: number): PodSandboxStats {
  return {
    attributes: { id: 'sb1', metadata: sandbox.metadata, labels: {}, annotations: {} },
    linux: {
      cpu: { timestamp: NS(timeMs), usage_core_nano_seconds: u(cpuNs), usage_nano_cores: u(0), psi: null },
      memory: { timestamp: NS(timeMs), working_set_bytes: u(2412544), available_bytes: u(0), usage_bytes: u(2412544), rss_bytes: u(217088), page_faults: u(2698), major_page_faults: u(6), psi: null },
      network: { timestamp: 0, default_interface: { name: 'eth0', rx_bytes: u(1096), rx_errors: u(0), tx_bytes: u(472), tx_errors: u(0) }, interfaces: [] },
      process: { timestamp: NS(timeMs), process_count: u(3) },
      containers: [],
      io: null,
    },
    windows: null,
  } as unknown as PodSandboxStats;
}

function inputs(timeMs: number, nodeCpuNs: number, podCpuNs: number, cCpuNs: number): SummaryInputs {
  return {
    host: {
      nodeName: 'node-a',
      nowMs: timeMs,
      bootTimeMs: T0 - 86_400_000,
      root: sample(timeMs, nodeCpuNs, 1_500_000_000),
      systemContainers: [{ name: 'pods', sample: sample(timeMs, podCpuNs) }],
      memoryCapacityBytes: 4_000_000_000,
      meminfo: { SwapTotal: 0, SwapFree: 0 },
      interfaces: [
        { name: 'lo', rxBytes: 1, rxPackets: 1, rxErrors: 0, rxDropped: 0, txBytes: 1, txPackets: 1, txErrors: 0, txDropped: 0 },
        { name: 'eth0', rxBytes: 100, rxPackets: 2, rxErrors: 0, rxDropped: 0, txBytes: 50, txPackets: 1, txErrors: 0, txDropped: 0 },
      ],
      rootFs: fsInfo,
      imageFs: [{ usage: { timestamp: NS(timeMs), fs_id: { mountpoint: '/var/lib/containerd/snap' }, used_bytes: u(2744320), inodes_used: u(288) }, info: fsInfo }],
      containerFs: [],
      rlimit: { maxpid: 32768, curproc: 166 },
    },
    pods: [
      {
        sandbox,
        stats: podSandboxStats(timeMs, podCpuNs),
        containers: [
          {
            container: criContainer('c1', 'app', T0 - 50_000),
            stats: criStats('c1', 'app', timeMs, cCpuNs, 983040),
            logs: { bytes: 8192, inodes: 2 },
            rootFsInfo: fsInfo,
          },
        ],
        volumes: [
          { name: 'cache', usage: { bytes: 1_000, inodes: 2 }, fs: fsInfo, ephemeral: true, timeMs },
          { name: 'token', usage: { bytes: 4096, inodes: 4 }, fs: { ...fsInfo, type: TMPFS_MAGIC }, ephemeral: false, timeMs },
        ],
        logsFs: fsInfo,
      },
    ],
  };
}

test('the CPU rate needs two samples at least MIN_RATE_INTERVAL_MS apart', () => {
  const c = new CpuRateCache();
  assert.equal(c.update('k', 1e9, 1000), undefined);
  assert.equal(c.update('k', 1.2e9, 1000 + MIN_RATE_INTERVAL_MS / 2), undefined); // too close: no rate yet, older sample kept
  assert.equal(c.update('k', 3e9, 3000), 1e9); // 2 s of CPU over 2 s: one core
  assert.equal(c.update('k', 3.1e9, 3100), 1e9); // too close: the last rate
  assert.equal(c.update('k', 1e6, 4000), undefined); // counter reset
  c.prune(4000 + 10 * 60_000);
  assert.equal(c.size, 0);
});

test('summary: node, system container, pod and container stats in the upstream shape', () => {
  const cache = new CpuRateCache();
  const rate = (k: string, v: number, t: number): number | undefined => cache.update(k, v, t);
  const first = buildSummary(inputs(T0, 100e9, 10e9, 5e9), rate);
  assert.equal(first.node.cpu?.usageNanoCores, undefined);
  const s = buildSummary(inputs(T0 + 10_000, 110e9, 11e9, 7e9), rate);
  const n = s.node;
  assert.equal(n.nodeName, 'node-a');
  assert.deepEqual(n.cpu, { time: T0 + 10_000, usageNanoCores: 1e9, usageCoreNanoSeconds: 110e9 });
  assert.deepEqual(n.memory, { time: T0 + 10_000, availableBytes: 2_500_000_000, usageBytes: 1_500_000_500, workingSetBytes: 1_500_000_000, rssBytes: 1000, pageFaults: 7, majorPageFaults: 1 });
  assert.deepEqual(n.swap, { time: T0 + 10_000, swapAvailableBytes: 0, swapUsageBytes: 0 });
  assert.equal(n.systemContainers?.[0]?.name, 'pods');
  assert.equal(n.systemContainers?.[0]?.cpu?.usageNanoCores, 1e8);
  assert.equal(n.network?.name, 'eth0');
  assert.deepEqual(n.network?.interfaces?.map((i) => i.name), ['eth0']); // lo ignored
  assert.deepEqual(n.fs, { time: T0 + 10_000, availableBytes: 400_000, capacityBytes: 1_000_000, inodesFree: 900, inodes: 1000, usedBytes: 600_000, inodesUsed: 100 });
  assert.equal(n.runtime?.imageFs?.usedBytes, 2744320);
  assert.deepEqual(n.runtime?.containerFs, n.runtime?.imageFs);
  assert.deepEqual(n.rlimit, { time: T0 + 10_000, maxpid: 32768, curproc: 166 });

  const p = s.pods[0]!;
  assert.deepEqual(p.podRef, { name: 'web-0', namespace: 'default', uid: 'uid-1' });
  assert.equal(p.startTime, T0 - 60_000);
  assert.equal(p.cpu?.usageNanoCores, 1e8);
  assert.equal(p.memory?.workingSetBytes, 2412544);
  assert.equal(p.memory?.availableBytes, undefined); // no limit
  assert.deepEqual(p.network, { time: T0 + 10_000, name: 'eth0', rxBytes: 1096, rxErrors: 0, txBytes: 472, txErrors: 0, interfaces: [{ name: 'eth0', rxBytes: 1096, rxErrors: 0, txBytes: 472, txErrors: 0 }] });
  assert.deepEqual(p.process_stats, { process_count: 3 });
  const c = p.containers[0]!;
  assert.equal(c.name, 'app');
  assert.equal(c.startTime, T0 - 50_000);
  assert.deepEqual(c.cpu, { time: T0 + 10_000, usageNanoCores: 2e8, usageCoreNanoSeconds: 7e9 });
  assert.equal(c.memory?.workingSetBytes, 983040);
  assert.deepEqual(c.rootfs, { time: T0 + 10_000, availableBytes: 400_000, capacityBytes: 1_000_000, inodesFree: 900, inodes: 1000, usedBytes: 4096, inodesUsed: 3 });
  assert.equal(c.logs?.usedBytes, 8192);
  assert.deepEqual(p.volume?.map((v) => [v.name, v.usedBytes]), [['cache', 1000], ['token', 4096]]);
  // ephemeral storage: writable layer + logs + the on-disk volume, not the tmpfs one
  assert.equal(p['ephemeral-storage']?.usedBytes, 4096 + 8192 + 1000);
  assert.equal(p['ephemeral-storage']?.inodesUsed, 3 + 2 + 2);

  const api = toApiSummary(s);
  assert.equal(api.node.cpu?.time, new Date(T0 + 10_000).toISOString().replace('.000Z', 'Z'));
  assert.match(api.pods[0]!.containers[0]!.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('no pod-level stats from the runtime: CPU and memory from the pod cgroup, one rate key for both sources', () => {
  const cache = new CpuRateCache();
  const rate = (k: string, v: number, t: number): number | undefined => cache.update(k, v, t);
  buildSummary(inputs(T0, 100e9, 10e9, 5e9), rate); // pod CPU from the runtime
  const later = inputs(T0 + 10_000, 110e9, 11e9, 7e9);
  const pod = later.pods[0]!;
  pod.stats = undefined; // ListPodSandboxStats failed
  pod.cgroup = { ...sample(T0 + 10_000, 11e9, 3_000_000), spec: { memoryLimitBytes: 64e6 } };
  const p = buildSummary(later, rate).pods[0]!;
  assert.deepEqual(p.cpu, { time: T0 + 10_000, usageNanoCores: 1e8, usageCoreNanoSeconds: 11e9 });
  assert.deepEqual(p.memory, { time: T0 + 10_000, availableBytes: 61e6, usageBytes: 3_000_500, workingSetBytes: 3_000_000, rssBytes: 1000, pageFaults: 7, majorPageFaults: 1 });
  // the runtime's stats, when there, win over a cgroup sample
  const both = inputs(T0 + 20_000, 120e9, 12e9, 9e9);
  both.pods[0]!.cgroup = sample(T0 + 20_000, 99e9);
  assert.equal(buildSummary(both, rate).pods[0]!.cpu?.usageCoreNanoSeconds, 12e9);
});

test('CPU-and-memory summary leaves out fs, network, volumes', () => {
  const s = buildSummary(inputs(T0, 1, 1, 1), () => undefined, false);
  assert.equal(s.node.fs, undefined);
  assert.equal(s.node.systemContainers, undefined);
  assert.equal(s.pods[0]!.network, undefined);
  assert.equal(s.pods[0]!.volume, undefined);
  assert.ok(s.pods[0]!.containers[0]!.cpu);
});

test('containers: the running ones, or the newest per name; sandboxes: the newest ready one per pod', () => {
  const mk = (id: string, name: string, at: number, state: CriContainer['state']) => ({ container: criContainer(id, name, at, state) });
  const picked = latestContainers([mk('a1', 'a', 1, 'CONTAINER_EXITED'), mk('a2', 'a', 2, 'CONTAINER_RUNNING'), mk('b1', 'b', 1, 'CONTAINER_EXITED'), mk('b2', 'b', 3, 'CONTAINER_EXITED')]);
  assert.deepEqual(picked.map((c) => c.container.id).sort(), ['a2', 'b2']);
  const sbs = latestReadySandboxes([
    { ...sandbox, id: 'old', created_at: 1 },
    { ...sandbox, id: 'new', created_at: 2 },
    { ...sandbox, id: 'newest-notready', created_at: 3, state: 'SANDBOX_NOTREADY' },
  ]);
  assert.deepEqual(sbs.map((s) => s.id), ['new']);
  assert.ok(isEphemeralVolume('kubernetes.io~empty-dir', fsInfo));
  assert.ok(!isEphemeralVolume('kubernetes.io~empty-dir', { ...fsInfo, type: TMPFS_MAGIC }));
  assert.ok(!isEphemeralVolume('kubernetes.io~secret', fsInfo));
});

test('/metrics/resource: upstream names, help, timestamps in ms; an error gives resource_scrape_error 1 alone', () => {
  const s = buildSummary(inputs(T0 + 0.5, 110.5e9, 11e9, 7e9), () => undefined, false);
  const text = resourceMetricsText(s);
  assert.equal(
    text,
    [
      '# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds',
      '# TYPE container_cpu_usage_seconds_total counter',
      `container_cpu_usage_seconds_total{container="app",namespace="default",pod="web-0"} 7 ${T0}`,
      '# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes',
      '# TYPE container_memory_working_set_bytes gauge',
      `container_memory_working_set_bytes{container="app",namespace="default",pod="web-0"} 983040 ${T0}`,
      '# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds',
      '# TYPE container_start_time_seconds gauge',
      'container_start_time_seconds{container="app",namespace="default",pod="web-0"} 1.795908447e+09',
      '# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds',
      '# TYPE node_cpu_usage_seconds_total counter',
      `node_cpu_usage_seconds_total 110.5 ${T0}`,
      '# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes',
      '# TYPE node_memory_working_set_bytes gauge',
      `node_memory_working_set_bytes 1.5e+09 ${T0}`,
      '# HELP node_swap_usage_bytes [ALPHA] Current swap usage of the node in bytes. Reported only on non-windows systems',
      '# TYPE node_swap_usage_bytes gauge',
      `node_swap_usage_bytes 0 ${T0}`,
      '# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds',
      '# TYPE pod_cpu_usage_seconds_total counter',
      `pod_cpu_usage_seconds_total{namespace="default",pod="web-0"} 11 ${T0}`,
      '# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes',
      '# TYPE pod_memory_working_set_bytes gauge',
      `pod_memory_working_set_bytes{namespace="default",pod="web-0"} 2.412544e+06 ${T0}`,
      '# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise',
      '# TYPE resource_scrape_error gauge',
      'resource_scrape_error 0',
      '',
    ].join('\n'),
  );
  assert.equal(resourceMetricsText(null), '# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 1\n');
});

test('/metrics/cadvisor: labels, cpu="total", spec series without timestamps, network and fs', () => {
  const s = sample(T0, 7.5e9, 983040);
  s.spec = { cpuShares: 204, cpuQuotaUs: 20000, cpuPeriodUs: 100000, memoryLimitBytes: 67108864 };
  s.cpu = { ...s.cpu!, periods: 10, throttledPeriods: 2, throttledNs: 1.5e9 };
  const text = cadvisorMetricsText({
    nowMs: T0 + 20,
    scrapeError: false,
    machine: { bootID: 'b', machineID: 'm', systemUUID: '', numCores: 2, memoryBytes: 25276502016 },
    containers: [
      { id: '/kubepods/burstable/poduid-1/c1', name: 'c1', image: 'busybox:1.36', container: 'app', pod: 'web-0', namespace: 'default', sample: s, startTimeMs: T0 - 50_500, filesystems: [{ device: '/dev/vda', usageBytes: 4096, limitBytes: 1e6 }] },
      {
        id: '/kubepods/burstable/poduid-1',
        name: '',
        image: '',
        container: '',
        pod: 'web-0',
        namespace: 'default',
        sample: sample(T0, 8e9),
        interfaces: [{ name: 'eth0', rxBytes: 1096, rxPackets: 12, rxErrors: 0, rxDropped: 0, txBytes: 472, txPackets: 5, txErrors: 0, txDropped: 0 }],
      },
    ],
  });
  const l = '{container="app",id="/kubepods/burstable/poduid-1/c1",image="busybox:1.36",name="c1",namespace="default",pod="web-0"}';
  const has = (line: string): void => assert.ok(text.split('\n').includes(line), `missing: ${line}\n${text}`);
  has(`container_cpu_usage_seconds_total{container="app",cpu="total",id="/kubepods/burstable/poduid-1/c1",image="busybox:1.36",name="c1",namespace="default",pod="web-0"} 7.5 ${T0}`);
  has(`container_memory_working_set_bytes${l} 983040 ${T0}`);
  has(`container_cpu_cfs_throttled_seconds_total${l} 1.5 ${T0}`);
  has(`container_spec_cpu_quota${l} 20000`);
  has(`container_spec_memory_limit_bytes${l} 6.7108864e+07`);
  has(`container_start_time_seconds${l} 1.795908446e+09`);
  has(`container_fs_usage_bytes{container="app",device="/dev/vda",id="/kubepods/burstable/poduid-1/c1",image="busybox:1.36",name="c1",namespace="default",pod="web-0"} 4096 ${T0}`);
  has(`container_last_seen${l} 1.795908497e+09 ${T0 + 20}`);
  has(`container_network_receive_bytes_total{container="",id="/kubepods/burstable/poduid-1",image="",interface="eth0",name="",namespace="default",pod="web-0"} 1096 ${T0}`);
  has('container_spec_memory_limit_bytes{container="",id="/kubepods/burstable/poduid-1",image="",name="",namespace="default",pod="web-0"} 0');
  has('machine_cpu_cores{boot_id="b",machine_id="m",system_uuid=""} 2');
  has('container_scrape_error 0');
  has('# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.');
  // no quota on the pod cgroup: no CFS series for it
  assert.ok(!text.includes('container_cpu_cfs_periods_total{container="",id="/kubepods/burstable/poduid-1"'));
});

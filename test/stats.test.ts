// The stats provider against the real containerd and this host's cgroups: a tskubelet runs a pod
// with a CPU-burning container limited to 200m and an idle one; a CriStatsProvider built here
// (as the kubelet builds it) reads them. Checks the Summary API (rates from two samples, the
// busy container near its 0.2-core limit), /metrics/resource (what metrics-server parses) and
// /metrics/cadvisor. Integration: run under the lock (see the conventions), ~15 s.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { realClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { CriStatsProvider } from '../src/stats/provider.ts';
import { BUSYBOX_IMAGE, POD_LOGS_DIR, SLEEP_UNTIL_TERM, assertNodeReady, withKubelet } from './harness.ts';

before(assertNodeReady);

const sh = (script: string): string => JSON.stringify(['sh', '-c', script]);

test('summary, resource and cadvisor metrics of a running pod', async (t) => {
  await withKubelet(t, async (h) => {
    await h.writeManifest('stats.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: stats}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: busy
    image: ${BUSYBOX_IMAGE}
    command: ${sh('echo started; while true; do :; done')}
    resources: {limits: {cpu: 200m, memory: 64Mi}}
  - name: idle
    image: ${BUSYBOX_IMAGE}
    command: ${sh(SLEEP_UNTIL_TERM)}
`);
    const pod = await h.waitForPod('stats', (p) => (p.status?.containerStatuses ?? []).filter((s) => s.state?.running).length === 2, 60_000, 'both containers running');
    const uid = pod.metadata!.uid!;
    const name = h.podName('stats');
    const provider = new CriStatsProvider({
      runtime: h.cri,
      nodeName: h.nodeName,
      rootDir: h.rootDir,
      podLogsDir: POD_LOGS_DIR,
      cgroupRoot: '/',
      clock: realClock,
      logger: silentLogger,
    });

    await provider.summary(AbortSignal.timeout(10_000));
    await new Promise((r) => setTimeout(r, 3_000));
    const s = await provider.summary(AbortSignal.timeout(10_000));

    assert.equal(s.node.nodeName, h.nodeName);
    assert.ok(s.node.cpu?.usageCoreNanoSeconds && s.node.cpu.usageNanoCores !== undefined, 'node CPU with a rate');
    assert.ok((s.node.memory?.workingSetBytes ?? 0) > 0 && (s.node.memory?.availableBytes ?? 0) > 0);
    assert.ok((s.node.fs?.capacityBytes ?? 0) > 0);
    assert.ok((s.node.runtime?.imageFs?.usedBytes ?? 0) > 0);
    assert.equal(s.node.systemContainers?.[0]?.name, 'pods');
    assert.match(s.node.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const p = s.pods.find((x) => x.podRef.uid === uid);
    assert.ok(p, `pod ${uid} in the summary: ${JSON.stringify(s.pods.map((x) => x.podRef))}`);
    assert.deepEqual(p.podRef, { name, namespace: 'default', uid });
    assert.deepEqual(p.containers.map((c) => c.name).sort(), ['busy', 'idle']);
    const busy = p.containers.find((c) => c.name === 'busy')!;
    const cores = (busy.cpu?.usageNanoCores ?? 0) / 1e9;
    assert.ok(cores > 0.1 && cores < 0.3, `busy container uses ~0.2 cores (its limit), got ${cores}`);
    assert.ok((busy.memory?.workingSetBytes ?? 0) > 0);
    assert.ok((busy.memory?.availableBytes ?? 0) > 0 && busy.memory!.availableBytes! <= 64 * 1024 * 1024, 'available = limit - working set');
    assert.ok(busy.logs && (busy.logs.usedBytes ?? 0) > 0, 'the log file is counted');
    assert.ok(
      (p.cpu?.usageNanoCores ?? 0) >= (busy.cpu?.usageNanoCores ?? 0) * 0.8,
      `the pod uses at least what its busy container does: pod ${JSON.stringify(p.cpu)}, busy ${JSON.stringify(busy.cpu)}`,
    );
    assert.ok((p.memory?.workingSetBytes ?? 0) > 0);
    assert.equal(p.network?.name, 'eth0');
    assert.ok((p.process_stats?.process_count ?? 0) >= 2);
    assert.ok(p['ephemeral-storage']?.usedBytes !== undefined);

    const resource = await provider.resourceMetrics(AbortSignal.timeout(10_000));
    const sampleLine = new RegExp(`^container_cpu_usage_seconds_total\\{container="busy",namespace="default",pod="${name}"\\} [0-9.e+]+ (\\d{13})$`, 'm');
    const m = sampleLine.exec(resource);
    assert.ok(m, `busy's CPU series with a ms timestamp:\n${resource}`);
    assert.ok(Math.abs(Number(m[1]) - Date.now()) < 60_000, 'the timestamp is the sample time');
    assert.match(resource, new RegExp(`^container_memory_working_set_bytes\\{container="idle",namespace="default",pod="${name}"\\} \\S+ \\d{13}$`, 'm'));
    assert.match(resource, new RegExp(`^container_start_time_seconds\\{container="busy",namespace="default",pod="${name}"\\} \\S+$`, 'm'));
    assert.match(resource, new RegExp(`^pod_cpu_usage_seconds_total\\{namespace="default",pod="${name}"\\} \\S+ \\d{13}$`, 'm'));
    assert.match(resource, /^node_cpu_usage_seconds_total \S+ \d{13}$/m);
    assert.match(resource, /^node_memory_working_set_bytes \S+ \d{13}$/m);
    assert.match(resource, /^resource_scrape_error 0$/m);

    const cadvisor = await provider.cadvisorMetrics(AbortSignal.timeout(10_000));
    const busyCpu = cadvisor.split('\n').find((l) => l.startsWith('container_cpu_usage_seconds_total{container="busy"'));
    assert.ok(busyCpu, 'busy container series in /metrics/cadvisor');
    assert.match(busyCpu, new RegExp(`cpu="total",id="/kubepods/burstable/pod${uid}/[0-9a-f]{64}",image="[^"]+",name="[0-9a-f]{64}",namespace="default",pod="${name}"\\} `));
    assert.ok(cadvisor.includes(`container_memory_working_set_bytes{container="",id="/kubepods/burstable/pod${uid}",image="",name="",namespace="default",pod="${name}"}`), 'pod cgroup series');
    assert.match(cadvisor, new RegExp(`^container_network_receive_bytes_total\\{container="",id="/kubepods/burstable/pod${uid}",image="",interface="eth0",`, 'm'));
    assert.match(cadvisor, new RegExp(`^container_spec_cpu_quota\\{container="busy",.* 20000$`, 'm'));
    assert.match(cadvisor, /^container_cpu_usage_seconds_total\{container="",cpu="total",id="\/",image="",name="",namespace="",pod=""\} \S+ \d{13}$/m);
    assert.match(cadvisor, /^machine_cpu_cores\{boot_id="[^"]*",machine_id="[^"]*",system_uuid="[^"]*"\} \d+$/m);
    assert.match(cadvisor, /^container_scrape_error 0$/m);
  });
});

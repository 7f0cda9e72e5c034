import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeletMetrics, RUNTIME_OPERATION_BUCKETS, criOperationName, exponentialBuckets } from './kubelet-metrics.ts';

function newMetrics(over: Partial<ConstructorParameters<typeof KubeletMetrics>[0]> = {}): KubeletMetrics {
  return new KubeletMetrics({ nodeName: 'node-a', runningPods: () => 2, containersByState: () => ({ running: 3, exited: 1 }), processMetrics: false, ...over });
}

/** The sample lines of one metric name (no comments). */
const lines = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

test('CRI method names map to upstream operation_type values', () => {
  assert.equal(criOperationName('RunPodSandbox'), 'run_podsandbox');
  assert.equal(criOperationName('ListPodSandbox'), 'list_podsandbox');
  assert.equal(criOperationName('PodSandboxStatus'), 'podsandbox_status');
  assert.equal(criOperationName('ExecSync'), 'exec_sync');
  assert.equal(criOperationName('ListContainers'), 'list_containers');
  assert.equal(criOperationName('UpdateContainerResources'), 'update_container');
  assert.equal(criOperationName('ImageFsInfo'), 'image_fs_info');
  assert.equal(criOperationName('ListPodSandboxStats'), 'list_podsandbox_stats');
  // not in the table: snake case, PodSandbox as one word
  assert.equal(criOperationName('UpdatePodSandboxResources'), 'update_podsandbox_resources');
});

test('the runtime operation buckets are ExponentialBuckets(.005, 2.5, 14)', () => {
  assert.equal(RUNTIME_OPERATION_BUCKETS.length, 14);
  assert.equal(RUNTIME_OPERATION_BUCKETS[0], 0.005);
  assert.equal(RUNTIME_OPERATION_BUCKETS[1], 0.0125);
  assert.ok(Math.abs(RUNTIME_OPERATION_BUCKETS[13]! - 745.0580596923828) < 1e-9);
  assert.deepEqual(exponentialBuckets(1, 2, 5), [1, 2, 4, 8, 16]);
});

test('/metrics: node name, scrape-time gauges and upstream help texts', async () => {
  let pods = 2;
  const m = newMetrics({ runningPods: () => pods });
  let text = await m.text();
  assert.deepEqual(lines(text, 'kubelet_node_name'), ['kubelet_node_name{node="node-a"} 1']);
  assert.ok(text.includes("# HELP kubelet_node_name [ALPHA] The node's name. The count is always 1."));
  assert.deepEqual(lines(text, 'kubelet_running_pods'), ['kubelet_running_pods 2']);
  assert.deepEqual(lines(text, 'kubelet_running_containers').sort(), ['kubelet_running_containers{container_state="exited"} 1', 'kubelet_running_containers{container_state="running"} 3']);
  assert.ok(text.includes('# TYPE kubelet_running_containers gauge'));
  pods = 5;
  text = await m.text();
  assert.deepEqual(lines(text, 'kubelet_running_pods'), ['kubelet_running_pods 5']);
  assert.equal(m.contentType.split(';')[0], 'text/plain');
});

test('runtime operations: count, duration histogram and errors by operation_type', async () => {
  const m = newMetrics();
  m.observeRuntimeOperation('RunPodSandbox', 0.2, false);
  m.observeRuntimeOperation('RunPodSandbox', 0.01, true);
  m.observeRuntimeOperation('ExecSync', 0.003, false);
  const text = await m.text();
  assert.deepEqual(lines(text, 'kubelet_runtime_operations_total').sort(), [
    'kubelet_runtime_operations_total{operation_type="exec_sync"} 1',
    'kubelet_runtime_operations_total{operation_type="run_podsandbox"} 2',
  ]);
  assert.deepEqual(lines(text, 'kubelet_runtime_operations_errors_total'), ['kubelet_runtime_operations_errors_total{operation_type="run_podsandbox"} 1']);
  assert.ok(text.includes('kubelet_runtime_operations_duration_seconds_bucket{le="0.0125",operation_type="run_podsandbox"} 1'));
  assert.ok(text.includes('kubelet_runtime_operations_duration_seconds_bucket{le="0.1953125",operation_type="run_podsandbox"} 1'));
  assert.ok(text.includes('kubelet_runtime_operations_duration_seconds_bucket{le="0.48828125",operation_type="run_podsandbox"} 2'));
  assert.ok(text.includes('kubelet_runtime_operations_duration_seconds_count{operation_type="exec_sync"} 1'));
  assert.ok(text.includes('# HELP kubelet_runtime_operations_duration_seconds [ALPHA] Duration in seconds of runtime operations. Broken down by operation type.'));
});

test('pod start, pod worker, PLEG and started pods/containers', async () => {
  const m = newMetrics();
  m.observePodStart(2.5);
  m.observePodWorker('sync', 0.02);
  m.observePodWorker('create', 1.2);
  m.observePlegRelist(0.004, 1.0, 1_700_000_000_000);
  m.countPodStart();
  m.countPodStart(true);
  m.countContainerStart('container');
  m.countContainerStart('init_container', 'Unknown');
  m.countRestartedPod(true);
  const text = await m.text();
  assert.ok(text.includes('kubelet_pod_start_duration_seconds_bucket{le="3"} 1'));
  assert.ok(text.includes('kubelet_pod_start_duration_seconds_bucket{le="2"} 0'));
  assert.ok(text.includes('kubelet_pod_start_duration_seconds_bucket{le="3600"} 1'));
  assert.ok(text.includes('kubelet_pod_worker_duration_seconds_count{operation_type="sync"} 1'));
  assert.ok(text.includes('kubelet_pod_worker_duration_seconds_bucket{le="2.5",operation_type="create"} 1'));
  assert.ok(text.includes('kubelet_pleg_relist_duration_seconds_bucket{le="0.005"} 1'));
  assert.ok(text.includes('kubelet_pleg_relist_interval_seconds_count 1'));
  assert.deepEqual(lines(text, 'kubelet_pleg_last_seen_seconds'), ['kubelet_pleg_last_seen_seconds 1700000000']);
  assert.deepEqual(lines(text, 'kubelet_started_pods_total'), ['kubelet_started_pods_total 2']);
  assert.deepEqual(lines(text, 'kubelet_started_pods_errors_total'), ['kubelet_started_pods_errors_total 1']);
  assert.deepEqual(lines(text, 'kubelet_started_containers_total').sort(), [
    'kubelet_started_containers_total{container_type="container"} 1',
    'kubelet_started_containers_total{container_type="init_container"} 1',
  ]);
  assert.deepEqual(lines(text, 'kubelet_started_containers_errors_total'), ['kubelet_started_containers_errors_total{code="Unknown",container_type="init_container"} 1']);
  assert.deepEqual(lines(text, 'kubelet_restarted_pods_total'), ['kubelet_restarted_pods_total{static="true"} 1']);
});

test('process metrics are in /metrics, and each instance has its own registry', async () => {
  const a = new KubeletMetrics({ nodeName: 'a', runningPods: () => 0, containersByState: () => ({}) });
  const b = new KubeletMetrics({ nodeName: 'b', runningPods: () => 0, containersByState: () => ({}) });
  const text = await a.text();
  assert.ok(/^process_cpu_seconds_total \d/m.test(text));
  assert.ok(/^process_resident_memory_bytes \d/m.test(text));
  assert.deepEqual(lines(await b.text(), 'kubelet_node_name'), ['kubelet_node_name{node="b"} 1']);
  assert.ok(!text.includes('prober_probe_total'));
});

test('/metrics/probes: results by label set, duration for successful and unknown only, forgotten series', async () => {
  const m = newMetrics();
  const target = { probeType: 'Readiness' as const, container: 'web', pod: 'web-0', namespace: 'default', podUID: 'uid-1' };
  m.countProbe(target, 'successful', 0.01);
  m.countProbe(target, 'successful', 0.02);
  m.countProbe(target, 'failed', 1);
  m.countProbe({ ...target, probeType: 'Liveness' }, 'unknown', 0.5);
  let text = await m.probesText();
  assert.ok(text.includes('# HELP prober_probe_total [BETA] Cumulative number of a liveness, readiness or startup probe for a container by result.'));
  assert.deepEqual(lines(text, 'prober_probe_total').sort(), [
    'prober_probe_total{container="web",namespace="default",pod="web-0",pod_uid="uid-1",probe_type="Liveness",result="unknown"} 1',
    'prober_probe_total{container="web",namespace="default",pod="web-0",pod_uid="uid-1",probe_type="Readiness",result="failed"} 1',
    'prober_probe_total{container="web",namespace="default",pod="web-0",pod_uid="uid-1",probe_type="Readiness",result="successful"} 2',
  ]);
  assert.ok(text.includes('prober_probe_duration_seconds_count{container="web",namespace="default",pod="web-0",probe_type="Readiness"} 2'));
  assert.ok(text.includes('prober_probe_duration_seconds_count{container="web",namespace="default",pod="web-0",probe_type="Liveness"} 1'));
  assert.ok(!(await m.text()).includes('prober_probe_total'));
  m.forgetProbe(target);
  text = await m.probesText();
  assert.equal(lines(text, 'prober_probe_total').length, 1);
  assert.ok(!text.includes('probe_type="Readiness"'));
});

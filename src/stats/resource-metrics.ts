// /metrics/resource, as upstream's resource metrics collector
// (pkg/kubelet/metrics/collectors/resource_metrics.go) writes it from the CPU-and-memory summary:
// explicit timestamps (ms) on the usage series, which metrics-server (/metrics/resource since
// v0.6) uses as the sample times; container_start_time_seconds without one. scrape_error,
// deprecated in 1.29, is hidden in the kubelet version we follow; resource_scrape_error remains.
import { renderFamilies, type MetricFamily, type Sample } from '../metrics/exposition.ts';
import type { SummaryMs } from './types.ts';

const STABLE = '[STABLE] ';
const ALPHA = '[ALPHA] ';

/** The families of /metrics/resource for `summary`, or only resource_scrape_error 1 when it is null (the summary failed). */
export function resourceMetricFamilies(summary: SummaryMs | null): MetricFamily[] {
  const f = (name: string, help: string, type: MetricFamily['type']): MetricFamily => ({ name, help, type, samples: [] });
  const nodeCpu = f('node_cpu_usage_seconds_total', `${STABLE}Cumulative cpu time consumed by the node in core-seconds`, 'counter');
  const nodeMem = f('node_memory_working_set_bytes', `${STABLE}Current working set of the node in bytes`, 'gauge');
  const nodeSwap = f('node_swap_usage_bytes', `${ALPHA}Current swap usage of the node in bytes. Reported only on non-windows systems`, 'gauge');
  const cStart = f('container_start_time_seconds', `${STABLE}Start time of the container since unix epoch in seconds`, 'gauge');
  const cCpu = f('container_cpu_usage_seconds_total', `${STABLE}Cumulative cpu time consumed by the container in core-seconds`, 'counter');
  const cMem = f('container_memory_working_set_bytes', `${STABLE}Current working set of the container in bytes`, 'gauge');
  const cSwap = f('container_swap_usage_bytes', `${ALPHA}Current amount of the container swap usage in bytes. Reported only on non-windows systems`, 'gauge');
  const cSwapLimit = f('container_swap_limit_bytes', `${ALPHA}Current amount of the container swap limit in bytes. Reported only on non-windows systems`, 'gauge');
  const pCpu = f('pod_cpu_usage_seconds_total', `${STABLE}Cumulative cpu time consumed by the pod in core-seconds`, 'counter');
  const pMem = f('pod_memory_working_set_bytes', `${STABLE}Current working set of the pod in bytes`, 'gauge');
  const pSwap = f('pod_swap_usage_bytes', `${ALPHA}Current amount of the pod swap usage in bytes. Reported only on non-windows systems`, 'gauge');
  const scrapeError = f('resource_scrape_error', `${STABLE}1 if there was an error while getting container metrics, 0 otherwise`, 'gauge');
  const families = [nodeCpu, nodeMem, nodeSwap, cStart, cCpu, cMem, cSwap, cSwapLimit, pCpu, pMem, pSwap, scrapeError];
  scrapeError.samples.push({ value: summary ? 0 : 1 });
  if (!summary) return families;

  const push = (fam: MetricFamily, s: Sample): void => {
    fam.samples.push(s);
  };
  const n = summary.node;
  if (n.cpu?.usageCoreNanoSeconds !== undefined) push(nodeCpu, { value: n.cpu.usageCoreNanoSeconds / 1e9, timestampMs: n.cpu.time });
  if (n.memory?.workingSetBytes !== undefined) push(nodeMem, { value: n.memory.workingSetBytes, timestampMs: n.memory.time });
  // upstream stamps the node's swap with the memory sample's time
  if (n.swap?.swapUsageBytes !== undefined) push(nodeSwap, { value: n.swap.swapUsageBytes, timestampMs: n.memory?.time ?? n.swap.time });

  for (const pod of summary.pods) {
    const podLabels = { pod: pod.podRef.name, namespace: pod.podRef.namespace };
    for (const c of pod.containers) {
      const labels = { container: c.name, ...podLabels };
      if (c.startTime > 0) push(cStart, { labels, value: c.startTime / 1000 });
      if (c.cpu?.usageCoreNanoSeconds !== undefined) push(cCpu, { labels, value: c.cpu.usageCoreNanoSeconds / 1e9, timestampMs: c.cpu.time });
      if (c.memory?.workingSetBytes !== undefined) push(cMem, { labels, value: c.memory.workingSetBytes, timestampMs: c.memory.time });
      if (c.swap?.swapUsageBytes !== undefined) push(cSwap, { labels, value: c.swap.swapUsageBytes, timestampMs: c.swap.time });
      if (c.swap?.swapAvailableBytes !== undefined) {
        push(cSwapLimit, { labels, value: c.swap.swapAvailableBytes + (c.swap.swapUsageBytes ?? 0), timestampMs: c.swap.time });
      }
    }
    if (pod.cpu?.usageCoreNanoSeconds !== undefined) push(pCpu, { labels: podLabels, value: pod.cpu.usageCoreNanoSeconds / 1e9, timestampMs: pod.cpu.time });
    if (pod.memory?.workingSetBytes !== undefined) push(pMem, { labels: podLabels, value: pod.memory.workingSetBytes, timestampMs: pod.memory.time });
    if (pod.swap?.swapUsageBytes !== undefined) push(pSwap, { labels: podLabels, value: pod.swap.swapUsageBytes, timestampMs: pod.swap.time });
  }
  return families;
}

/** The /metrics/resource exposition text. */
export function resourceMetricsText(summary: SummaryMs | null): string {
  return renderFamilies(resourceMetricFamilies(summary));
}

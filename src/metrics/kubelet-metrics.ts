// The kubelet's own Prometheus metrics, as upstream names them (pkg/kubelet/metrics/metrics.go,
// pkg/kubelet/prober/prober_manager.go), on registries of this instance (never prom-client's
// global one):
//   - `registry` (/metrics): kubelet_* metrics and the process metrics;
//   - `probesRegistry` (/metrics/probes): prober_probe_total and prober_probe_duration_seconds.
// Help texts carry the stability prefix that k8s.io/component-base adds ("[ALPHA] ...").
// The running pod/container gauges are computed at scrape time from callbacks.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Sampling period of the event-loop delay histogram behind prom-client's nodejs_eventloop_lag_*
 * metrics, ms. prom-client's default (10 ms) keeps a native timer firing 100 times a second:
 * ~0.006 cores on an idle node, more than half of an idle kubelet's CPU. 100 ms still catches
 * every stall that matters to a kubelet (its shortest period is PLEG's 1 s) for ~0.0008 cores.
 */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 100;

/** Prometheus' DefBuckets (seconds), which component-base's metrics.DefBuckets is. */
export const DEF_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Upstream podStartupDurationBuckets, seconds: 0.5 s to 1 h, roughly exponential, round numbers. */
export const POD_STARTUP_DURATION_BUCKETS: readonly number[] = [
  0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600,
];

/** Go's prometheus.ExponentialBuckets: `count` buckets from `start`, each `factor` times the last. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  let b = start;
  for (let i = 0; i < count; i++) {
    out.push(b);
    b *= factor;
  }
  return out;
}

/** kubelet_runtime_operations_duration_seconds buckets: ExponentialBuckets(.005, 2.5, 14), 5 ms to ~12 min. */
export const RUNTIME_OPERATION_BUCKETS: readonly number[] = exponentialBuckets(0.005, 2.5, 14);

/**
 * Upstream's operation_type of each CRI method (kuberuntime/instrumented_services.go). Methods
 * not listed get the snake_case of their name, with "PodSandbox" as one word.
 */
const CRI_OPERATION_NAMES: Readonly<Record<string, string>> = {
  Version: 'version',
  Status: 'status',
  RunPodSandbox: 'run_podsandbox',
  StopPodSandbox: 'stop_podsandbox',
  RemovePodSandbox: 'remove_podsandbox',
  PodSandboxStatus: 'podsandbox_status',
  ListPodSandbox: 'list_podsandbox',
  CreateContainer: 'create_container',
  StartContainer: 'start_container',
  StopContainer: 'stop_container',
  RemoveContainer: 'remove_container',
  ListContainers: 'list_containers',
  ContainerStatus: 'container_status',
  UpdateContainerResources: 'update_container',
  ReopenContainerLog: 'reopen_container_log',
  ExecSync: 'exec_sync',
  Exec: 'exec',
  Attach: 'attach',
  PortForward: 'port_forward',
  ContainerStats: 'container_stats',
  ListContainerStats: 'list_container_stats',
  PodSandboxStats: 'podsandbox_stats',
  ListPodSandboxStats: 'list_podsandbox_stats',
  UpdateRuntimeConfig: 'update_runtime_config',
  CheckpointContainer: 'checkpoint_container',
  GetContainerEvents: 'get_container_events',
  ListMetricDescriptors: 'list_metric_descriptors',
  ListPodSandboxMetrics: 'list_podsandbox_metrics',
  RuntimeConfig: 'runtime_config',
  ListImages: 'list_images',
  ImageStatus: 'image_status',
  PullImage: 'pull_image',
  RemoveImage: 'remove_image',
  ImageFsInfo: 'image_fs_info',
};

/** The operation_type label upstream uses for a CRI gRPC method name ('RunPodSandbox' -> 'run_podsandbox'). */
export function criOperationName(grpcMethod: string): string {
  const known = CRI_OPERATION_NAMES[grpcMethod];
  if (known) return known;
  return grpcMethod
    .replace(/PodSandbox/g, 'Podsandbox')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export type PodWorkerOperation = 'create' | 'update' | 'sync' | 'kill';
export type ProbeType = 'Liveness' | 'Readiness' | 'Startup';
/** prober_probe_total's result label. */
export type ProbeResult = 'successful' | 'failed' | 'unknown';
/** The probe_type and result labels of the prober's own names (src/prober). */
export const PROBE_TYPE_LABELS = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' } as const satisfies Record<string, ProbeType>;
export const PROBE_RESULT_LABELS = { success: 'successful', failure: 'failed', unknown: 'unknown' } as const satisfies Record<string, ProbeResult>;
/** kubelet_started_containers_total's container_type label. */
export type StartedContainerType = 'container' | 'init_container' | 'ephemeral_container';

/** Which container a probe series belongs to. */
export interface ProbeTarget {
  probeType: ProbeType;
  container: string;
  pod: string;
  namespace: string;
  podUID: string;
}

export interface KubeletMetricsOptions {
  nodeName: string;
  /** Pods with a running sandbox, read at each scrape (kubelet_running_pods). */
  runningPods: () => number;
  /**
   * Containers by state at each scrape (kubelet_running_containers{container_state}); upstream's
   * states are created, running, exited and unknown.
   */
  containersByState: () => Readonly<Record<string, number>>;
  /** Adds prom-client's process and Node.js metrics to `registry` (default true; tests may turn it off). */
  processMetrics?: boolean;
}

const alpha = (help: string): string => `[ALPHA] ${help}`;
const beta = (help: string): string => `[BETA] ${help}`;

/**
 * The kubelet's metrics. Every observe/count method is synchronous and cheap (safe on hot
 * paths); text() and probesText() render the two registries for a scrape.
 */
export class KubeletMetrics {
  /** /metrics. */
  readonly registry: Registry;
  /** /metrics/probes. */
  readonly probesRegistry: Registry;

  private readonly podWorkerDuration: Histogram<'operation_type'>;
  private readonly podStartDuration: Histogram;
  private readonly plegRelistDuration: Histogram;
  private readonly plegRelistInterval: Histogram;
  private readonly plegLastSeen: Gauge;
  private readonly runtimeOperations: Counter<'operation_type'>;
  private readonly runtimeOperationsDuration: Histogram<'operation_type'>;
  private readonly runtimeOperationsErrors: Counter<'operation_type'>;
  private readonly startedPods: Counter;
  private readonly startedPodsErrors: Counter;
  private readonly startedContainers: Counter<'container_type'>;
  private readonly startedContainersErrors: Counter<'container_type' | 'code'>;
  private readonly restartedPods: Counter<'static'>;
  private readonly probeTotal: Counter<'probe_type' | 'result' | 'container' | 'pod' | 'namespace' | 'pod_uid'>;
  private readonly probeDuration: Histogram<'probe_type' | 'container' | 'pod' | 'namespace'>;

  constructor(opts: KubeletMetricsOptions) {
    const registry = new Registry();
    const probes = new Registry();
    this.registry = registry;
    this.probesRegistry = probes;
    const registers = [registry];

    new Gauge({ name: 'kubelet_node_name', help: alpha("The node's name. The count is always 1."), labelNames: ['node'], registers }).set({ node: opts.nodeName }, 1);
    new Gauge({
      name: 'kubelet_running_pods',
      help: alpha('Number of pods that have a running pod sandbox'),
      registers,
      collect() {
        this.set(opts.runningPods());
      },
    });
    new Gauge({
      name: 'kubelet_running_containers',
      help: alpha('Number of containers currently running'),
      labelNames: ['container_state'],
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(opts.containersByState())) this.set({ container_state: state }, n);
      },
    });
    this.podWorkerDuration = new Histogram({
      name: 'kubelet_pod_worker_duration_seconds',
      help: alpha('Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync'),
      labelNames: ['operation_type'],
      buckets: [...DEF_BUCKETS],
      registers,
    });
    this.podStartDuration = new Histogram({
      name: 'kubelet_pod_start_duration_seconds',
      help: alpha('Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run'),
      buckets: [...POD_STARTUP_DURATION_BUCKETS],
      registers,
    });
    this.plegRelistDuration = new Histogram({
      name: 'kubelet_pleg_relist_duration_seconds',
      help: alpha('Duration in seconds for relisting pods in PLEG.'),
      buckets: [...DEF_BUCKETS],
      registers,
    });
    this.plegRelistInterval = new Histogram({
      name: 'kubelet_pleg_relist_interval_seconds',
      help: alpha('Interval in seconds between relisting in PLEG.'),
      buckets: [...DEF_BUCKETS],
      registers,
    });
    this.plegLastSeen = new Gauge({
      name: 'kubelet_pleg_last_seen_seconds',
      help: alpha('Timestamp in seconds when PLEG was last seen active.'),
      registers,
    });
    this.runtimeOperations = new Counter({
      name: 'kubelet_runtime_operations_total',
      help: alpha('Cumulative number of runtime operations by operation type.'),
      labelNames: ['operation_type'],
      registers,
    });
    this.runtimeOperationsDuration = new Histogram({
      name: 'kubelet_runtime_operations_duration_seconds',
      help: alpha('Duration in seconds of runtime operations. Broken down by operation type.'),
      labelNames: ['operation_type'],
      buckets: [...RUNTIME_OPERATION_BUCKETS],
      registers,
    });
    this.runtimeOperationsErrors = new Counter({
      name: 'kubelet_runtime_operations_errors_total',
      help: alpha('Cumulative number of runtime operation errors by operation type.'),
      labelNames: ['operation_type'],
      registers,
    });
    this.startedPods = new Counter({ name: 'kubelet_started_pods_total', help: alpha('Cumulative number of pods started'), registers });
    this.startedPodsErrors = new Counter({ name: 'kubelet_started_pods_errors_total', help: alpha('Cumulative number of errors when starting pods'), registers });
    this.startedContainers = new Counter({
      name: 'kubelet_started_containers_total',
      help: alpha('Cumulative number of containers started'),
      labelNames: ['container_type'],
      registers,
    });
    this.startedContainersErrors = new Counter({
      name: 'kubelet_started_containers_errors_total',
      help: alpha('Cumulative number of errors when starting containers'),
      labelNames: ['container_type', 'code'],
      registers,
    });
    this.restartedPods = new Counter({
      name: 'kubelet_restarted_pods_total',
      help: alpha(
        'Number of pods that have been restarted because they were deleted and recreated with the same UID while the kubelet was watching them (common for static pods, extremely uncommon for API pods)',
      ),
      labelNames: ['static'],
      registers,
    });
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS });

    this.probeTotal = new Counter({
      name: 'prober_probe_total',
      help: beta('Cumulative number of a liveness, readiness or startup probe for a container by result.'),
      labelNames: ['probe_type', 'result', 'container', 'pod', 'namespace', 'pod_uid'],
      registers: [probes],
    });
    this.probeDuration = new Histogram({
      name: 'prober_probe_duration_seconds',
      help: alpha('Duration in seconds for a probe response.'),
      labelNames: ['probe_type', 'container', 'pod', 'namespace'],
      buckets: [...DEF_BUCKETS],
      registers: [probes],
    });
  }

  /**
   * One CRI call: `grpcMethod` is the gRPC method name as the CRI client reports it
   * ('RunPodSandbox'); counted in kubelet_runtime_operations_total, its duration observed, and
   * kubelet_runtime_operations_errors_total counted when it failed.
   */
  observeRuntimeOperation(grpcMethod: string, seconds: number, failed: boolean): void {
    const operation_type = criOperationName(grpcMethod);
    this.runtimeOperations.inc({ operation_type });
    this.runtimeOperationsDuration.observe({ operation_type }, seconds);
    if (failed) this.runtimeOperationsErrors.inc({ operation_type });
  }

  /** A pod seen for the first time is running: seconds from first seen to all containers running. */
  observePodStart(seconds: number): void {
    this.podStartDuration.observe(seconds);
  }

  /** One pod sync by the pod worker, by kind of update. */
  observePodWorker(operation: PodWorkerOperation, seconds: number): void {
    this.podWorkerDuration.observe({ operation_type: operation }, seconds);
  }

  /**
   * One PLEG relist: how long it took and, from the second on, the time since the previous one
   * began. Also sets kubelet_pleg_last_seen_seconds to `nowMs` (default: Date.now()).
   */
  observePlegRelist(seconds: number, intervalSeconds?: number, nowMs: number = Date.now()): void {
    this.plegRelistDuration.observe(seconds);
    if (intervalSeconds !== undefined) this.plegRelistInterval.observe(intervalSeconds);
    this.plegLastSeen.set(nowMs / 1000);
  }

  /** A pod sandbox is about to be created (upstream counts the attempt); `failed` when RunPodSandbox failed. */
  countPodStart(failed = false): void {
    this.startedPods.inc();
    if (failed) this.startedPodsErrors.inc();
  }

  /**
   * A container is about to be started (upstream counts the attempt). `errorCode`, when the
   * start failed, is the gRPC status name upstream puts in `code` (e.g. 'Unknown', 'DeadlineExceeded').
   */
  countContainerStart(type: StartedContainerType, errorCode?: string): void {
    this.startedContainers.inc({ container_type: type });
    if (errorCode !== undefined) this.startedContainersErrors.inc({ code: errorCode, container_type: type });
  }

  /** A pod was deleted and recreated with the same UID while the kubelet watched it. */
  countRestartedPod(isStatic: boolean): void {
    this.restartedPods.inc({ static: String(isStatic) });
  }

  /**
   * One probe run with its result. The duration is observed for successful and unknown results
   * only, as upstream (a failed probe's time is not a response time).
   */
  countProbe(target: ProbeTarget, result: ProbeResult, seconds?: number): void {
    this.probeTotal.inc(probeTotalLabels(target, result));
    if (seconds !== undefined && result !== 'failed') this.probeDuration.observe(probeDurationLabels(target), seconds);
  }

  /** The probe's worker stopped: its series are removed (upstream deletes them). Idempotent. */
  forgetProbe(target: ProbeTarget): void {
    for (const result of ['successful', 'failed', 'unknown'] as const) this.probeTotal.remove(probeTotalLabels(target, result));
    this.probeDuration.remove(probeDurationLabels(target));
  }

  /** The content type of text() and probesText(). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The /metrics exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The /metrics/probes exposition. */
  probesText(): Promise<string> {
    return this.probesRegistry.metrics();
  }
}

// Label objects are built in name order: prom-client writes them in insertion order, the Go
// client sorted by name.
function probeTotalLabels(t: ProbeTarget, result: ProbeResult): Record<'container' | 'namespace' | 'pod' | 'pod_uid' | 'probe_type' | 'result', string> {
  return { container: t.container, namespace: t.namespace, pod: t.pod, pod_uid: t.podUID, probe_type: t.probeType, result };
}

function probeDurationLabels(t: ProbeTarget): Record<'container' | 'namespace' | 'pod' | 'probe_type', string> {
  return { container: t.container, namespace: t.namespace, pod: t.pod, probe_type: t.probeType };
}

// Cluster mode: everything tskubelet runs when it has a kubeconfig (upstream Kubelet.Run's
// API-server half). Order: client certificate (TLS bootstrap) -> API client -> node
// registration and status, lease -> mirror pods, status writer, events -> the API pod source.
// Each started loop is returned as a task that ends when the signal aborts.
import type { CriClient } from './cri/client.ts';
import type { Clock } from './common/clock.ts';
import type { KubeletConfig } from './config/types.ts';
import { ensureClientCertificate } from './certificate/bootstrap.ts';
import { ClientCertificateRotator } from './certificate/rotation.ts';
import { HttpKubeClient, type KubeClient } from './kube/client.ts';
import { ApiEventRecorder } from './kube/api-events.ts';
import type { EventRecorder } from './kube/events.ts';
import { MirrorPodManager } from './kube/mirror-pods.ts';
import type { Pod } from './kube/types.ts';
import type { AdmissionNode } from './lifecycle/admission.ts';
import { parseQuantity } from './cm/quantity.ts';
import { isStaticPod } from './cm/qos.ts';
import { readMachineInfo, type MachineInfo } from './node/machine.ts';
import { NodeLeaseController } from './node/lease.ts';
import { RuntimeHealthTracker } from './node/runtime-health.ts';
import { NodeStatusUpdater } from './node/status-updater.ts';
import type { Logger } from './observability/logger.ts';
import { ApiServerSource } from './podconfig/api-source.ts';
import type { PodConfig } from './podconfig/pod-config.ts';
import { ApiStatusWriter } from './status/api-writer.ts';
import type { KubeletApiDeps } from './kubelet.ts';
import type { GenericPleg } from './pleg/generic.ts';
import type { NodePressure } from './eviction/manager.ts';

export interface ClusterEdge {
  client: KubeClient;
  machine: MachineInfo;
  recorder: EventRecorder;
  api: KubeletApiDeps;
  /** Starts the loops that need the kubelet (node status, lease, sources); returns their tasks. `pressure`: the eviction manager's. */
  start(deps: { pleg: GenericPleg; podConfig: PodConfig; signal: AbortSignal; pressure?: () => NodePressure }): Promise<void>[];
  /** Posts the node status at the next chance (e.g. a pressure condition changed); nothing before start(). */
  updateNodeStatus(): void;
}

/** The node as admission sees it, from the Node the API server last returned. */
export function admissionNodeFrom(node: { metadata?: { name?: string; labels?: Record<string, string> }; spec?: { taints?: { key: string; value?: string; effect: string }[] }; status?: { allocatable?: Record<string, string> } } | undefined): AdmissionNode | null {
  const a = node?.status?.allocatable;
  if (!node || !a) return null;
  const q = (name: string): number => (a[name] === undefined ? 0 : parseQuantity(a[name]));
  return {
    name: node.metadata?.name ?? '',
    labels: node.metadata?.labels ?? {},
    allocatable: { cpuMilli: Math.round(q('cpu') * 1000), memoryBytes: q('memory'), ephemeralStorageBytes: q('ephemeral-storage'), pods: q('pods') },
    taints: node.spec?.taints ?? [],
  };
}

/**
 * Prepares the cluster edge: bootstraps the client certificate when needed (blocking, as
 * upstream without rotation: the kubelet cannot do anything in a cluster before it has one)
 * and builds the API client and the managers that write to the API server.
 */
export async function connectToCluster(deps: { config: KubeletConfig; cri: CriClient; clock: Clock; logger: Logger; localRecorder: EventRecorder; signal: AbortSignal; closers: (() => Promise<void> | void)[] }): Promise<ClusterEdge> {
  const { config, cri, clock, logger, signal } = deps;
  await ensureClientCertificate({
    kubeconfigPath: config.kubeconfig,
    bootstrapKubeconfigPath: config.bootstrapKubeconfig,
    certDir: config.certDir,
    nodeName: config.nodeName,
    logger,
    clock,
    signal,
  });
  const client = await HttpKubeClient.fromKubeconfigFile(config.kubeconfig);
  deps.closers.push(() => client.close());
  logger.info({ server: client.server, nodeName: config.nodeName }, 'connecting to the API server');
  const machine = await readMachineInfo(config.rootDir);
  const health = new RuntimeHealthTracker({ runtime: cri, clock, logger });
  let nodeStatus: NodeStatusUpdater | undefined;
  const statusWriter = new ApiStatusWriter({
    client,
    clock,
    logger,
    target: (pod: Pod) => {
      const target = isStaticPod(pod) ? mirrorPods.mirrorFor(pod) : pod;
      const m = target?.metadata;
      return m?.name && m.namespace && m.uid ? { name: m.name, namespace: m.namespace, uid: m.uid } : null;
    },
  });
  deps.closers.push(() => statusWriter.stop());
  const mirrorPods = new MirrorPodManager({
    client,
    nodeName: config.nodeName,
    logger,
    nodeUID: () => nodeStatus?.lastNode()?.metadata?.uid,
    onChange: () => statusWriter.rewriteAll(),
  });
  const recorder = new ApiEventRecorder({ client, nodeName: config.nodeName, clock, logger, next: deps.localRecorder });
  return {
    client,
    machine,
    recorder,
    api: { client, mirrorPods, statusWriter, admissionNode: () => admissionNodeFrom(nodeStatus?.lastNode()) },
    updateNodeStatus: () => nodeStatus?.updateNow(),
    start: ({ pleg, podConfig, signal: runSignal, pressure }) => {
      nodeStatus = new NodeStatusUpdater({
        client,
        nodeName: config.nodeName,
        clock,
        logger,
        machine,
        config,
        runtimeHealth: () => Promise.resolve(health.current()),
        plegHealth: () => pleg.healthy(),
        allocatable: config,
        ...(pressure ? { pressure } : {}),
        runtimeVersion: async (s) => {
          const v = await cri.version(s);
          return { type: v.runtime_name, version: v.runtime_version };
        },
      });
      const lease = new NodeLeaseController({ client, nodeName: config.nodeName, clock, logger });
      const registered = nodeStatus.whenRegistered(runSignal);
      const tasks: Promise<void>[] = [
        health.run(runSignal, () => nodeStatus?.updateNow()),
        nodeStatus.run(runSignal),
        registered.then(() => lease.run(runSignal), () => undefined),
        recorder.run(runSignal),
      ];
      if (config.bootstrapKubeconfig) {
        tasks.push(new ClientCertificateRotator({ client, certDir: config.certDir, nodeName: config.nodeName, logger, clock, onRotated: () => client.reload() }).run(runSignal));
      }
      // Pods come from the API server once the node is registered, so that admission knows the
      // node (call start() before podConfig.run()).
      podConfig.addSource('api', (onPods) => {
        const source = new ApiServerSource({
          client,
          nodeName: config.nodeName,
          clock,
          logger,
          onPods: (pods) => {
            onPods(pods);
            statusWriter.reconcile(pods); // statuses others changed (node lifecycle controller) are written back
          },
          onMirrorPods: (p) => mirrorPods.setMirrorPods(p),
        });
        return { run: (s: AbortSignal) => registered.then(() => source.run(s), () => undefined) };
      });
      return tasks;
    },
  };
}
